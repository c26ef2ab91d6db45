// Fitting depth gates on a frozen model (design: ../shared/docs/dual-sparsity.md).
// Granularity: a gate per block (skips the whole block), per attention sublayer, per FFN sublayer, or both
// sublayer kinds ('sublayer'). For every gate kind k (block / attn / ffn):
//  1. Dense pass over calibration text, recording per block and token the gate features (the attention
//     norm's output for block and attention gates, the FFN norm's output for FFN gates) and how much the
//     sublayer changes the residual stream, rel = |h_out - h_in| / |h_in|.
//  2. Labels: a token "needs" sublayer (l, k) when removing it costs more than a threshold: the global
//     quantile, matching the target skip rate, of the KL that removing that sublayer (for the chunk) causes
//     in each token's next-token distribution (labels 'kl': one pass per gated sublayer; the default for
//     attn / ffn / sublayer) or of rel (labels 'rel', cheaper; the default for block, where it gave the
//     better held-out perplexity on SmolLM2). All gated sublayers of all kinds are pooled, so harmless ones
//     (on small models: attention far more than FFN) are skipped more.
//  3. A logistic gate per (block, kind) predicts P(needs it | features).
//  4. The threshold tau is chosen on held-out text (never the calibration text) by bisection: the largest
//     skip rate of the granularity's sublayers not above the target (--target-skip), or within the KL
//     budget (--kl-budget), measured with the gates actually routing tokens (gated batches equal
//     one-by-one decoding).
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DepthPolicy, NativeDepthGates } from '../../native/addon.js';
import { writeDepthGates, type AdapterContent, type GateKind, type GateTensor, type Granularity } from './adapter.js';
import { fitLogistic, gateProb } from './logistic.js';
import { mulberry32 } from '../../sampling/rng.js';
import type { Context, Model } from '../model.js';

export interface CalibrateOptions {
  /** fraction of gated blocks to skip (default 0.25 when no klBudget) */
  targetSkip?: number;
  /** mean KL(dense || gated) per token budget in nats, instead of a skip rate */
  klBudget?: number;
  nCtx?: number;
  /** chunks of nCtx tokens to fit on, and held out for the threshold */
  calibChunks?: number;
  heldoutChunks?: number;
  /** rows per block used for fitting (sampled deterministically) */
  maxRows?: number;
  seed?: number;
  nThreads?: number;
  kv?: 'fill' | 'skip';
  iterations?: number;
  /** how "skippable" is measured: KL of a per-sublayer removal pass or the relative update size
   *  (default: 'rel' for block gates, 'kl' for sublayer gates) */
  labels?: 'kl' | 'rel';
  /** what a gate skips (default 'block') */
  granularity?: Granularity;
  /** one threshold for all gates (bisection, default) or per-block quotas (quotaThresholds; needs targetSkip) */
  thresholds?: 'global' | 'quota';
  onProgress?: (msg: string) => void;
  signal?: AbortSignal;
}

export interface HeldoutEval {
  threshold: number;
  /** skip rate of the granularity's sublayers (blocks 1..L-2) */
  skipRate: number;
  /** attention and FFN sublayers skipped (blocks 1..L-2) */
  attnSkipRate: number;
  ffnSkipRate: number;
  blocksPerToken: number;
  meanKl: number;
  top1Agreement: number;
  pplDense: number;
  pplGated: number;
  perBlockSkip: number[];
}

export interface CalibrationReport {
  baseModel: string;
  nLayer: number;
  tokensCalib: number;
  tokensHeldout: number;
  labelQuantile: number;
  labels: 'kl' | 'rel';
  granularity: Granularity;
  perBlock: { layer: number; kind: GateKind; needRate: number; accuracy: number; loss: number; meanRel: number }[];
  /** 1 - mean cos(in, out) on the calibration text: blocks, attention and FFN sublayers */
  blockInfluence: number[];
  attnInfluence: number[];
  ffnInfluence: number[];
  chosen: HeldoutEval;
  /** with thresholds 'quota': the fraction and sublayers chosen, and the fractions tried */
  quota?: Omit<QuotaResult, 'thresholds' | 'chosen'>;
  seed: number;
  seconds: number;
}

/** Skip rate over the blocks a gate or drop can touch (not the first or last): skips / (runs + skips). */
export function innerSkipRate(runs: number[], skips: number[]): number {
  let r = 0, k = 0;
  for (let l = 1; l < runs.length - 1; l++) {
    r += runs[l];
    k += skips[l];
  }
  return r + k > 0 ? k / (r + k) : 0;
}

