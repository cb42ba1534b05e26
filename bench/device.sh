#!/usr/bin/env bash
# The generation benchmark on a machine with an NVIDIA GPU, in one go (under 8 minutes):
#   bash bench/device.sh
# 1. installs the requirements and TensorFlow with its CUDA libraries at the README's pin;
# 2. builds checkpoints of every GPT-2 size's shape (random weights: speed does not depend
#    on them) under models/;
# 3. runs the fast rows (train_on window and passage) of bench/generation.py on 124M and
#    355M, and the default row (passage) on 774M and 1558M with two passages each, every row
#    in a process of its own, checks that the sampler loop's matmuls ran on the GPU, and prints
#    the table. Nothing here is written to content/. On a CPU the 1558M row alone takes about
#    5 minutes; on a GPU the whole script should stay under 8.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 TF_CPP_MIN_LOG_LEVEL=2

pin=$(sed -n 's/^tensorflow==\([0-9.]*\).*/\1/p' requirements.txt)
python3 -m pip install -q -r requirements.txt "tensorflow[and-cuda]==${pin}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

python3 - <<'EOF'
import sys
sys.path.insert(0, ".")
from generator.samples.engine.tf import load
tf, _ = load()
gpus = tf.config.list_physical_devices("GPU")
print("TensorFlow", tf.__version__, "sees", [g.name for g in gpus])
if not gpus:
    sys.exit("TensorFlow sees no GPU: the CUDA libraries did not load (see the lines above)")
EOF

for model in 124M 355M; do
  python3 bench/generation.py --model "$model" --rows window passage --passages 4 --require-gpu
done
for model in 774M 1558M; do
  python3 bench/generation.py --model "$model" --rows passage --passages 2 --require-gpu
done
