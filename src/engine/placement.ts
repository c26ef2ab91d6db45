// Where each weight lives: system memory ('CPU') or a GPU ('CUDA0'). Plain code, tested on the CPU: given
// the tensors' sizes, the model's shape and a VRAM budget, it chooses what llama.cpp's flags would.
//
// llama.cpp's rules, which these follow (llama-model.cpp load_tensors, common/arg.cpp, common/fit.cpp):
// - Layers are numbered 0..n_layer-1, and the output (output.weight, output_norm) is layer n_layer. With
//   `-ngl N` the last N of those n_layer+1 go to the GPU (i >= n_layer+1-N); the token embedding (the
//   "input layer") always stays in system memory. A tied output (no output.weight) is a copy of the
//   embedding in the output layer's memory.
// - `-ot REGEX=DEVICE` (repeatable, comma-separated): the first pattern found anywhere in a tensor's name
//   (regex_search) puts it on DEVICE, whatever its layer. `--cpu-moe` is `-ot '\.ffn_(up|down|gate)_exps=CPU'`
//   and `--n-cpu-moe N` adds `blk\.i\.ffn_(up|down|gate)_exps=CPU` for i < N, after the user's -ot.
// - A layer's KV cache lives with its layer (offload_kqv); a GPU needs a compute buffer as soon as it holds
//   a layer.
// - Automatic (`-ngl auto`, the default, without -ot/--cpu-moe/--n-cpu-moe): fit to the free VRAM minus a
//   margin (llama.cpp's --fit target, 1 GiB). Everything, if it fits. A dense model: the most layers from
//   the back that fit. A mixture of experts: routed experts go to system memory first. If every layer's
//   dense part (attention, norms, router, shared expert) fits, all layers go to the GPU and the routed
//   experts of the first layers follow them while they fit, then the up (and gate) projection of one
//   more; otherwise the most dense-only layers from the back.

export type Device = 'CPU' | 'CUDA0';

export interface PlacementTensor {
  name: string;
  bytes: number;
}

export interface PlacementModel {
  tensors: PlacementTensor[];
  nLayer: number;
  /** KV cache bytes of each layer for the context being planned (empty: none counted) */
  kvBytes: number[];
  /** bytes of the GPU's compute buffer (activations, logits) when it holds any layer */
  computeBytes: number;
}

export interface PlacementOptions {
  /** -ngl: a count (0 = CPU only), 'all', or 'auto' (default) */
  gpuLayers?: number | 'all' | 'auto';
  /** --cpu-moe */
  cpuMoe?: boolean;
  /** --n-cpu-moe N */
  nCpuMoe?: number;
  /** -ot REGEX=DEVICE, in order */
  overrides?: TensorOverride[];
}

export interface TensorOverride {
  pattern: string;
  device: Device;
}

export interface GpuMemory {
  name: string;
  freeBytes: number;
  totalBytes: number;
}

export type TensorGroup = 'embedding' | 'attention' | 'norms' | 'dense FFN' | 'router' | 'shared expert' | 'routed experts' | 'output' | 'other';
export const TENSOR_GROUPS: TensorGroup[] = ['embedding', 'attention', 'norms', 'dense FFN', 'router', 'shared expert', 'routed experts', 'output', 'other'];

export interface Placement {
  /** the -ngl in effect (layers from the back, the output counting as one) */
  gpuLayers: number;
  /** 'auto' when fitted to free VRAM, else 'flags' */
  mode: 'auto' | 'flags' | 'cpu';
  device: Record<string, Device>;
  /** bytes per group and device */
  groups: { group: TensorGroup; cpu: number; gpu: number }[];
  vram: { weights: number; kv: number; compute: number; total: number; budget?: number };
  host: { weights: number; kv: number };
  /** the llama.cpp flags that give the same placement */
  llamaCppFlags: string;
  notes: string[];
}

/** llama.cpp's margin for --fit: VRAM left free (1 GiB). */
export const FIT_MARGIN = 1024 ** 3;

/** The routed experts' tensors, as llama.cpp's LLM_FFN_EXPS_REGEX. */
export const EXPS_REGEX = '\\.ffn_(up|down|gate|gate_up)_(ch|)exps';

const LAYER_RE = /^blk\.(\d+)\./;

