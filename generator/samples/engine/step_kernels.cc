// The engine's kernels, compiled by kernels.py: for the sampling step, VsrDecodeAttention (one
// layer's attention for every row and head), VsrLayerNorm (the library's norm), and at the
// end VsrDecodeDense and VsrDecodeLogits (the matrix products); for the fine-tune, VsrRestore
// (the base weights into the variables' own buffers) and VsrStepUpdate (the one-step update).
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
// -ffp-contract=off, so the compiler fuses no multiply and add on its own (the matrix products
// at the end fuse them where the source says). Rows go to threads whole, so the
// thread count changes nothing either.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
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

// `total` units of work in one contiguous shard per thread of the pool, the caller running
// one of them; work under about 100,000 operations (`cost` a unit) in the caller alone.
// TensorFlow's Shard cuts a large op into up to four blocks a thread and runs them on the
// pool's threads and on the caller as well: one more thread than there are cores, taking
// turns; at 10 rows the products read 1558M's weights at about 13 GB/s that way, against
// about 21 GB/s in one shard a core (the tiles' lines asked for ahead, below, took it to 24).
void Split(OpKernelContext* context, int64_t total, int64_t cost, const std::function<void(int64_t, int64_t)>& work) {
  const auto* threads = context->device()->tensorflow_cpu_worker_threads();
  const int64_t shards = std::max<int64_t>(1, std::min<int64_t>(threads->num_threads, total));
  if (shards == 1 || total * cost < 100000) {
    work(0, total);
    return;
  }
  threads->workers->ParallelFor(total, thread::ThreadPool::SchedulingParams::Fixed((total + shards - 1) / shards), work);
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
    Split(context, rows, total * features * 8, work);
  }
};

REGISTER_KERNEL_BUILDER(Name("VsrDecodeAttention").Device(DEVICE_CPU), VsrDecodeAttentionOp);

