// Reference (de)quantizers against hand-built blocks (spec 2.1-2.6). Every block here is written byte by
// byte; expected values come either from literals worked out by hand or from an independent per-element
// transcription of the spec formulas, evaluated with float32 rounding (Math.fround) in ggml's order.
import { describe, it, expect } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { mulberry32 as rng } from '../../src/sampling/rng.js';

const T = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q8_1: 9,
  Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, Q8_K: 15, IQ4_NL: 20, IQ4_XS: 23, BF16: 30,
} as const;

const KVALUES = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

const f = Math.fround;

// ---- helpers ---------------------------------------------------------------------------------------------

/** f16 bits -> value (exact). */
function f16ToNum(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** value -> f16 bits; only for values exactly representable in f16 (tests use exact values). */
function numToF16(v: number): number {
  if (Object.is(v, 0)) return 0;
  if (Object.is(v, -0)) return 0x8000;
  if (v === Infinity) return 0x7c00;
  if (v === -Infinity) return 0xfc00;
  for (let h = 0; h < 0x7c00; h++) {
    if (f16ToNum(h) === Math.abs(v)) return v < 0 ? h | 0x8000 : h;
  }
  throw new Error(`${v} is not exactly representable as f16`);
}

/** Little-endian byte writer for building blocks. */
class Bytes {
  readonly a: number[] = [];
  u8(...v: number[]): this {
    for (const x of v) this.a.push(x & 0xff);
    return this;
  }
  i8(...v: number[]): this {
    for (const x of v) {
      if (x < -128 || x > 127) throw new Error(`i8 out of range: ${x}`);
      this.a.push(x & 0xff);
    }
    return this;
  }
  u16(...v: number[]): this {
    for (const x of v) this.a.push(x & 0xff, (x >> 8) & 0xff);
    return this;
  }
  i16(...v: number[]): this {
    return this.u16(...v.map((x) => x & 0xffff));
  }
  u32(v: number): this {
    return this.u16(v & 0xffff, (v >>> 16) & 0xffff);
  }
  /** an exactly representable value as f16 */
  f16(v: number): this {
    return this.u16(numToF16(v));
  }
  f32(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.u8(...b);
  }
  fill(n: number, v: number): this {
    for (let i = 0; i < n; i++) this.a.push(v & 0xff);
    return this;
  }
  /** nibble pairs: byte j = lo[j] | hi[j] << 4 */
  nibbles(lo: number[], hi: number[]): this {
    if (lo.length !== hi.length) throw new Error('nibbles: length mismatch');
    for (let j = 0; j < lo.length; j++) this.a.push((lo[j] & 0xf) | ((hi[j] & 0xf) << 4));
    return this;
  }
  get length(): number {
    return this.a.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.a);
  }
}

function deq(type: number, bytes: Uint8Array, n: number): number[] {
  return Array.from(addon().dequantize(type, bytes, n));
}


function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** A random finite f16 with a moderate exponent and random sign (bits). */
function randomF16Bits(r: () => number): number {
  const e = 8 + Math.floor(r() * 10); // 2^-7 .. 2^2
  const m = Math.floor(r() * 1024);
  const s = r() < 0.5 ? 0x8000 : 0;
  return s | (e << 10) | m;
}

function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >> 8) & 0xff;
}

const u16At = (b: Uint8Array, off: number) => b[off] | (b[off + 1] << 8);
const i8 = (v: number) => (v << 24) >> 24;

/**
 * Random blocks of a type with every f16 field overwritten by a sane random value, and the per-element
 * spec formula for one block. Checks the addon against the formula over several blocks.
 */
function checkAgainstSpec(
  type: number,
  blockSize: number,
  typeSize: number,
  f16Offsets: number[],
  elem: (b: Uint8Array, e: number) => number,
  seed: number,
  nblocks = 4,
): void {
  const bytes = randomBytes(nblocks * typeSize, seed);
  const r = rng(seed ^ 0x5eed);
  for (let i = 0; i < nblocks; i++) for (const o of f16Offsets) putU16(bytes, i * typeSize + o, randomF16Bits(r));
  const got = deq(type, bytes, nblocks * blockSize);
  const want: number[] = [];
  for (let i = 0; i < nblocks; i++) {
    const blk = bytes.subarray(i * typeSize, (i + 1) * typeSize);
    for (let e = 0; e < blockSize; e++) want.push(elem(blk, e));
  }
  expect(got).toEqual(want);
}

// ---- spec 2.3-2.5 per-element formulas (independent of ggml's loop structure) ----------------------------

const specLegacyNibble = (qs: Uint8Array, e: number) => (e < 16 ? qs[e] & 0xf : qs[e - 16] >> 4);

