// Greedy continuation as the parity tests compare it with llama.cpp's: argmax, evaluate it, repeat.
import { readFileSync } from 'node:fs';
import { Model, type Context } from '../../src/engine/model.js';
import { model as sharedModel } from './shared.js';
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

/** Greedy decode of n tokens after evaluating `prompt`: the tokens, the prompt's last logits, the logits after each token. */
export async function greedyRun(ctx: Context, prompt: number[], n: number): Promise<{ tokens: number[]; first: Float32Array; logits: Float32Array[] }> {
  let lg = await ctx.evaluate(prompt);
  const first = lg.slice();
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const t = argmax(lg);
    tokens.push(t);
    lg = await ctx.evaluate([t]);
    logits.push(lg.slice());
  }
  return { tokens, first, logits };
}

/** log softmax in float64 (for KL divergences between two engines' next-token distributions). */
export function logSoftmax(v: Float32Array): Float64Array {
  const mx = v.reduce((a, b) => Math.max(a, b), -Infinity);
  const lse = mx + Math.log(v.reduce((a, b) => a + Math.exp(b - mx), 0));
  return Float64Array.from(v, (x) => x - lse);
}

/** SmolLM2 and the first 600 tokens of the shared Python text: a context past the fast attention's 256 cells. */
export async function smolWithLongPrompt(): Promise<{ model: Model; prompt: number[] }> {
  const model = await Model.load(sharedModel('real/SmolLM2-135M-Instruct.Q4_1.gguf'));
  const text = readFileSync(sharedModel('text/python-reference.txt'), 'utf8');
  return { model, prompt: model.tokenizer.encode(text.slice(0, 4000), { addSpecial: true }).slice(0, 600) };
}
