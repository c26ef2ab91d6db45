// `llama4 info MODEL.gguf`: architecture, hyper-parameters, tokenizer, tensor table and totals; for a
// split model (any part's path) also its parts.
import { UsageError } from './io.js';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { addon, type CacheType, type GgufHeader, type GgufKv, type GgufValue } from '../native/addon.js';
import { key, Metadata } from '../gguf/metadata.js';
import { formatBytes, formatParams, table } from './format.js';
import { addCacheTypeFlags, addPlacementFlags, intArg, MODEL_HELP, modelArg, placementOptions, type PlacementFlags } from './flags.js';
import { InvalidArgumentError } from 'commander';
import { planForHeader, usableGpu } from '../engine/gpu.js';
import { parseByteSize, type GpuMemory, type Placement } from '../engine/placement.js';
import { renderPlacement } from './placement.js';
import { cudaLine } from './version.js';

export interface InfoOptions extends PlacementFlags {
  json?: boolean;
  all?: boolean;
  fullArrays?: boolean;
  /** plan the placement for a GPU with this much free memory (bytes) instead of the one present */
  vram?: number;
  ctxSize?: number;
  batchSize?: number;
  cacheTypeK?: CacheType;
  cacheTypeV?: CacheType;
}

const SHORT_ARRAY = 8;

function jsonValue(v: GgufValue, limit: number): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const arr = Array.from(v as ArrayLike<unknown>).slice(0, limit);
    return arr.map((x) => (typeof x === 'bigint' ? x.toString() : x));
  }
  return v;
}

function textValue(kv: GgufKv, limit: number): string {
  const v = kv.value;
  if (kv.type !== 'array') return typeof v === 'string' ? JSON.stringify(v.length > 200 && limit !== Infinity ? v.slice(0, 200) + '…' : v) : String(v);
  const items = jsonValue(v, limit) as unknown[];
  const shown = items.map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x))).join(', ');
  const more = (kv.count ?? 0) > items.length ? `, … (${kv.count} total)` : '';
  return `[${shown}${more}]`;
}

export interface ModelSummary {
  file: { path: string; size: number; version: number; alignment: number; tensorCount: number; metadataCount: number };
  architecture: string;
  name?: string;
  hparams?: GgufHeader['hparams'];
  hparamsError?: string;
  tokenizer?: {
    model?: string;
    pre?: string;
    tokens: number;
    merges: number;
    bos?: number;
    eos?: number;
    eot?: number;
    addBos?: boolean;
    chatTemplate: boolean;
  };
  /** a split model's files, part 1 first (absent for a single file) */
  parts?: { path: string; size: number; tensors: number; tensorBytes: number }[];
  /** `part`: the 1-based part holding the tensor, for a split model */
  tensors: { name: string; type: string; shape: number[]; bytes: number; part?: number }[];
  totals: { parameters: number; tensorBytes: number; fileSize: number; bitsPerWeight: number; types: Record<string, number> };
}

export function summarize(h: GgufHeader): ModelSummary {
  const md = new Metadata(h);
  const arch = md.arch;
  const tokensKey = key('TOKENIZER_TOKENS');
  const params = h.tensors.reduce((s, t) => s + t.elements, 0);
  const tensorBytes = h.tensors.reduce((s, t) => s + t.bytes, 0);
  const types: Record<string, number> = {};
  for (const t of h.tensors) types[t.type] = (types[t.type] ?? 0) + 1;
  return {
    file: {
      path: h.path,
      size: h.fileSize,
      version: h.version,
      alignment: h.alignment,
      tensorCount: h.tensors.length,
      metadataCount: h.metadata.length,
    },
    architecture: arch,
    name: md.string(key('GENERAL_NAME')),
    hparams: h.hparams,
    hparamsError: h.hparamsError,
    tokenizer: md.has(tokensKey)
      ? {
          model: md.string(key('TOKENIZER_MODEL')),
          pre: md.string(key('TOKENIZER_PRE')),
          tokens: md.count(tokensKey) ?? 0,
          merges: md.count(key('TOKENIZER_MERGES')) ?? 0,
          bos: md.number(key('TOKENIZER_BOS_ID')),
          eos: md.number(key('TOKENIZER_EOS_ID')),
          eot: md.number(key('TOKENIZER_EOT_ID')),
          addBos: md.bool(key('TOKENIZER_ADD_BOS')),
          chatTemplate: md.has(key('TOKENIZER_CHAT_TEMPLATE')),
        }
      : undefined,
    ...(h.parts ? { parts: h.parts.map((p) => ({ path: p.path, size: p.fileSize, tensors: p.tensorCount, tensorBytes: p.tensorBytes })) } : {}),
    tensors: h.tensors.map((t) => ({ name: t.name, type: t.type, shape: t.shape, bytes: t.bytes, ...(h.parts ? { part: t.part + 1 } : {}) })),
    totals: {
      parameters: params,
      tensorBytes,
      fileSize: h.fileSize,
      bitsPerWeight: params > 0 ? (tensorBytes * 8) / params : 0,
      types,
    },
  };
}

