// llama_sampler_min_p: drop tokens whose probability is below p times the best one's, i.e. whose logit is
// below max + ln(p) (computed in f32 as llama.cpp does).
import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

export class MinPSampler implements Sampler {
  readonly name = 'min-p';
  constructor(
    private readonly p: number,
    private readonly minKeep = 0,
  ) {}

  apply(cur: Candidates): void {
    if (this.p <= 0 || cur.size === 0) return;
    const l = cur.logits;
    if (!cur.sorted) {
      let max = -Infinity;
      for (let i = 0; i < cur.size; i++) if (l[i] > max) max = l[i];
      const min = Math.fround(max + Math.fround(Math.log(this.p)));
      let kept = 0;
      for (let i = 0; i < cur.size; i++) if (l[i] >= min) kept++;
      if (kept > 0 && kept >= this.minKeep) {
        let j = 0;
        for (let i = 0; i < cur.size; i++) {
          if (l[i] >= min) {
            cur.ids[j] = cur.ids[i];
            l[j] = l[i];
            j++;
          }
        }
        if (j !== cur.size) cur.identity = false;
        cur.size = j;
        return;
      }
      cur.keepTop(cur.size);
    }
    const min = Math.fround(l[0] + Math.fround(Math.log(this.p)));
    let i = 1;
    for (; i < cur.size; i++) if (l[i] < min && i >= this.minKeep) break;
    cur.size = i;
  }
}
