// Token generation as an async iterator: sample, stream the text, stop at end-of-generation.
import { SamplerChain, type SamplingOptions } from '../sampling/chain.js';
import type { Context } from './model.js';

export interface GenerateOptions extends SamplingOptions {
  /** tokens to generate; -1 = until end of generation or a full context */
  maxTokens?: number;
  signal?: AbortSignal;
}

export interface GeneratedPiece {
  token: number;
  /** text completed by this token (may be empty while a UTF-8 character is split across tokens) */
  text: string;
}

export interface GenerationStats {
  promptTokens: number;
  promptMs: number;
  generatedTokens: number;
  generateMs: number;
  /** why generation ended */
  stop: 'eog' | 'length' | 'context' | 'aborted';
}

/**
 * Evaluates `prompt` (after whatever the context already holds) and yields generated tokens.
 * `stats` is filled in as generation proceeds and complete when the iterator finishes.
 */
export async function* generate(
  ctx: Context,
  prompt: ArrayLike<number>,
  options: GenerateOptions = {},
  stats: GenerationStats = { promptTokens: 0, promptMs: 0, generatedTokens: 0, generateMs: 0, stop: 'length' },
): AsyncGenerator<GeneratedPiece, GenerationStats> {
  const tok = ctx.model.tokenizer;
  const eog = [...tok.vocab.eog];
  const sampler = new SamplerChain(ctx.model.info.nVocab, { ...options, eogTokens: eog });
  for (let i = 0; i < prompt.length; i++) sampler.accept(prompt[i]);
  const maxTokens = options.maxTokens ?? -1;
  const nCtx = ctx.state().nCtx;
  const detok = tok.streamDecoder();

  let t0 = performance.now();
  let logits = prompt.length > 0 ? await ctx.evaluate(prompt, { signal: options.signal }) : undefined;
  stats.promptTokens = prompt.length;
  stats.promptMs = performance.now() - t0;
  if (!logits) throw new Error('generate: empty prompt');

  t0 = performance.now();
  try {
    for (let n = 0; maxTokens < 0 || n < maxTokens; n++) {
      if (options.signal?.aborted) {
        stats.stop = 'aborted';
        break;
      }
      const token = sampler.sample(logits);
      sampler.accept(token);
      if (tok.isEog(token) && !options.ignoreEos) {
        stats.stop = 'eog';
        break;
      }
      stats.generatedTokens++;
      yield { token, text: detok.push(token) };
      if (maxTokens >= 0 && n + 1 >= maxTokens) break;
      if (ctx.nPast >= nCtx) {
        stats.stop = 'context';
        break;
      }
      logits = await ctx.evaluate([token], { signal: options.signal });
    }
  } catch (err) {
    if (options.signal?.aborted) stats.stop = 'aborted';
    else throw err;
  } finally {
    stats.generateMs = performance.now() - t0;
  }
  const rest = detok.flush();
  if (rest) yield { token: -1, text: rest };
  return stats;
}
