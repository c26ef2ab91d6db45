// Every CUDA kernel (native/src/ops/cuda) against its CPU twin on seeded random inputs (addon cudaTwin), on
// sizes that are not multiples of the block, warp or tile sizes: odd row and token counts (1, 3, 7, 13, 37),
// odd context lengths (1, 37, 300, 1000), GQA groups of 2 and 4, Llama 4's chunked mask. Each case states its
// tolerance next to it. Without a CUDA device the GPU cases skip, saying so in the output; what needs no
// device (the error a caller gets, the kernels' weight decoding compiled for the host) always runs.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addon, type CudaTwinOp, type CudaTwinResult } from '../../src/native/addon.js';
import { mulberry32 } from '../../src/sampling/rng.js';

const a = addon();
const cudaInfo = a.systemInfo().backends.find((b) => b.name === 'cuda');

// Whether a device runs the kernels: the cheapest op, and the reason when it does not.
let gpu = false;
let reason = '';
try {
  a.cudaTwin('add', { a: new Float32Array(1), b: new Float32Array(1) });
  gpu = true;
} catch (e) {
  reason = (e as Error).message;
}
if (!gpu) console.log(`GPU twin tests skipped: no CUDA device (${reason})`);

const rnd = mulberry32(20261208);
const int = (n: number) => Math.floor(rnd() * n);
function gaussians(n: number, scale = 1, outliers = true): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(Math.max(rnd(), 1e-12))) * Math.cos(2 * Math.PI * rnd());
  if (outliers) for (let k = 0; k < Math.max(1, n >> 7); k++) out[int(n)] *= 8; // a few, as activations have
  return out;
}

// The weight types with CUDA kernels, from the addon's type table; for the quantized ones, the offsets of their
// f16 scale fields (given moderate random values so products stay finite; the other bytes are random) and
// whether the first may be negative.
const SCALES: Record<string, [number[], boolean]> = {
  Q4_0: [[0], true], Q4_1: [[0, 2], false], Q5_0: [[0], true], Q5_1: [[0, 2], false], Q8_0: [[0], true],
  Q2_K: [[80, 82], false], Q3_K: [[108], true], Q4_K: [[0, 2], false], Q5_K: [[0, 2], false], Q6_K: [[208], true],
  IQ4_NL: [[0], true], IQ4_XS: [[0], true], F32: [[], false], F16: [[], false], BF16: [[], false],
};
interface WType { name: string; id: number; block: number; size: number; f16: number[]; signedD: boolean }
const TYPES: WType[] = a
  .typeTable()
  .filter((r) => r.name in SCALES)
  .map((r) => ({ name: r.name, id: r.id, block: r.blockSize, size: r.typeSize, f16: SCALES[r.name][0], signedD: SCALES[r.name][1] }));
const QUANT = TYPES.filter((t) => t.block > 1);

function weights(t: WType, n: number, rows: number): Uint8Array {
  if (t.block === 1) return a.quantize(t.id, gaussians(n * rows, 0.05));
  const nb = (n / t.block) * rows;
  const w = new Uint8Array(nb * t.size);
  for (let i = 0; i < w.length; i++) w[i] = int(256);
  for (let b = 0; b < nb; b++)
    t.f16.forEach((off, k) => {
      const signed = k === 0 ? t.signedD : t.name === 'Q4_1' || t.name === 'Q5_1';
      const h = (signed && rnd() < 0.5 ? 0x8000 : 0) | ((5 + int(4)) << 10) | int(1024);
      w[b * t.size + off] = h & 0xff;
      w[b * t.size + off + 1] = h >> 8;
    });
  return w;
}

/** an n_in that is an odd multiple of the block size (float types: not a multiple of 32 either) */
const nInOf = (t: WType) => (t.block === 1 ? 100 : t.block === 32 ? 32 * 7 : 256 * 3);
const f16Of = (v: Float32Array) => new Uint16Array(a.quantize(1, v).slice().buffer);

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}
function maxDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (Number.isNaN(d)) return Infinity;
    m = Math.max(m, d);
  }
  return m;
}
/** max |gpu - cpu| / max |cpu| */
const relErr = (g: ArrayLike<number>, c: ArrayLike<number>) => maxDiff(g, c) / Math.max(maxAbs(c), 1e-30);
function twin(op: CudaTwinOp, args: Record<string, unknown>): CudaTwinResult {
  return a.cudaTwin(op, args);
}
function expectClose(r: CudaTwinResult, tol: number, what: string) {
  const e = relErr(r.gpu, r.cpu);
  expect(e, `${what}: max|gpu-cpu|/max|cpu| = ${e.toExponential(2)} > ${tol}`).toBeLessThanOrEqual(tol);
}
function expectSame(x: ArrayLike<number>, y: ArrayLike<number>, what: string) {
  expect(maxDiff(x, y), what).toBe(0);
}

