// The vocabulary as llama.cpp's llama_vocab::impl::load builds it from GGUF metadata: token texts, scores,
// attributes, special ids (keys first, then detection by text), add_bos/add_eos, the EOG set, the
// pre-tokenizer, and the longest-first list of special tokens used when parsing prompts.
import { nameTable } from '../gguf/names.js';
import { addon, type GgufHeader, type GgufValue } from '../native/addon.js';
import { findPreTokenizer, type PreTokenizer } from './pretokenizers.js';

/** llama_token_attr bits */
export const TokenAttr = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  NORMALIZED: 1 << 6,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
  SINGLE_WORD: 1 << 9,
} as const;

/** tokenizer.ggml.token_type values (llama_token_type) to attributes */
const TYPE_TO_ATTR: Record<number, number> = {
  0: TokenAttr.UNDEFINED,
  1: TokenAttr.NORMAL,
  2: TokenAttr.UNKNOWN,
  3: TokenAttr.CONTROL,
  4: TokenAttr.USER_DEFINED,
  5: TokenAttr.UNUSED,
  6: TokenAttr.BYTE,
};

export type VocabType = 'spm' | 'bpe';
export type Metadata = ReadonlyMap<string, GgufValue>;

export interface VocabOptions {
  /** reproduce llama.cpp where it differs from the model's reference tokenizer (Llama 4's regex) */
  llamaCppCompat?: boolean;
}

/** -1 = no such token */
export const NO_TOKEN = -1;

// Texts llama.cpp uses to find tokens the converter did not name (llama-vocab.cpp, "auto-detect").
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>', '_<EOT>', '<｜end▁of▁sentence｜>', '<end_of_utterance>'];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_PAD_TEXTS = ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>'];
const FIM_REP_TEXTS = ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'];
const FIM_SEP_TEXTS = ['<|file_sep|>'];
const EOG_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>', '<|endoftext|>', '<|eom_id|>', '<EOT>', '_<EOT>', '<|end_of_text|>', '<end_of_utterance>'];

/** The project's one table of GGUF key names (native names.h). */
export function ggufKeys(): Record<string, string> {
  return nameTable().keys;
}

function key(name: string): string {
  const k = ggufKeys()[name];
  if (!k) throw new Error(`GGUF key ${name} is missing from the native name table`);
  return k;
}

/** GGUF header metadata as a key -> value map. */
export function metadataMap(header: GgufHeader): Map<string, GgufValue> {
  return new Map(header.metadata.map((kv) => [kv.key, kv.value]));
}

