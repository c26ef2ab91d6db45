#!/usr/bin/env bash
# Runs test/cuda (every CUDA kernel against its CPU twin) on the CPU: the kernels of native/src/ops/cuda are
# compiled as C++ against a small SIMT emulator (emu.h) and linked with the addon's C++ objects of the last
# `npm run build:native` (a CUDA build: build/ must hold the cuda_binding object compiled with
# LLAMA4_WITH_CUDA) into an addon that test/cuda loads through LLAMA4_ADDON. One std::thread per CUDA thread:
# slow (about 8 minutes for the file), for checking kernel logic where no GPU is lent.
#   test/cuda/emu/run.sh [vitest args...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
OUT=${EMU_OUT:-/tmp/llama4-cuda-emu}
mkdir -p "$OUT"
objs=()
for f in native/src/ops/cuda/*.cu; do
  name=$(basename "$f" .cu)
  case "$name" in backend_cuda|memory_cuda) continue ;; esac  # device queries: stub.cpp
  python3 test/cuda/emu/transform.py "$f" "$OUT/$name.cpp"
  objs+=("$OUT/$name.o")
done
python3 test/cuda/emu/transform.py native/src/ops/cuda/common.cuh "$OUT/common_emu.cuh"
for o in "${objs[@]}"; do
  g++ -std=c++20 -O2 -fPIC -w -include test/cuda/emu/emu.h -I native/src -I "$OUT" -c "${o%.o}.cpp" -o "$o" &
  while [ "$(jobs -r | wc -l)" -ge 2 ]; do sleep 0.2; done
done
wait
g++ -std=c++17 -O2 -fPIC -c test/cuda/emu/stub.cpp -o "$OUT/stub.o"
mapfile -t cpp_objs < <(find build/CMakeFiles/llama4.dir -name '*.cpp.o')
g++ -shared -o "$OUT/llama4.node" "${cpp_objs[@]}" "${objs[@]}" "$OUT/stub.o" -lpthread -ldl
LLAMA4_ADDON="$OUT/llama4.node" npx vitest run test/cuda --testTimeout=1800000 "$@"
