// llama_sampler_dist: the final draw. Softmax in f32 (sum in double), u ~ U[0,1) from mt19937, the first
// candidate whose running sum reaches u * sum.
import type { Candidates } from './candidates.js';
import { Mt19937, resolveSeed } from './rng.js';
import type { Sampler } from './sampler.js';

export class DistSampler implements Sampler {
  readonly name = 'dist';
  private readonly rng: Mt19937;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = resolveSeed(seed);
    this.rng = new Mt19937(this.seed);
  }

  apply(cur: Candidates): void {
    const n = cur.size;
    if (n === 0) {
      cur.selected = -1;
      return;
    }
    cur.selected = 0;
    if (n === 1) {
      cur.probs[0] = 1;
      return;
    }
    const l = cur.logits;
    const p = cur.probs;
    let max = l[0];
    if (!cur.sorted) for (let i = 1; i < n; i++) if (l[i] > max) max = l[i];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      p[i] = Math.exp(l[i] - max);
      sum += p[i];
    }
    const target = sum * this.rng.uniform();
    let run = 0;
    let found = false;
    for (let i = 0; i < n; i++) {
      if (!found) {
        run += p[i];
        if (run >= target) {
          cur.selected = i;
          found = true;
        }
      }
      p[i] = p[i] / sum;
    }
    if (!found) cur.selected = n - 1;
  }

  /** consumes the draw a step would make (keeps the stream aligned when the draw is not needed) */
  advance(): void {
    this.rng.uniform();
  }

  reset(): void {
    this.rng.seed(this.seed);
  }
}
