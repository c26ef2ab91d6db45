// Test access to the CUDA kernel library (ops/cuda/kernels.h): every kernel next to its CPU twin.
//   cudaTwin(op, args): { gpu: Float32Array, cpu: Float32Array, ...op-specific extras }
// builds the op's inputs from args (typed arrays made by the test from a seeded generator), runs the CUDA
// kernel (copy in, launch, copy out, synchronize: a CUDA error is thrown as a JS Error with CUDA's message)
// and the CPU implementation of the same op (the CPU engine's own code where it exists: ops/cpu/ops.h,
// quants_ref, matmul, depth_gates; otherwise the float formula the kernel implements, in double), and
// returns both. Ops and their args (counts are numbers, arrays typed as named):
//   quantize_q8_1 {x: F32, nIn, nRows}   gpu/cpu: dequantized d*q; extras gpuS/cpuS (block sums),
//                                        ref (the CPU engine's quantize_q8_1_ref, its own rounding and s)
//   matmul {type, w: U8 (nOut whole rows), x: F32 (nTok rows of nIn), nIn, nTok, kernel?: 'vec'|'mm'}
//          cpu: sum of dequantized weights x the Q8_1 activations the GPU computes (double);
//          cpuPath: the CPU engine's matmul (its own activation type, e.g. Q8_0 / Q8_K)
//   matmul_id {type, w: U8 (nExpert slabs), x: F32 (nTok rows), nIn, nOut, nExpert, sel: I32 (nTok*k), k,
//          kernel?: 'vec'|'mm'}  y[i] = expert sel[i] of token i/k (rows of pairs with sel < 0 stay 0)
//   rms_norm {x, n, nRows, eps, w?}            rope {x, nTok, nHeads, headDim, pos: I32, nDims, freqBase,
//          freqScale, freqFactors?, rope, tempFloorScale?, tempScale?, tempOffset?}
//   swiglu {gate, up}   add {a, b}   get_rows {type, table: U8, nCols, ids: I32}   copy_rows {src, n, rows: I32}
//   kv_append {k, v, pos, nHeadKv, hd, hdv, nCells}  gpu/cpu: the K cache then the V cache, as f32
//   attn_decode / attn_prompt {q, pos, kCache: U16, vCache: U16, nHead, nHeadKv, hd, hdv, nCells, chunk?, scale?}
//   moe_topk {logits, nTok, nExpert, k, mode: 'softmax'|'sigmoid', sharedOnly?: U8}  gpu/cpu: weights;
//          gpuSel/cpuSel
//   moe_group {sel: I32, k, nExpert}  gpu/cpu: offsets ++ pairs ++ tokens (as floats); gpuInt/cpuInt: the same
//   moe_scale {x, w, k, n}   moe_combine {y, w?, sel?, nTok, k, n}
//   depth_gate {xn, nTok, nEmbd, w, b, tau, sharedTau}  gpu/cpu: probabilities; gpuVerdict/cpuVerdict
//   compact {flags: U8, minFlag}  gpu/cpu: the indices (as floats); gpuCount/cpuCount
//   group_values {type, w: U8 (one row), x: F32}  needs no device: the kernels' weight decoding compiled for
//          the host (gpu) against the reference dequantizer (cpu); gpuDot/cpuDot: its Q8_1 dot product
// Without a CUDA build: Error "CUDA backend not compiled ..."; without a device: "no CUDA device ...".
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "addon/async.h"
#include "addon/bindings.h"
#include "ops/backend.h"
#include "runtime/error.h"

#ifdef LLAMA4_WITH_CUDA
#include "model/depth_gates.h"
#include "ops/blocks.h"
#include "ops/cpu/ops.h"
#include "ops/cuda/kernels.h"
#include "ops/matmul.h"
#include "ops/quants_ref.h"
#include "ops/types.h"
#include "runtime/thread_pool.h"
#endif

namespace llama4 {

namespace {

#ifdef LLAMA4_WITH_CUDA

// ---- arguments ------------------------------------------------------------------------------------------
struct Args {
  Napi::Object o;
  const char* op;
  bool has(const char* k) const { return o.Has(k) && !o.Get(k).IsUndefined() && !o.Get(k).IsNull(); }
  Napi::Value get(const char* k) const {
    if (!has(k)) LLAMA4_THROW("cudaTwin %s: missing argument '%s'", op, k);
    return o.Get(k);
  }
  double num(const char* k) const {
    Napi::Value v = get(k);
    if (!v.IsNumber()) LLAMA4_THROW("cudaTwin %s: '%s' must be a number", op, k);
    return v.As<Napi::Number>().DoubleValue();
  }
  double num(const char* k, double dflt) const { return has(k) ? num(k) : dflt; }
  int64_t count(const char* k) const {
    const double v = num(k);
    if (!(v >= 0 && v <= 1e10) || v != std::floor(v)) LLAMA4_THROW("cudaTwin %s: '%s' must be a count", op, k);
    return (int64_t)v;
  }
  bool flag(const char* k, bool dflt) const { return has(k) ? get(k).ToBoolean().Value() : dflt; }
  std::string str(const char* k, const char* dflt) const { return has(k) ? get(k).ToString().Utf8Value() : dflt; }
  template <typename T>
  std::vector<T> arr(const char* k, napi_typedarray_type type, const char* tname) const {
    Napi::Value v = get(k);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      LLAMA4_THROW("cudaTwin %s: '%s' must be a %s", op, k, tname);
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    const uint8_t* p = (const uint8_t*)a.ArrayBuffer().Data() + a.ByteOffset();
    std::vector<T> out(a.ByteLength() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), p, out.size() * sizeof(T));
    return out;
  }
  std::vector<float> f32(const char* k) const { return arr<float>(k, napi_float32_array, "Float32Array"); }
  std::vector<uint8_t> u8(const char* k) const { return arr<uint8_t>(k, napi_uint8_array, "Uint8Array"); }
  std::vector<uint16_t> u16(const char* k) const { return arr<uint16_t>(k, napi_uint16_array, "Uint16Array"); }
  std::vector<int32_t> i32(const char* k) const { return arr<int32_t>(k, napi_int32_array, "Int32Array"); }
  void need(bool ok, const char* what) const {
    if (!ok) LLAMA4_THROW("cudaTwin %s: %s", op, what);
  }
};

// ---- device buffers -------------------------------------------------------------------------------------
struct Dev {
  void* p = nullptr;
  size_t bytes = 0;
  Dev() = default;
  explicit Dev(size_t n) : p(cuda::dev_alloc(n)), bytes(n) {}
  template <typename T>
  explicit Dev(const std::vector<T>& v) : Dev(v.size() * sizeof(T)) {
    cuda::to_device(p, v.data(), bytes);
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  Dev(Dev&& o) noexcept : p(o.p), bytes(o.bytes) { o.p = nullptr; }
  Dev& operator=(Dev&& o) noexcept {
    std::swap(p, o.p);
    std::swap(bytes, o.bytes);
    return *this;
  }
  ~Dev() { cuda::dev_free(p); }
  template <typename T>
  T* as() const { return (T*)p; }
  template <typename T>
  std::vector<T> read(size_t n) const {
    std::vector<T> v(n);
    cuda::to_host(v.data(), p, n * sizeof(T));
    return v;
  }
};

Napi::Float32Array f32_out(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}
Napi::Int32Array i32_out(Napi::Env env, const std::vector<int32_t>& v) {
  Napi::Int32Array a = Napi::Int32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(int32_t));
  return a;
}
Napi::Uint8Array u8_out(Napi::Env env, const std::vector<uint8_t>& v) {
  Napi::Uint8Array a = Napi::Uint8Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size());
  return a;
}
std::vector<float> as_floats(const std::vector<int32_t>& v) { return std::vector<float>(v.begin(), v.end()); }