/** Layer index of a tensor: n_layer for the output, -1 for the input (token embedding), else blk.N. */
export function tensorLayer(name: string, nLayer: number): number {
  const m = LAYER_RE.exec(name);
  if (m) return Number(m[1]);
  if (name.startsWith('output')) return nLayer;
  // rope_freqs is read by every layer (llama.cpp duplicates it into each layer's memory): with the GPU's
  if (name.startsWith('rope_freqs')) return nLayer;
  return -1;
}

export function tensorGroup(name: string): TensorGroup {
  if (name.startsWith('token_embd')) return 'embedding';
  if (name.startsWith('output')) return 'output';
  if (new RegExp(EXPS_REGEX).test(name)) return 'routed experts';
  if (/\.ffn_\w+_shexp\./.test(name)) return 'shared expert';
  if (/\.ffn_gate_inp\./.test(name)) return 'router';
  if (/_norm\./.test(name)) return 'norms';
  if (/\.attn_/.test(name)) return 'attention';
  if (/\.ffn_/.test(name)) return 'dense FFN';
  return 'other'; // rope_freqs, depth gates
}

/** Parse `-ot` values: "REGEX=DEVICE[,REGEX=DEVICE...]"; throws with the reason on a bad one. */
export function parseOverrides(value: string, prev: TensorOverride[] = []): TensorOverride[] {
  const out = [...prev];
  for (const part of value.split(',')) {
    const eq = part.lastIndexOf('=');
    if (eq <= 0) throw new Error(`expected REGEX=DEVICE, e.g. 'exps=CPU' (got '${part}')`);
    const pattern = part.slice(0, eq);
    const dev = part.slice(eq + 1).trim().toUpperCase();
    if (dev !== 'CPU' && dev !== 'CUDA0') throw new Error(`unknown device '${part.slice(eq + 1)}': CPU or CUDA0`);
    try {
      new RegExp(pattern);
    } catch (e) {
      throw new Error(`'${pattern}' is not a valid regular expression: ${(e as Error).message}`);
    }
    out.push({ pattern, device: dev });
  }
  return out;
}

/** The overrides llama.cpp's flags build: the user's -ot first, then --cpu-moe, then --n-cpu-moe. */
export function flagOverrides(opts: PlacementOptions): TensorOverride[] {
  const out = [...(opts.overrides ?? [])];
  if (opts.cpuMoe) out.push({ pattern: EXPS_REGEX, device: 'CPU' });
  for (let i = 0; i < (opts.nCpuMoe ?? 0); i++) out.push({ pattern: `blk\\.${i}${EXPS_REGEX}`, device: 'CPU' });
  return out;
}

interface Layout {
  ngl: number;
  overrides: TensorOverride[];
}

/** The first layer index on the GPU (-ngl counts from the back, the output being layer n_layer). */
const gpuStart = (model: PlacementModel, layout: Layout) => Math.max(model.nLayer + 1 - layout.ngl, 0);

function assign(model: PlacementModel, layout: Layout): Record<string, Device> {
  const res = layout.overrides.map((o) => ({ re: new RegExp(o.pattern), device: o.device }));
  const start = gpuStart(model, layout);
  const dev: Record<string, Device> = {};
  for (const t of model.tensors) {
    const hit = res.find((o) => o.re.test(t.name));
    if (hit) {
      dev[t.name] = hit.device;
      continue;
    }
    const il = tensorLayer(t.name, model.nLayer);
    dev[t.name] = il >= 0 && il >= start && layout.ngl > 0 ? 'CUDA0' : 'CPU';
  }
  return dev;
}

interface Usage {
  weights: number;
  kv: number;
  compute: number;
  total: number;
  hostWeights: number;
  hostKv: number;
  /** bytes of the embedding's copy a tied output puts on the GPU (counted in weights) */
  tiedCopy: number;
}

