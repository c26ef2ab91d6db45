// GPT-2 byte-level BPE (llama.cpp llm_tokenizer_bpe_session). Each pre-token is turned into byte
// symbols, then the adjacent pair with the lowest merge rank is merged (ties: leftmost) until none is left.
//
// Symbols are integers: vocab ids, plus ids >= vocab size for strings that merges or bytes produce but the
// vocab lacks (never in a well-formed vocab; they fall back to single-character tokens like llama.cpp).
// Pairs live in an open-addressing hash table; pieces already seen come from a cache.
import { Heap } from './heap.js';
import { RangeIndex } from './range-index.js';
import { BYTE_TO_CHAR, utf8EncodeInto } from './unicode.js';
import type { Vocab } from './vocab.js';

const NONE = 0x7fffffff;
/** words longer than this use the heap; shorter ones a linear scan (same result, less overhead) */
const SCAN_LIMIT = 64;
const CACHE_LIMIT = 1 << 17;

interface PairEntry {
  rank: number;
  left: number;
  right: number;
  lid: number;
  rid: number;
}
const pairBefore = (a: PairEntry, b: PairEntry) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

export class BpeTokenizer {
  private readonly nVocab: number;
  /** texts of symbols that are not vocab tokens, id = nVocab + index */
  private readonly extra: string[] = [];
  private readonly extraIds = new Map<string, number>();
  private readonly byteSym = new Int32Array(256);
  // pair table
  private readonly mask: number;
  private readonly keyL: Int32Array;
  private readonly keyR: Int32Array;
  private readonly rank: Int32Array;
  private readonly merged: Int32Array;
  private readonly cache = new Map<string, number[]>();
  private bytes = new Uint8Array(1024);
  private syms = new Int32Array(1024);
  private ranks = new Int32Array(1024);
  private mergeTo = new Int32Array(1024);

  constructor(private readonly vocab: Vocab) {
    this.nVocab = vocab.size;
    for (let b = 0; b < 256; b++) this.byteSym[b] = this.intern(BYTE_TO_CHAR[b]);

    const merges = vocab.merges;
    let cap = 1;
    while (cap < merges.length * 2) cap <<= 1;
    this.mask = cap - 1;
    this.keyL = new Int32Array(cap).fill(-1);
    this.keyR = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.merged = new Int32Array(cap);
    // token ids found from ranges of the merge strings, without slicing them (this loop runs 440k times)
    const index = new RangeIndex(vocab.tokens);
    for (let i = 0; i < merges.length; i++) {
      const m = merges[i];
      const sp = m.indexOf(' ', 1); // llama.cpp: the first space at index >= 1
      if (sp < 0) {
        this.insertPair(this.intern(''), this.intern(''), i, this.intern(''));
        continue;
      }
      let l = index.find(m, 0, sp, 0, 0);
      let r = index.find(m, sp + 1, m.length, 0, 0);
      let lr = index.find(m, 0, sp, sp + 1, m.length);
      if (l < 0) l = this.intern(m.slice(0, sp));
      if (r < 0) r = this.intern(m.slice(sp + 1));
      if (lr < 0) lr = this.intern(m.slice(0, sp) + m.slice(sp + 1));
      this.insertPair(l, r, i, lr);
    }
  }

  private intern(text: string): number {
    const id = this.vocab.tokenToId.get(text);
    if (id !== undefined) return id;
    let e = this.extraIds.get(text);
    if (e === undefined) {
      e = this.nVocab + this.extra.length;
      this.extra.push(text);
      this.extraIds.set(text, e);
    }
    return e;
  }

  private slot(l: number, r: number): number {
    let h = (Math.imul(l, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca77)) >>> 0;
    h = (h ^ (h >>> 15)) & this.mask;
    while (this.keyL[h] !== -1 && (this.keyL[h] !== l || this.keyR[h] !== r)) h = (h + 1) & this.mask;
    return h;
  }

  private insertPair(l: number, r: number, rank: number, merged: number): void {
    const h = this.slot(l, r);
    if (this.keyL[h] !== -1) return; // duplicate merge: the first rank stays (bpe_ranks.emplace)
    this.keyL[h] = l;
    this.keyR[h] = r;
    this.rank[h] = rank;
    this.merged[h] = merged;
  }

