// The default chain: llama.cpp's order and defaults, seeded reproducibility, greedy, ignore-eos.
import { describe, expect, it } from 'vitest';
import { SAMPLING_DEFAULTS, SamplerChain } from '../../src/sampling/chain.js';

function randomLogits(n: number, seed: number): Float32Array {
  const l = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    l[i] = (s / 2 ** 32) * 12 - 6;
  }
  return l;
}

describe('sampler chain', () => {
  it("has llama.cpp's defaults", () => {
    expect(SAMPLING_DEFAULTS).toMatchObject({ temp: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, repeatLastN: 64, seed: 0xffffffff });
  });

  it('runs penalties -> top-k -> top-p -> min-p -> temperature -> dist (bias first when set)', () => {
    expect(new SamplerChain(10).samplers.map((s) => s.name)).toEqual(['penalties', 'top-k', 'top-p', 'min-p', 'temperature', 'dist']);
    expect(new SamplerChain(10, { logitBias: { 1: 1 } }).samplers[0].name).toBe('logit-bias');
  });

  it('applies top-p to un-tempered logits (temperature comes last)', () => {
    // softmax(2,1,0) = .665 .245 .090: top-p 0.7 keeps two; tempered by 0.1 first it would keep one
    const chain = new SamplerChain(3, { topK: 0, minP: 0, topP: 0.7, temp: 0.1, seed: 1 });
    chain.sample(Float32Array.of(2, 1, 0));
    expect(chain.candidates.size).toBe(2);
  });

  it('same seed, same tokens; another seed, other tokens', () => {
    const n = 5000;
    const run = (seed: number) => {
      const chain = new SamplerChain(n, { seed, topK: 0, topP: 1, minP: 0, temp: 1.5 });
      return Array.from({ length: 30 }, (_, i) => chain.sample(randomLogits(n, i)));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it('reset() re-seeds and forgets penalties history', () => {
    const n = 1000;
    const chain = new SamplerChain(n, { seed: 3, repeatPenalty: 1.3 });
    const draw = () => Array.from({ length: 20 }, (_, i) => {
      const t = chain.sample(randomLogits(n, i));
      chain.accept(t);
      return t;
    });
    const a = draw();
    chain.reset();
    expect(draw()).toEqual(a);
  });

  it('temp <= 0 is greedy: argmax, first index on ties, whatever the seed', () => {
    const logits = Float32Array.of(0.5, 3, -1, 3, 2);
    for (const seed of [1, 2, 3]) expect(new SamplerChain(5, { temp: 0, seed }).sample(logits)).toBe(1);
    expect(new SamplerChain(5, { temp: -1, topK: 1 }).sample(logits)).toBe(1);
  });

  it('never writes into the logits it is given', () => {
    const logits = randomLogits(500, 9);
    const copy = logits.slice();
    const chain = new SamplerChain(500, { seed: 1, repeatPenalty: 1.5, logitBias: { 3: 5 } });
    chain.accept(7);
    chain.sample(logits);
    expect(logits).toEqual(copy);
  });

  it('repetition penalty steers greedy decoding away from repeated tokens', () => {
    const logits = Float32Array.of(5, 4.9, 0);
    const chain = new SamplerChain(3, { temp: 0, repeatPenalty: 1.5 });
    expect(chain.sample(logits)).toBe(0);
    chain.accept(0);
    expect(chain.sample(logits)).toBe(1);
  });

  it('logit bias and ignore-eos ban tokens', () => {
    const logits = Float32Array.of(10, 0, 0, 9);
    expect(new SamplerChain(4, { temp: 0, logitBias: { 0: -Infinity } }).sample(logits)).toBe(3);
    const chain = new SamplerChain(4, { seed: 1, ignoreEos: true, eogTokens: [0, 3] });
    for (let i = 0; i < 20; i++) expect([1, 2]).toContain(chain.sample(logits));
    expect(() => new SamplerChain(4, { ignoreEos: true })).toThrow(/eogTokens/);
  });

  it('keeps top-k 40 of a 202k vocabulary', () => {
    const chain = new SamplerChain(202_048, { seed: 11, minP: 0, topP: 1 });
    const logits = randomLogits(202_048, 5);
    const t = chain.sample(logits);
    expect(chain.candidates.size).toBe(40);
    const sorted = Array.from(logits).map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    expect(sorted.slice(0, 40).map(([, i]) => i)).toContain(t);
  });
});
