// Greedy continuation as the parity tests compare it with llama.cpp's: argmax, evaluate it, repeat.
import type { Context } from '../../src/engine/model.js';
import { argmax } from '../../src/sampling/argmax.js';

/** n greedy tokens from `logits` (the last prompt position's); stops after an end-of-generation token if isEog says so. */
export async function greedyTokens(ctx: Context, logits: ArrayLike<number>, n: number, isEog?: (t: number) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = argmax(logits);
    out.push(t);
    if (isEog?.(t) || i + 1 === n) break;
    logits = await ctx.evaluate([t]);
  }
  return out;
}
