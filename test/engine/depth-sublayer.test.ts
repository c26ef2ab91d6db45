// Depth gating per sublayer (issue 22 item 8): block / attention / FFN gates and static drops, proven on
// the real SmolLM2 (30 blocks) and the Llama-4-shaped MoE synthetic (4 blocks, MoE + shared expert on 1
// and 3). Pass-through gates equal dense bit for bit at every granularity; a statically dropped attention
// layer has no KV (and a full-depth pass on it fails clearly); mixed batches equal one-by-one decoding;
// version-1 adapters still load and route as block gates; decode steps of several sequences route each by
// its own policy and count into its own statistics; the exact mode stays exact with sublayer drafts; and
// calibration writes version-2 adapters of the asked granularity.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchedContext, StepBatcher } from '../../src/engine/batch.js';
import { writeDepthGates, type GateKind, type GateTensor, type Granularity } from '../../src/engine/depth/adapter.js';
import { calibrate, chunkTokens, denseLogits, evaluatePolicy, staticDropList } from '../../src/engine/depth/calibrate.js';
import { resolveDepth } from '../../src/engine/depth/policy.js';
import { generateExact, newExactStats } from '../../src/engine/depth/speculative.js';
import { generate } from '../../src/engine/generate.js';
import { Model, type Context } from '../../src/engine/model.js';
import { keyName, tensorName } from '../../src/gguf/names.js';
import { GgufWriter } from '../../src/gguf/writer.js';
import { addon, type DecodeStats, type DepthPolicy, type NativeDepthGates } from '../../src/native/addon.js';
import { argmax } from '../../src/sampling/argmax.js';
import { model } from '../helpers/shared.js';

const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');
const L4 = model('synthetic/tiny-llama4.synthetic.gguf');
const STORIES = model('stories260K.gguf');
const TEXT = model('text/python-reference.txt');

const dir = mkdtempSync(join(tmpdir(), 'llama4-sublayer-'));
let nFiles = 0;
const KINDS: Record<Granularity, GateKind[]> = { block: ['block'], attn: ['attn'], ffn: ['ffn'], sublayer: ['attn', 'ffn'] };
const GRANULARITIES: Granularity[] = ['block', 'attn', 'ffn', 'sublayer'];
const F32 = 0;

let smol: Model, l4: Model, stories: Model;
beforeAll(async () => {
  [smol, l4, stories] = await Promise.all([Model.load(SMOL), Model.load(L4), Model.load(STORIES)]);
});

const newCtx = (m: Model, nCtx = 128) => m.createContext({ nCtx, nBatch: nCtx, nThreads: 2 });

async function adapter(m: Model, gates: GateTensor[], threshold = 0.5, extra: { thresholds?: Float32Array } = {}): Promise<NativeDepthGates> {
  const path = join(dir, `g${nFiles++}.gguf`);
  await writeDepthGates(path, { arch: m.info.arch, baseModel: 'test', nLayer: m.info.nLayer, gates, threshold, ...extra });
  return m.loadDepthGates(path);
}

/** One gate of each of the granularity's kinds on every block, all with weight w = 0 and bias b. */
function constGates(m: Model, g: Granularity, b: number): GateTensor[] {
  const out: GateTensor[] = [];
  for (let l = 0; l < m.info.nLayer; l++) for (const kind of KINDS[g]) out.push({ layer: l, kind, w: new Float32Array(m.info.nEmbd), b });
  return out;
}

/**
 * Gates whose decisions split the given tokens: per inner block and kind, w is the difference of two tokens'
 * gate features (the attention norm's output, or the FFN norm's for FFN gates, from a dense pass) and the
 * bias puts the median score at the decision boundary, so about half the tokens run the sublayer. `band`
 * scales w so that the middle half of the scores spans [-band, band] (three-way tests).
 */
async function splitGates(m: Model, tokens: number[], kinds: GateKind[], band?: number): Promise<GateTensor[]> {
  const ctx = newCtx(m, 256);
  const taps = await ctx.taps(tokens, { features: true, ffnFeatures: kinds.includes('ffn') });
  const L = m.info.nLayer, E = m.info.nEmbd, T = tokens.length;
  const out: GateTensor[] = [];
  for (const kind of kinds)
    for (let l = 1; l < L - 1; l++) {
      const F = kind === 'ffn' ? taps.featFfn : taps.feat;
      const f = (t: number) => F.subarray((l * T + t) * E, (l * T + t + 1) * E);
      const ta = (l * 7 + 1) % T, tb = (ta + 1 + ((l * 5) % (T - 1))) % T; // two different tokens per block
      const fa = f(ta), fb = f(tb);
      const w = new Float32Array(E);
      for (let i = 0; i < E; i++) w[i] = fa[i] - fb[i];
      const s = Array.from({ length: T }, (_, t) => {
        const x = f(t);
        let d = 0;
        for (let i = 0; i < E; i++) d += w[i] * x[i];
        return d;
      }).sort((a, b) => a - b);
      const mid = (s[(T >> 1) - 1] + s[T >> 1]) / 2;
      let scale = 1;
      if (band !== undefined) scale = (2 * band) / Math.max(s[Math.floor((3 * T) / 4)] - s[Math.floor(T / 4)], 1e-6);
      for (let i = 0; i < E; i++) w[i] *= scale;
      out.push({ layer: l, kind, w, b: -mid * scale });
    }
  return out;
}

/** Index of the first element whose bits differ (-1: identical, -2: lengths differ). */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return -2;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

function expectSameRows(want: Float32Array[], got: Float32Array[], label: string) {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(firstDiff(want[i], got[i]), `${label}: row ${i} (first differing logit)`).toBe(-1);
}

function rowsOf(all: Float32Array, n: number, V: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => all.slice(i * V, (i + 1) * V));
}

/** Logits of every prompt position (one batch) and of each decode token evaluated after it, one by one. */
async function trace(ctx: Context, prompt: number[], decode: number[], sequential = false): Promise<Float32Array[]> {
  await ctx.evaluate(prompt, { allLogits: true, sequential });
  const rows = rowsOf(ctx.allLogits(), prompt.length, ctx.model.info.nVocab);
  for (const t of decode) rows.push((await ctx.evaluate([t])).slice());
  return rows;
}

