// Model quantization (llama.cpp's llama-quantize without an importance matrix): per-tensor type choice
// mirroring llama_tensor_get_type (src/llama-quant.cpp), native per-row quantization, and a streaming
// GGUF writer, one slab of rows at a time, so multi-GB inputs never sit in memory.
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { addon, type GgufHeader, type GgufKv, type GgufTensor, type TypeRow } from '../native/addon.js';
import { GgufWriter, type GgufMetaType, type GgufWriteValue, type TensorChunk } from '../gguf/writer.js';
import { key, Metadata } from '../gguf/metadata.js';
import { tensorName } from '../gguf/names.js';

// ggml type ids (GGUF tensor `type`).
export const GGML = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8,
  Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, IQ4_NL: 20, BF16: 30,
} as const;

// llama_ftype values (include/llama.h), stored as general.file_type.
export const FTYPE = {
  Q4_0: 2, Q4_1: 3, Q8_0: 7, Q5_0: 8, Q5_1: 9, Q2_K: 10, Q3_K_S: 11, Q4_K_S: 14, Q4_K_M: 15,
  Q5_K_S: 16, Q5_K_M: 17, Q6_K: 18, IQ4_NL: 25,
} as const;
type Ftype = (typeof FTYPE)[keyof typeof FTYPE];

export interface QuantTypeInfo {
  /** the name llama4 quantize accepts (case-insensitive) */
  name: string;
  ftype: Ftype;
  /** the ggml type most tensors get (llama_ftype_get_default_type) */
  defaultType: number;
  description: string;
}

/**
 * The TYPE argument. The plain K names are llama.cpp's "_S" (small) mixes, i.e. the default type everywhere
 * except llama.cpp's fixed exceptions (output/tied embeddings to Q6_K, ...); Q4_K_M / Q5_K_M are the mixes
 * that spend more bits on attn_v and ffn_down. (llama-quantize's own aliases differ: its "Q4_K" means Q4_K_M.)
 */
export const QUANT_TYPES: readonly QuantTypeInfo[] = [
  { name: 'Q4_0', ftype: FTYPE.Q4_0, defaultType: GGML.Q4_0, description: '4.5 bpw, legacy symmetric' },
  { name: 'Q4_1', ftype: FTYPE.Q4_1, defaultType: GGML.Q4_1, description: '5.0 bpw, legacy with min' },
  { name: 'Q5_0', ftype: FTYPE.Q5_0, defaultType: GGML.Q5_0, description: '5.5 bpw, legacy symmetric' },
  { name: 'Q5_1', ftype: FTYPE.Q5_1, defaultType: GGML.Q5_1, description: '6.0 bpw, legacy with min' },
  { name: 'Q8_0', ftype: FTYPE.Q8_0, defaultType: GGML.Q8_0, description: '8.5 bpw' },
  { name: 'Q2_K', ftype: FTYPE.Q2_K, defaultType: GGML.Q2_K, description: 'llama.cpp Q2_K mix (attn_v/ffn_down/attn_output Q3_K+)' },
  { name: 'Q3_K', ftype: FTYPE.Q3_K_S, defaultType: GGML.Q3_K, description: '= Q3_K_S' },
  { name: 'Q3_K_S', ftype: FTYPE.Q3_K_S, defaultType: GGML.Q3_K, description: 'Q3_K everywhere but the output' },
  { name: 'Q4_K', ftype: FTYPE.Q4_K_S, defaultType: GGML.Q4_K, description: '= Q4_K_S' },
  { name: 'Q4_K_S', ftype: FTYPE.Q4_K_S, defaultType: GGML.Q4_K, description: 'Q4_K, first attn_v/ffn_down layers Q5_K' },
  { name: 'Q4_K_M', ftype: FTYPE.Q4_K_M, defaultType: GGML.Q4_K, description: 'Q4_K, half of attn_v/ffn_down Q6_K' },
  { name: 'Q5_K', ftype: FTYPE.Q5_K_S, defaultType: GGML.Q5_K, description: '= Q5_K_S' },
  { name: 'Q5_K_S', ftype: FTYPE.Q5_K_S, defaultType: GGML.Q5_K, description: 'Q5_K everywhere but the output' },
  { name: 'Q5_K_M', ftype: FTYPE.Q5_K_M, defaultType: GGML.Q5_K, description: 'Q5_K, half of attn_v/ffn_down Q6_K' },
  { name: 'Q6_K', ftype: FTYPE.Q6_K, defaultType: GGML.Q6_K, description: '6.56 bpw' },
  { name: 'IQ4_NL', ftype: FTYPE.IQ4_NL, defaultType: GGML.IQ4_NL, description: '4.5 bpw non-linear' },
];

