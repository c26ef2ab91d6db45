// Each sampler on small hand-made distributions, against llama.cpp's semantics (llama-sampling.cpp).
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { Candidates, heapPositions } from '../../src/sampling/candidates.js';
import { DistSampler } from '../../src/sampling/dist.js';
import { LogitBiasSampler } from '../../src/sampling/logit-bias.js';
import { MinPSampler } from '../../src/sampling/min-p.js';
import { PenaltiesSampler } from '../../src/sampling/penalties.js';
import { Mt19937 } from '../../src/sampling/rng.js';
import { TemperatureSampler } from '../../src/sampling/temperature.js';
import { TopKSampler } from '../../src/sampling/top-k.js';
import { TopPSampler } from '../../src/sampling/top-p.js';

const cands = (logits: number[]) => Candidates.from(logits.map((l, i) => [i, l]));
const ids = (c: Candidates) => Array.from(c.ids.subarray(0, c.size));
const logits = (c: Candidates) => Array.from(c.logits.subarray(0, c.size));
/** logits whose softmax is exactly proportional to `probs` */
const fromProbs = (probs: number[]) => probs.map(Math.log);

describe('top-k', () => {
  it('keeps the k highest, sorted, earlier token first on ties', () => {
    const c = cands([1, 5, 3, 5, 2]);
    new TopKSampler(3).apply(c);
    expect(ids(c)).toEqual([1, 3, 2]);
    expect(c.sorted).toBe(true);
  });
  it('is a no-op for k <= 0 and clamps k to the size', () => {
    const c = cands([1, 2]);
    new TopKSampler(0).apply(c);
    expect(ids(c)).toEqual([0, 1]);
    new TopKSampler(10).apply(c);
    expect(ids(c)).toEqual([1, 0]);
  });
  it('heap selection with many ties gives the full sort\'s order (logit descending, earlier token first)', () => {
    for (const [n, k, levels] of [[512, 40, 7], [1000, 40, 3], [333, 17, 50]] as const) {
      const l = Array.from({ length: n }, (_, i) => ((i * 7919) % levels) / 4);
      const c = cands(l);
      new TopKSampler(k).apply(c);
      const expected = l.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map(([, i]) => i);
      expect(ids(c), `n=${n} k=${k}`).toEqual(expected);
    }
  });
  it('selects from a large vocabulary without sorting it (same result as a full sort)', () => {
    const n = 50_000;
    const l = Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 7);
    const c = cands(l);
    new TopKSampler(40).apply(c);
    const expected = l.map((v, i) => [Math.fround(v), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 40).map(([, i]) => i);
    expect(ids(c)).toEqual(expected);
  });
  it('native topK = the JS heap reference on every input, ties, NaN, -0 and infinities included', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const specials = [NaN, -0, 0, Infinity, -Infinity, 1, -1];
    for (const n of [1, 2, 7, 41, 97, 513, 4099]) {
      for (const k of [1, 3, 40, n - 1, n, n + 5]) {
        if (k < 1) continue;
        for (const mode of ['random', 'ties', 'specials'] as const) {
          const v = new Float32Array(n + 3); // values past n must be ignored
          for (let i = 0; i < v.length; i++) {
            v[i] = mode === 'random' ? rnd() * 20 - 10 : mode === 'ties' ? Math.floor(rnd() * 4) : specials[Math.floor(rnd() * specials.length)];
          }
          const native = Array.from(addon().topK(v, n, k));
          const ref = Array.from(heapPositions(v, n, Math.min(k, n)));
          expect(native, `n=${n} k=${k} ${mode}`).toEqual(ref);
        }
      }
    }
    // keepTop (native selection + gather in place) moves ids, logits and probs together
    for (const [n, k] of [[600, 40], [97, 3], [4099, 64]] as const) {
      const entries: Array<[number, number]> = Array.from({ length: n }, (_, i) => [n - i, Math.floor(rnd() * 9)]);
      const c = Candidates.from(entries);
      for (let i = 0; i < n; i++) c.probs[i] = i / n;
      const pos = Array.from(heapPositions(c.logits, n, k));
      c.keepTop(k);
      expect(ids(c), `keepTop n=${n} k=${k}`).toEqual(pos.map((p) => n - p));
      expect(logits(c)).toEqual(pos.map((p) => entries[p][1]));
      expect(Array.from(c.probs.subarray(0, k))).toEqual(pos.map((p) => Math.fround(p / n)));
      expect(c.sorted).toBe(true);
    }
    expect(addon().topK(new Float32Array(4), 0, 3).length).toBe(0);
    expect(() => addon().topK(new Float32Array(4), 5, 1)).toThrow(/n=5/);
    expect(() => addon().topK(new Float32Array(4), 4, -1)).toThrow(/k=-1/);
  });
});

describe('top-p', () => {
  it('keeps the smallest prefix reaching p', () => {
    const c = cands(fromProbs([0.15, 0.5, 0.05, 0.3]));
    new TopPSampler(0.75).apply(c);
    expect(ids(c)).toEqual([1, 3]);
    const d = cands(fromProbs([0.15, 0.5, 0.05, 0.3]));
    new TopPSampler(0.9).apply(d);
    expect(ids(d)).toEqual([1, 3, 0]);
  });
  it('is a no-op at p >= 1 and honours min_keep', () => {
    const c = cands(fromProbs([0.9, 0.1]));
    new TopPSampler(1).apply(c);
    expect(c.size).toBe(2);
    const d = cands(fromProbs([0.9, 0.05, 0.05]));
    new TopPSampler(0.5, 2).apply(d);
    expect(d.size).toBe(2);
  });
  it('widens past its first 256 on a large flat set', () => {
    const n = 3000;
    const c = cands(Array.from({ length: n }, (_, i) => (i % 7) * 0.001));
    new TopPSampler(0.5).apply(c);
    expect(c.size).toBeGreaterThan(1000);
    const kept = logits(c);
    for (let i = 1; i < kept.length; i++) expect(kept[i]).toBeLessThanOrEqual(kept[i - 1]);
  });
});

