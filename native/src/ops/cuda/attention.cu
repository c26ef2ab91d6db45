// Attention over the f16 KV cache (llama.cpp's fattn-vec for one query token and fattn-tile for prompts,
// in simplified form). Every query h reads KV head h / (n_head / n_head_kv) (GQA) and the cells it may
// see: [lo, p] with p its position and lo = 0, or with Llama 4's chunked attention the first cell of p's
// chunk ((p / chunk) * chunk). The query is rounded to f16 first, as the CPU (and llama.cpp) read it
// against an f16 cache; scores are scale * q.k in f32; the softmax is online (running max m, sum l), so
// results match the CPU's attn_partial state (m, l, acc) up to f32 summation order.
#include <algorithm>

#include "ops/cuda/common.cuh"

namespace llama4 {
namespace cuda {

namespace {

constexpr int kMaxHd = 256, kPerLane = kMaxHd / kWarp;  // head sizes up to 256: 8 dims per lane
constexpr int kDecWarps = 4;

struct Shape {
  int n_head, n_head_kv, hd, hdv;
  int n_cells, chunk;
  float scale;
};

__device__ __forceinline__ void visible(const Shape& a, int p, int* lo, int* hi) {
  *lo = a.chunk > 0 ? (p / a.chunk) * a.chunk : 0;
  *hi = min(p + 1, a.n_cells);
}

__device__ __forceinline__ float round_f16(float v) { return __half2float(__float2half_rn(v)); }

__global__ void kv_append_kernel(const float* __restrict__ k, const float* __restrict__ v, const int32_t* __restrict__ pos,
                                 int64_t n_tok, Shape a, uint16_t* __restrict__ kc, uint16_t* __restrict__ vc) {
  const int64_t nk = (int64_t)a.n_head_kv * a.hd, nv = (int64_t)a.n_head_kv * a.hdv;
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_tok * (nk + nv)) return;
  const int64_t t = i / (nk + nv), e = i % (nk + nv);
  const int p = pos[t];
  if (p < 0 || p >= a.n_cells) return;  // the host checks positions; never write outside the cache
  if (e < nk) kc[(int64_t)p * nk + e] = f2h(k[t * nk + e]);
  else vc[(int64_t)p * nv + (e - nk)] = f2h(v[t * nv + (e - nk)]);
}

// One block per (query head, split of kDecodeSplit cells, token): 4 warps take the split's cells in turn,
// one cell per warp step (lanes over the head dims), each keeping an online softmax; the warps' states are
// merged and written as the split's partial state (m, l, acc[hdv]).
__global__ void __launch_bounds__(kDecWarps * kWarp)
    attn_decode_kernel(const float* __restrict__ q, const int32_t* __restrict__ pos, Shape a, const __half* __restrict__ K,
                       const __half* __restrict__ V, float* __restrict__ part, int n_split) {
  const int h = blockIdx.x, sidx = blockIdx.y, t = blockIdx.z;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int kvh = h / (a.n_head / a.n_head_kv);
  int lo, hi;
  visible(a, pos[t], &lo, &hi);
  const int c_begin = max(lo, sidx * kDecodeSplit), c_end = min(hi, (sidx + 1) * kDecodeSplit);
  float qr[kPerLane];
  const float* qh = q + ((int64_t)t * a.n_head + h) * a.hd;
#pragma unroll
  for (int i = 0; i < kPerLane; i++) {
    const int d = lane + kWarp * i;
    qr[i] = d < a.hd ? round_f16(qh[d]) : 0.0f;
  }
  float m = -INFINITY, l = 0.0f, acc[kPerLane] = {};
  for (int c = c_begin + warp; c < c_end; c += kDecWarps) {
    const __half* kr = K + ((int64_t)c * a.n_head_kv + kvh) * a.hd;
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < kPerLane; i++) {
      const int d = lane + kWarp * i;
      if (d < a.hd) s = fmaf(qr[i], __half2float(kr[d]), s);
    }
    s = warp_sum(s) * a.scale;
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new), e = expf(s - m_new);
    l = l * corr + e;
    const __half* vr = V + ((int64_t)c * a.n_head_kv + kvh) * a.hdv;
#pragma unroll
    for (int i = 0; i < kPerLane; i++) {
      const int d = lane + kWarp * i;
      acc[i] = acc[i] * corr + (d < a.hdv ? e * __half2float(vr[d]) : 0.0f);
    }
    m = m_new;
  }
  __shared__ float s_m[kDecWarps], s_l[kDecWarps], s_acc[kDecWarps][kMaxHd];
  if (lane == 0) {
    s_m[warp] = m;
    s_l[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kPerLane; i++) {
    const int d = lane + kWarp * i;
    if (d < a.hdv) s_acc[warp][d] = acc[i];
  }
  __syncthreads();
  float M = -INFINITY;
  for (int w = 0; w < kDecWarps; w++) M = fmaxf(M, s_m[w]);
  float f[kDecWarps], L = 0.0f;
  for (int w = 0; w < kDecWarps; w++) {
    f[w] = s_m[w] == -INFINITY ? 0.0f : expf(s_m[w] - M);
    L += f[w] * s_l[w];
  }
  float* out = part + (((int64_t)t * a.n_head + h) * n_split + sidx) * (2 + a.hdv);
  if (threadIdx.x == 0) {
    out[0] = M;
    out[1] = L;
  }
  for (int d = threadIdx.x; d < a.hdv; d += blockDim.x) {
    float v = 0.0f;
    for (int w = 0; w < kDecWarps; w++) v += f[w] * s_acc[w][d];
    out[2 + d] = v;
  }
}

// out = sum_s e^(m_s - M) acc_s / sum_s e^(m_s - M) l_s over the splits (empty splits: m = -inf).
__global__ void attn_merge_kernel(const float* __restrict__ part, Shape a, int n_split, float* __restrict__ out) {
  const int h = blockIdx.x, t = blockIdx.y;
  const float* ps = part + ((int64_t)t * a.n_head + h) * n_split * (2 + a.hdv);
  float M = -INFINITY;
  for (int s = 0; s < n_split; s++) M = fmaxf(M, ps[s * (2 + a.hdv)]);
  float L = 0.0f;
  for (int s = 0; s < n_split; s++) {
    const float ms = ps[s * (2 + a.hdv)];
    if (ms != -INFINITY) L += expf(ms - M) * ps[s * (2 + a.hdv) + 1];
  }
  const float inv = L > 0.0f ? 1.0f / L : 0.0f;
  float* o = out + ((int64_t)t * a.n_head + h) * a.hdv;
  for (int d = threadIdx.x; d < a.hdv; d += blockDim.x) {
    float v = 0.0f;
    for (int s = 0; s < n_split; s++) {
      const float ms = ps[s * (2 + a.hdv)];
      if (ms != -INFINITY) v += expf(ms - M) * ps[s * (2 + a.hdv) + 2 + d];
    }
    o[d] = v * inv;
  }
}

constexpr int kQTile = 16, kCTile = 32, kPromptWarps = 4, kQPerWarp = kQTile / kPromptWarps;

// One block per (tile of 16 queries, query head): the K and V of 32 cells at a time are staged in shared
// memory (f16; K rows padded by 2 so the lanes' rows fall in different banks); each warp keeps the online
// softmax of 4 queries, one cell per lane for the scores and the head dims over the lanes for V.
__global__ void __launch_bounds__(kPromptWarps * kWarp)
    attn_prompt_kernel(const float* __restrict__ q, const int32_t* __restrict__ pos, int64_t n_tok, Shape a,
                       const __half* __restrict__ K, const __half* __restrict__ V, float* __restrict__ out) {
  extern __shared__ float smem[];
  const int kstride = a.hd + 2;
  float* s_q = smem;                                             // [kQTile][hd]
  __half* s_k = (__half*)(s_q + kQTile * a.hd);                  // [kCTile][hd + 2]
  __half* s_v = s_k + kCTile * kstride;                          // [kCTile][hdv]
  __shared__ int s_lo[kQTile], s_hi[kQTile], s_range[2];
  const int h = blockIdx.y, kvh = h / (a.n_head / a.n_head_kv);
  const int64_t t0 = (int64_t)blockIdx.x * kQTile;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  for (int i = threadIdx.x; i < kQTile * a.hd; i += blockDim.x) {
    const int64_t t = t0 + i / a.hd;
    s_q[i] = t < n_tok ? round_f16(q[(t * a.n_head + h) * a.hd + i % a.hd]) : 0.0f;
  }
  if (threadIdx.x < kQTile) {
    const int64_t t = t0 + threadIdx.x;
    int lo = 0, hi = 0;  // a query past the batch sees nothing
    if (t < n_tok) visible(a, pos[t], &lo, &hi);
    s_lo[threadIdx.x] = lo;
    s_hi[threadIdx.x] = hi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int lo = a.n_cells, hi = 0;
    for (int i = 0; i < kQTile; i++)
      if (s_hi[i] > s_lo[i]) {
        lo = min(lo, s_lo[i]);
        hi = max(hi, s_hi[i]);
      }
    s_range[0] = lo;
    s_range[1] = hi;
  }
  __syncthreads();
  const int c_lo = s_range[0], c_hi = s_range[1];
  float m[kQPerWarp], l[kQPerWarp], acc[kQPerWarp][kPerLane];
#pragma unroll
  for (int j = 0; j < kQPerWarp; j++) {
    m[j] = -INFINITY;
    l[j] = 0.0f;
#pragma unroll
    for (int i = 0; i < kPerLane; i++) acc[j][i] = 0.0f;
  }
  for (int c0 = c_lo; c0 < c_hi; c0 += kCTile) {
    __syncthreads();  // the previous tile is consumed
    for (int i = threadIdx.x; i < kCTile * a.hd; i += blockDim.x) {
      const int c = c0 + i / a.hd;
      s_k[(i / a.hd) * kstride + i % a.hd] = c < c_hi ? K[((int64_t)c * a.n_head_kv + kvh) * a.hd + i % a.hd] : __float2half(0.0f);
    }
    for (int i = threadIdx.x; i < kCTile * a.hdv; i += blockDim.x) {
      const int c = c0 + i / a.hdv;
      s_v[i] = c < c_hi ? V[((int64_t)c * a.n_head_kv + kvh) * a.hdv + i % a.hdv] : __float2half(0.0f);
    }
    __syncthreads();
    const int c = c0 + lane;
#pragma unroll
    for (int j = 0; j < kQPerWarp; j++) {
      const int qi = warp * kQPerWarp + j;
      const bool ok = c >= s_lo[qi] && c < s_hi[qi];
      float s = -INFINITY;
      if (ok) {
        const float* qv = s_q + qi * a.hd;
        const __half* kr = s_k + lane * kstride;
        float dot = 0.0f;
        for (int d = 0; d < a.hd; d++) dot = fmaf(qv[d], __half2float(kr[d]), dot);
        s = dot * a.scale;
      }
      const float tmax = warp_max(s);
      if (tmax == -INFINITY) continue;  // uniform over the warp: no cell of this tile is visible
      const float m_new = fmaxf(m[j], tmax);
      const float corr = expf(m[j] - m_new);
      const float e = ok ? expf(s - m_new) : 0.0f;
      l[j] = l[j] * corr + warp_sum(e);
#pragma unroll
      for (int i = 0; i < kPerLane; i++) acc[j][i] *= corr;
      for (int cc = 0; cc < kCTile; cc++) {
        const float pc = __shfl_sync(0xffffffffu, e, cc);
        const __half* vr = s_v + cc * a.hdv;
#pragma unroll
        for (int i = 0; i < kPerLane; i++) {
          const int d = lane + kWarp * i;
          if (d < a.hdv) acc[j][i] = fmaf(pc, __half2float(vr[d]), acc[j][i]);
        }
      }
      m[j] = m_new;
    }
  }
#pragma unroll
  for (int j = 0; j < kQPerWarp; j++) {
    const int64_t t = t0 + warp * kQPerWarp + j;
    if (t >= n_tok) continue;
    const float inv = l[j] > 0.0f ? 1.0f / l[j] : 0.0f;
    float* o = out + (t * a.n_head + h) * a.hdv;
#pragma unroll
    for (int i = 0; i < kPerLane; i++) {
      const int d = lane + kWarp * i;
      if (d < a.hdv) o[d] = acc[j][i] * inv;
    }
  }
}

Shape shape_of(const AttnShape& a, const char* what) {
  if (a.hd <= 0 || a.hd > kMaxHd || a.hdv <= 0 || a.hdv > kMaxHd)
    LLAMA4_THROW("cuda %s: head sizes %lld / %lld (at most %d)", what, (long long)a.hd, (long long)a.hdv, kMaxHd);
  if (a.n_head_kv <= 0 || a.n_head % a.n_head_kv)
    LLAMA4_THROW("cuda %s: %lld heads are not a multiple of %lld KV heads", what, (long long)a.n_head, (long long)a.n_head_kv);
  if (a.n_cells <= 0 || a.n_cells > 0x7fffffff) LLAMA4_THROW("cuda %s: %lld cache cells", what, (long long)a.n_cells);
  return Shape{(int)a.n_head, (int)a.n_head_kv, (int)a.hd, (int)a.hdv, (int)a.n_cells, (int)a.chunk, a.scale};
}

int n_splits(const AttnShape& a) { return (int)((a.n_cells + kDecodeSplit - 1) / kDecodeSplit); }

}  // namespace

