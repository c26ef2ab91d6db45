// Tiled matmul kernels against the reference schedule (one vec_dot per (row, token)) of the SAME ISA level:
// every output must be bit-identical (toEqual on Float32Array), on shapes that are not multiples of any
// micro-tile (rows, tokens) or unroll factor (n_in = 32 * odd k; 256 * k for K-quants), with 1 and 2 threads.
// Every level is also bit-identical to the scalar reference kernel (all follow llama.cpp's AVX2 order).
import { describe, it, expect } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { mulberry32 } from '../../src/sampling/rng.js';

const a = addon();
const isas = a.kernelIsas();
const simdIsas = isas.filter((i) => i !== 'scalar');


function gaussians(n: number, r: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  for (let k = 0; k < Math.max(1, n >> 7); k++) out[Math.floor(r() * n)] *= 8;
  return out;
}

interface WType { name: string; id: number; block: number; size: number; f16: number[]; signedD: boolean }
const TYPES: WType[] = [
  { name: 'Q4_0', id: 2, block: 32, size: 18, f16: [0], signedD: true },
  { name: 'Q4_1', id: 3, block: 32, size: 20, f16: [0, 2], signedD: false },
  { name: 'Q5_0', id: 6, block: 32, size: 22, f16: [0], signedD: true },
  { name: 'Q5_1', id: 7, block: 32, size: 24, f16: [0, 2], signedD: false },
  { name: 'Q8_0', id: 8, block: 32, size: 34, f16: [0], signedD: true },
  { name: 'IQ4_NL', id: 20, block: 32, size: 18, f16: [0], signedD: true },
  { name: 'Q2_K', id: 10, block: 256, size: 84, f16: [80, 82], signedD: false },
  { name: 'Q3_K', id: 11, block: 256, size: 110, f16: [108], signedD: true },
  { name: 'Q4_K', id: 12, block: 256, size: 144, f16: [0, 2], signedD: false },
  { name: 'Q5_K', id: 13, block: 256, size: 176, f16: [0, 2], signedD: false },
  { name: 'Q6_K', id: 14, block: 256, size: 210, f16: [208], signedD: true },
  { name: 'IQ4_XS', id: 23, block: 256, size: 136, f16: [0], signedD: true },
  { name: 'F32', id: 0, block: 1, size: 4, f16: [], signedD: false },
  { name: 'F16', id: 1, block: 1, size: 2, f16: [], signedD: false },
  { name: 'BF16', id: 30, block: 1, size: 2, f16: [], signedD: false },
];

function weights(t: WType, n: number, rows: number, r: () => number): Uint8Array {
  if (t.block === 1) return a.quantize(t.id, gaussians(n * rows, r, 0.05));
  const nb = (n / t.block) * rows;
  const w = new Uint8Array(nb * t.size);
  for (let i = 0; i < w.length; i++) w[i] = Math.floor(r() * 256);
  for (let b = 0; b < nb; b++)
    t.f16.forEach((off, k) => {
      const e = 5 + Math.floor(r() * 4);
      const signed = k === 0 ? t.signedD : t.name === 'Q4_1' || t.name === 'Q5_1';
      const h = (signed && r() < 0.5 ? 0x8000 : 0) | (e << 10) | Math.floor(r() * 1024);
      w[b * t.size + off] = h & 0xff;
      w[b * t.size + off + 1] = h >> 8;
    });
  return w;
}

// [n_in, rows, tokens]: odd multiples of the block size, rows/tokens off every tile size
function shapes(t: WType): [number, number, number][] {
  const u = t.block === 256 ? 256 : 32;
  const out: [number, number, number][] = [
    [u * 1, 1, 1], [u * 3, 5, 1], [u * 5, 13, 1], [u * 7, 37, 3], [u * 5, 21, 7], [u * 9, 19, 13], [u * 3, 70, 37],
  ];
  if (t.block === 1) out.push([40, 9, 5], [72, 11, 6]); // float types: n not a multiple of 32 (and of 8: 36)
  if (t.block === 1) out.push([36, 7, 5]);
  return out;
}

describe.each(TYPES)('matmul $name', (t) => {
  it.each(simdIsas.length ? simdIsas : ['scalar'])('tiled path is bit-identical to per-row vec_dot (%s)', (isa) => {
    const r = mulberry32(99 + t.id);
    for (const [n, rows, tokens] of shapes(t)) {
      const w = weights(t, n, rows, r);
      for (const scale of [1, 300]) {
        const x = gaussians(n * tokens, r, scale);
        const ref = a.matmulKernel(t.id, w, x, tokens, isa, 1, true);
        for (const threads of [1, 2]) {
          const got = a.matmulKernel(t.id, w, x, tokens, isa, threads, false);
          expect(got, `${t.name} ${isa} n=${n} rows=${rows} tokens=${tokens} threads=${threads}`).toEqual(ref);
        }
        // the reference schedule is the vec_dot of kernelDot, output by output
        if (rows * tokens <= 40) {
          for (let tk = 0; tk < tokens; tk++)
            for (let o = 0; o < rows; o++) {
              const d = a.kernelDot(t.id, w.subarray((o * n * t.size) / t.block, ((o + 1) * n * t.size) / t.block), x.subarray(tk * n, (tk + 1) * n), isa);
              expect(ref[tk * rows + o]).toBe(Math.fround(d));
            }
        }
      }
    }
  });

  it('every level is bit-identical to the scalar kernel (llama.cpp AVX2 order everywhere)', () => {
    const r = mulberry32(7 + t.id);
    const n = t.block === 256 ? 768 : 224;
    const rows = 11;
    const tokens = 6;
    const w = weights(t, n, rows, r);
    const x = gaussians(n * tokens, r);
    const ref = a.matmulKernel(t.id, w, x, tokens, 'scalar', 1, true);
    for (const isa of simdIsas) {
      expect(a.matmulKernel(t.id, w, x, tokens, isa, 2, false), `${t.name} ${isa}`).toEqual(ref);
    }
  });
});

