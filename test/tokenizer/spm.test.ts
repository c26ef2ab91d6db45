// SentencePiece-style vocabularies: scores decide merges, U+2581 for spaces, byte fallback, BOS/EOS.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { loadTokenizer, meta, MODELS } from './fixtures.js';

/** <unk> <s> </s>, 256 byte tokens, then words with scores */
function tinySpm(extra: Record<string, unknown> = {}) {
  const words: Array<[string, number]> = [
    ['▁', -1], ['h', -2], ['e', -2], ['l', -2], ['o', -2], ['a', -2], ['b', -2],
    ['he', -3], ['ll', -3], ['llo', -4], ['hello', -5], ['▁hello', -6], ['▁h', -9],
    ['ab', -1], ['ba', -1],
  ];
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
    scores.push(0);
  }
  for (const [w, s] of words) {
    tokens.push(w);
    types.push(1);
    scores.push(s);
  }
  const tok = Tokenizer.fromMetadata(
    meta({
      TOKENIZER_MODEL: 'llama',
      TOKENIZER_TOKENS: tokens,
      TOKENIZER_SCORES: Float32Array.from(scores),
      TOKENIZER_TOKEN_TYPE: Int32Array.from(types),
      ...(extra as Record<string, never>),
    }),
  );
  const id = (t: string) => tok.tokenId(t);
  return { tok, id };
}

describe('SPM on a hand-made vocabulary', () => {
  it('adds BOS and the leading space, then merges by score', () => {
    const { tok, id } = tinySpm();
    expect(tok.encode('hello')).toEqual([1, id('▁hello')]);
    expect(tok.encode('hello', { addSpecial: false })).toEqual([id('▁hello')]);
  });

  it('falls back to <0xXX> byte tokens for unknown characters', () => {
    const { tok, id } = tinySpm();
    expect(tok.encode('hé', { addSpecial: false })).toEqual([id('▁h'), id('<0xC3>'), id('<0xA9>')]);
  });

  it('merges the leftmost pair when scores tie', () => {
    const { tok, id } = tinySpm({ TOKENIZER_ADD_SPACE_PREFIX: false });
    // "aba": "ab" and "ba" both score -1; the left pair wins
    expect(tok.encode('aba', { addSpecial: false })).toEqual([id('ab'), id('a')]);
  });

  it('honours add_space_prefix = false and add_eos = true from metadata', () => {
    const { tok, id } = tinySpm({ TOKENIZER_ADD_SPACE_PREFIX: false, TOKENIZER_ADD_EOS: true });
    expect(tok.encode('hello')).toEqual([1, id('hello'), 2]);
  });

  it('puts the space prefix after every special token when special parsing is on', () => {
    const { tok, id } = tinySpm();
    expect(tok.encode('hello</s>hello', { parseSpecial: true })).toEqual([1, id('▁hello'), 2, id('▁hello')]);
    // off: "</s>" is plain text
    expect(tok.encode('</s>', { addSpecial: false })).not.toContain(2);
  });

  it('decodes with the leading space stripped, bytes joined, control tokens hidden', () => {
    const { tok, id } = tinySpm();
    expect(tok.decode([id('▁hello'), id('▁h'), id('<0xC3>'), id('<0xA9>')])).toBe('hello hé');
    expect(tok.decode([1, id('▁hello'), 2])).toBe(' hello');
    expect(tok.decode([1, id('▁hello'), 2], { special: true })).toBe('<s> hello</s>');
  });
});

describe('SPM on real vocabularies', () => {
  it('tokenizes the stories260K prompt as the goldens do', async () => {
    const tok = await Tokenizer.fromGguf(resolve(MODELS, 'stories260K.gguf'));
    expect(tok.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
  });

  it('Llama 2: BOS from metadata, decode strips the prefix space only without BOS', async () => {
    const tok = await loadTokenizer('llama-spm');
    const ids = tok.encode('Hello world');
    expect(ids).toEqual([1, 15043, 3186]);
    expect(tok.decode(ids.slice(1))).toBe('Hello world');
    // llama.cpp keeps the space when the sequence starts with BOS, removed or not
    expect(tok.decode(ids)).toBe(' Hello world');
    expect(tok.decode(ids, { removeSpecial: true })).toBe(' Hello world');
    expect(tok.isEog(2)).toBe(true);
  });
});