async function oneByOne(ctx: Context, tokens: number[]): Promise<Float32Array[]> {
  const rows: Float32Array[] = [];
  for (const t of tokens) rows.push((await ctx.evaluate([t])).slice());
  return rows;
}

const inner = (v: number[]) => v.slice(1, -1).reduce((a, b) => a + b, 0);
const zeros = (L: number) => Array<number>(L).fill(0);
const ROUTING = ['blockRuns', 'blockSkips', 'blockSharedOnly', 'attnRuns', 'attnSkips', 'ffnRuns', 'ffnSkips', 'routedTokens', 'kvBytesUsed'] as const;
const routing = (s: DecodeStats) => Object.fromEntries(ROUTING.map((k) => [k, s[k]]));
/** inner blocks where some tokens ran the sublayer and others skipped it */
const mixedBlocks = (runs: number[], skips: number[]) => runs.slice(1, -1).filter((r, i) => r > 0 && skips[i + 1] > 0).length;

const SMOL_PROMPT = 'The capital of France is Paris. The capital of Germany is Berlin, and the capital of Italy is';
const SMOL_MORE = ' Rome. Madrid is in Spain.';
const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog.';

describe('pass-through gates equal dense decoding bit for bit, at every granularity', () => {
  for (const [name, file] of [['SmolLM2', 'smol'], ['the Llama-4 MoE synthetic', 'l4']] as const) {
    it(name, async () => {
      const m = file === 'smol' ? smol : l4;
      const L = m.info.nLayer;
      const prompt = m.tokenizer.encode(file === 'smol' ? SMOL_PROMPT : STORY, { addSpecial: true });
      const decode = m.tokenizer.encode(file === 'smol' ? SMOL_MORE : ' The sun was warm.', { addSpecial: false }).slice(0, 6);
      const n = prompt.length + decode.length;
      // dense: no policy; the prompt batch with sequential numerics (what a gated batch uses)
      const dense = await trace(newCtx(m), prompt, decode, true);
      const moe = m.info.arch === 'llama4' ? { sharedThreshold: 0.25 } : {};
      for (const g of GRANULARITIES) {
        const gates = await adapter(m, constGates(m, g, 20));
        const info = gates.info();
        expect(info.version).toBe(2);
        for (const k of ['block', 'attn', 'ffn'] as const) {
          const list = k === 'block' ? info.layers : info[k];
          expect(list.map((x) => x.present), `${g}: ${k} gates`).toEqual(Array(L).fill(KINDS[g].includes(k)));
        }
        for (const kv of g === 'sublayer' ? (['fill', 'skip'] as const) : (['fill'] as const)) {
          const ctx = newCtx(m);
          ctx.setDepthPolicy({ gates, prefill: true, kv, ...moe });
          const rows = await trace(ctx, prompt, decode);
          expectSameRows(dense, rows, `${name}, ${g} gates, KV ${kv}`);
          const st = ctx.stats();
          expect(st.routedTokens).toBe(n);
          for (const k of ['blockRuns', 'attnRuns', 'ffnRuns'] as const) expect(st[k], `${g}: ${k}`).toEqual(Array(L).fill(n));
          for (const k of ['blockSkips', 'attnSkips', 'ffnSkips', 'blockSharedOnly'] as const) expect(st[k], `${g}: ${k}`).toEqual(zeros(L));
        }
        // the same gates closed skip exactly their kind of sublayer (the gates above were really consulted)
        const closed = await adapter(m, constGates(m, g, -20));
        const ctx = newCtx(m);
        ctx.setDepthPolicy({ gates: closed, ...moe });
        await ctx.evaluate(prompt);
        expect(ctx.stats().routedTokens).toBe(0); // prompt batches run full depth without prefill
        const got = await oneByOne(ctx, decode.slice(0, 2));
        expect(firstDiff(dense[prompt.length], got[0])).not.toBe(-1);
        const st = ctx.stats();
        const attn = g !== 'ffn', ffn = g !== 'attn';
        const per = (on: boolean) => [2, ...Array(L - 2).fill(on ? 0 : 2), 2];
        const skip = (on: boolean) => [0, ...Array(L - 2).fill(on ? 2 : 0), 0];
        expect(st.attnRuns, `${g} closed`).toEqual(per(attn));
        expect(st.attnSkips, `${g} closed`).toEqual(skip(attn));
        expect(st.ffnRuns, `${g} closed`).toEqual(per(ffn));
        expect(st.ffnSkips, `${g} closed`).toEqual(skip(ffn));
        expect(st.blockSkips, `${g} closed`).toEqual(skip(attn && ffn));
      }
    });
  }
});

describe('each gate reads its own sublayer\'s input (SmolLM2)', () => {
  it('attention gates: the attention norm\'s output; FFN gates: the FFN norm\'s output after the attention', async () => {
    const m = smol;
    const E = m.info.nEmbd, l = 10;
    const tokens = m.tokenizer.encode(SMOL_PROMPT + SMOL_MORE, { addSpecial: true });
    // each token's features exactly as a single-token decode sees them: full-depth taps, one token at a time
    const tc = newCtx(m);
    const feat: Record<'attn' | 'ffn', Float32Array[]> = { attn: [], ffn: [] };
    for (const t of tokens) {
      const tp = await tc.taps([t], { features: true, ffnFeatures: true });
      feat.attn.push(tp.feat.slice(l * E, (l + 1) * E));
      feat.ffn.push(tp.featFfn.slice(l * E, (l + 1) * E));
    }
    const dot = (w: Float32Array, x: Float32Array, b: number) => x.reduce((s, v, i) => s + w[i] * v, b);
    for (const kind of ['attn', 'ffn'] as const) {
      const other = kind === 'attn' ? 'ffn' : 'attn';
      // a gate at block l splitting the tokens at the median of its own features' scores
      const w = new Float32Array(E);
      for (let i = 0; i < E; i++) w[i] = feat[kind][3][i] - feat[kind][tokens.length - 2][i];
      const sc = feat[kind].map((x) => dot(w, x, 0)).sort((a, b) => a - b);
      const b = -(sc[(tokens.length >> 1) - 1] + sc[tokens.length >> 1]) / 2;
      const want = feat[kind].map((x) => dot(w, x, b));
      expect(Math.min(...want.map(Math.abs))).toBeGreaterThan(1e-4); // no token on the boundary
      // the same gate reading the other sublayer's input would decide otherwise for some tokens
      expect(feat[other].map((x) => dot(w, x, b) >= 0)).not.toEqual(want.map((s) => s >= 0));
      const ctx = newCtx(m);
      ctx.setDepthPolicy({ gates: await adapter(m, [{ layer: l, kind, w, b }]) });
      const got: boolean[] = [];
      const runs = kind === 'attn' ? 'attnRuns' : 'ffnRuns';
      for (const t of tokens) {
        const before = ctx.stats()[runs][l];
        await ctx.evaluate([t]);
        got.push(ctx.stats()[runs][l] > before);
      }
      expect(got, kind).toEqual(want.map((s) => s >= 0));
      expect(ctx.stats()[kind === 'attn' ? 'ffnSkips' : 'attnSkips']).toEqual(zeros(m.info.nLayer));
    }
  });
});

