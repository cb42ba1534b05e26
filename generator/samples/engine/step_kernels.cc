// The sampling step's kernels, compiled by kernels.py: VsrDecodeAttention (one layer's
// attention for every row and head) and VsrLayerNorm (the library's norm).
//
// VsrDecodeAttention is what forward.step's TensorFlow operations compute (engine version 3),
// in one kernel: the new token's query against the prompt's keys (one copy for every row) and
// against the keys this run has drawn so far (the chunked buffers,
// forward.generated_buffers), one softmax over both, and the weighted sum of the values. In
// TensorFlow that is four small batched matmuls, two transposes, a concatenation and a
// softmax a layer, each paying oneDNN's fixed cost of 50-300 us; here it is one pass over the
// keys and values, which is what bounds it. The norm is nine small TensorFlow operations on
// [batch, n] rows: here one pass. (A bias-and-GELU kernel was measured too, and was no
// faster than TensorFlow's own vectorized operations.)
//
// The bits depend on nothing but the inputs: every sum is taken in an order fixed here
// (over features in 16 lanes joined by a fixed tree, the rest in position order), the
// exponential is the polynomial below, and kernels.py compiles this with
// -ffp-contract=off, so no multiply and add are fused. Rows go to threads whole, so the
// thread count changes nothing either.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

using namespace tensorflow;  // NOLINT

REGISTER_OP("VsrDecodeAttention")
    .Input("query: float")        // [batch, heads * features]: row b * heads + h is head h of row b
    .Input("prompt_keys: float")  // [1, heads, prompt, features]
    .Input("prompt_values: float")
    .Input("keys: float")         // [chunks, batch * heads, chunk, features], positions 0..position written
    .Input("values: float")
    .Input("position: int32")     // the position this token's keys and values were written at
    .Output("attended: float")    // [batch, heads * features]
    .SetShapeFn(shape_inference::UnchangedShape);  // the output is shaped as the first input

namespace {

constexpr int kLanes = 16;

// The lanes joined pairwise, always in this order: 8 + 8, 4 + 4, 2 + 2, 1 + 1.
inline float Join(float* lane) {
  for (int width = kLanes / 2; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) lane[l] += lane[l + width];
  return lane[0];
}

// a . b over n floats: lane l sums the products at l, l + 16, ...; then the lanes are joined.
inline float Dot(const float* a, const float* b, int n) {
  float lane[kLanes] = {0};
  int f = 0;
  for (; f + kLanes <= n; f += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += a[f + l] * b[f + l];
  for (int l = 0; f < n; ++f, ++l) lane[l] += a[f] * b[f];
  return Join(lane);
}

// e^x for x <= 0 (a score less the row's largest), within about 1 ulp: Cephes' expf (range
// reduction by ln 2 in two parts, a degree-6 polynomial, 2^n from the exponent's bits),
// without branches so that it vectorizes. Below -87 it gives e^-87, a weight of about 1e-38
// where the exact one is smaller still. n is rounded by adding 1.5 * 2^23, which leaves it in
// the low bits of the sum's pattern: integer arithmetic on bit patterns from there, so a NaN
// (which passes through, as TensorFlow's softmax passes it) is never converted to an integer.
inline float Exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;  // x / ln 2 rounded to the nearest integer
  uint32_t shifted_bits;
  std::memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
  const uint32_t bits = (shifted_bits - 0x4B400000u + 127u) << 23;  // 0x4B400000: 12582912.0f's pattern; 2^n
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  float two_to_n;
  std::memcpy(&two_to_n, &bits, sizeof two_to_n);
  return p * two_to_n;
}

// the sum of n floats in 16 lanes, joined as Dot's are
inline float Sum(const float* a, int n) {
  float lane[kLanes] = {0};
  int f = 0;
  for (; f + kLanes <= n; f += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += a[f + l];
  for (int l = 0; f < n; ++f, ++l) lane[l] += a[f];
  return Join(lane);
}

inline void AddScaled(float w, const float* x, float* y, int n) {
  for (int f = 0; f < n; ++f) y[f] += w * x[f];
}

}  // namespace

class VsrDecodeAttentionOp : public OpKernel {
 public:
  explicit VsrDecodeAttentionOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& query = context->input(0);
    const Tensor& prompt_keys = context->input(1);
    const Tensor& prompt_values = context->input(2);
    const Tensor& keys = context->input(3);
    const Tensor& values = context->input(4);
    OP_REQUIRES(context, TensorShapeUtils::IsScalar(context->input(5).shape()),
                errors::InvalidArgument("position must be a scalar"));
    const int64_t position = context->input(5).scalar<int32>()();
    OP_REQUIRES(context, query.dims() == 2 && prompt_keys.dims() == 4 && keys.dims() == 4 &&
                             prompt_keys.shape() == prompt_values.shape() && keys.shape() == values.shape() &&
                             prompt_keys.dim_size(0) == 1,
                errors::InvalidArgument("VsrDecodeAttention: query [batch, n], prompt keys and values [1, heads, n, features], "
                                        "keys and values [chunks, batch * heads, chunk, features]"));
    const int64_t batch = query.dim_size(0), heads = prompt_keys.dim_size(1), prompt = prompt_keys.dim_size(2),
                  features = prompt_keys.dim_size(3);
    const int64_t chunks = keys.dim_size(0), rows = keys.dim_size(1), chunk = keys.dim_size(2);
    OP_REQUIRES(context, heads * features == query.dim_size(1) && rows == batch * heads && keys.dim_size(3) == features &&
                             chunk > 0 && position >= 0 && position < chunks * chunk,
                errors::InvalidArgument("VsrDecodeAttention: shapes that do not agree, or a position outside the buffers"));
    Tensor* attended = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, query.shape(), &attended));

    const float* q = query.flat<float>().data();
    const float* pk = prompt_keys.flat<float>().data();
    const float* pv = prompt_values.flat<float>().data();
    const float* k = keys.flat<float>().data();
    const float* v = values.flat<float>().data();
    float* out = attended->flat<float>().data();
    const int64_t total = prompt + position + 1;
    const int n = static_cast<int>(features);
    const float scale = 1.0f / std::sqrt(static_cast<float>(features));  // the library's rsqrt(features), as a float
    // where position j of row r sits in the drawn keys (or values)
    auto drawn = [&](int64_t r, int64_t j) { return ((j / chunk * rows + r) * chunk + j % chunk) * features; };

    auto work = [&](int64_t begin, int64_t end) {
      std::vector<float> w(total);
      for (int64_t r = begin; r < end; ++r) {
        const int64_t h = r % heads;
        const float* qr = q + r * features;
        for (int64_t j = 0; j < prompt; ++j) w[j] = Dot(qr, pk + (h * prompt + j) * features, n) * scale;
        for (int64_t j = 0; j <= position; ++j) w[prompt + j] = Dot(qr, k + drawn(r, j), n) * scale;
        float largest = w[0];
        for (int64_t j = 1; j < total; ++j) largest = w[j] > largest ? w[j] : largest;
        for (int64_t j = 0; j < total; ++j) w[j] = Exp(w[j] - largest);
        float sum = 0.0f;
        for (int64_t j = 0; j < total; ++j) sum += w[j];
        for (int64_t j = 0; j < total; ++j) w[j] = w[j] / sum;
        float* o = out + r * features;
        for (int f = 0; f < n; ++f) o[f] = 0.0f;
        for (int64_t j = 0; j < prompt; ++j) AddScaled(w[j], pv + (h * prompt + j) * features, o, n);
        for (int64_t j = 0; j <= position; ++j) AddScaled(w[prompt + j], v + drawn(r, j), o, n);
      }
    };
    const auto* threads = context->device()->tensorflow_cpu_worker_threads();
    Shard(threads->num_threads, threads->workers, rows, total * features * 8, work);
  }
};

