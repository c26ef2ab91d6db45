// Context behaviour a user of the TS API relies on: memory pre-check, cancellation, generation, reuse.
import { describe, expect, it } from 'vitest';
import { generate } from '../../src/engine/generate.js';
import { Model } from '../../src/engine/model.js';
import { model } from '../helpers/shared.js';

describe('Context', () => {
  it('refuses a context that cannot fit in memory before allocating it', async () => {
    const m = await Model.load(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'));
    expect(() => m.createContext({ nCtx: 1 << 24, typeK: 'f32', typeV: 'f32' })).toThrow(
      /a context of 16777216 tokens needs [\d.]+ GiB \(KV cache and buffers\) but only [\d.]+ GiB of memory is available; lower -c/,
    );
  });

  it('rejects bad parameters with a clear message', async () => {
    const m = await Model.load(model('stories260K.gguf'));
    expect(() => m.createContext({ nThreads: 0 })).toThrow(/thread count 0 is out of range/);
    expect(() => m.createContext({ typeK: 'q4' as 'f16' })).toThrow(/unsupported KV cache type 'q4'/);
    const ctx = m.createContext({ nCtx: 8 });
    await expect(ctx.evaluate([1, 99999])).rejects.toThrow(/token id 99999 at index 1 is out of range \(vocabulary 512\)/);
    await expect(ctx.evaluate(new Array(9).fill(1))).rejects.toThrow(/context is full: 0 tokens cached \+ 9 new > context size 8/);
    expect(ctx.nPast).toBe(0);
  });

  it('an aborted evaluation rejects, leaves the cache as it was, and the context stays usable', async () => {
    const m = await Model.load(model('stories260K.gguf'));
    const ctx = m.createContext({ nCtx: 2048, nBatch: 16 });
    await ctx.evaluate([1, 403]);
    const ac = new AbortController();
    const long = new Array(2000).fill(0).map((_, i) => 3 + (i % 500));
    const p = ctx.evaluate(long, { signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow(/stop/);
    expect(ctx.nPast).toBe(2);
    const logits = await ctx.evaluate([407]);
    expect(ctx.nPast).toBe(3);
    expect(Number.isFinite(logits[0])).toBe(true);
  });

  it('decodes a tiny step on the calling thread (settled at once) and a large one on a worker, with the same logits', async () => {
    // settled within microtask turns only = no event-loop turn was needed, i.e. no worker ran it
    const settlesInMicrotasks = async (p: Promise<unknown>) => {
      let done = false;
      void p.then(() => (done = true));
      for (let i = 0; i < 20 && !done; i++) await Promise.resolve();
      return done;
    };
    const m = await Model.load(model('stories260K.gguf'));
    const inline = m.createContext({ nCtx: 64 });
    const worker = m.createContext({ nCtx: 64, inlineBytes: 0 });
    expect(inline.state().inlineBytes).toBe(4 * 1024 * 1024);
    expect(worker.state().inlineBytes).toBe(0);
    const prompt = m.tokenizer.encode('Once upon a time', { addSpecial: true });
    await inline.evaluate(prompt.slice(0, 1));
    await worker.evaluate(prompt.slice(0, 1));
    const pi = inline.evaluate(prompt.slice(1));
    expect(inline.nPast).toBe(prompt.length); // already decoded, before the Promise is awaited
    expect(await settlesInMicrotasks(pi)).toBe(true);
    const pw = worker.evaluate(prompt.slice(1));
    expect(await settlesInMicrotasks(pw)).toBe(false);
    const [a, b] = [Float32Array.from(await pi), Float32Array.from(await pw)];
    expect(Array.from(a)).toEqual(Array.from(b));
    // a step over the limit goes to a worker
    const big = m.createContext({ nCtx: 64, inlineBytes: 1000 });
    const pb = big.evaluate(prompt);
    expect(await settlesInMicrotasks(pb)).toBe(false);
    expect(Array.from(await pb)).toEqual(Array.from(a));
    expect(() => m.createContext({ inlineBytes: -1 })).toThrow(/inlineBytes -1 is out of range/);
  });

  it('reuses the cache: truncating and re-evaluating gives the same logits', async () => {
    const m = await Model.load(model('stories260K.gguf'));
    const prompt = m.tokenizer.encode('Once upon a time', { addSpecial: true });
    for (const sequential of [true, false]) {
      const ctx = m.createContext({ nCtx: 64 });
      const a = Float32Array.from(await ctx.evaluate(prompt, { sequential }));
      await ctx.evaluate([300, 301, 302]);
      ctx.truncate(prompt.length - 1);
      const b = Float32Array.from(await ctx.evaluate(prompt.slice(-1)));
      if (sequential) {
        // the batch in the single-token orders: the cached K/V and the logits are the same bits
        expect(b).toEqual(a);
        continue;
      }
      // The last prompt token was part of a batch in `a` and alone in `b`: llama.cpp sums a batch's attention
      // and F32 matmuls in other orders (tinyBLAS), and so do we (parity); the F16 cache rounds those ulps, so
      // the two agree to float rounding, not bit for bit.
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
      expect(d).toBeLessThan(1e-3);
    }
  });

  it('generate() is an async iterator that stops at the end of generation and reports stats', async () => {
    const m = await Model.load(model('stories260K.gguf'));
    const ctx = m.createContext({ nCtx: 512 });
    const stats = { promptTokens: 0, promptMs: 0, generatedTokens: 0, generateMs: 0, stop: 'length' as const };
    let text = '';
    const it = generate(ctx, m.tokenizer.encode('Once upon a time', { addSpecial: true }), { temp: 0, maxTokens: 20 }, stats);
    for await (const piece of it) text += piece.text;
    expect(text).toBe(', there was a little girl named Lily. She loved to play outsid');
    expect(stats.generatedTokens).toBe(20);
    expect(stats.promptTokens).toBe(5);
  });
});
