// Hostile GGUF input, one test per attack class: each is rejected with one clear Error (never a crash, a
// hang, an allocation the size of a lie, or a silent load). Header classes are parsed from memory
// (readGguf on bytes; the message names the byte offset); loader, split and adapter classes load files
// written to a temporary directory. The last block keeps the native fuzzers' findings (native/fuzz,
// scripts/fuzz.sh) fixed and replays the inputs committed under test/fixtures/fuzz/.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyName } from '../../src/gguf/names.js';
import { splitGguf, splitPath } from '../../src/gguf/split.js';
import { GgufWriter } from '../../src/gguf/writer.js';
import { addon } from '../../src/native/addon.js';
import { allGgufFiles, rng } from '../helpers/shared.js';
import { header, Raw, T, tensorInfo, validFile } from '../helpers/raw-gguf.js';
import { rewriteGguf, TINY, tinyModel, type TinyOptions } from './tiny-model.js';

const read = (src: string | Uint8Array, opts: { arrayLimit?: number; hparams?: boolean } = { arrayLimit: 0 }) =>
  addon().readGguf(src, opts);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => {
      expect(e).toBeInstanceOf(Error);
      return (e as Error).message;
    },
  );

// A clean rejection names the problem and the byte offset.
async function expectCleanError(src: Uint8Array, pattern?: RegExp) {
  const msg = await failure(read(src));
  expect(msg, 'expected the parse to fail').not.toBe('resolved');
  expect(msg).toMatch(/at byte offset \d+/);
  if (pattern) expect(msg).toMatch(pattern);
  return msg;
}

const PAD = new Uint8Array(64);
const F32 = 0;
/** one tensor info after a header, then the data section of `data` bytes */
const oneTensor = (dims: (number | bigint)[], type = F32, offset: number | bigint = 0, data = 64) =>
  tensorInfo(header(1, 0), 'w', dims, type, offset).pad(32).bytes(new Uint8Array(data)).build();
/** two tensors a and b of n F32 elements at the given offsets */
function twoTensors(n: number, offA: number, offB: number, data: number) {
  const r = header(2, 0);
  tensorInfo(r, 'a', [n], F32, offA);
  tensorInfo(r, 'b', [n], F32, offB);
  return r.pad(32).bytes(new Uint8Array(data)).build();
}

