// Exact mode: self-speculative decoding. Draft k tokens with the depth policy on (cheap: skipped
// blocks), then verify them with one full-depth pass over the k+1 positions, keep the longest prefix the
// full model agrees with plus the full model's own next token. Greedy output is token-identical to dense
// decoding: the verification batch uses sequential numerics (equal to one-by-one evaluation), and every
// KV entry a draft wrote is rewritten by the verifier or truncated away.
// k adapts to the acceptance rate, and the mode turns itself off when it is slower than dense decoding.
import { argmax } from '../../sampling/argmax.js';
import type { Context } from '../model.js';
import type { GeneratedPiece } from '../generate.js';

export interface ExactOptions {
  maxTokens?: number;
  /** initial draft length (adapts between 1 and maxDraft) */
  draft?: number;
  maxDraft?: number;
  signal?: AbortSignal;
  /** stop at end-of-generation tokens (default true) */
  stopAtEog?: boolean;
}

export interface ExactStats {
  promptTokens: number;
  promptMs: number;
  generatedTokens: number;
  generateMs: number;
  drafted: number;
  accepted: number;
  verifyPasses: number;
  /** tokens generated after the mode switched itself off (plain dense decoding) */
  denseTokens: number;
  switchedOff: boolean;
  stop: 'eog' | 'length' | 'context' | 'aborted';
}

export function newExactStats(): ExactStats {
  return { promptTokens: 0, promptMs: 0, generatedTokens: 0, generateMs: 0, drafted: 0, accepted: 0, verifyPasses: 0, denseTokens: 0, switchedOff: false, stop: 'length' };
}

/** Greedy generation, exactly equal to dense greedy decoding, accelerated by gated drafts. */
export async function* generateExact(
  ctx: Context,
  prompt: ArrayLike<number>,
  opts: ExactOptions = {},
  stats: ExactStats = newExactStats(),
): AsyncGenerator<GeneratedPiece, ExactStats> {
  const tok = ctx.model.tokenizer;
  const V = ctx.model.info.nVocab;
  const nCtx = ctx.state().nCtx;
  const maxTokens = opts.maxTokens ?? -1;
  const stopAtEog = opts.stopAtEog ?? true;
  const maxDraft = Math.max(1, opts.maxDraft ?? 8);
  let k = Math.min(Math.max(1, opts.draft ?? 4), maxDraft);
  const detok = tok.streamDecoder();
  const signal = opts.signal;

  let t0 = performance.now();
  const logits = await ctx.evaluate(prompt, { signal, gated: false });
  stats.promptTokens = prompt.length;
  stats.promptMs = performance.now() - t0;
  let next = argmax(logits); // the full model's next token, not yet evaluated
  t0 = performance.now();
  // throughput bookkeeping to decide whether speculation pays
  let specTokens = 0, specMs = 0, denseMs = 0, denseCount = 0;
  let dense = false;

  const emit = function* (t: number): Generator<GeneratedPiece, boolean> {
    if (stopAtEog && tok.isEog(t)) {
      stats.stop = 'eog';
      return false;
    }
    stats.generatedTokens++;
    yield { token: t, text: detok.push(t) };
    if (maxTokens >= 0 && stats.generatedTokens >= maxTokens) {
      stats.stop = 'length';
      return false;
    }
    return true;
  };

  try {
    outer: for (;;) {
      if (signal?.aborted) {
        stats.stop = 'aborted';
        break;
      }
      const base = ctx.nPast;
      const room = nCtx - base;
      if (room <= 1) {
        yield* emit(next);
        stats.stop = 'context';
        break;
      }
      if (dense || room < 3) {
        // plain dense decoding
        if (!(yield* emit(next))) break;
        const ts = performance.now();
        const lg = await ctx.evaluate([next], { signal, gated: false });
        denseMs += performance.now() - ts;
        denseCount++;
        stats.denseTokens++;
        next = argmax(lg);
        continue;
      }
      const kk = Math.min(k, room - 2);
      const ts = performance.now();
      // draft: gated single-token decodes
      const drafts: number[] = [];
      let cur = next;
      for (let i = 0; i < kk; i++) {
        const lg = await ctx.evaluate([cur], { signal, gated: true });
        cur = argmax(lg);
        drafts.push(cur);
        if (stopAtEog && tok.isEog(cur)) break;
      }
      stats.drafted += drafts.length;
      // verify: full depth over [next, d1..dk] from the same position
      ctx.truncate(base);
      const seq = [next, ...drafts];
      await ctx.evaluate(seq, { signal, gated: false, sequential: true, allLogits: true });
      stats.verifyPasses++;
      const all = ctx.allLogits();
      let j = 0;
      while (j < drafts.length && argmax(all, j * V, V) === drafts[j]) j++;
      const bonus = argmax(all, j * V, V);
      stats.accepted += j;
      // keep KV for next and the accepted drafts only
      ctx.truncate(base + 1 + j);
      specMs += performance.now() - ts;
      specTokens += j + 1;
      if (!(yield* emit(next))) break;
      for (let i = 0; i < j; i++) if (!(yield* emit(drafts[i]))) break outer;
      next = bonus;
      // adapt the draft length to the acceptance of this round
      if (j === drafts.length && k < maxDraft) k++;
      else if (j < drafts.length / 2 && k > 1) k--;
      // measure dense speed once, then switch off when speculation is slower
      if (stats.verifyPasses === 4 && denseCount === 0) {
        const tsd = performance.now();
        const before = ctx.nPast;
        const lg = await ctx.evaluate([next], { signal, gated: false });
        denseMs += performance.now() - tsd;
        denseCount++;
        // that evaluation was one dense step: keep it as such
        if (!(yield* emit(next))) break;
        stats.denseTokens++;
        next = argmax(lg);
        void before;
      }
      if (denseCount > 0 && stats.verifyPasses >= 8) {
        const specRate = specTokens / specMs;
        const denseRate = denseCount / denseMs;
        if (specRate < denseRate) {
          dense = true;
          stats.switchedOff = true;
        }
      }
    }
  } catch (err) {
    if (signal?.aborted) stats.stop = 'aborted';
    else throw err;
  } finally {
    stats.generateMs = performance.now() - t0;
  }
  const rest = detok.flush();
  if (rest) yield { token: -1, text: rest };
  return stats;
}