/** Skip rate of every block: skips / (runs + skips), 0 where nothing was routed. */
export function layerSkipRates(runs: number[], skips: number[]): number[] {
  return skips.map((k, l) => k / (k + runs[l] || 1));
}

const rng = mulberry32;

export function chunkTokens(tokens: number[], nCtx: number, bos: number | null): number[][] {
  const out: number[][] = [];
  for (let i = 0; i + nCtx <= tokens.length; i += nCtx) {
    const c = tokens.slice(i, i + nCtx);
    if (bos !== null) c[0] = bos;
    out.push(c);
  }
  return out;
}

function logSoftmaxRow(logits: Float32Array, off: number, V: number, out: Float64Array): void {
  let mx = -Infinity;
  for (let i = 0; i < V; i++) mx = Math.max(mx, logits[off + i]);
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(logits[off + i] - mx);
  const lse = mx + Math.log(s);
  for (let i = 0; i < V; i++) out[i] = logits[off + i] - lse;
}

/** Compares gated logits with dense ones over the second half of each chunk (as perplexity scores). */
export function compareLogits(dense: Float32Array, gated: Float32Array, tokens: number[], V: number) {
  const n = tokens.length;
  const a = new Float64Array(V), b = new Float64Array(V);
  let kl = 0, agree = 0, nllD = 0, nllG = 0, count = 0;
  for (let i = n >> 1; i < n - 1; i++) {
    logSoftmaxRow(dense, i * V, V, a);
    logSoftmaxRow(gated, i * V, V, b);
    let k = 0, am = 0, bm = 0;
    for (let j = 0; j < V; j++) {
      k += Math.exp(a[j]) * (a[j] - b[j]);
      if (a[j] > a[am]) am = j;
      if (b[j] > b[bm]) bm = j;
    }
    kl += k;
    if (am === bm) agree++;
    nllD -= a[tokens[i + 1]];
    nllG -= b[tokens[i + 1]];
    count++;
  }
  return { kl, agree, nllD, nllG, count };
}

/** KL(dense || other) at every position of a chunk. */
export function perTokenKl(dense: Float32Array, other: Float32Array, n: number, V: number): Float32Array {
  const a = new Float64Array(V), b = new Float64Array(V);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    logSoftmaxRow(dense, i * V, V, a);
    logSoftmaxRow(other, i * V, V, b);
    let k = 0;
    for (let j = 0; j < V; j++) k += Math.exp(a[j]) * (a[j] - b[j]);
    out[i] = Math.max(0, k);
  }
  return out;
}

/** Blocks to drop statically at skip rate r: the round(r * L) lowest-influence blocks, never the first or last. */
export function staticDropList(influence: number[], rate: number): number[] {
  const L = influence.length;
  const k = Math.min(Math.max(Math.round(rate * L), 0), L - 2);
  return influence
    .map((bi, l) => ({ bi, l }))
    .filter((x) => x.l > 0 && x.l < L - 1)
    .sort((a, b) => a.bi - b.bi || a.l - b.l)
    .slice(0, k)
    .map((x) => x.l)
    .sort((a, b) => a - b);
}