  /** Slot of the pair, or -1 when it is not a merge. */
  private find(l: number, r: number): number {
    const h = this.slot(l, r);
    return this.keyL[h] === -1 ? -1 : h;
  }

  /** Appends the ids of one pre-token to `out`. */
  encodePiece(piece: string, out: number[]): void {
    const cached = this.cache.get(piece);
    if (cached !== undefined) {
      for (let i = 0; i < cached.length; i++) out.push(cached[i]);
      return;
    }
    const ids = this.encodeUncached(piece);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, ids);
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }

  private encodeUncached(piece: string): number[] {
    if (this.bytes.length < piece.length * 3) {
      const cap = piece.length * 3 + 16;
      this.bytes = new Uint8Array(cap);
      this.syms = new Int32Array(cap);
      this.ranks = new Int32Array(cap);
      this.mergeTo = new Int32Array(cap);
    }
    const nb = utf8EncodeInto(piece, 0, piece.length, this.bytes, 0);
    if (this.vocab.ignoreMerges) {
      let encoded = '';
      for (let i = 0; i < nb; i++) encoded += BYTE_TO_CHAR[this.bytes[i]];
      const id = this.vocab.tokenToId.get(encoded);
      if (id !== undefined) return [id];
    }
    const syms = this.syms;
    for (let i = 0; i < nb; i++) syms[i] = this.byteSym[this.bytes[i]];
    const n = nb <= SCAN_LIMIT ? this.mergeScan(nb) : this.mergeHeap(nb);
    const out: number[] = [];
    for (let i = 0; i < n; i++) this.emit(syms[i], out);
    return out;
  }

  private emit(sym: number, out: number[]): void {
    if (sym < this.nVocab) {
      out.push(sym);
      return;
    }
    // not a token: llama.cpp looks up each byte of the symbol's text as a one-byte token
    const text = this.extra[sym - this.nVocab];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) continue;
      const id = this.vocab.tokenToId.get(text[i]);
      if (id !== undefined) out.push(id);
    }
  }

  /** Merges syms[0, n) in place by rescanning for the best pair; returns the new length. */
  private mergeScan(n: number): number {
    const syms = this.syms;
    const ranks = this.ranks;
    const mergeTo = this.mergeTo;
    const setPair = (i: number) => {
      const h = this.find(syms[i], syms[i + 1]);
      ranks[i] = h < 0 ? NONE : this.rank[h];
      mergeTo[i] = h < 0 ? -1 : this.merged[h];
    };
    for (let i = 0; i + 1 < n; i++) setPair(i);
    while (n > 1) {
      let best = -1;
      let bestRank = NONE;
      for (let i = 0; i + 1 < n; i++) {
        if (ranks[i] < bestRank) {
          bestRank = ranks[i];
          best = i;
        }
      }
      if (best < 0) break;
      syms[best] = mergeTo[best];
      syms.copyWithin(best + 1, best + 2, n);
      ranks.copyWithin(best + 1, best + 2, n - 1);
      mergeTo.copyWithin(best + 1, best + 2, n - 1);
      n--;
      if (best > 0) setPair(best - 1);
      if (best + 1 < n) setPair(best);
    }
    return n;
  }

  /** The same merge order with llama.cpp's priority queue over a linked list, for long pieces. */
  private mergeHeap(n: number): number {
    const syms = this.syms;
    const alive = new Uint8Array(n).fill(1);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const queue = new Heap<PairEntry>(pairBefore);
    const add = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const h = this.find(syms[left], syms[right]);
      if (h >= 0) queue.push({ rank: this.rank[h], left, right, lid: syms[left], rid: syms[right] });
    };
    for (let i = 0; i + 1 < n; i++) add(i, i + 1);
    while (queue.size > 0) {
      const e = queue.pop() as PairEntry;
      const l = e.left;
      const r = e.right;
      // stale: a side was merged away, or grew since the entry was queued
      if (!alive[l] || !alive[r] || next[l] !== r || syms[l] !== e.lid || syms[r] !== e.rid) continue;
      syms[l] = this.merged[this.find(e.lid, e.rid)];
      alive[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      add(prev[l], l);
      add(l, next[l]);
    }
    let m = 0;
    for (let i = 0; i !== -1; i = next[i]) syms[m++] = syms[i];
    return m;
  }
}