export function quantTypeNames(): string[] {
  return QUANT_TYPES.map((t) => t.name);
}

export function parseQuantType(name: string): QuantTypeInfo {
  const t = QUANT_TYPES.find((q) => q.name === name.trim().toUpperCase());
  if (!t) throw new Error(`unknown quantization type '${name}'; valid types: ${quantTypeNames().join(', ')}`);
  return t;
}

let rows: TypeRow[] | undefined;
function typeRow(id: number): TypeRow {
  rows ??= addon().typeTable();
  const r = rows.find((x) => x.id === id);
  if (!r) throw new Error(`unknown ggml type id ${id}`);
  return r;
}
const typeNameOf = (id: number) => typeRow(id).name;
const blockSize = (id: number) => typeRow(id).blockSize;

// ---- per-tensor type choice (llama_tensor_get_type, no imatrix, no overrides) ------------------------

type Category =
  | 'TOKEN_EMBD' | 'ATTN_Q' | 'ATTN_V' | 'ATTN_K' | 'ATTN_QKV' | 'ATTN_KV_B' | 'ATTN_OUTPUT'
  | 'FFN_UP' | 'FFN_GATE' | 'FFN_DOWN' | 'OUTPUT' | 'OTHER';

// llama.cpp matches broad categories by substring (so ffn_down matches ffn_down_exps / ffn_down_shexp);
// first match wins, in this order (tensor_get_category).
const CATEGORY_SUBSTRINGS: ReadonlyArray<[string, Category]> = [
  ['attn_qkv.weight', 'ATTN_QKV'],
  ['attn_kv_b.weight', 'ATTN_KV_B'],
  ['attn_v.weight', 'ATTN_V'],
  ['attn_k.weight', 'ATTN_K'],
  ['attn_q.weight', 'ATTN_Q'],
  ['attn_output.weight', 'ATTN_OUTPUT'],
  ['ffn_up', 'FFN_UP'],
  ['ffn_gate', 'FFN_GATE'],
  ['ffn_down', 'FFN_DOWN'],
];

function category(name: string): Category {
  if (name === tensorName('OUTPUT')) return 'OUTPUT';
  if (name === tensorName('TOKEN_EMBD') || name === 'per_layer_token_embd.weight') return 'TOKEN_EMBD';
  for (const [s, c] of CATEGORY_SUBSTRINGS) if (name.includes(s)) return c;
  return 'OTHER';
}

const isAttnV = (c: Category) => c === 'ATTN_V' || c === 'ATTN_QKV' || c === 'ATTN_KV_B';

// tensor_allows_quantization: names (substrings) llama.cpp never quantizes, besides norms and 1-D tensors.
const NEVER_QUANTIZED = [
  '_norm.weight', 'ffn_gate_inp.weight', // norms, MoE router (kept F32)
  'ffn_gate_tid2eid.weight', 'altup', 'laurel', 'per_layer_model_proj', 'ssm_conv1d', 'shortconv.conv.weight',
  'indexer.k_proj.weight', 'indexer.q_proj.weight', 'time_mix_first.weight', 'time_mix_w0.weight',
  'time_mix_w1.weight', 'time_mix_w2.weight', 'time_mix_v0.weight', 'time_mix_v1.weight', 'time_mix_v2.weight',
  'time_mix_a0.weight', 'time_mix_a1.weight', 'time_mix_a2.weight', 'time_mix_g1.weight', 'time_mix_g2.weight',
  'time_mix_decay_w1.weight', 'time_mix_decay_w2.weight', 'time_mix_lerp_fused.weight', 'attn_rel_b.weight',
  '.position_embd', 'sam.pos_embd', 'sam.neck.', 'sam.net_', '.rel_pos', '.patch_embd', '.patch_merger',
  'a.rvq.codebook', 'mm.a.code_embd',
];
const NEVER_QUANTIZED_EXACT = ['position_embd.weight', 'token_types.weight'];