/** Evaluates a depth policy on held-out chunks against dense logits computed once. */
export async function evaluatePolicy(
  ctx: Context,
  chunks: number[][],
  dense: Float32Array[],
  policy: DepthPolicy,
  granularity: Granularity = 'block',
  signal?: AbortSignal,
): Promise<Omit<HeldoutEval, 'threshold'>> {
  const V = ctx.model.info.nVocab;
  const L = ctx.model.info.nLayer;
  ctx.truncate(0);
  ctx.setDepthPolicy({ ...policy, prefill: true });
  ctx.resetStats();
  let kl = 0, agree = 0, nllD = 0, nllG = 0, count = 0;
  for (let c = 0; c < chunks.length; c++) {
    ctx.truncate(0);
    await ctx.evaluate(chunks[c], { allLogits: true, signal });
    const r = compareLogits(dense[c], ctx.allLogits(), chunks[c], V);
    kl += r.kl;
    agree += r.agree;
    nllD += r.nllD;
    nllG += r.nllG;
    count += r.count;
  }
  const st = ctx.stats();
  ctx.truncate(0);
  ctx.setDepthPolicy(null);
  const runs = st.blockRuns.reduce((a, b) => a + b, 0);
  const routed = st.routedTokens || 1;
  const attnSkipRate = innerSkipRate(st.attnRuns, st.attnSkips);
  const ffnSkipRate = innerSkipRate(st.ffnRuns, st.ffnSkips);
  const skipRate =
    granularity === 'attn' ? attnSkipRate
    : granularity === 'ffn' ? ffnSkipRate
    : granularity === 'sublayer' ? (attnSkipRate + ffnSkipRate) / 2
    : innerSkipRate(st.blockRuns, st.blockSkips);
  return {
    skipRate,
    attnSkipRate,
    ffnSkipRate,
    blocksPerToken: runs / routed,
    meanKl: kl / count,
    top1Agreement: agree / count,
    pplDense: Math.exp(nllD / count),
    pplGated: Math.exp(nllG / count),
    perBlockSkip: (() => {
      const attn = layerSkipRates(st.attnRuns, st.attnSkips), ffn = layerSkipRates(st.ffnRuns, st.ffnSkips);
      if (granularity === 'attn') return attn;
      if (granularity === 'ffn') return ffn;
      if (granularity === 'sublayer') return attn.map((a, l) => (a + ffn[l]) / 2);
      return layerSkipRates(st.blockRuns, st.blockSkips);
    })(),
  };
}

export async function denseLogits(ctx: Context, chunks: number[][], signal?: AbortSignal): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  ctx.setDepthPolicy(null);
  for (const c of chunks) {
    ctx.truncate(0);
    await ctx.evaluate(c, { allLogits: true, sequential: true, signal });
    out.push(ctx.allLogits());
  }
  ctx.truncate(0);
  return out;
}

/** Per-block thresholds chosen by quota (see quotaThresholds). */
export interface QuotaResult {
  /** the share of tokens each chosen sublayer skips */
  fraction: number;
  /** the sublayers that skip, lowest influence first */
  sublayers: { kind: GateKind; layer: number }[];
  thresholds: Record<GateKind, Float32Array>;
  chosen: HeldoutEval;
  tried: { fraction: number; skipRate: number; meanKl: number; pplGated: number }[];
}

/**
 * Thresholds per (block, kind) by quota, for a target skip rate: the fewest lowest-influence sublayers
 * (1 - cos(in, out) on the calibration text) that make up the target when each skips the fraction f of
 * tokens its gate scores lowest; every other sublayer always runs. f = 1 would be the static drop of
 * those sublayers; the gate decides which tokens still run them. f is chosen on the held-out chunks
 * (lowest mean KL), the per-block thresholds are the gate probabilities' f-quantiles there.
 */
