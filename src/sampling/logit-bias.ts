// llama_sampler_logit_bias: add a fixed bias to chosen tokens' logits (-Infinity bans a token).
import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

export type LogitBias = ReadonlyMap<number, number> | Record<number, number> | ReadonlyArray<readonly [number, number]>;

export function biasEntries(bias: LogitBias | undefined): Array<[number, number]> {
  if (!bias) return [];
  if (bias instanceof Map) return [...bias.entries()];
  if (Array.isArray(bias)) return bias.map(([t, b]) => [t, b]);
  return Object.entries(bias).map(([t, b]) => [Number(t), b as number]);
}

export class LogitBiasSampler implements Sampler {
  readonly name = 'logit-bias';
  private readonly entries: Array<[number, number]>;

  constructor(bias: LogitBias | undefined) {
    this.entries = biasEntries(bias);
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  apply(cur: Candidates): void {
    for (const [token, bias] of this.entries) {
      const i = cur.indexOf(token);
      if (i >= 0) cur.logits[i] += bias;
    }
    if (this.entries.length) cur.sorted = false;
  }
}
