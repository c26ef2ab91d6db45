import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addon, type GgufHeader, type GgufKv } from '../../src/native/addon.js';
import { keyName, tensorName } from '../../src/gguf/names.js';
import { GgufWriter, tensorBytes } from '../../src/gguf/writer.js';
import { generateModel, planTensors, resolveSpec, gaussian, llama3RopeFactors, vocabPath, type ModelSpec } from '../../scripts/lib/model-gen.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llama4-writer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const kvOf = (h: GgufHeader, key: string): GgufKv => {
  const kv = h.metadata.find((k) => k.key === key);
  if (!kv) throw new Error(`missing key ${key}`);
  return kv;
};
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** Reference f32 -> f16, round to nearest even (to check the native conversion the writer uses). */
function f16Ref(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    man |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = man >>> shift;
    const rem = man & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) r++;
  return sign | r;
}

describe('names', () => {
  it('builds key and tensor names from the native table', () => {
    expect(keyName('CONTEXT_LENGTH', 'llama4')).toBe('llama4.context_length');
    expect(keyName('GENERAL_ALIGNMENT')).toBe('general.alignment');
    expect(tensorName('ATTN_Q', 3)).toBe('blk.3.attn_q.weight');
    expect(tensorName('OUTPUT')).toBe('output.weight');
    expect(tensorName('ATTN_OUT', 0, 'bias')).toBe('blk.0.attn_output.bias');
    expect(tensorName('FFN_GATE_EXPS', 12, '')).toBe('blk.12.ffn_gate_exps');
    expect(() => tensorName('ATTN_Q')).toThrow(/block index/);
    expect(() => keyName('NOPE', 'llama')).toThrow(/unknown/);
    expect(() => keyName('CONTEXT_LENGTH')).toThrow(/architecture/);
  });
});