Napi::Object result(Napi::Env env, const std::vector<float>& gpu, const std::vector<float>& cpu) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("gpu", f32_out(env, gpu));
  o.Set("cpu", f32_out(env, cpu));
  return o;
}

// ---- CPU twins that the engine has no function for ---------------------------------------------------------
// llama.cpp's CUDA quantize_q8_1 on the host (the GPU kernel's twin): per 32 values, d = amax / 127,
// q = roundf(x / d), s = the float sum; values past n_in are 0.
void q8_1_cuda_ref(const float* x, int64_t n_in, block_q8_1* y) {
  const int64_t nb = (n_in + 31) / 32;
  for (int64_t b = 0; b < nb; b++) {
    float amax = 0.0f, sum = 0.0f, v[32];
    for (int i = 0; i < 32; i++) {
      v[i] = b * 32 + i < n_in ? x[b * 32 + i] : 0.0f;
      amax = std::max(amax, std::fabs(v[i]));
      sum += v[i];
    }
    const float d = amax / 127.0f;
    for (int i = 0; i < 32; i++) y[b].qs[i] = amax == 0.0f ? 0 : (int8_t)std::roundf(v[i] / d);
    y[b].d = fp32_to_fp16(d);
    y[b].s = fp32_to_fp16(sum);
  }
}

// Dequantized Q8_1 values (d * q) of nb blocks.
std::vector<float> q8_1_values(const block_q8_1* y, int64_t nb) {
  std::vector<float> out((size_t)nb * 32);
  for (int64_t b = 0; b < nb; b++)
    for (int i = 0; i < 32; i++) out[(size_t)(b * 32 + i)] = fp16_to_fp32(y[b].d) * (float)y[b].qs[i];
  return out;
}

// The activations a GPU product reads, as floats: Q8_1-quantized (CUDA convention) for quantized weights,
// the f32 values for float weights.
std::vector<float> product_acts(GgmlType t, const std::vector<float>& x, int64_t n_in, int64_t rows) {
  if (!type_traits(t).is_quantized) return x;
  std::vector<float> out((size_t)(rows * n_in));
  std::vector<block_q8_1> q((size_t)(n_in / 32));
  for (int64_t r = 0; r < rows; r++) {
    q8_1_cuda_ref(&x[(size_t)(r * n_in)], n_in, q.data());
    const std::vector<float> v = q8_1_values(q.data(), n_in / 32);
    std::copy(v.begin(), v.end(), out.begin() + r * n_in);
  }
  return out;
}

std::vector<float> dequant_rows(GgmlType t, const uint8_t* w, int64_t n_in, int64_t rows) {
  std::vector<float> out((size_t)(n_in * rows));
  const size_t rb = row_size(t, n_in);
  for (int64_t r = 0; r < rows; r++) type_traits(t).to_float(w + r * rb, &out[(size_t)(r * n_in)], n_in);
  return out;
}

