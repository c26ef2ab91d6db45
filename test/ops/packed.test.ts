// Packed (repacked, 8 rows interleaved) matmul kernels, for every type that has one (ops/packed.h):
//  - every ISA level's packed kernel is BIT-IDENTICAL to the scalar packed reference;
//  - an output never depends on how many tokens or threads a call has (one token at a time = a batch);
//  - packed results agree with the plain reference schedule (one vec_dot per output, llama.cpp's order)
//    within float rounding: |packed - plain| <= 2e-5 * sum_i |w_i * x_i| (the terms' magnitude), and
//    equal it bit for bit for Q4_1, Q8_0 and Q6_K (their packed kernels keep vec_dot's order);
// on shapes that are not multiples of any block, group or tile size (rows % 8 != 0: the tail rows are
// computed from the plain rows).
import { describe, it, expect } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { mulberry32 } from '../../src/sampling/rng.js';

const a = addon();
const isas = a.kernelIsas();
const packedTypes = a.packedKernels('scalar');

interface WType { name: string; id: number; block: number; size: number; f16: number[]; signedD: boolean }
// the types whose packed kernels sum in vec_dot's (llama.cpp's) order
const PLAIN_ORDER = new Set(['Q4_1', 'Q8_0', 'Q6_K']);
const ALL: WType[] = [
  { name: 'Q4_0', id: 2, block: 32, size: 18, f16: [0], signedD: true },
  { name: 'Q4_1', id: 3, block: 32, size: 20, f16: [0, 2], signedD: true },
  { name: 'Q8_0', id: 8, block: 32, size: 34, f16: [0], signedD: true },
  { name: 'Q4_K', id: 12, block: 256, size: 144, f16: [0, 2], signedD: false },
  { name: 'Q6_K', id: 14, block: 256, size: 210, f16: [208], signedD: true },
];
const TYPES = ALL.filter((t) => packedTypes.includes(t.name));

function gaussians(n: number, r: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  for (let k = 0; k < Math.max(1, n >> 7); k++) out[Math.floor(r() * n)] *= 8;
  return out;
}

function weights(t: WType, n: number, rows: number, r: () => number): Uint8Array {
  const nb = (n / t.block) * rows;
  const w = new Uint8Array(nb * t.size);
  for (let i = 0; i < w.length; i++) w[i] = Math.floor(r() * 256);
  for (let b = 0; b < nb; b++)
    t.f16.forEach((off, k) => {
      const e = 5 + Math.floor(r() * 4);
      const signed = k === 0 && t.signedD;
      const h = (signed && r() < 0.5 ? 0x8000 : 0) | (e << 10) | Math.floor(r() * 1024);
      w[b * t.size + off] = h & 0xff;
      w[b * t.size + off + 1] = h >> 8;
    });
  return w;
}

// Σ_i |w_i x_i| per (row, token), from the type's exact dequantizer
function magnitudes(t: WType, w: Uint8Array, x: Float32Array, n: number, rows: number, tokens: number): Float64Array {
  const deq = a.dequantize(t.id, w, n * rows);
  const out = new Float64Array(rows * tokens);
  for (let tk = 0; tk < tokens; tk++)
    for (let o = 0; o < rows; o++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.abs(deq[o * n + i] * x[tk * n + i]);
      out[tk * rows + o] = s;
    }
  return out;
}

function shapes(t: WType): [number, number, number][] {
  const u = t.block === 256 ? 256 : 32;
  // token counts: decode (1), the small-batch tiles (2-6), prompt tiles with tails (17, 33)
  return [[u, 8, 1], [u * 3, 13, 1], [u * 2, 9, 2], [u * 5, 16, 3], [u * 7, 37, 5], [u * 4, 24, 6], [u * 3, 40, 17], [u * 9, 83, 1], [u * 5, 29, 33]];
}

describe('packed kernels', () => {
  it('the generic table has a scalar reference for every packed type of every level', () => {
    for (const isa of isas) for (const name of a.packedKernels(isa)) expect(packedTypes, `${isa} ${name}`).toContain(name);
  });
});

describe.each(TYPES)('packed $name', (t) => {
  it.each(isas)('bit-identical to the scalar packed reference, independent of tokens and threads (%s)', (isa) => {
    const r = mulberry32(7 + t.id);
    for (const [n, rows, tokens] of shapes(t)) {
      const w = weights(t, n, rows, r);
      const x = gaussians(n * tokens, r);
      const ref = a.matmulKernel(t.id, w, x, tokens, 'scalar', 1, false, true);
      const got = a.matmulKernel(t.id, w, x, tokens, isa, 1, false, true);
      expect(got, `${t.name} ${isa} n=${n} rows=${rows} tokens=${tokens}`).toEqual(ref);
      expect(a.matmulKernel(t.id, w, x, tokens, isa, 2, false, true), `2 threads n=${n} rows=${rows}`).toEqual(ref);
      if (tokens > 1) {
        for (const tk of [0, tokens - 1]) {
          const one = a.matmulKernel(t.id, w, x.subarray(tk * n, (tk + 1) * n), 1, isa, 1, false, true);
          expect(one, `token ${tk} alone n=${n} rows=${rows}`).toEqual(ref.subarray(tk * rows, (tk + 1) * rows));
        }
      }
    }
  });

  it('agrees with the plain per-row reference within float rounding', () => {
    const r = mulberry32(1234 + t.id);
    for (const [n, rows, tokens] of shapes(t)) {
      const w = weights(t, n, rows, r);
      const x = gaussians(n * tokens, r);
      const packed = a.matmulKernel(t.id, w, x, tokens, 'scalar', 1, false, true);
      const plain = a.matmulKernel(t.id, w, x, tokens, 'scalar', 1, true);
      const mag = magnitudes(t, w, x, n, rows, tokens);
      let differs = 0;
      for (let i = 0; i < plain.length; i++) {
        expect(Math.abs(packed[i] - plain[i]), `${t.name} n=${n} rows=${rows} i=${i}`).toBeLessThanOrEqual(2e-5 * mag[i] + 1e-30);
        if (packed[i] !== plain[i]) differs++;
      }
      // Q4_1, Q8_0 and Q6_K keep llama.cpp's plain order on purpose (ops/packed.h): equal everywhere, on every level
      if (PLAIN_ORDER.has(t.name)) {
        expect(packed, `${t.name} n=${n} rows=${rows}: plain order`).toEqual(plain);
        for (const isa of isas)
          expect(a.matmulKernel(t.id, w, x, tokens, isa, 2, false, true), `${t.name} ${isa}: plain order`).toEqual(plain);
      }
      // the tail rows (rows % 8) come from the plain kernel: bit-identical there
      for (let tk = 0; tk < tokens; tk++)
        for (let o = rows - (rows % 8); o < rows; o++) expect(packed[tk * rows + o]).toBe(plain[tk * rows + o]);
      void differs;
    }
  });
});
