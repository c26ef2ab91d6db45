// What a pull is asked for and how GGUF files are named on the hub: `user/repo[:TAG]` or an http(s) URL,
// quant tags in file names (`...-Q4_K_M.gguf`), and llama.cpp's split parts (`...-00001-of-00003.gguf`).
import { parseSplitPath, splitPath } from '../gguf/split.js';
import { PullError } from './errors.js';

/** Tried in order when no tag is given (as llama.cpp's -hf), then the repository's first model file. */
export const DEFAULT_TAGS = ['Q4_K_M', 'Q8_0'] as const;

export type PullRef = { kind: 'hf'; repo: string; tag?: string } | { kind: 'url'; url: URL };

// llama.cpp's is_valid_repo_id: [A-Za-z0-9_] with single . - between them, exactly one slash
const SEGMENT = '[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*';
const REPO_RE = new RegExp(`^${SEGMENT}/${SEGMENT}$`);
const TAG_RE = /^[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*$/;

export function parseRef(text: string): PullRef {
  const s = text.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new PullError(`'${s}' is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PullError(`only http and https URLs can be pulled, not ${url.protocol}`);
    if (!/\.gguf$/i.test(url.pathname)) throw new PullError(`the URL must name a .gguf file: ${s}`);
    return { kind: 'url', url };
  }
  // ollama spells Hugging Face models hf.co/user/repo:tag
  const bare = s.replace(/^(?:hf\.co|huggingface\.co)\//i, '');
  const colon = bare.indexOf(':');
  const repo = colon < 0 ? bare : bare.slice(0, colon);
  const tag = colon < 0 ? undefined : bare.slice(colon + 1);
  if (!REPO_RE.test(repo) || (tag !== undefined && !TAG_RE.test(tag)))
    throw new PullError(`'${s}' is not a model reference: give user/repo[:QUANT] (Hugging Face) or an http(s) URL of a .gguf file`);
  return { kind: 'hf', repo, ...(tag !== undefined ? { tag } : {}) };
}


export interface SplitInfo {
  /** the path without `-0000K-of-0000N.gguf` */
  prefix: string;
  index: number;
  count: number;
}

/** The split part a file name stands for (llama.cpp's gguf-split naming; index 1-based), or undefined for a whole file. */
export function splitInfo(path: string): SplitInfo | undefined {
  const s = parseSplitPath(path);
  return s ? { prefix: s.prefix, index: s.no + 1, count: s.count } : undefined;
}

/** The path of part `index` (1-based) of `count`. */
export function partPath(prefix: string, index: number, count: number): string {
  return splitPath(prefix, index - 1, count);
}

export function isFirstPart(path: string): boolean {
  const s = splitInfo(path);
  return s === undefined || s.index === 1;
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The file name without `.gguf` and without a split suffix: `x-Q4_K_M-00001-of-00002.gguf` -> `x-Q4_K_M`. */
export function stem(path: string): string {
  const b = baseName(path);
  const s = splitInfo(b);
  return s ? s.prefix : b.replace(/\.gguf$/i, '');
}

// Q4_K_M, Q8_0, IQ2_XXS, Q4_K_XL, TQ1_0, MXFP4_MOE, F16, BF16, F32 between non-alphanumerics
const QUANT_RE = /(?<![A-Za-z0-9])(I?Q[1-8](?:_[A-Z0-9]{1,4})*|TQ[12]_0|MXFP4(?:_MOE)?|BF16|F16|F32|FP16|FP32)(?![A-Za-z0-9])/gi;

/** The quantization named in a file name (the last one), upper case; undefined when it names none. */
export function quantOf(path: string): string | undefined {
  const matches = [...stem(path).matchAll(QUANT_RE)];
  return matches.length ? matches[matches.length - 1][1].toUpperCase() : undefined;
}

/** A tag as names carry it: quant tags upper case (q4_k_m -> Q4_K_M), anything else as given. */
export function canonicalTag(tag: string): string {
  return quantOf(tag) === tag.toUpperCase() ? tag.toUpperCase() : tag;
}

/** llama.cpp's rule: the tag, case-insensitively, followed by `.`, `-` (or a folder's `/`). */
export function tagMatches(path: string, tag: string): boolean {
  const escaped = tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9])${escaped}[./-]`, 'i').test(path);
}

/** A .gguf file that holds a model (not a projector, an imatrix or a draft head). */
export function isModelGguf(path: string): boolean {
  const b = baseName(path).toLowerCase();
  return b.endsWith('.gguf') && !/mmproj|imatrix|mtp-|eagle3-|dflash-/.test(b);
}
