// llama_sampler_top_k: keep the k highest logits, sorted; k <= 0 keeps everything.
import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

export class TopKSampler implements Sampler {
  readonly name = 'top-k';
  constructor(private readonly k: number) {}

  apply(cur: Candidates): void {
    if (this.k <= 0) return;
    const k = Math.min(this.k, cur.size);
    if (cur.sorted) cur.size = k;
    else cur.keepTop(k);
  }
}
