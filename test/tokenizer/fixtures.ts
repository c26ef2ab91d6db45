// Shared test inputs: ../shared/models next to the repository (never copied into it).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ggufKeys } from '../../src/tokenizer/vocab.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import type { GgufValue } from '../../src/native/addon.js';

export const MODELS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/models');
export const VOCAB = resolve(MODELS, 'vocab');

export const vocabPath = (name: string) => resolve(VOCAB, `ggml-vocab-${name}.gguf`);

/** The 46 test strings of llama.cpp's test-tokenizer-0 format. */
export function vocabTexts(): string[] {
  const parts = readFileSync(resolve(VOCAB, 'ggml-vocab-llama-spm.gguf.inp'), 'utf8').split('\n__ggml_vocab_test__\n');
  parts.pop(); // after the last separator
  return parts;
}

/** Expected ids per test string (one line each, ids after a space). */
export function vocabExpected(file: string): number[][] {
  const lines = readFileSync(resolve(VOCAB, file), 'utf8').split('\n');
  return lines.map((l) => (l.trim() === '' ? [] : l.trim().split(' ').map(Number)));
}

/** Every shared vocabulary, with and without llama.cpp compatibility where it differs (the fuzzers' set). */
export const FUZZ_VOCABS: ReadonlyArray<readonly [string, boolean]> = [
  ['llama-spm', false],
  ['gpt-2', false],
  ['llama3-derived', false],
  ['llama4-derived', false],
  ['llama4-derived', true],
  ['smollm2', false],
];

const cache = new Map<string, Promise<Tokenizer>>();
/** One tokenizer per vocab file and mode for a whole test file (the 202k vocab takes ~1 s to build). */
export function loadTokenizer(name: string, llamaCppCompat = false): Promise<Tokenizer> {
  const key = `${name}:${llamaCppCompat}`;
  let t = cache.get(key);
  if (!t) cache.set(key, (t = Tokenizer.fromGguf(vocabPath(name), { llamaCppCompat })));
  return t;
}

/** Metadata for a hand-made vocabulary, keyed through the project's key table. */
export function meta(entries: Record<string, GgufValue>): Map<string, GgufValue> {
  const keys = ggufKeys();
  return new Map(Object.entries(entries).map(([k, v]) => [keys[k] ?? k, v]));
}

/** A byte-level BPE vocabulary: the 256 byte characters, then `extra` tokens (with types), and merges. */
export function tinyBpeMeta(extra: Array<[string, number]>, merges: string[], more: Record<string, GgufValue> = {}) {
  const tokens: string[] = [];
  const types: number[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    tokens.push(String.fromCharCode(printable ? b : next++));
    types.push(1);
  }
  for (const [t, type] of extra) {
    tokens.push(t);
    types.push(type);
  }
  return meta({
    TOKENIZER_MODEL: 'gpt2',
    TOKENIZER_PRE: 'gpt-2',
    TOKENIZER_TOKENS: tokens,
    TOKENIZER_TOKEN_TYPE: Int32Array.from(types),
    TOKENIZER_MERGES: merges,
    ...more,
  });
}

export function goldenJson(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(resolve(MODELS, 'goldens', name), 'utf8')) as Record<string, unknown>;
}
