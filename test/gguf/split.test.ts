// Split GGUF models (llama-gguf-split's PREFIX-0000K-of-0000N.gguf parts): our splitter writes the same
// bytes as llama.cpp's tool, and any part's path loads the whole model with logits bit-identical to the
// single file, repacked or mapped as is; broken sets give one error naming the file.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInfo } from '../../src/cli/info.js';
import { Model } from '../../src/engine/model.js';
import { quantizeModel } from '../../src/engine/quantize.js';
import { keyName } from '../../src/gguf/names.js';
import { parseSplitPath, planSplit, splitGguf, splitPath, type SplitPartWritten } from '../../src/gguf/split.js';
import { GgufWriter } from '../../src/gguf/writer.js';
import { addon } from '../../src/native/addon.js';
import { argmax } from '../../src/sampling/argmax.js';
import { model } from '../helpers/shared.js';

const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');
const STORIES = model('stories260K.gguf');

// sha256 of the parts llama.cpp's own llama-gguf-split wrote from the same sources (built from llama.cpp's
// source: `--split-max-tensors 20` on stories260K, `--split-max-size 40M` on SmolLM2)
const LLAMA_CPP_PARTS = {
  stories: [
    'a9f20db76f65f360cc945e7d94ef8a98649177000b1596907c5d8746792f4dc4',
    '6fd778b5fd55da76fd09dfd1a4ca1534d5cbc7481109c91ab551b594f12751bf',
    '5347b2ce84e83ce7f5e0a636bac675fae1cc76eeaa109aade687ed516d991584',
  ],
  smol: [
    '3f5ab9ffa02a0f8eb50435b7929dbbb5e5ecff012bd90426ccc5eb6b90f02e49',
    '248ceca2b27c2b7eced896a10a3ddb7114b4da82d4e6c4b40272b459993fd369',
    '4b40b6cdaa9b35a97fd697b3ca413ac89c1df12347da6916d72bc8cc56fa7bc9',
  ],
};

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: Error) => e.message,
  );