const spec = {
  q4_0(b: Uint8Array, e: number): number {
    const d = f16ToNum(u16At(b, 0));
    return f((specLegacyNibble(b.subarray(2), e) - 8) * d);
  },
  q4_1(b: Uint8Array, e: number): number {
    const d = f16ToNum(u16At(b, 0));
    const m = f16ToNum(u16At(b, 2));
    return f(f(specLegacyNibble(b.subarray(4), e) * d) + m);
  },
  q5_0(b: Uint8Array, e: number): number {
    const d = f16ToNum(u16At(b, 0));
    const qh = (b[2] | (b[3] << 8) | (b[4] << 16) | (b[5] << 24)) >>> 0;
    const q = (specLegacyNibble(b.subarray(6), e) | (((qh >>> e) & 1) << 4)) - 16;
    return f(q * d);
  },
  q5_1(b: Uint8Array, e: number): number {
    const d = f16ToNum(u16At(b, 0));
    const m = f16ToNum(u16At(b, 2));
    const qh = (b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24)) >>> 0;
    const q = specLegacyNibble(b.subarray(8), e) | (((qh >>> e) & 1) << 4);
    return f(f(q * d) + m);
  },
  q8_0(b: Uint8Array, e: number): number {
    return f(i8(b[2 + e]) * f16ToNum(u16At(b, 0)));
  },
  q2_K(b: Uint8Array, e: number): number {
    const scales = b.subarray(0, 16);
    const qs = b.subarray(16, 80);
    const d = f16ToNum(u16At(b, 80));
    const dmin = f16ToNum(u16At(b, 82));
    const half = Math.floor(e / 128), r = e % 128;
    const shift = 2 * Math.floor(r / 32), g = Math.floor((r % 32) / 16), l = r % 16;
    const q = (qs[32 * half + 16 * g + l] >> shift) & 3;
    const sc = scales[Math.floor(e / 16)];
    return f(f(f(d * (sc & 0xf)) * q) - f(dmin * (sc >> 4)));
  },
  q3_K(b: Uint8Array, e: number): number {
    const hmask = b.subarray(0, 32);
    const qs = b.subarray(32, 96);
    const sb = b.subarray(96, 108);
    const d = f16ToNum(u16At(b, 108));
    const half = Math.floor(e / 128), r = e % 128, j = Math.floor(r / 32), l = r % 32;
    const low = (qs[32 * half + l] >> (2 * j)) & 3;
    const high = hmask[l] & (1 << (4 * half + j));
    const q = low - (high ? 0 : 4);
    const s = Math.floor(e / 16);
    const scLow = s < 8 ? sb[s] & 0xf : sb[s - 8] >> 4;
    const scHigh = (sb[8 + (s % 4)] >> (2 * Math.floor(s / 4))) & 3;
    const sc = (scLow | (scHigh << 4)) - 32;
    return f(f(d * sc) * q);
  },
  scaleMinK4(sb: Uint8Array, j: number): [number, number] {
    if (j < 4) return [sb[j] & 63, sb[j + 4] & 63];
    return [(sb[j + 4] & 0x0f) | ((sb[j - 4] >> 6) << 4), (sb[j + 4] >> 4) | ((sb[j] >> 6) << 4)];
  },
  q4_K(b: Uint8Array, e: number): number {
    const d = f16ToNum(u16At(b, 0));
    const dmin = f16ToNum(u16At(b, 2));
    const sb = b.subarray(4, 16);
    const qs = b.subarray(16, 144);
    const c = Math.floor(e / 64), r = e % 64;
    const q = r < 32 ? qs[32 * c + r] & 0xf : qs[32 * c + r - 32] >> 4;
    const [sc, m] = spec.scaleMinK4(sb, r < 32 ? 2 * c : 2 * c + 1);
    return f(f(f(d * sc) * q) - f(dmin * m));
  },
  q5_K(b: Uint8Array, e: number): number {
    const d = f16ToNum(u16At(b, 0));
    const dmin = f16ToNum(u16At(b, 2));
    const sb = b.subarray(4, 16);
    const qh = b.subarray(16, 48);
    const qs = b.subarray(48, 176);
    const c = Math.floor(e / 64), r = e % 64;
    let q: number;
    if (r < 32) q = (qs[32 * c + r] & 0xf) + (qh[r] & (1 << (2 * c)) ? 16 : 0);
    else q = (qs[32 * c + r - 32] >> 4) + (qh[r - 32] & (2 << (2 * c)) ? 16 : 0);
    const [sc, m] = spec.scaleMinK4(sb, r < 32 ? 2 * c : 2 * c + 1);
    return f(f(f(d * sc) * q) - f(dmin * m));
  },
  q6_K(b: Uint8Array, e: number): number {
    const ql = b.subarray(0, 128);
    const qh = b.subarray(128, 192);
    const scales = b.subarray(192, 208);
    const d = f16ToNum(u16At(b, 208));
    const h = Math.floor(e / 128), r = e % 128, k = Math.floor(r / 32), l = r % 32;
    const byte = ql[64 * h + l + 32 * (k & 1)];
    const low = k < 2 ? byte & 0xf : byte >> 4;
    const high = (qh[32 * h + l] >> (2 * k)) & 3;
    const q = (low | (high << 4)) - 32;
    return f(f(d * i8(scales[Math.floor(e / 16)])) * q);
  },
  iq4_nl(b: Uint8Array, e: number): number {
    return f(f16ToNum(u16At(b, 0)) * KVALUES[specLegacyNibble(b.subarray(2), e)]);
  },
  iq4_xs(b: Uint8Array, e: number): number {
    const d = f16ToNum(u16At(b, 0));
    const scalesH = u16At(b, 2);
    const scalesL = b.subarray(4, 8);
    const qs = b.subarray(8, 136);
    const ib = Math.floor(e / 32), r = e % 32;
    const ls = ((scalesL[ib >> 1] >> (4 * (ib % 2))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4);
    const nib = r < 16 ? qs[16 * ib + r] & 0xf : qs[16 * ib + r - 16] >> 4;
    return f(f(d * (ls - 32)) * KVALUES[nib]);
  },
};

// ---- type table -----------------------------------------------------------------------------------------