describe('static sublayer drops and the KV cache (SmolLM2)', () => {
  const nCtx = 64;
  let prompt: number[], decode: number[];
  beforeAll(() => {
    prompt = smol.tokenizer.encode(SMOL_PROMPT, { addSpecial: true });
    decode = smol.tokenizer.encode(SMOL_MORE, { addSpecial: false }).slice(0, 4);
  });

  it('a dropped attention layer allocates no KV; dropFfn and freeDroppedKv:false keep every layer', () => {
    const L = smol.info.nLayer;
    const ctx = newCtx(smol, nCtx);
    const full = ctx.stats().kvBytes;
    expect(ctx.state().kvBytes).toBe(full);
    const share = full / L; // every layer has the same shape: 3 KV heads x 64, K and V in F16
    expect(share).toBe(nCtx * 3 * 64 * 2 * 2);
    const kv = (p: DepthPolicy | null) => {
      ctx.setDepthPolicy(p);
      const a = ctx.stats().kvBytes;
      expect(ctx.state().kvBytes).toBe(a);
      return a;
    };
    expect(kv({ dropAttn: [5] })).toBe(full - share);
    expect(kv({ dropAttn: [5, 9, 20] })).toBe(full - 3 * share);
    expect(kv({ drop: [7] })).toBe(full - share); // a dropped block has no attention either
    expect(kv({ drop: [7], dropAttn: [7, 8] })).toBe(full - 2 * share);
    expect(kv({ dropAttn: [0, L - 1] })).toBe(full); // the first and last blocks always run
    expect(kv({ dropFfn: [5, 9, 20] })).toBe(full);
    expect(kv({ dropAttn: [5, 9], freeDroppedKv: false })).toBe(full);
    expect(kv(null)).toBe(full);
    expect(kv({ dropAttn: [5] })).toBe(full - share); // released again, then taken back: all while empty
    expect(kv({})).toBe(full);
  });

  it('after evaluation kvBytesUsed counts only the layers with attention', async () => {
    const L = smol.info.nLayer, n = prompt.length + decode.length;
    const row = 3 * 64 * 2 * 2; // bytes of one position in one layer
    const run = async (p: DepthPolicy) => {
      const c = newCtx(smol, nCtx);
      c.setDepthPolicy(p);
      const rows = await trace(c, prompt, decode);
      return { c, rows, st: c.stats() };
    };
    const a = await run({ dropAttn: [5, 9] });
    expect(a.st.kvBytes).toBe((L - 2) * nCtx * row);
    expect(a.st.kvBytesUsed).toBe((L - 2) * n * row);
    // static drops apply to the prompt too: every token skipped those attentions and ran their FFN
    expect(a.st.routedTokens).toBe(n);
    expect([a.st.attnRuns[5], a.st.attnSkips[5], a.st.ffnRuns[5], a.st.ffnSkips[5], a.st.blockRuns[5]]).toEqual([0, n, n, 0, n]);
    expect(a.st.attnSkips[9]).toBe(n);
    expect(inner(a.st.attnSkips)).toBe(2 * n);
    const f = await run({ dropFfn: [5, 9] });
    expect(f.st.kvBytes).toBe(L * nCtx * row);
    expect(f.st.kvBytesUsed).toBe(L * n * row);
    expect([f.st.attnRuns[5], f.st.attnSkips[5], f.st.ffnRuns[5], f.st.ffnSkips[5]]).toEqual([n, 0, 0, n]);
    // kept KV: allocated, not written by the passes that skip the layer, and the logits are the same
    const k = await run({ dropAttn: [5, 9], freeDroppedKv: false });
    expect(k.st.kvBytes).toBe(L * nCtx * row);
    expect(k.st.kvBytesUsed).toBe((L - 2) * n * row);
    expectSameRows(a.rows, k.rows, 'freeDroppedKv: false');
    await expect(k.c.evaluate([decode[0]], { gated: false })).resolves.toBeDefined();
    expect(k.c.stats().kvBytesUsed).toBe(L * (n + 1) * row);
    // a whole-block drop releases the block's KV too
    const b = await run({ drop: [5] });
    expect(b.st.kvBytesUsed).toBe((L - 1) * n * row);
    expect([b.st.blockSkips[5], b.st.attnSkips[5], b.st.ffnSkips[5]]).toEqual([n, n, n]);
  });

  it('a full-depth pass over released layers fails clearly; truncate(0) + setDepthPolicy(null) restores dense', async () => {
    const dense = await trace(newCtx(smol, nCtx), prompt, decode, true);
    const ctx = newCtx(smol, nCtx);
    ctx.setDepthPolicy({ dropAttn: [5, 9] });
    await trace(ctx, prompt, decode.slice(0, 2));
    const n = prompt.length + 2;
    await expect(ctx.evaluate([decode[2]], { gated: false })).rejects.toThrow(/layer 5 has no storage.*dropped/);
    await expect(ctx.native.decodeTaps(Int32Array.of(decode[2]))).rejects.toThrow(/layer 5 has no storage/);
    expect(ctx.nPast).toBe(n);
    // the failed passes left the context as it was: a gated decode equals a fresh context's
    const ref = newCtx(smol, nCtx);
    ref.setDepthPolicy({ dropAttn: [5, 9] });
    const want = await trace(ref, prompt, decode.slice(0, 3));
    const got = (await ctx.evaluate([decode[2]])).slice();
    expect(firstDiff(want[want.length - 1], got)).toBe(-1);
    // taking the layers back needs an empty cache
    expect(() => ctx.setDepthPolicy(null)).toThrow(/attention of block 5 was dropped and its KV released.*truncate to 0/);
    ctx.truncate(0);
    ctx.setDepthPolicy(null);
    expect(ctx.stats().kvBytes).toBe(newCtx(smol, nCtx).stats().kvBytes);
    expectSameRows(dense, await trace(ctx, prompt, decode, true), 'after truncate(0) and the dense policy');
  });

  it('a failed pass leaves nothing behind in a KV-skip cache', async () => {
    // KV-skip (sparse layout) with attention gates on blocks 1..4 closed: decode tokens write no cells there.
    // A full-depth pass that fails at the released layer 5 has already written position nPast in blocks
    // 0..4; those cells must go with the failed pass, or later tokens that run blocks 1..4 attend to them.
    const m = smol;
    const gate = (b: number) => adapter(m, [1, 2, 3, 4].map((layer) => ({ layer, kind: 'attn' as const, w: new Float32Array(m.info.nEmbd), b })));
    const closed = await gate(-20), open = await gate(20);
    const make = async () => {
      const c = newCtx(m, nCtx);
      c.setDepthPolicy({ gates: closed, kv: 'skip', dropAttn: [5] });
      await c.evaluate(prompt);
      return c;
    };
    const failed = await make(), clean = await make();
    await expect(failed.evaluate([decode[0]], { gated: false })).rejects.toThrow(/layer 5 has no storage/);
    expect.soft(failed.stats().kvBytesUsed, 'cells after the failed pass').toBe(clean.stats().kvBytesUsed);
    const run = async (c: Context) => {
      const rows = [(await c.evaluate([decode[1]])).slice()]; // skips blocks 1..4: writes no cell there
      c.setDepthPolicy({ gates: open, kv: 'skip', dropAttn: [5] });
      for (const t of decode.slice(2)) rows.push((await c.evaluate([t])).slice()); // attends over blocks 1..4
      return rows;
    };
    expectSameRows(await run(clean), await run(failed), 'after a failed pass');
  });

  it('a refused policy change leaves the context unchanged', async () => {
    // from dropAttn [9] to [5] with positions cached: releasing 5 is allowed, taking 9 back is not. The
    // refusal must not leave layer 5 released under the old policy (which still runs its attention).
    const ctx = newCtx(smol, nCtx);
    ctx.setDepthPolicy({ dropAttn: [9] });
    await ctx.evaluate(prompt);
    const before = ctx.stats().kvBytes;
    expect(() => ctx.setDepthPolicy({ dropAttn: [5] })).toThrow(/attention of block 9 was dropped and its KV released/);
    expect.soft(ctx.stats().kvBytes, 'KV allocated after the refusal').toBe(before);
    const ref = newCtx(smol, nCtx);
    ref.setDepthPolicy({ dropAttn: [9] });
    await ref.evaluate(prompt);
    const want = (await ref.evaluate([decode[0]])).slice();
    const got = (await ctx.evaluate([decode[0]])).slice();
    expect(firstDiff(want, got)).toBe(-1);
  });
});