function layerList(flags: boolean[]): string {
  const idx = flags.map((f, i) => (f ? i : -1)).filter((i) => i >= 0);
  if (idx.length === flags.length) return 'all';
  if (idx.length === 0) return 'none';
  return idx.length > 16 ? `${idx.slice(0, 16).join(',')},… (${idx.length})` : idx.join(',');
}

export function renderText(s: ModelSummary, h: GgufHeader, opts: InfoOptions): string {
  const out: string[] = [];
  out.push(`file:          ${s.file.path}`);
  out.push(
    `format:        GGUF v${s.file.version}, alignment ${s.file.alignment}, ${s.file.metadataCount} metadata keys, ${s.file.tensorCount} tensors, ` +
      `${formatBytes(s.file.size)}${s.parts ? ` in ${s.parts.length} parts` : ''}`,
  );
  if (s.parts) {
    out.push(`parts:         ${s.parts.length} files (split model: metadata in part 1, tensors spread over all)`);
    const rows = [['part', 'file', 'size', 'tensors', 'tensor bytes'], ...s.parts.map((p, i) => [String(i + 1), basename(p.path), formatBytes(p.size), String(p.tensors), String(p.tensorBytes)])];
    out.push(table(rows, [true, false, true, true, true]).replace(/^/gm, '  '));
  }
  out.push(`architecture:  ${s.architecture || '(none)'}${s.name ? `  (${s.name})` : ''}`);
  const hp = s.hparams;
  if (hp) {
    const uniq = (a: number[]) => [...new Set(a)].join('/');
    out.push(`layers:        ${hp.blockCount}`);
    out.push(`embedding:     ${hp.embeddingLength}`);
    out.push(`heads:         ${uniq(hp.headCount)} (KV heads ${uniq(hp.headCountKv)}, head dim ${hp.headDimK})`);
    out.push(`feed-forward:  ${uniq(hp.feedForwardLength)}`);
    out.push(`context:       ${hp.contextLength}`);
    out.push(`rope:          base ${hp.ropeFreqBase}, scale ${hp.ropeFreqScale}, ${hp.ropeDims} dims${hp.ropeScalingType !== 'linear' ? `, ${hp.ropeScalingType}` : ''}`);
    out.push(`rms eps:       ${hp.rmsEps.toExponential(1)}`);
    if (hp.expertCount > 0) {
      out.push(`experts:       ${hp.expertCount}, ${hp.expertUsedCount} used per token, expert FFN ${hp.expertFeedForwardLength}`);
      out.push(`MoE layers:    ${layerList(hp.layers.map((l) => l.moe))}${hp.moeLayerStep ? ` (interleave step ${hp.moeLayerStep})` : ''}`);
    }
    if (hp.arch === 'llama4') {
      out.push(`NoPE layers:   ${layerList(hp.layers.map((l) => !l.rope))}`);
      out.push(`chunked attn:  ${hp.chunkSize ? `${hp.chunkSize} tokens on layers ${layerList(hp.layers.map((l) => l.chunked))}` : 'off'}`);
      out.push(`QK norm:       ${hp.useKqNorm ? 'on (RoPE layers)' : 'off'}`);
    }
  } else {
    out.push(`hparams:       ${s.hparamsError ?? 'n/a'}`);
  }
  const t = s.tokenizer;
  if (t) {
    const ids = [t.bos !== undefined ? `bos ${t.bos}` : '', t.eos !== undefined ? `eos ${t.eos}` : '', t.eot !== undefined ? `eot ${t.eot}` : '']
      .filter(Boolean)
      .join(', ');
    out.push(
      `tokenizer:     ${t.model ?? '?'}${t.pre ? ` / ${t.pre}` : ''}, ${t.tokens} tokens${t.merges ? `, ${t.merges} merges` : ''}` +
        `${ids ? `, ${ids}` : ''}${t.addBos !== undefined ? `, add_bos ${t.addBos}` : ''}${t.chatTemplate ? ', chat template' : ''}`,
    );
  } else {
    out.push('tokenizer:     none');
  }
  if (opts.all) {
    out.push('', 'metadata:');
    const limit = opts.fullArrays ? Infinity : SHORT_ARRAY;
    for (const kv of h.metadata) out.push(`  ${kv.key} (${kv.type === 'array' ? `${kv.elementType}[${kv.count}]` : kv.type}) = ${textValue(kv, limit)}`);
  }
  if (s.tensors.length > 0) {
    out.push('', 'tensors:');
    const split = s.parts !== undefined;
    const rows = [
      ['name', 'type', 'shape', 'bytes', ...(split ? ['part'] : [])],
      ...s.tensors.map((x) => [x.name, x.type, `[${x.shape.join(', ')}]`, String(x.bytes), ...(split ? [String(x.part)] : [])]),
    ];
    out.push(table(rows, [false, false, false, true, true]).replace(/^/gm, '  '));
  }
  const tt = s.totals;
  out.push('');
  out.push(
    `totals:        ${formatParams(tt.parameters)} parameters, ${formatBytes(tt.tensorBytes)} of tensors, file ${formatBytes(tt.fileSize)}, ` +
      `${tt.bitsPerWeight.toFixed(2)} bits per weight; types ${Object.entries(tt.types).map(([k, v]) => `${k}×${v}`).join(' ')}`,
  );
  return out.join('\n');
}

