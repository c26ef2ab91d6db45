import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { allGgufFiles, model, rng } from '../helpers/shared.js';
import { header, Raw, T, tensorInfo, validFile } from '../helpers/raw-gguf.js';

const read = (src: string | Uint8Array, opts: { arrayLimit?: number; hparams?: boolean } = { arrayLimit: 0 }) =>
  addon().readGguf(src, opts);

// A clean rejection names the problem and the byte offset.
async function expectCleanError(src: Uint8Array, pattern?: RegExp) {
  const err = await read(src).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the parse to fail').toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg).toMatch(/at byte offset \d+/);
  if (pattern) expect(msg).toMatch(pattern);
  return msg;
}

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

const PAD = new Uint8Array(64);

describe('GGUF reader on hostile input', () => {
  it('accepts the minimal valid file', async () => {
    const h = await read(validFile());
    expect(h.tensors[0]).toMatchObject({ name: 'w', type: 'F32', shape: [8], bytes: 32 });
  });

  const cases: [string, () => Uint8Array, RegExp][] = [
    ['an empty file', () => new Uint8Array(0), /shorter than the 4-byte magic/],
    ['a wrong magic', () => new Raw().bytes('GGML').u32(3).u64(0).u64(0).build(), /bad magic/],
    ['version 1', () => header(0, 0, 1).build(), /unsupported GGUF version 1/],
    ['version 4', () => header(0, 0, 4).build(), /unsupported GGUF version 4/],
    ['a big-endian file', () => header(0, 0, 0x03000000).build(), /big-endian/],
    ['an absurd tensor count', () => header(2n ** 60n, 0).build(), /tensor count \d+ cannot fit/],
    ['an absurd metadata count', () => header(0, 2n ** 62n).build(), /metadata count \d+ cannot fit/],
    ['an absurd key length', () => header(0, 1).str('k', 2n ** 62n).bytes(PAD).build(), /metadata key length \d+ is absurd/],
    ['a key past the end', () => header(0, 1).str('abc', 1000).bytes(PAD).build(), /file truncated: metadata key needs 1000 bytes/],
    ['an empty key', () => header(0, 1).str('').u32(T.U8).u8(1).bytes(PAD).build(), /metadata key #0 is empty/],
    ['an unknown value type', () => header(0, 1).str('k').u32(99).bytes(PAD).build(), /unknown value type 99/],
    ['an absurd array length', () => header(0, 1).str('k').u32(T.ARR).u32(T.U32).u64(2n ** 40n).build(), /array length \d+ is absurd/],
    ['an array longer than the file', () => header(0, 1).str('k').u32(T.ARR).u32(T.U32).u64(1000).u32(1).build(), /array of 1000 u32/],
    ['too many strings for the file', () => header(0, 1).str('k').u32(T.ARR).u32(T.STR).u64(1000000).build(), /1000000 strings cannot fit/],
    ['a nested array', () => header(0, 1).str('k').u32(T.ARR).u32(T.ARR).u64(1).build(), /unsupported array element type 9/],
    ['a duplicate key', () => header(0, 2).str('k').u32(T.U8).u8(1).str('k').u32(T.U8).u8(2).build(), /duplicate metadata key 'k'/],
    ['a non-u32 alignment', () => header(0, 1).str('general.alignment').u32(T.U64).u64(32).build(), /general.alignment must be u32/],
    ['a non-power-of-two alignment', () => header(0, 1).str('general.alignment').u32(T.U32).u32(48).build(), /not a power of two/],
    ['five dimensions', () => tensorInfo(header(1, 0), 'w', [1, 1, 1, 1, 1], 0, 0).build(), /has 5 dimensions/],
    ['a negative dimension', () => tensorInfo(header(1, 0), 'w', [2n ** 63n], 0, 0).build(), /negative or absurd/],
    ['an element count overflowing 64 bits', () => tensorInfo(header(1, 0), 'w', [2n ** 40n, 2n ** 40n], 0, 0).build(), /element count overflows 64 bits/],
    ['an unknown type id', () => tensorInfo(header(1, 0), 'w', [8], 99, 0).build(), /unknown type id 99/],
    ['a removed type id', () => tensorInfo(header(1, 0), 'w', [32], 4, 0).build(), /unknown type id 4/],
    ['a row not a multiple of the block', () => tensorInfo(header(1, 0), 'w', [33], 2, 0).build(), /not a multiple of the Q4_0 block size 32/],
    ['a misaligned data offset', () => tensorInfo(header(1, 0), 'w', [8], 0, 4).pad(32).bytes(new Uint8Array(64)).build(), /not aligned to 32/],
    ['tensor data outside the file', () => tensorInfo(header(1, 0), 'w', [1024], 0, 0).pad(32).bytes(new Uint8Array(64)).build(), /outside the \d+-byte data section/],
    ['a huge offset that overflows', () => tensorInfo(header(1, 0), 'w', [8], 0, 2n ** 64n - 32n).pad(32).build(), /outside the/],
    ['duplicate tensor names', () => {
      const r = header(2, 0);
      tensorInfo(r, 'w', [8], 0, 0);
      tensorInfo(r, 'w', [8], 0, 32);
      return r.pad(32).bytes(new Uint8Array(64)).build();
    }, /duplicate tensor name 'w'/],
    ['a tensor name over 63 bytes', () => tensorInfo(header(1, 0), 'x'.repeat(64), [8], 0, 0).build(), /name is 64 bytes/],
    ['a truncated tensor info', () => header(1, 0).str('w').u32(4).u64(1).u64(1).build(), /file truncated: tensor dimension/],
  ];
  for (const [what, build, pattern] of cases) {
    it(`rejects ${what}`, async () => {
      await expectCleanError(build(), pattern);
    });
  }

  it('rejects a missing file and a directory with the path in the message', async () => {
    await expect(read('/nonexistent/model.gguf')).rejects.toThrow(/cannot open '\/nonexistent\/model.gguf': No such file/);
    await expect(read('/tmp')).rejects.toThrow(/'\/tmp' is not a regular file/);
  });

  // Truncating a file anywhere must give a clean error: the MANIFEST guarantees every shared file ends
  // exactly where its header or its last tensor ends.
  const fuzzFiles = allGgufFiles();
  for (const f of fuzzFiles) {
    it(`truncated and byte-mutated: ${f.split('/models/')[1]}`, async () => {
      const full = new Uint8Array(readFileSync(f));
      const h = await read(full);
      const rand = rng(0x5eed ^ full.length);
      // header region where parsing happens, plus a few points in the data
      const headerEnd = h.dataOffset;
      const truncations = new Set<number>([0, 1, 3, 4, 7, 8, 15, 16, 23, 24, headerEnd - 1, full.length - 1]);
      while (truncations.size < 120) truncations.add(Math.floor(rand() * headerEnd));
      for (let i = 0; i < 8; i++) truncations.add(headerEnd + Math.floor(rand() * (full.length - headerEnd)));
      for (const cut of truncations) {
        if (cut >= full.length) continue;
        await expectCleanError(full.subarray(0, cut));
      }
      // Byte mutations: the parse either succeeds (a harmless change) or fails with a clean error.
      for (let i = 0; i < 150; i++) {
        const at = Math.floor(rand() * headerEnd);
        const old = full[at];
        const choices = [0x00, 0xff, 0x7f, 0x80, old ^ 0x01, old ^ 0x80, Math.floor(rand() * 256)];
        full[at] = choices[Math.floor(rand() * choices.length)];
        try {
          const r = await read(full).then(
            (v) => ({ ok: true as const, v }),
            (e: unknown) => ({ ok: false as const, e }),
          );
          if (!r.ok) {
            expect(r.e).toBeInstanceOf(Error);
            expect((r.e as Error).message).toMatch(/at byte offset \d+|invalid|metadata key/);
          }
        } finally {
          full[at] = old;
        }
      }
    });
  }
});