describe('min-p', () => {
  it('drops tokens below p times the best probability, keeping order', () => {
    const c = cands([-1, 0, -3, -2.2, -5]);
    new MinPSampler(0.1).apply(c); // ln(0.1) = -2.303
    expect(ids(c)).toEqual([0, 1, 3]);
  });
  it('works on sorted candidates and is a no-op at p <= 0', () => {
    const c = cands([0, -1, -2.2, -3]);
    c.sorted = true;
    new MinPSampler(0.1).apply(c);
    expect(ids(c)).toEqual([0, 1, 2]);
    const d = cands([0, -10]);
    new MinPSampler(0).apply(d);
    expect(d.size).toBe(2);
  });
});

describe('temperature', () => {
  it('divides logits', () => {
    const c = cands([1, -2, 4]);
    new TemperatureSampler(0.5).apply(c);
    expect(logits(c)).toEqual([2, -4, 8]);
  });
  it('temp <= 0 keeps only the first maximum', () => {
    const c = cands([1, 7, 3, 7]);
    new TemperatureSampler(0).apply(c);
    expect(logits(c)).toEqual([-Infinity, 7, -Infinity, -Infinity]);
  });
});

describe('penalties', () => {
  it('divides positive and multiplies negative logits of repeated tokens', () => {
    const p = new PenaltiesSampler({ lastN: 64, repeat: 2, frequency: 0, presence: 0 });
    p.accept(0);
    p.accept(1);
    const c = cands([4, -4, 4]);
    p.apply(c);
    expect(logits(c)).toEqual([2, -8, 4]);
  });
  it('subtracts count * frequency + presence', () => {
    const p = new PenaltiesSampler({ lastN: 64, repeat: 1, frequency: 0.5, presence: 1 });
    for (const t of [2, 2, 2, 0]) p.accept(t);
    const c = cands([0, 0, 0]);
    p.apply(c);
    expect(logits(c)).toEqual([-1.5, 0, -2.5]);
  });
  it('only looks at the last N tokens, and is off for N = 0 or neutral settings', () => {
    const p = new PenaltiesSampler({ lastN: 2, repeat: 1, frequency: 1, presence: 0 });
    for (const t of [0, 1, 2]) p.accept(t);
    const c = cands([0, 0, 0]);
    p.apply(c);
    expect(logits(c)).toEqual([0, -1, -1]);
    const off = new PenaltiesSampler({ lastN: 0, repeat: 2, frequency: 1, presence: 1 });
    off.accept(0);
    const d = cands([3]);
    off.apply(d);
    expect(logits(d)).toEqual([3]);
    p.reset();
    const e = cands([0, 0, 0]);
    p.apply(e);
    expect(logits(e)).toEqual([0, 0, 0]);
  });
  it('finds tokens in a shuffled candidate set too', () => {
    const p = new PenaltiesSampler({ lastN: 8, repeat: 1, frequency: 0, presence: 2 });
    p.accept(7);
    const c = Candidates.from([[9, 1], [7, 1], [3, 1]]);
    p.apply(c);
    expect(logits(c)).toEqual([1, -1, 1]);
  });
});

describe('logit bias', () => {
  it('adds biases and bans with -Infinity', () => {
    const c = cands([0, 0, 0]);
    new LogitBiasSampler(new Map([[0, 1.5], [2, -Infinity]])).apply(c);
    expect(logits(c)).toEqual([1.5, 0, -Infinity]);
    const d = cands([0, 0]);
    new LogitBiasSampler({ 1: 2 }).apply(d);
    expect(logits(d)).toEqual([0, 2]);
  });
});

describe('dist', () => {
  it('picks the first candidate whose running sum reaches u * sum, u from the seeded mt19937', () => {
    const probs = [0.1, 0.2, 0.3, 0.4];
    const rng = new Mt19937(1234);
    const dist = new DistSampler(1234);
    for (let i = 0; i < 200; i++) {
      const c = cands(fromProbs(probs));
      dist.apply(c);
      const u = rng.uniform();
      let run = 0;
      let expected = -1;
      for (let j = 0; j < probs.length; j++) {
        run += Math.exp(Math.fround(Math.log(probs[j])) - Math.fround(Math.log(0.4)));
        if (expected < 0 && run >= u * (1 / 0.4)) expected = j;
      }
      expect(c.selected).toBe(expected);
    }
  });
  it('follows the distribution and fills normalized probabilities', () => {
    const dist = new DistSampler(99);
    const counts = [0, 0];
    for (let i = 0; i < 10_000; i++) {
      const c = cands(fromProbs([0.2, 0.8]));
      dist.apply(c);
      counts[c.selected]++;
      if (i === 0) expect(c.probs[0]).toBeCloseTo(0.2, 6);
    }
    expect(counts[0] / 10_000).toBeGreaterThan(0.18);
    expect(counts[0] / 10_000).toBeLessThan(0.22);
  });
  it('never picks a banned (-Infinity) token and resets to the same stream', () => {
    const dist = new DistSampler(5);
    const seq = () =>
      Array.from({ length: 50 }, () => {
        const c = cands([0, -Infinity, 0.5]);
        dist.apply(c);
        return c.selected;
      });
    const a = seq();
    expect(a).not.toContain(1);
    dist.reset();
    expect(seq()).toEqual(a);
  });
});