describe('GgufWriter metadata', () => {
  it('round-trips every scalar and array type', async () => {
    const w = new GgufWriter();
    w.set('t.u8', 255, 'u8').set('t.i8', -128, 'i8').set('t.u16', 65535, 'u16').set('t.i16', -32768, 'i16');
    w.set('t.u32', 4294967295).set('t.i32', -5).set('t.f32', 0.1).set('t.f32int', 500000, 'f32');
    w.set('t.bool', true).set('t.boolf', false).set('t.str', 'héllo ✓ 🦙').set('t.empty', '');
    w.set('t.u64', 2n ** 63n + 5n).set('t.u64small', 7, 'u64').set('t.i64', -(2n ** 40n)).set('t.f64', Math.PI, 'f64');
    w.set('a.u8', new Uint8Array([0, 1, 255])).set('a.i8', new Int8Array([-1, 2]));
    w.set('a.u16', new Uint16Array([1, 65535])).set('a.i16', new Int16Array([-2, 3]));
    w.set('a.u32', new Uint32Array([0, 4294967295])).set('a.i32', new Int32Array([-7, 8, 9]));
    w.set('a.f32', new Float32Array([1.5, -0.25])).set('a.f64', new Float64Array([Math.E]));
    w.set('a.u64', new BigUint64Array([2n ** 64n - 1n])).set('a.i64', new BigInt64Array([-3n]));
    w.set('a.str', ['a', '', 'ü ▁x', 'Ġ Ġ']).set('a.bool', [true, false, true]);
    w.set('a.nums', [1, 2, 3]).set('a.floats', [0.5, 1]);
    w.set('a.forced', new Int32Array([1, 2]), 'u32').set('a.forced64', [1, 2], 'u64').set('a.emptyarr', [], 'f32');
    w.set('t.replaced', 1, 'u32').set('t.replaced', 2, 'u32');
    const path = join(dir, 'meta.gguf');
    await w.write(path);
    const h = await addon().readGguf(path);
    expect(h.version).toBe(3);
    expect(h.tensors).toHaveLength(0);
    expect(h.alignment).toBe(32);
    expect(h.metadata.some((k) => k.key === 'general.alignment')).toBe(false);
    expect(h.fileSize).toBe((await stat(path)).size);
    const scalar = (key: string, type: string, value: unknown) => {
      const kv = kvOf(h, key);
      expect([kv.key, kv.type]).toEqual([key, type]);
      expect(kv.value).toEqual(value);
    };
    scalar('t.u8', 'u8', 255); scalar('t.i8', 'i8', -128); scalar('t.u16', 'u16', 65535); scalar('t.i16', 'i16', -32768);
    scalar('t.u32', 'u32', 4294967295); scalar('t.i32', 'i32', -5); scalar('t.f32', 'f32', Math.fround(0.1));
    scalar('t.f32int', 'f32', 500000); scalar('t.bool', 'bool', true); scalar('t.boolf', 'bool', false);
    scalar('t.str', 'str', 'héllo ✓ 🦙'); scalar('t.empty', 'str', '');
    scalar('t.u64', 'u64', 2n ** 63n + 5n); scalar('t.u64small', 'u64', 7); scalar('t.i64', 'i64', -(2 ** 40));
    scalar('t.f64', 'f64', Math.PI); scalar('t.replaced', 'u32', 2);
    const arr = (key: string, elementType: string, value: unknown) => {
      const kv = kvOf(h, key);
      expect([kv.type, kv.elementType, kv.count]).toEqual(['array', elementType, (value as ArrayLike<unknown>).length]);
      expect(kv.value).toEqual(value);
    };
    arr('a.u8', 'u8', new Uint8Array([0, 1, 255])); arr('a.i8', 'i8', new Int8Array([-1, 2]));
    arr('a.u16', 'u16', new Uint16Array([1, 65535])); arr('a.i16', 'i16', new Int16Array([-2, 3]));
    arr('a.u32', 'u32', new Uint32Array([0, 4294967295])); arr('a.i32', 'i32', new Int32Array([-7, 8, 9]));
    arr('a.f32', 'f32', new Float32Array([1.5, -0.25])); arr('a.f64', 'f64', new Float64Array([Math.E]));
    arr('a.u64', 'u64', new BigUint64Array([2n ** 64n - 1n])); arr('a.i64', 'i64', new BigInt64Array([-3n]));
    arr('a.str', 'str', ['a', '', 'ü ▁x', 'Ġ Ġ']); arr('a.bool', 'bool', [true, false, true]);
    arr('a.nums', 'i32', new Int32Array([1, 2, 3])); arr('a.floats', 'f32', new Float32Array([0.5, 1]));
    arr('a.forced', 'u32', new Uint32Array([1, 2])); arr('a.forced64', 'u64', new BigUint64Array([1n, 2n]));
    arr('a.emptyarr', 'f32', new Float32Array(0));
    // keys keep insertion order (a replaced key keeps its place)
    expect(h.metadata.map((k) => k.key).indexOf('t.replaced')).toBe(h.metadata.length - 1);
  });

  it('rejects values that do not fit the forced type and a mistyped general.alignment', () => {
    const w = new GgufWriter();
    expect(() => w.set('x', 256, 'u8')).toThrow(/out of range/);
    expect(() => w.set('x', -1, 'u32')).toThrow(/out of range/);
    expect(() => w.set('x', 1.5, 'i32')).toThrow(/integer/);
    expect(() => w.set('x', [1, 300], 'u8')).toThrow(/out of range/);
    expect(() => w.set('x', 'a', 'u32')).toThrow();
    expect(() => w.set('x', [])).toThrow(/element type/);
    expect(() => w.set('', 1)).toThrow(/empty/);
    expect(() => w.set('general.alignment', 64, 'i32')).toThrow(/u32/);
    expect(() => w.set('general.alignment', 48, 'u32')).toThrow(/power of two/);
    expect(() => new GgufWriter({ alignment: 24 })).toThrow(/power of two/);
  });
});

