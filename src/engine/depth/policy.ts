// Turning user options into a depth policy: learned gates (adapter or in-model), a threshold override,
// KV mode, gated prefill, and the static-removal baseline (explicit list or ShortGPT block influence).
import type { DepthPolicy } from '../../native/addon.js';
import { addon } from '../../native/addon.js';
import { keyName } from '../../gguf/names.js';
import type { Model } from '../model.js';
import { blockInfluence, chunkTokens, staticDropList } from './calibrate.js';

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
}

export interface ResolvedDepth {
  policy: DepthPolicy | null;
  /** blocks dropped statically, and where their ranking came from */
  dropped: number[];
  influenceSource?: string;
}

/** The block influence stored by `llama4 calibrate` in an adapter, if any. */
export async function adapterInfluence(path: string): Promise<number[] | undefined> {
  const h = await addon().readGguf(path, { arrayLimit: 0 });
  const kv = h.metadata.find((k) => k.key === keyName('DEPTH_GATE_CALIBRATION'));
  if (!kv || typeof kv.value !== 'string') return undefined;
  try {
    const r = JSON.parse(kv.value) as { blockInfluence?: number[] };
    return Array.isArray(r.blockInfluence) ? r.blockInfluence : undefined;
  } catch {
    return undefined;
  }
}

export function hasDepth(o: DepthOptions): boolean {
  return o.gates !== undefined || (o.dropLayers?.length ?? 0) > 0 || o.dropAuto !== undefined;
}

/**
 * Builds the policy. `influenceText` supplies tokens to measure block influence for --drop-auto when the
 * adapter carries none.
 */
export async function resolveDepth(model: Model, o: DepthOptions, influenceText?: string): Promise<ResolvedDepth> {
  if (!hasDepth(o)) return { policy: null, dropped: [] };
  if (o.dropLayers && o.dropAuto !== undefined) throw new Error('give either --drop-layers or --drop-auto, not both');
  const L = model.info.nLayer;
  const gates = o.gates !== undefined ? await model.loadDepthGates(o.gates === 'model' ? '' : o.gates) : undefined;
  let dropped = o.dropLayers ?? [];
  let influenceSource: string | undefined;
  for (const l of dropped) if (!Number.isInteger(l) || l < 0 || l >= L) throw new Error(`--drop-layers: block ${l} does not exist (0..${L - 1})`);
  if (o.dropAuto !== undefined) {
    if (!(o.dropAuto >= 0 && o.dropAuto < 1)) throw new Error(`--drop-auto must be in [0, 1), got ${o.dropAuto}`);
    let bi = o.gates && o.gates !== 'model' ? await adapterInfluence(o.gates) : undefined;
    influenceSource = bi ? `calibration text of ${o.gates}` : undefined;
    if (!bi) {
      if (!influenceText) throw new Error('--drop-auto needs block influence: give --depth-gates from llama4 calibrate, or a text');
      const nCtx = 256;
      const toks = model.tokenizer.encode(influenceText, { addSpecial: true, parseSpecial: false });
      const chunks = chunkTokens(toks, Math.min(nCtx, toks.length), model.tokenizer.vocab.addBos ? model.tokenizer.vocab.bos : null).slice(0, 2);
      const ctx = model.createContext({ nCtx, nBatch: nCtx });
      bi = await blockInfluence(ctx, chunks);
      influenceSource = 'the first tokens of the evaluated text';
    }
    dropped = staticDropList(bi, o.dropAuto);
  }
  const policy: DepthPolicy = { kv: o.kv ?? 'fill', prefill: o.prefill ?? false };
  if (gates) policy.gates = gates;
  if (o.threshold !== undefined) policy.threshold = o.threshold;
  if (o.sharedThreshold !== undefined) {
    if (!gates) throw new Error('--depth-shared needs --depth-gates');
    policy.sharedThreshold = o.sharedThreshold;
  }
  if (dropped.length) policy.drop = dropped;
  return { policy, dropped, influenceSource };
}

/** Per-run summary of depth sparsity from a context's statistics. */
export function depthSummary(st: { blockRuns: number[]; blockSkips: number[]; routedTokens: number; expertEvals: number }, nLayer: number) {
  const routed = st.routedTokens;
  const runs = st.blockRuns.reduce((a, b) => a + b, 0);
  return {
    routedTokens: routed,
    blocksPerToken: routed ? runs / routed : nLayer,
    skipPerBlock: st.blockSkips.map((s, l) => (s + st.blockRuns[l] ? s / (s + st.blockRuns[l]) : 0)),
  };
}
