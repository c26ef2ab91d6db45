// llama_sampler_top_p (nucleus): the smallest prefix, by descending probability, whose mass reaches p.
import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/** on a large unsorted set llama.cpp first orders only this many, and sorts everything if that is not enough */
const FIRST_PASS = 256;

export class TopPSampler implements Sampler {
  readonly name = 'top-p';
  constructor(
    private readonly p: number,
    private readonly minKeep = 0,
  ) {}

  apply(cur: Candidates): void {
    if (this.p >= 1 || cur.size === 0) return;
    cur.softmax();
    const n = cur.size;
    if (cur.sorted) {
      const keep = this.reach(cur.probs, null, n);
      if (keep > 0) cur.size = keep;
      return;
    }
    let pos = cur.topPositions(n > 1024 ? FIRST_PASS : n);
    let keep = this.reach(cur.probs, pos, pos.length);
    if (keep === 0 && pos.length < n) {
      pos = cur.topPositions(n);
      keep = this.reach(cur.probs, pos, n);
    }
    cur.gather(keep === 0 ? pos : pos.subarray(0, keep));
  }

  /** entries (in descending order, through `pos` if given) needed to reach mass p and min_keep; 0 if never */
  private reach(probs: Float32Array, pos: Int32Array | null, n: number): number {
    let cum = 0;
    for (let i = 0; i < n; i++) {
      cum = Math.fround(cum + probs[pos ? pos[i] : i]);
      if (cum >= this.p && i + 1 >= this.minKeep) return i + 1;
    }
    return 0;
  }
}