/** ggml_n_dims: trailing dimensions of 1 do not count. */
function nDims(shape: readonly number[]): number {
  let n = shape.length;
  while (n > 1 && shape[n - 1] === 1) n--;
  return n;
}

export function allowsQuantization(name: string, shape: readonly number[]): boolean {
  if (nDims(shape) < 2) return false; // only 2-D and 3-D (expert) tensors
  if (!name.endsWith('weight')) return false;
  if (NEVER_QUANTIZED.some((s) => name.includes(s))) return false;
  return !NEVER_QUANTIZED_EXACT.includes(name);
}

/** Model facts the rules read (llama.cpp's hparams). */
export interface ModelFacts {
  arch: string;
  nLayer: number;
  nExpert: number;
  /** n_head / n_head_kv of layer 0 (0 when n_head_kv is 0) */
  nGqa: number;
  /** llama.cpp's LLM_TYPE_70B: a llama with 80 layers and grouped-query attention */
  is70B: boolean;
}

export function modelFacts(md: Metadata): ModelFacts {
  const arch = md.arch;
  const first = (k: string): number => {
    const v = md.value(k);
    if (v === undefined) return 0;
    if (typeof v === 'object' && v !== null && 'length' in v) return v.length ? Number((v as ArrayLike<number | bigint>)[0]) : 0;
    return Number(v);
  };
  const nLayer = first(key('BLOCK_COUNT', arch));
  const nHead = first(key('ATTN_HEAD_COUNT', arch));
  const nHeadKvKey = key('ATTN_HEAD_COUNT_KV', arch);
  const nHeadKv = md.has(nHeadKvKey) ? first(nHeadKvKey) : nHead; // llama.cpp defaults n_head_kv to n_head
  return {
    arch,
    nLayer,
    nExpert: first(key('EXPERT_COUNT', arch)),
    nGqa: nHeadKv ? Math.trunc(nHead / nHeadKv) : 0,
    is70B: arch === 'llama' && nLayer === 80 && nHead !== nHeadKv,
  };
}