// attack class -> its files; every file is rejected with the pattern
const HEADER_CLASSES: [string, [string, () => Uint8Array, RegExp][]][] = [
  ['not a GGUF, or cut short', [
    ['an empty file', () => new Uint8Array(0), /shorter than the 4-byte magic/],
    ['a wrong magic', () => new Raw().bytes('GGML').u32(3).u64(0).u64(0).build(), /bad magic/],
    ['version 1', () => header(0, 0, 1).build(), /unsupported GGUF version 1/],
    ['version 4', () => header(0, 0, 4).build(), /unsupported GGUF version 4/],
    ['a big-endian file', () => header(0, 0, 0x03000000).build(), /big-endian/],
    ['a key past the end', () => header(0, 1).str('abc', 1000).bytes(PAD).build(), /file truncated: metadata key needs 1000 bytes/],
    ['a truncated tensor info', () => header(1, 0).str('w').u32(4).u64(1).u64(1).build(), /file truncated: tensor dimension/],
  ]],
  ['a key-count overflow', [
    ['2^62 keys', () => header(0, 2n ** 62n).build(), /metadata count \d+ cannot fit in a 24-byte file/],
    ['2^64 - 1 keys', () => header(0, 2n ** 64n - 1n).bytes(PAD).build(), /metadata count 18446744073709551615 cannot fit/],
    ['2^60 tensors', () => header(2n ** 60n, 0).build(), /tensor count \d+ cannot fit/],
    ['2^64 - 1 tensors', () => header(2n ** 64n - 1n, 0).bytes(PAD).build(), /tensor count 18446744073709551615 cannot fit/],
  ]],
  ['a huge string length', [
    ['a key of 2^62 bytes', () => header(0, 1).str('k', 2n ** 62n).bytes(PAD).build(), /metadata key length \d+ is absurd/],
    ['a string value of 2^62 bytes', () => header(0, 1).str('k').u32(T.STR).u64(2n ** 62n).bytes(PAD).build(), /string value length \d+ is absurd/],
    ['an array string of 2^64 - 1 bytes', () => header(0, 1).str('k').u32(T.ARR).u32(T.STR).u64(1).u64(2n ** 64n - 1n).bytes(PAD).build(), /array string length \d+ is absurd/],
    ['a tensor name of 2^62 bytes', () => header(1, 0).str('w', 2n ** 62n).bytes(PAD).build(), /tensor name length \d+ is absurd/],
    ['an empty key', () => header(0, 1).str('').u32(T.U8).u8(1).bytes(PAD).build(), /metadata key #0 is empty/],
  ]],
  ['an array count x element size overflow', [
    ['2^61 u64 (16 EiB)', () => header(0, 1).str('k').u32(T.ARR).u32(T.U64).u64(2n ** 61n).bytes(PAD).build(), /array length \d+ is absurd/],
    ['2^40 u32', () => header(0, 1).str('k').u32(T.ARR).u32(T.U32).u64(2n ** 40n).build(), /array length \d+ is absurd/],
    ['2^30 u64 in a small file', () => header(0, 1).str('k').u32(T.ARR).u32(T.U64).u64(2n ** 30n).bytes(PAD).build(), /array of 1073741824 u64 needs more bytes than the 64 left/],
    ['1000 u32 in 4 bytes', () => header(0, 1).str('k').u32(T.ARR).u32(T.U32).u64(1000).u32(1).build(), /array of 1000 u32/],
    ['a million strings in no bytes', () => header(0, 1).str('k').u32(T.ARR).u32(T.STR).u64(1000000).build(), /1000000 strings cannot fit/],
  ]],
  ['an unknown value type', [
    ['value type 99', () => header(0, 1).str('k').u32(99).bytes(PAD).build(), /unknown value type 99/],
    ['value type 2^32 - 1', () => header(0, 1).str('k').u32(0xffffffff).bytes(PAD).build(), /unknown value type 4294967295/],
    ['array element type 13', () => header(0, 1).str('k').u32(T.ARR).u32(13).u64(1).bytes(PAD).build(), /unsupported array element type 13/],
    ['a nested array', () => header(0, 1).str('k').u32(T.ARR).u32(T.ARR).u64(1).build(), /unsupported array element type 9/],
  ]],
  ['duplicate metadata keys', [
    ['a key twice', () => header(0, 2).str('k').u32(T.U8).u8(1).str('k').u32(T.U8).u8(2).build(), /duplicate metadata key 'k'/],
  ]],
  ['a bad alignment', [
    ['a u64 alignment', () => header(0, 1).str('general.alignment').u32(T.U64).u64(32).build(), /general.alignment must be u32/],
    ['alignment 48', () => header(0, 1).str('general.alignment').u32(T.U32).u32(48).build(), /not a power of two/],
    ['alignment 0', () => header(0, 1).str('general.alignment').u32(T.U32).u32(0).build(), /alignment 0 is not a power of two/],
  ]],
  ['n_dims above the maximum', [
    ['five dimensions', () => tensorInfo(header(1, 0), 'w', [1, 1, 1, 1, 1], F32, 0).build(), /has 5 dimensions \(at most 4\)/],
    ['2^32 - 1 dimensions', () => header(1, 0).str('w').u32(0xffffffff).bytes(PAD).build(), /has 4294967295 dimensions/],
  ]],
  ['a tensor shape that overflows the element count', [
    ['a negative dimension', () => tensorInfo(header(1, 0), 'w', [2n ** 63n], F32, 0).build(), /negative or absurd/],
    ['2^40 x 2^40 elements', () => tensorInfo(header(1, 0), 'w', [2n ** 40n, 2n ** 40n], F32, 0).build(), /element count overflows 64 bits/],
    ['2^32 x 2^32 elements', () => tensorInfo(header(1, 0), 'w', [2n ** 32n, 2n ** 32n], F32, 0).build(), /element count overflows 64 bits/],
    ['2^62 f32 (2^64 bytes)', () => tensorInfo(header(1, 0), 'w', [2n ** 62n], F32, 0).build(), /byte size overflows 64 bits/],
  ]],
  ['an unknown tensor type', [
    ['type 99', () => tensorInfo(header(1, 0), 'w', [8], 99, 0).build(), /unknown type id 99/],
    ['a removed type (4, Q4_2)', () => tensorInfo(header(1, 0), 'w', [32], 4, 0).build(), /unknown type id 4/],
    ['a row not a multiple of the block', () => tensorInfo(header(1, 0), 'w', [33], 2, 0).build(), /not a multiple of the Q4_0 block size 32/],
  ]],
  ['a bad tensor name', [
    ['an empty name', () => tensorInfo(header(1, 0), '', [8], F32, 0).build(), /tensor #0 has an empty name/],
    ['a name over 63 bytes', () => tensorInfo(header(1, 0), 'x'.repeat(64), [8], F32, 0).build(), /name is 64 bytes/],
  ]],
  ['misaligned data', [
    ['an offset off the alignment', () => oneTensor([8], F32, 4), /data offset 4 is not aligned to 32/],
    ['a data section that starts past the end', () => tensorInfo(header(1, 0), 'w', [8], F32, 0).build(), /data section would start at \d+, past the end/],
  ]],
  ['a tensor offset or size past the end of the file', [
    ['1024 f32 in 64 bytes', () => oneTensor([1024]), /data \[0, \+4096\) lies outside the 64-byte data section/],
    ['an offset past the end', () => oneTensor([8], F32, 1024), /data \[1024, \+32\) lies outside/],
    ['an offset that overflows', () => oneTensor([8], F32, 2n ** 64n - 32n), /lies outside the/],
  ]],
  ['duplicate tensors', [
    ['a name twice', () => {
      const r = header(2, 0);
      tensorInfo(r, 'w', [8], F32, 0);
      tensorInfo(r, 'w', [8], F32, 32);
      return r.pad(32).bytes(new Uint8Array(64)).build();
    }, /duplicate tensor name 'w'/],
  ]],
  ['overlapping tensors', [
    ['b starts inside a', () => twoTensors(16, 0, 32, 128), /tensor 'b' data \[32, \+64\) overlaps tensor 'a' data \[0, \+64\)/],
    ['b on the same bytes as a', () => twoTensors(8, 32, 32, 64), /tensor '[ab]' data \[32, \+32\) overlaps tensor '[ab]' data \[32, \+32\)/],
  ]],
];

describe('hostile GGUF headers: one clean error per attack class', () => {
  it('accepts the minimal valid file, and tensors that touch without overlapping', async () => {
    const h = await read(validFile());
    expect(h.tensors[0]).toMatchObject({ name: 'w', type: 'F32', shape: [8], bytes: 32 });
    expect((await read(twoTensors(8, 0, 32, 64))).tensors.map((t) => t.name)).toEqual(['a', 'b']);
    expect((await read(twoTensors(8, 32, 0, 64))).tensors.map((t) => t.name)).toEqual(['a', 'b']);
  });

  for (const [cls, files] of HEADER_CLASSES) {
    it(`rejects ${cls}`, async () => {
      for (const [what, build, pattern] of files) {
        const msg = await expectCleanError(build(), pattern);
        expect(msg.length, what).toBeLessThan(400);
      }
    });
  }

  it('rejects a missing file and a directory with the path in the message', async () => {
    await expect(read('/nonexistent/model.gguf')).rejects.toThrow(/cannot open '\/nonexistent\/model.gguf': No such file/);
    await expect(read('/tmp')).rejects.toThrow(/'\/tmp' is not a regular file/);
  });

  // Truncating a file anywhere must give a clean error: the MANIFEST guarantees every shared file ends
  // exactly where its header or its last tensor ends.
  for (const f of allGgufFiles()) {
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
          const msg = await read(full).then(
            () => undefined,
            (e: unknown) => (expect(e).toBeInstanceOf(Error), (e as Error).message),
          );
          if (msg !== undefined) expect(msg).toMatch(/at byte offset \d+|invalid|metadata key/);
        } finally {
          full[at] = old;
        }
      }
    });
  }
});

