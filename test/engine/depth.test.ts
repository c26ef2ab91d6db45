// Depth gating mechanics on a generated llama4 model (4 blocks: 0 and 3 always run): skip decisions,
// KV-fill vs KV-skip, static drop, and batch consistency (mixed paths in one batch == one by one).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeDepthGates, type GateTensor } from '../../src/engine/depth/adapter.js';
import { Model } from '../../src/engine/model.js';
import { rng } from '../helpers/shared.js';

const MODEL = join(process.cwd(), 'test/fixtures/llama4-long/model.gguf');
const dir = mkdtempSync(join(tmpdir(), 'llama4-depth-'));
let m: Model;
const E = () => m.info.nEmbd;

async function gates(name: string, spec: Record<number, { w?: Float32Array; b: number }>, threshold = 0.5) {
  const list: GateTensor[] = Object.entries(spec).map(([l, g]) => ({ layer: Number(l), w: g.w ?? new Float32Array(E()), b: g.b }));
  const path = join(dir, `${name}.gguf`);
  await writeDepthGates(path, { arch: 'llama4', baseModel: 'llama4-long', nLayer: m.info.nLayer, gates: list, threshold });
  return m.loadDepthGates(path);
}

const prompt = Array.from({ length: 40 }, (_, i) => (i === 0 ? 1 : 3 + ((i * 37) % 500)));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

async function decodeAll(ctx: ReturnType<Model['createContext']>, tokens: number[]) {
  const rows: Float32Array[] = [];
  for (const t of tokens) rows.push(Float32Array.from(await ctx.evaluate([t])));
  return rows;
}

