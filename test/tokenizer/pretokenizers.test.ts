// The pre-tokenizer table: each name's split rules, and a clear error for names it does not know.
import { describe, expect, it } from 'vitest';
import { findPreTokenizer, PRE_TOKENIZERS } from '../../src/tokenizer/pretokenizers.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { meta } from './fixtures.js';

const split = (name: string, text: string, llamaCpp = false) => {
  const p = findPreTokenizer(name);
  return (llamaCpp && p.splitLlamaCpp ? p.splitLlamaCpp : p.split)(text);
};

describe('pre-tokenizer table', () => {
  it('knows the shared vocab files and the main model', () => {
    for (const name of ['default', 'gpt-2', 'llama-bpe', 'llama3', 'llama4', 'gpt-4o', 'smollm']) {
      expect(() => findPreTokenizer(name)).not.toThrow();
    }
    expect(findPreTokenizer(undefined).name).toBe('default');
  });

  it('names an unknown pre-tokenizer in its error instead of falling back', () => {
    expect(() => findPreTokenizer('qwen9')).toThrow(/unknown pre-tokenizer 'qwen9'/);
    const m = meta({ TOKENIZER_MODEL: 'gpt2', TOKENIZER_PRE: 'qwen9', TOKENIZER_TOKENS: ['a', 'b'], TOKENIZER_MERGES: [] });
    expect(() => Tokenizer.fromMetadata(m)).toThrow(/unknown pre-tokenizer 'qwen9'/);
  });

  it('has one row per name', () => {
    const names = PRE_TOKENIZERS.flatMap((p) => [p.name, ...p.aliases]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('splits text without losing or adding characters', () => {
    const text = "  I'VE 12345 cafés\r\n\n\tx  ÄpfelÜber //path 🦙 ﻿\u0085 end ";
    for (const p of PRE_TOKENIZERS) {
      expect(p.split(text).join('')).toBe(text);
      if (p.splitLlamaCpp) expect(p.splitLlamaCpp(text).join('')).toBe(text);
    }
  });
});

describe('gpt-2', () => {
  it('keeps contractions lower-case only and one leading space on words', () => {
    expect(split('gpt-2', "I've IT'S  hello")).toEqual(['I', "'ve", ' IT', "'", 'S', ' ', ' hello']);
  });
  it('groups digits without limit', () => {
    expect(split('gpt-2', 'a 12345')).toEqual(['a', ' 12345']);
  });
});

describe('llama-bpe (Llama 3)', () => {
  it('splits digits in threes and matches contractions in any case', () => {
    expect(split('llama-bpe', "I'VE 1234567")).toEqual(['I', "'VE", ' ', '123', '456', '7']);
  });
  it('keeps newlines with the whitespace before them', () => {
    expect(split('llama-bpe', 'a  \n\n b')).toEqual(['a', '  \n\n', ' b']);
  });
});

describe('llama4 (O200K)', () => {
  it('splits camel case before an upper-case letter', () => {
    expect(split('llama4', 'getUserName HTTPServer')).toEqual(['get', 'User', 'Name', ' HTTPServer']);
  });
  it('splits before a non-ASCII capital; llama.cpp does not', () => {
    expect(split('llama4', 'ÄpfelÜber')).toEqual(['Äpfel', 'Über']);
    expect(split('llama4', 'ÄpfelÜber', true)).toEqual(['ÄpfelÜber']);
  });
  it('keeps combining marks in words; llama.cpp breaks words at them', () => {
    const word = 'cafe\u0301s';
    expect(split('llama4', word)).toEqual([word]);
    expect(split('llama4', word, true)).toEqual(['cafe', '\u0301s']);
  });
  it('keeps a trailing slash run with punctuation', () => {
    expect(split('llama4', ' ://')).toEqual([' ://']);
  });
});

describe('smollm', () => {
  it('puts every digit alone, space included before', () => {
    expect(split('smollm', 'x 2024!')).toEqual(['x', ' ', '2', '0', '2', '4', '!']);
  });
});

describe('whitespace', () => {
  it('treats U+0085 as whitespace and U+FEFF as not, as llama.cpp does', () => {
    expect(split('gpt-2', 'a\u0085\u0085b')).toEqual(['a', '\u0085', '\u0085', 'b']);
    expect(split('gpt-2', 'a \uFEFF')).toEqual(['a', ' \uFEFF']);
  });
});