describe('a batch whose tokens take different sublayer paths equals evaluating them one by one', () => {
  it('SmolLM2: attention, FFN and sublayer gates, KV fill and skip', async () => {
    const m = smol;
    const L = m.info.nLayer;
    const prompt = m.tokenizer.encode(SMOL_PROMPT + SMOL_MORE, { addSpecial: true });
    const T = prompt.length;
    const row = 3 * 64 * 2 * 2;
    for (const g of ['attn', 'ffn', 'sublayer'] as const) {
      const gates = await adapter(m, await splitGates(m, prompt, KINDS[g]));
      for (const kv of ['fill', 'skip'] as const) {
        const label = `${g} gates, KV ${kv}`;
        const policy: DepthPolicy = { gates, prefill: true, kv };
        const batch = newCtx(m);
        batch.setDepthPolicy(policy);
        await batch.evaluate(prompt, { allLogits: true });
        const single = newCtx(m);
        single.setDepthPolicy(policy);
        const want = await oneByOne(single, prompt);
        expectSameRows(want, rowsOf(batch.allLogits(), T, m.info.nVocab), label);
        const sb = batch.stats(), ss = single.stats();
        expect(routing(sb), label).toEqual(routing(ss));
        // the decisions really are mixed within the batch, for the gated kinds only
        const attn = g !== 'ffn', ffn = g !== 'attn';
        if (attn) expect(mixedBlocks(sb.attnRuns, sb.attnSkips), `${label}: blocks with mixed attention`).toBeGreaterThanOrEqual((L - 2) / 2);
        else expect(sb.attnSkips, label).toEqual(zeros(L));
        if (ffn) expect(mixedBlocks(sb.ffnRuns, sb.ffnSkips), `${label}: blocks with mixed FFN`).toBeGreaterThanOrEqual((L - 2) / 2);
        else expect(sb.ffnSkips, label).toEqual(zeros(L));
        // KV: fill writes every layer for every token; skip only where the attention ran
        const cells = kv === 'fill' ? L * T : sb.attnRuns.reduce((a, b) => a + b, 0);
        expect(sb.kvBytesUsed, label).toBe(cells * row);
        if (kv === 'skip' && attn) expect(cells, label).toBeLessThan(L * T);
      }
    }
  });

  it('Llama-4 MoE synthetic: three-way FFN gates (shared expert only) and attention gates', async () => {
    const m = l4;
    const prompt = m.tokenizer.encode(STORY + ' The end.', { addSpecial: true });
    const T = prompt.length;
    // FFN gate probabilities spread around the band [0.4, 0.6): on MoE block 1 a token runs the full FFN,
    // the shared expert only, or skips; block 2 is dense (two-way: below 0.6 skips)
    const gates = await adapter(m, [...(await splitGates(m, prompt, ['ffn'], 0.4)), ...(await splitGates(m, prompt, ['attn']))], 0.6);
    const policy: DepthPolicy = { gates, prefill: true, sharedThreshold: 0.4 };
    const batch = newCtx(m);
    batch.setDepthPolicy(policy);
    await batch.evaluate(prompt, { allLogits: true });
    const single = newCtx(m);
    single.setDepthPolicy(policy);
    expectSameRows(await oneByOne(single, prompt), rowsOf(batch.allLogits(), T, m.info.nVocab), 'three-way');
    const sb = batch.stats();
    expect(routing(sb)).toEqual(routing(single.stats()));
    expect(sb.expertEvals).toBe(single.stats().expertEvals);
    const full1 = sb.ffnRuns[1] - sb.blockSharedOnly[1];
    expect([full1 > 0, sb.blockSharedOnly[1] > 0, sb.ffnSkips[1] > 0], `block 1: full ${full1}, shared ${sb.blockSharedOnly[1]}, skip ${sb.ffnSkips[1]}`).toEqual([true, true, true]);
    expect(sb.blockSharedOnly[2]).toBe(0); // a dense block has no shared-only band
    expect(sb.ffnSkips[2]).toBeGreaterThan(0);
    expect(sb.ffnRuns[2]).toBeGreaterThan(0);
    expect(mixedBlocks(sb.attnRuns, sb.attnSkips)).toBe(2);
    // routed experts (top-1) run for full FFN runs of the MoE blocks only: block 3 (last) always runs
    expect(sb.expertEvals).toBe(full1 + T);
  });
});