describe('depth gates', () => {
  beforeAll(async () => {
    m = await Model.load(MODEL);
  });

  it('loads an adapter and reports its gates', async () => {
    const g = await gates('info', { 1: { b: 3 }, 2: { b: -3 } }, 0.4);
    const info = g.info();
    expect(info.threshold).toBeCloseTo(0.4, 6);
    expect(info.layers.map((l) => l.present)).toEqual([false, true, true, false]);
    expect(info.baseModel).toBe('llama4-long');
  });

  it('rejects adapters that do not fit the model, naming the problem', async () => {
    const path = join(dir, 'bad.gguf');
    await writeDepthGates(path, { arch: 'llama4', baseModel: 'x', nLayer: 4, gates: [{ layer: 1, w: new Float32Array(7), b: 0 }], threshold: 0.5 });
    await expect(m.loadDepthGates(path)).rejects.toThrow(/depth_gate.weight' has 7 elements, expected \[64\]/);
    await writeDepthGates(path, { arch: 'llama', baseModel: 'x', nLayer: 4, gates: [{ layer: 1, w: new Float32Array(64), b: 0 }], threshold: 0.5 });
    await expect(m.loadDepthGates(path)).rejects.toThrow(/depth gates are for architecture 'llama', the model is 'llama4'/);
    await expect(m.loadDepthGates('')).rejects.toThrow(/has no depth gate tensors/);
  });

  it('gates that always pass equal dense decoding; prompt batches run full depth unless prefill', async () => {
    const g = await gates('pass', { 1: { b: 20 }, 2: { b: 20 } });
    const dense = m.createContext({ nCtx: 128, typeK: 'f32', typeV: 'f32' });
    const gated = m.createContext({ nCtx: 128, typeK: 'f32', typeV: 'f32' });
    gated.setDepthPolicy({ gates: g });
    await dense.evaluate(prompt.slice(0, 20));
    await gated.evaluate(prompt.slice(0, 20));
    expect(gated.stats().routedTokens).toBe(0);
    const a = await decodeAll(dense, prompt.slice(20));
    const b = await decodeAll(gated, prompt.slice(20));
    for (let i = 0; i < a.length; i++) expect(b[i]).toEqual(a[i]);
    const st = gated.stats();
    expect(st.routedTokens).toBe(20);
    expect(st.blockRuns).toEqual([20, 20, 20, 20]);
    expect(st.blockSkips).toEqual([0, 0, 0, 0]);
  });

  it('closed gates skip their blocks for decode tokens; first and last blocks always run', async () => {
    const g = await gates('closed', { 0: { b: -20 }, 1: { b: -20 }, 2: { b: 20 }, 3: { b: -20 } });
    const ctx = m.createContext({ nCtx: 128 });
    ctx.setDepthPolicy({ gates: g });
    await ctx.evaluate(prompt.slice(0, 10));
    await decodeAll(ctx, prompt.slice(10, 15));
    const st = ctx.stats();
    expect(st.blockRuns).toEqual([5, 0, 5, 5]);
    expect(st.blockSkips).toEqual([0, 5, 0, 0]);
    // --depth-threshold overrides the calibrated one: at 0 every gate opens
    ctx.setDepthPolicy({ gates: g, threshold: 0 });
    ctx.resetStats();
    await decodeAll(ctx, prompt.slice(15, 17));
    expect(ctx.stats().blockRuns).toEqual([2, 2, 2, 2]);
  });

  it('KV-fill keeps the cache dense; KV-skip writes no KV for skipped blocks and saves memory', async () => {
    const r = rng(11);
    const w = () => Float32Array.from({ length: E() }, () => (r() - 0.5) * 2);
    const g = await gates('kv', { 1: { w: w(), b: 0 }, 2: { w: w(), b: 0 } });
    const fill = m.createContext({ nCtx: 128, typeK: 'f32', typeV: 'f32' });
    const skip = m.createContext({ nCtx: 128, typeK: 'f32', typeV: 'f32' });
    fill.setDepthPolicy({ gates: g, kv: 'fill' });
    skip.setDepthPolicy({ gates: g, kv: 'skip' });
    await fill.evaluate(prompt.slice(0, 10));
    await skip.evaluate(prompt.slice(0, 10));
    const a = await decodeAll(fill, prompt.slice(10, 40));
    const b = await decodeAll(skip, prompt.slice(10, 40));
    const rowBytes = 2 * 32 * 4; // K and V rows of 2 kv heads x 16 dims, f32
    expect(fill.stats().kvBytesUsed).toBe(4 * 40 * rowBytes);
    const runs = skip.stats().blockRuns;
    expect(runs[1]).toBeLessThan(30);
    expect(skip.stats().kvBytesUsed).toBe(runs.reduce((n, r) => n + 10 + r, 0) * rowBytes);
    expect(skip.state().kvBytes).toBeLessThan(fill.state().kvBytes);
    // with KV-skip later tokens attend over fewer cells at the gated blocks, so the outputs differ
    expect(maxDiff(a[29], b[29])).toBeGreaterThan(1e-4);
    // KV mode is fixed once tokens are cached
    expect(() => skip.setDepthPolicy({ gates: g, kv: 'fill' })).toThrow(/only change while the context is empty/);
  });

  it('a batch whose tokens take different paths equals running them one by one', async () => {
    // random gate directions: each token decides per block from its own hidden state
    const r = rng(7);
    const w = () => Float32Array.from({ length: E() }, () => (r() - 0.5) * 2);
    const g = await gates('mixed', { 1: { w: w(), b: 0 }, 2: { w: w(), b: 0 } });
    for (const kv of ['fill', 'skip'] as const) {
      const batch = m.createContext({ nCtx: 128, typeK: 'f16', typeV: 'f16' });
      const single = m.createContext({ nCtx: 128, typeK: 'f16', typeV: 'f16' });
      batch.setDepthPolicy({ gates: g, kv, prefill: true });
      single.setDepthPolicy({ gates: g, kv, prefill: true });
      await batch.evaluate(prompt, { allLogits: true });
      const all = batch.allLogits();
      const V = m.info.nVocab;
      const rows = await decodeAll(single, prompt);
      const sb = batch.stats(), ss = single.stats();
      expect(sb.blockSkips).toEqual(ss.blockSkips);
      expect(sb.blockSkips[1] + sb.blockSkips[2]).toBeGreaterThan(10); // the paths really differ
      expect(sb.blockRuns[1] + sb.blockRuns[2]).toBeGreaterThan(10);
      for (let i = 0; i < prompt.length; i++) expect(all.subarray(i * V, (i + 1) * V)).toEqual(rows[i]);
    }
  });

  it('MoE blocks with a shared expert can run the shared expert only (three-way decisions)', async () => {
    // block 1 is MoE (interleave step 2): gate p = sigmoid(0) = 0.5, below tau 0.6 but above 0.4
    const g = await gates('shared', { 1: { b: 0 }, 2: { b: 20 } }, 0.6);
    const full = m.createContext({ nCtx: 64, typeK: 'f32', typeV: 'f32' });
    const shared = m.createContext({ nCtx: 64, typeK: 'f32', typeV: 'f32' });
    const skip = m.createContext({ nCtx: 64, typeK: 'f32', typeV: 'f32' });
    full.setDepthPolicy({ gates: g, threshold: 0.4 });
    shared.setDepthPolicy({ gates: g, sharedThreshold: 0.4 });
    skip.setDepthPolicy({ gates: g });
    for (const c of [full, shared, skip]) {
      await c.evaluate(prompt.slice(0, 8));
      c.resetStats();
    }
    const a = await decodeAll(full, prompt.slice(8, 12));
    const b = await decodeAll(shared, prompt.slice(8, 12));
    const c = await decodeAll(skip, prompt.slice(8, 12));
    const sf = full.stats(), ss = shared.stats(), sk = skip.stats();
    expect(ss.blockRuns).toEqual([4, 4, 4, 4]);
    expect(ss.blockSharedOnly).toEqual([0, 4, 0, 0]);
    expect(sk.blockSkips).toEqual([0, 4, 0, 0]);
    // routed experts: two MoE blocks (1 and 3), top-1: 8 evaluations when all run, 4 with block 1 shared-only
    expect(sf.expertEvals).toBe(8);
    expect(ss.expertEvals).toBe(4);
    expect(maxDiff(a[3], b[3])).toBeGreaterThan(1e-4);
    expect(maxDiff(b[3], c[3])).toBeGreaterThan(1e-4);
  });

  it('static drop removes blocks for prompt and decode tokens, and their KV', async () => {
    const ctx = m.createContext({ nCtx: 64 });
    const dense = ctx.stats().kvBytes;
    ctx.setDepthPolicy({ drop: [1, 2] });
    expect(ctx.stats().kvBytes).toBe(dense / 2); // 2 of 4 layers' caches released
    await ctx.evaluate(prompt.slice(0, 5));
    await decodeAll(ctx, prompt.slice(5, 8));
    expect(ctx.stats().blockRuns).toEqual([8, 0, 0, 8]);
    expect(ctx.stats().attnSkips).toEqual([0, 8, 8, 0]);
    expect(() => ctx.setDepthPolicy({ drop: [9] })).toThrow(/block 9 does not exist/);
  });
});