function asNumber(v: GgufValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

export class Vocab {
  readonly type: VocabType;
  readonly tokens: string[];
  readonly scores: Float32Array;
  readonly attrs: Uint16Array;
  readonly tokenToId = new Map<string, number>();
  readonly pre: PreTokenizer | null;
  readonly merges: readonly string[];
  readonly llamaCppCompat: boolean;

  bos = NO_TOKEN;
  eos = NO_TOKEN;
  eot = NO_TOKEN;
  eom = NO_TOKEN;
  unk = NO_TOKEN;
  sep = NO_TOKEN;
  pad = NO_TOKEN;
  fimPad = NO_TOKEN;
  fimRep = NO_TOKEN;
  fimSep = NO_TOKEN;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  cleanSpaces: boolean;
  ignoreMerges: boolean;
  /** end-of-generation tokens, as llama.cpp computes them */
  readonly eog = new Set<number>();
  /** CONTROL, USER_DEFINED and UNKNOWN tokens, longest text first (cache_special_tokens) */
  readonly specialTokens: number[];

  constructor(meta: Metadata, options: VocabOptions = {}) {
    this.llamaCppCompat = options.llamaCppCompat ?? false;
    const model = meta.get(key('TOKENIZER_MODEL'));
    if (typeof model !== 'string') throw new Error(`no tokenizer in this GGUF (${key('TOKENIZER_MODEL')} is missing)`);

    const rawTokens = meta.get(key('TOKENIZER_TOKENS'));
    if (!Array.isArray(rawTokens) || (rawTokens.length > 0 && typeof rawTokens[0] !== 'string')) {
      throw new Error(`${key('TOKENIZER_TOKENS')} is missing or not a string array`);
    }
    const n = rawTokens.length;
    this.tokens = (rawTokens as string[]).map((t, i) => (t === '' ? `[EMPTY_${i}]` : t));
    for (let i = 0; i < n; i++) {
      if (this.tokenToId.has(this.tokens[i])) {
        throw new Error(`duplicate token '${this.tokens[i]}' at ids ${this.tokenToId.get(this.tokens[i])} and ${i}`);
      }
      this.tokenToId.set(this.tokens[i], i);
    }

    const scores = meta.get(key('TOKENIZER_SCORES'));
    this.scores = new Float32Array(n);
    if (scores !== undefined) {
      if (!ArrayBuffer.isView(scores) || (scores as Float32Array).length < n) {
        throw new Error(`${key('TOKENIZER_SCORES')} must be a numeric array of at least ${n} entries`);
      }
      for (let i = 0; i < n; i++) this.scores[i] = Number((scores as Float32Array)[i]);
    }

    const types = meta.get(key('TOKENIZER_TOKEN_TYPE'));
    this.attrs = new Uint16Array(n).fill(TokenAttr.NORMAL);
    if (types !== undefined && ArrayBuffer.isView(types)) {
      const t = types as Int32Array;
      for (let i = 0; i < n && i < t.length; i++) this.attrs[i] = TYPE_TO_ATTR[Number(t[i])] ?? TokenAttr.UNDEFINED;
    }

    const preName = meta.get(key('TOKENIZER_PRE'));
    if (model === 'llama') {
      this.type = 'spm';
      this.bos = 1;
      this.eos = 2;
      this.unk = 0;
      this.addBos = true;
      this.addEos = false;
      this.addSpacePrefix = true;
      this.cleanSpaces = false;
      this.ignoreMerges = false;
      this.pre = null;
      this.merges = [];
    } else if (model === 'gpt2') {
      this.type = 'bpe';
      this.bos = 11;
      this.eos = 11;
      this.pre = findPreTokenizer(typeof preName === 'string' ? preName : undefined);
      this.addBos = this.pre.addBos ?? false;
      this.addEos = false;
      this.addSpacePrefix = false;
      this.cleanSpaces = this.pre.cleanSpaces;
      this.ignoreMerges = this.pre.ignoreMerges;
      const merges = meta.get(key('TOKENIZER_MERGES'));
      if (!Array.isArray(merges)) throw new Error(`${key('TOKENIZER_MERGES')} is required for a gpt2 (BPE) tokenizer`);
      this.merges = merges as string[];
    } else {
      throw new Error(`unsupported tokenizer model '${model}' (${key('TOKENIZER_MODEL')}); supported: llama, gpt2`);
    }

    const spacePrefix = meta.get(key('TOKENIZER_ADD_SPACE_PREFIX'));
    if (typeof spacePrefix === 'boolean') this.addSpacePrefix = spacePrefix;

    const ids: Array<[string, 'bos' | 'eos' | 'eot' | 'eom' | 'unk' | 'sep' | 'pad']> = [
      ['TOKENIZER_BOS_ID', 'bos'],
      ['TOKENIZER_EOS_ID', 'eos'],
      ['TOKENIZER_EOT_ID', 'eot'],
      ['TOKENIZER_EOM_ID', 'eom'],
      ['TOKENIZER_UNK_ID', 'unk'],
      ['TOKENIZER_SEP_ID', 'sep'],
      ['TOKENIZER_PAD_ID', 'pad'],
    ];
    for (const [name, field] of ids) {
      const v = asNumber(meta.get(key(name)));
      // out-of-range ids (e.g. 0xFFFFFFFF for "none") keep the default, as llama.cpp does
      if (v !== undefined && v >= 0 && v < n) this[field] = v;
    }
    const addBos = meta.get(key('TOKENIZER_ADD_BOS'));
    if (typeof addBos === 'boolean') this.addBos = addBos;
    const addEos = meta.get(key('TOKENIZER_ADD_EOS'));
    if (typeof addEos === 'boolean') this.addEos = addEos;
    if (this.addBos && this.bos === NO_TOKEN) throw new Error('add_bos_token is set but the vocabulary has no BOS token');
    if (this.addEos && this.eos === NO_TOKEN) throw new Error('add_eos_token is set but the vocabulary has no EOS token');

    this.detectByText();
    this.specialTokens = [];
    for (let i = 0; i < n; i++) {
      if (this.attrs[i] & (TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN)) this.specialTokens.push(i);
    }
    // llama.cpp's std::sort leaves equal lengths unordered; ids ascending makes it deterministic
    this.specialTokens.sort((a, b) => this.tokens[b].length - this.tokens[a].length || a - b);
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The first id (ascending) whose text is in `texts`; llama.cpp walks an unordered_map instead. */
  private findByText(texts: string[]): number {
    let best = NO_TOKEN;
    for (const t of texts) {
      const id = this.tokenToId.get(t);
      if (id !== undefined && (best === NO_TOKEN || id < best)) best = id;
    }
    return best;
  }

  private markControl(id: number): void {
    if (id !== NO_TOKEN && !(this.attrs[id] & TokenAttr.CONTROL)) this.attrs[id] = TokenAttr.CONTROL;
  }

  private detectByText(): void {
    if (this.eot === NO_TOKEN) {
      this.eot = this.findByText(EOT_TEXTS);
      this.markControl(this.eot);
    }
    if (this.eom === NO_TOKEN) {
      this.eom = this.findByText(EOM_TEXTS);
      this.markControl(this.eom);
    }
    this.fimPad = this.findByText(FIM_PAD_TEXTS);
    this.fimRep = this.findByText(FIM_REP_TEXTS);
    this.fimSep = this.findByText(FIM_SEP_TEXTS);
    for (const id of [this.fimPad, this.fimRep, this.fimSep]) {
      this.markControl(id);
      if (id !== NO_TOKEN) this.eog.add(id);
    }
    for (const t of EOG_TEXTS) {
      const id = this.tokenToId.get(t);
      if (id === undefined) continue;
      this.eog.add(id);
      this.markControl(id);
    }
    for (const id of [this.eos, this.eot, this.eom]) if (id !== NO_TOKEN) this.eog.add(id);
  }

  isEog(id: number): boolean {
    return this.eog.has(id);
  }

  attr(id: number): number {
    if (!(id >= 0 && id < this.tokens.length)) throw new RangeError(`token id ${id} out of range [0, ${this.tokens.length})`);
    return this.attrs[id];
  }

  /** the pre-tokenizer split that this vocab runs (BPE only) */
  splitter(): (text: string) => string[] {
    if (!this.pre) throw new Error('an SPM vocabulary has no pre-tokenizer');
    return (this.llamaCppCompat && this.pre.splitLlamaCpp) || this.pre.split;
  }
}
