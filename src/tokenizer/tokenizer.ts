// The tokenizer facade: text <-> token ids for a GGUF vocabulary, as llama.cpp's llama_tokenize /
// llama_detokenize (special tokens, BOS/EOS, SPM space prefix), with the model's reference pre-tokenizer
// by default and llama.cpp's where `llamaCppCompat` asks for it.
import { existsSync } from 'node:fs';
import { addon } from '../native/addon.js';
import { BpeTokenizer } from './bpe.js';
import { detokenizeBytes, PieceTable, StreamingDetokenizer, type DecodeOptions, type StreamOptions } from './detokenizer.js';
import { partitionSpecial } from './special.js';
import { SpmTokenizer } from './spm.js';
import { utf8Decode } from './unicode.js';
import { metadataMap, NO_TOKEN, Vocab, type Metadata, type VocabOptions } from './vocab.js';

export interface EncodeOptions {
  /** add BOS / EOS as the vocab asks (add_bos_token / add_eos_token); default true */
  addSpecial?: boolean;
  /** match CONTROL tokens such as <|eot|> in the text (chat templates turn it on); default false */
  parseSpecial?: boolean;
}

export class Tokenizer {
  readonly vocab: Vocab;
  private readonly spm: SpmTokenizer | null;
  private readonly bpe: BpeTokenizer | null;
  private readonly split: ((text: string) => string[]) | null;
  private readonly pieces: PieceTable;

  constructor(vocab: Vocab) {
    this.vocab = vocab;
    this.spm = vocab.type === 'spm' ? new SpmTokenizer(vocab) : null;
    this.bpe = vocab.type === 'bpe' ? new BpeTokenizer(vocab) : null;
    this.split = vocab.type === 'bpe' ? vocab.splitter() : null;
    this.pieces = new PieceTable(vocab);
  }

  static fromMetadata(meta: Metadata, options?: VocabOptions): Tokenizer {
    return new Tokenizer(new Vocab(meta, options));
  }

  static async fromGguf(path: string, options?: VocabOptions): Promise<Tokenizer> {
    if (!existsSync(path)) throw new Error(`model file not found: ${path}`);
    const header = await addon().readGguf(path);
    return Tokenizer.fromMetadata(metadataMap(header), options);
  }

  get bos(): number {
    return this.vocab.bos;
  }
  get eos(): number {
    return this.vocab.eos;
  }
  get eot(): number {
    return this.vocab.eot;
  }
  get size(): number {
    return this.vocab.size;
  }

  isEog(id: number): boolean {
    return this.vocab.isEog(id);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const addSpecial = opts.addSpecial ?? true;
    const vocab = this.vocab;
    const out: number[] = [];
    if (addSpecial && vocab.addBos) out.push(vocab.bos);
    const frags = partitionSpecial(vocab, text, opts.parseSpecial ?? false);
    if (this.spm) {
      let prevSpecial = true; // the first fragment gets the space prefix too
      for (const f of frags) {
        if (f.token >= 0) {
          out.push(f.token);
          prevSpecial = true;
        } else {
          this.spm.encodeFragment(text.slice(f.start, f.end), vocab.addSpacePrefix && prevSpecial, out);
          prevSpecial = false;
        }
      }
    } else {
      const bpe = this.bpe as BpeTokenizer;
      const split = this.split as (t: string) => string[];
      for (const f of frags) {
        if (f.token >= 0) {
          out.push(f.token);
          continue;
        }
        const pieces = split(f.start === 0 && f.end === text.length ? text : text.slice(f.start, f.end));
        for (let i = 0; i < pieces.length; i++) bpe.encodePiece(pieces[i], out);
      }
    }
    if (addSpecial && vocab.addEos) out.push(vocab.eos);
    return out;
  }

  /** Token ids to text (llama_detokenize); see DecodeOptions for the defaults. */
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string {
    return utf8Decode(detokenizeBytes(this.pieces, ids, opts));
  }

  /** The raw bytes of one token (a byte token or part of a UTF-8 character may not be valid text alone). */
  tokenToBytes(id: number, special = true): Uint8Array {
    return this.pieces.bytes(id, special);
  }

  /** One token as text; CONTROL tokens are shown by default. Incomplete UTF-8 comes out as U+FFFD. */
  tokenToPiece(id: number, special = true): string {
    return utf8Decode(this.pieces.bytes(id, special));
  }

  /** A detokenizer for generated tokens that only emits whole characters. */
  streamDecoder(opts?: StreamOptions): StreamingDetokenizer {
    return new StreamingDetokenizer(this.pieces, opts);
  }

  /** The id of a token text, or NO_TOKEN. */
  tokenId(text: string): number {
    return this.vocab.tokenToId.get(text) ?? NO_TOKEN;
  }
}