export async function quotaThresholds(
  ctx: Context,
  held: number[][],
  dense: Float32Array[],
  gates: GateTensor[],
  influence: Record<GateKind, number[]>,
  granularity: Granularity,
  target: number,
  adapter: { path: string; content: Omit<AdapterContent, 'gates' | 'granularity' | 'thresholds' | 'thresholdsAttn' | 'thresholdsFfn'> },
  opts: { kv?: 'fill' | 'skip'; fractions?: number[]; onProgress?: (s: string) => void; signal?: AbortSignal } = {},
): Promise<QuotaResult> {
  // each fraction is tried through an adapter written to adapter.path; the chosen one is left there
  const write = (th: Record<GateKind, Float32Array>) =>
    writeDepthGates(adapter.path, { ...adapter.content, gates, granularity, thresholds: th.block, thresholdsAttn: th.attn, thresholdsFfn: th.ffn });
  const L = ctx.model.info.nLayer;
  const E = ctx.model.info.nEmbd;
  const kinds: GateKind[] = granularity === 'sublayer' ? ['attn', 'ffn'] : [granularity];
  // gate probabilities of the held-out tokens, per (kind, block)
  const probs = new Map<string, number[]>();
  for (const c of held) {
    ctx.truncate(0);
    const taps = await ctx.taps(c, { features: true, ffnFeatures: kinds.includes('ffn') });
    for (const g of gates) {
      const kind = g.kind ?? 'block';
      if (!kinds.includes(kind)) continue;
      const src = kind === 'ffn' ? taps.featFfn : taps.feat;
      const key = `${kind}${g.layer}`;
      const arr = probs.get(key) ?? [];
      for (let t = 0; t < c.length; t++) arr.push(gateProb(g, src, (g.layer * c.length + t) * E));
      probs.set(key, arr);
    }
  }
  ctx.truncate(0);
  for (const a of probs.values()) a.sort((x, y) => x - y);
  const ranked = kinds
    .flatMap((kind) => gates.filter((g) => (g.kind ?? 'block') === kind).map((g) => ({ kind, layer: g.layer, inf: influence[kind][g.layer] })))
    .sort((a, b) => a.inf - b.inf || a.layer - b.layer);
  const N = ranked.length;
  const tried: QuotaResult['tried'] = [];
  let best: QuotaResult | undefined;
  for (const f of opts.fractions ?? [0.95, 0.9, 0.8, 0.7, 0.6]) {
    const m = Math.min(N, Math.round((target * N) / f));
    if (m === 0) continue;
    const th: Record<GateKind, Float32Array> = {
      block: new Float32Array(L).fill(-1),
      attn: new Float32Array(L).fill(-1),
      ffn: new Float32Array(L).fill(-1),
    };
    for (const r of ranked) th[r.kind][r.layer] = 0; // runs always (p >= 0)
    // skip where p < the f-quantile (ties: the next larger value, so at most about f skip)
    for (const r of ranked.slice(0, m)) {
      const p = probs.get(`${r.kind}${r.layer}`)!;
      th[r.kind][r.layer] = Math.min(1, p[Math.min(p.length - 1, Math.floor(f * p.length))]);
    }
    await write(th);
    const g = await ctx.model.loadDepthGates(adapter.path);
    const e = await evaluatePolicy(ctx, held, dense, { gates: g, kv: opts.kv ?? 'fill' }, granularity, opts.signal);
    tried.push({ fraction: f, skipRate: e.skipRate, meanKl: e.meanKl, pplGated: e.pplGated });
    opts.onProgress?.(`calibrate: quota f ${f}: ${m} sublayers, skip ${(e.skipRate * 100).toFixed(1)}%, KL ${e.meanKl.toFixed(4)}, ppl ${e.pplGated.toFixed(3)}`);
    if (!best || e.meanKl < best.chosen.meanKl)
      best = { fraction: f, sublayers: ranked.slice(0, m).map(({ kind, layer }) => ({ kind, layer })), thresholds: th, chosen: { threshold: -1, ...e }, tried };
  }
  if (!best) throw new Error(`--target-skip ${target} is too small for ${N} gated sublayers`);
  await write(best.thresholds);
  return best;
}