namespace {

// The rows of a [rows, n] input, each row to one thread whole.
template <typename Row>
void ForEachRow(OpKernelContext* context, int64_t rows, int64_t cost_per_row, Row row) {
  Split(context, rows, cost_per_row, [&](int64_t begin, int64_t end) {
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

// ---------------------------------------------------------------------------------------------
// The fine-tune's kernels: the restore of the base weights, and the one-step update. Neither
// changes a bit: the restore puts the checkpoint's bytes where TensorFlow's RestoreV2 and
// Assign put them, and the update is adam.py's elementwise operations, the same IEEE
// operations on each element in the same order. Both write each weight's own buffer in place.

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "absl/strings/str_format.h"
#include "tensorflow/core/util/tensor_bundle/tensor_bundle.h"

REGISTER_OP("VsrRestore")
    .Input("weights: Ref(N * float)")
    .Input("prefix: string")
    .Attr("N: int >= 1")
    .Attr("names: list(string)")  // each weight's name in the checkpoint
    .Attr("shapes: list(shape)")  // and its shape, which the checkpoint's must be
    .Output("checked: bool")      // whether this restore checked the checksums (or copied noted bytes)
    .SetIsStateful()
    .SetAllowsUninitializedInput()  // the first restore gives each variable its buffer
    .SetShapeFn(shape_inference::ScalarShape);

namespace {

// The fields of a BundleEntryProto (tensor_bundle.proto) that say where a tensor's bytes are:
// 3 shard_id, 4 offset, 5 size (varints); 7 slices, which a whole tensor has none of.
struct Entry {
  int64_t shard = 0, offset = 0, size = 0;
};

bool Varint(const uint8_t*& p, const uint8_t* end, uint64_t* value) {
  *value = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    const uint8_t byte = *p++;
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

// Reads the varint fields of a serialized message into fields[1..], skipping the rest;
// counts each length-delimited field's occurrences in present[number].
bool Fields(absl::string_view message, uint64_t fields[8], int present[8]) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(message.data());
  const uint8_t* end = p + message.size();
  while (p < end) {
    uint64_t key, value;
    if (!Varint(p, end, &key)) return false;
    const uint64_t number = key >> 3;
    switch (key & 7) {
      case 0:
        if (!Varint(p, end, &value)) return false;
        if (number < 8) fields[number] = value;
        break;
      case 1: if (end - p < 8) return false; p += 8; break;
      case 5: if (end - p < 4) return false; p += 4; break;
      case 2:
        if (!Varint(p, end, &value) || value > static_cast<uint64_t>(end - p)) return false;
        p += value;
        if (number < 8) ++present[number];
        break;
      default: return false;
    }
  }
  return true;
}

// What names a file and its contents, as far as the system says: a file renamed into its
// place is another inode; one written in place has a new modification and change time (a
// copy that sets the modification time back still moves the change time).
struct FileId {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t modified = 0, changed = 0;
  bool operator==(const FileId& o) const {
    return device == o.device && inode == o.inode && size == o.size && modified == o.modified && changed == o.changed;
  }
};

FileId FromStat(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
}

// Each file's identity; false if any cannot be had.
bool Identify(const std::vector<std::string>& paths, std::vector<FileId>* ids) {
  ids->clear();
  for (const auto& path : paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return false;
    ids->push_back(FromStat(st));
  }
  return true;
}

// Asks the system to back a weight's buffer, not yet written, with 2 MB pages where it can
// (the whole 2 MB pages inside it): every step reads every weight, and with 4 kB pages each
// 4 kB of a weight costs a lookup of its own. Only a hint: the bytes are the same either way.
void HugePages(const Tensor& t) {
  constexpr uintptr_t kHuge = 2 << 20;
  const uintptr_t start = reinterpret_cast<uintptr_t>(t.tensor_data().data());
  const uintptr_t first = (start + kHuge - 1) & ~(kHuge - 1), last = (start + t.tensor_data().size()) & ~(kHuge - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr uint64_t kThisByteOrder = 1;  // BundleHeaderProto's BIG
#else
constexpr uint64_t kThisByteOrder = 0;  // LITTLE
#endif

}  // namespace

// Reads every weight from the checkpoint at `prefix` into the buffer its variable already
// holds (a first restore allocates it). RestoreV2 and Assign would read each weight into a
// fresh buffer and hand that to the variable: every byte of the model written twice a
// passage, the second time into memory the system has to find and zero again.
//
// A checked restore reads the checkpoint through TensorFlow's BundleReader, which checks every
// tensor's checksum (and swaps the bytes of a checkpoint written on a machine of the other
// byte order), as RestoreV2 does. It also notes where each tensor's bytes are, and the files'
// identities (FileId) before and after the reads; the notes are kept only if nothing changed
// in between, every tensor is whole (not saved in slices) and in this machine's byte order.
// A later restore from the same prefix then copies the same bytes from the same places, on
// every thread, with no checksum (the checksum took two thirds of the time): bytes checked
// once, from files whose identity, taken on the open files, is still the same. Otherwise the
// restore is a checked one again. The output says which it was (true: checked).
//
// A restore that fails part way leaves some weights written and some not; the engine then
// restores again before it uses them (FastEngine._tuned).
class VsrRestoreOp : public OpKernel {
 public:
  explicit VsrRestoreOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("names", &names_));
    std::vector<PartialTensorShape> shapes;
    OP_REQUIRES_OK(context, context->GetAttr("shapes", &shapes));
    OP_REQUIRES(context, names_.size() == shapes.size() && static_cast<int>(names_.size()) == context->num_inputs() - 1,
                errors::InvalidArgument("VsrRestore: one name and one shape for each weight"));
    for (const auto& shape : shapes) {
      TensorShape full;
      OP_REQUIRES(context, shape.AsTensorShape(&full), errors::InvalidArgument("VsrRestore: a weight's shape is not fully known"));
      shapes_.push_back(full);
    }
  }

  void Compute(OpKernelContext* context) override {
    const int n = static_cast<int>(names_.size());
    const Tensor& prefix_input = context->input(n);
    OP_REQUIRES(context, TensorShapeUtils::IsScalar(prefix_input.shape()), errors::InvalidArgument("VsrRestore: the prefix is a scalar"));
    const std::string prefix(prefix_input.scalar<tstring>()());
    Tensor* checked = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({}), &checked));
    mutex_lock state(mu_);
    std::vector<Tensor> held(n);
    bool all_held = true;
    for (int i = 0; i < n; ++i) {
      held[i] = context->mutable_input(i, /*lock_held=*/false);
      all_held = all_held && held[i].IsInitialized() && held[i].shape() == shapes_[i];
    }
    if (all_held && prefix == noted_) {
      bool copied = false;
      OP_REQUIRES_OK(context, Copy(context, held, &copied));
      if (copied) {
        checked->scalar<bool>()() = false;
        return;
      }
    }
    noted_.clear();
    OP_REQUIRES_OK(context, Checked(context, prefix));
    checked->scalar<bool>()() = true;
  }

 private:
  // The restore through BundleReader, noting where each tensor's bytes are for the next one.
  Status Checked(OpKernelContext* context, const std::string& prefix) {
    const std::vector<std::string> index = {prefix + ".index"};
    std::vector<FileId> index_before;
    bool note = Identify(index, &index_before);
    BundleReader reader(Env::Default(), prefix);
    TF_RETURN_IF_ERROR(reader.status());
    // the header (the entry under the empty key): 1 the number of data files, 2 their byte order
    uint64_t header[8] = {0};
    int present[8] = {0};
    reader.Seek("");
    note = note && reader.Valid() && reader.key().empty() && Fields(reader.value(), header, present) && header[1] >= 1 &&
           header[1] < 100000 && header[2] == kThisByteOrder;
    std::vector<std::string> files;
    for (uint64_t shard = 0; note && shard < header[1]; ++shard)
      files.push_back(absl::StrFormat("%s.data-%05d-of-%05d", prefix, shard, header[1]));
    files.push_back(index[0]);
    std::vector<FileId> before;
    note = note && Identify(files, &before) && before.back() == index_before[0];
    std::vector<Entry> entries(names_.size());
    for (size_t i = 0; i < names_.size(); ++i) {
      DataType stored_type;
      TensorShape stored;
      TF_RETURN_IF_ERROR(reader.LookupDtypeAndShape(names_[i], &stored_type, &stored));
      if (stored_type != DT_FLOAT || stored != shapes_[i])
        return errors::InvalidArgument("VsrRestore: ", names_[i], " is ", DataTypeString(stored_type), " ", stored.DebugString(),
                                       " in the checkpoint, not float ", shapes_[i].DebugString());
      {
        mutex_lock lock(*context->input_ref_mutex(i));
        Tensor held = context->mutable_input(i, /*lock_held=*/true);
        if (held.IsInitialized() && held.shape() == stored) {
          TF_RETURN_IF_ERROR(reader.Lookup(names_[i], &held));
        } else {
          Tensor fresh;
          TF_RETURN_IF_ERROR(context->allocate_temp(DT_FLOAT, stored, &fresh));
          HugePages(fresh);
          TF_RETURN_IF_ERROR(reader.Lookup(names_[i], &fresh));
          context->replace_ref_input(i, fresh, /*lock_held=*/true);
        }
      }
      if (!note) continue;  // every weight is still read; only the notes are given up
      // where the bytes just checked came from: 3 the data file, 4 the offset, 5 the size; 7 slices
      reader.Seek(names_[i]);
      uint64_t fields[8] = {0};
      int parts[8] = {0};
      note = reader.Valid() && reader.key() == names_[i] && Fields(reader.value(), fields, parts) && parts[7] == 0 &&
             fields[3] < header[1] && fields[5] == static_cast<uint64_t>(stored.num_elements()) * sizeof(float) &&
             fields[4] <= static_cast<uint64_t>(before[fields[3]].size) &&
             fields[5] <= static_cast<uint64_t>(before[fields[3]].size) - fields[4];
      entries[i] = {static_cast<int64_t>(fields[3]), static_cast<int64_t>(fields[4]), static_cast<int64_t>(fields[5])};
    }
    std::vector<FileId> after;
    if (note && Identify(files, &after) && after == before) {  // nothing changed while it was read
      files_ = std::move(files);
      ids_ = std::move(before);
      entries_ = std::move(entries);
      noted_ = prefix;
    }
    return OkStatus();
  }

  // The noted bytes into the variables' buffers, in pieces of at most 8 MB shared out among
  // the threads; *copied false (nothing written) if a file is not the one noted. No other op
  // runs on the engine's session meanwhile, so the variables' locks are not taken here.
  Status Copy(OpKernelContext* context, std::vector<Tensor>& held, bool* copied) {
    *copied = false;
    std::vector<int> fds;
    auto close_all = [&fds] { for (int fd : fds) ::close(fd); };
    for (size_t f = 0; f < files_.size(); ++f) {
      const int fd = ::open(files_[f].c_str(), O_RDONLY | O_CLOEXEC);
      struct stat st;
      if (fd >= 0) fds.push_back(fd);
      if (fd < 0 || ::fstat(fd, &st) != 0 || !(FromStat(st) == ids_[f])) {
        close_all();
        return OkStatus();  // gone or changed: a checked restore instead
      }
    }
    constexpr int64_t kPiece = 8 << 20;
    struct Piece { char* to; int fd; int64_t offset, size; };
    std::vector<Piece> pieces;
    for (size_t i = 0; i < entries_.size(); ++i) {
      char* to = const_cast<char*>(held[i].tensor_data().data());
      for (int64_t at = 0; at < entries_[i].size; at += kPiece)
        pieces.push_back({to + at, fds[entries_[i].shard], entries_[i].offset + at, std::min(kPiece, entries_[i].size - at)});
    }
    std::atomic<bool> failed{false};
    const auto* threads = context->device()->tensorflow_cpu_worker_threads();
    Shard(threads->num_threads, threads->workers, pieces.size(), kPiece, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end && !failed; ++p) {
        int64_t done = 0;
        while (done < pieces[p].size) {
          const ssize_t got = ::pread(pieces[p].fd, pieces[p].to + done, pieces[p].size - done, pieces[p].offset + done);
          if (got < 0 && errno == EINTR) continue;
          if (got <= 0) { failed = true; break; }
          done += got;
        }
      }
    });
    close_all();
    if (failed) return errors::DataLoss("VsrRestore: a read from ", noted_, "'s data came short");
    *copied = true;
    return OkStatus();
  }

