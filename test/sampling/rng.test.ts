// mt19937 and the double draw must match libstdc++ bit for bit, or seeded runs diverge from llama.cpp.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SEED, Mt19937, resolveSeed } from '../../src/sampling/rng.js';

describe('Mt19937', () => {
  it('gives the C++ standard check value: the 10000th output of the default seed is 4123659995', () => {
    const r = new Mt19937(5489);
    let v = 0;
    for (let i = 0; i < 10000; i++) v = r.nextU32();
    expect(v).toBe(4123659995);
  });

  it('std::mt19937(42) starts 1608637542, 3421126067', () => {
    const r = new Mt19937(42);
    expect([r.nextU32(), r.nextU32()]).toEqual([1608637542, 3421126067]);
  });

  it('draws doubles in [0, 1) from two outputs, low word first (generate_canonical)', () => {
    const a = new Mt19937(42);
    const b = new Mt19937(42);
    for (let i = 0; i < 1000; i++) {
      const u = a.uniform();
      const lo = b.nextU32();
      const hi = b.nextU32();
      expect(u).toBe((lo + hi * 2 ** 32) / 2 ** 64);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
  });

  it('re-seeding restarts the stream', () => {
    const r = new Mt19937(7);
    const first = [r.uniform(), r.uniform()];
    r.seed(7);
    expect([r.uniform(), r.uniform()]).toEqual(first);
  });

  it('the default seed means a random one; any other seed is kept', () => {
    expect(resolveSeed(1234)).toBe(1234);
    const a = resolveSeed(DEFAULT_SEED);
    const b = resolveSeed(DEFAULT_SEED);
    expect(a === b && a === DEFAULT_SEED).toBe(false);
  });
});
