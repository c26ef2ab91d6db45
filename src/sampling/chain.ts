// llama.cpp's default sampler chain (common_sampler_init) with its defaults and order:
//   logit bias -> penalties -> top-k -> top-p -> min-p -> temperature -> dist
// Temperature comes last, so top-p and min-p see un-tempered logits. Option names follow llama.cpp.
import { argmax } from './argmax.js';
import { Candidates } from './candidates.js';
import { DistSampler } from './dist.js';
import { biasEntries, LogitBiasSampler, type LogitBias } from './logit-bias.js';
import { MinPSampler } from './min-p.js';
import { PenaltiesSampler } from './penalties.js';
import { DEFAULT_SEED } from './rng.js';
import type { Sampler } from './sampler.js';
import { TemperatureSampler } from './temperature.js';
import { TopKSampler } from './top-k.js';
import { TopPSampler } from './top-p.js';

export interface SamplingOptions {
  /** temperature; <= 0 is greedy (argmax, first index on ties) */
  temp?: number;
  /** <= 0 disables */
  topK?: number;
  /** >= 1 disables */
  topP?: number;
  /** <= 0 disables */
  minP?: number;
  minKeep?: number;
  /** 1 disables */
  repeatPenalty?: number;
  /** tokens of history the penalties look at; 0 disables, -1 = all */
  repeatLastN?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  logitBias?: LogitBias;
  /** 0xFFFFFFFF (the default) picks a random seed */
  seed?: number;
  /** ban end-of-generation tokens (needs `eogTokens`) */
  ignoreEos?: boolean;
  /** the vocab's end-of-generation ids, for ignoreEos */
  eogTokens?: Iterable<number>;
}

/** common_params_sampling defaults */
export const SAMPLING_DEFAULTS = {
  temp: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  minKeep: 0,
  repeatPenalty: 1.0,
  repeatLastN: 64,
  presencePenalty: 0,
  frequencyPenalty: 0,
  seed: DEFAULT_SEED,
  ignoreEos: false,
} as const;

export class SamplerChain {
  readonly options: Required<Omit<SamplingOptions, 'logitBias' | 'eogTokens'>>;
  readonly samplers: Sampler[] = [];
  /** the candidates of the last step, probabilities included after the final draw */
  readonly candidates: Candidates;
  private readonly dist: DistSampler;

  constructor(nVocab: number, options: SamplingOptions = {}) {
    const o = { ...SAMPLING_DEFAULTS, ...stripUndefined(options) };
    this.options = o;
    this.candidates = new Candidates(nVocab);

    const bias = biasEntries(options.logitBias);
    if (o.ignoreEos) {
      if (!options.eogTokens) throw new Error('ignoreEos needs the vocabulary end-of-generation tokens (eogTokens)');
      for (const id of options.eogTokens) bias.push([id, -Infinity]);
    }
    const biasSampler = new LogitBiasSampler(bias);
    if (!biasSampler.empty) this.samplers.push(biasSampler);
    this.samplers.push(
      new PenaltiesSampler({ lastN: o.repeatLastN, repeat: o.repeatPenalty, frequency: o.frequencyPenalty, presence: o.presencePenalty }),
      new TopKSampler(o.topK),
      new TopPSampler(o.topP, o.minKeep),
      new MinPSampler(o.minP, o.minKeep),
      new TemperatureSampler(o.temp),
    );
    this.dist = new DistSampler(o.seed);
    this.samplers.push(this.dist);
  }

  /** the seed in use (a random one when the default was asked for) */
  get seed(): number {
    return this.dist.seed;
  }

  /** Picks the next token from the logits of one position (the array is not modified). */
  sample(logits: Float32Array): number {
    const cur = this.candidates;
    cur.fill(logits);
    if (this.options.temp <= 0) return this.greedy(cur);
    for (const s of this.samplers) s.apply(cur);
    if (cur.selected < 0) throw new Error('no token left to sample (every candidate was removed)');
    return cur.ids[cur.selected];
  }

  /**
   * temp <= 0: the chain's result is the argmax after bias and penalties (top-k/p and min-p always keep
   * it), so skip them; one draw still advances the RNG as llama.cpp's dist does.
   */
  private greedy(cur: Candidates): number {
    for (const s of this.samplers) {
      if (s.name === 'logit-bias' || s.name === 'penalties') s.apply(cur);
    }
    const best = argmax(cur.logits, 0, cur.size);
    this.dist.advance();
    cur.selected = best;
    return cur.ids[best];
  }

  /** Records a token as part of the history (prompt tokens too, as llama-cli does). */
  accept(token: number): void {
    for (const s of this.samplers) s.accept?.(token);
  }

  /** Forgets the history and re-seeds the RNG. */
  reset(): void {
    for (const s of this.samplers) s.reset?.();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
