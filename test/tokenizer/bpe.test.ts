// Byte-level BPE: merge order by rank, ignore_merges, words of any length, bytes the vocab lacks.
import { describe, expect, it } from 'vitest';
import { BpeTokenizer } from '../../src/tokenizer/bpe.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { BYTE_TO_CHAR, utf8Encode } from '../../src/tokenizer/unicode.js';
import { loadTokenizer, tinyBpeMeta } from './fixtures.js';

/** Textbook BPE on strings: merge the lowest-ranked adjacent pair (leftmost on ties) until none is left. */
function referenceBpe(word: string, ranks: Map<string, number>, tokenToId: Map<string, number>): number[] {
  let syms = Array.from(utf8Encode(word), (b) => BYTE_TO_CHAR[b]);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < syms.length; i++) {
      const r = ranks.get(syms[i] + ' ' + syms[i + 1]);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    syms = [...syms.slice(0, best), syms[best] + syms[best + 1], ...syms.slice(best + 2)];
  }
  return syms.map((s) => tokenToId.get(s) as number);
}

describe('BPE merges', () => {
  it('applies the lowest rank first, leftmost on ties', () => {
    const meta = tinyBpeMeta([['ab', 1], ['bc', 1], ['abc', 1]], ['b c', 'a b', 'a bc']);
    const tok = Tokenizer.fromMetadata(meta);
    // "b c" ranks first, so "abc" is built as a + bc
    expect(tok.encode('abc', { addSpecial: false })).toEqual([tok.tokenId('abc')]);
    // "aab": "a b" at the right
    expect(tok.encode('aab', { addSpecial: false })).toEqual([tok.tokenId('a'), tok.tokenId('ab')]);
  });

  it('matches a textbook BPE on short and very long words (GPT-2 merges)', async () => {
    const tok = await loadTokenizer('gpt-2');
    const ranks = new Map(tok.vocab.merges.map((m, i) => [m, i] as const));
    const bpe = new BpeTokenizer(tok.vocab);
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const alphabet = 'eeeetaoinshrdlucmfwypvbgkjqxz      ééü中ab';
    for (let trial = 0; trial < 300; trial++) {
      const len = trial < 200 ? 1 + rnd(20) : 65 + rnd(400); // both merge loops (scan and heap)
      let word = '';
      for (let i = 0; i < len; i++) word += alphabet[rnd(alphabet.length)];
      const out: number[] = [];
      bpe.encodePiece(word, out);
      expect(out).toEqual(referenceBpe(word, ranks, tok.vocab.tokenToId));
    }
  });

  it('Llama 3 emits a whole pre-token that is a vocab token without merging (ignore_merges)', async () => {
    const tok = await loadTokenizer('llama3-derived');
    expect(tok.vocab.ignoreMerges).toBe(true);
    const ids = tok.encode(' Việt', { addSpecial: false });
    expect(ids).toEqual([101798]); // merging would give 11655 26298 83
    expect(tok.decode(ids)).toBe(' Việt');
  });

  it('drops a byte the vocab has no token for, as llama.cpp does', async () => {
    const tok = await loadTokenizer('smollm2');
    // SmolLM2 has no token for byte 0x04 (its byte character U+0104 is missing)
    expect(tok.tokenId('\u0104')).toBe(-1);
    expect(tok.encode('a\u0004b', { addSpecial: false })).toEqual([tok.tokenId('a'), tok.tokenId('b')]);
  });
});