describe('GgufWriter tensors', () => {
  const f32 = (n: number, k = 1) => Float32Array.from({ length: n }, (_, i) => (i + 1) * k);

  for (const alignment of [32, 64, 256]) {
    it(`packs tensors with alignment ${alignment} the way llama.cpp requires`, async () => {
      const w = new GgufWriter({ alignment });
      w.set('general.architecture', 'test');
      const q8src = f32(64, 0.01);
      const q8 = addon().quantize(8, q8src);
      const f16src = f32(15, 0.5);
      const i8 = new Int8Array([-3, -2, -1, 0, 1, 2, 3]);
      w.addTensor('a.f32', [3], 0, f32(3));
      w.addTensor('b.f16', [5, 3], 1, f16src); // converted natively from f32
      w.addTensor('c.i8', [7], 24, i8);
      w.addTensor('d.q8_0', [32, 2], 8, q8);
      // streamed by a callback, in uneven chunks, through an async iterable
      w.addTensor('e.stream', [10, 3, 2, 1], 0, async function* () {
        const all = f32(60, -1);
        yield all.subarray(0, 7);
        yield all.subarray(7, 33);
        yield new Uint8Array(all.buffer, 33 * 4, 27 * 4);
      });
      w.addTensor('f.sync', [4], 0, () => [f32(2), f32(2, 3)]);
      const path = join(dir, `tensors-${alignment}.gguf`);
      const layout = await w.write(path);
      const h = await addon().readGguf(path);
      const bytes = new Uint8Array(await readFile(path));

      expect(h.alignment).toBe(alignment);
      if (alignment === 32) expect(h.metadata.some((k) => k.key === 'general.alignment')).toBe(false);
      else expect([kvOf(h, 'general.alignment').type, kvOf(h, 'general.alignment').value]).toEqual(['u32', alignment]);
      expect(h.dataOffset % alignment).toBe(0);
      expect(h.dataOffset).toBe(layout.dataOffset);
      expect(h.tensors.map((t) => [t.name, t.type, t.shape])).toEqual([
        ['a.f32', 'F32', [3]], ['b.f16', 'F16', [5, 3]], ['c.i8', 'I8', [7]], ['d.q8_0', 'Q8_0', [32, 2]],
        ['e.stream', 'F32', [10, 3, 2, 1]], ['f.sync', 'F32', [4]],
      ]);
      // strict packing: each offset is the running sum of the previous aligned sizes
      let off = h.dataOffset;
      for (const t of h.tensors) {
        expect(t.offset).toBe(off);
        expect(t.bytes).toBe(tensorBytes(t.shape, t.typeId));
        off += alignUp(t.bytes, alignment);
      }
      expect(h.fileSize).toBe(off);
      expect(bytes.length).toBe(off);
      const at = (name: string) => {
        const t = h.tensors.find((x) => x.name === name)!;
        return bytes.slice(t.offset, t.offset + t.bytes);
      };
      const asU8 = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      expect(at('a.f32')).toEqual(asU8(f32(3)));
      expect(new Uint16Array(at('b.f16').buffer)).toEqual(Uint16Array.from(f16src, f16Ref));
      expect(at('c.i8')).toEqual(asU8(i8));
      expect(at('d.q8_0')).toEqual(q8);
      expect(new Float32Array(at('e.stream').buffer)).toEqual(f32(60, -1));
      expect(new Float32Array(at('f.sync').buffer)).toEqual(new Float32Array([1, 2, 3, 6]));
      // padding is zeros
      const t0 = h.tensors[0];
      expect(bytes.slice(t0.offset + t0.bytes, h.tensors[1].offset).every((b) => b === 0)).toBe(true);
    });
  }

  it('converts f32 to f16 with round-to-nearest-even', async () => {
    const vals = [0, -0, 1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 1e6, -1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26,
      6.1e-5, 1e-8, 0.1, -2.5, Infinity, -Infinity, 0.333333];
    const src = new Float32Array(vals);
    const got = new Uint16Array(addon().quantize(1, src).buffer.slice(0));
    expect(Array.from(got)).toEqual(Array.from(src, f16Ref));
  });

  it('fails cleanly and leaves no file when the data does not match', async () => {
    const short = new GgufWriter().addTensor('x', [4], 0, new Float32Array(3));
    await expect(short.write(join(dir, 'short.gguf'))).rejects.toThrow(/got 12 bytes of data, expected 16/);
    const long = new GgufWriter().addTensor('x', [2], 0, () => [new Float32Array(2), new Float32Array(1)]);
    await expect(long.write(join(dir, 'long.gguf'))).rejects.toThrow(/exceeds/);
    expect((await readdir(dir)).filter((f) => f.startsWith('short') || f.startsWith('long'))).toEqual([]);
    const w = new GgufWriter().addTensor('x', [32], 0, new Float32Array(32));
    expect(() => w.addTensor('x', [1], 0, new Float32Array(1))).toThrow(/duplicate/);
    expect(() => w.addTensor('q', [33], 8, new Uint8Array(0))).toThrow(/block size 32/);
    expect(() => w.addTensor('y'.repeat(64), [1], 0, new Float32Array(1))).toThrow(/1\.\.63 bytes/);
    expect(() => w.addTensor('z', [1, 1, 1, 1, 1], 0, new Float32Array(1))).toThrow(/1\.\.4/);
    expect(() => w.addTensor('r', [4], 4, new Uint8Array(0))).toThrow(/cannot be stored/);
  });
});