let dir: string;
let n = 0;
const fresh = () => {
  const d = join(dir, `case${n++}`);
  mkdirSync(d);
  return d;
};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'llama4-hostile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function tinyFile(o: TinyOptions = {}, name = 'tiny.gguf'): Promise<string> {
  const p = join(fresh(), name);
  await tinyModel(o).write(p);
  return p;
}
const load = (p: string) => failure(addon().loadModel(p, { repack: false }));

describe('hostile models: the loader checks hyper-parameters and tensors against each other', () => {
  it('loads the tiny model itself', async () => {
    expect(await load(await tinyFile())).toBe('resolved');
  });

  it('rejects hyper-parameters whose products overflow (heads x head dimension)', async () => {
    // the fuzz finding: 0xc0000000 x 0xc0000000 overflowed int64, and a negative expected size skipped the
    // shape checks of every attention projection (UBSan: signed overflow in load_model)
    const big = 0xc0000000;
    const p = await tinyFile({
      keys: {
        ATTN_HEAD_COUNT: [big, 'u32'], ATTN_HEAD_COUNT_KV: null,
        ATTN_KEY_LENGTH: [big, 'u32'], ATTN_VALUE_LENGTH: [big, 'u32'], ROPE_DIMENSION_COUNT: [big, 'u32'],
      },
    });
    expect(await load(p)).toBe('layer 0: head_count 3221225472 x key_length 3221225472 = 10376293541461622784 is too large for an attention projection');
    // a product past u32 but within int64 too: the context sizes its buffers in u32
    const q = await tinyFile({ keys: { ATTN_KEY_LENGTH: [2 ** 31, 'u32'], ROPE_DIMENSION_COUNT: [2 ** 31, 'u32'] } });
    expect(await load(q)).toMatch(/^layer 0: head_count 2 x key_length 2147483648 = 4294967296 is too large/);
  });

  it('rejects hyper-parameters out of range', async () => {
    expect(await load(await tinyFile({ keys: { BLOCK_COUNT: [2 ** 31, 'u32'] } }))).toBe('block_count 2147483648 is absurd');
    expect(await load(await tinyFile({ keys: { ATTN_HEAD_COUNT_KV: [3, 'u32'] } }))).toBe('layer 0: head_count 2 is not a multiple of head_count_kv 3');
    expect(await load(await tinyFile({ keys: { EMBEDDING_LENGTH: [-1, 'i32'] } }))).toMatch(/'llama\.embedding_length' value -1 is out of range/);
  });

  it('rejects a tensor shaped unlike the hyper-parameters', async () => {
    const p = await tinyFile({ shapes: { 'blk.1.attn_k.weight': [TINY.embd, 8] } });
    expect(await load(p)).toBe("tensor 'blk.1.attn_k.weight' has shape [8, 8], expected [8, 4]");
    const q = await tinyFile({ shapes: { 'output_norm.weight': [TINY.embd, 1, 2] } });
    expect(await load(q)).toMatch(/tensor 'output_norm\.weight' has more dimensions than expected/);
  });

  it('rejects a tensor that belongs to no model, and a missing one', async () => {
    expect(await load(await tinyFile({ extra: { 'blk.2.attn_q.weight': [8, 8] } }))).toBe("model has an unexpected tensor 'blk.2.attn_q.weight'");
    const w = tinyModel();
    const p = join(fresh(), 'm.gguf');
    // a model whose block count claims a block the file does not hold
    w.set(keyName('BLOCK_COUNT', 'llama'), 3, 'u32');
    await w.write(p);
    expect(await load(p)).toBe("model is missing tensor 'blk.2.attn_norm.weight'");
  });
});

