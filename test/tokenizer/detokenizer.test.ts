// Streaming detokenization: whole UTF-8 characters only, SPM leading space as llama.cpp.
import { describe, expect, it } from 'vitest';
import { cleanSpaces } from '../../src/tokenizer/detokenizer.js';
import { utf8Decode, utf8Encode } from '../../src/tokenizer/unicode.js';
import { goldenJson, loadTokenizer, MODELS } from './fixtures.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';

describe('streaming detokenizer', () => {
  it('holds a character split across byte tokens until it is complete', async () => {
    const tok = await loadTokenizer('llama-spm');
    const ids = tok.encode('🦙!', { addSpecial: false }); // ▁ then 4 byte tokens, then !
    const bytes = ids.map((id) => tok.tokenToBytes(id).length);
    expect(bytes.filter((n) => n === 1).length).toBeGreaterThanOrEqual(4);
    const s = tok.streamDecoder({ stripLeadingSpace: true });
    const out = ids.map((id) => s.push(id));
    // nothing but the leading-space token until the fourth byte arrives
    expect(out.join('')).toBe('🦙!');
    expect(out.filter((x) => x.includes('🦙'))).toHaveLength(1);
    expect(out.slice(0, out.findIndex((x) => x.includes('🦙'))).join('')).toBe('');
    expect(s.flush()).toBe('');
  });

  it('splits of a multi-byte character across byte-level BPE tokens (Llama 4 vocabulary)', async () => {
    const tok = await loadTokenizer('llama4-derived');
    const text = 'ខ្មែរ 😁 中文 done';
    const ids = tok.encode(text, { addSpecial: false });
    const s = tok.streamDecoder();
    let out = '';
    for (const id of ids) {
      const piece = s.push(id);
      expect(piece).not.toContain('\uFFFD');
      out += piece;
    }
    expect(out + s.flush()).toBe(text);
  });

  it('equals decode() for every test vector, token by token', async () => {
    for (const name of ['llama-spm', 'smollm2', 'llama3-derived']) {
      const tok = await loadTokenizer(name);
      for (const text of ['Hello world', ' leading', 'Äpfel 🚀 (normal) 😶‍🌫️', '\n\t  x']) {
        const ids = tok.encode(text, { addSpecial: false });
        const s = tok.streamDecoder({ stripLeadingSpace: true });
        const out = ids.map((id) => s.push(id)).join('') + s.flush();
        expect(out).toBe(tok.decode(ids, { cleanSpaces: false }));
        expect(out).toBe(text);
      }
    }
  });

  it('keeps the first piece of a continuation as generated (no strip by default), hides control tokens', async () => {
    const tok = await loadTokenizer('llama-spm');
    const s = tok.streamDecoder();
    expect(s.push(tok.tokenId('▁world'))).toBe(' world');
    expect(s.push(2)).toBe('');
    const t = tok.streamDecoder({ special: true });
    expect(t.push(2)).toBe('</s>');
  });

  it('flushes an incomplete character as U+FFFD', async () => {
    const tok = await loadTokenizer('llama-spm');
    const s = tok.streamDecoder();
    expect(s.push(tok.tokenId('<0xF0>'))).toBe('');
    expect(s.flush()).toBe('\uFFFD');
  });
});

describe('decode', () => {
  it("reproduces llama.cpp's greedy text of the goldens from their token ids", async () => {
    const smol = await loadTokenizer('smollm2');
    for (const f of ['smollm2-135m-q4_1.golden.json', 'smollm2-135m-q4_1-chat.golden.json']) {
      const g = goldenJson(f);
      expect(smol.decode(g.greedy_tokens as number[])).toBe(g.greedy_text);
    }
    const llama2 = await Tokenizer.fromGguf(`${MODELS}/llama-2-tiny-random.gguf`);
    const g = goldenJson('llama-2-tiny-random.golden.json');
    // pieces of a continuation keep their space: concatenate pieces, as llama.cpp printed them
    const bytes = (g.greedy_tokens as number[]).flatMap((id) => [...llama2.tokenToBytes(id, false)]);
    expect(Buffer.from(bytes).toString('hex')).toBe(g.greedy_text_hex);
    expect((g.prompt_pieces as string[])).toEqual((g.prompt_tokens as number[]).map((id) => llama2.tokenToPiece(id)));
  });

  it("cleans spaces as llama.cpp's detokenizer does", () => {
    const clean = (s: string) => utf8Decode(cleanSpaces(utf8Encode(s)));
    expect(clean("Hello , world ! it 's I 'm we 're you 've don 't I 'd we 'll")).toBe("Hello, world! it's I'm we're you've don 't I 'd we 'll");
    expect(clean("a ' b")).toBe("a'b");
  });
});
