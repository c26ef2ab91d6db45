// Several sequences decoded in one pass (addon decodeStep, engine/batch.ts): each sequence's logits are
// bit-identical to decoding it alone, so greedy output does not depend on what runs beside it; on the
// real SmolLM2, a Llama 4 MoE synthetic and a quantized llama synthetic, with depth routing too.
import { describe, expect, it } from 'vitest';
import { BatchedContext, StepBatcher } from '../../src/engine/batch.js';
import { Model } from '../../src/engine/model.js';
import { argmax } from '../../src/sampling/argmax.js';
import { addon, type DepthPolicy } from '../../src/native/addon.js';
import { model } from '../helpers/shared.js';

const PROMPTS = ['The capital of France is', 'Once upon a time, there was', 'def fibonacci(n):', 'One, two, three,'];

async function alone(m: Model, prompt: number[], steps: number, policy?: DepthPolicy): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const ctx = m.createContext({ nCtx: 256, nThreads: 2 });
  if (policy) ctx.setDepthPolicy(policy);
  let l = await ctx.evaluate(prompt);
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  for (let i = 0; i < steps; i++) {
    const t = argmax(l, 0, l.length);
    tokens.push(t);
    l = await ctx.evaluate([t]);
    logits.push(l.slice());
  }
  return { tokens, logits };
}

async function together(m: Model, prompts: number[][], steps: number, policy?: DepthPolicy) {
  const batcher = new StepBatcher();
  const ctxs = prompts.map(() => {
    const c = new BatchedContext(m, m.createContext({ nCtx: 256, nThreads: 2 }).native);
    c.batcher = batcher;
    if (policy) c.setDepthPolicy(policy);
    return c;
  });
  // every sequence's loop runs concurrently; their decode tokens meet in the batcher's steps
  const runs = ctxs.map(async (c, i) => {
    let l = await c.evaluate(prompts[i]);
    const tokens: number[] = [];
    const logits: Float32Array[] = [];
    for (let s = 0; s < steps; s++) {
      const t = argmax(l, 0, l.length);
      tokens.push(t);
      l = await c.evaluate([t]);
      logits.push(l.slice());
    }
    return { tokens, logits };
  });
  const out = await Promise.all(runs);
  return { out, batcher };
}

describe('decode steps of several sequences', () => {
  for (const rel of ['real/SmolLM2-135M-Instruct.Q4_1.gguf', 'synthetic/tiny-llama4.synthetic.gguf', 'synthetic/tiny-llama-256-q4_k_m.synthetic.gguf']) {
    it(`${rel}: each sequence's logits equal decoding it alone, bit for bit`, async () => {
      const m = await Model.load(model(rel));
      const prompts = PROMPTS.map((p) => m.tokenizer.encode(p, { addSpecial: true }));
      const ref = [];
      for (const p of prompts) ref.push(await alone(m, p, 12));
      const { out, batcher } = await together(m, prompts, 12);
      expect(batcher.stepTokens / batcher.steps).toBeGreaterThan(3); // the steps really carried several sequences
      for (let i = 0; i < prompts.length; i++) {
        expect(out[i].tokens).toEqual(ref[i].tokens);
        for (let s = 0; s < 12; s++) expect(Buffer.from(out[i].logits[s].buffer).equals(Buffer.from(ref[i].logits[s].buffer))).toBe(true);
      }
    });
  }

  it('with depth routing (static drop of blocks) each sequence still equals decoding it alone', async () => {
    const m = await Model.load(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'));
    const policy: DepthPolicy = { drop: [3, 7, 11] };
    const prompts = PROMPTS.map((p) => m.tokenizer.encode(p, { addSpecial: true }));
    const ref = [];
    for (const p of prompts) ref.push(await alone(m, p, 8, policy));
    const dense = await alone(m, prompts[0], 8);
    expect(Buffer.from(dense.logits[0].buffer).equals(Buffer.from(ref[0].logits[0].buffer))).toBe(false); // the policy changes the logits
    const { out } = await together(m, prompts, 8, policy);
    for (let i = 0; i < prompts.length; i++)
      for (let s = 0; s < 8; s++) expect(Buffer.from(out[i].logits[s].buffer).equals(Buffer.from(ref[i].logits[s].buffer))).toBe(true);
  });

  it("copyFrom forks a sequence from another's prefix: the same logits as evaluating it, without evaluating", async () => {
    const m = await Model.load(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'));
    const prefix = m.tokenizer.encode('The capital of France is Paris. The capital of Germany is', { addSpecial: true });
    const a = m.createContext({ nCtx: 128, nThreads: 2 });
    await a.evaluate(prefix);
    const ref = m.createContext({ nCtx: 128, nThreads: 2 });
    await ref.evaluate(prefix.slice(0, 8));
    const want = (await ref.evaluate([prefix[8]])).slice();
    const b = m.createContext({ nCtx: 64, nThreads: 2 });
    await b.evaluate([1, 2, 3]); // overwritten by the copy
    b.copyFrom(a, 8);
    expect(b.nPast).toBe(8);
    const got = await b.evaluate([prefix[8]]);
    expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer))).toBe(true);
    expect(() => b.copyFrom(a, prefix.length + 1)).toThrow(/holds/);
    const other = await Model.load(model('stories260K.gguf'));
    expect(() => other.createContext({ nCtx: 64 }).copyFrom(a, 2)).toThrow(/different models/);
  });

  it('refuses contexts of another model, duplicates, mismatched token counts', async () => {
    const a = await Model.load(model('stories260K.gguf'));
    const b = await Model.load(model('synthetic/tiny-llama4.synthetic.gguf'));
    const ca = a.createContext({ nCtx: 64 });
    const cb = b.createContext({ nCtx: 64 });
    await expect(addon().decodeStep([ca.native, cb.native], Int32Array.from([1, 1]))).rejects.toThrow(/another model/);
    expect(() => addon().decodeStep([ca.native, ca.native], Int32Array.from([1, 1]))).toThrow(/twice/);
    expect(() => addon().decodeStep([ca.native], Int32Array.from([1, 1]))).toThrow(/2 tokens for 1 contexts/);
    await expect(addon().decodeStep([ca.native], Int32Array.from([999999]))).rejects.toThrow(/out of range/);
  });
});
