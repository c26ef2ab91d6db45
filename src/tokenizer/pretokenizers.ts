// The one table of BPE pre-tokenizers (llama-vocab.cpp: tokenizer.ggml.pre name -> pre-type -> regex list,
// plus the per-type flags ignore_merges / clean_spaces / add_bos). Each regex refines the pieces of the
// previous one; text between matches becomes a piece of its own (unicode_regex_split_stl).
//
// `\s` is written as \p{White_Space} everywhere: that is llama.cpp's whitespace set (and Rust regex's),
// whereas JS `\s` also has U+FEFF and lacks U+0085.

export type Splitter = (text: string) => string[];

export interface PreTokenizer {
  /** canonical name, as written in tokenizer.ggml.pre */
  name: string;
  /** other names llama.cpp maps to the same pre-type */
  aliases: string[];
  /** emit a whole pre-token directly when it is a vocab token (Llama 3) */
  ignoreMerges: boolean;
  /** llama.cpp's detokenizer clean-up of " ," " 's" ... */
  cleanSpaces: boolean;
  /** per-type add_bos default, before tokenizer.ggml.add_bos_token overrides it */
  addBos?: boolean;
  /** the model's real (HF / tiktoken) behaviour */
  split: Splitter;
  /** llama.cpp's behaviour, where it differs from `split` */
  splitLlamaCpp?: Splitter;
}

const WS = '\\p{White_Space}';
const NOT_WS = '\\P{White_Space}';

/** GPT-2's regex (llama.cpp runs it through unicode_regex_split_custom_gpt2; the trailing \s+ is that matcher's fallback). */
const GPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${WS}+(?!${NOT_WS})|${WS}+`;

/** Llama 3, case-expanded as llama.cpp stores it (unicode_regex_split_custom_llama3 implements exactly this). */
const LLAMA3 =
  `'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}` +
  `| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*|${WS}*[\\r\\n]+|${WS}+(?!${NOT_WS})|${WS}+`;

/**
 * O200K (Llama 4 tokenizer.py) exactly. `(?i:'s|...)` is expanded by hand; Unicode case folding also
 * maps U+017F (long s) to s, as Rust regex / Oniguruma do.
 */
const O200K_SUFFIX = `(?:'[sS\\u017F]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?`;
const O200K =
  `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+${O200K_SUFFIX}` +
  `|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*${O200K_SUFFIX}` +
  `|\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n/]*|${WS}*[\\r\\n]+|${WS}+(?!${NOT_WS})|${WS}+`;

/**
 * llama.cpp's adaptation of O200K, which std::regex runs on a category-collapsed text: "upper" is any
 * letter but a-z, "lower" any letter but A-Z (so non-ASCII letters never split a word) and marks are not
 * letters. Written with the `v` flag's class subtraction; the result is identical to the collapsed run.
 */
const O200K_LLAMACPP_SUFFIX = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?`;
const O200K_LLAMACPP =
  `[^\\r\\n\\p{L}\\p{N}]?[\\p{L}--[a-z]]*[\\p{L}--[A-Z]]+${O200K_LLAMACPP_SUFFIX}` +
  `|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}--[a-z]]+[\\p{L}--[A-Z]]*${O200K_LLAMACPP_SUFFIX}` +
  `|\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n\\/]*|${WS}*[\\r\\n]+|${WS}+(?!${NOT_WS})|${WS}+`;

/** One regex step: every match is a piece, and so is every stretch between matches. */
function splitByRegex(re: RegExp, text: string, out: string[]): void {
  re.lastIndex = 0;
  let prev = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const end = start + m[0].length;
    if (end === start) {
      re.lastIndex++; // never loops on an empty match (none of the table's regexes has one)
      continue;
    }
    if (start > prev) out.push(text.slice(prev, start));
    out.push(m[0]);
    prev = end;
  }
  if (prev < text.length) out.push(prev === 0 ? text : text.slice(prev));
}

function steps(...sources: Array<[string, string]>): Splitter {
  const regexes = sources.map(([src, flags]) => new RegExp(src, flags + 'g'));
  return (text: string) => {
    let pieces: string[] = [];
    splitByRegex(regexes[0], text, pieces);
    for (let i = 1; i < regexes.length; i++) {
      const next: string[] = [];
      for (const p of pieces) splitByRegex(regexes[i], p, next);
      pieces = next;
    }
    return pieces;
  };
}

const gpt2Split = steps([GPT2, 'u']);

export const PRE_TOKENIZERS: readonly PreTokenizer[] = [
  {
    name: 'default',
    aliases: [],
    ignoreMerges: false,
    cleanSpaces: true,
    split: steps([`[\\p{P}$+<=>^~|]+`, 'u'], [GPT2, 'u'], ['\\p{N}+', 'u'], ['[0-9][0-9][0-9]', '']),
  },
  {
    name: 'gpt-2',
    aliases: [],
    ignoreMerges: false,
    cleanSpaces: true,
    split: gpt2Split,
  },
  {
    name: 'llama-bpe',
    aliases: ['llama3', 'llama-v3'],
    ignoreMerges: true,
    cleanSpaces: true,
    addBos: true,
    split: steps([LLAMA3, 'u']),
  },
  {
    name: 'llama4',
    aliases: ['gpt-4o'],
    ignoreMerges: false,
    cleanSpaces: false,
    split: steps([O200K, 'u']),
    splitLlamaCpp: steps([O200K_LLAMACPP, 'v']),
  },
  {
    // SmolLM: every digit alone, then GPT-2's regex.
    name: 'smollm',
    aliases: [],
    ignoreMerges: false,
    cleanSpaces: false,
    split: steps(['\\p{N}', 'u'], [GPT2, 'u']),
  },
];

/** The pre-tokenizer for a tokenizer.ggml.pre value; a missing value is llama.cpp's 'default'. */
export function findPreTokenizer(name: string | undefined): PreTokenizer {
  const key = name ?? 'default';
  const found = PRE_TOKENIZERS.find((p) => p.name === key || p.aliases.includes(key));
  if (!found) {
    const known = PRE_TOKENIZERS.flatMap((p) => [p.name, ...p.aliases]).join(', ');
    throw new Error(`unknown pre-tokenizer '${key}' (tokenizer.ggml.pre); supported: ${known}`);
  }
  return found;
}