REGISTER_KERNEL_BUILDER(Name("VsrDecodeAttention").Device(DEVICE_CPU), VsrDecodeAttentionOp);

namespace {

// The rows of a [rows, n] input, each row to one thread whole.
template <typename Row>
void ForEachRow(OpKernelContext* context, int64_t rows, int64_t cost_per_row, Row row) {
  const auto* threads = context->device()->tensorflow_cpu_worker_threads();
  Shard(threads->num_threads, threads->workers, rows, cost_per_row, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) row(r);
  });
}

}  // namespace

REGISTER_OP("VsrLayerNorm")
    .Input("x: float")     // [rows, n]
    .Input("gain: float")  // [n]
    .Input("bias: float")  // [n]
    .Output("y: float")
    .SetShapeFn(shape_inference::UnchangedShape);  // the output is shaped as the first input

// The library's norm over each row: u = mean(x), s = mean((x - u)^2),
// y = (x - u) * rsqrt(s + 1e-5) * gain + bias.
class VsrLayerNormOp : public OpKernel {
 public:
  explicit VsrLayerNormOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& gain = context->input(1);
    const Tensor& bias = context->input(2);
    OP_REQUIRES(context, x.dims() == 2 && gain.dims() == 1 && gain.shape() == bias.shape() && gain.dim_size(0) == x.dim_size(1),
                errors::InvalidArgument("VsrLayerNorm: x [rows, n], gain and bias [n]"));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, x.shape(), &y));
    const int n = static_cast<int>(x.dim_size(1));
    const float* in = x.flat<float>().data();
    const float* g = gain.flat<float>().data();
    const float* b = bias.flat<float>().data();
    float* out = y->flat<float>().data();
    ForEachRow(context, x.dim_size(0), n * 8, [&](int64_t r) {
      const float* xr = in + r * n;
      float* yr = out + r * n;
      const float u = Sum(xr, n) / static_cast<float>(n);
      for (int f = 0; f < n; ++f) yr[f] = (xr[f] - u) * (xr[f] - u);
      const float s = Sum(yr, n) / static_cast<float>(n);
      const float scale = 1.0f / std::sqrt(s + 1e-5f);
      for (int f = 0; f < n; ++f) yr[f] = (xr[f] - u) * scale * g[f] + b[f];
    });
  }
};

REGISTER_KERNEL_BUILDER(Name("VsrLayerNorm").Device(DEVICE_CPU), VsrLayerNormOp);