describe('hostile split models: a part that claims another model', () => {
  // the tiny model's 21 tensors in two parts (12 + 9), and the parts of another model beside them
  async function splitTiny(o: TinyOptions, name: string, maxTensors = 12) {
    const d = fresh();
    const src = join(d, 'src.gguf');
    await tinyModel(o).write(src);
    return (await splitGguf(src, join(d, name), { maxTensors })).map((p) => p.path);
  }
  const read1 = (p: string) => failure(read(p));

  it('reads and loads the well-formed split', async () => {
    const [a1, a2] = await splitTiny({}, 'a');
    expect((await read(a2)).tensors).toHaveLength(21);
    expect(await load(a1)).toBe('resolved');
  });

  it('rejects a part from a split into another number of parts (split.count)', async () => {
    const [a1, a2] = await splitTiny({}, 'a');
    const b = await splitTiny({}, 'b', 8); // 3 parts
    renameSync(b[1], a2);
    expect(await read1(a1)).toBe(`split model '${a1}': part 2 '${a2}' gives split.count 3, its name and '${a1}' say 2`);
  });

  it('rejects a part from another model with another tensor count (split.tensors.count)', async () => {
    const [a1, a2] = await splitTiny({}, 'a');
    const [, b2] = await splitTiny({ extra: { 'extra.weight': [8] } }, 'b');
    renameSync(b2, a2);
    expect(await read1(a2)).toBe(`split model '${a1}': part 2 '${a2}' says split.tensors.count 22, part 1 says 21`);
  });

  it('rejects a part whose metadata is another model\'s', async () => {
    const [a1, a2] = await splitTiny({}, 'a');
    const other = join(dir, `other${n++}.gguf`);
    await rewriteGguf(a2, other, (w) => w.set(keyName('GENERAL_ARCHITECTURE'), 'llama4').set(keyName('GENERAL_NAME'), 'tiny'));
    renameSync(other, a2);
    expect(await read1(a1)).toBe(
      `split model '${a1}': part 2 '${a2}' gives general.architecture another value than part 1 does: it belongs to another model`,
    );
  });

  it('rejects a part whose tensors do not belong to the model (same count, another shape)', async () => {
    const [a1, a2] = await splitTiny({}, 'a');
    const [, b2] = await splitTiny({ shapes: { 'blk.1.ffn_up.weight': [TINY.embd, 24] } }, 'b');
    renameSync(b2, a2);
    expect((await read(a1)).tensors).toHaveLength(21); // the header alone cannot tell
    expect(await load(a1)).toBe("tensor 'blk.1.ffn_up.weight' has shape [8, 24], expected [8, 16]");
  });

  it('rejects a tensor in two parts', async () => {
    const [a1, a2] = await splitTiny({}, 'a');
    const other = join(dir, `other${n++}.gguf`);
    await rewriteGguf(a2, other, (w) => w.addTensor('token_embd.weight', [TINY.embd, TINY.vocab], F32, new Float32Array(64)).set(keyName('SPLIT_TENSORS_COUNT'), 22, 'i32'));
    renameSync(other, a2);
    await rewriteGguf(a1, join(dir, 'p1.gguf'), (w) => w.set(keyName('SPLIT_TENSORS_COUNT'), 22, 'i32'));
    renameSync(join(dir, 'p1.gguf'), a1);
    expect(await read1(a1)).toBe(`split model '${a1}': tensor 'token_embd.weight' is in both '${a1}' and '${a2}'`);
  });
});