export function renderJson(s: ModelSummary & { placement?: unknown }, h: GgufHeader, opts: InfoOptions): string {
  const obj: Record<string, unknown> = { ...s };
  if (opts.all) {
    const limit = opts.fullArrays ? Infinity : SHORT_ARRAY;
    obj.metadata = Object.fromEntries(
      h.metadata.map((kv) => [kv.key, kv.type === 'array' ? { type: kv.elementType, count: kv.count, values: jsonValue(kv.value, limit) } : jsonValue(kv.value, limit)]),
    );
  }
  return JSON.stringify(obj, null, 2);
}

export async function runInfo(path: string, opts: InfoOptions): Promise<string> {
  // Arrays are only needed in full for --all --full-arrays; counts always come back.
  const arrayLimit = opts.all ? (opts.fullArrays ? undefined : SHORT_ARRAY) : 0;
  const h = await addon().readGguf(path, { hparams: true, ...(arrayLimit !== undefined ? { arrayLimit } : {}) });
  const s = summarize(h);
  const plan = h.hparams ? infoPlacement(h, opts) : undefined;
  if (opts.json) return renderJson(plan ? { ...s, placement: jsonPlacement(plan.placement, plan.gpu) } : s, h, opts);
  const text = renderText(s, h, opts);
  if (!plan) return text;
  const head = plan.gpu
    ? `gpu:           ${plan.gpu.name}, ${formatBytes(plan.gpu.freeBytes)} free${plan.assumed ? ' (assumed: --vram)' : ''}; context ${plan.nCtx} tokens`
    : `gpu:           none usable (${cudaLine()})`;
  return `${text}\n\n${head}\n${renderPlacement(plan.placement, plan.gpu?.name ?? 'CUDA0')}`;
}

/** The placement `run` would choose on this machine's GPU, or on one with --vram bytes free. */
function infoPlacement(h: GgufHeader, opts: InfoOptions): { placement: Placement; gpu: GpuMemory | null; assumed: boolean; nCtx: number } {
  const gpu = opts.vram !== undefined ? { name: 'CUDA0', freeBytes: opts.vram, totalBytes: opts.vram } : usableGpu();
  const hp = h.hparams!;
  const nCtx = opts.ctxSize ?? Math.min(4096, hp.contextLength || 4096);
  // bytes per cached value, from the type table (blocks of 32 for the quantized types)
  const types = addon().typeTable();
  const bytes = (t: CacheType = 'f16') => {
    const row = types.find((r) => r.name === t.toUpperCase())!;
    return row.typeSize / row.blockSize;
  };
  const placement = planForHeader(h, placementOptions(opts), { nCtx, kvTypeBytes: { k: bytes(opts.cacheTypeK), v: bytes(opts.cacheTypeV) }, nUbatch: opts.batchSize ?? 512 }, gpu);
  return { placement, gpu, assumed: opts.vram !== undefined, nCtx };
}

function jsonPlacement(p: Placement, gpu: GpuMemory | null): unknown {
  return { gpu, gpuLayers: p.gpuLayers, mode: p.mode, groups: p.groups, vram: p.vram, host: p.host, llamaCppFlags: p.llamaCppFlags, notes: p.notes, devices: p.device };
}

function vramArg(v: string): number {
  try {
    return parseByteSize(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function registerInfo(program: Command): void {
  const cmd = program
    .command('info')
    .description('show a GGUF model: architecture, hyper-parameters, tokenizer, tensors, totals and where its weights would live (GPU placement)')
    .argument('[model]', `${MODEL_HELP}; any part of a split model (or give it with -m)`, modelArg)
    .option('-m, --model <path>', `${MODEL_HELP}, as every other command takes it`, modelArg)
    .option('--json', 'print the same information as JSON')
    .option('--all', 'also dump every metadata key (long arrays shortened)')
    .option('--full-arrays', 'with --all, print arrays in full')
    .option('--vram <size>', 'plan the placement for a GPU with this much free memory (e.g. 24G), as if it were present', vramArg)
    .option('-c, --ctx-size <n>', 'context the placement plans the KV cache for (default: min(4096, training context))', intArg(1, 1 << 24))
    .option('-b, --batch-size <n>', 'tokens per prompt pass the compute buffer is planned for', intArg(1, 65536), 512);
  addCacheTypeFlags(cmd);
  addPlacementFlags(cmd);
  cmd
    .action(async (model: string | undefined, opts: InfoOptions & { model?: string }) => {
      if (model !== undefined && opts.model !== undefined && model !== opts.model) throw new UsageError('give the model once: as an argument or with -m');
      const path = model ?? opts.model;
      if (path === undefined) throw new UsageError('no model: give -m MODEL');
      process.stdout.write((await runInfo(path, opts)) + '\n');
    });
}