describe('typeTable', () => {
  const rows: Array<[number, string, number, number, string]> = [
    [0, 'F32', 1, 4, 'F32'],
    [1, 'F16', 1, 2, 'F16'],
    [2, 'Q4_0', 32, 18, 'Q8_0'],
    [3, 'Q4_1', 32, 20, 'Q8_1'],
    [6, 'Q5_0', 32, 22, 'Q8_0'],
    [7, 'Q5_1', 32, 24, 'Q8_1'],
    [8, 'Q8_0', 32, 34, 'Q8_0'],
    [9, 'Q8_1', 32, 36, 'Q8_1'],
    [10, 'Q2_K', 256, 84, 'Q8_K'],
    [11, 'Q3_K', 256, 110, 'Q8_K'],
    [12, 'Q4_K', 256, 144, 'Q8_K'],
    [13, 'Q5_K', 256, 176, 'Q8_K'],
    [14, 'Q6_K', 256, 210, 'Q8_K'],
    [15, 'Q8_K', 256, 292, 'Q8_K'],
    [20, 'IQ4_NL', 32, 18, 'Q8_0'],
    [23, 'IQ4_XS', 256, 136, 'Q8_K'],
    [30, 'BF16', 1, 2, 'BF16'],
  ];

  it('has the spec 2.1 rows (name, block size, bytes per block) and the 2.6 vec_dot types', () => {
    const table = addon().typeTable();
    for (const [id, name, blockSize, typeSize, vecDot] of rows) {
      const row = table.find((t) => t.id === id);
      expect(row, `type id ${id}`).toBeDefined();
      expect({ name: row!.name, blockSize: row!.blockSize, typeSize: row!.typeSize, vecDotType: row!.vecDotType }).toEqual({
        name,
        blockSize,
        typeSize,
        vecDotType: vecDot,
      });
      expect(row!.canDequantize, name).toBe(true);
    }
  });

  it('lists removed ids nowhere and marks the reference quantizers', () => {
    const table = addon().typeTable();
    for (const removed of [4, 5, 31, 32, 33, 36, 37, 38]) expect(table.find((t) => t.id === removed)).toBeUndefined();
    const canQ = new Set(table.filter((t) => t.canQuantize).map((t) => t.name));
    for (const n of ['F32', 'F16', 'BF16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q8_1', 'Q8_K']) expect(canQ.has(n), n).toBe(true);
  });
});

// ---- float formats --------------------------------------------------------------------------------------

describe('F32', () => {
  it('passes values through bit for bit', () => {
    const v = [1.5, -0, 0, Infinity, -Infinity, NaN, 3.4028234663852886e38, 1.401298464324817e-45, -123.456];
    const b = new Bytes();
    for (const x of v) b.f32(x);
    expect(deq(T.F32, b.build(), v.length)).toEqual(v.map(f));
  });

  it('quantize is the identity', () => {
    const v = new Float32Array([1, -2.5, 1e-40, -0]);
    expect(Array.from(addon().quantize(T.F32, v))).toEqual(Array.from(new Uint8Array(v.buffer)));
  });
});

describe('F16', () => {
  it('dequantizes normals, subnormals, zeros, infinities and NaN', () => {
    const bits = [0x3c00, 0xc000, 0x3555, 0x0001, 0x03ff, 0x8001, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x7e00];
    const want = [1, -2, 0.333251953125, 2 ** -24, 1023 * 2 ** -24, -(2 ** -24), 2 ** -14, 65504, -65504, Infinity, -Infinity, 0, -0, NaN];
    const b = new Bytes().u16(...bits);
    expect(deq(T.F16, b.build(), bits.length)).toEqual(want);
  });

  it('quantizes with round-to-nearest-even, overflow to inf and subnormal rounding', () => {
    const v = [
      1 + 2 ** -11, // tie between 1 (even) and 1+2^-10 -> 1
      1 + 3 * 2 ** -11, // tie between 1+2^-10 (odd) and 1+2^-9 -> up
      1 + 2 ** -11 + 2 ** -20, // just above the tie -> up
      65504,
      65519, // below the 65520 midpoint -> 65504
      65520, // midpoint, rounds to even = inf
      -1e6,
      2 ** -25, // tie between 0 and 2^-24 -> 0
      3 * 2 ** -25, // tie between 2^-24 (odd) and 2^-23 -> 2^-23
      2 ** -25 + 2 ** -35, // above the tie -> 2^-24
      -(2 ** -26), // -> -0
      2 ** -14 - 2 ** -25, // largest subnormal + half ulp: tie, 0x3ff odd -> 0x400
      -0,
      0.1,
    ];
    const out = addon().quantize(T.F16, new Float32Array(v));
    const u16 = Array.from(new Uint16Array(out.buffer, out.byteOffset, v.length));
    expect(u16).toEqual([0x3c00, 0x3c02, 0x3c01, 0x7bff, 0x7bff, 0x7c00, 0xfc00, 0x0000, 0x0002, 0x0001, 0x8000, 0x0400, 0x8000, 0x2e66]);
  });

  it('quantizes NaN to a NaN', () => {
    const out = addon().quantize(T.F16, new Float32Array([NaN]));
    const h = out[0] | (out[1] << 8);
    expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
  });
});

describe('BF16', () => {
  it('dequantizes as bits << 16', () => {
    const bits = [0x3f80, 0xc040, 0x7f80, 0xff80, 0x0001, 0x8000, 0x4049, 0x7fc0];
    const want = [1, -3, Infinity, -Infinity, 2 ** -133, -0, 3.140625, NaN];
    expect(deq(T.BF16, new Bytes().u16(...bits).build(), bits.length)).toEqual(want);
  });

  it('quantizes with ggml rounding: RNE, overflow to inf, NaN quieted with | 0x40', () => {
    const u32 = new Uint32Array([
      0x3f808000, // 1 + 2^-8: tie, even -> 0x3f80
      0x3f818000, // tie, odd -> 0x3f82
      0x3f808001, // above the tie -> 0x3f81
      0x3f807fff, // below -> 0x3f80
      0x7f7fffff, // FLT_MAX rounds up to inf
      0xbf818000, // negative tie, odd -> 0xbf82
      0x7fc00001, // quiet NaN with payload -> 0x7fc0
      0x7fa00000, // signalling NaN -> 0x7fa0 | 0x40 = 0x7fe0
      0xff800001, // negative signalling NaN -> 0xffc0
      0x00000001, // smallest subnormal -> 0
    ]);
    const out = addon().quantize(T.BF16, new Float32Array(u32.buffer));
    const u16 = Array.from(new Uint16Array(out.buffer, out.byteOffset, u32.length));
    expect(u16).toEqual([0x3f80, 0x3f82, 0x3f81, 0x3f80, 0x7f80, 0xbf82, 0x7fc0, 0x7fe0, 0xffc0, 0x0000]);
  });
});

