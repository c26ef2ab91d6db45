// The GGUF reader on the shared models: every file parses, metadata comes out as plain values and typed
// arrays, hyper-parameters are derived (hostile input: hostile.test.ts).
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { allGgufFiles, model } from '../helpers/shared.js';

const read = (src: string | Uint8Array, opts: { arrayLimit?: number; hparams?: boolean } = { arrayLimit: 0 }) =>
  addon().readGguf(src, opts);

describe('GGUF reader on the shared models', () => {
  const files = allGgufFiles();
  it('finds the shared models', () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
  });
  for (const f of files) {
    it(`parses ${f.split('/models/')[1]}`, async () => {
      const h = await read(f, { hparams: true });
      expect(h.version).toBe(3);
      expect(h.metadata.length).toBeGreaterThan(0);
      // MANIFEST: for files with tensors, the data ends exactly at EOF
      if (h.tensors.length > 0) {
        const end = Math.max(...h.tensors.map((t) => t.offset + t.bytes));
        expect(end).toBe(h.fileSize);
        for (const t of h.tensors) expect(t.offset % h.alignment).toBe(0);
      }
    });
  }

  it('exposes metadata as plain values, large arrays as typed arrays', async () => {
    const h = await read(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'), { hparams: true });
    const md = new Map(h.metadata.map((kv) => [kv.key, kv]));
    expect(md.get('general.architecture')!.value).toBe('llama');
    expect(md.get('llama.block_count')!.value).toBe(30);
    const tokens = md.get('tokenizer.ggml.tokens')!;
    expect(tokens.count).toBe(49152);
    expect((tokens.value as string[])[1]).toBe('<|im_start|>');
    expect(md.get('tokenizer.ggml.token_type')!.value).toBeInstanceOf(Int32Array);
    expect(h.hparams!.blockCount).toBe(30);
    expect(h.hparams!.headCountKv[0]).toBe(3);
    const emb = h.tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(emb.type).toBe('Q8_0');
    expect(emb.shape).toEqual([576, 49152]);
    expect(h.tensors.find((t) => t.name === 'output.weight')).toBeUndefined();
  });

  it('derives the Llama 4 layer schedule', async () => {
    const h = await read(model('synthetic/tiny-llama4.synthetic.gguf'), { hparams: true });
    const hp = h.hparams!;
    expect(hp.arch).toBe('llama4');
    expect(hp.layers.map((l) => l.moe)).toEqual([false, true, false, true]);
    expect(hp.layers.map((l) => l.rope)).toEqual([true, true, true, false]);
    expect(hp.layers.map((l) => l.chunked)).toEqual([true, true, true, false]);
    expect(hp.useKqNorm).toBe(true);
    expect(hp.chunkSize).toBe(8192);
  });

  it('reports why a vocab-only file has no hyper-parameters', async () => {
    const h = await read(model('vocab/ggml-vocab-llama4-derived.gguf'), { hparams: true, arrayLimit: 0 });
    expect(h.tensors.length).toBe(0);
    expect(h.hparamsError).toMatch(/missing required metadata key 'llama4\.context_length'/);
    const tokens = h.metadata.find((kv) => kv.key === 'tokenizer.ggml.tokens')!;
    expect(tokens.count).toBe(202048);
  });
});