describe('adapter versions', () => {
  /** A version-1 adapter as older builds wrote it: block gates only, no depth_gate.version key. */
  async function writeV1(path: string, m: Model, gates: GateTensor[], threshold: number, thresholds?: Float32Array) {
    const w = new GgufWriter();
    w.set(keyName('GENERAL_ARCHITECTURE'), m.info.arch);
    w.set(keyName('GENERAL_TYPE'), 'adapter');
    w.set(keyName('GENERAL_NAME'), 'depth gates for test');
    w.set(keyName('DEPTH_GATE_BASE_MODEL'), 'test');
    w.set(keyName('DEPTH_GATE_THRESHOLD'), threshold, 'f32');
    if (thresholds) w.set(keyName('DEPTH_GATE_THRESHOLDS'), thresholds, 'f32');
    for (const g of gates) {
      w.addTensor(tensorName('DEPTH_GATE', g.layer, 'weight'), [g.w.length], F32, new Uint8Array(g.w.buffer, g.w.byteOffset, g.w.byteLength));
      w.addTensor(tensorName('DEPTH_GATE', g.layer, 'bias'), [1], F32, new Uint8Array(Float32Array.of(g.b).buffer));
    }
    await w.write(path);
  }

  it('a version-1 adapter (block gates, no version key) loads and routes exactly as the same block gates in version 2', async () => {
    const m = smol;
    const L = m.info.nLayer;
    const prompt = m.tokenizer.encode(SMOL_PROMPT, { addSpecial: true });
    const decode = m.tokenizer.encode(SMOL_MORE, { addSpecial: false }).slice(0, 4);
    const gates = await splitGates(m, [...prompt, ...decode], ['block']);
    const thresholds = Float32Array.from({ length: L }, (_, l) => (l === 3 ? 0.3 : l === 4 ? 0.7 : -1));
    const v1Path = join(dir, 'v1.gguf');
    await writeV1(v1Path, m, gates, 0.5, thresholds);
    const h = await addon().readGguf(v1Path);
    expect(h.metadata.some((kv) => kv.key === 'depth_gate.version')).toBe(false);
    expect(h.tensors.every((t) => /^blk\.\d+\.depth_gate\.(weight|bias)$/.test(t.name))).toBe(true);
    const v1 = await m.loadDepthGates(v1Path);
    const info = v1.info();
    expect(info.version).toBe(1);
    expect(info.threshold).toBeCloseTo(0.5, 6);
    expect(info.layers.map((l) => l.present)).toEqual([false, ...Array(L - 2).fill(true), false]);
    expect(info.layers[3].threshold).toBeCloseTo(0.3, 6);
    expect(info.layers[4].threshold).toBeCloseTo(0.7, 6);
    expect(info.attn.some((l) => l.present)).toBe(false);
    expect(info.ffn.some((l) => l.present)).toBe(false);
    const v2 = await adapter(m, gates, 0.5, { thresholds });
    expect(v2.info().version).toBe(2);
    expect(v2.info().layers).toEqual(info.layers);
    const runs: { rows: Float32Array[]; st: DecodeStats }[] = [];
    for (const g of [v1, v2]) {
      const ctx = newCtx(m);
      ctx.setDepthPolicy({ gates: g, prefill: true });
      const rows = await trace(ctx, prompt, decode);
      runs.push({ rows, st: ctx.stats() });
    }
    expectSameRows(runs[1].rows, runs[0].rows, 'version 1 vs version 2');
    const st = runs[0].st;
    expect(routing(st)).toEqual(routing(runs[1].st));
    // block gates: a skipped block skips both sublayers, and the decisions are mixed
    expect(mixedBlocks(st.blockRuns, st.blockSkips)).toBeGreaterThanOrEqual((L - 2) / 2);
    expect(st.attnSkips).toEqual(st.blockSkips);
    expect(st.ffnSkips).toEqual(st.blockSkips);
  });

  it('refuses an unknown version and half gates with clear messages', async () => {
    const m = l4;
    const E = m.info.nEmbd;
    const file = async (name: string, build: (w: GgufWriter) => void) => {
      const w = new GgufWriter();
      w.set(keyName('GENERAL_ARCHITECTURE'), m.info.arch);
      w.set(keyName('DEPTH_GATE_THRESHOLD'), 0.5, 'f32');
      build(w);
      const path = join(dir, name);
      await w.write(path);
      return path;
    };
    const gate = (w: GgufWriter, id: string, l: number, parts: ('weight' | 'bias')[]) => {
      if (parts.includes('weight')) w.addTensor(tensorName(id, l, 'weight'), [E], F32, new Uint8Array(E * 4));
      if (parts.includes('bias')) w.addTensor(tensorName(id, l, 'bias'), [1], F32, new Uint8Array(4));
    };
    const v3 = await file('v3.gguf', (w) => {
      w.set(keyName('DEPTH_GATE_VERSION'), 3, 'u32');
      gate(w, 'DEPTH_GATE_ATTN', 1, ['weight', 'bias']);
    });
    await expect(m.loadDepthGates(v3)).rejects.toThrow(/depth_gate\.version 3 is not supported.*versions 1 and 2/);
    const v0 = await file('v0.gguf', (w) => {
      w.set(keyName('DEPTH_GATE_VERSION'), 0, 'u32');
      gate(w, 'DEPTH_GATE', 1, ['weight', 'bias']);
    });
    await expect(m.loadDepthGates(v0)).rejects.toThrow(/depth_gate\.version 0 is not supported/);
    for (const id of ['DEPTH_GATE', 'DEPTH_GATE_ATTN', 'DEPTH_GATE_FFN']) {
      const noWeight = await file(`nw-${id}.gguf`, (w) => gate(w, id, 2, ['bias']));
      await expect(m.loadDepthGates(noWeight), id).rejects.toThrow(new RegExp(`has ${tensorName(id, 2, 'bias')} but no ${tensorName(id, 2, 'weight')}`.replace(/\./g, '\\.')));
      const noBias = await file(`nb-${id}.gguf`, (w) => gate(w, id, 2, ['weight']));
      await expect(m.loadDepthGates(noBias), id).rejects.toThrow(new RegExp(`has ${tensorName(id, 2, 'weight')} but no ${tensorName(id, 2, 'bias')}`.replace(/\./g, '\\.')));
    }
  });

  it('the message for a bias without its weight names what is there and what is missing', async () => {
    const m = l4;
    const w = new GgufWriter();
    w.set(keyName('GENERAL_ARCHITECTURE'), m.info.arch);
    w.addTensor(tensorName('DEPTH_GATE_ATTN', 1, 'bias'), [1], F32, new Uint8Array(4));
    const path = join(dir, 'bias-only.gguf');
    await w.write(path);
    const err = await m.loadDepthGates(path).then(() => null, (e: Error) => e.message);
    expect(err).toMatch(/block 1 has blk\.1\.depth_gate_attn\.bias but no blk\.1\.depth_gate_attn\.weight/);
    expect(err).toMatch(/bias/);
  });
});

