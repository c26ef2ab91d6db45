// Prompt products (llama.cpp mul_mat_q / mul_mat_id): a block computes a tile of 32 weight rows x 32
// columns. Quantized weights: per step the block unpacks 4 groups (128 elements) of its 32 rows to int8
// in shared memory (one group per thread, common.cuh's loaders) and stages the columns' Q8_1 blocks beside
// them; every thread then forms 4 outputs with __dp4a, as llama.cpp's tiles do (its per-type tile shapes
// and MMA paths are not reproduced: one tile shape for every type keeps the compile short). Float weights
// use the same tile with f32 values. Columns may be grouped by expert (expert_offsets): blockIdx.z is the
// expert and its columns are a compact range of the (row id) lists, as ggml's mul_mat_id sorts them.
#include "ops/cuda/common.cuh"

namespace llama4 {
namespace cuda {

namespace {

constexpr int kTileR = 32, kTileC = 32, kSteps = 4, kThreads = 256;

struct ColArgs {
  int64_t n_cols;
  const int32_t* a_rows;
  const int32_t* y_rows;
  const int32_t* offsets;
  size_t expert_bytes;
};

// This block's columns [c0, c1) and weight base (expert e = blockIdx.z).
__device__ __forceinline__ void block_cols(const ColArgs& c, const uint8_t*& W, int64_t* c0, int64_t* c1) {
  if (c.offsets) {
    const int e = blockIdx.z;
    *c0 = c.offsets[e];
    *c1 = c.offsets[e + 1];
    W += (size_t)e * c.expert_bytes;
  } else {
    *c0 = 0;
    *c1 = c.n_cols;
  }
  *c0 += (int64_t)blockIdx.y * kTileC;
}

// A thread's 4 outputs: weight row `row`, columns c0 + tc + 8 i.
__device__ __forceinline__ void store_tile(const ColArgs& c, const float (&acc)[4], int64_t c0, int64_t c1, int64_t row,
                                           int tc, int64_t n_out, float* y, int64_t y_stride) {
  if (row >= n_out) return;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int64_t col = c0 + tc + 8 * i;
    if (col < c1) y[(c.y_rows ? c.y_rows[col] : col) * y_stride + row] = acc[i];
  }
}

template <GgmlType T>
__global__ void __launch_bounds__(kThreads)
    matmul_q_kernel(const uint8_t* W, size_t row_bytes, int64_t n_out, int n_groups,
                    const block_q8_1* __restrict__ xq, int64_t xq_stride, ColArgs c, float* __restrict__ y,
                    int64_t y_stride) {
  int64_t c0, c1;
  block_cols(c, W, &c0, &c1);
  if (c0 >= c1) return;  // whole block: no __syncthreads is skipped by part of it
  const int64_t r0 = (int64_t)blockIdx.x * kTileR;
  __shared__ int s_wq[kTileR][kSteps * 8 + 1];  // +1: rows in different banks
  __shared__ float s_wd[kTileR][kSteps][2], s_wm[kTileR][kSteps][2];
  __shared__ int s_xq[kTileC][kSteps * 8];
  __shared__ float s_xd[kTileC][kSteps];
  __shared__ int s_xs[kTileC][kSteps][2];  // sum of the q8 of each half
  const int tid = threadIdx.x;
  const int tr = tid % kTileR, tc = tid / kTileR;  // this thread's outputs: row tr, columns tc + 8*i
  float acc[4] = {};
  // the activation row each staging thread reads (threads 128..255: column (tid-128)/kSteps)
  const int ld = tid - kTileR * kSteps;
  const int lc = ld / kSteps, lk = ld % kSteps;
  const block_q8_1* xrow = nullptr;
  if (ld >= 0 && c0 + lc < c1) {
    const int64_t col = c0 + lc;
    xrow = xq + (c.a_rows ? c.a_rows[col] : col) * xq_stride;
  }
  const int wr = tid / kSteps, wk = tid % kSteps;  // threads 0..127: row wr, group wk of the step
  const uint8_t* wrow = (tid < kTileR * kSteps && r0 + wr < n_out) ? W + (size_t)(r0 + wr) * row_bytes : nullptr;

  for (int g0 = 0; g0 < n_groups; g0 += kSteps) {
    if (tid < kTileR * kSteps) {
      QGroup g;
      if (wrow && g0 + wk < n_groups) {
        load_group<T>(wrow, g0 + wk, g);
      } else {
#pragma unroll
        for (int k = 0; k < 8; k++) g.q[k] = 0;
        g.d[0] = g.d[1] = g.m[0] = g.m[1] = 0.0f;
      }
#pragma unroll
      for (int k = 0; k < 8; k++) s_wq[wr][wk * 8 + k] = g.q[k];
      s_wd[wr][wk][0] = g.d[0];
      s_wd[wr][wk][1] = g.d[1];
      s_wm[wr][wk][0] = g.m[0];
      s_wm[wr][wk][1] = g.m[1];
    } else {
      int s0 = 0, s1 = 0;
      float d = 0.0f;
      if (xrow && g0 + lk < n_groups) {
        const block_q8_1& b = xrow[g0 + lk];
        d = h2f(b.d);
#pragma unroll
        for (int k = 0; k < 8; k++) {
          const int v = ld32_b2((const uint8_t*)b.qs + 4 * k);
          s_xq[lc][lk * 8 + k] = v;
          if (k < 4) s0 = __dp4a(0x01010101, v, s0);
          else s1 = __dp4a(0x01010101, v, s1);
        }
      } else {
#pragma unroll
        for (int k = 0; k < 8; k++) s_xq[lc][lk * 8 + k] = 0;
      }
      s_xd[lc][lk] = d;
      s_xs[lc][lk][0] = s0;
      s_xs[lc][lk][1] = s1;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kSteps; k++) {
      int wq[8];
#pragma unroll
      for (int i = 0; i < 8; i++) wq[i] = s_wq[tr][k * 8 + i];
      const float d0 = s_wd[tr][k][0], d1 = s_wd[tr][k][1];
      const float m0 = s_wm[tr][k][0], m1 = s_wm[tr][k][1];
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int col = tc + 8 * i;
        int si0 = 0, si1 = 0;
#pragma unroll
        for (int q = 0; q < 4; q++) si0 = __dp4a(wq[q], s_xq[col][k * 8 + q], si0);
#pragma unroll
        for (int q = 4; q < 8; q++) si1 = __dp4a(wq[q], s_xq[col][k * 8 + q], si1);
        float v = d0 * (float)si0 + d1 * (float)si1;
        if (QuantType<T>::kHasMin) v += m0 * (float)s_xs[col][k][0] + m1 * (float)s_xs[col][k][1];
        acc[i] += s_xd[col][k] * v;
      }
    }
    __syncthreads();
  }
  store_tile(c, acc, c0, c1, r0 + tr, tc, n_out, y, y_stride);
}

template <GgmlType T>
__global__ void __launch_bounds__(kThreads)
    matmul_f_kernel(const uint8_t* W, size_t row_bytes, int64_t n_out, int64_t n_in,
                    const float* __restrict__ x, int64_t x_stride, ColArgs c, float* __restrict__ y, int64_t y_stride) {
  int64_t c0, c1;
  block_cols(c, W, &c0, &c1);
  if (c0 >= c1) return;
  const int64_t r0 = (int64_t)blockIdx.x * kTileR;
  constexpr int kK = 32;
  __shared__ float s_w[kTileR][kK + 1];
  __shared__ float s_x[kTileC][kK + 1];
  const int tid = threadIdx.x;
  const int tr = tid % kTileR, tc = tid / kTileR;
  float acc[4] = {};
  // staging: element (tid % 32) of rows / columns tid / 32 + 8*i
  const int li = tid % kK, lr = tid / kK;
  const uint8_t* wrows[4];
  const float* xrows[4];
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int64_t r = r0 + lr + 8 * i, col = c0 + lr + 8 * i;
    wrows[i] = r < n_out ? W + (size_t)r * row_bytes : nullptr;
    xrows[i] = col < c1 ? x + (c.a_rows ? c.a_rows[col] : col) * x_stride : nullptr;
  }
  for (int64_t k0 = 0; k0 < n_in; k0 += kK) {
    const int64_t k = k0 + li;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      s_w[lr + 8 * i][li] = wrows[i] && k < n_in ? float_at<T>(wrows[i], k) : 0.0f;
      s_x[lr + 8 * i][li] = xrows[i] && k < n_in ? xrows[i][k] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kK; kk++) {
      const float wv = s_w[tr][kk];
#pragma unroll
      for (int i = 0; i < 4; i++) acc[i] = fmaf(wv, s_x[tc + 8 * i][kk], acc[i]);
    }
    __syncthreads();
  }
  store_tile(c, acc, c0, c1, r0 + tr, tc, n_out, y, y_stride);
}

}  // namespace

