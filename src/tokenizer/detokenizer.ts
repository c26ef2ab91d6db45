// Tokens back to bytes and text (llama.cpp token_to_piece / detokenize), and a streaming detokenizer that
// only emits whole UTF-8 characters.
import { byteLevelDecode, utf8Encode } from './unicode.js';
import { TokenAttr, type Vocab } from './vocab.js';

const SPECIAL = TokenAttr.UNKNOWN | TokenAttr.CONTROL;
const EMPTY = new Uint8Array(0);

export interface DecodeOptions {
  /** drop a leading BOS / trailing EOS when the vocab adds them (llama_detokenize remove_special); default false */
  removeSpecial?: boolean;
  /** render CONTROL / UNKNOWN tokens as their text (unparse_special); default false */
  special?: boolean;
  /** llama.cpp's clean-up of " ," " 's" ... ; default: the vocab's setting (true for gpt-2 and llama-bpe) */
  cleanSpaces?: boolean;
}

/** Per-vocab piece bytes, computed on first use (the text as if `special` were on). */
export class PieceTable {
  private readonly pieces: Array<Uint8Array | undefined>;

  constructor(readonly vocab: Vocab) {
    this.pieces = new Array(vocab.size);
  }

  /** The bytes of one token; CONTROL / UNKNOWN tokens are empty unless `special`. */
  bytes(id: number, special: boolean): Uint8Array {
    const attr = this.vocab.attr(id);
    if (!special && attr & SPECIAL) return EMPTY;
    let p = this.pieces[id];
    if (p === undefined) this.pieces[id] = p = this.compute(id, attr);
    return p;
  }

  private compute(id: number, attr: number): Uint8Array {
    const text = this.vocab.tokens[id];
    if (attr & (SPECIAL | TokenAttr.USER_DEFINED)) return utf8Encode(text);
    if (this.vocab.type === 'spm') {
      if (attr & TokenAttr.NORMAL) return utf8Encode(text.replaceAll('\u2581', ' '));
      if (attr & TokenAttr.BYTE) return Uint8Array.of(parseInt(text.slice(3, 5), 16));
      return EMPTY;
    }
    if (attr & TokenAttr.NORMAL) return byteLevelDecode(text) ?? unknownBytes(text);
    return EMPTY;
  }
}

/** llama_decode_text's rendering of a character outside the byte map: "[UNK_BYTE_0x<utf8 hex><token text>]". */
function unknownBytes(text: string): Uint8Array {
  let s = '';
  for (const ch of text) {
    const b = byteLevelDecode(ch);
    if (b) s += String.fromCharCode(b[0]);
    else s += `[UNK_BYTE_0x${Array.from(utf8Encode(ch), (x) => x.toString(16).padStart(2, '0')).join('')}${text}]`;
  }
  // s holds byte values (< 256) for mapped chars and ASCII for the marker; map back through latin-1
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** llama.cpp's detokenize: pieces concatenated, one leading space stripped for SPM, optional clean-up. */
export function detokenizeBytes(table: PieceTable, ids: ArrayLike<number>, opts: DecodeOptions = {}): Uint8Array {
  const vocab = table.vocab;
  const special = opts.special ?? false;
  let from = 0;
  let to = ids.length;
  let removeSpace = vocab.addSpacePrefix;
  if (opts.removeSpecial && vocab.addBos && to > 0 && ids[0] === vocab.bos) {
    removeSpace = false;
    from++;
  }
  if (opts.removeSpecial && vocab.addEos && to > from && ids[to - 1] === vocab.eos) to--;

  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = from; i < to; i++) {
    let p = table.bytes(ids[i], special);
    if (removeSpace && p.length > 0 && p[0] === 0x20) p = p.subarray(1);
    removeSpace = false;
    parts.push(p);
    total += p.length;
  }
  let out: Uint8Array = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  if (opts.cleanSpaces ?? vocab.cleanSpaces) out = cleanSpaces(out);
  return out;
}

/** The three clean-up passes of llama_vocab::impl::detokenize, on bytes. */
export function cleanSpaces(text: Uint8Array): Uint8Array {
  const SP = 0x20;
  const AP = 0x27;
  const t = Uint8Array.from(text);
  // 1: " ?", " !", " .", " ," lose the space
  const total1 = t.length;
  let total = total1 ? 1 : 0;
  for (let i = 1; i < total1; i++) {
    const x = t[i];
    if (t[i - 1] === SP && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) total--;
    t[total++] = x;
  }
  // 2: " ' " becomes "'"
  const total2 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total2; i++) {
    const x = t[i];
    if (x === AP && i + 1 < total2 && t[i - 1] === SP && t[i + 1] === SP) {
      total--;
      t[++i] = 0;
    }
    t[total++] = x;
  }
  // 3: " 's", " 'm", " 're", " 've" lose the space
  const total3 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total3; i++) {
    const x = t[i];
    if (t[i - 1] === SP && x === AP && i + 1 < total3) {
      const x1 = t[i + 1];
      if (x1 === 0x73 || x1 === 0x6d) total--;
      else if (i + 2 < total3) {
        const x2 = t[i + 2];
        if ((x1 === 0x72 && x2 === 0x65) || (x1 === 0x76 && x2 === 0x65)) total--;
      }
    }
    t[total++] = x;
  }
  return t.subarray(0, total);
}

export interface StreamOptions {
  /** render CONTROL / UNKNOWN tokens (default false, like llama-cli without --special) */
  special?: boolean;
  /**
   * strip one leading space from the first token's piece when the vocab adds a space prefix (what decode()
   * does for a whole sequence). Off by default: a continuation's first piece keeps its space, as llama.cpp
   * prints generated tokens.
   */
  stripLeadingSpace?: boolean;
}

/**
 * Feeds token ids, returns text as soon as it forms whole UTF-8 characters: a character split across
 * byte tokens comes out with the token that completes it. Concatenated output equals decode() of the same
 * ids with cleanSpaces off (and stripLeadingSpace on when the vocab adds a space prefix).
 */
export class StreamingDetokenizer {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private first = true;

  constructor(
    private readonly table: PieceTable,
    private readonly opts: StreamOptions = {},
  ) {}

  push(id: number): string {
    let p = this.table.bytes(id, this.opts.special ?? false);
    if (this.first && this.opts.stripLeadingSpace && this.table.vocab.addSpacePrefix && p.length > 0 && p[0] === 0x20) {
      p = p.subarray(1);
    }
    this.first = false;
    return p.length ? this.decoder.decode(p, { stream: true }) : '';
  }

  /** Ends the stream: an incomplete trailing character comes out as U+FFFD. */
  flush(): string {
    this.first = true;
    return this.decoder.decode();
  }
}
