// Turning user options into a depth policy: learned gates (adapter or in-model), a threshold override,
// KV mode, gated prefill, and the static-removal baseline (explicit list or ShortGPT block influence).
import type { DepthPolicy } from '../../native/addon.js';
import { addon } from '../../native/addon.js';
import { keyName } from '../../gguf/names.js';
import type { Context, Model } from '../model.js';
import { chunkTokens, layerSkipRates, staticDropList } from './calibrate.js';

export interface DepthOptions {
  /** adapter GGUF with gates; 'model' = gates inside the model file */
  gates?: string;
  threshold?: number;
  /** MoE blocks with a shared expert: the "shared expert only" band starts at this gate probability */
  sharedThreshold?: number;
  prefill?: boolean;
  kv?: 'fill' | 'skip';
  /** blocks to drop statically */
  dropLayers?: number[];
  /** drop this fraction of blocks statically, lowest block influence first */
  dropAuto?: number;
  /** attention sublayers to drop statically: a list, or a fraction ranked by sublayer influence */
  dropAttn?: SublayerDrop;
  /** FFN sublayers to drop statically */
  dropFfn?: SublayerDrop;
  /** the same context also runs full depth (exact mode): keep the KV of dropped attention layers */
  keepDroppedKv?: boolean;
}

/** A static sublayer drop: explicit blocks, or the lowest-influence fraction (1 - cos(h, h + f(h))). */
export type SublayerDrop = number[] | { auto: number };

export interface ResolvedDepth {
  policy: DepthPolicy | null;
  /** blocks dropped statically, and where their ranking came from */
  dropped: number[];
  /** attention / FFN sublayers dropped statically */
  droppedAttn: number[];
  droppedFfn: number[];
  influenceSource?: string;
}

/** Per block influence 1 - mean cos(in, out): of the block, its attention and its FFN sublayer. */
export interface Influence {
  block: number[];
  attn: number[];
  ffn: number[];
}

/** The influence stored by `llama4 calibrate` in an adapter, if any (sublayer ranks from version 2). */
export async function adapterInfluence(path: string): Promise<Partial<Influence> | undefined> {
  const h = await addon().readGguf(path, { arrayLimit: 0 });
  const kv = h.metadata.find((k) => k.key === keyName('DEPTH_GATE_CALIBRATION'));
  if (!kv || typeof kv.value !== 'string') return undefined;
  try {
    const r = JSON.parse(kv.value) as { blockInfluence?: number[]; attnInfluence?: number[]; ffnInfluence?: number[] };
    const arr = (x: unknown) => (Array.isArray(x) ? (x as number[]) : undefined);
    const out = { block: arr(r.blockInfluence), attn: arr(r.attnInfluence), ffn: arr(r.ffnInfluence) };
    return out.block || out.attn || out.ffn ? out : undefined;
  } catch {
    return undefined;
  }
}

export function hasDepth(o: DepthOptions): boolean {
  return o.gates !== undefined || (o.dropLayers?.length ?? 0) > 0 || o.dropAuto !== undefined || o.dropAttn !== undefined || o.dropFfn !== undefined;
}

/** Parses `--drop-attn` / `--drop-ffn`: a comma list of blocks, `auto` (25%) or `auto:R` (a fraction in [0, 1)). */
export function parseSublayerDrop(v: string, flag: string): SublayerDrop {
  const t = v.trim();
  const m = /^auto(?::(.*))?$/.exec(t);
  if (m) {
    const r = m[1] === undefined ? 0.25 : Number(m[1]);
    if (m[1] !== undefined && (m[1].trim() === '' || !Number.isFinite(r))) throw new Error(`${flag}: '${v}' is not auto:R with R a fraction`);
    if (!(r >= 0 && r < 1)) throw new Error(`${flag}: the auto fraction must be in [0, 1), got ${r}`);
    return { auto: r };
  }
  const parts = t.split(',').map((x) => x.trim()).filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) throw new Error(`${flag}: expected a comma-separated list of block indices, auto or auto:R, got '${v}'`);
  return parts.map(Number);
}

/** Influence of every block and sublayer on the given chunks (full depth taps). */
export async function measureInfluence(ctx: Context, chunks: number[][]): Promise<Influence> {
  const L = ctx.model.info.nLayer;
  const sum = { block: new Float64Array(L), attn: new Float64Array(L), ffn: new Float64Array(L) };
  let n = 0;
  for (const c of chunks) {
    ctx.truncate(0);
    const taps = await ctx.taps(c, false);
    const T = c.length;
    for (let l = 0; l < L; l++)
      for (let t = 0; t < T; t++) {
        sum.block[l] += taps.cos[l * T + t];
        sum.attn[l] += taps.cosAttn[l * T + t];
        sum.ffn[l] += taps.cosFfn[l * T + t];
      }
    n += T;
  }
  ctx.truncate(0);
  const inf = (a: Float64Array) => Array.from(a, (s) => 1 - s / n);
  return { block: inf(sum.block), attn: inf(sum.attn), ffn: inf(sum.ffn) };
}

/**
 * Builds the policy. `influenceText` supplies tokens to measure block influence for --drop-auto when the
 * adapter carries none.
 */
