// The whole native surface, declared once. Everything else imports the addon through this file.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type GgufScalar = number | bigint | string | boolean;
export type GgufArray =
  | string[]
  | boolean[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;
export type GgufValue = GgufScalar | GgufArray;

export interface GgufKv {
  key: string;
  /** u8 i8 u16 i16 u32 i32 f32 bool str array u64 i64 f64 */
  type: string;
  /** element type and full length, for arrays */
  elementType?: string;
  count?: number;
  /** arrays are cut to `arrayLimit` elements when that option is given */
  value: GgufValue;
  /** where the record (key, type, value) starts in the file (part 1 of a split model), and its length */
  offset: number;
  recordBytes: number;
}

export interface GgufTensor {
  name: string;
  typeId: number;
  type: string;
  /** ne order: shape[0] is the contiguous dimension */
  shape: number[];
  elements: number;
  /** absolute byte offset of the data in the file that holds it */
  offset: number;
  bytes: number;
  /** the file that holds the data: an index into GgufHeader.parts for a split model, 0 for a single file */
  part: number;
}

/** One file of a split model (llama-gguf-split's PREFIX-0000K-of-0000N.gguf). */
export interface GgufPart {
  path: string;
  fileSize: number;
  dataOffset: number;
  tensorCount: number;
  tensorBytes: number;
}

export interface LayerSchedule {
  moe: boolean;
  rope: boolean;
  chunked: boolean;
}

/** Hyper-parameters as the native loader derives them (llama.cpp semantics, Llama-4 constants included). */
export interface Hparams {
  arch: string;
  contextLength: number;
  embeddingLength: number;
  blockCount: number;
  headCount: number[];
  headCountKv: number[];
  feedForwardLength: number[];
  headDimK: number;
  headDimV: number;
  ropeDims: number;
  ropeFreqBase: number;
  ropeFreqScale: number;
  ropeScalingType: string;
  rmsEps: number;
  vocabSize: number;
  expertCount: number;
  expertUsedCount: number;
  expertFeedForwardLength: number;
  moeLayerStep: number;
  useKqNorm: boolean;
  noRopeLayerStep: number;
  chunkSize: number;
  layers: LayerSchedule[];
}

export interface GgufHeader {
  /** the file read (part 1 for a split model) */
  path: string;
  version: number;
  alignment: number;
  dataOffset: number;
  /** bytes of the file; of all parts for a split model */
  fileSize: number;
  metadata: GgufKv[];
  /** every tensor; of all parts for a split model */
  tensors: GgufTensor[];
  /** a split model's files, part 1 first (absent for a single file) */
  parts?: GgufPart[];
  /** present when requested and the architecture is supported */
  hparams?: Hparams;
  /** why hparams could not be derived (vocab-only file, unsupported architecture, bad key) */
  hparamsError?: string;
}

export interface TypeRow {
  id: number;
  name: string;
  blockSize: number;
  typeSize: number;
  isQuantized: boolean;
  canDequantize: boolean;
  canQuantize: boolean;
  vecDotType: string;
}

export interface BackendInfo {
  name: string;
  compiled: boolean;
  available: boolean;
  devices: number;
  detail: string;
  /** cuda, when compiled: the architectures built, e.g. "90" */
  archs?: string;
  /** cuda, when a device is present: device 0's free and total memory */
  freeBytes?: number;
  totalBytes?: number;
}

export interface SystemInfo {
  cpuFeatures: string;
  /** kernel level in use: avx512 | avx2 | scalar */
  isa: string;
  backends: BackendInfo[];
}

export interface NameTable {
  /** printf formats: %s = architecture */
  keys: Record<string, string>;
  /** printf formats: %d = block index */
  tensors: Record<string, string>;
}

export interface ModelInfo {
  description: string;
  arch: string;
  nParams: number;
  weightBytes: number;
  /** bytes of the file; of all parts for a split model */
  fileSize: number;
  /** files the model was loaded from: 1, or the part count of a split model */
  parts: number;
  /** weight bytes read to decode one token (routed experts only for MoE) */
  bytesPerToken: number;
  nVocab: number;
  nCtxTrain: number;
  nLayer: number;
  nEmbd: number;
  nExpert: number;
  nExpertUsed: number;
  outputTied: boolean;
  /** bytes of weights copied into packed (8-row interleaved) layouts at load; 0 with repack: false */
  packedBytes: number;
  packSeconds: number;
}

export interface NativeModel {
  info(): ModelInfo;
}

/** KV cache types, as llama.cpp's -ctk/-ctv (less bf16); the quantized ones need head sizes that are whole blocks of 32 */
export const CACHE_TYPES = ['f16', 'f32', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl'] as const;
export type CacheType = (typeof CACHE_TYPES)[number];

export interface ContextOptions {
  nCtx?: number;
  nBatch?: number;
  nThreads?: number;
  typeK?: CacheType;
  typeV?: CacheType;
  /**
   * decodes that stream at most this many bytes (weights per token + KV cache) run on the JS thread,
   * their Promise already settled: a worker round trip costs more than a tiny model's token (default
   * 4 MiB; 0 = every decode on a worker)
   */
  inlineBytes?: number;
  /**
   * llama.cpp's summation order everywhere, bit-identical output (default false: decode attention over
   * 256 cells or more takes the faster flash-decoding path, within a stated tolerance of the exact one)
   */
  exactNumerics?: boolean;
}

export interface ContextState {
  nPast: number;
  nCtx: number;
  nBatch: number;
  nThreads: number;
  inlineBytes: number;
  exactNumerics: boolean;
  kvBytes: number;
  typeK: string;
  typeV: string;
  busy: boolean;
}

export interface DepthGatesInfo {
  /** adapter path, or 'model' for gates inside the model file */
  source: string;
  baseModel: string;
  /** calibrated global threshold (a probability) */
  threshold: number;
  /** adapter format: 1 (block gates only) or 2 (block / attention / FFN gates) */
  version: number;
  /** per block: gate present, per-block threshold (< 0: the global one); block, attention and FFN gates */
  layers: { present: boolean; threshold: number }[];
  attn: { present: boolean; threshold: number }[];
  ffn: { present: boolean; threshold: number }[];
}

export interface NativeDepthGates {
  info(): DepthGatesInfo;
}

/** How decode tokens are routed through depth (see native/src/model/depth_gates.h). */
export interface DepthPolicy {
  gates?: NativeDepthGates;
  /** overrides the calibrated threshold */
  threshold?: number;
  /** also gate prompt batches (default: full depth) */
  prefill?: boolean;
  /** KV of a skipped block: computed anyway ('fill', default) or not written ('skip') */
  kv?: 'fill' | 'skip';
  /** blocks always skipped (static removal baseline; applies to prompts too) */
  drop?: number[];
  /** attention sublayers always skipped (no KV allocated for them unless freeDroppedKv is false) */
  dropAttn?: number[];
  /** FFN sublayers always skipped */
  dropFfn?: number[];
  /** release the KV of statically dropped attention layers (default true; false where the same context also runs full depth) */
  freeDroppedKv?: boolean;
  /**
   * MoE blocks with a shared expert (Llama 4): a token whose gate is below the threshold but at least
   * this runs attention and the shared expert only (routed experts skipped). Unset: two-way decisions.
   */
  sharedThreshold?: number;
}

export type CudaTwinOp =
  | 'quantize_q8_1' | 'matmul' | 'matmul_id' | 'rms_norm' | 'rope' | 'swiglu' | 'add' | 'get_rows' | 'copy_rows'
  | 'kv_append' | 'attn_decode' | 'attn_prompt' | 'moe_topk' | 'moe_group' | 'moe_scale' | 'moe_combine'
  | 'depth_gate' | 'compact'
  /** needs no device: the kernels' weight decoding compiled for the host, against the reference dequantizer */
  | 'group_values';
/** A CUDA kernel's output and its CPU twin's, plus op-specific extras (cpuPath, gpuSel/cpuSel, ...). */
export interface CudaTwinResult {
  gpu: Float32Array;
  cpu: Float32Array;
  [extra: string]: Float32Array | Int32Array | Uint8Array | number | undefined;
}
export type AttnOp = 'swiglu' | 'round_f16' | 'soft_max' | 'dot_f32' | 'dot_f16' | 'dot_rows' | 'weighted_rows' | 'attn_partial' | 'attn_partial_q' | 'fwht';
export interface AttnArgs {
  x?: Float32Array;
  y?: Float32Array;
  /** f16 bits */
  h?: Uint16Array;
  rows?: Uint8Array | Uint16Array | Float32Array;
  stride?: number;
  f16?: boolean;
  nRows?: number;
  n?: number;
  dim?: number;
  firstCell?: number;
  tinyblas?: boolean;
  singleToken?: boolean;
  scale?: number;
  max?: number;
  /** attn_partial: g query rows of hd, K rows (kStride bytes apart, f16 with k16), V rows likewise */
  q?: Float32Array;
  g?: number;
  hd?: number;
  hdv?: number;
  k?: Uint8Array | Uint16Array | Float32Array;
  kStride?: number;
  k16?: boolean;
  v?: Uint8Array | Uint16Array | Float32Array;
  vStride?: number;
  v16?: boolean;
  /** attn_partial_q: ggml type ids of the K and V rows (a KV cache type: F16, F32, Q8_0, Q4_0, ...) */
  kType?: number;
  vType?: number;
}

export interface DecodeStats {
  tokens: number;
  seconds: number;
  /** tokens that went through a depth decision */
  routedTokens: number;
  /** routed (token, expert) FFN evaluations */
  expertEvals: number;
  /** weight bytes the matmul kernels read (each matrix once per call) */
  weightBytes: number;
  /** per block: token evaluations that ran / skipped it (routed tokens only) */
  blockRuns: number[];
  blockSkips: number[];
  /** MoE blocks: runs that used the shared expert only */
  blockSharedOnly: number[];
  /** per block: routed token evaluations that ran / skipped its attention and its FFN */
  attnRuns: number[];
  attnSkips: number[];
  ffnRuns: number[];
  ffnSkips: number[];
  /** KV bytes allocated now / holding data */
  kvBytes: number;
  kvBytesUsed: number;
}

export interface BlockTaps {
  /** [nLayer][nTokens][nEmbd] the gate features: each block's normed input */
  feat: Float32Array;
  /** [nLayer][nTokens] cosine of the residual stream before and after the block */
  cos: Float32Array;
  /** [nLayer][nTokens] |h_out - h_in| / |h_in| */
  rel: Float32Array;
  /** [nLayer][nTokens][nEmbd] the FFN gates' features (the FFN norm's output); empty unless ffnFeatures */
  featFfn: Float32Array;
  /** [nLayer][nTokens] per sublayer: attention h_in -> h_mid, FFN h_mid -> h_out */
  cosAttn: Float32Array;
  relAttn: Float32Array;
  cosFfn: Float32Array;
  relFfn: Float32Array;
}

export interface DecodeOptions {
  /** apply the depth policy (default true) */
  gated?: boolean;
  /** batch numerics equal to evaluating the tokens one by one */
  sequential?: boolean;
}

export interface NativeContext {
  /** Evaluate tokens after the cached ones; rejects with Error('cancelled') after cancel(). */
  decode(tokens: Int32Array, allLogits?: boolean, options?: DecodeOptions): Promise<void>;
  setDepthPolicy(policy: DepthPolicy | null): void;
  stats(): DecodeStats;
  resetStats(): void;
  /** Full-depth evaluation of one batch (<= nBatch tokens) recording per-block taps. */
  decodeTaps(tokens: Int32Array, options?: { features?: boolean; ffnFeatures?: boolean }): Promise<BlockTaps>;
  /** Zero-copy view of the last token's logits; overwritten by the next decode. */
  logits(): Float32Array;
  /** Copy of every token's logits from the last decode(…, true): [rows * nVocab]. */
  allLogits(): Float32Array;
  cancel(): void;
  /** Forget cached positions >= n. */
  truncate(n: number): void;
  /** This context's cache becomes positions [0, n) of src's (same model and cache types), as llama.cpp's seq_cp. */
  copyFrom(src: NativeContext, n: number): void;
  state(): ContextState;
}

export interface QuantizedRows {
  data: Uint8Array;
  sqErr: number;
  sqRef: number;
  maxErr: number;
}

export interface Addon {
  /**
   * path: a GGUF, or any part of a split model (all parts are found by name and loaded as one).
   * repack (default true): copy matrices with a packed layout into it (faster kernels, same file).
   * progress: [bytes copied so far, bytes in all] while the repacking runs (written from the loading thread).
   */
  loadModel(path: string, options?: { repack?: boolean; progress?: Float64Array }): Promise<NativeModel>;
  /** Depth gates from an adapter GGUF, or from the model's own tensors when path is ''. */
  loadDepthGates(model: NativeModel, path: string): Promise<NativeDepthGates>;
  createContext(model: NativeModel, options?: ContextOptions): NativeContext;
  /**
   * One decode step of several sequences: tokens[i] is the next token of contexts[i] (at its nPast). One
   * forward pass over the weights for all, attention per context over its own KV cache; each context's
   * logits() then holds its row. Results equal each context decoding its token alone.
   */
  decodeStep(contexts: NativeContext[], tokens: Int32Array, options?: { gated?: boolean }): Promise<void>;
  systemInfo(): SystemInfo;
  /**
   * A GGUF header. A path to any part of a split model reads the whole model: part 1's metadata, every
   * part's tensors (each with its `part`) and `parts`; a Uint8Array is that header alone.
   */
  readGguf(
    source: string | Uint8Array,
    options?: { arrayLimit?: number; hparams?: boolean },
  ): Promise<GgufHeader>;
  ggufNames(): NameTable;
  typeTable(): TypeRow[];
  dequantize(typeId: number, bytes: Uint8Array, n: number): Float32Array;
  quantize(typeId: number, values: Float32Array): Uint8Array;
  /**
   * Positions of the k largest of values[0..n), value descending then position ascending: the sampler's
   * top-k selection (same result as heapPositions in sampling/candidates.ts, its reference).
   */
  topK(values: Float32Array, n: number, k: number): Int32Array;
  /** The same selection on the sampler's parallel candidate arrays, in place: the k best moved to the front, in order. */
  keepTopK(ids: Int32Array, logits: Float32Array, probs: Float32Array, n: number, k: number): void;
  /** CPU kernel levels this host can run: 'scalar' always, then 'avx2', 'avx512' */
  kernelIsas(): string[];
  /** one vec_dot of a weight row with activations converted by that level's quantize_act */
  kernelDot(typeId: number, weightBytes: Uint8Array, activations: Float32Array, isa: string): number;
  /** that level's activation quantizer (actTypeId: F32, F16, BF16, Q8_0, Q8_1 or Q8_K) */
  quantizeAct(actTypeId: number, values: Float32Array, isa: string): Uint8Array;
  /**
   * y[t * nOut + o] for nTokens activation rows (activations.length = nTokens * nIn) against the weight
   * rows in weightBytes (nOut = whole rows), through that level's matmul path (tiled kernels), or with
   * rowsOnly the reference schedule of one vec_dot per (row, token). The two must be bit-identical, except
   * that batches of F32 / F16 / BF16 weights take llamafile's tinyBLAS order where llama.cpp does (n_in % 8
   * == 0, nOut % 4 == 0) unless order is 'vecdot'.
   */
  matmulKernel(
    typeId: number,
    weightBytes: Uint8Array,
    activations: Float32Array,
    nTokens: number,
    isa: string,
    threads?: number,
    rowsOnly?: boolean,
    /** the whole groups of 8 rows through the type's packed layout and that level's packed kernel */
    packed?: boolean,
    order?: 'llamacpp' | 'vecdot',
  ): Float32Array;
  /**
   * One helper of ops/cpu/ops.h (attention and element-wise numerics) through that level's table, for the
   * test that every level equals the scalar reference bit for bit.
   */
  attnKernel(isa: 'scalar' | 'avx2' | 'avx512', op: AttnOp, args: AttnArgs): { out: Float32Array; sum?: number };
  /**
   * One CUDA kernel (native/src/ops/cuda/kernels.h) run on the device next to its CPU twin on the same inputs
   * (typed arrays and counts in args; native/src/addon/cuda_binding.cpp lists every op's arguments and extras).
   * Throws "no CUDA device: ..." where none is present, "CUDA backend not compiled ..." in a build without
   * CUDA, and CUDA's own message when a kernel fails.
   */
  cudaTwin(op: CudaTwinOp, args: Record<string, unknown>): CudaTwinResult;
  /** weight types that level has packed (repacked, 8 rows interleaved) kernels for, e.g. ['Q4_0', 'Q4_K'] */
  packedKernels(isa?: string): string[];
  /**
   * Seconds per matmul (activation conversion included) of random nOut x nIn weights of typeId against
   * nTokens rows, on a persistent pool of `threads`: the minimum over `iters` individually timed calls.
   */
  matmulBench(
    typeId: number,
    nIn: number,
    nOut: number,
    nTokens: number,
    threads: number,
    iters: number,
    isa?: string,
    rowsOnly?: boolean,
    /** > 0: rotate over copies of the weights totalling more than this many bytes (cold caches) */
    coldBytes?: number,
    /** threads = 1 only: measure the thread's CPU time instead of wall time (shared, oversubscribed hosts) */
    cpuClock?: boolean,
    /** time the packed kernel (the type must have one at that level) */
    packed?: boolean,
  ): number;
  /**
   * Convert whole rows of F32/F16/BF16 source bytes to `dstTypeId` with its reference quantizer, off the JS
   * thread on `nThreads` threads. With `stats`, also dequantizes the result: sqErr = sum (deq - src)^2,
   * sqRef = sum src^2, maxErr = max |deq - src| (0 without stats).
   */
  quantizeRows(
    srcTypeId: number,
    src: Uint8Array,
    dstTypeId: number,
    nPerRow: number,
    nThreads: number,
    stats?: boolean,
  ): Promise<QuantizedRows>;
}

function findAddon(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/native or dist/native -> repository root
  const root = join(here, '..', '..');
  const candidates = [
    process.env.LLAMA4_ADDON,
    join(root, 'build', 'Release', 'llama4.node'),
    join(root, 'build', 'Debug', 'llama4.node'),
  ].filter((p): p is string => !!p);
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(
    `llama4 native addon not found (looked in ${candidates.join(', ')}); build it with 'npm run build:native'`,
  );
}

let cached: Addon | undefined;

export function addon(): Addon {
  if (!cached) {
    const require = createRequire(import.meta.url);
    cached = require(findAddon()) as Addon;
  }
  return cached;
}