function usage(model: PlacementModel, layout: Layout, dev: Record<string, Device>): Usage {
  let weights = 0;
  let hostWeights = 0;
  for (const t of model.tensors) {
    if (dev[t.name] === 'CUDA0') weights += t.bytes;
    else hostWeights += t.bytes;
  }
  // A tied output is a copy of the embedding in the output layer's memory.
  // (the output layer is on the GPU whenever -ngl > 0: it is the first one counted)
  const hasOutput = model.tensors.some((t) => t.name === 'output.weight');
  const embd = model.tensors.find((t) => t.name === 'token_embd.weight');
  const tiedCopy = !hasOutput && embd && layout.ngl > 0 && dev[embd.name] === 'CPU' ? embd.bytes : 0;
  weights += tiedCopy;
  const start = gpuStart(model, layout);
  let kv = 0;
  let hostKv = 0;
  model.kvBytes.forEach((b, il) => {
    if (layout.ngl > 0 && il >= start) kv += b;
    else hostKv += b;
  });
  const compute = layout.ngl > 0 || weights > 0 ? model.computeBytes : 0;
  return { weights, kv, compute, total: weights + kv + compute, hostWeights, hostKv, tiedCopy };
}

const expsOf = (layers: number[], which = '(up|down|gate|gate_up)'): TensorOverride[] =>
  layers.length === 0 ? [] : [{ pattern: `blk\\.(${layers.join('|')})\\.ffn_${which}_(ch|)exps`, device: 'CPU' }];

