// Decode products (llama.cpp mul_mat_vec_q / mul_mat_vec_f): one warp per weight row, its lanes striding
// over the row's 32-element groups. Quantized weights: each group is unpacked to int8 (common.cuh) and
// multiplied with the Q8_1 activation block by __dp4a, as llama.cpp's vec_dot_*_q8_1; float weights
// (F32 / F16 / BF16) against f32 activations in f32. Up to kMaxMatVecCols columns share each weight
// read; with expert_ids every column has its own expert (mul_mat_id's decode path), one column per block.
#include <type_traits>

#include "ops/cuda/common.cuh"

namespace llama4 {
namespace cuda {

namespace {

constexpr int kRowsPerBlock = 4;  // warps per block, one row each

struct ColArgs {
  int64_t n_cols;
  const int32_t* a_rows;
  const int32_t* y_rows;
  const int32_t* expert_ids;
  size_t expert_bytes;
};

// This block's columns: j0.. j0 + nc (every column, sharing the weights), or with expert_ids column
// blockIdx.y alone and its expert's weights (false: it has no routed expert, nothing to do).
__device__ __forceinline__ bool block_cols(const ColArgs& c, const uint8_t*& w, int64_t* j0, int* nc) {
  *j0 = c.expert_ids ? blockIdx.y : 0;
  *nc = c.expert_ids ? 1 : (int)c.n_cols;
  if (!c.expert_ids) return true;
  const int32_t e = c.expert_ids[*j0];
  w += (size_t)(e < 0 ? 0 : e) * c.expert_bytes;
  return e >= 0;
}

// Reduces each column's lane sums over the warp; lane 0 writes y[column's row][row].
__device__ __forceinline__ void store_cols(const ColArgs& c, float (&acc)[kMaxMatVecCols], int64_t j0, int nc, int64_t row,
                                           float* y, int64_t y_stride) {
#pragma unroll
  for (int j = 0; j < kMaxMatVecCols; j++) {
    if (j < nc) {
      const float v = warp_sum(acc[j]);
      const int64_t col = j0 + j;
      if (threadIdx.x % kWarp == 0) y[(c.y_rows ? c.y_rows[col] : col) * y_stride + row] = v;
    }
  }
}

// One warp per weight row; x: Q8_1 blocks (quantized weights) or f32 values, x_stride apart.
template <GgmlType T>
__global__ void __launch_bounds__(kRowsPerBlock * kWarp)
    matvec_kernel(const uint8_t* __restrict__ W, size_t row_bytes, int64_t n_out, int64_t n_in, const void* __restrict__ xv,
                  int64_t x_stride, ColArgs c, float* __restrict__ y, int64_t y_stride) {
  using Act = std::conditional_t<kIsFloat<T>, float, block_q8_1>;
  const int lane = threadIdx.x % kWarp;
  const int64_t row = (int64_t)blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp;
  if (row >= n_out) return;
  // columns of this block: all (shared weights) or blockIdx.y alone (its own expert)
  int64_t j0;
  int nc;
  const uint8_t* w = W + (size_t)row * row_bytes;
  if (!block_cols(c, w, &j0, &nc)) return;  // the whole block: no routed expert, the column is left as it is
  const Act* xr[kMaxMatVecCols];
#pragma unroll
  for (int j = 0; j < kMaxMatVecCols; j++) {
    const int64_t col = j0 + (j < nc ? j : 0);
    xr[j] = (const Act*)xv + (c.a_rows ? c.a_rows[col] : col) * x_stride;
  }
  float acc[kMaxMatVecCols] = {};
  if constexpr (kIsFloat<T>) {
    for (int64_t i = lane; i < n_in; i += kWarp) {
      const float wi = float_at<T>(w, i);
#pragma unroll
      for (int j = 0; j < kMaxMatVecCols; j++)
        if (j < nc) acc[j] = fmaf(wi, xr[j][i], acc[j]);
    }
  } else {
    for (int gi = lane; gi < (int)(n_in / 32); gi += kWarp) {
      QGroup g;
      load_group<T>(w, gi, g);
#pragma unroll
      for (int j = 0; j < kMaxMatVecCols; j++) {
        if (j < nc) {
          const block_q8_1& b = xr[j][gi];
          int q8[8];
#pragma unroll
          for (int k = 0; k < 8; k++) q8[k] = ld32_b2((const uint8_t*)b.qs + 4 * k);
          acc[j] += group_dot_q8_1<T>(g, q8, h2f(b.d));
        }
      }
    }
  }
  store_cols(c, acc, j0, nc, row, y, y_stride);
}

}  // namespace

bool has_matmul(GgmlType t) {
  return with_weight_type(t, [](auto) {});
}

void matvec(const DevWeights& w, const block_q8_1* xq, int64_t xq_stride, const float* x, int64_t x_stride,
            const Columns& c, float* y, int64_t y_stride, cudaStream_t s) {
  if (c.n_cols <= 0 || w.n_out <= 0) return;
  if (!c.expert_ids && c.n_cols > kMaxMatVecCols)
    LLAMA4_THROW("cuda matvec: %lld columns (at most %d share one weight read; use matmul)", (long long)c.n_cols,
                 kMaxMatVecCols);
  if (c.expert_offsets) LLAMA4_THROW("cuda matvec: expert offsets are matmul's grouping; give expert_ids");
  if (c.n_cols > 65535 && c.expert_ids) LLAMA4_THROW("cuda matvec: %lld columns with experts", (long long)c.n_cols);
  const ColArgs ca{c.n_cols, c.a_rows, c.y_rows, c.expert_ids, w.expert_bytes};
  const dim3 grid(blocks_for(w.n_out, kRowsPerBlock), c.expert_ids ? (unsigned)c.n_cols : 1u);
  const int threads = kRowsPerBlock * kWarp;
  const bool f = !type_traits(w.type).is_quantized;
  const void* xa = f ? (const void*)x : (const void*)xq;
  const int64_t xs = f ? x_stride : xq_stride;
  const bool ok = with_weight_type(w.type, [&](auto tag) {
    matvec_kernel<decltype(tag)::value><<<grid, threads, 0, s>>>(w.data, w.row_bytes, w.n_out, w.n_in, xa, xs, ca, y, y_stride);
  });
  if (!ok) LLAMA4_THROW("cuda matvec: no kernel for %s weights", type_name(w.type));
  LLAMA4_CUDA_LAUNCHED("matvec");
}

}  // namespace cuda
}  // namespace llama4