export async function resolveDepth(model: Model, o: DepthOptions, influenceText?: string): Promise<ResolvedDepth> {
  if (!hasDepth(o)) return { policy: null, dropped: [], droppedAttn: [], droppedFfn: [] };
  if (o.dropLayers && o.dropAuto !== undefined) throw new Error('give either --drop-layers or --drop-auto, not both');
  const L = model.info.nLayer;
  const gates = o.gates !== undefined ? await model.loadDepthGates(o.gates === 'model' ? '' : o.gates) : undefined;
  const check = (list: number[], flag: string) => {
    for (const l of list) if (!Number.isInteger(l) || l < 0 || l >= L) throw new Error(`${flag}: block ${l} does not exist (0..${L - 1})`);
  };
  check(o.dropLayers ?? [], '--drop-layers');
  for (const [d, flag] of [[o.dropAttn, '--drop-attn'], [o.dropFfn, '--drop-ffn']] as const) if (Array.isArray(d)) check(d, flag);
  const autoOf = (d: SublayerDrop | undefined) => (d !== undefined && !Array.isArray(d) ? d.auto : undefined);
  if (o.dropAuto !== undefined && !(o.dropAuto >= 0 && o.dropAuto < 1)) throw new Error(`--drop-auto must be in [0, 1), got ${o.dropAuto}`);
  // influence ranks, when some list is automatic: from the adapter's calibration, else measured here
  let influence: Partial<Influence> | undefined;
  let influenceSource: string | undefined;
  const wants = { block: o.dropAuto !== undefined, attn: autoOf(o.dropAttn) !== undefined, ffn: autoOf(o.dropFfn) !== undefined };
  if (wants.block || wants.attn || wants.ffn) {
    const fromAdapter = o.gates && o.gates !== 'model' ? await adapterInfluence(o.gates) : undefined;
    if (fromAdapter && (!wants.block || fromAdapter.block) && (!wants.attn || fromAdapter.attn) && (!wants.ffn || fromAdapter.ffn)) {
      influence = fromAdapter;
      influenceSource = `calibration text of ${o.gates}`;
    } else {
      if (!influenceText) throw new Error('automatic drop lists need influence ranks: give --depth-gates from llama4 calibrate, or a text');
      const nCtx = 256;
      const toks = model.tokenizer.encode(influenceText, { addSpecial: true, parseSpecial: false });
      const chunks = chunkTokens(toks, Math.min(nCtx, toks.length), model.tokenizer.vocab.addBos ? model.tokenizer.vocab.bos : null).slice(0, 2);
      const ctx = model.createContext({ nCtx, nBatch: nCtx });
      influence = await measureInfluence(ctx, chunks);
      influenceSource = 'the first tokens of the evaluated text';
    }
  }
  const dropped = o.dropAuto !== undefined ? staticDropList(influence!.block!, o.dropAuto) : (o.dropLayers ?? []);
  const sub = (d: SublayerDrop | undefined, inf: number[] | undefined) =>
    d === undefined ? [] : Array.isArray(d) ? [...new Set(d)].sort((a, b) => a - b) : staticDropList(inf!, d.auto);
  const droppedAttn = sub(o.dropAttn, influence?.attn);
  const droppedFff = sub(o.dropFfn, influence?.ffn);
  const policy: DepthPolicy = { kv: o.kv ?? 'fill', prefill: o.prefill ?? false };
  if (gates) policy.gates = gates;
  if (o.threshold !== undefined) policy.threshold = o.threshold;
  if (o.sharedThreshold !== undefined) {
    if (!gates) throw new Error('--depth-shared needs --depth-gates');
    policy.sharedThreshold = o.sharedThreshold;
  }
  if (dropped.length) policy.drop = dropped;
  if (droppedAttn.length) policy.dropAttn = droppedAttn;
  if (droppedFff.length) policy.dropFfn = droppedFff;
  if (o.keepDroppedKv) policy.freeDroppedKv = false;
  return { policy, dropped, droppedAttn, droppedFfn: droppedFff, influenceSource };
}

/** One line naming the static drops (for stderr), or '' when there are none. */
export function dropsLine(r: ResolvedDepth): string {
  const parts: string[] = [];
  if (r.dropped.length) parts.push(`blocks ${r.dropped.join(',')}`);
  if (r.droppedAttn.length) parts.push(`attention of blocks ${r.droppedAttn.join(',')}`);
  if (r.droppedFfn.length) parts.push(`FFN of blocks ${r.droppedFfn.join(',')}`);
  if (!parts.length) return '';
  return `llama4: static drop of ${parts.join('; ')}${r.influenceSource ? ` (influence from ${r.influenceSource})` : ''}\n`;
}

/** Per-run summary of depth sparsity from a context's statistics. */
export function depthSummary(st: { blockRuns: number[]; blockSkips: number[]; routedTokens: number; expertEvals: number }, nLayer: number) {
  const routed = st.routedTokens;
  const runs = st.blockRuns.reduce((a, b) => a + b, 0);
  return {
    routedTokens: routed,
    blocksPerToken: routed ? runs / routed : nLayer,
    skipPerBlock: layerSkipRates(st.blockRuns, st.blockSkips),
  };
}
