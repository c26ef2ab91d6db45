// Row and element-wise operations of the forward pass (llama.cpp's CUDA norm.cu, rope.cu, unary.cu,
// binbcast.cu, getrows.cu), with the CPU's formulas (ops/cpu/ops.h) where they differ from llama.cpp's.
#include <algorithm>

#include "ops/cuda/common.cuh"

namespace llama4 {
namespace cuda {

namespace {

constexpr int kNormThreads = 256;

// One block per row: sum of squares in f32 (llama.cpp's rms_norm_f32; the CPU sums in double), then
// y = x * (1 / sqrtf(mean + eps)) (* w).
__global__ void rms_norm_kernel(const float* x, float* y, int64_t n, float eps, const float* __restrict__ w) {
  const float* xr = x + (int64_t)blockIdx.x * n;
  float* yr = y + (int64_t)blockIdx.x * n;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += xr[i] * xr[i];
  __shared__ float s_part[kNormThreads / kWarp];
  sum = warp_sum(sum);
  if (threadIdx.x % kWarp == 0) s_part[threadIdx.x / kWarp] = sum;
  __syncthreads();
  const int lane = threadIdx.x % kWarp;
  sum = lane < kNormThreads / kWarp ? s_part[lane] : 0.0f;
  sum = warp_sum(sum);  // every warp reduces the 8 partials (the same values: every thread gets the total)
  const float scale = 1.0f / sqrtf(sum / (float)n + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = xr[i] * scale;
    yr[i] = w ? v * w[i] : v;
  }
}

// One thread per rotated pair (i0, i0+1) of one head of one token. The angle is built as the CPU's
// rope_cache builds it (pos, then i0/2 multiplications by theta_scale; / freq factor; * freq_scale) and the
// rotation uses its fmaf forms; the dims past n_dims pass through.
__global__ void rope_kernel(float* x, int64_t n_tok, int64_t n_heads, int64_t head_dim, const int32_t* __restrict__ pos,
                            int64_t n_dims, float theta_scale, float freq_scale, const float* __restrict__ ff) {
  const int64_t half = n_dims / 2;
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_tok * n_heads * half) return;
  const int64_t p = i % half, th = i / half, t = th / n_heads;
  float theta = (float)pos[t];
  for (int64_t k = 0; k < p; k++) theta *= theta_scale;
  const float f = ff ? ff[p] : 1.0f;
  const float ang = freq_scale * (theta / f);
  const float c = cosf(ang), s = sinf(ang);
  float* v = x + th * head_dim + 2 * p;
  const float x0 = v[0], x1 = v[1];
  v[0] = fmaf(x0, c, -(x1 * s));
  v[1] = fmaf(x0, s, x1 * c);
}

// NoPE layers of Llama 4 (llm_graph_input_attn_temp): q *= log(floor((pos + 1) / floor_scale) + 1) * scale + offset.
__global__ void attn_temp_kernel(float* x, int64_t n_tok, int64_t per_tok, const int32_t* __restrict__ pos,
                                 float floor_scale, float temp_scale, float offset) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_tok * per_tok) return;
  const double p = pos[i / per_tok];
  const float sc = (float)(log(floor((p + 1.0) / (double)floor_scale) + 1.0) * (double)temp_scale + (double)offset);
  x[i] *= sc;
}

// silu(g) * u = g / (1 + e^-g) * u (llama.cpp's swiglu: ggml_silu_f32 then the product).
__global__ void swiglu_kernel(const float* g, const float* u, float* out, int64_t n) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float gv = g[i];
  out[i] = gv / (1.0f + expf(-gv)) * u[i];
}

__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a[i] + b[i];
}

// One block per id; a thread dequantizes a whole 32-element group (the reference dequantizer's values).
template <GgmlType T>
__global__ void get_rows_q_kernel(const uint8_t* __restrict__ table, size_t row_bytes, int64_t n_cols, int64_t n_rows,
                                  const int32_t* __restrict__ ids, float* __restrict__ y) {
  const int64_t id = ids[blockIdx.x];
  float* out = y + (int64_t)blockIdx.x * n_cols;
  for (int64_t gi = threadIdx.x; gi < n_cols / 32; gi += blockDim.x) {
    if (id < 0 || id >= n_rows) {
      for (int e = 0; e < 32; e++) out[gi * 32 + e] = __int_as_float(0x7fc00000);
      continue;
    }
    QGroup g;
    load_group<T>(table + (size_t)id * row_bytes, (int)gi, g);
#pragma unroll
    for (int e = 0; e < 32; e++) out[gi * 32 + e] = group_value<T>(g, e);
  }
}