describe('CUDA backend: build and errors (no device needed)', () => {
  it('the addon reports the CUDA backend compiled when the build found nvcc', () => {
    expect(cudaInfo).toBeDefined();
    // the cache of the build the loaded addon came from (LLAMA4_ADDON: e.g. the sanitizer's build-asan/, CUDA off)
    const addonPath = process.env.LLAMA4_ADDON;
    const cache = addonPath ? join(dirname(dirname(addonPath)), 'CMakeCache.txt') : 'build/CMakeCache.txt';
    if (existsSync(cache)) {
      const text = readFileSync(cache, 'utf8');
      const nvcc = /^CMAKE_CUDA_COMPILER:[A-Z]+=(.+)$/m.exec(text)?.[1];
      const off = /^LLAMA4_CUDA:[A-Z]+=OFF$/m.test(text);
      if (nvcc && !nvcc.endsWith('NOTFOUND') && !off) {
        expect(cudaInfo!.compiled).toBe(true);
        expect(cudaInfo!.archs).toMatch(/^[\w,;.-]+$/);
      }
    }
    if (cudaInfo!.available) expect(cudaInfo!.compiled).toBe(true);
  });

  it('cudaTwin without a device (or without a CUDA build) throws a clear error', () => {
    if (gpu) return; // the device is there: the GPU cases below run instead
    expect(() => a.cudaTwin('add', { a: new Float32Array(1), b: new Float32Array(1) })).toThrow(
      cudaInfo!.compiled ? /^no CUDA device/ : /^CUDA backend not compiled/,
    );
    expect(() => a.cudaTwin('matmul', {})).toThrow(/^(no CUDA device|CUDA backend not compiled)/);
  });

  // The weight decoding every product and get_rows kernel uses (common.cuh), compiled for the host:
  // bit-identical to the CPU reference dequantizer; its Q8_1 dot product within float rounding of the double sum.
  it.runIf(cudaInfo?.compiled)('the kernels\' weight decoding = the reference dequantizer, every quantized type', () => {
    for (const t of QUANT) {
      const n = nInOf(t);
      for (let rep = 0; rep < 4; rep++) {
        const r = twin('group_values', { type: t.id, w: weights(t, n, 1), x: gaussians(n) });
        expectSame(r.gpu, r.cpu, `${t.name} values`);
        const g = r.gpuDot as number, c = r.cpuDot as number;
        // tolerance: 1e-5 of the sum of |terms| bound, here of max(|dot|, 1) * n-scale
        expect(Math.abs(g - c), `${t.name} dot ${g} vs ${c}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(c)) * Math.sqrt(n));
      }
    }
  });
});

describe.skipIf(!gpu)('CUDA kernels = their CPU twins', () => {
  it('quantize_q8_1: d*q identical to the host twin of llama.cpp\'s CUDA quantizer; within one step of the CPU engine\'s', () => {
    for (const nIn of [32, 100, 224, 4096 + 17]) {
      for (const nRows of [1, 3, 7]) {
        const x = gaussians(nIn * nRows);
        const r = twin('quantize_q8_1', { x, nIn, nRows });
        expectSame(r.gpu, r.cpu, `q8_1 ${nIn}x${nRows}`); // tolerance 0: same division and roundf
        // block sums (f16): summation order differs; tolerance 2 f16 ulps of the value plus float noise
        const gs = r.gpuS as Float32Array, cs = r.cpuS as Float32Array;
        for (let b = 0; b < cs.length; b++) expect(Math.abs(gs[b] - cs[b])).toBeLessThanOrEqual(2 ** -10 * Math.abs(cs[b]) + 1e-4);
        // the CPU engine's quantize_q8_1_ref (x * (1/d)): at most one quantization step (d = amax/127) apart
        const ref = r.ref as Float32Array;
        for (let b = 0; b < ref.length / 32; b++) {
          const step = (maxAbs(r.cpu.subarray(b * 32, b * 32 + 32)) / 127) * 1.001 + 1e-12;
          expect(maxDiff(r.gpu.subarray(b * 32, b * 32 + 32), ref.subarray(b * 32, b * 32 + 32))).toBeLessThanOrEqual(step);
        }
      }
    }
  });

  // Products: against the double-precision sum of the dequantized weights times the activations the GPU
  // reads (Q8_1 for quantized weights): tolerance 1e-4 (quantized) / 1e-5 (float) relative to max|y|, with and
  // without outliers in x. Against the CPU engine's own matmul (Q8_0 / Q8_K / F16 / BF16 activations: another
  // rounding of x, ~1% of max|y| for gaussian x without outliers): 5e-2 (a wrong layout is off by ~100%).
  const pathTol = (t: WType) => (t.name === 'F32' ? 1e-5 : t.name === 'F16' ? 1e-2 : 5e-2);
  const twinTol = (t: WType) => (t.block === 1 ? 1e-5 : 1e-4);
  function products(kernel: 'vec' | 'mm', shapes: number[][]) {
    for (const t of TYPES) {
      const nIn = nInOf(t);
      for (const [nOut, nTok] of shapes) {
        const w = weights(t, nIn, nOut);
        for (const outliers of [true, false]) {
          const r = twin('matmul', { type: t.id, w, x: gaussians(nIn * nTok, 1, outliers), nIn, nTok, kernel });
          expectClose(r, twinTol(t), `${t.name} ${kernel} ${nOut}x${nTok}`);
          if (!outliers) {
            const e = relErr(r.gpu, r.cpuPath as Float32Array);
            expect(e, `${t.name} ${kernel} ${nOut}x${nTok} vs the CPU path: ${e.toExponential(2)}`).toBeLessThanOrEqual(pathTol(t));
          }
        }
      }
    }
  }

  it('matmul, decode (mat-vec, 1..8 tokens): every type', () => products('vec', [[1, 1], [37, 3], [37, 7], [130, 8]]));
  it('matmul, prompt (tiled): every type', () => products('mm', [[1, 1], [37, 13], [70, 37], [33, 64]]));

  it('grouped expert products (mul_mat_id): every type, tiled with compact groups and per-pair mat-vec', () => {
    for (const t of TYPES) {
      const nIn = nInOf(t), nOut = 37, nExpert = 5, k = 2;
      const w = weights(t, nIn, nOut * nExpert);
      for (const nTok of [1, 7, 13]) {
        const x = gaussians(nIn * nTok);
        const sel = Int32Array.from({ length: nTok * k }, () => int(nExpert));
        const vec = twin('matmul_id', { type: t.id, w, x, nIn, nOut, nExpert, sel, k, kernel: 'vec' });
        expectClose(vec, twinTol(t), `${t.name} matvec_id nTok=${nTok}`);
        if (nTok > 1) sel[1] = -1; // a pair with no routed expert (shared expert only): its row stays 0
        const mm = twin('matmul_id', { type: t.id, w, x, nIn, nOut, nExpert, sel, k, kernel: 'mm' });
        expectClose(mm, twinTol(t), `${t.name} matmul_id nTok=${nTok}`);
      }
    }
  });

  it('rms_norm with and without weights (f32 sum vs the CPU\'s double: 1e-5)', () => {
    for (const n of [1, 7, 100, 4097])
      for (const nRows of [1, 3]) {
        const x = gaussians(n * nRows);
        expectClose(twin('rms_norm', { x, n, nRows, eps: 1e-5 }), 1e-5, `rms_norm ${n}`);
        expectClose(twin('rms_norm', { x, n, nRows, eps: 1e-6, w: gaussians(n) }), 1e-5, `rms_norm w ${n}`);
      }
  });

  it('rope: freq factors, partial rotation, NoPE pass-through and temperature (sin/cos ulps: 1e-5)', () => {
    const nTok = 7, nHeads = 4, headDim = 64;
    const pos = Int32Array.from({ length: nTok }, () => int(20000));
    const x = gaussians(nTok * nHeads * headDim);
    const ff = Float32Array.from({ length: 32 }, () => 1 + 7 * rnd());
    expectClose(twin('rope', { x, nTok, nHeads, headDim, pos, nDims: 64, freqBase: 500000, freqScale: 1 }), 1e-5, 'rope');
    expectClose(twin('rope', { x, nTok, nHeads, headDim, pos, nDims: 64, freqBase: 500000, freqScale: 0.25, freqFactors: ff }), 1e-5, 'rope ff');
    expectClose(twin('rope', { x, nTok, nHeads, headDim, pos, nDims: 48, freqBase: 10000, freqScale: 1 }), 1e-5, 'rope partial');
    const nope = twin('rope', { x, nTok, nHeads, headDim, pos, rope: false });
    expectSame(nope.gpu, x, 'NoPE pass-through');
    expectSame(nope.cpu, x, 'NoPE pass-through (cpu)');
    expectClose(twin('rope', { x, nTok, nHeads, headDim, pos, rope: false, tempFloorScale: 8192, tempScale: 0.1, tempOffset: 1 }), 1e-6, 'NoPE temperature');
  });

  it('swiglu (expf vs ggml_expf: 1e-5), add (exact)', () => {
    for (const n of [1, 7, 33, 1000]) {
      expectClose(twin('swiglu', { gate: gaussians(n, 4), up: gaussians(n) }), 1e-5, `swiglu ${n}`);
      const r = twin('add', { a: gaussians(n), b: gaussians(n) });
      expectSame(r.gpu, r.cpu, `add ${n}`);
    }
  });

  it('get_rows (embedding gather): every type, bit-identical to the reference dequantizer', () => {
    for (const t of TYPES) {
      const nCols = nInOf(t);
      const r = twin('get_rows', { type: t.id, table: weights(t, nCols, 7), nCols, ids: Int32Array.from([0, 6, 3, 3, 1]) });
      expectSame(r.gpu, r.cpu, `get_rows ${t.name}`);
    }
  });

  it('copy_rows (last-position logits): exact', () => {
    const n = 1001, src = gaussians(n * 5);
    for (const rows of [[4], [0, 2, 4]]) {
      const r = twin('copy_rows', { src, n, rows: Int32Array.from(rows) });
      expectSame(r.gpu, r.cpu, `copy_rows ${rows}`);
    }
  });

  it('kv_append: f16 rows at their cells, exact', () => {
    const nHeadKv = 2, hd = 64, hdv = 64, nCells = 37;
    const pos = Int32Array.from([0, 5, 36, 17, 3]);
    const r = twin('kv_append', { k: gaussians(5 * nHeadKv * hd), v: gaussians(5 * nHeadKv * hdv), pos, nHeadKv, hd, hdv, nCells });
    expectSame(r.gpu, r.cpu, 'kv_append');
  });

  // Attention over an f16 cache against the CPU's attn_partial over the same visible cells (f32, another
  // summation order and exp): tolerance 1e-4 relative to max|out|.
  function cache(nCells: number, nHeadKv: number, hd: number) {
    return { kCache: f16Of(gaussians(nCells * nHeadKv * hd)), vCache: f16Of(gaussians(nCells * nHeadKv * hd)) };
  }
  it('attention, decode (flash-decoding splits + merge): GQA 2 and 4, contexts 1..1000, chunked', () => {
    for (const [nHead, nHeadKv] of [[8, 4], [8, 2]])
      for (const hd of [64, 128])
        for (const nCells of [1, 37, 300, 1000]) {
          const c = cache(nCells, nHeadKv, hd);
          const pos = Int32Array.from([nCells - 1, int(nCells), int(nCells)]);
          const q = gaussians(pos.length * nHead * hd);
          const base = { q, pos, ...c, nHead, nHeadKv, hd, hdv: hd, nCells };
          expectClose(twin('attn_decode', base), 1e-4, `decode ${nHead}/${nHeadKv} hd=${hd} n=${nCells}`);
          if (nCells >= 300) expectClose(twin('attn_decode', { ...base, chunk: 256 }), 1e-4, `decode chunked n=${nCells}`);
        }
  });

  it('attention, prompt (flash-attention tiles): causal and chunked masks, odd token counts', () => {
    for (const [nHead, nHeadKv] of [[8, 4], [4, 1]])
      for (const [nCells, nTok, chunk] of [[1, 1, 0], [37, 7, 0], [37, 13, 16], [300, 37, 128], [1000, 37, 256]]) {
        const hd = 64;
        const c = cache(nCells, nHeadKv, hd);
        const pos = Int32Array.from({ length: nTok }, (_, i) => nCells - nTok + i); // the prompt's last positions
        const q = gaussians(nTok * nHead * hd);
        expectClose(twin('attn_prompt', { q, pos, ...c, nHead, nHeadKv, hd, hdv: hd, nCells, chunk }), 1e-4,
          `prompt ${nHead}/${nHeadKv} n=${nCells} tok=${nTok} chunk=${chunk}`);
      }
  });

  it('MoE router: softmax top-k (llama) and sigmoid top-1 with shared-only flags (Llama 4); selection exact, weights 1e-5', () => {
    for (const [nExpert, k, nTok] of [[8, 2, 1], [8, 2, 13], [128, 8, 7], [60, 4, 3]]) {
      const r = twin('moe_topk', { logits: gaussians(nTok * nExpert, 3), nTok, nExpert, k, mode: 'softmax' });
      expect(Array.from(r.gpuSel as Int32Array)).toEqual(Array.from(r.cpuSel as Int32Array));
      expectClose(r, 1e-5, `softmax top-${k} of ${nExpert}`);
    }
    for (const [nExpert, nTok] of [[16, 1], [16, 13], [128, 7]]) {
      const sharedOnly = Uint8Array.from({ length: nTok }, () => (rnd() < 0.3 ? 1 : 0));
      const r = twin('moe_topk', { logits: gaussians(nTok * nExpert, 3), nTok, nExpert, k: 1, mode: 'sigmoid', sharedOnly });
      expect(Array.from(r.gpuSel as Int32Array)).toEqual(Array.from(r.cpuSel as Int32Array));
      expectClose(r, 1e-6, `sigmoid top-1 of ${nExpert}`);
    }
  });

  it('MoE grouping by expert (compact lists, pairs ascending within an expert): exact', () => {
    for (const [nPairs, k, nExpert] of [[1, 1, 8], [26, 2, 8], [1200, 4, 128], [7, 1, 3]]) {
      const sel = Int32Array.from({ length: nPairs }, () => (rnd() < 0.1 ? -1 : int(nExpert)));
      const r = twin('moe_group', { sel, k, nExpert });
      expect(Array.from(r.gpuInt as Int32Array)).toEqual(Array.from(r.cpuInt as Int32Array));
    }
  });

  it('MoE input scaling and output combination (the CPU\'s products and sums, unfused): exact', () => {
    const n = 100, nTok = 7, k = 2;
    const w = Float32Array.from({ length: nTok * k }, () => rnd());
    const s = twin('moe_scale', { x: gaussians(nTok * n), w, k, n });
    expectSame(s.gpu, s.cpu, 'moe_scale');
    const y = gaussians(nTok * k * n);
    const sel = Int32Array.from({ length: nTok * k }, (_, i) => (i === 3 || i === 6 || i === 7 ? -1 : i % 5));
    for (const args of [{ y, w, nTok, k, n }, { y, nTok, k, n, sel }]) {
      const r = twin('moe_combine', args);
      expectSame(r.gpu, r.cpu, `moe_combine ${'w' in args ? 'weighted' : 'plain'}`);
    }
  });

  it('depth gates: probabilities (double sums: 1e-6) and verdicts; compaction of running tokens: exact', () => {
    for (const [nTok, nEmbd] of [[1, 100], [7, 100], [13, 4096]]) {
      const xn = gaussians(nTok * nEmbd), w = gaussians(nEmbd, 0.02);
      const r = twin('depth_gate', { xn, nTok, nEmbd, w, b: 0.1, tau: 0.5, sharedTau: 0.3 });
      expectClose(r, 1e-6, `depth_gate ${nTok}x${nEmbd}`);
      const gv = r.gpuVerdict as Uint8Array, cv = r.cpuVerdict as Uint8Array;
      for (let t = 0; t < nTok; t++) {
        const p = r.cpu[t];
        if (Math.abs(p - 0.5) > 1e-5 && Math.abs(p - 0.3) > 1e-5) expect(gv[t], `verdict of token ${t} (p=${p})`).toBe(cv[t]);
      }
    }
    for (const n of [1, 37, 1000, 5000])
      for (const minFlag of [1, 2]) {
        const flags = Uint8Array.from({ length: n }, () => int(3));
        const r = twin('compact', { flags, minFlag });
        expect(r.gpuCount).toBe(r.cpuCount);
        expectSame(r.gpu, r.cpu, `compact ${n}`);
      }
  });
});
