// llama.cpp's tokenizer test vectors (test-tokenizer-0 format) for every shared vocab, and decoding back.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, VOCAB, vocabExpected, vocabTexts } from './fixtures.js';

const texts = vocabTexts();

const cases: Array<{ vocab: string; out: string; compat: boolean; cleanSpaces: boolean }> = [
  { vocab: 'llama-spm', out: 'ggml-vocab-llama-spm.gguf.out', compat: false, cleanSpaces: false },
  { vocab: 'gpt-2', out: 'ggml-vocab-gpt-2.gguf.out', compat: false, cleanSpaces: true },
  { vocab: 'llama3-derived', out: 'ggml-vocab-llama3-derived.gguf.out', compat: false, cleanSpaces: true },
  // Llama 4: the default follows the model's real tokenizer, the compat mode llama.cpp bit for bit
  { vocab: 'llama4-derived', out: 'ggml-vocab-llama4-derived.gguf.out', compat: false, cleanSpaces: false },
  { vocab: 'llama4-derived', out: 'ggml-vocab-llama4-derived.gguf.llamacpp.out', compat: true, cleanSpaces: false },
  { vocab: 'smollm2', out: 'ggml-vocab-smollm2.gguf.out', compat: false, cleanSpaces: false },
];

describe.each(cases)('$vocab vectors ($out)', ({ vocab, out, compat, cleanSpaces }) => {
  const expected = vocabExpected(out);

  it('has the 46 vectors', () => {
    expect(texts).toHaveLength(46);
    expect(expected.length).toBeGreaterThanOrEqual(46);
  });

  it.each(texts.map((t, i) => [i, t] as const))('vector %i tokenizes like the reference', async (i, text) => {
    const tok = await loadTokenizer(vocab, compat);
    expect(tok.encode(text, { addSpecial: false, parseSpecial: false })).toEqual(expected[i]);
  });

  it('decodes every vector back to its input', async () => {
    const tok = await loadTokenizer(vocab, compat);
    for (let i = 0; i < texts.length; i++) {
      expect(tok.decode(expected[i], { cleanSpaces: false })).toBe(texts[i]);
    }
  });

  it(`applies llama.cpp's space clean-up on decode only where the vocab asks (${cleanSpaces})`, async () => {
    const tok = await loadTokenizer(vocab, compat);
    const ids = tok.encode("Hello , it 's me !", { addSpecial: false });
    expect(tok.decode(ids)).toBe(cleanSpaces ? "Hello, it's me!" : "Hello , it 's me !");
  });
});

describe('llama4-derived', () => {
  it("matches HF tokenizers on Llama 4's own tokenizer.json cases", async () => {
    const tok = await loadTokenizer('llama4-derived');
    const cases = JSON.parse(readFileSync(resolve(VOCAB, 'ggml-vocab-llama4-derived.hf-cases.json'), 'utf8')) as Array<{ text: string; ids: number[] }>;
    expect(cases).toHaveLength(5);
    for (const c of cases) {
      expect(tok.encode(c.text, { addSpecial: false })).toEqual(c.ids);
      expect(tok.decode(c.ids)).toBe(c.text);
    }
  });

  it('differs from llama.cpp only where its regex approximation drops combining marks (Khmer)', async () => {
    const exact = await loadTokenizer('llama4-derived');
    const compat = await loadTokenizer('llama4-derived', true);
    const differing = texts.map((t, i) => i).filter((i) => JSON.stringify(exact.encode(texts[i], { addSpecial: false })) !== JSON.stringify(compat.encode(texts[i], { addSpecial: false })));
    expect(differing).toEqual([21, 45]);
    expect(texts[21]).toMatch(/\p{Script=Khmer}/u);
  });
});