/** The largest n in [lo, hi] with ok(n), given ok(lo) and ok monotone (true up to some n, false after). */
function largest(lo: number, hi: number, ok: (n: number) => boolean): number {
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The layout `-ngl auto` chooses for one GPU with `budget` bytes usable (free VRAM minus the margin). */
function fit(model: PlacementModel, budget: number): Layout {
  const all = model.nLayer + 1;
  const fits = (l: Layout) => usage(model, l, assign(model, l)).total <= budget;
  const full: Layout = { ngl: all, overrides: [] };
  if (fits(full)) return full;
  const moe = model.tensors.some((t) => tensorGroup(t.name) === 'routed experts');
  // the most layers from the back that fit, with `ov` applied (usage grows with ngl: binary search)
  const mostLayers = (ov: TensorOverride[]): Layout => ({ ngl: largest(0, all, (n) => fits({ ngl: n, overrides: ov })), overrides: ov });
  if (!moe) return mostLayers([]);
  const layers = [...Array(model.nLayer).keys()];
  const denseOnly: Layout = { ngl: all, overrides: expsOf(layers) };
  if (!fits(denseOnly)) return mostLayers(expsOf(layers));
  // every dense part fits: the first nFull layers take their experts too
  const withFull = (n: number): Layout => ({ ngl: all, overrides: expsOf(layers.slice(n)) });
  const lo = largest(0, model.nLayer, (n) => fits(withFull(n)));
  let best = withFull(lo);
  if (lo < model.nLayer) {
    // part of one more layer: its up projection, then also its gate (llama.cpp's LAYER_FRACTION_UP/GATE)
    const rest = layers.slice(lo + 1);
    for (const keep of ['up', 'up|gate']) {
      const off = ['up', 'gate', 'down', 'gate_up'].filter((p) => !keep.split('|').includes(p)).join('|');
      const l: Layout = { ngl: all, overrides: [...expsOf([lo], `(${off})`), ...expsOf(rest)] };
      if (!fits(l)) break;
      best = l;
    }
  }
  return best;
}

/** Plans the placement; `gpu` null: no usable GPU (everything in system memory). */
export function planPlacement(model: PlacementModel, opts: PlacementOptions, gpu: GpuMemory | null, margin = FIT_MARGIN): Placement {
  const all = model.nLayer + 1;
  const userLayout = opts.overrides?.length || opts.cpuMoe || opts.nCpuMoe !== undefined;
  const notes: string[] = [];
  let layout: Layout;
  let mode: Placement['mode'];
  let budget: number | undefined;
  if (!gpu) {
    layout = { ngl: 0, overrides: [] };
    mode = 'cpu';
    if (opts.gpuLayers !== undefined && opts.gpuLayers !== 'auto' && opts.gpuLayers !== 0) notes.push('no usable GPU: -ngl is ignored');
  } else if (opts.gpuLayers === undefined || opts.gpuLayers === 'auto') {
    if (userLayout) {
      // llama.cpp's --fit leaves a layout the user spelled alone; all layers then, as -ngl all
      layout = { ngl: all, overrides: flagOverrides(opts) };
      mode = 'flags';
    } else {
      budget = Math.max(0, gpu.freeBytes - margin);
      layout = fit(model, budget);
      mode = 'auto';
    }
  } else {
    const ngl = opts.gpuLayers === 'all' ? all : Math.min(opts.gpuLayers, all);
    layout = { ngl, overrides: flagOverrides(opts) };
    mode = 'flags';
  }
  const device = assign(model, layout);
  const u = usage(model, layout, device);
  if (gpu && u.total > gpu.freeBytes) {
    notes.push(`needs ${(u.total / 1024 ** 3).toFixed(2)} GiB of VRAM, ${gpu.name} has ${(gpu.freeBytes / 1024 ** 3).toFixed(2)} GiB free`);
  }
  const groups = TENSOR_GROUPS.map((group) => {
    let cpu = 0;
    let g = 0;
    for (const t of model.tensors) {
      if (tensorGroup(t.name) !== group) continue;
      if (device[t.name] === 'CUDA0') g += t.bytes;
      else cpu += t.bytes;
    }
    return { group, cpu, gpu: g };
  }).filter((g) => g.cpu + g.gpu > 0);
  if (u.tiedCopy) {
    const out = groups.find((g) => g.group === 'output');
    if (out) out.gpu += u.tiedCopy;
    else groups.push({ group: 'output', cpu: 0, gpu: u.tiedCopy });
  }
  const ot = layout.overrides.map((o) => `-ot '${o.pattern}=${o.device}'`).join(' ');
  return {
    gpuLayers: layout.ngl,
    mode,
    device,
    groups,
    vram: { weights: u.weights, kv: u.kv, compute: u.compute, total: u.total, ...(budget !== undefined ? { budget } : {}) },
    host: { weights: u.hostWeights, kv: u.hostKv },
    llamaCppFlags: `-ngl ${layout.ngl}${ot ? ` ${ot}` : ''}`,
    notes,
  };
}

/** Parse a byte size: "24G", "24GiB", "8000M", "1.5T", or plain bytes (1024-based, as llama.cpp's MiB). */
export function parseByteSize(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(v);
  if (!m) throw new Error(`expected a size such as 24G, 8000M or 24GiB (got '${v}')`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

/** What a planned context needs besides the weights: KV cache per layer and the compute buffer. */
export interface ContextShape {
  nCtx: number;
  /** bytes per KV element: 2 for f16, 4 for f32 (per K and V) */
  kvTypeBytes: { k: number; v: number };
  /** tokens per prompt pass (llama.cpp's n_ubatch) */
  nUbatch: number;
}

interface ShapeHparams {
  blockCount: number;
  embeddingLength: number;
  headCount: number[];
  headCountKv: number[];
  headDimK: number;
  headDimV: number;
  feedForwardLength: number[];
  vocabSize: number;
  expertUsedCount: number;
  expertFeedForwardLength: number;
}

/**
 * The planner's view of a model file: its tensors, the KV cache per layer for `ctx`, and an estimate of the
 * compute buffer (f32 activations of one prompt pass: the logits of its last position only, the residual and
 * norm rows, Q/K/V and the attention output, the widest FFN's gate/up/down rows, the attention tile).
 */
export function placementModel(tensors: PlacementTensor[], hp: ShapeHparams, ctx: ContextShape): PlacementModel {
  const n = hp.blockCount;
  const at = (a: number[], i: number) => a[Math.min(i, a.length - 1)] ?? 0;
  const kvBytes = [...Array(n).keys()].map((il) => ctx.nCtx * at(hp.headCountKv, il) * (hp.headDimK * ctx.kvTypeBytes.k + hp.headDimV * ctx.kvTypeBytes.v));
  const ff = Math.max(...hp.feedForwardLength, hp.expertFeedForwardLength * Math.max(1, hp.expertUsedCount));
  const heads = Math.max(...hp.headCount);
  const ub = ctx.nUbatch;
  const computeBytes = 4 * (hp.vocabSize + ub * (4 * hp.embeddingLength + 2 * heads * hp.headDimK + 3 * ff + heads * Math.min(ctx.nCtx, 256)));
  return { tensors, nLayer: n, kvBytes, computeBytes };
}