export async function calibrate(model: Model, text: string, outPath: string, opts: CalibrateOptions = {}): Promise<CalibrationReport> {
  const t0 = performance.now();
  const say = opts.onProgress ?? (() => {});
  const nCtx = opts.nCtx ?? 512;
  const seed = opts.seed ?? 42;
  const L = model.info.nLayer;
  const E = model.info.nEmbd;
  const granularity: Granularity = opts.granularity ?? 'block';
  if (!['block', 'attn', 'ffn', 'sublayer'].includes(granularity)) throw new Error(`--granularity must be block, attn, ffn or sublayer, got '${granularity}'`);
  const kinds: GateKind[] = granularity === 'sublayer' ? ['attn', 'ffn'] : [granularity];
  if (L < 3) throw new Error(`the model has ${L} blocks: depth gating needs at least 3 (first and last always run)`);
  if (opts.targetSkip !== undefined && opts.klBudget !== undefined) throw new Error('give either --target-skip or --kl-budget, not both');
  const targetSkip = opts.klBudget === undefined ? (opts.targetSkip ?? 0.25) : undefined;
  if (targetSkip !== undefined && !(targetSkip > 0 && targetSkip < 1)) throw new Error(`--target-skip must be in (0, 1), got ${targetSkip}`);
  const vocab = model.tokenizer.vocab;
  const tokens = model.tokenizer.encode(text, { addSpecial: true, parseSpecial: false });
  const all = chunkTokens(tokens, nCtx, vocab.addBos ? vocab.bos : null);
  const nHeld = opts.heldoutChunks ?? 2;
  const nCal = opts.calibChunks ?? 8;
  if (all.length < nHeld + 1)
    throw new Error(`the text has ${all.length} chunks of ${nCtx} tokens; calibration needs at least ${nHeld + 1}`);
  // held-out chunks come from the end of the text, calibration chunks from the start: never the same text
  const held = all.slice(all.length - nHeld);
  const cal = all.slice(0, Math.min(nCal, all.length - nHeld));
  const ctx = model.createContext({ nCtx, nBatch: nCtx, nThreads: opts.nThreads ?? 1 });

  // 1. dense pass with taps
  const maxRows = opts.maxRows ?? 4096;
  const rand = rng(seed);
  const nTok = cal.length * nCtx;
  // which (chunk, token) rows feed the fit: a deterministic sample shared by all gates
  const keep = new Uint8Array(nTok);
  const want = Math.min(maxRows, nTok);
  {
    const idx = Array.from({ length: nTok }, (_, i) => i);
    for (let i = nTok - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    for (let i = 0; i < want; i++) keep[idx[i]] = 1;
  }
  // per kind and block: features [want][E] and the label measure [want]
  const feats = new Map<GateKind, Float32Array[]>();
  const rels = new Map<GateKind, Float32Array[]>();
  for (const k of kinds) {
    feats.set(k, Array.from({ length: L }, () => new Float32Array(want * E)));
    rels.set(k, Array.from({ length: L }, () => new Float32Array(want)));
  }
  const cosSum = { block: new Float64Array(L), attn: new Float64Array(L), ffn: new Float64Array(L) };
  const labels = opts.labels ?? (granularity === 'block' ? 'rel' : 'kl');
  const V = model.info.nVocab;
  const dropKey = { block: 'drop', attn: 'dropAttn', ffn: 'dropFfn' } as const;
  let row = 0;
  for (let c = 0; c < cal.length; c++) {
    opts.signal?.throwIfAborted();
    say(`calibrate: dense pass ${c + 1}/${cal.length}`);
    ctx.truncate(0);
    const taps = await ctx.taps(cal[c], { features: true, ffnFeatures: kinds.includes('ffn') });
    // per gated sublayer: how much removing it changes each token's next-token distribution
    const kls = new Map<GateKind, Float32Array[]>();
    if (labels === 'kl') {
      ctx.truncate(0);
      await ctx.evaluate(cal[c], { allLogits: true, gated: false, sequential: true });
      const dense = ctx.allLogits();
      for (const k of kinds) {
        const per: Float32Array[] = [];
        for (let l = 0; l < L; l++) {
          if (l === 0 || l === L - 1) {
            per.push(new Float32Array(nCtx));
            continue;
          }
          opts.signal?.throwIfAborted();
          say(`calibrate: chunk ${c + 1}/${cal.length}, removing ${k === 'block' ? 'block' : `the ${k === 'attn' ? 'attention' : 'FFN'} of block`} ${l}/${L - 2}`);
          ctx.truncate(0);
          ctx.setDepthPolicy({ [dropKey[k]]: [l], prefill: true });
          await ctx.evaluate(cal[c], { allLogits: true });
          per.push(perTokenKl(dense, ctx.allLogits(), nCtx, V));
          ctx.truncate(0);
          ctx.setDepthPolicy(null);
        }
        kls.set(k, per);
      }
      ctx.truncate(0);
    }
    const relOf = { block: taps.rel, attn: taps.relAttn, ffn: taps.relFfn };
    for (let t = 0; t < nCtx; t++) {
      for (let l = 0; l < L; l++) {
        cosSum.block[l] += taps.cos[l * nCtx + t];
        cosSum.attn[l] += taps.cosAttn[l * nCtx + t];
        cosSum.ffn[l] += taps.cosFfn[l * nCtx + t];
      }
      if (!keep[c * nCtx + t]) continue;
      for (const k of kinds) {
        const F = feats.get(k)!, R = rels.get(k)!, K = kls.get(k);
        const src = k === 'ffn' ? taps.featFfn : taps.feat;
        for (let l = 0; l < L; l++) {
          F[l].set(src.subarray((l * nCtx + t) * E, (l * nCtx + t + 1) * E), row * E);
          R[l][row] = K ? K[l][t] : relOf[k][l * nCtx + t];
        }
      }
      row++;
    }
  }
  const inf = (a: Float64Array) => Array.from(a, (x) => 1 - x / nTok);

  // 2. labels at the global quantile of the measure over every gated sublayer of every kind
  const q = targetSkip ?? 0.25;
  const pooled: number[] = [];
  for (const k of kinds) for (let l = 1; l < L - 1; l++) for (let i = 0; i < want; i++) pooled.push(rels.get(k)![l][i]);
  pooled.sort((a, b) => a - b);
  const theta = pooled[Math.min(pooled.length - 1, Math.floor(q * pooled.length))];

  // 3. a logistic gate per (block, kind)
  const gates: GateTensor[] = [];
  const perBlock: CalibrationReport['perBlock'] = [];
  for (const k of kinds)
    for (let l = 1; l < L - 1; l++) {
      opts.signal?.throwIfAborted();
      say(`calibrate: fitting ${k} gate ${l}/${L - 2}`);
      const r = rels.get(k)![l];
      const y = new Uint8Array(want);
      let need = 0, relSum = 0;
      for (let i = 0; i < want; i++) {
        y[i] = r[i] >= theta ? 1 : 0;
        need += y[i];
        relSum += r[i];
      }
      const fit = fitLogistic(feats.get(k)![l], y, E, { iterations: opts.iterations ?? 150 });
      gates.push({ layer: l, kind: k, w: fit.w, b: fit.b });
      perBlock.push({ layer: l, kind: k, needRate: need / want, accuracy: fit.accuracy, loss: fit.loss, meanRel: relSum / want });
    }

  // 4. threshold on held-out text
  say('calibrate: dense logits on held-out text');
  const dense = await denseLogits(ctx, held, opts.signal);
  const baseModel = model.path.split('/').pop() ?? model.path;
  // the thresholds are chosen through scratch adapters; outPath is written once, complete, at the end (an
  // interrupted or failed calibration leaves no adapter there, nor the file that was there before altered)
  const scratch = join(tmpdir(), `llama4-calibrate-${process.pid}-${Date.now()}.gguf`);
  try {
    await writeDepthGates(scratch, { arch: model.info.arch, baseModel, nLayer: L, gates, threshold: 0.5, granularity });
    const g: NativeDepthGates = await model.loadDepthGates(scratch);
    const evalAt = async (tau: number): Promise<HeldoutEval> => ({
      threshold: tau,
      ...(await evaluatePolicy(ctx, held, dense, { gates: g, threshold: tau, kv: opts.kv ?? 'fill' }, granularity, opts.signal)),
    });
    const influence = { block: inf(cosSum.block), attn: inf(cosSum.attn), ffn: inf(cosSum.ffn) };
    let quota: QuotaResult | undefined;
    if ((opts.thresholds ?? 'global') === 'quota') {
      if (targetSkip === undefined) throw new Error('--thresholds quota needs --target-skip');
      quota = await quotaThresholds(ctx, held, dense, gates, influence, granularity, targetSkip,
        { path: scratch, content: { arch: model.info.arch, baseModel, nLayer: L, threshold: 0.5 } }, { kv: opts.kv, onProgress: say, signal: opts.signal });
    }
    let lo = 0, hi = 1;
    let best: HeldoutEval = quota ? quota.chosen : await evalAt(0); // tau 0: every gate open = dense
    for (let it = 0; it < (quota ? 0 : 10); it++) {
      const mid = (lo + hi) / 2;
      const e = await evalAt(mid);
      say(`calibrate: tau ${mid.toFixed(4)}: skip ${(e.skipRate * 100).toFixed(1)}%, KL ${e.meanKl.toFixed(4)}, ppl ${e.pplGated.toFixed(3)} (dense ${e.pplDense.toFixed(3)})`);
      const ok = targetSkip !== undefined ? e.skipRate <= targetSkip : e.meanKl <= (opts.klBudget as number);
      if (ok) {
        best = e;
        lo = mid;
      } else {
        hi = mid;
      }
    }
    const report: CalibrationReport = {
      baseModel,
      nLayer: L,
      tokensCalib: nTok,
      tokensHeldout: held.length * nCtx,
      labelQuantile: q,
      labels,
      granularity,
      perBlock,
      blockInfluence: influence.block,
      attnInfluence: influence.attn,
      ffnInfluence: influence.ffn,
      chosen: best,
      ...(quota ? { quota: { fraction: quota.fraction, sublayers: quota.sublayers, tried: quota.tried } } : {}),
      seed,
      seconds: (performance.now() - t0) / 1000,
    };
    opts.signal?.throwIfAborted();
    await writeDepthGates(outPath, {
      arch: model.info.arch,
      baseModel,
      nLayer: L,
      gates,
      threshold: quota ? 0.5 : best.threshold,
      granularity,
      ...(quota ? { thresholds: quota.thresholds.block, thresholdsAttn: quota.thresholds.attn, thresholdsFfn: quota.thresholds.ffn } : {}),
      kvMode: opts.kv ?? 'fill',
      targetSkip: targetSkip ?? best.skipRate,
      calibration: report,
    });
    return report;
  } finally {
    await rm(scratch, { force: true });
  }
}