// ---- legacy blocks --------------------------------------------------------------------------------------

const iota = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

describe('Q4_0', () => {
  it('byte j low nibble is element j, high nibble element j+16; q - 8', () => {
    // byte j = j | (15-j) << 4
    const b = new Bytes().f16(0.5).nibbles(iota(16), iota(16).map((j) => 15 - j));
    const want = [...iota(16).map((j) => (j - 8) * 0.5), ...iota(16).map((j) => (7 - j) * 0.5)];
    expect(deq(T.Q4_0, b.build(), 32)).toEqual(want);
  });

  it('nibble-order trap: a single byte touches elements 0 and 16, not 0 and 1', () => {
    const b = new Bytes().f16(1).u8(0x0f).fill(15, 0x88);
    const out = deq(T.Q4_0, b.build(), 32);
    expect(out[0]).toBe(7);
    expect(out[16]).toBe(-8);
    expect(out[1]).toBe(0);
    expect(out.filter((v) => v !== 0).length).toBe(2);
  });

  it('handles several blocks with their own scales (negative d too)', () => {
    const b = new Bytes().f16(2).fill(16, 0x00).f16(-0.25).fill(16, 0xff);
    expect(deq(T.Q4_0, b.build(), 64)).toEqual([...Array(32).fill(-16), ...Array(32).fill(-1.75)]);
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q4_0, 32, 18, [0], spec.q4_0, 1));
});

describe('Q4_1', () => {
  it('x = d*nibble + m (min offset)', () => {
    const b = new Bytes().f16(0.25).f16(-1.5).nibbles(iota(16), iota(16).map((j) => 15 - j));
    const want = [...iota(16).map((j) => j * 0.25 - 1.5), ...iota(16).map((j) => (15 - j) * 0.25 - 1.5)];
    expect(deq(T.Q4_1, b.build(), 32)).toEqual(want);
  });

  it('rounds d*q then adds m in f32', () => {
    // d = f16(0.1) = 0.0999755859375, m = 0.333251953125
    const d = f16ToNum(0x2e66), m = f16ToNum(0x3555);
    const b = new Bytes().u16(0x2e66, 0x3555).nibbles(iota(16), iota(16));
    const out = deq(T.Q4_1, b.build(), 32);
    const want = iota(16).map((j) => f(f(j * d) + m));
    expect(out).toEqual([...want, ...want]);
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q4_1, 32, 20, [0, 2], spec.q4_1, 2));
});

describe('Q5_0', () => {
  it('takes the 5th bit of element i from bit i of qh (little-endian u32)', () => {
    // qh bit 0 (element 0), bit 16 (element 16), bit 31 (element 31); all nibbles 0xF for byte 0, else 0
    const b = new Bytes().f16(1).u32(0x80010001).u8(0xff).fill(15, 0x00);
    const want = Array(32).fill(-16);
    want[0] = 31 - 16; // nibble 15 | 16
    want[16] = 31 - 16;
    want[31] = 0; // nibble 0 | 16
    expect(deq(T.Q5_0, b.build(), 32)).toEqual(want);
  });

  it('without high bits the range is -16..-1', () => {
    const b = new Bytes().f16(0.5).u32(0).nibbles(iota(16), iota(16).map((j) => 15 - j));
    const want = [...iota(16).map((j) => (j - 16) * 0.5), ...iota(16).map((j) => (15 - j - 16) * 0.5)];
    expect(deq(T.Q5_0, b.build(), 32)).toEqual(want);
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q5_0, 32, 22, [0], spec.q5_0, 3));
});

describe('Q5_1', () => {
  it('x = d*(nibble | bit<<4) + m', () => {
    // qh = 0x0000ffff: elements 0..15 get +16, elements 16..31 do not
    const b = new Bytes().f16(0.5).f16(-4).u32(0x0000ffff).nibbles(iota(16), iota(16));
    const want = [...iota(16).map((j) => (j + 16) * 0.5 - 4), ...iota(16).map((j) => j * 0.5 - 4)];
    expect(deq(T.Q5_1, b.build(), 32)).toEqual(want);
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q5_1, 32, 24, [0, 2], spec.q5_1, 4));
});

describe('Q8_0', () => {
  it('x = d*q with signed bytes', () => {
    const qs = [-128, -127, -1, 0, 1, 2, 127, ...iota(25, -12)];
    const b = new Bytes().f16(0.125).i8(...qs);
    expect(deq(T.Q8_0, b.build(), 32)).toEqual(qs.map((q) => q * 0.125));
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q8_0, 32, 34, [0], spec.q8_0, 5));
});

describe('Q8_1', () => {
  it('dequantizes as d*q, ignoring s', () => {
    const qs = iota(32, -16);
    const b = new Bytes().f16(0.25).f16(1000).i8(...qs);
    expect(deq(T.Q8_1, b.build(), 32)).toEqual(qs.map((q) => q * 0.25));
  });
});

// ---- K-quants -------------------------------------------------------------------------------------------

