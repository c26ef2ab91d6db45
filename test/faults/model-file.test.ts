// A model file changed on disk while a loaded Model maps it (issue 24, item 6). Every forward pass first
// checks each mapped part with one fstat: truncated or overwritten in place (same inode, other size or
// modification time) is a clear error naming the file, never output computed from other bytes; a file
// replaced by rename (a new inode at the path) or deleted is harmless, the mapping keeps the old one.
// Everything runs on copies in a temporary directory: ../shared is never touched.
import { chmodSync, closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Model, type Context } from '../../src/engine/model.js';
import { splitGguf } from '../../src/gguf/split.js';
import { addon } from '../../src/native/addon.js';
import { greedyTokens } from '../helpers/greedy.js';
import { model } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'llama4-faults-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STORIES = model('stories260K.gguf');
const STORIES_SIZE = 1185376;
let n = 0;
/** A writable copy of `src` in the temporary directory. */
function copy(src = STORIES): string {
  const p = join(dir, `m${++n}.gguf`);
  copyFileSync(src, p);
  chmodSync(p, 0o644);
  return p;
}
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const PROMPT = [1, 403, 407, 261, 378];

async function continuation(ctx: Context, k: number): Promise<number[]> {
  return greedyTokens(ctx, await ctx.evaluate(PROMPT), k);
}

describe('a model file changed while in use', () => {
  for (const repack of [true, false]) {
    it(`truncated: the next pass is a clear error and the context is left as it was (repack ${repack})`, async () => {
      const p = copy();
      const m = await Model.load(p, { repack });
      const ctx = m.createContext({ nCtx: 64 });
      await ctx.evaluate(PROMPT);
      truncateSync(p, 4096);
      await expect(ctx.evaluate([400])).rejects.toThrow(
        new RegExp(`^model file '${esc(p)}' changed on disk while in use \\(size ${STORIES_SIZE} -> 4096 bytes\\): reload it$`),
      );
      expect(ctx.nPast).toBe(PROMPT.length);
      // and still so on the next try (no pass ever reads the cut mapping), and in a new context
      await expect(ctx.evaluate([400])).rejects.toThrow(/changed on disk while in use/);
      await expect(m.createContext({ nCtx: 16 }).evaluate([1])).rejects.toThrow(/changed on disk while in use/);
    });
  }

  it('overwritten in place with other bytes of the same size: a clear error with the new modification time', async () => {
    const p = copy();
    const m = await Model.load(p);
    const ctx = m.createContext({ nCtx: 64 });
    await ctx.evaluate(PROMPT);
    const fd = openSync(p, 'r+');
    writeSync(fd, Buffer.alloc(64 * 1024, 0x5a), 0, 64 * 1024, 600 * 1024);
    closeSync(fd);
    const t = new Date('2031-02-03T04:05:06.789Z');
    utimesSync(p, t, t);
    await expect(ctx.evaluate([400])).rejects.toThrow(
      new RegExp(`^model file '${esc(p)}' changed on disk while in use \\(same size, modified at 2031-02-03 04:05:06\\.789 UTC\\): reload it$`),
    );
    expect(ctx.nPast).toBe(PROMPT.length);
  });

  it('overwritten in place by another model (cp new.gguf over it: same inode, new size)', async () => {
    const p = copy();
    const m = await Model.load(p);
    const ctx = m.createContext({ nCtx: 64 });
    await ctx.evaluate(PROMPT);
    copyFileSync(model('llama-2-tiny-random.gguf'), p); // opens p with O_TRUNC: the same inode
    await expect(ctx.evaluate([400])).rejects.toThrow(new RegExp(`model file '${esc(p)}' changed on disk while in use \\(size ${STORIES_SIZE} -> 1750560 bytes\\)`));
    // loading it again is the way out: the new model works
    const again = await Model.load(p);
    expect(again.info.nVocab).not.toBe(m.info.nVocab);
    const l = await again.createContext({ nCtx: 16 }).evaluate([1]);
    expect(l.length).toBe(again.info.nVocab);
  });

  it('replaced by rename, or deleted: harmless, the same tokens as an undisturbed run', async () => {
    const ref = await continuation((await Model.load(STORIES, { repack: false })).createContext({ nCtx: 64 }), 24);
    for (const how of ['rename', 'unlink'] as const) {
      const p = copy();
      const m = await Model.load(p, { repack: false }); // every weight read from the mapping
      const ctx = m.createContext({ nCtx: 64 });
      const first = await continuation(ctx, 8);
      if (how === 'rename') {
        const other = join(dir, 'replacement.gguf');
        copyFileSync(model('llama-2-tiny-random.gguf'), other);
        renameSync(other, p); // a new inode at the path; the mapping keeps the old one
      } else {
        unlinkSync(p);
      }
      const rest = await greedyTokens(ctx, await ctx.evaluate([first[7]]), 16);
      expect([...first, ...rest], how).toEqual(ref);
    }
  });

  it('every kind of pass checks: decodeTaps, a batched decode step, a decode on the calling thread', async () => {
    const p = copy();
    const m = await Model.load(p);
    const a = m.createContext({ nCtx: 64 }), b = m.createContext({ nCtx: 64 });
    const tiny = m.createContext({ nCtx: 64, inlineBytes: 1 << 30 }); // runs inline, no worker
    for (const c of [a, b, tiny]) await c.evaluate(PROMPT);
    const t = new Date('2030-01-01T00:00:00.000Z');
    utimesSync(p, t, t); // only the time: a touch counts as a change too
    const changed = /changed on disk while in use \(same size, modified at 2030-01-01 00:00:00\.000 UTC\): reload it/;
    await expect(a.taps([400, 401])).rejects.toThrow(changed);
    await expect(addon().decodeStep([a.native, b.native], Int32Array.from([400, 401]))).rejects.toThrow(changed);
    await expect(tiny.evaluate([400])).rejects.toThrow(changed);
    for (const c of [a, b, tiny]) expect(c.nPast).toBe(PROMPT.length);
  });

  it('a split model: any part changed is named', async () => {
    const parts = await splitGguf(copy(), join(dir, 'split'), { maxTensors: 20 });
    expect(parts.length).toBe(3);
    const m = await Model.load(parts[0].path);
    const ctx = m.createContext({ nCtx: 64 });
    await ctx.evaluate(PROMPT);
    const size = readFileSync(parts[2].path).length;
    truncateSync(parts[2].path, 100);
    await expect(ctx.evaluate([400])).rejects.toThrow(
      new RegExp(`^model file '${esc(parts[2].path)}' changed on disk while in use \\(size ${size} -> 100 bytes\\): reload it$`),
    );
  });
});