void matmul(const DevWeights& w, const block_q8_1* xq, int64_t xq_stride, const float* x, int64_t x_stride,
            const Columns& c, float* y, int64_t y_stride, cudaStream_t s) {
  if (c.n_cols <= 0 || w.n_out <= 0) return;
  if (c.expert_ids) LLAMA4_THROW("cuda matmul: per-column expert ids are matvec's; give expert_offsets");
  const int64_t ct = (c.n_cols + kTileC - 1) / kTileC;
  if (ct > 65535 || c.n_expert > 65535) LLAMA4_THROW("cuda matmul: %lld columns is too many", (long long)c.n_cols);
  const ColArgs ca{c.n_cols, c.a_rows, c.y_rows, c.expert_offsets, w.expert_bytes};
  // with experts the columns per expert are known on the device only: every expert gets the worst case
  const dim3 grid(blocks_for(w.n_out, kTileR), (unsigned)ct, c.expert_offsets ? (unsigned)c.n_expert : 1u);
  const bool ok = with_weight_type(w.type, [&](auto tag) {
    constexpr GgmlType T = decltype(tag)::value;
    if constexpr (kIsFloat<T>)
      matmul_f_kernel<T><<<grid, kThreads, 0, s>>>(w.data, w.row_bytes, w.n_out, w.n_in, x, x_stride, ca, y, y_stride);
    else
      matmul_q_kernel<T><<<grid, kThreads, 0, s>>>(w.data, w.row_bytes, w.n_out, (int)(w.n_in / 32), xq, xq_stride, ca, y,
                                                   y_stride);
  });
  if (!ok) LLAMA4_THROW("cuda matmul: no kernel for %s weights", type_name(w.type));
  LLAMA4_CUDA_LAUNCHED("matmul");
}

}  // namespace cuda
}  // namespace llama4