describe('decode steps of several sequences route each by its own policy', () => {
  async function alone(m: Model, prompt: number[], steps: number, policy: DepthPolicy | null) {
    const ctx = newCtx(m, 96);
    if (policy) ctx.setDepthPolicy(policy);
    let l = await ctx.evaluate(prompt);
    const tokens: number[] = [], logits: Float32Array[] = [];
    for (let i = 0; i < steps; i++) {
      const t = argmax(l);
      tokens.push(t);
      l = await ctx.evaluate([t]);
      logits.push(l.slice());
    }
    return { tokens, logits, st: ctx.stats() };
  }

  async function together(m: Model, prompts: number[][], steps: number, policies: (DepthPolicy | null)[]) {
    const batcher = new StepBatcher();
    const ctxs = prompts.map((_, i) => {
      const c = new BatchedContext(m, newCtx(m, 96).native);
      c.batcher = batcher;
      if (policies[i]) c.setDepthPolicy(policies[i]);
      return c;
    });
    const out = await Promise.all(
      ctxs.map(async (c, i) => {
        let l = await c.evaluate(prompts[i]);
        const tokens: number[] = [], logits: Float32Array[] = [];
        for (let s = 0; s < steps; s++) {
          const t = argmax(l);
          tokens.push(t);
          l = await c.evaluate([t]);
          logits.push(l.slice());
        }
        return { tokens, logits, st: c.stats() };
      }),
    );
    return { out, batcher, ctxs };
  }

  it('SmolLM2: an attention-gated sequence beside a dense one, and different static drops', async () => {
    const m = smol;
    const L = m.info.nLayer;
    const steps = 8;
    const prompts = [SMOL_PROMPT, 'def fibonacci(n):'].map((p) => m.tokenizer.encode(p, { addSpecial: true }));
    const attnGates = await adapter(m, await splitGates(m, m.tokenizer.encode(SMOL_PROMPT + SMOL_MORE, { addSpecial: true }), ['attn']));
    const cases: [string, (DepthPolicy | null)[]][] = [
      ['attention gates + dense', [{ gates: attnGates }, null]],
      ['dense + attention gates', [null, { gates: attnGates }]],
      ['dropAttn + dropFfn/drop', [{ dropAttn: [3, 7] }, { dropFfn: [5], drop: [10] }]],
    ];
    for (const [label, policies] of cases) {
      const ref = [];
      for (let i = 0; i < 2; i++) ref.push(await alone(m, prompts[i], steps, policies[i]));
      const { out, batcher, ctxs } = await together(m, prompts, steps, policies);
      expect(batcher.steps, label).toBe(steps); // every step carried both sequences
      expect(batcher.stepTokens, label).toBe(2 * steps);
      for (let i = 0; i < 2; i++) {
        expect(out[i].tokens, `${label}: sequence ${i}`).toEqual(ref[i].tokens);
        expectSameRows(ref[i].logits, out[i].logits, `${label}: sequence ${i}`);
        // each context's statistics count its own tokens only, as when it runs alone
        expect(routing(out[i].st), `${label}: sequence ${i}`).toEqual(routing(ref[i].st));
        expect(out[i].st.tokens, `${label}: sequence ${i}`).toBe(prompts[i].length + steps);
        if (!policies[i]) {
          expect(out[i].st.routedTokens).toBe(0);
          for (const k of ['blockRuns', 'attnRuns', 'attnSkips', 'ffnRuns', 'ffnSkips'] as const) expect(out[i].st[k], `${label}: ${k}`).toEqual(zeros(L));
        }
      }
      const gated = policies.findIndex((p) => p?.gates);
      if (gated >= 0) {
        const st = out[gated].st;
        expect(st.routedTokens).toBe(steps); // the prompt ran full depth (no prefill)
        expect(inner(st.attnSkips), label).toBeGreaterThan(0);
        expect(inner(st.attnRuns), label).toBeGreaterThan(0);
        expect(st.ffnSkips).toEqual(zeros(L));
        expect(st.attnRuns.map((r, l) => r + st.attnSkips[l])).toEqual(Array(L).fill(steps));
      } else {
        const [a, b] = out.map((o) => o.st);
        expect([a.attnSkips[3], a.attnSkips[7], a.ffnSkips[3]]).toEqual([prompts[0].length + steps, prompts[0].length + steps, 0]);
        expect([b.ffnSkips[5], b.attnSkips[5], b.blockSkips[10]]).toEqual([prompts[1].length + steps, 0, prompts[1].length + steps]);
        const full = newCtx(m, 96).stats().kvBytes;
        expect([a.kvBytes, b.kvBytes]).toEqual([(full / L) * (L - 2), (full / L) * (L - 1)]);
        // a full-depth step over the sequence without those layers' KV fails clearly, and changes nothing
        const nPast = ctxs.map((c) => c.nPast);
        await expect(addon().decodeStep(ctxs.map((c) => c.native), Int32Array.of(1, 1), { gated: false })).rejects.toThrow(/layer 3 has no storage/);
        expect(ctxs.map((c) => c.nPast)).toEqual(nPast);
      }
    }
  });

  it('Llama-4 MoE synthetic: statistics of a step are each sequence\'s own, routed expert evaluations included', async () => {
    const m = l4;
    const steps = 4;
    const prompts = [STORY, 'The little dog ran to the park.'].map((p) => m.tokenizer.encode(p, { addSpecial: true }));
    const gates = await adapter(m, await splitGates(m, prompts[0], ['ffn'], 0.4), 0.6);
    const policies: (DepthPolicy | null)[] = [null, { gates, sharedThreshold: 0.4 }];
    const ref = [await alone(m, prompts[0], steps, policies[0]), await alone(m, prompts[1], steps, policies[1])];
    const { out } = await together(m, prompts, steps, policies);
    for (let i = 0; i < 2; i++) {
      expectSameRows(ref[i].logits, out[i].logits, `sequence ${i}`);
      expect(routing(out[i].st), `sequence ${i}`).toEqual(routing(ref[i].st));
    }
    expect(out[0].st.expertEvals, 'sequence 0 (dense, the step\'s lead)').toBe(ref[0].st.expertEvals);
    expect(out[1].st.expertEvals, 'sequence 1 (FFN-gated)').toBe(ref[1].st.expertEvals);
  });
});