  std::vector<std::string> names_;
  std::vector<TensorShape> shapes_;
  mutex mu_;
  std::string noted_;              // the prefix whose bytes entries_ locate; empty: none noted
  std::vector<std::string> files_;  // its data files, then its index
  std::vector<FileId> ids_;         // their identities when the bytes were checked
  std::vector<Entry> entries_;
};

REGISTER_KERNEL_BUILDER(Name("VsrRestore").Device(DEVICE_CPU), VsrRestoreOp);

REGISTER_OP("VsrStepUpdate")
    .Input("weight: Ref(float)")
    .Input("gradient: float")     // [rows, ...]: rows first_row.. of the weight
    .Input("learning_rate: float")
    .Attr("epsilon: float")
    .Attr("first_row: int = 0")
    .SetIsStateful()
    .SetShapeFn(shape_inference::NoOutputs);

// weight[first_row + r] -= learning_rate * (g / (|g| + epsilon)) for each element g of
// gradient row r: adam.py's one step from fresh slots, which TensorFlow runs as Abs, AddV2,
// RealDiv, Mul and AssignSub (or ScatterSub on the embeddings' rows), each a pass over a
// weight-sized temporary. Here one pass; each element gets the same operations in the same
// order, so the same bits, whatever the threads.
class VsrStepUpdateOp : public OpKernel {
 public:
  explicit VsrStepUpdateOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("epsilon", &epsilon_));
    OP_REQUIRES_OK(context, context->GetAttr("first_row", &first_row_));
  }

  void Compute(OpKernelContext* context) override {
    mutex_lock lock(*context->input_ref_mutex(0));
    Tensor weight = context->mutable_input(0, /*lock_held=*/true);
    const Tensor& gradient = context->input(1);
    const Tensor& rate = context->input(2);
    OP_REQUIRES(context, weight.IsInitialized(), errors::FailedPrecondition("VsrStepUpdate: the weight holds no value"));
    OP_REQUIRES(context, TensorShapeUtils::IsScalar(rate.shape()), errors::InvalidArgument("VsrStepUpdate: the learning rate is a scalar"));
    const int64_t rows = weight.dims() ? weight.dim_size(0) : 1;
    const int64_t width = rows ? weight.NumElements() / rows : 0;
    OP_REQUIRES(context, width > 0 && gradient.NumElements() % width == 0 && first_row_ >= 0 &&
                             first_row_ + gradient.NumElements() / width <= rows,
                errors::InvalidArgument("VsrStepUpdate: the gradient ", gradient.shape().DebugString(), " is not rows of the weight ",
                                        weight.shape().DebugString(), " from row ", first_row_));
    const float lr = rate.scalar<float>()();
    const float eps = epsilon_;
    const float* g = gradient.flat<float>().data();
    float* w = weight.flat<float>().data() + first_row_ * width;
    const auto* threads = context->device()->tensorflow_cpu_worker_threads();
    Shard(threads->num_threads, threads->workers, gradient.NumElements(), 8, [&](int64_t begin, int64_t end) {
      for (int64_t e = begin; e < end; ++e) {
        const float step = lr * (g[e] / (std::fabs(g[e]) + eps));
        w[e] = w[e] - step;
      }
    });
  }

 private:
  float epsilon_;
  int64_t first_row_;
};