describe('hostile depth-gate adapters', () => {
  let modelPath: string;
  beforeAll(async () => {
    modelPath = await tinyFile();
  });
  async function adapter(edit: (w: GgufWriter) => void): Promise<string> {
    const w = new GgufWriter();
    w.set(keyName('GENERAL_ARCHITECTURE'), 'llama').set(keyName('DEPTH_GATE_VERSION'), 2, 'u32').set(keyName('DEPTH_GATE_THRESHOLD'), 0.5, 'f32');
    w.addTensor('blk.1.depth_gate_ffn.weight', [TINY.embd], F32, new Float32Array(TINY.embd).fill(0.1));
    w.addTensor('blk.1.depth_gate_ffn.bias', [1], F32, new Float32Array(1));
    edit(w);
    const p = join(fresh(), 'gates.gguf');
    await w.write(p);
    return p;
  }
  const gates = async (p: string) => failure(addon().loadDepthGates(await addon().loadModel(modelPath, { repack: false }), p));

  it('loads a well-formed adapter', async () => {
    expect(await gates(await adapter(() => {}))).toBe('resolved');
  });

  it('rejects thresholds that are not one probability per block', async () => {
    const p = await adapter((w) => w.set(keyName('DEPTH_GATE_THRESHOLDS_FFN'), new Float32Array(5)));
    expect(await gates(p)).toBe(`'${p}': depth_gate.thresholds_ffn must be an f32 array with one entry per block (2)`);
    const q = await adapter((w) => w.set(keyName('DEPTH_GATE_THRESHOLDS_FFN'), Float32Array.of(0.5, NaN)));
    expect(await gates(q)).toBe(`'${q}': depth_gate.thresholds_ffn[1] = nan is not a probability`);
    const r = await adapter((w) => w.set(keyName('DEPTH_GATE_THRESHOLD'), 'high'));
    expect(await gates(r)).toBe("metadata key 'depth_gate.threshold' is str, expected a number");
  });

  it('rejects gates shaped for another model', async () => {
    const p = await adapter((w) => w.addTensor('blk.0.depth_gate.weight', [16], F32, new Float32Array(16)).addTensor('blk.0.depth_gate.bias', [1], F32, new Float32Array(1)));
    expect(await gates(p)).toBe(`'${p}': tensor 'blk.0.depth_gate.weight' has 16 elements, expected [8] (the model's embedding length)`);
  });
});

