// The attention / element-wise helpers of ops/cpu/ops.h: the AVX2 table must equal the scalar reference bit
// for bit (the scalar code mirrors llama.cpp's AVX2 numerics lane for lane), on sizes that are not multiples
// of the 8- or 32-lane groups, with f16 and f32 rows, both attention orders, and awkward values.
import { describe, expect, it } from 'vitest';
import { addon, type AttnArgs, type AttnOp } from '../../src/native/addon.js';
import { mulberry32 } from '../../src/sampling/rng.js';

const a = addon();
const hasAvx2 = a.kernelIsas().includes('avx2');
if (!hasAvx2) console.log('attn-kernels: this CPU has no AVX2/FMA/F16C; only the scalar reference runs');

const rnd = mulberry32(20261121);
const randn = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * scale);
/** f16 bits of random finite values (exponents 0..29: no inf/nan) */
const randH = (n: number) => Uint16Array.from({ length: n }, () => (rnd() < 0.5 ? 0x8000 : 0) | (Math.floor(rnd() * 30) << 10) | Math.floor(rnd() * 1024));

function same(op: AttnOp, args: AttnArgs) {
  const ref = a.attnKernel('scalar', op, args);
  if (!hasAvx2) return ref;
  const got = a.attnKernel('avx2', op, args);
  expect(Buffer.from(got.out.buffer).equals(Buffer.from(ref.out.buffer)), `${op} ${JSON.stringify({ ...args, x: undefined, y: undefined, h: undefined, rows: undefined })}`).toBe(true);
  expect(got.sum).toBe(ref.sum);
  return ref;
}

const SIZES = [1, 3, 7, 8, 9, 31, 32, 33, 64, 65, 100, 129];