REGISTER_KERNEL_BUILDER(Name("VsrStepUpdate").Device(DEVICE_CPU), VsrStepUpdateOp);

// ---------------------------------------------------------------------------------------------
// The sampling step's matrix products, at a batch of a few rows, where every weight is read
// from memory once a step and the time is the reading. Each output is a chain of fused
// multiply-adds in an order fixed here (one rounding each), so the bits depend on the inputs
// alone, on every x86 level: V16 below is 16 floats, one AVX-512 register where the compiler
// targets it, two AVX2 registers on x86-64 v3, and a plain array elsewhere, the same
// operations either way. Columns (or vocabulary rows) go to threads whole.

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
struct V16 {
  __m512 v;
};
inline V16 Load(const float* p) { return {_mm512_loadu_ps(p)}; }
inline V16 Broadcast(float a) { return {_mm512_set1_ps(a)}; }
inline V16 Zero() { return {_mm512_setzero_ps()}; }
inline V16 Fma(V16 a, V16 b, V16 c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline V16 Add(V16 a, V16 b) { return {_mm512_add_ps(a.v, b.v)}; }
inline void Store(float* p, V16 a) { _mm512_storeu_ps(p, a.v); }
// asks for the 64 bytes at p, into the second-level cache
inline void Ask(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1); }
// Join's tree on a register: the halves added (lane l + lane l + 8, ...), down to one
inline float Joined(V16 a) {
  const __m256 eight = _mm256_add_ps(_mm512_castps512_ps256(a.v), _mm512_extractf32x8_ps(a.v, 1));
  const __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
  const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
  return _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps(two, two, 1)));
}
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
// x86-64 v3 (AVX2 and FMA, most laptops): 16 floats in two 8-lane registers, the same
// operations lane for lane, and Join's tree from its second level on as above
struct V16 {
  __m256 lo, hi;
};
inline V16 Load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
inline V16 Broadcast(float a) { return {_mm256_set1_ps(a), _mm256_set1_ps(a)}; }
inline V16 Zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
inline V16 Fma(V16 a, V16 b, V16 c) { return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)}; }
inline V16 Add(V16 a, V16 b) { return {_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)}; }
inline void Store(float* p, V16 a) {
  _mm256_storeu_ps(p, a.lo);
  _mm256_storeu_ps(p + 8, a.hi);
}
inline void Ask(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1); }
inline float Joined(V16 a) {
  const __m256 eight = _mm256_add_ps(a.lo, a.hi);  // lane l + lane l + 8
  const __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
  const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
  return _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps(two, two, 1)));
}
#else
struct V16 {
  float v[kLanes];
};
inline V16 Load(const float* p) { V16 r; std::memcpy(r.v, p, sizeof r.v); return r; }
inline V16 Broadcast(float a) { V16 r; for (int l = 0; l < kLanes; ++l) r.v[l] = a; return r; }
inline V16 Zero() { return Broadcast(0.0f); }
inline V16 Fma(V16 a, V16 b, V16 c) { for (int l = 0; l < kLanes; ++l) c.v[l] = std::fma(a.v[l], b.v[l], c.v[l]); return c; }
inline V16 Add(V16 a, V16 b) { for (int l = 0; l < kLanes; ++l) a.v[l] += b.v[l]; return a; }
inline void Store(float* p, V16 a) { std::memcpy(p, a.v, sizeof a.v); }
inline void Ask(const float* p) { __builtin_prefetch(p, 0, 2); }
inline float Joined(V16 a) { return Join(a.v); }
#endif