double dot_d(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

void check_weight_type(const Args& a, GgmlType* t, int64_t n_in) {
  const double id = a.num("type");
  a.need(id >= 0 && id < kGgmlTypeCount && type_id_known((uint32_t)id), "unknown type id");
  *t = (GgmlType)(uint32_t)id;
  if (!cuda::has_matmul(*t) || !type_traits(*t).to_float)
    LLAMA4_THROW("cudaTwin %s: no CUDA kernel for %s weights", a.op, type_name(*t));
  if (n_in <= 0 || n_in % type_traits(*t).blck_size)
    LLAMA4_THROW("cudaTwin %s: nIn %lld must be a positive multiple of %s's block size", a.op, (long long)n_in,
                 type_name(*t));
}

// Activations on the device: Q8_1 blocks for quantized weights, f32 otherwise.
struct DevActs {
  Dev x, xq;
  int64_t q_stride = 0;
  DevActs(GgmlType t, const std::vector<float>& xs, int64_t n_in, int64_t rows) : x(xs) {
    if (type_traits(t).is_quantized) {
      q_stride = (n_in + 31) / 32;
      xq = Dev((size_t)(rows * q_stride) * sizeof(block_q8_1));
      cuda::quantize_q8_1(x.as<float>(), n_in, n_in, rows, xq.as<block_q8_1>(), nullptr);
    }
  }
};

// ---- ops --------------------------------------------------------------------------------------------------
using OpFn = std::function<Napi::Object(Napi::Env, const Args&)>;

Napi::Object op_quantize(Napi::Env env, const Args& a) {
  const int64_t n_in = a.count("nIn"), rows = a.count("nRows");
  const std::vector<float> x = a.f32("x");
  a.need((int64_t)x.size() == n_in * rows && n_in > 0, "x must hold nRows * nIn values");
  const int64_t nb = (n_in + 31) / 32;
  Dev dx(x), dy((size_t)(rows * nb) * sizeof(block_q8_1));
  cuda::quantize_q8_1(dx.as<float>(), n_in, n_in, rows, dy.as<block_q8_1>(), nullptr);
  cuda::sync_check("quantize_q8_1");
  const std::vector<block_q8_1> g = dy.read<block_q8_1>((size_t)(rows * nb));
  std::vector<block_q8_1> c((size_t)(rows * nb)), ref((size_t)(rows * nb));
  std::vector<float> padded((size_t)(nb * 32));
  for (int64_t r = 0; r < rows; r++) {
    q8_1_cuda_ref(&x[(size_t)(r * n_in)], n_in, &c[(size_t)(r * nb)]);
    std::fill(padded.begin(), padded.end(), 0.0f);
    std::copy(x.begin() + r * n_in, x.begin() + (r + 1) * n_in, padded.begin());
    quantize_q8_1_ref(padded.data(), &ref[(size_t)(r * nb)], nb * 32);
  }
  Napi::Object o = result(env, q8_1_values(g.data(), rows * nb), q8_1_values(c.data(), rows * nb));
  std::vector<float> gs, cs;
  for (int64_t b = 0; b < rows * nb; b++) {
    gs.push_back(fp16_to_fp32(g[(size_t)b].s));
    cs.push_back(fp16_to_fp32(c[(size_t)b].s));
  }
  o.Set("gpuS", f32_out(env, gs));
  o.Set("cpuS", f32_out(env, cs));
  o.Set("ref", f32_out(env, q8_1_values(ref.data(), rows * nb)));
  return o;
}

Napi::Object op_matmul(Napi::Env env, const Args& a) {
  const int64_t n_in = a.count("nIn"), n_tok = a.count("nTok");
  GgmlType t;
  check_weight_type(a, &t, n_in);
  const std::vector<uint8_t> w = a.u8("w");
  const std::vector<float> x = a.f32("x");
  const size_t rb = row_size(t, n_in);
  a.need(w.size() % rb == 0 && !w.empty(), "w must hold whole rows");
  a.need((int64_t)x.size() == n_in * n_tok && n_tok > 0, "x must hold nTok * nIn values");
  const int64_t n_out = (int64_t)(w.size() / rb);
  const std::string kernel = a.str("kernel", n_tok <= cuda::kMaxMatVecCols ? "vec" : "mm");
  a.need(kernel == "vec" || kernel == "mm", "kernel must be 'vec' or 'mm'");
  a.need(kernel == "mm" || n_tok <= cuda::kMaxMatVecCols, "the 'vec' kernel takes at most 8 tokens");
  // GPU
  Dev dw(w), dy((size_t)(n_out * n_tok) * sizeof(float));
  DevActs da(t, x, n_in, n_tok);
  const cuda::DevWeights dwv{t, dw.as<uint8_t>(), n_in, n_out, rb, 0};
  cuda::Columns cols;
  cols.n_cols = n_tok;
  if (kernel == "vec")
    cuda::matvec(dwv, da.xq.as<block_q8_1>(), da.q_stride, da.x.as<float>(), n_in, cols, dy.as<float>(), n_out, nullptr);
  else
    cuda::matmul(dwv, da.xq.as<block_q8_1>(), da.q_stride, da.x.as<float>(), n_in, cols, dy.as<float>(), n_out, nullptr);
  cuda::sync_check(kernel == "vec" ? "matvec" : "matmul");
  // CPU twin: dequantized weights . the activations the GPU reads
  const std::vector<float> wf = dequant_rows(t, w.data(), n_in, n_out), xf = product_acts(t, x, n_in, n_tok);
  std::vector<float> cpu((size_t)(n_out * n_tok));
  for (int64_t tk = 0; tk < n_tok; tk++)
    for (int64_t o = 0; o < n_out; o++)
      cpu[(size_t)(tk * n_out + o)] = (float)dot_d(&wf[(size_t)(o * n_in)], &xf[(size_t)(tk * n_in)], n_in);
  Napi::Object res = result(env, dy.read<float>((size_t)(n_out * n_tok)), cpu);
  // the CPU engine's own product (its activation type)
  ThreadPool pool(1);
  MatmulScratch scratch;
  std::vector<uint8_t> wpad(w);
  wpad.resize(w.size() + 64);
  const WeightView wv{t, n_in, n_out, rb, wpad.data()};
  std::vector<float> path((size_t)(n_out * n_tok));
  llama4::matmul(wv, x.data(), n_in, n_tok, path.data(), n_out, pool, scratch);
  res.Set("cpuPath", f32_out(env, path));
  return res;
}

Napi::Object op_matmul_id(Napi::Env env, const Args& a) {
  const int64_t n_in = a.count("nIn"), n_out = a.count("nOut"), n_expert = a.count("nExpert"), k = a.count("k");
  GgmlType t;
  check_weight_type(a, &t, n_in);
  const std::vector<uint8_t> w = a.u8("w");
  const std::vector<float> x = a.f32("x");
  const std::vector<int32_t> sel = a.i32("sel");
  const size_t rb = row_size(t, n_in);
  a.need(n_out > 0 && n_expert > 0 && k > 0, "nOut, nExpert and k must be positive");
  a.need(w.size() == rb * (size_t)(n_out * n_expert), "w must hold nExpert slabs of nOut rows");
  a.need(x.size() % (size_t)n_in == 0 && !x.empty(), "x must hold whole rows");
  const int64_t n_tok = (int64_t)x.size() / n_in, n_pairs = n_tok * k;
  a.need((int64_t)sel.size() == n_pairs, "sel must hold nTok * k experts");
  for (int32_t e : sel) a.need(e >= -1 && e < n_expert, "sel entries must be -1 or an expert");
  const std::string kernel = a.str("kernel", "mm");
  a.need(kernel == "vec" || kernel == "mm", "kernel must be 'vec' or 'mm'");
  Dev dw(w), dy((size_t)(n_out * n_pairs) * sizeof(float)), dsel(sel);
  cuda::dev_zero(dy.p, dy.bytes);
  DevActs da(t, x, n_in, n_tok);
  const cuda::DevWeights dwv{t, dw.as<uint8_t>(), n_in, n_out, rb, rb * (size_t)n_out};
  if (kernel == "mm") {
    Dev off((size_t)(n_expert + 1) * 4), pairs((size_t)n_pairs * 4), toks((size_t)n_pairs * 4);
    cuda::moe_group(dsel.as<int32_t>(), n_pairs, (int32_t)k, (int32_t)n_expert, off.as<int32_t>(), pairs.as<int32_t>(),
                    toks.as<int32_t>(), nullptr);
    cuda::Columns cols;
    cols.n_cols = n_pairs;
    cols.a_rows = toks.as<int32_t>();
    cols.y_rows = pairs.as<int32_t>();
    cols.expert_offsets = off.as<int32_t>();
    cols.n_expert = (int32_t)n_expert;
    cuda::matmul(dwv, da.xq.as<block_q8_1>(), da.q_stride, da.x.as<float>(), n_in, cols, dy.as<float>(), n_out, nullptr);
    cuda::sync_check("matmul (experts)");
  } else {
    for (int32_t e : sel) a.need(e >= 0, "the 'vec' kernel needs an expert for every pair");
    std::vector<int32_t> tok((size_t)n_pairs);
    for (int64_t i = 0; i < n_pairs; i++) tok[(size_t)i] = (int32_t)(i / k);
    Dev dtok(tok);
    cuda::Columns cols;
    cols.n_cols = n_pairs;
    cols.a_rows = dtok.as<int32_t>();
    cols.expert_ids = dsel.as<int32_t>();
    cuda::matvec(dwv, da.xq.as<block_q8_1>(), da.q_stride, da.x.as<float>(), n_in, cols, dy.as<float>(), n_out, nullptr);
    cuda::sync_check("matvec (experts)");
  }
  const std::vector<float> xf = product_acts(t, x, n_in, n_tok);
  std::vector<float> cpu((size_t)(n_out * n_pairs), 0.0f);
  for (int64_t i = 0; i < n_pairs; i++) {
    if (sel[(size_t)i] < 0) continue;
    const std::vector<float> wf = dequant_rows(t, w.data() + rb * (size_t)n_out * sel[(size_t)i], n_in, n_out);
    for (int64_t o = 0; o < n_out; o++)
      cpu[(size_t)(i * n_out + o)] = (float)dot_d(&wf[(size_t)(o * n_in)], &xf[(size_t)((i / k) * n_in)], n_in);
  }
  return result(env, dy.read<float>((size_t)(n_out * n_pairs)), cpu);
}

Napi::Object op_rms_norm(Napi::Env env, const Args& a) {
  const int64_t n = a.count("n"), rows = a.count("nRows");
  const std::vector<float> x = a.f32("x");
  a.need((int64_t)x.size() == n * rows && n > 0, "x must hold nRows * n values");
  const float eps = (float)a.num("eps", 1e-5);
  std::vector<float> w;
  if (a.has("w")) {
    w = a.f32("w");
    a.need((int64_t)w.size() == n, "w must hold n values");
  }
  Dev dx(x), dw(w);
  cuda::rms_norm(dx.as<float>(), dx.as<float>(), n, rows, eps, w.empty() ? nullptr : dw.as<float>(), nullptr);
  cuda::sync_check("rms_norm");
  std::vector<float> cpu(x.size());
  for (int64_t r = 0; r < rows; r++) rms_norm(&x[(size_t)(r * n)], &cpu[(size_t)(r * n)], n, eps, w.empty() ? nullptr : w.data());
  return result(env, dx.read<float>(x.size()), cpu);
}

Napi::Object op_rope(Napi::Env env, const Args& a) {
  const int64_t n_tok = a.count("nTok"), nh = a.count("nHeads"), hd = a.count("headDim");
  std::vector<float> x = a.f32("x");
  const std::vector<int32_t> pos = a.i32("pos");
  a.need((int64_t)x.size() == n_tok * nh * hd, "x must hold nTok * nHeads * headDim values");
  a.need((int64_t)pos.size() == n_tok, "pos must hold nTok positions");
  cuda::RopeParams p;
  p.rope = a.flag("rope", true);
  p.n_dims = a.has("nDims") ? a.count("nDims") : hd;
  p.freq_base = (float)a.num("freqBase", 10000.0);
  p.freq_scale = (float)a.num("freqScale", 1.0);
  p.temp_floor_scale = (float)a.num("tempFloorScale", 0.0);
  p.temp_scale = (float)a.num("tempScale", 0.0);
  p.temp_offset = (float)a.num("tempOffset", 1.0);
  std::vector<float> ff;
  if (a.has("freqFactors")) {
    ff = a.f32("freqFactors");
    a.need((int64_t)ff.size() == p.n_dims / 2, "freqFactors must hold nDims / 2 values");
  }
  Dev dx(x), dpos(pos), dff(ff);
  p.freq_factors = ff.empty() ? nullptr : dff.as<float>();
  cuda::rope(dx.as<float>(), n_tok, nh, hd, dpos.as<int32_t>(), p, nullptr);
  cuda::sync_check("rope");
  // CPU: Blocks::attention's per-token rope_cache + rope_apply, or the NoPE temperature scale
  std::vector<float> cache((size_t)std::max<int64_t>(p.n_dims, 2));
  for (int64_t t = 0; t < n_tok; t++) {
    float* xt = &x[(size_t)(t * nh * hd)];
    if (p.rope) {
      rope_cache((float)pos[(size_t)t], p.n_dims, p.freq_base, p.freq_scale, ff.empty() ? nullptr : ff.data(), cache.data());
      rope_apply(xt, nh, hd, p.n_dims, cache.data());
    } else if (p.temp_floor_scale > 0) {
      const double scale = std::log(std::floor(((double)pos[(size_t)t] + 1.0) / (double)p.temp_floor_scale) + 1.0) *
                               p.temp_scale + p.temp_offset;
      vec_scale(xt, (float)scale, nh * hd);
    }
  }
  return result(env, dx.read<float>(x.size()), x);
}

Napi::Object op_swiglu(Napi::Env env, const Args& a) {
  const std::vector<float> g = a.f32("gate"), u = a.f32("up");
  a.need(g.size() == u.size(), "gate and up must have the same length");
  Dev dg(g), du(u), dout(g.size() * sizeof(float));
  cuda::swiglu(dg.as<float>(), du.as<float>(), dout.as<float>(), (int64_t)g.size(), nullptr);
  cuda::sync_check("swiglu");
  std::vector<float> cpu(g.size());
  swiglu(g.data(), u.data(), cpu.data(), (int64_t)g.size());
  return result(env, dout.read<float>(g.size()), cpu);
}

Napi::Object op_add(Napi::Env env, const Args& a) {
  std::vector<float> x = a.f32("a");
  const std::vector<float> y = a.f32("b");
  a.need(x.size() == y.size(), "a and b must have the same length");
  Dev da(x), db(y);
  cuda::add(da.as<float>(), db.as<float>(), da.as<float>(), (int64_t)x.size(), nullptr);
  cuda::sync_check("add");
  const std::vector<float> gpu = da.read<float>(x.size());
  vec_add(x.data(), y.data(), (int64_t)x.size());
  return result(env, gpu, x);
}

Napi::Object op_get_rows(Napi::Env env, const Args& a) {
  const int64_t n_cols = a.count("nCols");
  const double id = a.num("type");
  a.need(id >= 0 && id < kGgmlTypeCount && type_id_known((uint32_t)id), "unknown type id");
  const GgmlType t = (GgmlType)(uint32_t)id;
  a.need(cuda::has_matmul(t) && type_traits(t).to_float, "no CUDA dequantizer for this type");
  a.need(n_cols > 0 && n_cols % type_traits(t).blck_size == 0 && (type_traits(t).blck_size == 1 || n_cols % 32 == 0),
         "nCols must be whole blocks");
  const std::vector<uint8_t> table = a.u8("table");
  const std::vector<int32_t> ids = a.i32("ids");
  const size_t rb = row_size(t, n_cols);
  a.need(table.size() % rb == 0 && !table.empty(), "table must hold whole rows");
  const int64_t n_rows = (int64_t)(table.size() / rb);
  for (int32_t i : ids) a.need(i >= 0 && i < n_rows, "ids must be rows of the table");
  Dev dt(table), di(ids), dy(ids.size() * (size_t)n_cols * sizeof(float));
  cuda::get_rows(t, dt.as<uint8_t>(), rb, n_cols, n_rows, di.as<int32_t>(), (int64_t)ids.size(), dy.as<float>(), nullptr);
  cuda::sync_check("get_rows");
  std::vector<float> cpu(ids.size() * (size_t)n_cols);
  for (size_t r = 0; r < ids.size(); r++) type_traits(t).to_float(table.data() + rb * ids[r], &cpu[r * n_cols], n_cols);
  return result(env, dy.read<float>(cpu.size()), cpu);
}

Napi::Object op_copy_rows(Napi::Env env, const Args& a) {
  const int64_t n = a.count("n");
  const std::vector<float> src = a.f32("src");
  const std::vector<int32_t> rows = a.i32("rows");
  a.need(n > 0 && src.size() % (size_t)n == 0, "src must hold whole rows of n");
  for (int32_t r : rows) a.need(r >= 0 && (size_t)r < src.size() / n, "rows must be rows of src");
  Dev ds(src), dr(rows), dd(rows.size() * (size_t)n * sizeof(float));
  cuda::copy_rows(ds.as<float>(), dr.as<int32_t>(), (int64_t)rows.size(), n, dd.as<float>(), nullptr);
  cuda::sync_check("copy_rows");
  std::vector<float> cpu;
  for (int32_t r : rows) cpu.insert(cpu.end(), src.begin() + r * n, src.begin() + (r + 1) * n);
  return result(env, dd.read<float>(cpu.size()), cpu);
}

cuda::AttnShape attn_shape(const Args& a) {
  cuda::AttnShape s;
  s.n_head_kv = a.count("nHeadKv");
  s.n_head = a.has("nHead") ? a.count("nHead") : s.n_head_kv;  // kv_append needs no query heads
  s.hd = a.count("hd");
  s.hdv = a.has("hdv") ? a.count("hdv") : s.hd;
  s.n_cells = a.count("nCells");
  s.chunk = a.has("chunk") ? a.count("chunk") : 0;
  s.scale = (float)a.num("scale", 1.0 / std::sqrt((double)s.hd));
  a.need(s.n_head_kv > 0 && s.n_head % s.n_head_kv == 0, "nHead must be a multiple of nHeadKv");
  return s;
}

Napi::Object op_kv_append(Napi::Env env, const Args& a) {
  const cuda::AttnShape s = attn_shape(a);
  const std::vector<float> k = a.f32("k"), v = a.f32("v");
  const std::vector<int32_t> pos = a.i32("pos");
  const int64_t n_tok = (int64_t)pos.size(), nk = s.n_head_kv * s.hd, nv = s.n_head_kv * s.hdv;
  a.need((int64_t)k.size() == n_tok * nk && (int64_t)v.size() == n_tok * nv, "k / v must hold one row per position");
  for (int32_t p : pos) a.need(p >= 0 && p < s.n_cells, "positions must be cells of the cache");
  Dev dk(k), dv(v), dp(pos), kc((size_t)(s.n_cells * nk) * 2), vc((size_t)(s.n_cells * nv) * 2);
  cuda::dev_zero(kc.p, kc.bytes);
  cuda::dev_zero(vc.p, vc.bytes);
  cuda::kv_append(dk.as<float>(), dv.as<float>(), dp.as<int32_t>(), n_tok, s, kc.as<uint16_t>(), vc.as<uint16_t>(), nullptr);
  cuda::sync_check("kv_append");
  std::vector<uint16_t> gk = kc.read<uint16_t>((size_t)(s.n_cells * nk)), gv = vc.read<uint16_t>((size_t)(s.n_cells * nv));
  std::vector<uint16_t> ck(gk.size(), 0), cv(gv.size(), 0);
  for (int64_t t = 0; t < n_tok; t++) {
    for (int64_t e = 0; e < nk; e++) ck[(size_t)(pos[(size_t)t] * nk + e)] = fp32_to_fp16(k[(size_t)(t * nk + e)]);
    for (int64_t e = 0; e < nv; e++) cv[(size_t)(pos[(size_t)t] * nv + e)] = fp32_to_fp16(v[(size_t)(t * nv + e)]);
  }
  std::vector<float> gpu, cpu;
  for (uint16_t h : gk) gpu.push_back(fp16_to_fp32(h));
  for (uint16_t h : gv) gpu.push_back(fp16_to_fp32(h));
  for (uint16_t h : ck) cpu.push_back(fp16_to_fp32(h));
  for (uint16_t h : cv) cpu.push_back(fp16_to_fp32(h));
  return result(env, gpu, cpu);
}

Napi::Object op_attention(Napi::Env env, const Args& a, bool decode) {
  const cuda::AttnShape s = attn_shape(a);
  const std::vector<float> q = a.f32("q");
  const std::vector<int32_t> pos = a.i32("pos");
  const std::vector<uint16_t> kc = a.u16("kCache"), vc = a.u16("vCache");
  const int64_t n_tok = (int64_t)pos.size();
  a.need(n_tok > 0 && (int64_t)q.size() == n_tok * s.n_head * s.hd, "q must hold nHead * hd values per position");
  a.need((int64_t)kc.size() == s.n_cells * s.n_head_kv * s.hd && (int64_t)vc.size() == s.n_cells * s.n_head_kv * s.hdv,
         "kCache / vCache must hold nCells rows");
  for (int32_t p : pos) a.need(p >= 0 && p < s.n_cells, "positions must be cells of the cache");
  Dev dq(q), dp(pos), dk(kc), dv(vc), dout((size_t)(n_tok * s.n_head * s.hdv) * sizeof(float));
  if (decode) {
    Dev scratch(cuda::decode_scratch_floats(n_tok, s) * sizeof(float));
    cuda::attn_decode(dq.as<float>(), dp.as<int32_t>(), n_tok, s, dk.as<uint16_t>(), dv.as<uint16_t>(), scratch.as<float>(),
                      dout.as<float>(), nullptr);
    cuda::sync_check("attn_decode");
  } else {
    cuda::attn_prompt(dq.as<float>(), dp.as<int32_t>(), n_tok, s, dk.as<uint16_t>(), dv.as<uint16_t>(), dout.as<float>(), nullptr);
    cuda::sync_check("attn_prompt");
  }
  // CPU: the engine's attention state over the visible cells (attn_partial, one query head at a time, the
  // query rounded to f16 as Blocks::attend does for an f16 cache), normalised
  std::vector<float> cpu((size_t)(n_tok * s.n_head * s.hdv));
  const int64_t gqa = s.n_head / s.n_head_kv;
  const size_t k_stride = (size_t)(s.n_head_kv * s.hd) * 2, v_stride = (size_t)(s.n_head_kv * s.hdv) * 2;
  std::vector<float> qv((size_t)s.hd), acc((size_t)s.hdv), scratch;
  for (int64_t t = 0; t < n_tok; t++) {
    const int64_t p = pos[(size_t)t], lo = s.chunk ? (p / s.chunk) * s.chunk : 0, n = p + 1 - lo;
    scratch.resize((size_t)(n + 8 * s.hd));
    for (int64_t h = 0; h < s.n_head; h++) {
      const int64_t kvh = h / gqa;
      round_to_f16(&q[(size_t)((t * s.n_head + h) * s.hd)], 1.0f, qv.data(), s.hd);
      float m = 0, l = 0;
      attn_partial(qv.data(), 1, s.hd, (const uint8_t*)&kc[(size_t)((lo * s.n_head_kv + kvh) * s.hd)], k_stride, true,
                   (const uint8_t*)&vc[(size_t)((lo * s.n_head_kv + kvh) * s.hdv)], v_stride, true, s.hdv, n, s.scale, &m, &l,
                   acc.data(), scratch.data());
      for (int64_t d = 0; d < s.hdv; d++) cpu[(size_t)((t * s.n_head + h) * s.hdv + d)] = acc[(size_t)d] / l;
    }
  }
  return result(env, dout.read<float>(cpu.size()), cpu);
}

// The CPU router of Blocks::moe_softmax / moe_sigmoid_shared for one token.
void cpu_router(const float* lg, int64_t X, int64_t K, bool softmax, bool shared_only, int32_t* sel, float* w) {
  std::vector<float> v(lg, lg + X);
  if (softmax) {
    const float mx = *std::max_element(lg, lg + X);
    const double sum = soft_max_exp(lg, v.data(), X, mx);
    const float inv = (float)(1.0 / sum);
    for (auto& p : v) p *= inv;
  }
  std::vector<int32_t> idx((size_t)X);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + K, idx.end(),
                    [&](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  float wsum = 0.0f;
  for (int64_t j = 0; j < K; j++) {
    sel[j] = idx[(size_t)j];
    w[j] = softmax ? v[(size_t)sel[j]] : sigmoidf(lg[sel[j]]);
    wsum += w[j];
  }
  if (softmax) {
    wsum = std::max(wsum, 6.103515625e-5f);
    for (int64_t j = 0; j < K; j++) w[j] /= wsum;
  }
  if (shared_only)
    for (int64_t j = 0; j < K; j++) sel[j] = -1;
}

Napi::Object op_moe_topk(Napi::Env env, const Args& a) {
  const int64_t n_tok = a.count("nTok"), X = a.count("nExpert"), K = a.count("k");
  const std::vector<float> lg = a.f32("logits");
  const std::string mode = a.str("mode", "softmax");
  a.need(mode == "softmax" || mode == "sigmoid", "mode must be 'softmax' or 'sigmoid'");
  a.need((int64_t)lg.size() == n_tok * X && K > 0 && K <= X, "logits must hold nTok * nExpert values, 0 < k <= nExpert");
  std::vector<uint8_t> so;
  if (a.has("sharedOnly")) {
    so = a.u8("sharedOnly");
    a.need((int64_t)so.size() == n_tok, "sharedOnly must hold nTok flags");
  }
  Dev dl(lg), dso(so), dsel((size_t)(n_tok * K) * 4), dw((size_t)(n_tok * K) * 4);
  if (mode == "softmax")
    cuda::moe_topk_softmax(dl.as<float>(), n_tok, (int32_t)X, (int32_t)K, dsel.as<int32_t>(), dw.as<float>(), nullptr);
  else
    cuda::moe_topk_sigmoid(dl.as<float>(), n_tok, (int32_t)X, (int32_t)K, so.empty() ? nullptr : dso.as<uint8_t>(),
                           dsel.as<int32_t>(), dw.as<float>(), nullptr);
  cuda::sync_check("moe_topk");
  std::vector<int32_t> csel((size_t)(n_tok * K));
  std::vector<float> cw((size_t)(n_tok * K));
  for (int64_t t = 0; t < n_tok; t++)
    cpu_router(&lg[(size_t)(t * X)], X, K, mode == "softmax", !so.empty() && so[(size_t)t], &csel[(size_t)(t * K)],
               &cw[(size_t)(t * K)]);
  Napi::Object o = result(env, dw.read<float>(cw.size()), cw);
  o.Set("gpuSel", i32_out(env, dsel.read<int32_t>(csel.size())));
  o.Set("cpuSel", i32_out(env, csel));
  return o;
}

Napi::Object op_moe_group(Napi::Env env, const Args& a) {
  const std::vector<int32_t> sel = a.i32("sel");
  const int64_t k = a.count("k"), X = a.count("nExpert"), n_pairs = (int64_t)sel.size();
  a.need(k > 0 && X > 0, "k and nExpert must be positive");
  for (int32_t e : sel) a.need(e >= -1 && e < X, "sel entries must be -1 or an expert");
  Dev dsel(sel), off((size_t)(X + 1) * 4), pairs((size_t)std::max<int64_t>(n_pairs, 1) * 4), toks((size_t)std::max<int64_t>(n_pairs, 1) * 4);
  cuda::moe_group(dsel.as<int32_t>(), n_pairs, (int32_t)k, (int32_t)X, off.as<int32_t>(), pairs.as<int32_t>(),
                  toks.as<int32_t>(), nullptr);
  cuda::sync_check("moe_group");
  std::vector<int32_t> g = off.read<int32_t>((size_t)(X + 1));
  const int32_t n_routed = g.back();
  a.need(n_routed >= 0 && n_routed <= n_pairs, "moe_group: the GPU's offsets are out of range");
  const std::vector<int32_t> gp = pairs.read<int32_t>((size_t)n_routed), gt = toks.read<int32_t>((size_t)n_routed);
  g.insert(g.end(), gp.begin(), gp.end());
  g.insert(g.end(), gt.begin(), gt.end());
  // CPU: run_experts' groups (pairs ascending within each expert)
  std::vector<std::vector<int32_t>> groups((size_t)X);
  for (int64_t i = 0; i < n_pairs; i++)
    if (sel[(size_t)i] >= 0) groups[(size_t)sel[(size_t)i]].push_back((int32_t)i);
  std::vector<int32_t> c(1, 0), cp, ct;
  for (const auto& gr : groups) {
    c.push_back(c.back() + (int32_t)gr.size());
    for (int32_t i : gr) {
      cp.push_back(i);
      ct.push_back((int32_t)(i / k));
    }
  }
  c.insert(c.end(), cp.begin(), cp.end());
  c.insert(c.end(), ct.begin(), ct.end());
  Napi::Object o = result(env, as_floats(g), as_floats(c));
  o.Set("gpuInt", i32_out(env, g));
  o.Set("cpuInt", i32_out(env, c));
  return o;
}

Napi::Object op_moe_scale(Napi::Env env, const Args& a) {
  const std::vector<float> x = a.f32("x"), w = a.f32("w");
  const int64_t k = a.count("k"), n = a.count("n"), n_pairs = (int64_t)w.size();
  a.need(k > 0 && n > 0 && (int64_t)x.size() == (n_pairs / k) * n && n_pairs % k == 0, "x must hold nTok rows, w nTok * k");
  Dev dx(x), dw(w), dy((size_t)(n_pairs * n) * 4);
  cuda::moe_scale_inputs(dx.as<float>(), dw.as<float>(), n_pairs, (int32_t)k, n, dy.as<float>(), nullptr);
  cuda::sync_check("moe_scale_inputs");
  std::vector<float> cpu((size_t)(n_pairs * n));
  for (int64_t i = 0; i < n_pairs; i++)
    for (int64_t d = 0; d < n; d++) cpu[(size_t)(i * n + d)] = x[(size_t)((i / k) * n + d)] * w[(size_t)i];
  return result(env, dy.read<float>(cpu.size()), cpu);
}

Napi::Object op_moe_combine(Napi::Env env, const Args& a) {
  const std::vector<float> y = a.f32("y");
  const int64_t n_tok = a.count("nTok"), k = a.count("k"), n = a.count("n");
  a.need((int64_t)y.size() == n_tok * k * n, "y must hold nTok * k rows of n");
  std::vector<float> w;
  std::vector<int32_t> sel;
  if (a.has("w")) w = a.f32("w");
  if (a.has("sel")) sel = a.i32("sel");
  a.need(w.empty() || (int64_t)w.size() == n_tok * k, "w must hold nTok * k weights");
  a.need(sel.empty() || (int64_t)sel.size() == n_tok * k, "sel must hold nTok * k experts");
  Dev dy(y), dw(w), ds(sel), dout((size_t)(n_tok * n) * 4);
  cuda::moe_combine(dy.as<float>(), w.empty() ? nullptr : dw.as<float>(), sel.empty() ? nullptr : ds.as<int32_t>(), n_tok,
                    (int32_t)k, n, dout.as<float>(), nullptr);
  cuda::sync_check("moe_combine");
  // CPU: moe_softmax's weighted sum (o_0 w_0, then += o_j w_j), or moe_sigmoid_shared's vec_add of the slots
  std::vector<float> cpu((size_t)(n_tok * n), 0.0f);
  for (int64_t t = 0; t < n_tok; t++) {
    float* acc = &cpu[(size_t)(t * n)];
    bool first = true;
    for (int64_t j = 0; j < k; j++) {
      const int64_t i = t * k + j;
      if (!sel.empty() && sel[(size_t)i] < 0) continue;
      const float* o = &y[(size_t)(i * n)];
      for (int64_t d = 0; d < n; d++) {
        const float v = w.empty() ? o[d] : o[d] * w[(size_t)i];
        acc[d] = first ? v : acc[d] + v;
      }
      first = false;
    }
  }
  return result(env, dout.read<float>(cpu.size()), cpu);
}

Napi::Object op_depth_gate(Napi::Env env, const Args& a) {
  const int64_t n_tok = a.count("nTok"), E = a.count("nEmbd");
  const std::vector<float> xn = a.f32("xn"), w = a.f32("w");
  a.need((int64_t)xn.size() == n_tok * E && (int64_t)w.size() == E, "xn must hold nTok rows of nEmbd, w nEmbd");
  const float b = (float)a.num("b", 0.0), tau = (float)a.num("tau", 0.5), stau = (float)a.num("sharedTau", -1.0);
  Dev dx(xn), dw(w), dp((size_t)n_tok * 4), dv((size_t)std::max<int64_t>(n_tok, 1));
  cuda::depth_gate(dx.as<float>(), n_tok, E, dw.as<float>(), b, tau, stau, dp.as<float>(), dv.as<uint8_t>(), nullptr);
  cuda::sync_check("depth_gate");
  DepthGateLayer g;
  g.present = true;
  g.w = w;
  g.b = b;
  DepthPolicy pol;
  pol.shared_threshold = stau;
  std::vector<float> cp((size_t)n_tok);
  std::vector<uint8_t> cv((size_t)n_tok);
  for (int64_t t = 0; t < n_tok; t++) {
    cp[(size_t)t] = depth_gate_prob(g, &xn[(size_t)(t * E)], E);
    const GateVerdict v = gate_verdict(cp[(size_t)t], tau, pol, true);
    cv[(size_t)t] = v == GateVerdict::Run ? 2 : v == GateVerdict::SharedOnly ? 1 : 0;
  }
  Napi::Object o = result(env, dp.read<float>((size_t)n_tok), cp);
  o.Set("gpuVerdict", u8_out(env, dv.read<uint8_t>((size_t)n_tok)));
  o.Set("cpuVerdict", u8_out(env, cv));
  return o;
}

Napi::Object op_compact(Napi::Env env, const Args& a) {
  const std::vector<uint8_t> flags = a.u8("flags");
  const double mf = a.num("minFlag", 1);
  a.need(mf >= 0 && mf <= 255, "minFlag must be a byte");
  const int64_t n = (int64_t)flags.size();
  Dev df(flags), di((size_t)std::max<int64_t>(n, 1) * 4), dc(4);
  cuda::compact(df.as<uint8_t>(), n, (uint8_t)mf, di.as<int32_t>(), dc.as<int32_t>(), nullptr);
  cuda::sync_check("compact");
  const int32_t count = dc.read<int32_t>(1)[0];
  a.need(count >= 0 && count <= n, "compact: the GPU's count is out of range");
  std::vector<int32_t> cpu;
  for (int64_t i = 0; i < n; i++)
    if (flags[(size_t)i] >= (uint8_t)mf) cpu.push_back((int32_t)i);
  Napi::Object o = result(env, as_floats(di.read<int32_t>((size_t)count)), as_floats(cpu));
  o.Set("gpuCount", count);
  o.Set("cpuCount", (int32_t)cpu.size());
  return o;
}

// No device needed: the kernels' weight decoding compiled for the host (host_groups.cu) against the CPU
// reference dequantizer, and its Q8_1 dot product against the double sum of the dequantized values.
Napi::Object op_group_values(Napi::Env env, const Args& a) {
  const double id = a.num("type");
  a.need(id >= 0 && id < kGgmlTypeCount && type_id_known((uint32_t)id), "unknown type id");
  const GgmlType t = (GgmlType)(uint32_t)id;
  const std::vector<uint8_t> w = a.u8("w");
  const std::vector<float> x = a.f32("x");
  const int64_t n = (int64_t)x.size();
  a.need(type_traits(t).is_quantized && type_traits(t).to_float, "a quantized type with a dequantizer");
  a.need(n > 0 && n % type_traits(t).blck_size == 0 && w.size() == row_size(t, n), "w must be one row of x.length values");
  std::vector<float> got((size_t)n), want((size_t)n);
  if (!cuda::host_group_values(t, w.data(), n, got.data()))
    LLAMA4_THROW("cudaTwin group_values: no CUDA kernels for %s", type_name(t));
  type_traits(t).to_float(w.data(), want.data(), n);
  std::vector<block_q8_1> q((size_t)(n / 32));
  q8_1_cuda_ref(x.data(), n, q.data());
  double dot = 0;
  cuda::host_group_dot(t, w.data(), q.data(), n, &dot);
  const std::vector<float> xa = q8_1_values(q.data(), n / 32);
  Napi::Object o = result(env, got, want);
  o.Set("gpuDot", dot);
  o.Set("cpuDot", dot_d(want.data(), xa.data(), n));
  return o;
}

const std::vector<std::pair<std::string, OpFn>>& ops() {
  static const std::vector<std::pair<std::string, OpFn>> k = {
      {"quantize_q8_1", op_quantize},
      {"matmul", op_matmul},
      {"matmul_id", op_matmul_id},
      {"rms_norm", op_rms_norm},
      {"rope", op_rope},
      {"swiglu", op_swiglu},
      {"add", op_add},
      {"get_rows", op_get_rows},
      {"copy_rows", op_copy_rows},
      {"kv_append", op_kv_append},
      {"attn_decode", [](Napi::Env e, const Args& a) { return op_attention(e, a, true); }},
      {"attn_prompt", [](Napi::Env e, const Args& a) { return op_attention(e, a, false); }},
      {"moe_topk", op_moe_topk},
      {"moe_group", op_moe_group},
      {"moe_scale", op_moe_scale},
      {"moe_combine", op_moe_combine},
      {"depth_gate", op_depth_gate},
      {"compact", op_compact},
  };
  return k;
}

#endif  // LLAMA4_WITH_CUDA

Napi::Value cuda_twin(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
#ifndef LLAMA4_WITH_CUDA
    LLAMA4_THROW("CUDA backend not compiled into this addon (LLAMA4_CUDA=OFF or no CUDA toolkit at build time)");
#else
    if (!info[0].IsString()) LLAMA4_THROW("cudaTwin: op must be a string");
    if (!info[1].IsObject()) LLAMA4_THROW("cudaTwin: args must be an object");
    const std::string op = info[0].As<Napi::String>().Utf8Value();
    if (op == "group_values") return op_group_values(info.Env(), Args{info[1].As<Napi::Object>(), "group_values"});
    std::string why;
    const int n = cuda_device_count(&why);
    if (n <= 0) LLAMA4_THROW("no CUDA device: %s", n == 0 ? "cudaGetDeviceCount found none" : why.c_str());
    for (const auto& [name, fn] : ops())
      if (name == op) return fn(info.Env(), Args{info[1].As<Napi::Object>(), name.c_str()});
    std::string names;
    for (const auto& [name, fn] : ops()) names += (names.empty() ? "" : ", ") + name;
    LLAMA4_THROW("cudaTwin: unknown op '%s' (%s)", op.c_str(), names.c_str());
#endif
  });
}

}  // namespace

void init_cuda_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaTwin", Napi::Function::New(env, cuda_twin, "cudaTwin"));
}

}  // namespace llama4
