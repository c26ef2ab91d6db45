// A small SIMT emulator for checking the CUDA kernels' logic on a machine without a GPU (test/cuda/emu/run.sh):
// every CUDA thread of a block is a std::thread, blocks run one after another so that `static` variables
// (what __shared__ becomes) are the block's shared memory; __syncthreads is a block barrier, warp shuffles and
// ballots exchange through a per-warp buffer between two warp barriers, and a thread that returns drops out
// of both (as exited threads do). Intrinsics are their definitions; f16 conversions are the CPU's (round to
// nearest even). It checks indexing, masking, reductions and synchronisation, not speed, alignment,
// shared-memory limits or the hardware's exp/sin accuracy.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <functional>
#include <memory>
#include <thread>
#include <vector>
#include "ops/types.h"
using std::min; using std::max;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __constant__
#define __shared__ static
struct dim3 { unsigned x, y, z; dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {} };
inline thread_local dim3 threadIdx, blockIdx;
namespace emu {
struct Warp { std::barrier<>* bar; uint64_t buf[32]; };
struct Ctx { std::barrier<>* block; Warp* warp; int lane; };
inline thread_local Ctx ctx;
inline dim3 g_grid, g_block;
inline std::vector<unsigned char> g_dyn;
inline float* dyn_smem() { return (float*)g_dyn.data(); }
template <class T> T exch(T v, int src) {
  Warp& w = *ctx.warp; uint64_t b = 0; memcpy(&b, &v, sizeof(T)); w.buf[ctx.lane] = b; w.bar->arrive_and_wait();
  T r; uint64_t got = w.buf[src]; memcpy(&r, &got, sizeof(T)); w.bar->arrive_and_wait(); return r;
}
template <class F> void launch(dim3 grid, dim3 block, size_t smem, void*, F f) {
  g_grid = grid; g_block = block; g_dyn.assign(smem + 16, 0xCD);
  const int nt = block.x * block.y * block.z;
  for (unsigned bz = 0; bz < grid.z; bz++) for (unsigned by = 0; by < grid.y; by++) for (unsigned bx = 0; bx < grid.x; bx++) {
    std::barrier<> bb(nt);
    int nw = (nt + 31) / 32;
    std::vector<std::unique_ptr<std::barrier<>>> wbars; std::vector<Warp> warps(nw);
    for (int w = 0; w < nw; w++) { wbars.emplace_back(new std::barrier<>(std::min(32, nt - 32 * w))); warps[w].bar = wbars[w].get(); }
    std::vector<std::thread> th;
    for (int t = 0; t < nt; t++) th.emplace_back([&, t] {
      threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y)); blockIdx = dim3(bx, by, bz);
      ctx = Ctx{&bb, &warps[t / 32], t % 32};
      f();
      bb.arrive_and_drop(); warps[t / 32].bar->arrive_and_drop();
    });
    for (auto& x : th) x.join();
  }
}
}  // namespace emu
#define blockDim (emu::g_block)
#define gridDim (emu::g_grid)
inline void __syncthreads() { emu::ctx.block->arrive_and_wait(); }
template <class T> T __shfl_xor_sync(unsigned, T v, int o) { return emu::exch(v, emu::ctx.lane ^ o); }
template <class T> T __shfl_sync(unsigned, T v, int src) { return emu::exch(v, src); }
inline unsigned __ballot_sync(unsigned, bool p) {
  unsigned m = 0;
  auto& w = *emu::ctx.warp; w.buf[emu::ctx.lane] = p; w.bar->arrive_and_wait();
  for (int i = 0; i < 32; i++) if (w.buf[i] == 1) m |= 1u << i; w.bar->arrive_and_wait(); return m;
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __dp4a(int a, int b, int c) { for (int i = 0; i < 4; i++) c += (int)(int8_t)((uint32_t)a >> (8 * i)) * (int)(int8_t)((uint32_t)b >> (8 * i)); return c; }
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; memcpy(&f, &i, 4); return f; }
struct __half { uint16_t x; };
inline float __half2float(__half h) { return llama4::fp16_to_fp32(h.x); }
inline __half __float2half_rn(float f) { return __half{llama4::fp32_to_fp16(f)}; }
inline __half __float2half(float f) { return __float2half_rn(f); }
inline uint16_t __half_as_ushort(__half h) { return h.x; }
inline __half __ushort_as_half(uint16_t u) { return __half{u}; }
// runtime
struct CUstream_st; typedef struct CUstream_st* cudaStream_t;
enum cudaError_t { cudaSuccess = 0, cudaErrorNoDevice = 100 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };
inline const char* cudaGetErrorString(cudaError_t) { return "emu error"; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t n) { *p = malloc(n); memset(*p, 0xAB, n); return cudaSuccess; }
inline cudaError_t cudaFree(void* p) { free(p); return cudaSuccess; }
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { memcpy(d, s, n); return cudaSuccess; }
inline cudaError_t cudaMemset(void* p, int v, size_t n) { memset(p, v, n); return cudaSuccess; }
template <class F> cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) { return cudaSuccess; }