namespace {

constexpr int64_t kColumns = 64;    // a unit of the products' work: this many whole columns
constexpr int kTileRows = 6;        // rows of x in a tile: 6 by 64 columns, 24 AVX-512 registers
constexpr int64_t kDepthBlock = 32;  // rows of the weight a pass goes down before the next pass
constexpr int64_t kAhead = 2;       // units ahead that the tiles ask for

// What a tile asks for ahead: of each of `rows` rows n floats apart from `next`, the 64-byte
// lines from `line` to the fourth in steps of `step`, so that the tiles of a unit (or of a
// group, for the logits, where a row stands for a line) share all four between them.
struct Ahead {
  const float* next;
  int64_t rows;
  int64_t line, step;
};

// A tile's outputs, rows of x by one unit of columns, through weight rows k0 to k1: they stay
// in registers and each gets one fused multiply-add per k, in order.
template <int R>
void Tile(const float* in, const float* w, float* out, int64_t depth, int64_t n, int64_t k0, int64_t k1, Ahead ahead) {
  V16 acc[R][4];  // the loops over it unrolled whole, so that the compiler keeps it in registers
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) acc[r][v] = Load(out + r * n + v * kLanes);
  for (int64_t k = k0; k < k1; ++k) {
    if (k - k0 < ahead.rows)
      for (int64_t q = ahead.line; q < 4; q += ahead.step) Ask(ahead.next + (k - k0) * n + q * kLanes);
    const float* wk = w + k * n;
    const V16 w0 = Load(wk), w1 = Load(wk + kLanes), w2 = Load(wk + 2 * kLanes), w3 = Load(wk + 3 * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V16 x = Broadcast(in[r * depth + k]);
      acc[r][0] = Fma(x, w0, acc[r][0]);
      acc[r][1] = Fma(x, w1, acc[r][1]);
      acc[r][2] = Fma(x, w2, acc[r][2]);
      acc[r][3] = Fma(x, w3, acc[r][3]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) Store(out + r * n + v * kLanes, acc[r][v]);
}

// out[:, c0:c1] += in . w[:, c0:c1], each output one chain of fused multiply-adds over k in
// order (stored and loaded between passes, which leaves the bits as they are), so the bits
// depend on neither the number of rows nor the threads. The weight goes by passes down 32 of
// its rows, along the shard's columns a unit at a time: 32 sequential streams, which the
// processor's own prefetcher follows, and the tiles of a unit ask between them for the unit
// two further on (the next pass's first units, past the end of this one). Every row of x
// takes each unit of a pass while it is in the first-level cache, six rows at a time with
// their outputs in registers.
void Products(const float* in, const float* w, float* out, int64_t rows, int64_t depth, int64_t n, int64_t c0, int64_t c1) {
  const int64_t whole_end = c0 + (c1 - c0) / kColumns * kColumns;
  const int64_t units = (whole_end - c0) / kColumns;
  const int64_t tiles = (rows + kTileRows - 1) / kTileRows;
  for (int64_t k0 = 0; k0 < depth; k0 += kDepthBlock) {
    const int64_t k1 = std::min(depth, k0 + kDepthBlock);
    for (int64_t u = 0; u < units; ++u) {
      const int64_t j = c0 + u * kColumns, target = u + kAhead;
      Ahead ahead{nullptr, 0, 0, tiles};  // this pass's unit kAhead further on, or the next pass's
      if (target < units) ahead = {w + k0 * n + j + kAhead * kColumns, k1 - k0, 0, tiles};
      else if (k1 < depth && target - units < units)
        ahead = {w + k1 * n + c0 + (target - units) * kColumns, std::min(depth, k1 + kDepthBlock) - k1, 0, tiles};
      for (int64_t r0 = 0, t = 0; r0 < rows; r0 += kTileRows, ++t) {
        const float* x = in + r0 * depth;
        float* o = out + r0 * n + j;
        const Ahead mine{ahead.next, ahead.rows, t, tiles};
        switch (std::min<int64_t>(kTileRows, rows - r0)) {
          case 6: Tile<6>(x, w + j, o, depth, n, k0, k1, mine); break;
          case 5: Tile<5>(x, w + j, o, depth, n, k0, k1, mine); break;
          case 4: Tile<4>(x, w + j, o, depth, n, k0, k1, mine); break;
          case 3: Tile<3>(x, w + j, o, depth, n, k0, k1, mine); break;
          case 2: Tile<2>(x, w + j, o, depth, n, k0, k1, mine); break;
          default: Tile<1>(x, w + j, o, depth, n, k0, k1, mine); break;
        }
      }
    }
  }
  // the columns after the whole units, in k order
  for (int64_t k = 0; k < depth; ++k)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = whole_end; j < c1; ++j) out[r * n + j] = std::fma(in[r * depth + k], w[k * n + j], out[r * n + j]);
}

// Logits: a tile of four vocabulary rows by up to six rows of h (24 AVX-512 registers) goes
// through every feature. The four rows are read from memory by the first tile and from the
// first-level cache by the rest; meanwhile the tiles ask for the next four rows between them
// (`Ahead` as for the products, a row for a line).
constexpr int kVocabRows = 4;
constexpr int kLogitRows = 6;

template <int V, int R>
void LogitsTile(const float* x, const float* e, float* out, int64_t n, int64_t vocab, Ahead ahead) {
  const int64_t vectors_end = n / kLanes * kLanes;
  V16 acc[V][R];  // in registers: the loops over it unrolled whole, as Tile's
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[v][r] = Zero();
  for (int64_t f = 0; f < vectors_end; f += kLanes) {
    for (int64_t q = ahead.line; q < ahead.rows; q += ahead.step) Ask(ahead.next + q * n + f);
    V16 w[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) w[v] = Load(e + v * n + f);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V16 h = Load(x + r * n + f);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[v][r] = Fma(h, w[v], acc[v][r]);
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      V16 a = acc[v][r];
      if (vectors_end < n) {  // the last features, lane by lane as Dot's
        float lane[kLanes];
        Store(lane, a);
        for (int64_t f = vectors_end, l = 0; f < n; ++f, ++l) lane[l] = std::fma(x[r * n + f], e[v * n + f], lane[l]);
        a = Load(lane);
      }
      out[r * vocab + v] = Joined(a);
    }
}

// V vocabulary rows (at e; their logits at out) against every row of h; `next` is the next
// group's first row, or null
template <int V>
void LogitsGroup(const float* x, const float* e, float* out, int64_t rows, int64_t n, int64_t vocab, const float* next) {
  const int64_t tiles = (rows + kLogitRows - 1) / kLogitRows;
  for (int64_t r0 = 0, t = 0; r0 < rows; r0 += kLogitRows, ++t) {
    const Ahead ahead{next, next != nullptr ? kVocabRows : 0, t, tiles};
    const float* xr = x + r0 * n;
    float* o = out + r0 * vocab;
    switch (std::min<int64_t>(kLogitRows, rows - r0)) {
      case 6: LogitsTile<V, 6>(xr, e, o, n, vocab, ahead); break;
      case 5: LogitsTile<V, 5>(xr, e, o, n, vocab, ahead); break;
      case 4: LogitsTile<V, 4>(xr, e, o, n, vocab, ahead); break;
      case 3: LogitsTile<V, 3>(xr, e, o, n, vocab, ahead); break;
      case 2: LogitsTile<V, 2>(xr, e, o, n, vocab, ahead); break;
      default: LogitsTile<V, 1>(xr, e, o, n, vocab, ahead); break;
    }
  }
}

// logits[:, v0:v1] for every row of h
void Logits(const float* x, const float* e, float* out, int64_t rows, int64_t n, int64_t vocab, int64_t v0, int64_t v1) {
  for (int64_t v = v0; v < v1; v += kVocabRows) {
    const float* next = v + 2 * kVocabRows <= v1 ? e + (v + kVocabRows) * n : nullptr;
    switch (std::min<int64_t>(kVocabRows, v1 - v)) {
      case 4: LogitsGroup<4>(x, e + v * n, out + v, rows, n, vocab, next); break;
      case 3: LogitsGroup<3>(x, e + v * n, out + v, rows, n, vocab, next); break;
      case 2: LogitsGroup<2>(x, e + v * n, out + v, rows, n, vocab, next); break;
      default: LogitsGroup<1>(x, e + v * n, out + v, rows, n, vocab, next); break;
    }
  }
}

}  // namespace