let dir: string;
let stories: SplitPartWritten[];
let smol: SplitPartWritten[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llama4-split-'));
  stories = await splitGguf(STORIES, join(dir, 'stories'), { maxTensors: 20 });
  smol = await splitGguf(SMOL, join(dir, 'smol'), { maxBytes: 40e6 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('splitGguf', () => {
  it("writes llama-gguf-split's layout byte for byte", () => {
    expect(stories.map((p) => basename(p.path))).toEqual(['stories-00001-of-00003.gguf', 'stories-00002-of-00003.gguf', 'stories-00003-of-00003.gguf']);
    expect(stories.map((p) => p.tensors)).toEqual([20, 20, 8]);
    expect(smol.map((p) => p.tensors)).toEqual([39, 162, 71]);
    expect(stories.map((p) => sha256(p.path))).toEqual(LLAMA_CPP_PARTS.stories);
    expect(smol.map((p) => sha256(p.path))).toEqual(LLAMA_CPP_PARTS.smol);
    for (const p of [...stories, ...smol]) expect(statSync(p.path).size).toBe(p.fileSize);
  });

  it('keeps every key in part 1 and ends each part with split.no, split.tensors.count, split.count', async () => {
    const src = await addon().readGguf(STORIES, { arrayLimit: 0 });
    const heads = await Promise.all(stories.map(async (p) => addon().readGguf(new Uint8Array(readFileSync(p.path)), { arrayLimit: 0 })));
    const split = [keyName('SPLIT_NO'), keyName('SPLIT_TENSORS_COUNT'), keyName('SPLIT_COUNT')];
    expect(heads[0].metadata.map((kv) => kv.key)).toEqual([...src.metadata.map((kv) => kv.key), ...split]);
    heads.forEach((h, i) => {
      const tail = h.metadata.slice(-3);
      expect(tail.map((kv) => [kv.key, kv.type, kv.value])).toEqual([
        [split[0], 'u16', i],
        [split[1], 'i32', 48],
        [split[2], 'u16', 3],
      ]);
      if (i > 0) expect(h.metadata).toHaveLength(3);
    });
  });

  it('names and plans parts as llama.cpp does', () => {
    expect(splitPath('/m/x', 1, 3)).toBe('/m/x-00002-of-00003.gguf');
    expect(parseSplitPath('/m/x-00002-of-00003.gguf')).toEqual({ prefix: '/m/x', no: 1, count: 3 });
    expect(parseSplitPath('/m/x-00004-of-00003.gguf')).toBeUndefined();
    expect(parseSplitPath('/m/x.gguf')).toBeUndefined();
    const t = (...bytes: number[]) => bytes.map((b) => ({ bytes: b }));
    expect(planSplit(t(1, 1, 1, 1, 1), { maxTensors: 2 })).toEqual([[0, 1], [2, 3], [4]]);
    // sizes count padded to 32; a tensor over the limit gets a part of its own
    expect(planSplit(t(10, 10, 100, 10), { maxBytes: 64 })).toEqual([[0, 1], [2], [3]]);
    expect(() => planSplit(t(1), { maxTensors: 1, maxBytes: 1 })).toThrow(/not both/);
  });

  it('refuses a source that is already split', async () => {
    expect(await failure(splitGguf(stories[1].path, join(dir, 'again')))).toMatch(/already a split model \(3 parts\)/);
  });

  it('quantize refuses a split input instead of reading its offsets from one part', async () => {
    expect(await failure(quantizeModel(stories[0].path, join(dir, 'q.gguf'), 'Q8_0'))).toMatch(/part of a 3-part split model: quantizing split models is not supported/);
  });
});

// The logits of a short prompt and 4 greedy steps, one buffer each.
async function trace(path: string, repack: boolean): Promise<Buffer[]> {
  const m = await Model.load(path, { repack });
  const ctx = m.createContext({ nCtx: 32, nThreads: 2 });
  const out: Buffer[] = [];
  let logits = await ctx.evaluate([1, 34, 120, 250, 71, 300]);
  for (let i = 0; i < 5; i++) {
    out.push(Buffer.from(bits(logits)));
    if (i < 4) logits = await ctx.evaluate([argmax(logits)]);
  }
  return out;
}

describe('loading a split model', () => {
  for (const [name, src, parts] of [
    ['SmolLM2 Q4_1', SMOL, () => smol],
    ['stories260K', STORIES, () => stories],
  ] as const) {
    for (const repack of [true, false]) {
      it(`${name}${repack ? '' : ' (--no-repack)'}: any part gives the single file's logits, bit for bit`, async () => {
        const want = await trace(src, repack);
        for (const p of parts()) {
          const got = await trace(p.path, repack);
          expect(got.length).toBe(want.length);
          got.forEach((g, i) => expect(g.equals(want[i]), `${basename(p.path)} step ${i}`).toBe(true));
        }
      });
    }
  }

  it('reports one model: every tensor, all parts, progress over all the bytes', async () => {
    const single = await Model.load(SMOL, { repack: false });
    const progress = new Float64Array(2);
    const m = await Model.load(smol[1].path, { progress });
    expect(m.info.parts).toBe(3);
    expect(single.info.parts).toBe(1);
    expect(m.info.weightBytes).toBe(single.info.weightBytes);
    expect(m.info.fileSize).toBe(smol.reduce((s, p) => s + p.fileSize, 0));
    expect(progress[1]).toBeGreaterThan(50e6);
    expect(progress[0]).toBe(progress[1]);
    const h = await addon().readGguf(smol[2].path, { arrayLimit: 0 });
    expect(h.path).toBe(smol[0].path);
    expect(h.tensors).toHaveLength(272);
    expect(h.parts!.map((p) => [p.path, p.fileSize, p.tensorCount])).toEqual(smol.map((p) => [p.path, p.fileSize, p.tensors]));
    // each tensor's offset is into the part that holds it: the bytes match the source's
    const src = await addon().readGguf(SMOL, { arrayLimit: 0 });
    const srcBytes = readFileSync(SMOL);
    const partBytes = smol.map((p) => readFileSync(p.path));
    for (const t of [h.tensors[0], h.tensors[100], h.tensors[271]]) {
      const s = src.tensors.find((x) => x.name === t.name)!;
      expect(partBytes[t.part].subarray(t.offset, t.offset + t.bytes).equals(srcBytes.subarray(s.offset, s.offset + s.bytes))).toBe(true);
    }
  });
});

describe('llama4 info on a split model', () => {
  it('lists the parts (text and JSON)', async () => {
    const text = await runInfo(smol[1].path, {});
    expect(text).toMatch(/^format: .* 272 tensors, .* in 3 parts$/m);
    expect(text).toMatch(/^parts: +3 files/m);
    for (const [i, p] of smol.entries()) expect(text).toMatch(new RegExp(`^ +${i + 1}  ${basename(p.path)} +[\\d.]+ MiB +${p.tensors} +\\d+$`, 'm'));
    expect(text).toMatch(/^ +blk\.29\.ffn_up\.weight +Q4_1 .* 3$/m);
    const j = JSON.parse(await runInfo(smol[2].path, { json: true }));
    expect(j.parts.map((p: { path: string; size: number; tensors: number }) => [p.path, p.size, p.tensors])).toEqual(smol.map((p) => [p.path, p.fileSize, p.tensors]));
    expect(j.totals.fileSize).toBe(smol.reduce((s, p) => s + p.fileSize, 0));
    expect(j.tensors[0].part).toBe(1);
    expect(JSON.parse(await runInfo(SMOL, { json: true })).parts).toBeUndefined();
  });
});

// A split set of tiny F32 tensors, each part's split keys given (undefined: leave the key out).
interface PartSpec {
  tensors: string[];
  no?: number | null;
  count?: number | null;
  total?: number | null;
}
async function craft(prefix: string, specs: PartSpec[]): Promise<string[]> {
  const total = specs.reduce((s, p) => s + p.tensors.length, 0);
  const paths: string[] = [];
  for (const [i, p] of specs.entries()) {
    const w = new GgufWriter();
    if (i === 0) w.set(keyName('GENERAL_NAME'), 'crafted');
    if (p.no !== null) w.set(keyName('SPLIT_NO'), p.no ?? i, 'u16');
    if (p.total !== null) w.set(keyName('SPLIT_TENSORS_COUNT'), p.total ?? total, 'i32');
    if (p.count !== null) w.set(keyName('SPLIT_COUNT'), p.count ?? specs.length, 'u16');
    for (const t of p.tensors) w.addTensor(t, [8], 0, new Float32Array(8).fill(i));
    paths.push(splitPath(prefix, i, specs.length));
    await w.write(paths[i]);
  }
  return paths;
}

describe('broken split sets: one error naming the file', () => {
  const read = (p: string) => failure(addon().readGguf(p, { arrayLimit: 0 }));
  let n = 0;
  const prefix = () => join(dir, `bad${n++}`, 'm');
  const three = (): PartSpec[] => [{ tensors: ['a'] }, { tensors: ['b', 'c'] }, { tensors: ['d'] }];
  beforeAll(() => {
    for (let i = 0; i < 20; i++) mkdirSync(join(dir, `bad${i}`));
  });

  it('a well-formed crafted set reads as one (also with no tensors in part 1, --no-tensor-first-split)', async () => {
    const p = await craft(prefix(), three());
    const h = await addon().readGguf(p[2], { arrayLimit: 0 });
    expect(h.tensors.map((t) => [t.name, t.part])).toEqual([['a', 0], ['b', 1], ['c', 1], ['d', 2]]);
    const q = await craft(prefix(), [{ tensors: [] }, { tensors: ['a', 'b'] }]);
    expect((await addon().readGguf(q[1], { arrayLimit: 0 })).tensors.map((t) => t.part)).toEqual([1, 1]);
  });

  it('a missing part', async () => {
    const p = await craft(prefix(), three());
    unlinkSync(p[2]);
    expect(await read(p[1])).toBe(`split model '${p[1]}': part 3 of 3 '${p[2]}' is missing`);
    // the loader gives the same error
    expect(await failure(addon().loadModel(p[0]))).toBe(`split model '${p[0]}': part 3 of 3 '${p[2]}' is missing`);
  });

  it('a part count the name does not match', async () => {
    const pre = prefix();
    const [p1] = await craft(pre, three());
    const odd = splitPath(pre, 0, 4);
    renameSync(p1, odd);
    expect(await read(odd)).toBe(`'${odd}' is part 1 of a 3-part split model but is not named PREFIX-00001-of-00003.gguf, so its other parts cannot be found`);
    const plain = join(dir, 'renamed.gguf');
    copyFileSync(odd, plain);
    expect(await read(plain)).toMatch(/renamed\.gguf' is part 1 of a 3-part split model but is not named/);
  });

  it('parts whose split.count disagree', async () => {
    const specs = three();
    specs[1].count = 4;
    const p = await craft(prefix(), specs);
    expect(await read(p[0])).toBe(`split model '${p[0]}': part 2 '${p[1]}' gives split.count 4, its name and '${p[0]}' say 3`);
  });

  it('a part with the wrong split.no or none', async () => {
    const specs = three();
    specs[2].no = 1;
    const p = await craft(prefix(), specs);
    expect(await read(p[0])).toBe(`split model '${p[0]}': part 3 '${p[2]}' gives split.no 1, expected 2`);
    const specs2 = three();
    specs2[1].no = null;
    const q = await craft(prefix(), specs2);
    expect(await read(q[0])).toBe(`split model '${q[0]}': part 2 '${q[1]}' gives split.no nothing (no key), expected 1`);
  });

  it('a tensor listed twice', async () => {
    const p = await craft(prefix(), [{ tensors: ['a', 'b'] }, { tensors: ['c', 'b'] }]);
    expect(await read(p[1])).toBe(`split model '${p[0]}': tensor 'b' is in both '${p[0]}' and '${p[1]}'`);
  });

  it('a tensor count that is not split.tensors.count', async () => {
    const specs = three();
    for (const s of specs) s.total = 5;
    const p = await craft(prefix(), specs);
    expect(await read(p[2])).toBe(`split model '${p[0]}': split.tensors.count is 5 but the 3 parts hold 4 tensors`);
    const specs2 = three();
    specs2[0].total = null;
    const q = await craft(prefix(), specs2);
    expect(await read(q[0])).toMatch(/split\.tensors\.count is missing/);
  });

  it('a part that is not a GGUF', async () => {
    const p = await craft(prefix(), three());
    writeFileSync(p[1], 'not a gguf at all');
    expect(await read(p[0])).toBe(`split model '${p[0]}': part 2 of 3: invalid GGUF '${p[1]}': bad magic 6e 6f 74 20 (expected 'GGUF') (at byte offset 0)`);
    // a truncated real part
    const parts = await splitGguf(STORIES, prefix(), { maxTensors: 20 });
    writeFileSync(parts[2].path, readFileSync(parts[2].path).subarray(0, 1000));
    expect(await failure(addon().loadModel(parts[0].path))).toMatch(
      new RegExp(`^split model '.*': part 3 of 3: invalid GGUF '${parts[2].path}': .*(truncated|outside)`),
    );
  });
});
