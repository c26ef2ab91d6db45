// Token generation as an async iterator: sample, stream the text, stop at end-of-generation (the vocab's
// EOG tokens, extra stop tokens such as a chat template's end of turn, or stop strings, which never reach
// the output). The one generation loop under `run`, `chat` and the conversation engine.
import { SamplerChain, type SamplingOptions } from '../sampling/chain.js';
import type { Context } from './model.js';

export interface GenerateOptions extends SamplingOptions {
  /** tokens to generate; -1 = until end of generation or a full context */
  maxTokens?: number;
  signal?: AbortSignal;
  /** tokens already in the context before `prompt`: the sampler's penalties see them as history */
  history?: ArrayLike<number>;
  /** logits of the last cached position, when the prompt is already evaluated (`prompt` empty) */
  logits?: Float32Array;
  /** more token ids that end generation (not emitted, not evaluated), e.g. a template's end of turn */
  stopTokens?: Iterable<number>;
  /** texts that end generation; text that may start one is held back until it cannot */
  stopStrings?: readonly string[];
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
  /** why generation ended: eog = an end-of-generation or stop token, stop = a stop string */
  stop: 'eog' | 'stop' | 'length' | 'context' | 'aborted';
}

/** Holds back text that could begin a stop string; reports the text before the first stop string. */
export class StopMatcher {
  private pending = '';
  constructor(private readonly stops: readonly string[]) {}

  /** Adds text; returns what is safe to emit and whether a stop string was completed. */
  push(text: string): { text: string; stopped: boolean } {
    this.pending += text;
    let cut = -1;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      const out = this.pending.slice(0, cut);
      this.pending = '';
      return { text: out, stopped: true };
    }
    // keep the longest suffix that is a prefix of a stop string
    let keep = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > keep; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          keep = k;
          break;
        }
      }
    }
    const out = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    return { text: out, stopped: false };
  }

  /** The held-back text at the end of generation. */
  flush(): string {
    const out = this.pending;
    this.pending = '';
    return out;
  }
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
  const sampler = new SamplerChain(ctx.model.info.nVocab, { ...options, eogTokens: [...eog, ...(options.stopTokens ?? [])] });
  const stopIds = new Set(options.stopTokens ?? []);
  if (options.history) for (let i = 0; i < options.history.length; i++) sampler.accept(options.history[i]);
  for (let i = 0; i < prompt.length; i++) sampler.accept(prompt[i]);
  const maxTokens = options.maxTokens ?? -1;
  const nCtx = ctx.state().nCtx;
  const detok = tok.streamDecoder();
  const stopper = options.stopStrings?.length ? new StopMatcher(options.stopStrings) : null;

  let t0 = performance.now();
  let logits = prompt.length > 0 ? await ctx.evaluate(prompt, { signal: options.signal }) : options.logits;
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
      if ((tok.isEog(token) || stopIds.has(token)) && !options.ignoreEos) {
        stats.stop = 'eog';
        break;
      }
      let text = detok.push(token);
      if (stopper) {
        const r = stopper.push(text);
        if (r.stopped) {
          stats.stop = 'stop';
          if (r.text) yield { token: -1, text: r.text };
          break;
        }
        text = r.text;
      }
      stats.generatedTokens++;
      yield { token, text };
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
  if (stats.stop !== 'stop') {
    let rest = detok.flush();
    if (stopper) {
      const r = stopper.push(rest);
      rest = r.stopped ? r.text : r.text + stopper.flush();
      if (r.stopped) stats.stop = 'stop';
    }
    if (rest) yield { token: -1, text: rest };
  }
  return stats;
}