REGISTER_OP("VsrDecodeDense")
    .Input("x: float")       // [rows, k]
    .Input("weight: float")  // [k, n]
    .Input("bias: float")    // [n]
    .Output("y: float")      // [rows, n]: x . weight + bias
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      c->set_output(0, c->Matrix(c->Dim(c->input(0), 0), c->Dim(c->input(1), 1)));
      return OkStatus();
    });

// y[r, j] = fma(x[r, k-1], w[k-1, j], ... fma(x[r, 0], w[0, j], 0)) + bias[j], by Products
// above.
class VsrDecodeDenseOp : public OpKernel {
 public:
  explicit VsrDecodeDenseOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& weight = context->input(1);
    const Tensor& bias = context->input(2);
    OP_REQUIRES(context, x.dims() == 2 && weight.dims() == 2 && bias.dims() == 1 && x.dim_size(1) == weight.dim_size(0) &&
                             bias.dim_size(0) == weight.dim_size(1),
                errors::InvalidArgument("VsrDecodeDense: x [rows, k], weight [k, n], bias [n]"));
    const int64_t rows = x.dim_size(0), depth = x.dim_size(1), n = weight.dim_size(1);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({rows, n}), &y));
    const float* in = x.flat<float>().data();
    const float* w = weight.flat<float>().data();
    const float* b = bias.flat<float>().data();
    float* out = y->flat<float>().data();
    const int64_t units = (n + kColumns - 1) / kColumns;
    Split(context, units, rows * depth * kColumns, [&](int64_t begin, int64_t end) {
      const int64_t c0 = begin * kColumns, c1 = std::min(n, end * kColumns);
      for (int64_t r = 0; r < rows; ++r) std::fill(out + r * n + c0, out + r * n + c1, 0.0f);
      Products(in, w, out, rows, depth, n, c0, c1);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = c0; j < c1; ++j) out[r * n + j] = out[r * n + j] + b[j];
    });
  }
};