describe('Q2_K', () => {
  it('element layout, 4-bit scale/min nibbles and d*sc*q - dmin*m', () => {
    // scales: sub-block s has scale (s % 15) + 1, min s % 4
    const scales = iota(16).map((s) => ((s % 4) << 4) | ((s % 15) + 1));
    // qs[0] = 0b11100100: element 0 -> 0, element 32 -> 1, element 64 -> 2, element 96 -> 3
    const qs = Array(64).fill(0);
    qs[0] = 0b11100100;
    qs[16] = 0b00000011; // element 16 -> 3 (second 16-group of the first 32 uses qs[16..31])
    qs[32] = 0b01000000; // second half: element 128+96 = 224 -> 1
    const b = new Bytes().u8(...scales).u8(...qs).f16(0.5).f16(0.25);
    const out = deq(T.Q2_K, b.build(), 256);
    // q = 0 everywhere else: 0.5*sc*0 - 0.25*m (note +0 - 0 = +0, not -0)
    const want = iota(256).map((e) => {
      const s = Math.floor(e / 16);
      return 0.5 * ((s % 15) + 1) * 0 - 0.25 * (s % 4);
    });
    const set = (e: number, q: number) => {
      const s = Math.floor(e / 16);
      want[e] = 0.5 * ((s % 15) + 1) * q - 0.25 * (s % 4);
    };
    set(0, 0);
    set(32, 1);
    set(64, 2);
    set(96, 3);
    set(16, 3);
    set(224, 1);
    expect(out).toEqual(want);
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q2_K, 256, 84, [80, 82], spec.q2_K, 6));
});

/** Pack sixteen 6-bit Q3_K scale codes (0..63) into 12 bytes, per spec 2.4. */
function packQ3KScales(codes: number[]): number[] {
  const b = Array(12).fill(0);
  for (let s = 0; s < 16; s++) {
    const low = codes[s] & 0xf, high = codes[s] >> 4;
    if (s < 8) b[s] |= low;
    else b[s - 8] |= low << 4;
    b[8 + (s % 4)] |= high << (2 * Math.floor(s / 4));
  }
  return b;
}

describe('Q3_K', () => {
  it('hmask bit ABSENT subtracts 4; negative 6-bit scales', () => {
    // codes: scale = code - 32. s0 = 31 -> -1; s1 = 63 -> 31; s8 = 0 -> -32; s15 = 33 -> 1; others 34 -> 2
    const codes = Array(16).fill(34);
    codes[0] = 31;
    codes[1] = 63;
    codes[8] = 0;
    codes[15] = 33;
    const hmask = Array(32).fill(0);
    hmask[0] = 0x01; // element 0 (half 0, j 0, l 0): high bit present
    hmask[1] = 0x10; // element 128+1 = 129 (half 1, j 0, l 1): present
    const qs = Array(64).fill(0);
    qs[0] = 0b00000011; // element 0 low bits 3 -> q = 3 (high present)
    qs[2] = 0b11000000; // element 96+2 = 98 (half 0, j 3, l 2): low 3, high absent -> -1
    const b = new Bytes().u8(...hmask).u8(...qs).u8(...packQ3KScales(codes)).f16(0.5);
    const out = deq(T.Q3_K, b.build(), 256);
    const want = iota(256).map((e) => 0.5 * (codes[Math.floor(e / 16)] - 32) * -4);
    want[0] = 0.5 * -1 * 3;
    want[129] = -0; // low 0, high present: q = 0, scale -32 -> d*sc*q = -0 (sign kept, as in ggml)
    want[98] = 0.5 * (codes[6] - 32) * -1;
    expect(out).toEqual(want);
    // spot checks of the hand-derived values
    expect(out[1]).toBe(2); // scale -1, q -4, d 0.5
    expect(out[16]).toBe(-62); // scale 31
    expect(out[128]).toBe(64); // s8: scale -32
    expect(out[255]).toBe(-2); // s15: scale 1
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q3_K, 256, 110, [108], spec.q3_K, 7));
});

describe('Q4_K', () => {
  it('6-bit scale/min unpacking for j < 4 and j >= 4', () => {
    const sb = Array(12).fill(0);
    // j=0: sc = b[0]&63 = 5, m = b[4]&63 = 7; the top two bits of b[0] and b[4] feed j=4
    sb[0] = 0xc0 | 5;
    sb[4] = 0x40 | 7;
    // j=4: sc = (b[8]&15) | (b[0]>>6)<<4 = 1 | 48 = 49; m = (b[8]>>4) | (b[4]>>6)<<4 = 2 | 16 = 18
    sb[8] = 0x21;
    // j=7: sc = (b[11]&15) | (b[3]>>6)<<4; m = (b[11]>>4) | (b[7]>>6)<<4
    sb[3] = 0x80 | 10; // j=3 sc 10, j=7 sc high bits 2
    sb[7] = 0x00 | 3; // j=3 m 3
    sb[11] = 0xf4; // j=7: sc = 4 | 32 = 36, m = 15
    const qs = Array(128).fill(0x00);
    qs[0] = 0x3a; // element 0 -> 10 (sub 0), element 32 -> 3 (sub 1)
    qs[64] = 0x01; // element 128 -> 1 (sub 4)
    qs[127] = 0xf0; // element 223 -> 0 (sub 6); element 255 -> 15 (sub 7)
    const b = new Bytes().f16(0.5).f16(0.25).u8(...sb).u8(...qs);
    const out = deq(T.Q4_K, b.build(), 256);
    expect(out[0]).toBe(0.5 * 5 * 10 - 0.25 * 7);
    expect(out[1]).toBe(-0.25 * 7);
    expect(out[32]).toBe(0.5 * 0 * 3 - 0.25 * 0); // sub 1: sc = b[1]&63 = 0, m = b[5]&63 = 0
    expect(out[128]).toBe(0.5 * 49 * 1 - 0.25 * 18);
    expect(out[129]).toBe(-0.25 * 18);
    expect(out[223]).toBe(0);
    expect(out[192 + 31]).toBe(0);
    expect(out[255]).toBe(0.5 * 36 * 15 - 0.25 * 15);
    expect(out[200]).toBe(0); // sub 6: sc = b[10]&15 | b[2]>>6 << 4 = 0
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q4_K, 256, 144, [0, 2], spec.q4_K, 8));
});

