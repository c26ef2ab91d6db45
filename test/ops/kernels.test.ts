// SIMD CPU kernels (AVX2, AVX-512) against the generic scalar kernels, on sizes that are not multiples of
// any vector width or unroll factor. Every level follows llama.cpp's AVX2 (haswell) float operation order
// (integer inner sums are exact), so dot products must be BIT-IDENTICAL across levels (Object.is); the
// scalar kernel is also checked against a float64 dot of the dequantized operands (tolerance), and activation
// quantizers must be bit-identical. ISAs this CPU lacks are skipped (and reported); 'scalar' is always there.
import { describe, it, expect } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { mulberry32 } from '../../src/sampling/rng.js';

const T = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q8_1: 9,
  Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, Q8_K: 15, IQ4_NL: 20, IQ4_XS: 23, BF16: 30,
} as const;

const a = addon();
const ALL_ISAS = ['scalar', 'avx2', 'avx512'];
const isas = a.kernelIsas();
const simdIsas = isas.filter((i) => i !== 'scalar');
const skipped = ALL_ISAS.filter((i) => !isas.includes(i));
if (skipped.length > 0) {
  console.log(`kernels.test: ISA(s) not supported by this CPU, skipped: ${skipped.join(', ')} (testing: ${isas.join(', ')})`);
}

// ---- deterministic random numbers ------------------------------------------------------------------------


function gaussians(n: number, r: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  // a few outliers, as real activations have
  for (let k = 0; k < Math.max(1, n >> 7); k++) out[Math.floor(r() * n)] *= 8;
  return out;
}

/** f16 bits of a random normal value with |v| in [2^(e0-15), 2^(e1-15)), optionally signed. */
function randF16(r: () => number, e0: number, e1: number, signed: boolean): number {
  const e = e0 + Math.floor(r() * (e1 - e0));
  const sign = signed && r() < 0.5 ? 0x8000 : 0;
  return sign | (e << 10) | Math.floor(r() * 1024);
}

// ---- weight types ----------------------------------------------------------------------------------------

interface WType {
  name: keyof typeof T;
  block: number; // elements per block (1 for float types)
  size: number; // bytes per block
  act: number; // vec_dot_type id
  f16Fields: number[]; // byte offsets of f16 scale fields (d first) for random-byte blocks
  signedD: boolean; // may d be negative
  quantizable: boolean; // has a reference quantizer
}

const LEGACY: WType[] = [
  { name: 'Q4_0', block: 32, size: 18, act: T.Q8_0, f16Fields: [0], signedD: true, quantizable: true },
  { name: 'Q4_1', block: 32, size: 20, act: T.Q8_1, f16Fields: [0, 2], signedD: false, quantizable: true },
  { name: 'Q5_0', block: 32, size: 22, act: T.Q8_0, f16Fields: [0], signedD: true, quantizable: true },
  { name: 'Q5_1', block: 32, size: 24, act: T.Q8_1, f16Fields: [0, 2], signedD: false, quantizable: true },
  { name: 'Q8_0', block: 32, size: 34, act: T.Q8_0, f16Fields: [0], signedD: true, quantizable: true },
  { name: 'IQ4_NL', block: 32, size: 18, act: T.Q8_0, f16Fields: [0], signedD: true, quantizable: false },
];
const KQUANTS: WType[] = [
  { name: 'Q2_K', block: 256, size: 84, act: T.Q8_K, f16Fields: [80, 82], signedD: false, quantizable: false },
  { name: 'Q3_K', block: 256, size: 110, act: T.Q8_K, f16Fields: [108], signedD: true, quantizable: false },
  { name: 'Q4_K', block: 256, size: 144, act: T.Q8_K, f16Fields: [0, 2], signedD: false, quantizable: false },
  { name: 'Q5_K', block: 256, size: 176, act: T.Q8_K, f16Fields: [0, 2], signedD: false, quantizable: false },
  { name: 'Q6_K', block: 256, size: 210, act: T.Q8_K, f16Fields: [208], signedD: true, quantizable: false },
  { name: 'IQ4_XS', block: 256, size: 136, act: T.Q8_K, f16Fields: [0], signedD: true, quantizable: false },
];
const FLOATS: WType[] = [
  { name: 'F32', block: 1, size: 4, act: T.F32, f16Fields: [], signedD: false, quantizable: true },
  { name: 'F16', block: 1, size: 2, act: T.F16, f16Fields: [], signedD: false, quantizable: true },
  { name: 'BF16', block: 1, size: 2, act: T.BF16, f16Fields: [], signedD: false, quantizable: true },
];