/** llama.cpp's tensor order (weight_name_comparer): by block index (-1 for non-block tensors), then by name. */
export function llamaCppOrder<T extends { name: string }>(tensors: readonly T[]): T[] {
  const layer = (n: string) => {
    const m = /^blk\.(\d+)\./.exec(n);
    return m ? Number(m[1]) : -1;
  };
  return [...tensors].sort((a, b) => layer(a.name) - layer(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface TensorPlan {
  tensor: GgufTensor;
  /** output ggml type id */
  type: number;
  /** true when the data is converted (else copied as is) */
  convert: boolean;
  /** set when the first choice did not fit the row length (llama.cpp's tensor_type_fallback) */
  fallbackFrom?: number;
}

/**
 * Output types for every tensor, in llama.cpp's processing order (its counters for attn_v / ffn_down depend
 * on it). Mirrors llama_tensor_get_type / llama_tensor_get_type_impl for the ftypes in QUANT_TYPES.
 */
export function planTensors(tensors: readonly GgufTensor[], facts: ModelFacts, q: QuantTypeInfo): TensorPlan[] {
  const ft = q.ftype;
  const ordered = llamaCppOrder(tensors);
  const cats = ordered.map((t) => category(t.name));
  const hasTiedEmbeddings = !cats.includes('OUTPUT');
  const nAttnV = cats.filter(isAttnV).length;
  let iAttnV = 0;
  let iFfnDown = 0;
  const falcon = facts.arch === 'falcon';
  const useMoreBits = (i: number, n: number) =>
    i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;
  // (layer, n_layer) of an FFN tensor: the counter for dense models, the name's block index for MoE
  // (experts are not consecutive in Mixtral files).
  const layerInfo = (counter: number, name: string): [number, number] => {
    if (Math.max(1, facts.nExpert) > 1) {
      const m = /^blk\.(-?\d+)\./.exec(name);
      if (!m) throw new Error(`failed to determine the layer of tensor ${name}`);
      const il = Number(m[1]);
      if (il < 0 || il >= facts.nLayer) throw new Error(`bad layer ${il} for tensor ${name}; must be in [0, ${facts.nLayer})`);
      return [il, facts.nLayer];
    }
    return [counter, facts.nLayer];
  };

  const plans: TensorPlan[] = [];
  ordered.forEach((t, idx) => {
    const cat = cats[idx];
    if (!allowsQuantization(t.name, t.shape)) {
      plans.push({ tensor: t, type: t.typeId, convert: false });
      return;
    }
    let nt: number = q.defaultType;
    if (cat === 'OUTPUT' || (hasTiedEmbeddings && cat === 'TOKEN_EMBD')) {
      // the output matrix (or the tied embeddings that serve as it): Q6_K, or Q8_0 where rows do not fit
      if (falcon || t.shape[0] % blockSize(nt) !== 0) nt = GGML.Q8_0;
      else if (nt !== GGML.Q8_0) nt = GGML.Q6_K;
    } else if (cat === 'TOKEN_EMBD') {
      // untied token embeddings: the default type for these ftypes
    } else if (isAttnV(cat)) {
      // (attn_qkv and attn_kv_b count as attn_v; llama.cpp's separate attn_qkv branch is never reached)
      if (ft === FTYPE.Q2_K) nt = facts.nGqa >= 4 ? GGML.Q4_K : GGML.Q3_K;
      else if (ft === FTYPE.IQ4_NL && facts.nGqa >= 4) nt = GGML.Q5_K;
      else if ((ft === FTYPE.Q4_K_M || ft === FTYPE.Q5_K_M) && useMoreBits(iAttnV, nAttnV)) nt = GGML.Q6_K;
      else if (ft === FTYPE.Q4_K_S && iAttnV < 4) nt = GGML.Q5_K;
      // 70B: attn_v is 8x smaller than attn_q (8 heads share it), so more bits are nearly free
      if (facts.is70B && (nt === GGML.Q3_K || nt === GGML.Q4_K)) nt = GGML.Q5_K;
      if (facts.nExpert === 8) nt = GGML.Q8_0; // Mixtral-8x: ~128 MB for a clear gain
      iAttnV++;
    } else if (cat === 'ATTN_K') {
      if (facts.nExpert === 8) nt = GGML.Q8_0;
    } else if (cat === 'ATTN_Q') {
      // only IQ3 mixes change attn_q
    } else if (cat === 'FFN_DOWN') {
      const [il, nl] = layerInfo(iFfnDown, t.name);
      if (ft === FTYPE.Q2_K) nt = GGML.Q3_K;
      else if (ft === FTYPE.Q4_K_M) {
        if (falcon) nt = il < Math.trunc(nl / 16) ? GGML.Q6_K : useMoreBits(il, nl) ? GGML.Q5_K : GGML.Q4_K;
        else if (useMoreBits(il, nl)) nt = GGML.Q6_K;
      } else if (il < Math.trunc(nl / 8) && ft === FTYPE.IQ4_NL) nt = GGML.Q5_K;
      else if (ft === FTYPE.Q5_K_M && useMoreBits(il, nl)) nt = GGML.Q6_K;
      else if (ft === FTYPE.Q4_K_S && !falcon && il < Math.trunc(nl / 8)) nt = GGML.Q5_K;
      iFfnDown++;
    } else if (cat === 'ATTN_OUTPUT') {
      if (!falcon) {
        if (facts.nExpert === 8) {
          const bump: number[] = [FTYPE.Q2_K, FTYPE.Q3_K_S, FTYPE.IQ4_NL, FTYPE.Q4_K_S, FTYPE.Q4_K_M];
          if (bump.includes(ft)) nt = GGML.Q5_K;
        } else if (ft === FTYPE.Q2_K) nt = GGML.Q3_K;
      }
    } else if (cat === 'FFN_GATE' || cat === 'FFN_UP') {
      layerInfo(0, t.name); // llama.cpp validates the block index here too (no change for these ftypes)
    }
    // tensor_type_fallback: a row length that is not a multiple of the block size
    let fallbackFrom: number | undefined;
    if (t.shape[0] % blockSize(nt) !== 0) {
      fallbackFrom = nt;
      const FALLBACK: Record<number, number> = {
        [GGML.Q2_K]: GGML.Q4_0, [GGML.Q3_K]: GGML.Q4_0, [GGML.Q4_K]: GGML.Q5_0,
        [GGML.Q5_K]: GGML.Q5_1, [GGML.Q6_K]: GGML.Q8_0,
      };
      nt = FALLBACK[nt] ?? nt; // 32-block types have no smaller block to demote to
      // still no fit (row length not a multiple of 32): F16, as llama.cpp does
      if (t.shape[0] % blockSize(nt) !== 0) nt = GGML.F16;
    }
    plans.push({ tensor: t, type: nt, convert: nt !== t.typeId, fallbackFrom });
  });
  return plans;
}

// ---- the driver ------------------------------------------------------------------------------------

export interface QuantizeOptions {
  threads?: number;
  /** measure per-tensor quantization error (dequantizes every converted slab again) */
  stats?: boolean;
  /** progress callback, after each tensor */
  onTensor?: (done: number, total: number, r: TensorResult) => void;
  /** bytes of source data converted per native call (default 64 MiB) */
  slabBytes?: number;
  /** cancels (Ctrl-C): checked before every slab; the writer then removes its temporary file */
  signal?: AbortSignal;
}

export interface TensorResult {
  name: string;
  shape: number[];
  from: string;
  to: string;
  bytesIn: number;
  bytesOut: number;
  fallbackFrom?: string;
  /** with stats on converted tensors: sqrt(mean((deq - src)^2)) */
  rmse?: number;
  /** with stats: RMSE / RMS(src) */
  relRmse?: number;
  maxErr?: number;
}

export interface QuantizeResult {
  input: string;
  output: string;
  type: string;
  ftype: number;
  tensors: TensorResult[];
  bytesIn: number;
  bytesOut: number;
  fileSizeIn: number;
  fileSizeOut: number;
  nElements: number;
  seconds: number;
  nFallback: number;
}

const SOURCE_TYPES = new Set<number>([GGML.F32, GGML.F16, GGML.BF16]);

function metaType(kv: GgufKv): GgufMetaType {
  return (kv.type === 'array' ? kv.elementType : kv.type) as GgufMetaType;
}

export async function quantizeModel(
  input: string,
  output: string,
  typeName: string,
  opts: QuantizeOptions = {},
): Promise<QuantizeResult> {
  const q = parseQuantType(typeName);
  if (resolve(input) === resolve(output)) throw new Error('the output file must differ from the input file');
  const t0 = performance.now();
  let header: GgufHeader;
  try {
    header = await addon().readGguf(input);
  } catch (e) {
    throw new Error(`cannot read '${input}': ${(e as Error).message}`);
  }
  if (header.parts && header.parts.length > 1)
    throw new Error(`'${input}' is part of a ${header.parts.length}-part split model: quantizing split models is not supported yet (merge the parts first, e.g. llama-gguf-split --merge)`);
  const md = new Metadata(header);
  const quantized = header.tensors.find((t) => typeRow(t.typeId).isQuantized);
  if (quantized)
    throw new Error(
      `'${input}' is already quantized (tensor ${quantized.name} is ${quantized.type}); ` +
        'requantizing is not supported (as in llama.cpp): quantize from an F32, F16 or BF16 model',
    );
  const plans = planTensors(header.tensors, modelFacts(md), q);
  for (const p of plans) {
    if (p.convert && !SOURCE_TYPES.has(p.tensor.typeId))
      throw new Error(`tensor ${p.tensor.name}: cannot convert from ${p.tensor.type} (only F32, F16 and BF16)`);
    if (p.convert && !typeRow(p.type).canQuantize)
      throw new Error(`tensor ${p.tensor.name}: no quantizer for ${typeNameOf(p.type)}`);
  }

  // metadata: everything as it is, then quantization_version and file_type (moved last, like gguf_set_val)
  const alignKey = key('GENERAL_ALIGNMENT');
  const w = new GgufWriter({ alignment: header.alignment, writeAlignmentKey: md.has(alignKey) });
  for (const kv of header.metadata) w.set(kv.key, kv.value as GgufWriteValue, metaType(kv));
  for (const [k, v] of [
    [key('GENERAL_QUANT_VERSION'), 2], // GGML_QNT_VERSION
    [key('GENERAL_FILE_TYPE'), q.ftype],
  ] as const) {
    w.delete(k);
    w.set(k, v, 'u32');
  }

  const threads = Math.max(1, opts.threads ?? 1);
  const slabBytes = Math.max(1, opts.slabBytes ?? 64 << 20);
  const fh = await open(input, 'r');
  const results: TensorResult[] = [];
  let done = 0;
  try {
    // The input read through this handle must stay the file whose header was parsed: one overwritten in
    // place (or truncated) meanwhile would give an output mixing two files. Its size and modification
    // time are checked after each tensor; a change fails the write, which leaves nothing behind.
    const st0 = await fh.stat({ bigint: true });
    const checkInput = async () => {
      const st = await fh.stat({ bigint: true });
      if (st.size !== st0.size || st.mtimeNs !== st0.mtimeNs)
        throw new Error(
          `input '${input}' changed on disk while being quantized (` +
            (st.size !== st0.size ? `size ${st0.size} -> ${st.size} bytes` : `same size, modified at ${new Date(Number(st.mtimeMs)).toISOString()}`) +
            '): nothing was written',
        );
    };
    if (Number(st0.size) !== header.fileSize)
      throw new Error(`input '${input}' changed on disk while being opened (size ${header.fileSize} -> ${st0.size} bytes): nothing was written`);
    const read = async (offset: number, bytes: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(bytes);
      let got = 0;
      while (got < bytes) {
        const { bytesRead } = await fh.read(buf, got, bytes - got, offset + got);
        if (bytesRead === 0) throw new Error(`'${input}' is truncated (tensor data past the end of the file)`);
        got += bytesRead;
      }
      return buf;
    };
    for (const p of plans) {
      const t = p.tensor;
      const res: TensorResult = {
        name: t.name,
        shape: t.shape,
        from: t.type,
        to: typeNameOf(p.type),
        bytesIn: t.bytes,
        bytesOut: 0,
        fallbackFrom: p.fallbackFrom !== undefined ? typeNameOf(p.fallbackFrom) : undefined,
      };
      const rowIn = t.bytes / (t.elements / t.shape[0]);
      const nRows = t.elements / t.shape[0];
      const rowsPerSlab = Math.max(1, Math.floor(slabBytes / rowIn));
      async function* chunks(): AsyncGenerator<TensorChunk> {
        let sqErr = 0, sqRef = 0, maxErr = 0;
        const slabs: Array<[number, number]> = [];
        for (let r = 0; r < nRows; r += rowsPerSlab) slabs.push([r, Math.min(nRows, r + rowsPerSlab)]);
        // read the next slab while this one is converted
        let next = slabs.length ? read(t.offset + slabs[0][0] * rowIn, (slabs[0][1] - slabs[0][0]) * rowIn) : undefined;
        for (let s = 0; s < slabs.length; s++) {
          opts.signal?.throwIfAborted();
          const src = await next!;
          next = s + 1 < slabs.length ? read(t.offset + slabs[s + 1][0] * rowIn, (slabs[s + 1][1] - slabs[s + 1][0]) * rowIn) : undefined;
          if (!p.convert) {
            res.bytesOut += src.length;
            yield src;
            continue;
          }
          const out = await addon().quantizeRows(t.typeId, src, p.type, t.shape[0], threads, opts.stats ?? false);
          sqErr += out.sqErr;
          sqRef += out.sqRef;
          maxErr = Math.max(maxErr, out.maxErr);
          res.bytesOut += out.data.length;
          yield out.data;
        }
        await checkInput();
        if (p.convert && opts.stats) {
          res.rmse = Math.sqrt(sqErr / t.elements);
          res.relRmse = sqRef > 0 ? Math.sqrt(sqErr / sqRef) : 0;
          res.maxErr = maxErr;
        }
        results.push(res);
        opts.onTensor?.(++done, plans.length, res);
      }
      w.addTensor(t.name, t.shape, p.type, chunks);
    }
    await w.write(output);
  } finally {
    await fh.close();
  }
  return {
    input,
    output,
    type: q.name,
    ftype: q.ftype,
    tensors: results,
    bytesIn: results.reduce((s, r) => s + r.bytesIn, 0),
    bytesOut: results.reduce((s, r) => s + r.bytesOut, 0),
    fileSizeIn: header.fileSize,
    fileSizeOut: (await stat(output)).size,
    nElements: header.tensors.reduce((s, t) => s + t.elements, 0),
    seconds: (performance.now() - t0) / 1000,
    nFallback: plans.filter((p) => p.fallbackFrom !== undefined).length,
  };
}