describe('exact mode with sublayer drafts equals dense greedy decoding (SmolLM2)', () => {
  it('attention-gated, FFN-gated and static --drop-attn drafts (KV kept)', async () => {
    const m = smol;
    const n = 24;
    const prompt = m.tokenizer.encode('The capital of France is', { addSpecial: true });
    const want: number[] = [];
    for await (const p of generate(newCtx(m), prompt, { temp: 0, maxTokens: n })) if (p.token >= 0) want.push(p.token);
    expect(want.length).toBe(n);
    const text = m.tokenizer.encode(SMOL_PROMPT + SMOL_MORE, { addSpecial: true });
    const attn = await adapter(m, await splitGates(m, text, ['attn']));
    const ffn = await adapter(m, await splitGates(m, text, ['ffn']));
    const cases: [string, DepthPolicy, keyof DecodeStats][] = [
      ['attention gates', { gates: attn }, 'attnSkips'],
      ['FFN gates', { gates: ffn }, 'ffnSkips'],
      ['sublayer gates', { gates: attn, dropFfn: [4, 12] }, 'ffnSkips'],
      ['--drop-attn 3,8,15,22 (KV kept)', { dropAttn: [3, 8, 15, 22], freeDroppedKv: false }, 'attnSkips'],
    ];
    for (const [label, policy, skips] of cases) {
      const ctx = newCtx(m);
      ctx.setDepthPolicy(policy);
      const st = newExactStats();
      const out: number[] = [];
      for await (const p of generateExact(ctx, prompt, { maxTokens: n }, st)) if (p.token >= 0) out.push(p.token);
      expect(out, label).toEqual(want);
      expect(st.drafted, label).toBeGreaterThan(0);
      expect(st.accepted).toBeLessThanOrEqual(st.drafted);
      // the drafts really skipped sublayers
      expect(inner(ctx.stats()[skips] as number[]), label).toBeGreaterThan(0);
      if (policy.dropAttn) expect(ctx.stats().kvBytes, label).toBe(newCtx(m).stats().kvBytes);
    }
    // with the dropped layers' KV released, the full-depth verifier cannot run: a clear error, no wrong output
    const ctx = newCtx(m);
    ctx.setDepthPolicy({ dropAttn: [3, 8] });
    const gen = generateExact(ctx, prompt, { maxTokens: n });
    await expect(gen.next()).rejects.toThrow(/layer 3 has no storage/);
  });
});

