// llama_sampler_temp: divide logits by the temperature; temp <= 0 keeps only the (first) maximum, every
// other logit becomes -Infinity (greedy).
import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

export class TemperatureSampler implements Sampler {
  readonly name = 'temperature';
  constructor(private readonly temp: number) {}

  apply(cur: Candidates): void {
    const l = cur.logits;
    if (this.temp <= 0) {
      let best = 0;
      for (let i = 1; i < cur.size; i++) {
        if (l[i] > l[best]) {
          l[best] = -Infinity;
          best = i;
        } else {
          l[i] = -Infinity;
        }
      }
      return;
    }
    for (let i = 0; i < cur.size; i++) l[i] = l[i] / this.temp;
  }
}