describe('Q5_K', () => {
  it('qh bit 2c for low nibbles and bit 2c+1 for high nibbles of chunk c', () => {
    // all scales 1, mins 0 (j<4: b[j]=1, b[j+4]=0; j>=4: b[j+4] = 1)
    const sb = [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1];
    const qh = Array(32).fill(0);
    qh[0] = 0b00000001; // element 0 (+16)
    qh[1] = 0b00000010; // element 32+1 = 33 (+16)
    qh[2] = 0b01000000; // chunk 3 low nibble: element 192+2 = 194
    qh[3] = 0b10000000; // chunk 3 high nibble: element 224+3 = 227
    const qs = Array(128).fill(0x21); // low nibble 1, high nibble 2
    const b = new Bytes().f16(1).f16(0).u8(...sb).u8(...qh).u8(...qs);
    const out = deq(T.Q5_K, b.build(), 256);
    const want = iota(256).map((e) => ((e % 64) < 32 ? 1 : 2));
    want[0] += 16;
    want[33] += 16;
    want[194] += 16;
    want[227] += 16;
    expect(out).toEqual(want);
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q5_K, 256, 176, [0, 2], spec.q5_K, 9));
});

describe('Q6_K', () => {
  it('signed 8-bit scales and (low | high<<4) - 32', () => {
    const ql = Array(128).fill(0);
    const qh = Array(64).fill(0);
    const scales = Array(16).fill(1);
    scales[0] = -3;
    scales[15] = -128;
    ql[0] = 0xf5; // element 0 low = 5, element 64 low = 15
    qh[0] = 0b11100100; // element 0 high 0, element 32 high 1, element 64 high 2, element 96 high 3
    ql[32] = 0x0a; // element 32 low = 10
    ql[127] = 0xf0; // h=1, l=31, k=3: element 128+96+31 = 255 low = 15
    qh[63] = 0xc0; // element 255 high = 3
    const b = new Bytes().u8(...ql).u8(...qh).i8(...scales).f16(0.5);
    const out = deq(T.Q6_K, b.build(), 256);
    const want = iota(256).map((e) => 0.5 * scales[Math.floor(e / 16)] * -32);
    want[0] = 0.5 * -3 * (5 - 32);
    want[32] = 0.5 * 1 * ((10 | 16) - 32);
    want[64] = 0.5 * 1 * ((15 | 32) - 32);
    want[96] = 0.5 * 1 * (48 - 32);
    want[255] = 0.5 * -128 * (63 - 32);
    expect(out).toEqual(want);
    expect(out[1]).toBe(48); // 0.5 * -3 * -32
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.Q6_K, 256, 210, [208], spec.q6_K, 10));
});

describe('Q8_K', () => {
  it('dequantizes with an f32 d', () => {
    const qs = iota(256).map((i) => (i % 255) - 127);
    const d = f(0.1);
    const b = new Bytes().f32(0.1).i8(...qs).fill(32, 0);
    expect(deq(T.Q8_K, b.build(), 256)).toEqual(qs.map((q) => f(d * q)));
  });
});

// ---- IQ4 ------------------------------------------------------------------------------------------------

describe('IQ4_NL', () => {
  it('codebook lookup, low nibble element j, high nibble element j+16', () => {
    const b = new Bytes().f16(0.5).nibbles(iota(16), iota(16).map((j) => 15 - j));
    const want = [...iota(16).map((j) => 0.5 * KVALUES[j]), ...iota(16).map((j) => 0.5 * KVALUES[15 - j])];
    expect(deq(T.IQ4_NL, b.build(), 32)).toEqual(want);
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.IQ4_NL, 32, 18, [0], spec.iq4_nl, 11));
});

describe('IQ4_XS', () => {
  it('6-bit scales from scales_l nibbles and scales_h bit pairs', () => {
    // ls codes per sub-block ib: 42, 5, 32, 63, 0, 33, 31, 47
    const ls = [42, 5, 32, 63, 0, 33, 31, 47];
    let scalesH = 0;
    const scalesL = [0, 0, 0, 0];
    for (let ib = 0; ib < 8; ib++) {
      scalesL[ib >> 1] |= (ls[ib] & 0xf) << (4 * (ib % 2));
      scalesH |= (ls[ib] >> 4) << (2 * ib);
    }
    expect(scalesL[0]).toBe(0x5a); // hand check of the packing: ib0 low = 0xA, ib1 = 5
    expect(scalesH & 0xf).toBe(0b0010); // ib0 high = 2, ib1 high = 0
    const qs: number[] = [];
    for (let ib = 0; ib < 8; ib++) for (let j = 0; j < 16; j++) qs.push(j | ((15 - j) << 4));
    const b = new Bytes().f16(0.25).u16(scalesH).u8(...scalesL).u8(...qs);
    const want: number[] = [];
    for (let ib = 0; ib < 8; ib++) {
      const dl = 0.25 * (ls[ib] - 32);
      for (let j = 0; j < 16; j++) want.push(dl * KVALUES[j]);
      for (let j = 0; j < 16; j++) want.push(dl * KVALUES[15 - j]);
    }
    const out = deq(T.IQ4_XS, b.build(), 256);
    expect(out).toEqual(want);
    expect(out[0]).toBe(0.25 * 10 * -127);
    expect(out[32]).toBe(0.25 * -27 * -127);
    expect(out[128]).toBe(0.25 * -32 * -127);
  });

  it('matches the spec formula on random blocks', () => checkAgainstSpec(T.IQ4_XS, 256, 136, [0], spec.iq4_xs, 12));
});

// ---- reference quantizers -------------------------------------------------------------------------------

function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * scale * (i % 7 === 0 ? 3 : 1);
  return v;
}