template <GgmlType T>
__global__ void get_rows_f_kernel(const uint8_t* __restrict__ table, size_t row_bytes, int64_t n_cols, int64_t n_rows,
                                  const int32_t* __restrict__ ids, float* __restrict__ y) {
  const int64_t id = ids[blockIdx.x];
  float* out = y + (int64_t)blockIdx.x * n_cols;
  for (int64_t i = threadIdx.x; i < n_cols; i += blockDim.x)
    out[i] = id < 0 || id >= n_rows ? __int_as_float(0x7fc00000) : float_at<T>(table + (size_t)id * row_bytes, i);
}

__global__ void copy_rows_kernel(const float* __restrict__ src, const int32_t* __restrict__ rows, int64_t n,
                                 float* __restrict__ dst) {
  const float* s = src + (int64_t)rows[blockIdx.y] * n;
  float* d = dst + (int64_t)blockIdx.y * n;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) d[i] = s[i];
}

}  // namespace

void rms_norm(const float* x, float* y, int64_t n, int64_t n_rows, float eps, const float* w, cudaStream_t s) {
  if (n_rows <= 0 || n <= 0) return;
  rms_norm_kernel<<<(unsigned)n_rows, kNormThreads, 0, s>>>(x, y, n, eps, w);
  LLAMA4_CUDA_LAUNCHED("rms_norm");
}

void rope(float* x, int64_t n_tok, int64_t n_heads, int64_t head_dim, const int32_t* pos, const RopeParams& p,
          cudaStream_t s) {
  if (n_tok <= 0 || n_heads <= 0) return;
  if (p.rope) {
    if (p.n_dims <= 0 || p.n_dims % 2 || p.n_dims > head_dim)
      LLAMA4_THROW("cuda rope: n_dims %lld must be even and at most the head size %lld", (long long)p.n_dims,
                   (long long)head_dim);
    const float theta_scale = powf(p.freq_base, -2.0f / (float)p.n_dims);  // as rope_cache, on the host
    const int64_t n = n_tok * n_heads * (p.n_dims / 2);
    rope_kernel<<<blocks_for(n, 256), 256, 0, s>>>(x, n_tok, n_heads, head_dim, pos, p.n_dims, theta_scale, p.freq_scale,
                                                   p.freq_factors);
    LLAMA4_CUDA_LAUNCHED("rope");
  } else if (p.temp_floor_scale > 0.0f) {
    const int64_t n = n_tok * n_heads * head_dim;
    attn_temp_kernel<<<blocks_for(n, 256), 256, 0, s>>>(x, n_tok, n_heads * head_dim, pos, p.temp_floor_scale,
                                                        p.temp_scale, p.temp_offset);
    LLAMA4_CUDA_LAUNCHED("attention temperature");
  }
}

void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  swiglu_kernel<<<blocks_for(n, 256), 256, 0, s>>>(gate, up, out, n);
  LLAMA4_CUDA_LAUNCHED("swiglu");
}

void add(const float* a, const float* b, float* y, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  add_kernel<<<blocks_for(n, 256), 256, 0, s>>>(a, b, y, n);
  LLAMA4_CUDA_LAUNCHED("add");
}

void get_rows(GgmlType type, const uint8_t* table, size_t row_bytes, int64_t n_cols, int64_t n_rows, const int32_t* ids,
              int64_t n_ids, float* y, cudaStream_t s) {
  if (n_ids <= 0) return;
  if (n_ids > 0x7fffffff) LLAMA4_THROW("cuda get_rows: %lld ids", (long long)n_ids);
  const bool ok = with_weight_type(type, [&](auto tag) {
    constexpr GgmlType T = decltype(tag)::value;
    if constexpr (kIsFloat<T>)
      get_rows_f_kernel<T><<<(unsigned)n_ids, 256, 0, s>>>(table, row_bytes, n_cols, n_rows, ids, y);
    else
      get_rows_q_kernel<T><<<(unsigned)n_ids, 128, 0, s>>>(table, row_bytes, n_cols, n_rows, ids, y);
  });
  if (!ok) LLAMA4_THROW("cuda get_rows: no dequantizer for %s", type_name(type));
  LLAMA4_CUDA_LAUNCHED("get_rows");
}

void copy_rows(const float* src, const int32_t* rows, int64_t n_rows, int64_t n, float* dst, cudaStream_t s) {
  if (n_rows <= 0 || n <= 0) return;
  if (n_rows > 65535) LLAMA4_THROW("cuda copy_rows: %lld rows", (long long)n_rows);
  const dim3 grid((unsigned)std::min<int64_t>(blocks_for(n, 256), 1024), (unsigned)n_rows);
  copy_rows_kernel<<<grid, 256, 0, s>>>(src, rows, n, dst);
  LLAMA4_CUDA_LAUNCHED("copy_rows");
}

}  // namespace cuda
}  // namespace llama4
