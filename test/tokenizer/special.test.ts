// Special and control tokens: one token each when special parsing is on, plain text otherwise.
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { goldenJson, loadTokenizer, tinyBpeMeta } from './fixtures.js';

const CONTROL = 3;
const USER_DEFINED = 4;

describe('special tokens on the Llama 4 vocabulary', () => {
  const chat = '<|begin_of_text|><|header_start|>user<|header_end|>\n\nHi<|eot|>';

  it('matches header and turn tokens as single tokens with parse_special', async () => {
    const tok = await loadTokenizer('llama4-derived');
    const ids = tok.encode(chat, { addSpecial: false, parseSpecial: true });
    expect(ids[0]).toBe(200000);
    expect(ids[1]).toBe(200005);
    expect(ids[ids.length - 1]).toBe(200008);
    expect(ids).toContain(200006);
    expect(tok.decode(ids, { special: true })).toBe(chat);
  });

  it('treats them as text otherwise', async () => {
    const tok = await loadTokenizer('llama4-derived');
    const ids = tok.encode(chat, { addSpecial: false });
    expect(ids.filter((id) => id >= 200000)).toEqual([]);
    expect(tok.decode(ids)).toBe(chat);
  });

  it('adds BOS from add_bos_token, and a literal BOS in the text is kept (no dedup, like llama.cpp)', async () => {
    const tok = await loadTokenizer('llama4-derived');
    expect(tok.encode('Hi')[0]).toBe(200000);
    expect(tok.encode('<|begin_of_text|>Hi', { parseSpecial: true }).slice(0, 2)).toEqual([200000, 200000]);
  });

  it('never lets the regex cross a special token', async () => {
    const tok = await loadTokenizer('llama4-derived');
    const ids = tok.encode('a<|eot|>b', { addSpecial: false, parseSpecial: true });
    expect(ids).toEqual([...tok.encode('a', { addSpecial: false }), 200008, ...tok.encode('b', { addSpecial: false })]);
  });
});

describe('SmolLM2 ChatML prompt (llama.cpp golden)', () => {
  it('tokenizes the rendered chat prompt exactly as llama.cpp did', async () => {
    const tok = await loadTokenizer('smollm2');
    const g = goldenJson('smollm2-135m-q4_1-chat.golden.json');
    const ids = tok.encode(g.prompt as string, { addSpecial: g.add_special as boolean, parseSpecial: g.parse_special as boolean });
    expect(ids).toEqual(g.prompt_tokens);
    expect(ids.map((id) => tok.tokenToPiece(id))).toEqual(g.prompt_pieces);
  });

  it('tokenizes the plain golden prompt without BOS (add_bos_token = false)', async () => {
    const tok = await loadTokenizer('smollm2');
    const g = goldenJson('smollm2-135m-q4_1.golden.json');
    expect(tok.encode(g.prompt as string)).toEqual(g.prompt_tokens);
  });
});

describe('partitioning rules', () => {
  it('cuts the longest special first', () => {
    const tok = Tokenizer.fromMetadata(tinyBpeMeta([['<x>', CONTROL], ['<x><y>', CONTROL]], []));
    const x = tok.tokenId('<x>');
    const xy = tok.tokenId('<x><y>');
    expect(tok.encode('<x><y><x>', { addSpecial: false, parseSpecial: true })).toEqual([xy, x]);
  });

  it('splits USER_DEFINED tokens even with special parsing off', () => {
    const tok = Tokenizer.fromMetadata(tinyBpeMeta([['<ud>', USER_DEFINED], ['<ctl>', CONTROL]], []));
    const ud = tok.tokenId('<ud>');
    const ctl = tok.tokenId('<ctl>');
    const off = tok.encode('a<ud>b<ctl>', { addSpecial: false, parseSpecial: false });
    expect(off).toContain(ud);
    expect(off).not.toContain(ctl);
    // user-defined tokens decode as their text; control tokens only with `special`
    expect(tok.decode([ud, ctl])).toBe('<ud>');
    expect(tok.decode([ud, ctl], { special: true })).toBe('<ud><ctl>');
  });

  it('finds specials that start inside other text and repeat', () => {
    const tok = Tokenizer.fromMetadata(tinyBpeMeta([['<s>', CONTROL]], []));
    const s = tok.tokenId('<s>');
    const ids = tok.encode('x<s><s>y<s', { addSpecial: false, parseSpecial: true });
    expect(ids.filter((id) => id === s)).toHaveLength(2);
    expect(tok.decode(ids, { special: true })).toBe('x<s><s>y<s');
  });
});