describe('random model generator', () => {
  let vocab: string;
  beforeAll(async () => {
    // a small SPM-style vocab written by the writer itself, so these tests need no fixture
    const n = 96;
    const tokens = Array.from({ length: n }, (_, i) => (i < 3 ? ['<unk>', '<s>', '</s>'][i] : `▁t${i}`));
    vocab = join(dir, 'vocab.gguf');
    await new GgufWriter()
      .set(keyName('GENERAL_ARCHITECTURE'), 'llama')
      .set(keyName('TOKENIZER_MODEL'), 'llama')
      .set(keyName('TOKENIZER_TOKENS'), tokens)
      .set(keyName('TOKENIZER_SCORES'), Float32Array.from({ length: n }, (_, i) => -i))
      .set(keyName('TOKENIZER_TOKEN_TYPE'), Int32Array.from({ length: n }, (_, i) => (i === 0 ? 2 : i < 3 ? 3 : 1)))
      .set(keyName('TOKENIZER_BOS_ID'), 1, 'u32')
      .set(keyName('TOKENIZER_EOS_ID'), 2, 'u32')
      .set(keyName('TOKENIZER_ADD_BOS'), true)
      .write(vocab);
  });

  const cases: [string, Partial<ModelSpec> & { preset?: string }][] = [
    ['dense llama (GQA)', { preset: 'tiny-llama' }],
    ['dense llama, tied output, rope_freqs, f16', { arch: 'llama', embd: 64, layers: 2, heads: 8, kvHeads: 2, ff: 96, tied: true, ropeFreqs: true, type: 'f16' }],
    ['llama + experts (Mixtral)', { preset: 'tiny-mixtral' }],
    ['llama4, MoE every 2nd layer', { preset: 'tiny-llama4' }],
    ['llama4, all MoE, f16', { arch: 'llama4', embd: 64, layers: 4, heads: 4, kvHeads: 1, headDim: 32, ff: 128, ffExp: 32, experts: 3, moeStep: 1, type: 'f16', ropeFreqs: false }],
  ];

  for (const [label, opts] of cases) {
    it(`writes a loadable ${label}`, async () => {
      const spec = resolveSpec({ ...opts, vocab });
      const path = join(dir, `gen-${label.replace(/\W+/g, '_')}.gguf`);
      const g = await generateModel(spec, path);
      const h = await addon().readGguf(path, { hparams: true });
      expect(h.hparamsError).toBeUndefined();
      const hp = h.hparams!;
      const a = spec.arch;
      // tensors: exactly the plan, in order, with the planned shapes; norms/router/rope_freqs F32
      const plan = planTensors(spec, 96);
      expect(h.tensors.map((t) => [t.name, t.shape])).toEqual(plan.map((t) => [t.name, t.shape]));
      const wt = spec.type === 'f16' ? 'F16' : 'F32';
      for (const t of h.tensors) {
        const f32Only = /norm|gate_inp|rope_freqs/.test(t.name);
        expect([t.name, t.type]).toEqual([t.name, f32Only ? 'F32' : wt]);
      }
      expect(h.tensors.some((t) => t.name === tensorName('OUTPUT'))).toBe(!spec.tied);
      expect(h.tensors.some((t) => t.name === tensorName('ROPE_FREQS'))).toBe(spec.ropeFreqs);
      // metadata as llama.cpp reads it
      expect(kvOf(h, keyName('GENERAL_ARCHITECTURE')).value).toBe(a);
      for (const id of ['CONTEXT_LENGTH', 'EMBEDDING_LENGTH', 'BLOCK_COUNT', 'FEED_FORWARD_LENGTH', 'ATTN_HEAD_COUNT', 'ROPE_DIMENSION_COUNT'])
        expect(kvOf(h, keyName(id, a)).type).toBe('u32');
      expect(kvOf(h, keyName('ROPE_FREQ_BASE', a)).type).toBe('f32');
      expect(kvOf(h, keyName('ATTN_LAYERNORM_RMS_EPS', a)).type).toBe('f32');
      expect(kvOf(h, keyName('TOKENIZER_TOKENS')).count).toBe(96);
      expect(kvOf(h, keyName('TOKENIZER_TOKEN_TYPE')).elementType).toBe('i32');
      expect(kvOf(h, keyName('TOKENIZER_BOS_ID'))).toMatchObject({ type: 'u32', value: 1 });
      expect(hp).toMatchObject({
        arch: a, embeddingLength: spec.embd, blockCount: spec.layers, headDimK: spec.headDim, ropeDims: spec.headDim,
        vocabSize: 96, expertCount: spec.experts, expertUsedCount: spec.expertsUsed, contextLength: spec.ctx,
        ropeFreqBase: a === 'llama4' ? 500000 : 10000,
      });
      expect(hp.headCount.every((x) => x === spec.heads)).toBe(true);
      expect(hp.headCountKv.every((x) => x === spec.kvHeads)).toBe(true);
      if (a === 'llama4') {
        expect(hp.expertFeedForwardLength).toBe(spec.ffExp);
        expect(hp.moeLayerStep).toBe(spec.moeStep);
        expect(hp.layers.map((l) => l.moe)).toEqual(Array.from({ length: spec.layers }, (_, il) => (il + 1) % spec.moeStep === 0));
        expect(hp.layers.map((l) => l.rope)).toEqual(Array.from({ length: spec.layers }, (_, il) => (il + 1) % 4 !== 0));
      }
      // the weights are finite with the planned scale
      const q = h.tensors.find((t) => t.name === tensorName('ATTN_Q', 0))!;
      const raw = new Uint8Array(await readFile(path)).slice(q.offset, q.offset + q.bytes);
      const v = addon().dequantize(q.typeId, raw, q.elements);
      const mean = v.reduce((s, x) => s + x, 0) / v.length;
      const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
      expect(v.every(Number.isFinite)).toBe(true);
      expect(Math.abs(std * Math.sqrt(spec.embd) - 1)).toBeLessThan(0.1);
      expect(g.params).toBe(h.tensors.reduce((s, t) => s + t.elements, 0));
    });
  }

  it('is deterministic in the seed', async () => {
    const spec = resolveSpec({ preset: 'tiny-llama4', vocab, seed: 7 });
    await generateModel(spec, join(dir, 's7a.gguf'));
    await generateModel(spec, join(dir, 's7b.gguf'));
    await generateModel({ ...spec, seed: 8 }, join(dir, 's8.gguf'));
    const [a, b, c] = await Promise.all(['s7a', 's7b', 's8'].map((f) => readFile(join(dir, `${f}.gguf`))));
    expect(a.equals(b)).toBe(true);
    expect(a.length).toBe(c.length);
    expect(a.equals(c)).toBe(false);
    // chunking does not change the stream
    const whole = [...gaussian(3, 'k', 1001, 1)][0];
    const parts = Float32Array.from([...gaussian(3, 'k', 1001, 1, 0, 7)].flatMap((x) => [...x]));
    expect(parts).toEqual(whole);
  });

  it('computes llama3-style rope factors (Scout: 1 below the original context, 16 above)', () => {
    const f = llama3RopeFactors(128, 500000, 16, 1, 1, 8192);
    expect(f.length).toBe(64);
    expect(new Set(f)).toEqual(new Set([1, 16]));
    expect(f[0]).toBe(1);
    expect(f[63]).toBe(16);
  });

  it('validates shapes', () => {
    expect(() => resolveSpec({ embd: 96, heads: 6, kvHeads: 4 })).toThrow(/multiple/);
    expect(() => resolveSpec({ experts: 2, expertsUsed: 3 })).toThrow(/experts-used/);
    expect(() => resolveSpec({ preset: 'nope' })).toThrow(/unknown preset/);
    expect(resolveSpec({ arch: 'llama4' }).experts).toBeGreaterThan(0);
  });

  const shared = vocabPath('stories260K');
  it.skipIf(!existsSync(shared))('tiny-llama4 preset matches the shared synthetic model layout', async () => {
    const path = join(dir, 'tiny-llama4.gguf');
    await generateModel(resolveSpec({ preset: 'tiny-llama4' }), path);
    const ref = await addon().readGguf(join(shared, '..', 'synthetic', 'tiny-llama4.synthetic.gguf'), { hparams: true, arrayLimit: 0 });
    const got = await addon().readGguf(path, { hparams: true, arrayLimit: 0 });
    const byName = (h: GgufHeader) => h.tensors.map((t) => `${t.name} ${t.type} ${t.shape.join('x')}`).sort();
    expect(byName(got)).toEqual(byName(ref));
    const { arch, layers, ...rest } = got.hparams!;
    expect(ref.hparams).toMatchObject({ arch, layers, ...rest });
  });
});
