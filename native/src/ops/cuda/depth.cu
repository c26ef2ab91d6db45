// Depth-gate decisions on the device (model/depth_gates.h): a gate scores a sublayer's normed input,
// p = sigmoid(w . xn + b), accumulated in double as the CPU's depth_gate_prob, and the token runs the
// sublayer when p >= tau; the tokens that run are then compacted into an index list by a prefix sum (the
// CPU's act_ list), so the following kernels work on the running rows only.
#include "ops/cuda/common.cuh"

namespace llama4 {
namespace cuda {

namespace {

// One warp per token: s = b + sum_i (double) w_i * xn_i; verdict 2 run / 1 shared expert only / 0 skip.
__global__ void depth_gate_kernel(const float* __restrict__ xn, int64_t n_tok, int64_t n_embd, const float* __restrict__ w,
                                  float b, float tau, float shared_tau, float* __restrict__ p, uint8_t* __restrict__ verdict) {
  const int64_t t = (int64_t)blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  if (t >= n_tok) return;  // whole warps
  const int lane = threadIdx.x % kWarp;
  const float* x = xn + t * n_embd;
  double s = 0.0;
  for (int64_t i = lane; i < n_embd; i += kWarp) s += (double)w[i] * (double)x[i];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane != 0) return;
  const float pr = (float)(1.0 / (1.0 + exp(-(s + (double)b))));
  p[t] = pr;
  verdict[t] = pr >= tau ? 2 : (shared_tau >= 0.0f && pr >= shared_tau ? 1 : 0);
}

// One block: idx = positions with flags >= min_flag, in order (a prefix sum over chunks of blockDim).
__global__ void compact_kernel(const uint8_t* __restrict__ flags, int64_t n, uint8_t min_flag, int32_t* __restrict__ idx,
                               int32_t* __restrict__ count) {
  __shared__ int s_warp[32];
  int base = 0;
  for (int64_t i0 = 0; i0 < n; i0 += blockDim.x) {
    const int64_t i = i0 + threadIdx.x;
    const bool f = i < n && flags[i] >= min_flag;
    int total;
    const int at = block_exclusive_scan(f, s_warp, &total);
    if (f) idx[base + at] = (int32_t)i;
    base += total;
  }
  if (threadIdx.x == 0) *count = base;
}

}  // namespace

void depth_gate(const float* xn, int64_t n_tok, int64_t n_embd, const float* w, float b, float tau, float shared_tau,
                float* p, uint8_t* verdict, cudaStream_t s) {
  if (n_tok <= 0) return;
  constexpr int kWarps = 4;
  depth_gate_kernel<<<blocks_for(n_tok, kWarps), kWarps * kWarp, 0, s>>>(xn, n_tok, n_embd, w, b, tau, shared_tau, p, verdict);
  LLAMA4_CUDA_LAUNCHED("depth_gate");
}

void compact(const uint8_t* flags, int64_t n, uint8_t min_flag, int32_t* idx, int32_t* count, cudaStream_t s) {
  if (n > 0x7fffffff) LLAMA4_THROW("cuda compact: %lld entries", (long long)n);
  compact_kernel<<<1, 1024, 0, s>>>(flags, n, min_flag, idx, count);
  LLAMA4_CUDA_LAUNCHED("compact");
}

}  // namespace cuda
}  // namespace llama4
