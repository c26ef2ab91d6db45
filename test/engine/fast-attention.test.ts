// The fast decode attention (flash-decoding over fixed 256-cell chunks, each K/V row read once per GQA
// group; Blocks::attend) against llama.cpp's exact order (exactNumerics), on the real SmolLM2 past 256
// cells of context:
//   - its distance: the greedy tokens (unchanged), mean KL of the next-token distributions, the largest
//     logit difference (reported);
//   - it is deterministic: a sequential batch equals its tokens one by one, 1 and 2 threads agree bit for bit;
//   - below 256 cells, and for batched prompts, the default path is the exact one, bit for bit;
//   - the switch: exactNumerics per context, LLAMA4_EXACT_NUMERICS=1 as the default.
import { beforeAll, describe, expect, it } from 'vitest';
import { exactNumericsDefault, Model, type Context } from '../../src/engine/model.js';
import { greedyRun, logSoftmax, smolWithLongPrompt } from '../helpers/greedy.js';

let m: Model;
let prompt: number[];
beforeAll(async () => {
  ({ model: m, prompt } = await smolWithLongPrompt());
  expect(prompt.length).toBe(600);
});

const ctxOf = (exact: boolean, threads = 2) => m.createContext({ nCtx: 1024, nThreads: threads, exactNumerics: exact });

/** Greedy decode of n tokens after the prompt; the logits of each step. */
const greedy = (ctx: Context, n: number) => greedyRun(ctx, prompt, n);

describe('fast decode attention on SmolLM2 (600 cells of context)', () => {
  it('gives the exact path\'s greedy tokens, its distributions within a mean KL of 5e-3 nats', async () => {
    // Any change of summation order moves the attention output by ~1e-6, and the int8 quantization of the
    // next matmul's activations turns that into logit differences of up to ~0.5 (llama.cpp's own f16
    // rounding of the softmax, which the fast path skips, moves the logits by the same ~0.3): the
    // distance is stated as KL and top-1 agreement, with the largest logit difference reported.
    const fast = await greedy(ctxOf(false), 24);
    const exact = await greedy(ctxOf(true), 24);
    expect(fast.tokens).toEqual(exact.tokens);
    let worst = 0, klSum = 0;
    for (let i = 0; i < fast.logits.length; i++) {
      const p = logSoftmax(exact.logits[i]), q = logSoftmax(fast.logits[i]);
      let kl = 0;
      for (let j = 0; j < p.length; j++) {
        kl += Math.exp(p[j]) * (p[j] - q[j]);
        worst = Math.max(worst, Math.abs(fast.logits[i][j] - exact.logits[i][j]));
      }
      klSum += kl;
    }
    const kl = klSum / fast.logits.length;
    console.log(`fast attention vs exact, 24 greedy tokens at 600-624 cells: same tokens, mean KL ${kl.toExponential(2)} nats, max |logit difference| ${worst.toFixed(3)}`);
    expect(worst).toBeGreaterThan(0); // another summation order...
    expect(kl).toBeLessThan(5e-3); // ...within the stated distance (measured: 2.1e-3)
  });

  it('is deterministic: a sequential batch equals one by one, 1 and 2 threads agree bit for bit', async () => {
    const next = [28, 253, 2330, 30, 17, 2, 198, 1000];
    const one = ctxOf(false, 2);
    await one.evaluate(prompt);
    const byOne: Float32Array[] = [];
    for (const t of next) byOne.push((await one.evaluate([t])).slice());
    const seq = ctxOf(false, 1);
    await seq.evaluate(prompt);
    await seq.evaluate(next, { sequential: true, allLogits: true });
    const all = seq.allLogits();
    const V = m.info.nVocab;
    for (let i = 0; i < next.length; i++) expect(Buffer.from(all.slice(i * V, (i + 1) * V).buffer).equals(Buffer.from(byOne[i].buffer)), `token ${i}`).toBe(true);
  });

  it('below 256 cells, and for prompts, the default is the exact path bit for bit', async () => {
    const a = ctxOf(false), b = ctxOf(true);
    const short = prompt.slice(0, 200);
    const la = (await a.evaluate(short)).slice(), lb = (await b.evaluate(short)).slice();
    expect(Buffer.from(la.buffer).equals(Buffer.from(lb.buffer))).toBe(true);
    for (const t of [28, 253, 2330]) {
      const x = (await a.evaluate([t])).slice(), y = (await b.evaluate([t])).slice();
      expect(Buffer.from(x.buffer).equals(Buffer.from(y.buffer))).toBe(true);
    }
  });

  it('the switch: exactNumerics per context, LLAMA4_EXACT_NUMERICS=1 as the default', () => {
    expect(ctxOf(true).state().exactNumerics).toBe(true);
    expect(ctxOf(false).state().exactNumerics).toBe(false);
    const before = process.env.LLAMA4_EXACT_NUMERICS;
    try {
      process.env.LLAMA4_EXACT_NUMERICS = '1';
      expect(exactNumericsDefault()).toBe(true);
      expect(m.createContext({ nCtx: 64 }).state().exactNumerics).toBe(true);
      delete process.env.LLAMA4_EXACT_NUMERICS;
      expect(m.createContext({ nCtx: 64 }).state().exactNumerics).toBe(false);
    } finally {
      if (before === undefined) delete process.env.LLAMA4_EXACT_NUMERICS;
      else process.env.LLAMA4_EXACT_NUMERICS = before;
    }
  });
});
