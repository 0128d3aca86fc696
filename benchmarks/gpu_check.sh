#!/usr/bin/env bash
# The zoo on an NVIDIA GPU, on JAX or PyTorch for CUDA, with no TensorFlow: the throughput
# table, the contract kit and the quick report, written to one folder, in under 8 minutes.
#
#   bash benchmarks/gpu_check.sh jax|torch [OUT_DIR]      (from the repository root)
#
# The machine brings Python, JAX or PyTorch for CUDA, NumPy, scikit-learn, matplotlib, h5py
# and pytest; it may reach no package index. Keras, KerasTuner and the small wheels they
# need come from .whl/ in the repository root (git-ignored), downloaded beforehand where
# pip works, for the machine's Python (here 3.12). KerasTuner imports six, grpc, protobuf
# and requests; wheels of what the machine already has are left unused:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_17_x86_64 -d .whl \
#       keras keras-tuner kt-legacy namex optree six grpcio protobuf requests urllib3 \
#       idna charset-normalizer certifi rich markdown-it-py mdurl pygments absl-py
set -euo pipefail
backend=${1:?usage: gpu_check.sh jax|torch [OUT_DIR]}
out=${2:-${OUT:-gpu-check}}
mkdir -p "$out"
python3 -m pip install -q --no-index --find-links .whl keras keras-tuner six
python3 -m pip install -q --no-deps --no-build-isolation .  # the zoo itself, without TensorFlow
export KERAS_BACKEND=$backend
{
    nvidia-smi -L
    python3 -c "import keras, zoo; from zoo.backends import accelerator
print('keras', keras.__version__, 'backend', keras.backend.backend(), 'device', accelerator())"
} | tee "$out/device.txt"
timeout 240 python3 -m benchmarks.throughput --backend "$backend" --steps 100 --repeats 3 \
    --dtype-policy float32,mixed_float16,mixed_bfloat16 | tee "$out/throughput.md"
# Export needs TensorFlow, which this machine lacks.
timeout 150 python3 -m pytest tests/test_contract.py -q -p no:cacheprovider \
    -k "not export and not contrastive" 2>&1 | tee "$out/contract.txt" || true
timeout 120 deepzoo run all --quick --out "$out/report" 2>&1 | tail -n 20 | tee "$out/report.txt" || true
