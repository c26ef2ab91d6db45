// llama_sampler_penalties: repetition (divide positive / multiply negative logits), frequency (per
// occurrence) and presence (once) penalties over the last `lastN` accepted tokens.
import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

export interface PenaltyOptions {
  /** how many recent tokens count; 0 disables, -1 = all accepted tokens */
  lastN: number;
  repeat: number;
  frequency: number;
  presence: number;
}

export class PenaltiesSampler implements Sampler {
  readonly name = 'penalties';
  private readonly counts = new Map<number, number>();
  private readonly ring: number[] = [];

  constructor(private readonly opts: PenaltyOptions) {}

  private get disabled(): boolean {
    const o = this.opts;
    return o.lastN === 0 || (o.repeat === 1 && o.frequency === 0 && o.presence === 0);
  }

  accept(token: number): void {
    const lastN = this.opts.lastN;
    if (lastN === 0) return;
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
    this.ring.push(token);
    if (lastN > 0 && this.ring.length > lastN) {
      const old = this.ring.shift() as number;
      const c = (this.counts.get(old) as number) - 1;
      if (c === 0) this.counts.delete(old);
      else this.counts.set(old, c);
    }
  }

  apply(cur: Candidates): void {
    if (this.disabled || this.counts.size === 0) return;
    const { repeat, frequency, presence } = this.opts;
    const penalize = (i: number, count: number) => {
      let l = cur.logits[i];
      l = l <= 0 ? Math.fround(l * repeat) : Math.fround(l / repeat);
      cur.logits[i] = l - (count * frequency + (count > 0 ? presence : 0));
    };
    if (cur.identity || this.counts.size * 8 < cur.size) {
      for (const [token, count] of this.counts) {
        const i = cur.indexOf(token);
        if (i >= 0) penalize(i, count);
      }
    } else {
      for (let i = 0; i < cur.size; i++) {
        const count = this.counts.get(cur.ids[i]);
        if (count !== undefined) penalize(i, count);
      }
    }
    cur.sorted = false;
  }

  reset(): void {
    this.counts.clear();
    this.ring.length = 0;
  }
}