const SIZES_32 = [1, 3, 5, 7, 33].map((k) => 32 * k);
const SIZES_256 = [1, 3, 5].map((k) => 256 * k);
// float types: every tail length of the 32-element steps (groups of 8 / 4 / 1..3 in F32's tail)
const SIZES_FLOAT = [1, 3, 4, 7, 8, 12, 15, 31, 32, 33, 44, 45, 63, 100, 1000];

/** Random but valid blocks: random bytes with sane f16 scale fields. */
function randomBlocks(t: WType, n: number, r: () => number, fill?: number): Uint8Array {
  const nb = n / t.block;
  const out = new Uint8Array(nb * t.size);
  for (let i = 0; i < out.length; i++) out[i] = fill ?? Math.floor(r() * 256);
  for (let b = 0; b < nb; b++) {
    t.f16Fields.forEach((off, k) => {
      const h = randF16(r, 5, 9, k === 0 ? t.signedD : t.name === 'Q4_1' || t.name === 'Q5_1');
      out[b * t.size + off] = h & 0xff;
      out[b * t.size + off + 1] = h >> 8;
    });
  }
  return out;
}

function weightsFor(t: WType, n: number, r: () => number, mode: 'quantized' | 'random'): Uint8Array {
  if (mode === 'quantized') return a.quantize(T[t.name], gaussians(n, r, 0.05));
  return randomBlocks(t, n, r);
}

/**
 * The scale of the allowed rounding difference: sum |x_i| |y_i| of the dequantized operands, where for
 * types with a min term (x = d*q + m or dl*q - ml) |x| counts both parts, since the kernels sum them
 * separately and they may cancel. Also returns the float64 dot of the dequantized operands.
 */
function magnitude(t: WType, w: Uint8Array, acts: Float32Array): { mag: number; exact: number } {
  const n = acts.length;
  const xd = a.dequantize(T[t.name], w, n);
  let xs = xd;
  if (t.f16Fields.length > 1) {
    const w0 = w.slice();
    const off = t.f16Fields[1];
    for (let b = 0; b < n / t.block; b++) w0[b * t.size + off] = w0[b * t.size + off + 1] = 0;
    xs = a.dequantize(T[t.name], w0, n);
  }
  const yq = a.quantizeAct(t.act, acts, 'scalar');
  const yd = a.dequantize(t.act, yq, n);
  let mag = 0;
  let exact = 0;
  for (let i = 0; i < n; i++) {
    mag += (Math.abs(xs[i]) + Math.abs(xd[i] - xs[i])) * Math.abs(yd[i]);
    exact += xd[i] * yd[i];
  }
  return { mag, exact };
}

function checkDot(t: WType, w: Uint8Array, acts: Float32Array, label: string): void {
  const ref = a.kernelDot(T[t.name], w, acts, 'scalar');
  const { mag, exact } = magnitude(t, w, acts);
  expect(Number.isFinite(ref), `${label} scalar finite`).toBe(true);
  // The scalar kernel itself against a float64 dot of the dequantized operands (Q4_1/Q5_1 use the f16
  // activation sum term, hence the looser bound).
  expect(Math.abs(ref - exact), `${label} scalar vs f64 dequantized dot`).toBeLessThanOrEqual(4e-3 * mag + 1e-30);
  for (const isa of simdIsas) {
    const got = a.kernelDot(T[t.name], w, acts, isa);
    expect(Object.is(got, ref), `${label} ${isa}: got ${got}, scalar ${ref} (must be bit-identical)`).toBe(true);
  }
}

describe('CPU kernel tables', () => {
  it('lists the ISA levels of this host, scalar first', () => {
    expect(isas[0]).toBe('scalar');
    for (const i of isas) expect(ALL_ISAS).toContain(i);
  });

  it('rejects unknown ISAs, mismatched sizes and non-activation types', () => {
    const w = a.quantize(T.Q8_0, new Float32Array(64));
    expect(() => a.kernelDot(T.Q8_0, w, new Float32Array(64), 'sse9')).toThrow(/isa/);
    expect(() => a.kernelDot(T.Q8_0, w, new Float32Array(96), 'scalar')).toThrow(/weight bytes/);
    expect(() => a.kernelDot(T.Q8_0, w, new Float32Array(40), 'scalar')).toThrow(/multiple/);
    expect(() => a.quantizeAct(T.Q4_0, new Float32Array(32), 'scalar')).toThrow(/activation/);
    for (const i of ALL_ISAS.filter((x) => !isas.includes(x))) {
      expect(() => a.kernelDot(T.Q8_0, w, new Float32Array(64), i)).toThrow(/not supported/);
    }
  });
});

