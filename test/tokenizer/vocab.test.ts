// Vocabulary metadata: special ids, add_bos / add_eos, end-of-generation sets as llama.cpp computes them.
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { TokenAttr } from '../../src/tokenizer/vocab.js';
import { loadTokenizer, meta, MODELS, tinyBpeMeta } from './fixtures.js';

describe('end-of-generation tokens (checked against llama.cpp v0.5.0)', () => {
  it.each([
    ['llama4-derived', [200001, 200007, 200008]],
    ['llama3-derived', [128001, 128008, 128009]],
    ['smollm2', [0, 2, 4]], // <|endoftext|>, <|im_end|>, and <reponame> found as a FIM token
    ['gpt-2', [50256]],
    ['llama-spm', [2]],
  ] as const)('%s', async (name, eog) => {
    const tok = await loadTokenizer(name);
    expect([...tok.vocab.eog].sort((a, b) => a - b)).toEqual(eog);
    for (const id of eog) expect(tok.isEog(id)).toBe(true);
    if (tok.bos !== tok.eos) expect(tok.isEog(tok.bos)).toBe(false);
  });
});

describe('special ids and flags', () => {
  it('Llama 4: BOS 200000, EOS 200001, EOT 200008, adds BOS, no EOS', async () => {
    const tok = await loadTokenizer('llama4-derived');
    expect([tok.bos, tok.eos, tok.eot, tok.vocab.eom, tok.vocab.pad]).toEqual([200000, 200001, 200008, 200007, 200018]);
    expect(tok.vocab.addBos).toBe(true);
    expect(tok.vocab.addEos).toBe(false);
    expect(tok.vocab.attr(200005) & TokenAttr.CONTROL).toBeTruthy();
  });

  it('SmolLM2: add_bos_token = false, EOS <|im_end|>', async () => {
    const tok = await loadTokenizer('smollm2');
    expect(tok.vocab.addBos).toBe(false);
    expect(tok.eos).toBe(2);
    expect(tok.encode('Hi')[0]).not.toBe(tok.bos);
  });

  it('GPT-2 without add_bos_token adds nothing', async () => {
    const tok = await loadTokenizer('gpt-2');
    expect(tok.encode('Hi')).toEqual(tok.encode('Hi', { addSpecial: false }));
  });

  it('ignores out-of-range special ids (stories260K sets 0xFFFFFFFF for none)', async () => {
    const tok = await Tokenizer.fromGguf(`${MODELS}/stories260K.gguf`);
    expect(tok.vocab.sep).toBe(-1);
    expect(tok.vocab.pad).toBe(-1);
    expect(tok.bos).toBe(1);
  });

  it('Llama 3 (llama-bpe) adds BOS even without the key', () => {
    const m = tinyBpeMeta([['<|begin_of_text|>', 3]], [], { TOKENIZER_PRE: 'llama-bpe', TOKENIZER_BOS_ID: 256 });
    const tok = Tokenizer.fromMetadata(m);
    expect(tok.encode('a')).toEqual([256, tok.tokenId('a')]);
  });
});

describe('errors', () => {
  it('missing file', async () => {
    await expect(Tokenizer.fromGguf('/nonexistent/model.gguf')).rejects.toThrow(/model file not found: \/nonexistent\/model.gguf/);
  });
  it('no tokenizer', () => {
    expect(() => Tokenizer.fromMetadata(new Map())).toThrow(/no tokenizer/);
  });
  it('unsupported tokenizer model', () => {
    expect(() => Tokenizer.fromMetadata(meta({ TOKENIZER_MODEL: 'bert', TOKENIZER_TOKENS: ['a'] }))).toThrow(/unsupported tokenizer model 'bert'/);
  });
  it('duplicate tokens', () => {
    expect(() => Tokenizer.fromMetadata(meta({ TOKENIZER_MODEL: 'llama', TOKENIZER_TOKENS: ['a', 'b', 'a'] }))).toThrow(/duplicate token 'a'/);
  });
  it('token ids out of range', async () => {
    const tok = await loadTokenizer('gpt-2');
    expect(() => tok.decode([50257])).toThrow(RangeError);
  });
});