describe('attention helpers: every ISA level = the scalar reference', () => {
  it('swiglu', () => {
    for (const n of SIZES) same('swiglu', { x: randn(n, 12), y: randn(n, 3) });
  });

  it('round_f16 (scale, ties, subnormals, overflow)', () => {
    const special = Float32Array.from([0, -0, 1, 65504, 65519.99, 65520, 1e9, -1e9, 5.96e-8, 2.98e-8, 2.99e-8, 1e-10, 6.1e-5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, -Infinity]);
    for (const n of SIZES) same('round_f16', { x: randn(n, 100), scale: 0.37 });
    const r = same('round_f16', { x: special, scale: 1 });
    expect(Array.from(r.out.subarray(0, 5))).toEqual([0, -0, 1, 65504, 65504]);
    expect(r.out[5]).toBe(Infinity);
    expect(r.out[13]).toBe(1); // tie to even
    expect(r.out[14]).toBe(1 + 4 * 2 ** -11);
  });

  it('soft_max (with masked -inf cells)', () => {
    for (const n of SIZES) {
      const x = randn(n, 8);
      for (let i = 0; i < n; i += 5) x[i] = -Infinity;
      let mx = -Infinity;
      for (const v of x) mx = Math.max(mx, v);
      same('soft_max', { x, max: Number.isFinite(mx) ? mx : 0 });
    }
  });

  it('dot_f32 and dot_f16 (ggml order and tinyBLAS order)', () => {
    for (const n of SIZES) {
      same('dot_f32', { x: randn(n), y: randn(n) });
      for (const tinyblas of [false, true]) same('dot_f16', { h: randH(n), y: randn(n), tinyblas });
    }
  });

  it('dot_rows = separate dots, over strided f16 and f32 rows', () => {
    for (const f16 of [false, true]) {
      for (const [nRows, n] of [[1, 64], [5, 7], [13, 100], [40, 128], [3, 33]]) {
        const es = f16 ? 2 : 4;
        const stride = (n + 5) * es;
        const rows = f16 ? new Uint8Array(randH((nRows * stride) / 2).buffer) : new Uint8Array(randn((nRows * stride) / 4).buffer);
        for (const tinyblas of [false, true]) {
          const y = randn(n);
          const r = same('dot_rows', { rows, stride, f16, nRows, y, n, tinyblas });
          // each entry is that row's single dot
          for (const i of [0, nRows - 1]) {
            const row = rows.slice(i * stride, i * stride + n * es);
            const single = f16
              ? a.attnKernel('scalar', 'dot_f16', { h: new Uint16Array(row.buffer), y, tinyblas }).out[0]
              : a.attnKernel('scalar', 'dot_f32', { x: new Float32Array(row.buffer), y }).out[0];
            expect(r.out[i]).toBe(single);
          }
        }
      }
    }
  });

  it('weighted_rows (single-token 32-lane and batch 8-lane orders, any first cell)', () => {
    for (const f16 of [false, true]) {
      for (const [n, dim, firstCell] of [[1, 8, 0], [7, 64, 3], [33, 64, 31], [100, 72, 5], [129, 16, 0]]) {
        const es = f16 ? 2 : 4;
        const stride = (dim + 8) * es;
        const rows = f16 ? new Uint8Array(randH((n * stride) / 2).buffer) : new Uint8Array(randn((n * stride) / 4).buffer);
        const p = Float32Array.from(randn(n), (v) => Math.abs(v) / n);
        for (const singleToken of [false, true]) same('weighted_rows', { x: p, rows, stride, f16, firstCell, n, dim, singleToken });
      }
    }
  });

  it('attn_partial, the fast decode attention: AVX2 and the scalar reference agree with a float64 attention', () => {
    // f16 bits of values in about +-[2^-5, 4): random sign, exponent 10..16, mantissa
    const smallH = (n: number) => Uint16Array.from({ length: n }, () => (rnd() < 0.5 ? 0x8000 : 0) | ((10 + Math.floor(rnd() * 7)) << 10) | Math.floor(rnd() * 1024));
    const h2f = (h: number) => (h & 0x8000 ? -1 : 1) * 2 ** (((h >> 10) & 31) - 15) * (1 + (h & 1023) / 1024);
    for (const [g, hd, hdv] of [[1, 64, 64], [3, 64, 64], [5, 72, 24], [8, 20, 13], [4, 128, 128]]) {
      for (const n of [1, 7, 8, 9, 100, 256]) {
        for (const f16 of [true, false]) {
          const es = f16 ? 2 : 4;
          const kStride = (hd + 8) * es, vStride = (hdv + 16) * es;
          const kv = (len: number) => (f16 ? smallH(len / 2) : Float32Array.from(smallH(len / 4), h2f));
          const k = kv(n * kStride), v = kv(n * vStride);
          const kVal = (c: number, i: number) => (f16 ? h2f((k as Uint16Array)[(c * kStride) / 2 + i]) : (k as Float32Array)[(c * kStride) / 4 + i]);
          const vVal = (c: number, d: number) => (f16 ? h2f((v as Uint16Array)[(c * vStride) / 2 + d]) : (v as Float32Array)[(c * vStride) / 4 + d]);
          const q = randn(g * hd, 0.5);
          const scale = 1 / Math.sqrt(hd);
          const args = { q, g, hd, hdv, n, scale, k: new Uint8Array(k.buffer), kStride, k16: f16, v: new Uint8Array(v.buffer), vStride, v16: f16 };
          for (const isa of hasAvx2 ? (['scalar', 'avx2'] as const) : (['scalar'] as const)) {
            const out = a.attnKernel(isa, 'attn_partial', args).out;
            for (let h = 0; h < g; h++) {
              const sc = Array.from({ length: n }, (_, c) => {
                let d = 0;
                for (let i = 0; i < hd; i++) d += q[h * hd + i] * kVal(c, i);
                return d * scale;
              });
              const m = Math.max(...sc);
              const w = sc.map((x) => Math.exp(x - m));
              const l = w.reduce((x, y) => x + y, 0);
              const where = `${isa} g${g} hd${hd} hdv${hdv} n${n} ${f16 ? 'f16' : 'f32'} head ${h}`;
              expect(Math.abs(out[h] - m), where).toBeLessThan(1e-4 * Math.max(1, Math.abs(m)));
              expect(Math.abs(out[g + h] - l) / l, where).toBeLessThan(1e-5);
              for (let d = 0; d < hdv; d++) {
                let acc = 0;
                for (let c = 0; c < n; c++) acc += w[c] * vVal(c, d);
                // the attention output acc / l, to 1e-5 of the largest |V| (4)
                expect(Math.abs(out[2 * g + h * hdv + d] / out[g + h] - acc / l), `${where} dim ${d}`).toBeLessThan(4e-5);
              }
            }
          }
        }
      }
    }
  });

  it('rejects bad arguments with a clear message', () => {
    expect(() => a.attnKernel('scalar', 'nope' as AttnOp, {})).toThrow(/unknown op 'nope'/);
    expect(() => a.attnKernel('scalar', 'dot_rows', { rows: new Uint8Array(8), stride: 4, f16: false, nRows: 3, y: randn(1), n: 1 })).toThrow(/out of range/);
    expect(() => a.attnKernel('avx512' as 'avx2', 'swiglu', {})).toThrow(/'scalar' or 'avx2'/);
    expect(() => a.attnKernel('scalar', 'attn_partial', { q: randn(64), g: 1, hd: 64, hdv: 64, n: 4, k: new Uint8Array(64), kStride: 128, k16: true, v: new Uint8Array(512), vStride: 128, v16: true })).toThrow(/out of range/);
  });
});
