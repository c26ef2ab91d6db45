// attn_partial_q (ops/cpu/ops.h): the chunk state of attention over a quantized KV cache (-ctk/-ctv q8_0,
// q4_0, ...), on every kernel level this CPU has, against a float64 attention over the dequantized rows with
// the query rounded as the dot kernel takes it (its vec_dot_type). Sizes that are not multiples of 8 or 32
// cells, strided rows (several KV heads per cell), GQA groups of 1 to 4.
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { mulberry32 } from '../../src/sampling/rng.js';

const a = addon();
const types = new Map(a.typeTable().map((t) => [t.name, t]));
const isas = (['scalar', 'avx2', 'avx512'] as const).filter((i) => a.kernelIsas().includes(i));
const rnd = mulberry32(20261208);
const randn = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * scale);

/** n rows of `dim` values of type t, `heads` heads per row (the one used is head `h`): bytes, stride, values */
function rows(t: string, n: number, dim: number, heads: number, h: number, scale: number) {
  const tt = types.get(t)!;
  const headBytes = (dim / tt.blockSize) * tt.typeSize;
  const stride = headBytes * heads;
  const bytes = new Uint8Array(stride * n);
  const deq: Float64Array[] = [];
  for (let c = 0; c < n; c++) {
    for (let k = 0; k < heads; k++) {
      const q = a.quantize(tt.id, randn(dim, scale));
      bytes.set(q, c * stride + k * headBytes);
      if (k === h) deq.push(Float64Array.from(a.dequantize(tt.id, q, dim)));
    }
  }
  return { bytes: bytes.subarray(h * headBytes), stride, deq };
}

function reference(q: Float32Array, g: number, hd: number, K: Float64Array[], V: Float64Array[], scale: number, vdt: string) {
  const hdv = V[0].length;
  const vt = types.get(vdt)!;
  const out = { m: [] as number[], l: [] as number[], acc: [] as number[][] };
  for (let h = 0; h < g; h++) {
    // the query as the dot kernel sees it
    const qh = q.subarray(h * hd, (h + 1) * hd);
    const qr = vdt === 'F32' ? Float64Array.from(qh) : Float64Array.from(a.dequantize(vt.id, a.quantize(vt.id, qh), hd));
    const s = K.map((k) => k.reduce((acc, x, i) => acc + x * qr[i], 0) * scale);
    const m = Math.max(...s);
    const p = s.map((x) => Math.exp(x - m));
    out.m.push(m);
    out.l.push(p.reduce((x, y) => x + y, 0));
    out.acc.push(Array.from({ length: hdv }, (_, d) => p.reduce((acc, pc, c) => acc + pc * V[c][d], 0)));
  }
  return out;
}

describe('attn_partial_q: attention over a quantized cache', () => {
  const cases: [string, string][] = [
    ['Q8_0', 'Q8_0'],
    ['Q4_0', 'Q4_0'],
    ['Q4_1', 'Q4_1'],
    ['Q5_0', 'Q5_0'],
    ['Q5_1', 'Q5_1'],
    ['IQ4_NL', 'IQ4_NL'],
    ['Q8_0', 'F16'],
    ['F16', 'Q4_0'],
    ['F32', 'Q8_0'],
  ];
  for (const [kt, vt] of cases) {
    it(`K ${kt}, V ${vt}`, () => {
      for (const [n, g, hd, hdv, heads] of [
        [1, 1, 32, 32, 1],
        [7, 3, 64, 64, 2],
        [33, 4, 64, 64, 3],
        [256, 2, 128, 64, 2],
        [300, 1, 64, 128, 1],
      ]) {
        const h = heads - 1;
        const K = rows(kt, n, hd, heads, h, 1.5);
        const V = rows(vt, n, hdv, heads, h, 2);
        const q = randn(g * hd, 1.2);
        const scale = 1 / Math.sqrt(hd);
        const ref = reference(q, g, hd, K.deq, V.deq, scale, types.get(kt)!.vecDotType);
        for (const isa of isas) {
          const { out } = a.attnKernel(isa, 'attn_partial_q', {
            q, g, hd, hdv, n, scale,
            k: K.bytes, kStride: K.stride, kType: types.get(kt)!.id,
            v: V.bytes, vStride: V.stride, vType: types.get(vt)!.id,
          });
          const what = `${isa} n=${n} g=${g} hd=${hd} hdv=${hdv}`;
          // Scores are integer dot products times the block scales, so the float sums differ from float64 by
          // ~1e-6; Q4_1 / Q5_1 keys meet a Q8_1 query, whose per-block sum term (d * sum of its ints) llama.cpp
          // stores in f16: the key blocks' minimum times it is off by up to 2^-11 relative, hence 5e-3 there.
          const tol = types.get(kt)!.vecDotType === 'Q8_1' ? 5e-3 : 1e-4;
          for (let j = 0; j < g; j++) {
            expect(Math.abs(out[j] - ref.m[j]), `m ${what}`).toBeLessThan(tol * Math.max(1, Math.abs(ref.m[j])));
            expect(Math.abs(out[g + j] - ref.l[j]) / ref.l[j], `l ${what}`).toBeLessThan(tol);
            const accMax = Math.max(...ref.acc[j].map(Math.abs));
            for (let d = 0; d < hdv; d++)
              expect(Math.abs(out[2 * g + j * hdv + d] - ref.acc[j][d]), `acc ${what} d=${d}`).toBeLessThan(tol * Math.max(accMax, ref.l[j]));
          }
        }
      }
    });
  }

  it('fwht: the orthonormal Walsh-Hadamard transform in groups (Sylvester order), its own inverse', () => {
    for (const n of [64, 128]) {
      const x = randn(3 * n, 2);
      const y = a.attnKernel('scalar', 'fwht', { x, n }).out;
      const popcount = (v: number) => v.toString(2).replace(/0/g, '').length;
      for (let gI = 0; gI < 3; gI++)
        for (let i = 0; i < n; i++) {
          let ref = 0;
          for (let j = 0; j < n; j++) ref += ((popcount(i & j) & 1 ? -1 : 1) / Math.sqrt(n)) * x[gI * n + j];
          expect(Math.abs(y[gI * n + i] - ref)).toBeLessThan(1e-5);
        }
      const back = a.attnKernel('scalar', 'fwht', { x: y, n }).out;
      for (let i = 0; i < x.length; i++) expect(Math.abs(back[i] - x[i])).toBeLessThan(1e-5);
    }
    expect(() => a.attnKernel('scalar', 'fwht', { x: randn(96), n: 48 })).toThrow(/power of two/);
  });

  it('refuses rows that are not whole blocks and types that are not cache types', () => {
    const q = randn(48);
    const k = new Uint8Array(1000);
    expect(() => a.attnKernel('scalar', 'attn_partial_q', { q, g: 1, hd: 48, hdv: 32, n: 1, k, kStride: 100, kType: types.get('Q8_0')!.id, v: k, vStride: 100, vType: types.get('Q8_0')!.id })).toThrow(/out of range/);
    expect(() => a.attnKernel('scalar', 'attn_partial_q', { q: randn(32), g: 1, hd: 32, hdv: 32, n: 1, k, kStride: 100, kType: types.get('Q4_K')!.id, v: k, vStride: 100, vType: types.get('Q8_0')!.id })).toThrow(/KV cache types/);
  });
});