void kv_append(const float* k, const float* v, const int32_t* pos, int64_t n_tok, const AttnShape& a, uint16_t* k_cache,
               uint16_t* v_cache, cudaStream_t s) {
  if (n_tok <= 0) return;
  const Shape sh = shape_of(a, "kv_append");
  const int64_t n = n_tok * a.n_head_kv * (a.hd + a.hdv);
  kv_append_kernel<<<blocks_for(n, 256), 256, 0, s>>>(k, v, pos, n_tok, sh, k_cache, v_cache);
  LLAMA4_CUDA_LAUNCHED("kv_append");
}

size_t decode_scratch_floats(int64_t n_tok, const AttnShape& a) {
  return (size_t)n_tok * a.n_head * n_splits(a) * (2 + a.hdv);
}

void attn_decode(const float* q, const int32_t* pos, int64_t n_tok, const AttnShape& a, const uint16_t* k_cache,
                 const uint16_t* v_cache, float* scratch, float* out, cudaStream_t s) {
  if (n_tok <= 0) return;
  const Shape sh = shape_of(a, "attn_decode");
  if (n_tok > 65535 || n_splits(a) > 65535) LLAMA4_THROW("cuda attn_decode: %lld tokens", (long long)n_tok);
  const int ns = n_splits(a);
  attn_decode_kernel<<<dim3((unsigned)a.n_head, (unsigned)ns, (unsigned)n_tok), kDecWarps * kWarp, 0, s>>>(
      q, pos, sh, (const __half*)k_cache, (const __half*)v_cache, scratch, ns);
  LLAMA4_CUDA_LAUNCHED("attn_decode");
  attn_merge_kernel<<<dim3((unsigned)a.n_head, (unsigned)n_tok), 128, 0, s>>>(scratch, sh, ns, out);
  LLAMA4_CUDA_LAUNCHED("attn_decode merge");
}

void attn_prompt(const float* q, const int32_t* pos, int64_t n_tok, const AttnShape& a, const uint16_t* k_cache,
                 const uint16_t* v_cache, float* out, cudaStream_t s) {
  if (n_tok <= 0) return;
  const Shape sh = shape_of(a, "attn_prompt");
  const size_t smem = sizeof(float) * kQTile * a.hd + sizeof(__half) * kCTile * (a.hd + 2 + a.hdv);
  if (smem > 48 * 1024)
    LLAMA4_CUDA_CHECK(cudaFuncSetAttribute(attn_prompt_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
                      "attn_prompt shared memory");
  const int64_t tiles = (n_tok + kQTile - 1) / kQTile;
  if (tiles > 0x7fffffff || a.n_head > 65535) LLAMA4_THROW("cuda attn_prompt: %lld tokens", (long long)n_tok);
  attn_prompt_kernel<<<dim3((unsigned)tiles, (unsigned)a.n_head), kPromptWarps * kWarp, smem, s>>>(
      q, pos, n_tok, sh, (const __half*)k_cache, (const __half*)v_cache, out);
  LLAMA4_CUDA_LAUNCHED("attn_prompt");
}

}  // namespace cuda
}  // namespace llama4
