// llama_token_data_array: the candidate tokens a sampler chain narrows down. Arrays are sized for the whole
// vocabulary once and reused for every step; `size` is the live prefix.
import { addon } from '../native/addon.js';

export class Candidates {
  readonly ids: Int32Array;
  readonly logits: Float32Array;
  readonly probs: Float32Array;
  size = 0;
  /** logits are in descending order over [0, size) */
  sorted = false;
  /** ids[i] === i for every live entry (a fresh fill), so a token's position is its id */
  identity = false;
  /** index of the chosen token after a final sampler, -1 before */
  selected = -1;
  private readonly iota: Int32Array;
  private scratchIds = new Int32Array(0);
  private scratchLogits = new Float32Array(0);
  private scratchProbs = new Float32Array(0);

  constructor(capacity: number) {
    this.ids = new Int32Array(capacity);
    this.logits = new Float32Array(capacity);
    this.probs = new Float32Array(capacity);
    this.iota = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.iota[i] = i;
  }

  get capacity(): number {
    return this.ids.length;
  }

  /** All tokens with their logits (copied: the engine's buffer is never written). */
  fill(logits: Float32Array): void {
    if (logits.length > this.capacity) throw new Error(`${logits.length} logits for a sampler sized for ${this.capacity}`);
    this.ids.set(this.iota.subarray(0, logits.length));
    this.logits.set(logits);
    this.size = logits.length;
    this.sorted = false;
    this.identity = true;
    this.selected = -1;
  }

  /** Hand-made candidates (tests, or a caller's own subset). */
  static from(entries: Array<[id: number, logit: number]>): Candidates {
    const c = new Candidates(entries.length);
    entries.forEach(([id, logit], i) => {
      c.ids[i] = id;
      c.logits[i] = logit;
    });
    c.size = entries.length;
    c.identity = entries.every(([id], i) => id === i);
    return c;
  }

  /** Position of a token among the live candidates, or -1. */
  indexOf(id: number): number {
    if (this.identity) return id >= 0 && id < this.size ? id : -1;
    for (let i = 0; i < this.size; i++) if (this.ids[i] === id) return i;
    return -1;
  }

  /**
   * Positions of the k best (logit descending, earlier position first on ties), in order; the candidates
   * are not changed. Partial selection, so 40 of 202k does not sort the vocabulary.
   */
  topPositions(k: number): Int32Array {
    const n = this.size;
    k = Math.max(0, Math.min(k, n));
    if (k === 0) return new Int32Array(0);
    return heapSelects(k, n) ? addon().topK(this.logits, n, k) : sortedPositions(this.logits, n, k);
  }

  /** Keeps exactly the entries at `pos`, in that order (ids, logits and probs move together). */
  gather(pos: Int32Array, sorted = true): void {
    const k = pos.length;
    if (this.scratchIds.length < k) {
      this.scratchIds = new Int32Array(k);
      this.scratchLogits = new Float32Array(k);
      this.scratchProbs = new Float32Array(k);
    }
    const ids = this.scratchIds;
    const logits = this.scratchLogits;
    const probs = this.scratchProbs;
    for (let i = 0; i < k; i++) {
      ids[i] = this.ids[pos[i]];
      logits[i] = this.logits[pos[i]];
      probs[i] = this.probs[pos[i]];
    }
    this.ids.set(ids.subarray(0, k));
    this.logits.set(logits.subarray(0, k));
    this.probs.set(probs.subarray(0, k));
    this.size = k;
    this.sorted = sorted;
    this.identity = false;
  }

  /**
   * Keeps the k best, sorted. A small k runs natively (the heap of heapPositions below, its reference,
   * and the gather): V8 interprets JS until it has run many times, and a short run's sampler never warms
   * up; this was most of its sampling time.
   */
  keepTop(k: number): void {
    const n = this.size;
    k = Math.max(0, Math.min(k, n));
    if (k > 0 && heapSelects(k, n)) {
      addon().keepTopK(this.ids, this.logits, this.probs, n, k);
      this.size = k;
      this.sorted = true;
      this.identity = false;
    } else {
      this.gather(this.topPositions(k));
    }
  }

  /** llama_sampler_softmax_impl: probs from logits in f32 (max subtracted, f32 running sum). */
  softmax(): void {
    const n = this.size;
    const l = this.logits;
    const p = this.probs;
    let max = l[0];
    if (!this.sorted) for (let i = 1; i < n; i++) if (l[i] > max) max = l[i];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.fround(Math.exp(l[i] - max));
      p[i] = e;
      sum = Math.fround(sum + e);
    }
    for (let i = 0; i < n; i++) p[i] = p[i] / sum;
  }
}

/** a few of many: a size-k heap (native); otherwise one full sort */
const heapSelects = (k: number, n: number) => k * 8 < n;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** All positions sorted (logit descending, position ascending), first k returned. */
function sortedPositions(logits: Float32Array, n: number, k: number): Int32Array {
  let bits = 0;
  while (1 << bits < n) bits++;
  if (bits > 21) {
    const pos = new Int32Array(n);
    for (let i = 0; i < n; i++) pos[i] = i;
    pos.sort((a, b) => logits[b] - logits[a] || a - b);
    return pos.subarray(0, k);
  }
  // one exact double per entry: (descending-order key of the f32 bits) * 2^bits + position, sorted natively
  const keys = new Float64Array(n);
  const scale = 2 ** bits;
  for (let i = 0; i < n; i++) {
    f32[0] = logits[i];
    const u = u32[0];
    const asc = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
    keys[i] = (0xffffffff - asc) * scale + i;
  }
  keys.sort();
  const pos = new Int32Array(k);
  for (let i = 0; i < k; i++) pos[i] = keys[i] % scale;
  return pos;
}

/**
 * k best positions via a size-k min-heap whose root is the worst kept (lowest logit, latest position).
 * The reference for the native topK (ops/select.cpp), which the sampler calls.
 */
export function heapPositions(logits: Float32Array, n: number, k: number): Int32Array {
  const hp = new Int32Array(k);
  const hv = new Float32Array(k);
  for (let i = 0; i < k; i++) {
    hp[i] = i;
    hv[i] = logits[i];
  }
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(hp, hv, k, i);
  let root = hv[0];
  for (let i = k; i < n; i++) {
    const v = logits[i];
    // a later position never beats an equal logit already kept
    if (v > root) {
      hp[0] = i;
      hv[0] = v;
      siftDown(hp, hv, k, 0);
      root = hv[0];
    }
  }
  // pop the worst k times: the root is the last in (logit descending, position ascending) order
  const out = new Int32Array(k);
  for (let m = k; m > 0; m--) {
    out[m - 1] = hp[0];
    hp[0] = hp[m - 1];
    hv[0] = hv[m - 1];
    siftDown(hp, hv, m - 1, 0);
  }
  return out;
}

function siftDown(hp: Int32Array, hv: Float32Array, k: number, i: number): void {
  const p = hp[i];
  const v = hv[i];
  for (;;) {
    let c = 2 * i + 1;
    if (c >= k) break;
    // the worse child: lower logit, or equal logit and later position
    const r = c + 1;
    if (r < k && (hv[r] < hv[c] || (hv[r] === hv[c] && hp[r] > hp[c]))) c = r;
    if (!(hv[c] < v || (hv[c] === v && hp[c] > p))) break;
    hp[i] = hp[c];
    hv[i] = hv[c];
    i = c;
  }
  hp[i] = p;
  hv[i] = v;
}
