// Mixture-of-experts routing on the device (llama.cpp's build_moe_ffn: topk_moe.cu, the argsort + get_rows
// of the weights, and mul_mat_id's grouping of rows by expert), with the CPU's rules (model/blocks.cpp):
// softmax top-k with renormalised weights (llama, Mixtral) and Llama 4's top-k on raw logits with
// sigmoid weights on the expert input, plus a shared-expert-only flag from the depth gates.
#include "ops/cuda/common.cuh"

namespace llama4 {
namespace cuda {

namespace {

constexpr int kMaxExpertsPerLane = 16;  // n_expert <= 512
constexpr int kMaxK = 16;

// Lane-held values v[i] of experts lane + 32 i: the k best (value descending, index ascending on ties, as
// the CPU's partial_sort comparator), written to sel (lane 0 writes); returns nothing.
__device__ void warp_top_k(const float* v, int n_expert, int k, int32_t* sel, float* best) {
  const int lane = threadIdx.x % kWarp;
  uint32_t taken = 0;
  for (int r = 0; r < k; r++) {
    float bv = -INFINITY;
    int bi = 0x7fffffff;
#pragma unroll
    for (int i = 0; i < kMaxExpertsPerLane; i++) {
      const int e = lane + kWarp * i;
      if (e < n_expert && !(taken >> i & 1) && (v[i] > bv || (v[i] == bv && e < bi) || bi == 0x7fffffff)) {
        bv = v[i];
        bi = e;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (oi != 0x7fffffff && (bi == 0x7fffffff || ov > bv || (ov == bv && oi < bi))) {
        bv = ov;
        bi = oi;
      }
    }
    if (bi % kWarp == lane) taken |= 1u << (bi / kWarp);
    if (lane == 0) {
      sel[r] = bi;
      best[r] = bv;
    }
  }
}

// One warp per token: probabilities p = softmax(logits) (expf, sum in f32), the k largest, and their
// weights p_j / max(sum_j p_j, 2^-14) (ggml's clamp; the sum in selection order).
__global__ void topk_softmax_kernel(const float* __restrict__ logits, int n_expert, int k, int32_t* __restrict__ sel,
                                    float* __restrict__ w) {
  const int64_t t = blockIdx.x;
  const int lane = threadIdx.x;
  const float* lg = logits + t * n_expert;
  float v[kMaxExpertsPerLane];
  float mx = -INFINITY;
#pragma unroll
  for (int i = 0; i < kMaxExpertsPerLane; i++) {
    const int e = lane + kWarp * i;
    v[i] = e < n_expert ? lg[e] : -INFINITY;
    mx = fmaxf(mx, v[i]);
  }
  mx = warp_max(mx);
  float sum = 0.0f;
#pragma unroll
  for (int i = 0; i < kMaxExpertsPerLane; i++) {
    const int e = lane + kWarp * i;
    v[i] = e < n_expert ? expf(v[i] - mx) : 0.0f;
    sum += v[i];
  }
  const float inv = 1.0f / warp_sum(sum);
#pragma unroll
  for (int i = 0; i < kMaxExpertsPerLane; i++) v[i] *= inv;
  warp_top_k(v, n_expert, k, sel + t * k, w + t * k);
  if (lane == 0) {
    float ws = 0.0f;
    for (int j = 0; j < k; j++) ws += w[t * k + j];
    ws = fmaxf(ws, 6.103515625e-5f);
    for (int j = 0; j < k; j++) w[t * k + j] /= ws;
  }
}

// One warp per token: the k largest raw logits, w = sigmoid(logit); shared_only[t]: sel = -1.
__global__ void topk_sigmoid_kernel(const float* __restrict__ logits, int n_expert, int k,
                                    const uint8_t* __restrict__ shared_only, int32_t* __restrict__ sel,
                                    float* __restrict__ w) {
  const int64_t t = blockIdx.x;
  const int lane = threadIdx.x;
  const float* lg = logits + t * n_expert;
  float v[kMaxExpertsPerLane];
#pragma unroll
  for (int i = 0; i < kMaxExpertsPerLane; i++) {
    const int e = lane + kWarp * i;
    v[i] = e < n_expert ? lg[e] : -INFINITY;
  }
  warp_top_k(v, n_expert, k, sel + t * k, w + t * k);
  if (lane == 0)
    for (int j = 0; j < k; j++) {
      w[t * k + j] = 1.0f / (1.0f + expf(-w[t * k + j]));
      if (shared_only && shared_only[t]) sel[t * k + j] = -1;
    }
}

constexpr int kGroupThreads = 256;

// offsets[e + 1] = number of pairs routed to expert e (one block per expert).
__global__ void moe_count_kernel(const int32_t* __restrict__ sel, int64_t n_pairs, int32_t* __restrict__ offsets) {
  const int e = blockIdx.x;
  int c = 0;
  for (int64_t i = threadIdx.x; i < n_pairs; i += blockDim.x) c += sel[i] == e;
  __shared__ int s[kGroupThreads / kWarp];
  c = warp_sum_int(c);
  if (threadIdx.x % kWarp == 0) s[threadIdx.x / kWarp] = c;
  __syncthreads();
  if (threadIdx.x == 0) {
    int sum = 0;
    for (int w = 0; w < kGroupThreads / kWarp; w++) sum += s[w];
    offsets[e + 1] = sum;
  }
}

// offsets[0] = 0, offsets[e + 1] += offsets[e]: a serial scan over the (few hundred) experts.
__global__ void moe_offsets_kernel(int32_t* offsets, int n_expert) {
  offsets[0] = 0;
  for (int e = 0; e < n_expert; e++) offsets[e + 1] += offsets[e];
}

// Expert e's pairs in ascending order at offsets[e]: a block-wide prefix sum of (sel[i] == e).
__global__ void moe_scatter_kernel(const int32_t* __restrict__ sel, int64_t n_pairs, int32_t k,
                                   const int32_t* __restrict__ offsets, int32_t* __restrict__ pairs,
                                   int32_t* __restrict__ tokens) {
  const int e = blockIdx.x;
  __shared__ int s_warp[kGroupThreads / kWarp];
  int base = offsets[e];
  for (int64_t i0 = 0; i0 < n_pairs; i0 += blockDim.x) {
    const int64_t i = i0 + threadIdx.x;
    const bool f = i < n_pairs && sel[i] == e;
    int total;
    const int at = block_exclusive_scan(f, s_warp, &total);
    if (f) {
      pairs[base + at] = (int32_t)i;
      tokens[base + at] = (int32_t)(i / k);
    }
    base += total;
  }
}

__global__ void moe_scale_kernel(const float* __restrict__ x, const float* __restrict__ w, int64_t n_pairs, int32_t k,
                                 int64_t n, float* __restrict__ y) {
  const int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n_pairs * n) return;
  const int64_t i = j / n;
  y[j] = x[(i / k) * n + j % n] * w[i];
}

__global__ void moe_combine_kernel(const float* __restrict__ y, const float* __restrict__ w, const int32_t* __restrict__ sel,
                                   int64_t n_tok, int32_t k, int64_t n, float* __restrict__ out) {
  const int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n_tok * n) return;
  const int64_t t = j / n, d = j % n;
  float acc = 0.0f;
  bool first = true;
  for (int s = 0; s < k; s++) {
    const int64_t i = t * k + s;
    if (sel && sel[i] < 0) continue;
    const float v = w ? __fmul_rn(y[i * n + d], w[i]) : y[i * n + d];  // no fused multiply-add, as the CPU
    acc = first ? v : __fadd_rn(acc, v);
    first = false;
  }
  out[j] = acc;
}

void check_router(int32_t n_expert, int32_t k, const char* what) {
  if (n_expert <= 0 || n_expert > kWarp * kMaxExpertsPerLane || k <= 0 || k > kMaxK || k > n_expert)
    LLAMA4_THROW("cuda %s: %d experts, %d used (at most %d experts and %d used)", what, n_expert, k,
                 kWarp * kMaxExpertsPerLane, kMaxK);
}

}  // namespace

void moe_topk_softmax(const float* logits, int64_t n_tok, int32_t n_expert, int32_t k, int32_t* sel, float* w,
                      cudaStream_t s) {
  check_router(n_expert, k, "moe_topk_softmax");
  if (n_tok <= 0) return;
  topk_softmax_kernel<<<(unsigned)n_tok, kWarp, 0, s>>>(logits, n_expert, k, sel, w);
  LLAMA4_CUDA_LAUNCHED("moe_topk_softmax");
}

void moe_topk_sigmoid(const float* logits, int64_t n_tok, int32_t n_expert, int32_t k, const uint8_t* shared_only,
                      int32_t* sel, float* w, cudaStream_t s) {
  check_router(n_expert, k, "moe_topk_sigmoid");
  if (n_tok <= 0) return;
  topk_sigmoid_kernel<<<(unsigned)n_tok, kWarp, 0, s>>>(logits, n_expert, k, shared_only, sel, w);
  LLAMA4_CUDA_LAUNCHED("moe_topk_sigmoid");
}

void moe_group(const int32_t* sel, int64_t n_pairs, int32_t k, int32_t n_expert, int32_t* offsets, int32_t* pairs,
               int32_t* tokens, cudaStream_t s) {
  if (n_expert <= 0 || n_expert > 65535) LLAMA4_THROW("cuda moe_group: %d experts", n_expert);
  if (n_pairs > 0x7fffffff) LLAMA4_THROW("cuda moe_group: %lld pairs", (long long)n_pairs);
  moe_count_kernel<<<(unsigned)n_expert, kGroupThreads, 0, s>>>(sel, n_pairs, offsets);
  LLAMA4_CUDA_LAUNCHED("moe_group count");
  moe_offsets_kernel<<<1, 1, 0, s>>>(offsets, n_expert);
  LLAMA4_CUDA_LAUNCHED("moe_group offsets");
  moe_scatter_kernel<<<(unsigned)n_expert, kGroupThreads, 0, s>>>(sel, n_pairs, k, offsets, pairs, tokens);
  LLAMA4_CUDA_LAUNCHED("moe_group scatter");
}

void moe_scale_inputs(const float* x, const float* w, int64_t n_pairs, int32_t k, int64_t n, float* y, cudaStream_t s) {
  if (n_pairs <= 0 || n <= 0) return;
  moe_scale_kernel<<<blocks_for(n_pairs * n, 256), 256, 0, s>>>(x, w, n_pairs, k, n, y);
  LLAMA4_CUDA_LAUNCHED("moe_scale_inputs");
}

void moe_combine(const float* y, const float* w, const int32_t* sel, int64_t n_tok, int32_t k, int64_t n, float* out,
                 cudaStream_t s) {
  if (n_tok <= 0 || n <= 0) return;
  moe_combine_kernel<<<blocks_for(n_tok * n, 256), 256, 0, s>>>(y, w, sel, n_tok, k, n, out);
  LLAMA4_CUDA_LAUNCHED("moe_combine");
}

}  // namespace cuda
}  // namespace llama4
