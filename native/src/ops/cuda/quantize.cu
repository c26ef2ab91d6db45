// Activation quantization to Q8_1, as llama.cpp's CUDA quantize_q8_1: one warp per 32-value block, one
// value per lane; d = amax / 127, q = roundf(x / d) (0 when amax == 0), and the block stores d and the sum
// of the 32 floats (not d * sum(q), the CPU convention) as f16. Values past n_in pad the last block with 0.
#include "ops/cuda/common.cuh"

namespace llama4 {
namespace cuda {

namespace {

__global__ void quantize_q8_1_kernel(const float* __restrict__ x, int64_t x_stride, int64_t n_in, int64_t n_blocks,
                                     block_q8_1* __restrict__ y) {
  const int64_t row = blockIdx.y;
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;  // element within the padded row
  if (i >= n_blocks * QK8_1) return;                                  // whole warps: blockDim % 32 == 0
  const float xi = i < n_in ? x[row * x_stride + i] : 0.0f;
  const float amax = warp_max(fabsf(xi));
  const float sum = warp_sum(xi);
  const float d = amax / 127.0f;
  const int8_t q = amax == 0.0f ? 0 : (int8_t)roundf(xi / d);
  block_q8_1& b = y[row * n_blocks + i / QK8_1];
  b.qs[i % QK8_1] = q;
  if (i % QK8_1 == 0) {
    b.d = f2h(d);
    b.s = f2h(sum);
  }
}

}  // namespace

void quantize_q8_1(const float* x, int64_t x_stride, int64_t n_in, int64_t n_rows, block_q8_1* y, cudaStream_t s) {
  if (n_rows <= 0 || n_in <= 0) return;
  if (n_rows > 65535) LLAMA4_THROW("cuda quantize_q8_1: %lld rows in one call (at most 65535)", (long long)n_rows);
  const int64_t nb = (n_in + QK8_1 - 1) / QK8_1;
  const dim3 grid(blocks_for(nb * QK8_1, 256), (unsigned)n_rows);
  quantize_q8_1_kernel<<<grid, 256, 0, s>>>(x, x_stride, n_in, nb, y);
  LLAMA4_CUDA_LAUNCHED("quantize_q8_1");
}

}  // namespace cuda
}  // namespace llama4