REGISTER_KERNEL_BUILDER(Name("VsrDecodeDense").Device(DEVICE_CPU), VsrDecodeDenseOp);

REGISTER_OP("VsrDecodeLogits")
    .Input("h: float")           // [rows, n_embd]
    .Input("embeddings: float")  // [n_vocab, n_embd]
    .Output("logits: float")     // [rows, n_vocab]: h . embeddings^T
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      c->set_output(0, c->Matrix(c->Dim(c->input(0), 0), c->Dim(c->input(1), 0)));
      return OkStatus();
    });

// logits[r, v] = h[r] . embeddings[v] in 16 lanes (lane l: features l, l + 16, ..., each a
// fused multiply-add), the lanes then joined as Join does, by Logits above. Each vocabulary
// row is read from memory once; groups of four go to threads whole.
class VsrDecodeLogitsOp : public OpKernel {
 public:
  explicit VsrDecodeLogitsOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& h = context->input(0);
    const Tensor& embeddings = context->input(1);
    OP_REQUIRES(context, h.dims() == 2 && embeddings.dims() == 2 && h.dim_size(1) == embeddings.dim_size(1),
                errors::InvalidArgument("VsrDecodeLogits: h [rows, n], embeddings [vocab, n]"));
    const int64_t rows = h.dim_size(0), n = h.dim_size(1), vocab = embeddings.dim_size(0);
    Tensor* logits = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({rows, vocab}), &logits));
    const float* x = h.flat<float>().data();
    const float* e = embeddings.flat<float>().data();
    float* out = logits->flat<float>().data();
    const int64_t groups = (vocab + kVocabRows - 1) / kVocabRows;
    Split(context, groups, rows * n * 2 * kVocabRows, [&](int64_t begin, int64_t end) {
      Logits(x, e, out, rows, n, vocab, begin * kVocabRows, std::min(vocab, end * kVocabRows));
    });
  }
};

REGISTER_KERNEL_BUILDER(Name("VsrDecodeLogits").Device(DEVICE_CPU), VsrDecodeLogitsOp);
