// Parity with llama.cpp: every golden in ../shared/models/goldens (llama.cpp, F32 KV cache, flash
// attention off): prefill logits within 1e-3 and every greedy token identical.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/engine/model.js';
import { argmax } from '../../src/sampling/argmax.js';
import { greedyTokens } from '../helpers/greedy.js';
import { model } from '../helpers/shared.js';

interface Golden {
  model: string;
  n_vocab: number;
  prompt_tokens: number[];
  prefill: { pos: number; argmax: number; top5: [number, number][]; logits?: number[] }[];
  greedy_tokens: number[];
}

const golden = (name: string): Golden => JSON.parse(readFileSync(model(`goldens/${name}`), 'utf8'));

async function check(name: string, cache: 'f32' | 'f16', tol: number, threads = 1) {
  const g = golden(name);
  const m = await Model.load(model(g.model));
  const ctx = m.createContext({ nCtx: 256, nThreads: threads, typeK: cache, typeV: cache });
  await ctx.evaluate(g.prompt_tokens, { allLogits: true });
  const all = ctx.allLogits();
  const V = g.n_vocab;
  let maxDiff = 0;
  for (const p of g.prefill) {
    const row = all.subarray(p.pos * V, (p.pos + 1) * V);
    expect(argmax(row), `argmax at position ${p.pos}`).toBe(p.argmax);
    if (p.logits) for (let i = 0; i < V; i++) maxDiff = Math.max(maxDiff, Math.abs(row[i] - p.logits[i]));
    for (const [id, l] of p.top5) maxDiff = Math.max(maxDiff, Math.abs(row[id] - l));
  }
  if (cache === 'f32') expect(maxDiff).toBeLessThan(tol);
  const last = ctx.allLogits().subarray((g.prompt_tokens.length - 1) * V);
  expect(await greedyTokens(ctx, last, g.greedy_tokens.length, (t) => m.tokenizer.isEog(t))).toEqual(g.greedy_tokens);
  return maxDiff;
}

const GOLDENS = [
  'stories260K.golden.json',
  'llama-2-tiny-random.golden.json',
  'stories260K-moe4.synthetic.golden.json',
  'tiny-llama4.synthetic.golden.json',
  'tiny-llama4-q8_0.synthetic.golden.json',
  'tiny-llama4-q4_0.synthetic.golden.json',
  'tiny-llama-256.synthetic.golden.json',
  'tiny-llama-256-q4_k_m.synthetic.golden.json',
  'tiny-llama-256-q6_k.synthetic.golden.json',
  'smollm2-135m-q4_1.golden.json',
  'smollm2-135m-q4_1-chat.golden.json',
];

describe('parity with llama.cpp goldens (F32 KV cache)', () => {
  for (const name of GOLDENS) {
    it(name, async () => {
      await check(name, 'f32', 1e-3);
    });
  }
});

describe('default F16 KV cache', () => {
  it("stories260K's 64 greedy tokens are identical", async () => {
    await check('stories260K.golden.json', 'f16', Infinity);
  });
  it('gives the same logits with 1 and 2 threads (prompt and decode; SmolLM2 runs its Q/K/V and gate/up passes on both)', async () => {
    for (const name of ['tiny-llama-256-q4_k_m.synthetic.golden.json', 'smollm2-135m-q4_1.golden.json']) {
      const g = golden(name);
      const m = await Model.load(model(g.model));
      const rows: Float32Array[][] = [];
      for (const t of [1, 2]) {
        const ctx = m.createContext({ nCtx: 64, nThreads: t });
        rows.push([Float32Array.from(await ctx.evaluate(g.prompt_tokens)), Float32Array.from(await ctx.evaluate([g.greedy_tokens[0]]))]);
      }
      expect(rows[1][0], name).toEqual(rows[0][0]);
      expect(rows[1][1], name).toEqual(rows[0][1]);
    }
  });
  it('batched prompt processing equals token-by-token evaluation', async () => {
    const g = golden('stories260K-moe4.synthetic.golden.json');
    const m = await Model.load(model(g.model));
    const a = m.createContext({ nCtx: 64, nBatch: 512, typeK: 'f32', typeV: 'f32' });
    const b = m.createContext({ nCtx: 64, nBatch: 2, typeK: 'f32', typeV: 'f32' });
    const la = Float32Array.from(await a.evaluate(g.prompt_tokens));
    const lb = Float32Array.from(await b.evaluate(g.prompt_tokens));
    let d = 0;
    for (let i = 0; i < la.length; i++) d = Math.max(d, Math.abs(la[i] - lb[i]));
    expect(d).toBeLessThan(1e-5);
  });
});