// Decode (one token) runs the multi-row mat-vec kernels: every row-group size (6 / 4 / 3 / 2 / 1 rows,
// chosen from the row size) and remainder, short and long rows, must equal one vec_dot per row exactly.
describe.each(TYPES)('$name multi-row mat-vec (decode)', (t) => {
  it('is bit-identical to vec_dot per row for every row count and row size', () => {
    const r = mulberry32(99 + t.id);
    const u = t.block === 1 ? 32 : t.block;
    const lens = t.block === 256 ? [u, u * 3, u * 23] : [u, u * 3, u * 7, u * 161, u * 353];
    if (t.block === 1) lens.push(40, 4000);
    for (const isa of isas)
      for (const n of lens)
        for (const rows of [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 17, 23, 48]) {
          if (n * rows > 400000) continue;
          const w = weights(t, n, rows, r);
          const x = gaussians(n, r, 3);
          const ref = a.matmulKernel(t.id, w, x, 1, isa, 1, true);
          for (const threads of [1, 2])
            expect(a.matmulKernel(t.id, w, x, 1, isa, threads, false), `${t.name} ${isa} n=${n} rows=${rows} t=${threads}`).toEqual(ref);
          if (isa !== 'scalar') expect(ref, `${t.name} ${isa} vs scalar n=${n} rows=${rows}`).toEqual(a.matmulKernel(t.id, w, x, 1, 'scalar', 1, true));
        }
  });
});

// Batches of F32 / F16 / BF16 weights take llamafile's tinyBLAS order where llama.cpp's mul_mat does (n_in % 8
// == 0, rows % 4 == 0, >= 2 tokens): one 8-lane FMA chain per output from element 0, then tinyBLAS's hsum.
// Checked against an independent model of that order (F16 x F16 products are exact in float, so JS can
// replay the chains), every level against the scalar kernel, and the fallback to vec_dot elsewhere.
const FLOATS = TYPES.filter((t) => t.block === 1);

function halfToFloat(h: number): number {
  const e = (h >> 10) & 31, m = h & 1023, s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

describe('tinyBLAS order for batches of float weights', () => {
  it('F16: every output is the one-chain order of llama.cpp (replayed in JS)', () => {
    const F16 = FLOATS.find((t) => t.name === 'F16')!;
    const r = mulberry32(2024);
    const [n, rows, tokens] = [200, 12, 5];
    const w = weights(F16, n, rows, r);
    const x = gaussians(n * tokens, r, 3);
    const wv = new Uint16Array(w.buffer, w.byteOffset, n * rows);
    const xh = new Uint16Array(a.quantizeAct(F16.id, x, 'scalar').buffer);
    const f = Math.fround;
    for (const isa of isas) {
      const got = a.matmulKernel(F16.id, w, x, tokens, isa, 2, false, false, 'llamacpp');
      for (let t = 0; t < tokens; t++)
        for (let o = 0; o < rows; o++) {
          const c = new Array(8).fill(0);
          for (let i = 0; i < n; i += 8)
            for (let l = 0; l < 8; l++) c[l] = f(c[l] + f(halfToFloat(wv[o * n + i + l]) * halfToFloat(xh[t * n + i + l])));
          const t4 = [0, 1, 2, 3].map((k) => f(c[k] + c[k + 4]));
          expect(got[t * rows + o], `${isa} t=${t} o=${o}`).toBe(f(f(t4[0] + t4[2]) + f(t4[1] + t4[3])));
        }
    }
  });

  describe.each(FLOATS)('$name', (t) => {
    it('every level equals the scalar kernel; ineligible shapes and order "vecdot" keep vec_dot exactly', () => {
      const r = mulberry32(31 + t.id);
      let differs = 0;
      for (const [n, rows, tokens] of [[8, 4, 2], [40, 12, 5], [72, 20, 7], [200, 36, 13], [288, 44, 37], [72, 11, 6], [36, 8, 5], [72, 8, 1]]) {
        const w = weights(t, n, rows, r);
        const x = gaussians(n * tokens, r, 300);
        const vecdot = a.matmulKernel(t.id, w, x, tokens, 'scalar', 1, true);
        const ref = a.matmulKernel(t.id, w, x, tokens, 'scalar', 1, false, false, 'llamacpp');
        const eligible = n % 8 === 0 && rows % 4 === 0 && tokens >= 2;
        if (!eligible) expect(ref, `${t.name} n=${n} rows=${rows} tokens=${tokens}: vec_dot`).toEqual(vecdot);
        for (let i = 0; i < ref.length; i++) differs += ref[i] !== vecdot[i] ? 1 : 0;
        for (const isa of simdIsas)
          for (const threads of [1, 2]) {
            const shape = `${t.name} ${isa} n=${n} rows=${rows} tokens=${tokens} threads=${threads}`;
            expect(a.matmulKernel(t.id, w, x, tokens, isa, threads, false, false, 'llamacpp'), shape).toEqual(ref);
            expect(a.matmulKernel(t.id, w, x, tokens, isa, threads, false, false, 'vecdot'), shape).toEqual(vecdot);
          }
      }
      expect(differs, 'the tinyBLAS order is a different summation from vec_dot').toBeGreaterThan(0);
    });
  });
});