// ---- the native fuzzers' findings and their committed inputs ------------------------------------------
// test/fixtures/fuzz/TARGET/ holds small inputs from native/fuzz (scripts/fuzz.sh reads them as seeds):
// each replays here through the addon the way its target feeds it, and must load or give one Error.
const FUZZ = join(process.cwd(), 'test', 'fixtures', 'fuzz');
const fuzzInputs = (target: string) => {
  try {
    return readdirSync(join(FUZZ, target)).map((f) => join(FUZZ, target, f));
  } catch {
    return [];
  }
};

describe('native fuzz inputs replayed through the addon', () => {
  it('gguf: the header parser (readGguf on the bytes, with hyper-parameters)', async () => {
    for (const f of fuzzInputs('gguf')) await failure(read(new Uint8Array(readFileSync(f)), { arrayLimit: 4, hparams: true }));
  });

  it('model: the loader (the first finding, heads x key_length overflow, among them)', async () => {
    const inputs = fuzzInputs('model');
    expect(inputs.map((f) => f.split('/').pop())).toContain('heads-x-key-length-overflow.gguf');
    for (const f of inputs) {
      const p = join(fresh(), 'm.gguf');
      writeFileSync(p, readFileSync(f));
      const msg = await load(p);
      if (f.endsWith('heads-x-key-length-overflow.gguf')) expect(msg).toMatch(/too large for an attention projection/);
    }
  });

  it('split: the parts cut before each magic, loaded from part 1', async () => {
    for (const f of fuzzInputs('split')) {
      const bytes = readFileSync(f);
      const starts = [0];
      for (let i = bytes.indexOf('GGUF', 1); i > 0 && starts.length < 8; i = bytes.indexOf('GGUF', i + 1)) starts.push(i);
      const d = fresh();
      const paths = starts.map((s, k) => {
        const p = splitPath(join(d, 'm'), k, starts.length);
        writeFileSync(p, bytes.subarray(s, starts[k + 1] ?? bytes.length));
        return p;
      });
      const msg = await load(paths[0]);
      if (f.endsWith('part-from-another-model.gguf')) expect(msg).toMatch(/belongs to another model/);
    }
  });

  it('depth_gates: adapters for the fuzz target\'s model (n_embd 8, 4 blocks)', async () => {
    const m = await addon().loadModel(await tinyFile({ layers: 4 }), { repack: false });
    for (const f of fuzzInputs('depth_gates')) await failure(addon().loadDepthGates(m, f));
  });
});