describe.each([...LEGACY, ...KQUANTS, ...FLOATS])('vec_dot $name', (t) => {
  const sizes = t.block === 256 ? SIZES_256 : t.block === 1 ? SIZES_FLOAT : SIZES_32;
  const modes: ('quantized' | 'random')[] = [];
  if (t.quantizable) modes.push('quantized');
  if (t.block > 1) modes.push('random');

  it.each(sizes)(`is bit-identical to the scalar kernel, n=%i (${simdIsas.join('/') || 'no SIMD level on this host'})`, (n) => {
    const r = mulberry32(1000 + n * 7 + T[t.name]);
    for (const mode of modes) {
      for (let rep = 0; rep < 3; rep++) {
        const w = weightsFor(t, n, r, mode);
        const acts = gaussians(n, r, rep === 2 ? 100 : 1);
        checkDot(t, w, acts, `${t.name} n=${n} ${mode} #${rep}`);
      }
    }
  });

  if (t.block > 1) {
    it('extreme quant values do not saturate the integer sums', () => {
      const r = mulberry32(77 + T[t.name]);
      const n = t.block === 256 ? 512 : 160;
      for (const fill of [0x00, 0xff, 0x80, 0x81, 0x7f, 0x88]) {
        const w = randomBlocks(t, n, r, fill);
        for (const sign of [1, -1]) {
          const acts = new Float32Array(n).fill(sign);
          checkDot(t, w, acts, `${t.name} fill=0x${fill.toString(16)} acts=${sign}`);
          // alternating signs too
          const alt = acts.map((v, i) => (i % 3 === 0 ? -v : v));
          checkDot(t, w, alt, `${t.name} fill=0x${fill.toString(16)} alternating acts`);
        }
      }
    });
  }
});

// ---- activation quantizers -------------------------------------------------------------------------------

function tieBlock(n: number): Float32Array {
  // amax = 127 -> id = 1: every x.5 value is an exact rounding tie (nearest-even must be used)
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (i % 32 === 5 ? 127 : ((i * 37) % 200) - 100) + 0.5;
  for (let i = 0; i < n; i += 32) x[i + 5] = i % 64 === 0 ? 127 : -127;
  return x;
}

function specialInputs(n: number, r: () => number): [string, Float32Array][] {
  const zeros = new Float32Array(n);
  const partZero = gaussians(n, r);
  partZero.fill(0, 0, Math.min(n, 256)); // one all-zero block (and super-block) followed by data
  const signTie = gaussians(n, r);
  for (let i = 0; i < n; i += 256) {
    // equal |max| with opposite signs: Q8_K keeps the first one's sign
    signTie[i + 3] = -50;
    signTie[i + 200 < n ? i + 200 : i + 4] = 50;
  }
  const tiny = gaussians(n, r, 1e-30);
  const huge = gaussians(n, r, 1e30);
  return [
    ['gaussian', gaussians(n, r)],
    ['gaussian*1e3', gaussians(n, r, 1e3)],
    ['ties', tieBlock(n)],
    ['zeros', zeros],
    ['partly zero', partZero],
    ['sign tie', signTie],
    ['tiny', tiny],
    ['huge', huge],
  ];
}

describe('activation quantizers', () => {
  const cases: [string, number, number[]][] = [
    ['Q8_0', T.Q8_0, SIZES_32],
    ['Q8_1', T.Q8_1, SIZES_32],
    ['Q8_K', T.Q8_K, SIZES_256],
    ['F16', T.F16, SIZES_32],
    ['BF16', T.BF16, SIZES_32],
    ['F32', T.F32, SIZES_32],
  ];
  it.each(cases)('%s is bit-identical on every ISA level', (name, id, sizes) => {
    const r = mulberry32(4242 + id);
    for (const n of [...sizes, 1024]) {
      for (const [what, x] of specialInputs(n, r)) {
        const ref = a.quantizeAct(id, x, 'scalar');
        for (const isa of simdIsas) {
          const got = a.quantizeAct(id, x, isa);
          expect(got.length).toBe(ref.length);
          let firstDiff = -1;
          for (let i = 0; i < ref.length; i++) {
            if (got[i] !== ref[i]) {
              firstDiff = i;
              break;
            }
          }
          expect(firstDiff, `${name} ${isa} n=${n} ${what}: first differing byte`).toBe(-1);
        }
      }
    }
  });

  it('Q8_0 rounds exact ties to even (llama.cpp x86 rounding)', () => {
    const x = new Float32Array(32);
    x[0] = 127;
    x[1] = 2.5;
    x[2] = 3.5;
    x[3] = -2.5;
    for (const isa of isas) {
      const q = new Int8Array(a.quantizeAct(T.Q8_0, x, isa).buffer);
      expect([q[2], q[3], q[4], q[5]], isa).toEqual([127, 2, 4, -2]);
    }
  });
});