describe('quantize -> dequantize round trips', () => {
  const cases: Array<{ name: string; id: number; size: number; bound: (x: Float32Array, d: number, m: number) => number; hasMin: boolean }> = [
    // Q4_0/Q5_0: d = max/-8 (/-16); the far side of the range clamps at 7 (15), so up to one step of error.
    { name: 'Q4_0', id: T.Q4_0, size: 18, hasMin: false, bound: (_x, d) => Math.abs(d) * 1.01 },
    { name: 'Q5_0', id: T.Q5_0, size: 22, hasMin: false, bound: (_x, d) => Math.abs(d) * 1.01 },
    // Q4_1/Q5_1: half a step plus the f16 rounding of d (times up to 31) and of m.
    { name: 'Q4_1', id: T.Q4_1, size: 20, hasMin: true, bound: (_x, d, m) => d * 0.5 + d * 15 * 2 ** -11 + Math.abs(m) * 2 ** -11 + 1e-6 },
    { name: 'Q5_1', id: T.Q5_1, size: 24, hasMin: true, bound: (_x, d, m) => d * 0.5 + d * 31 * 2 ** -11 + Math.abs(m) * 2 ** -11 + 1e-6 },
    // Q8_0: half a step plus the f16 rounding of d times up to 127.
    { name: 'Q8_0', id: T.Q8_0, size: 34, hasMin: false, bound: (_x, d) => Math.abs(d) * (0.5 + 127 * 2 ** -11) + 1e-7 },
  ];
  for (const c of cases) {
    it(`${c.name}: error bounded by the block scale`, () => {
      const nb = 64;
      const x = randomFloats(nb * 32, 100 + c.id, 2);
      const q = addon().quantize(c.id, x);
      expect(q.length).toBe(nb * c.size);
      const y = addon().dequantize(c.id, q, x.length);
      for (let i = 0; i < nb; i++) {
        const d = f16ToNum(u16At(q, i * c.size));
        const m = c.hasMin ? f16ToNum(u16At(q, i * c.size + 2)) : 0;
        const bound = c.bound(x, d, m);
        let worst = 0;
        for (let j = 0; j < 32; j++) worst = Math.max(worst, Math.abs(y[i * 32 + j] - x[i * 32 + j]));
        expect(worst, `${c.name} block ${i}`).toBeLessThanOrEqual(bound);
      }
    });
  }

  it('an all-zero block quantizes to d = 0 and dequantizes to zeros', () => {
    for (const id of [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q8_1]) {
      const y = addon().dequantize(id, addon().quantize(id, new Float32Array(32)), 32);
      expect(Array.from(y).every((v) => v === 0), `type ${id}`).toBe(true);
    }
  });
});