describe('calibrate --granularity attn | sublayer (stories260K)', () => {
  const opts = { targetSkip: 0.3, nCtx: 64, calibChunks: 2, heldoutChunks: 2, maxRows: 96, iterations: 40, seed: 3 };
  let text: string;
  beforeAll(() => {
    text = readFileSync(TEXT, 'utf8').slice(0, 3000);
  });
  const tensorBytes = (path: string, h: Awaited<ReturnType<ReturnType<typeof addon>['readGguf']>>) => {
    const f = readFileSync(path);
    return h.tensors.map((t) => `${t.name}:${f.subarray(t.offset, t.offset + t.bytes).toString('hex')}`).join();
  };

  for (const [g, labels] of [['attn', 'kl'], ['sublayer', 'rel']] as const) {
    it(`${g} (${labels} labels): a version-2 adapter of ${g} gates, deterministic for a seed, consistent report`, async () => {
      const m = stories;
      const L = m.info.nLayer;
      const a = join(dir, `cal-${g}-a.gguf`), b = join(dir, `cal-${g}-b.gguf`), c = join(dir, `cal-${g}-c.gguf`);
      const r = await calibrate(m, text, a, { ...opts, granularity: g, labels });
      await calibrate(m, text, b, { ...opts, granularity: g, labels });
      await calibrate(m, text, c, { ...opts, granularity: g, labels, seed: 4 });
      const ha = await addon().readGguf(a), hb = await addon().readGguf(b), hc = await addon().readGguf(c);
      expect(tensorBytes(b, hb)).toBe(tensorBytes(a, ha));
      expect(tensorBytes(c, hc)).not.toBe(tensorBytes(a, ha));
      const md = new Map(ha.metadata.map((kv) => [kv.key, kv.value]));
      expect(md.get('depth_gate.version')).toBe(2);
      expect(md.get('depth_gate.granularity')).toBe(g);
      // exactly the granularity's kinds, for the inner blocks
      const kinds = KINDS[g];
      const names = ha.tensors.map((t) => t.name).sort();
      const wantNames = kinds.flatMap((k) => [1, 2, 3].flatMap((l) => ['weight', 'bias'].map((s) => tensorName(k === 'attn' ? 'DEPTH_GATE_ATTN' : 'DEPTH_GATE_FFN', l, s)))).sort();
      expect(names).toEqual(wantNames);
      const info = (await m.loadDepthGates(a)).info();
      expect(info.version).toBe(2);
      expect(info.threshold).toBeCloseTo(r.chosen.threshold, 6);
      const inner3 = [false, true, true, true, false];
      expect(info.layers.map((x) => x.present)).toEqual(zeros(L).map(() => false));
      expect(info.attn.map((x) => x.present)).toEqual(inner3);
      expect(info.ffn.map((x) => x.present)).toEqual(kinds.includes('ffn') ? inner3 : zeros(L).map(() => false));
      // the report
      expect(r.granularity).toBe(g);
      expect(r.labels).toBe(labels);
      expect(r.perBlock.map((p) => `${p.kind}${p.layer}`)).toEqual(kinds.flatMap((k) => [1, 2, 3].map((l) => `${k}${l}`)));
      const ch = r.chosen;
      expect(ch.skipRate).toBeLessThanOrEqual(opts.targetSkip + 1e-9);
      expect(ch.attnSkipRate).toBeGreaterThan(0);
      if (g === 'attn') {
        expect(ch.ffnSkipRate).toBe(0);
        expect(ch.skipRate).toBe(ch.attnSkipRate);
        // per block: the attention skip rates (an attention skip never skips a whole block)
        expect(ch.blocksPerToken).toBe(L);
        expect(ch.perBlockSkip.some((x) => x > 0)).toBe(true);
      } else {
        expect(ch.skipRate).toBeCloseTo((ch.attnSkipRate + ch.ffnSkipRate) / 2, 12);
      }
      // the written adapter, loaded by the engine, reproduces the report's held-out figures
      const toks = m.tokenizer.encode(text, { addSpecial: true, parseSpecial: false });
      const all = chunkTokens(toks, opts.nCtx, m.tokenizer.vocab.addBos ? m.tokenizer.vocab.bos : null);
      const held = all.slice(all.length - opts.heldoutChunks);
      const ctx = m.createContext({ nCtx: opts.nCtx, nBatch: opts.nCtx, nThreads: 1 });
      const dense = await denseLogits(ctx, held);
      const e = await evaluatePolicy(ctx, held, dense, { gates: await m.loadDepthGates(a), kv: 'fill' }, g);
      expect({ attn: e.attnSkipRate, ffn: e.ffnSkipRate, kl: e.meanKl }).toEqual({ attn: ch.attnSkipRate, ffn: ch.ffnSkipRate, kl: ch.meanKl });
      // --drop-attn / --drop-ffn auto:R with this adapter rank the sublayers by its stored influence
      const d = await resolveDepth(m, { gates: a, dropAttn: { auto: 0.4 }, dropFfn: { auto: 0.2 } });
      expect(d.influenceSource).toBe(`calibration text of ${a}`);
      expect(d.droppedAttn).toEqual(staticDropList(r.attnInfluence, 0.4));
      expect(d.droppedFfn).toEqual(staticDropList(r.ffnInfluence, 0.2));
      expect([d.droppedAttn.length, d.droppedFfn.length]).toEqual([2, 1]);
      expect(d.policy).toMatchObject({ dropAttn: d.droppedAttn, dropFfn: d.droppedFfn });
    });
  }

  it('--thresholds quota: per-block thresholds on the lowest-influence sublayers only, reproduced by the loaded adapter', async () => {
    const m = stories;
    const L = m.info.nLayer;
    const a = join(dir, 'cal-quota.gguf');
    const r = await calibrate(m, text, a, { ...opts, granularity: 'attn', labels: 'rel', thresholds: 'quota', targetSkip: 0.34 });
    const q = r.quota!;
    expect(q.tried.length).toBeGreaterThan(1);
    expect(q.tried.find((t) => t.fraction === q.fraction)!.meanKl).toBe(Math.min(...q.tried.map((t) => t.meanKl)));
    // the chosen sublayers are the lowest-influence attention sublayers, as many as the target needs
    const inner = [1, 2, 3].sort((x, y) => r.attnInfluence[x] - r.attnInfluence[y] || x - y);
    expect(q.sublayers.map((x) => x.layer)).toEqual(inner.slice(0, Math.min(3, Math.round((0.34 * 3) / q.fraction))));
    const info = (await m.loadDepthGates(a)).info();
    const chosen = new Set(q.sublayers.map((x) => x.layer));
    for (let l = 0; l < L; l++) {
      const t = info.attn[l].threshold;
      if (l === 0 || l === L - 1) expect(t).toBe(-1);
      else if (chosen.has(l)) expect(t).toBeGreaterThan(0);
      else expect(t).toBe(0); // always runs
    }
    // the held-out figures come back from the written adapter
    const toks = m.tokenizer.encode(text, { addSpecial: true, parseSpecial: false });
    const all = chunkTokens(toks, opts.nCtx, m.tokenizer.vocab.addBos ? m.tokenizer.vocab.bos : null);
    const held = all.slice(all.length - opts.heldoutChunks);
    const ctx = m.createContext({ nCtx: opts.nCtx, nBatch: opts.nCtx, nThreads: 1 });
    const e = await evaluatePolicy(ctx, held, await denseLogits(ctx, held), { gates: await m.loadDepthGates(a), kv: 'fill' }, 'attn');
    expect([e.skipRate, e.meanKl]).toEqual([r.chosen.skipRate, r.chosen.meanKl]);
    expect(e.perBlockSkip.filter((x, l) => !chosen.has(l) && x > 0)).toEqual([]);
  });
});
