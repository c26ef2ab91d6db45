// SentencePiece-style BPE over scores (llama.cpp llm_tokenizer_spm_session): start from UTF-8 characters,
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring vocab token (ties: leftmost),
// then map symbols to ids, falling back to <0xXX> byte tokens.
import { Heap } from './heap.js';
import { RangeIndex } from './range-index.js';
import { utf8Encode } from './unicode.js';
import { NO_TOKEN, type Vocab } from './vocab.js';

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** length of the merged text, to detect stale entries */
  size: number;
}

const bigramBefore = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

/** SPM's whitespace escape: ' ' -> U+2581. */
export function escapeWhitespace(text: string): string {
  return text.replaceAll(' ', '\u2581');
}

export class SpmTokenizer {
  private readonly byteTokens = new Int32Array(256);
  private readonly index: RangeIndex;

  constructor(private readonly vocab: Vocab) {
    this.index = new RangeIndex(vocab.tokens);
    // llama_vocab::byte_to_token: "<0xXX>" (upper-case hex), else the raw one-byte string
    for (let b = 0; b < 256; b++) {
      const hex = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      this.byteTokens[b] = vocab.tokenToId.get(hex) ?? (b < 0x80 ? vocab.tokenToId.get(String.fromCharCode(b)) : undefined) ?? NO_TOKEN;
    }
  }

  /** Tokenizes one raw-text fragment; `spacePrefix` puts the leading space SPM expects in front. */
  encodeFragment(raw: string, spacePrefix: boolean, out: number[]): void {
    const text = escapeWhitespace(spacePrefix ? ' ' + raw : raw);
    if (text.length === 0) return;

    // symbols = code points: [start, start+len) in `text`, as a doubly linked list
    const n0 = text.length;
    const start = new Int32Array(n0);
    const len = new Int32Array(n0);
    let n = 0;
    for (let i = 0; i < n0; ) {
      const c = text.charCodeAt(i);
      const w = c >= 0xd800 && c <= 0xdbff && i + 1 < n0 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      start[n] = i;
      len[n] = w;
      n++;
      i += w;
    }
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }

    const queue = new Heap<Bigram>(bigramBefore);
    const vocab = this.vocab;
    const index = this.index;
    const tryAdd = (left: number, right: number) => {
      if (left === -1 || right === -1) return;
      const size = len[left] + len[right];
      const id = index.find(text, start[left], start[left] + size, 0, 0);
      if (id < 0) return;
      queue.push({ left, right, score: vocab.scores[id], size });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);

    while (queue.size > 0) {
      const bg = queue.pop() as Bigram;
      const l = bg.left;
      const r = bg.right;
      if (len[l] === 0 || len[r] === 0 || len[l] + len[r] !== bg.size) continue;
      len[l] += len[r];
      len[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      tryAdd(prev[l], l);
      tryAdd(l, next[l]);
    }

    // every merge produced a vocab token, so a symbol is either a token or a single unknown character
    for (let i = 0; i !== -1; i = next[i]) {
      const s = text.substr(start[i], len[i]);
      const id = vocab.tokenToId.get(s);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of utf8Encode(s)) {
        const bt = this.byteTokens[b];
        if (bt !== NO_TOKEN) out.push(bt);
        else if (vocab.unk !== NO_TOKEN) out.push(vocab.unk);
        else throw new Error(`SPM vocabulary has no byte token for 0x${b.toString(16)} and no unknown token`);
      }
    }
  }
}