describe('reference quantizer bit patterns', () => {
  it('Q4_0: d = max/-8 keeping the sign, q = min(15, trunc(x/d + 8.5))', () => {
    const x = new Float32Array(32);
    x[0] = -8; // max |x| is negative -> d = 1
    x[1] = 7.6; // 7.6 + 8.5 = 16.1 -> clamped to 15
    x[2] = 0.4; // 8.9 -> 8
    x[3] = -0.6; // 7.9 -> 7
    x[16] = 3; // -> 11, high nibble of byte 0
    const q = addon().quantize(T.Q4_0, x);
    expect(u16At(q, 0)).toBe(0x3c00); // d = +1
    expect(q[2]).toBe(0 | (11 << 4));
    expect(q[3]).toBe(15 | (8 << 4));
    expect(q[4]).toBe(8 | (8 << 4));
    expect(q[5]).toBe(7 | (8 << 4));
  });

  it('Q5_0 stores the 5th bits in qh (element i -> bit i)', () => {
    const x = new Float32Array(32);
    x[31] = 16; // d = -1; q = trunc(-16 + 16.5) = 0
    x[0] = -15; // 15 + 16.5 -> 31: bit 0 set
    x[17] = -1; // 17.5 -> 17: bit 17 set, nibble 1
    const q = addon().quantize(T.Q5_0, x);
    expect(u16At(q, 0)).toBe(0xbc00); // d = -1
    const qh = (q[2] | (q[3] << 8) | (q[4] << 16) | (q[5] << 24)) >>> 0;
    // every zero element is 16.5 -> 16, which has bit 4 set; element 31 is 0
    expect(qh).toBe(0x7fffffff);
    expect(q[6]).toBe(0xf | (0x0 << 4)); // element 0 nibble 15, element 16 nibble 0
    expect(q[6 + 1]).toBe(0x0 | (0x1 << 4)); // element 1 nibble 0, element 17 nibble 1
    expect(q[6 + 15] >> 4).toBe(0); // element 31 nibble 0
  });

  it('Q4_1 / Q5_1: d = (max-min)/15 (/31), m = min, q = trunc((x-min)/d + 0.5)', () => {
    const x = new Float32Array(32).fill(0);
    x[0] = -1;
    x[1] = 2; // range 3: d4 = 0.2, d5 = 3/31
    x[2] = 0.1; // (1.1)/0.2 = 5.5 -> +0.5 -> 6
    const q4 = addon().quantize(T.Q4_1, x);
    expect(f16ToNum(u16At(q4, 0))).toBe(f16ToNum(0x3266)); // f16(0.2)
    expect(f16ToNum(u16At(q4, 2))).toBe(-1);
    expect(q4[4] & 0xf).toBe(0);
    expect(q4[5] & 0xf).toBe(15);
    const y5 = addon().dequantize(T.Q5_1, addon().quantize(T.Q5_1, x), 32);
    expect(y5[0]).toBe(-1);
    expect(Math.abs(y5[1] - 2)).toBeLessThan(0.01);
  });

  it('Q8_0 ref rounds ties away from zero (roundf) with id = 1/d', () => {
    // amax = 127 -> d = 1 exactly, id = 1: the products are the inputs themselves
    const x = new Float32Array(32);
    const vals = [127, 2.5, -2.5, 0.5, -0.5, 1.5, -1.5, 3.5, 0.49999997, -126.5];
    vals.forEach((v, i) => (x[i] = v));
    const q = addon().quantize(T.Q8_0, x);
    expect(u16At(q, 0)).toBe(0x3c00);
    const qs = Array.from(new Int8Array(q.buffer, q.byteOffset + 2, 32)).slice(0, vals.length);
    expect(qs).toEqual([127, 3, -3, 1, -1, 2, -2, 4, 0, -127]);
  });

  it('Q8_0 ref computes quants with the unrounded d', () => {
    // amax = 1 -> d = 1/127 (f16 rounds it), id = 1/d in f32; x = 0.5 -> 63.5 -> 64
    const x = new Float32Array(32);
    x[0] = 1;
    x[1] = 0.5;
    x[2] = -0.25;
    const q = addon().quantize(T.Q8_0, x);
    const d = f(1 / 127);
    const id = f(1 / d);
    expect(f16ToNum(u16At(q, 0))).toBe(f16ToNum(0x2008)); // f16(1/127) = 0.007873535...
    const qs = new Int8Array(q.buffer, q.byteOffset + 2, 32);
    const roundAway = (v: number) => Math.sign(v) * Math.round(Math.abs(v));
    expect([qs[0], qs[1], qs[2]]).toEqual([roundAway(f(1 * id)), roundAway(f(0.5 * id)), roundAway(f(-0.25 * id))]);
  });

  it('Q8_1 ref: s = f16(d * sum(q))', () => {
    const x = randomFloats(32, 77);
    const q = addon().quantize(T.Q8_1, x);
    let amax = 0;
    for (const v of x) amax = Math.max(amax, Math.abs(v));
    const d = f(amax / 127);
    const qs = new Int8Array(q.buffer, q.byteOffset + 4, 32);
    let sum = 0;
    for (const v of qs) sum += v;
    const s = f16ToNum(u16At(q, 2));
    // f32 product then f16 rounding: compare through the f16 quantizer
    const want = addon().quantize(T.F16, new Float32Array([f(sum * d)]));
    expect(u16At(q, 2)).toBe(u16At(want, 0));
    expect(Math.abs(s - sum * d)).toBeLessThanOrEqual(Math.abs(sum * d) * 2 ** -11 + 1e-7);
  });

  it('Q8_K: iscale = -127/max (signed), RNE (ties to even), f32 d = 1/iscale, bsums of 16', () => {
    const x = new Float32Array(256);
    x[0] = 127; // max = +127 -> iscale = -1, d = -1: the quants are -x rounded to nearest even
    x[1] = 2.5; // -2.5 -> -2 (roundf would give -3)
    x[2] = -1.5; // 1.5 -> 2
    x[3] = 0.5; // -0.5 -> 0
    x[4] = 3.5; // -3.5 -> -4
    x[5] = -0.7; // 0.7 -> 1
    x[17] = -127; // 127
    x[40] = 126.5; // -126.5 -> -126
    const q = addon().quantize(T.Q8_K, x);
    expect(q.length).toBe(292);
    const d = new Float32Array(q.buffer.slice(q.byteOffset, q.byteOffset + 4))[0];
    expect(d).toBe(-1);
    const qs = new Int8Array(q.buffer, q.byteOffset + 4, 256);
    expect([qs[0], qs[1], qs[2], qs[3], qs[4], qs[5], qs[17], qs[40]]).toEqual([-127, -2, 2, 0, -4, 1, 127, -126]);
    const bsums = new Int16Array(q.buffer.slice(q.byteOffset + 260, q.byteOffset + 292));
    expect(Array.from(bsums)).toEqual([-127 - 2 + 2 + 0 - 4 + 1, 127, -126, ...Array(13).fill(0)]);
    const y = addon().dequantize(T.Q8_K, q, 256);
    expect(y[1]).toBe(2);
  });

  it('Q8_K: positive max gives a negative d; d = 1/(-127/max) in f32', () => {
    const x = new Float32Array(256);
    x[7] = 0.3;
    x[8] = -0.1;
    const q = addon().quantize(T.Q8_K, x);
    const d = new Float32Array(q.buffer.slice(q.byteOffset, q.byteOffset + 4))[0];
    const iscale = f(-127 / f(0.3));
    expect(d).toBe(f(1 / iscale));
    const qs = new Int8Array(q.buffer, q.byteOffset + 4, 256);
    expect(qs[7]).toBe(-127);
    expect(qs[8]).toBe(Math.round(f(iscale * f(-0.1))));
  });

  it('Q8_K: an all-zero block gives d = 0, zero quants and zero bsums', () => {
    const q = addon().quantize(T.Q8_K, new Float32Array(256));
    expect(Array.from(q).every((v) => v === 0)).toBe(true);
  });
});

// ---- errors ---------------------------------------------------------------------------------------------

describe('errors', () => {
  it('rejects unknown and removed type ids', () => {
    expect(() => addon().dequantize(99, new Uint8Array(64), 32)).toThrow();
    expect(() => addon().dequantize(4, new Uint8Array(64), 32)).toThrow();
    expect(() => addon().quantize(1000, new Float32Array(32))).toThrow();
  });

  it('rejects n that is not a multiple of the block size, or too few bytes', () => {
    expect(() => addon().dequantize(T.Q4_0, new Uint8Array(36), 31)).toThrow();
    expect(() => addon().dequantize(T.Q4_K, new Uint8Array(144), 128)).toThrow();
    expect(() => addon().dequantize(T.Q4_0, new Uint8Array(17), 32)).toThrow();
    expect(() => addon().dequantize(T.F16, new Uint8Array(3), 2)).toThrow();
    expect(() => addon().quantize(T.Q8_0, new Float32Array(33))).toThrow();
  });

  it('rejects types without a dequantizer or a reference quantizer', () => {
    expect(() => addon().dequantize(16 /* IQ2_XXS */, new Uint8Array(66), 256)).toThrow();
    expect(() => addon().quantize(23 /* IQ4_XS */, new Float32Array(256))).toThrow(/no reference quantizer/);
  });
});
