// Random-weight GGUF models of any shape for the architectures the engine runs:
// `llama` (dense or Mixtral-style experts) and `llama4` (interleaved MoE + shared expert, NoPE every 4th layer).
// Weights are seeded gaussians streamed straight to disk; the tokenizer.* metadata is copied from a vocab GGUF
// so the models run end to end (tokenize, generate, detokenize) in this engine and in llama.cpp.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addon, type GgufKv } from '../../src/native/addon.js';
import { keyName, tensorName } from '../../src/gguf/names.js';
import { GgufWriter, type GgufLayout, type GgufMetaType } from '../../src/gguf/writer.js';

export type Arch = 'llama' | 'llama4';
export type WeightType = 'f32' | 'f16';

export interface ModelSpec {
  arch: Arch;
  name: string;
  embd: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** dense FFN width (llama: also the expert width when experts > 0) */
  ff: number;
  /** llama4 expert (and shared expert) FFN width */
  ffExp: number;
  /** 0 = dense llama */
  experts: number;
  expertsUsed: number;
  /** llama4 interleave_moe_layer_step: layer il is MoE iff (il+1) % step == 0 */
  moeStep: number;
  ctx: number;
  /** path of a GGUF whose tokenizer.* metadata is copied, or an alias (see VOCABS) */
  vocab: string;
  type: WeightType;
  seed: number;
  /** omit output.weight: llama.cpp then ties the output projection to token_embd */
  tied: boolean;
  /** write rope_freqs.weight (llama3-style long-context factors) */
  ropeFreqs: boolean;
  ropeTheta: number;
  rmsEps: number;
}

/** Vocab aliases, relative to shared/models. */
export const VOCABS: Readonly<Record<string, string>> = {
  stories260K: 'stories260K.gguf',
  'llama-spm': 'vocab/ggml-vocab-llama-spm.gguf',
  'llama2-tiny': 'llama-2-tiny-random.gguf',
  smollm2: 'vocab/ggml-vocab-smollm2.gguf',
  gpt2: 'vocab/ggml-vocab-gpt-2.gguf',
  llama3: 'vocab/ggml-vocab-llama3-derived.gguf',
  llama4: 'vocab/ggml-vocab-llama4-derived.gguf',
};

const DEFAULTS: ModelSpec = {
  arch: 'llama',
  name: '',
  embd: 64,
  layers: 2,
  heads: 4,
  kvHeads: 0, // 0 = heads
  headDim: 0, // 0 = embd / heads
  ff: 0, // 0 = 4 * embd rounded to 32
  ffExp: 0, // 0 = ff / 2
  experts: 0,
  expertsUsed: 0, // 0 = 2 (llama) or 1 (llama4)
  moeStep: 1,
  ctx: 4096,
  vocab: 'stories260K',
  type: 'f32',
  seed: 42,
  tied: false,
  ropeFreqs: false,
  ropeTheta: 0, // 0 = 10000 (llama) or 500000 (llama4)
  rmsEps: 1e-5,
};

export const PRESETS: Readonly<Record<string, Partial<ModelSpec>>> = {
  // TinyLlama-1.1B shape with the Llama-2 SPM vocab (the shape of performance-anchors.md)
  tinyllama: {
    arch: 'llama', name: 'tinyllama-1.1b-shaped (random weights)', embd: 2048, layers: 22, heads: 32, kvHeads: 4,
    ff: 5632, ctx: 2048, vocab: 'llama-spm', type: 'f16',
  },
  // Llama-4-shaped MoE, ~1.2B total parameters: 16 experts top-1 + shared expert, MoE every 2nd layer,
  // QK-norm on (16 experts), NoPE every 4th layer, llama3-style rope_freqs, 202k llama4 vocab.
  'llama4-moe': {
    arch: 'llama4', name: 'llama4-moe-1.2b-shaped (random weights)', embd: 1024, layers: 24, heads: 8, kvHeads: 2,
    headDim: 128, ff: 2048, ffExp: 1024, experts: 16, expertsUsed: 1, moeStep: 2, ctx: 8192, vocab: 'llama4',
    type: 'f16', ropeFreqs: true,
  },
  // like shared/models/synthetic/tiny-llama4.synthetic.gguf
  'tiny-llama4': {
    arch: 'llama4', name: 'tiny-llama4 (random weights)', embd: 64, layers: 4, heads: 4, kvHeads: 2, headDim: 16,
    ff: 128, ffExp: 64, experts: 4, expertsUsed: 1, moeStep: 2, ctx: 4096, vocab: 'stories260K', type: 'f32',
    ropeFreqs: true,
  },
  // small ones for tests
  'tiny-llama': {
    arch: 'llama', name: 'tiny-llama (random weights)', embd: 64, layers: 2, heads: 4, kvHeads: 2, ff: 128,
    vocab: 'stories260K',
  },
  'tiny-mixtral': {
    arch: 'llama', name: 'tiny-mixtral (random weights)', embd: 64, layers: 2, heads: 4, kvHeads: 2, ff: 96,
    experts: 4, expertsUsed: 2, vocab: 'stories260K',
  },
};

/** Fill in defaults and check the shape; `preset` values are overridden by explicit ones. */
export function resolveSpec(opts: Partial<ModelSpec> & { preset?: string }): ModelSpec {
  const { preset, ...rest } = opts;
  let base: Partial<ModelSpec> = {};
  if (preset !== undefined) {
    const p = PRESETS[preset];
    if (!p) throw new Error(`unknown preset '${preset}' (have: ${Object.keys(PRESETS).join(', ')})`);
    base = p;
  }
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  const s: ModelSpec = { ...DEFAULTS, ...base, ...defined };
  if (s.arch !== 'llama' && s.arch !== 'llama4') throw new Error(`unsupported arch '${s.arch}' (llama, llama4)`);
  s.kvHeads ||= s.heads;
  s.headDim ||= s.embd / s.heads;
  s.ff ||= Math.ceil((4 * s.embd) / 32) * 32;
  s.ffExp ||= Math.max(1, s.ff >> 1);
  if (s.arch === 'llama4' && s.experts === 0) s.experts = 4; // llama.cpp rejects a llama4 file with no experts
  s.expertsUsed ||= s.experts === 0 ? 0 : s.arch === 'llama4' ? 1 : Math.min(2, s.experts);
  s.ropeTheta ||= s.arch === 'llama4' ? 500000 : 10000;
  s.name ||= `random ${s.arch}${s.experts ? ` ${s.experts}x` : ''} e${s.embd} l${s.layers}`;
  const posInt = ['embd', 'layers', 'heads', 'kvHeads', 'headDim', 'ff', 'ffExp', 'ctx', 'moeStep'] as const;
  for (const k of posInt)
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`${k} must be a positive integer, got ${s[k]}`);
  if (s.heads % s.kvHeads !== 0) throw new Error(`heads (${s.heads}) must be a multiple of kv-heads (${s.kvHeads})`);
  if (s.headDim % 2 !== 0) throw new Error(`head-dim must be even for RoPE, got ${s.headDim}`);
  if (s.expertsUsed > s.experts) throw new Error(`experts-used (${s.expertsUsed}) > experts (${s.experts})`);
  if (s.type !== 'f32' && s.type !== 'f16') throw new Error(`--type must be f32 or f16 (quantize with 'llama4 quantize')`);
  if (!Number.isInteger(s.seed) || s.seed < 0) throw new Error(`seed must be a non-negative integer`);
  return s;
}

function sharedModelsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const cands = [
    process.env.LLAMA4_SHARED_MODELS,
    join(here, '..', '..', 'shared', 'models'),
    join(here, '..', '..', '..', 'shared', 'models'),
  ].filter((p): p is string => !!p);
  return cands.find((c) => existsSync(c)) ?? cands[cands.length - 1];
}

export function vocabPath(vocab: string): string {
  if (VOCABS[vocab] !== undefined) return join(sharedModelsDir(), VOCABS[vocab]);
  return resolve(vocab);
}

// ---- seeded gaussian stream (xoshiro128** + Box-Muller); one independent stream per tensor name ----

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** `n` values ~ N(mean, std^2), deterministic in (seed, key), produced in chunks of at most `chunk`. */
export function* gaussian(seed: number, key: string, n: number, std: number, mean = 0, chunk = 1 << 20): Generator<Float32Array> {
  const sm = splitmix32(fnv1a(key) ^ Math.imul(seed, 0x27d4eb2d));
  let a = sm(), b = sm(), c = sm(), d = sm();
  if ((a | b | c | d) === 0) a = 1;
  const next = () => {
    const r = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)), 9);
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
    d = (d << 11) | (d >>> 21);
    return r >>> 0;
  };
  const TWO_PI = 2 * Math.PI;
  let spare = 0, hasSpare = false;
  for (let done = 0; done < n; ) {
    const m = Math.min(chunk, n - done);
    const out = new Float32Array(m);
    let i = 0;
    if (hasSpare && m > 0) { out[i++] = mean + std * spare; hasSpare = false; }
    for (; i < m; i += 2) {
      const u1 = (next() + 1) / 4294967296; // (0, 1]
      const u2 = next() / 4294967296;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = mean + std * r * Math.cos(TWO_PI * u2);
      const z1 = r * Math.sin(TWO_PI * u2);
      if (i + 1 < m) out[i + 1] = mean + std * z1;
      else { spare = z1; hasSpare = true; }
    }
    done += m;
    yield out;
  }
}

/**
 * llama3-style RoPE long-context factors (convert_hf_to_gguf LlamaModel): one per rotated pair, dividing
 * the frequency. Llama 4 Scout: factor 16, low = high = 1, original context 8192 (so factors are 1 or 16).
 */
export function llama3RopeFactors(headDim: number, theta: number, factor: number, lowFreqFactor: number,
  highFreqFactor: number, origCtx: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  const lowWavelen = origCtx / lowFreqFactor;
  const highWavelen = origCtx / highFreqFactor;
  for (let i = 0; i < headDim / 2; i++) {
    const freq = 1 / Math.pow(theta, (2 * i) / headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = (origCtx / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

// ---- model layout ----

export interface TensorPlan {
  name: string;
  shape: number[];
  /** ggml type id */
  type: number;
  init: { kind: 'gaussian'; std: number; mean: number } | { kind: 'values'; values: Float32Array };
}

const F32 = 0, F16 = 1;

export function isMoeLayer(s: ModelSpec, il: number): boolean {
  if (s.experts === 0) return false;
  return s.arch === 'llama' ? true : (il + 1) % s.moeStep === 0;
}

/** Every tensor of the model in file order, with its shape (ne order), type and initialiser. */
export function planTensors(s: ModelSpec, nVocab: number): TensorPlan[] {
  const wt = s.type === 'f16' ? F16 : F32;
  const plan: TensorPlan[] = [];
  // matrices: N(0, 1/fan_in) keeps every projection's output at unit scale, so logits are O(1) and finite
  const mat = (name: string, shape: number[], type = wt) =>
    plan.push({ name, shape, type, init: { kind: 'gaussian', std: 1 / Math.sqrt(shape[0]), mean: 0 } });
  const norm = (name: string) =>
    plan.push({ name, shape: [s.embd], type: F32, init: { kind: 'gaussian', std: 0.02, mean: 1 } });
  const q = s.heads * s.headDim, kv = s.kvHeads * s.headDim;

  mat(tensorName('TOKEN_EMBD'), [s.embd, nVocab]);
  if (s.ropeFreqs) {
    const values = s.arch === 'llama4'
      ? llama3RopeFactors(s.headDim, s.ropeTheta, 16, 1, 1, 8192)
      : llama3RopeFactors(s.headDim, s.ropeTheta, 8, 1, 4, 8192);
    plan.push({ name: tensorName('ROPE_FREQS'), shape: [s.headDim / 2], type: F32, init: { kind: 'values', values } });
  }
  for (let il = 0; il < s.layers; il++) {
    norm(tensorName('ATTN_NORM', il));
    mat(tensorName('ATTN_Q', il), [s.embd, q]);
    mat(tensorName('ATTN_K', il), [s.embd, kv]);
    mat(tensorName('ATTN_V', il), [s.embd, kv]);
    mat(tensorName('ATTN_OUT', il), [q, s.embd]);
    norm(tensorName('FFN_NORM', il));
    if (isMoeLayer(s, il)) {
      const ffe = s.arch === 'llama4' ? s.ffExp : s.ff;
      mat(tensorName('FFN_GATE_INP', il), [s.embd, s.experts], F32); // the router stays F32
      mat(tensorName('FFN_GATE_EXPS', il), [s.embd, ffe, s.experts]);
      mat(tensorName('FFN_UP_EXPS', il), [s.embd, ffe, s.experts]);
      mat(tensorName('FFN_DOWN_EXPS', il), [ffe, s.embd, s.experts]);
      if (s.arch === 'llama4') {
        mat(tensorName('FFN_GATE_SHEXP', il), [s.embd, ffe]);
        mat(tensorName('FFN_UP_SHEXP', il), [s.embd, ffe]);
        mat(tensorName('FFN_DOWN_SHEXP', il), [ffe, s.embd]);
      }
    } else {
      mat(tensorName('FFN_GATE', il), [s.embd, s.ff]);
      mat(tensorName('FFN_UP', il), [s.embd, s.ff]);
      mat(tensorName('FFN_DOWN', il), [s.ff, s.embd]);
    }
  }
  norm(tensorName('OUTPUT_NORM'));
  if (!s.tied) mat(tensorName('OUTPUT'), [s.embd, nVocab]);
  return plan;
}

export interface VocabKv {
  key: string;
  value: GgufKv['value'];
  type: GgufMetaType;
}

/** The tokenizer.* metadata of a GGUF, with the stored types (so ids stay u32, token types i32, ...). */
export async function readVocab(path: string): Promise<{ kvs: VocabKv[]; nVocab: number }> {
  if (!existsSync(path)) throw new Error(`vocab file not found: ${path}`);
  const h = await addon().readGguf(path);
  const kvs: VocabKv[] = h.metadata
    .filter((kv) => kv.key.startsWith('tokenizer.'))
    .map((kv) => ({ key: kv.key, value: kv.value, type: (kv.type === 'array' ? kv.elementType : kv.type) as GgufMetaType }));
  const tokens = kvs.find((kv) => kv.key === keyName('TOKENIZER_TOKENS'));
  if (!tokens || !Array.isArray(tokens.value)) throw new Error(`${path} has no ${keyName('TOKENIZER_TOKENS')} array`);
  return { kvs, nVocab: tokens.value.length };
}

export interface GeneratedModel {
  spec: ModelSpec;
  path: string;
  nVocab: number;
  params: number;
  layout: GgufLayout;
}

/** The hyper-parameter and tokenizer metadata of a generated model (shared with the fixture scripts). */
export function setModelMetadata(
  w: GgufWriter,
  s: ModelSpec,
  vocab: VocabKv[],
  nVocab: number,
): void {
  const a = s.arch;
  w.set(keyName('GENERAL_ARCHITECTURE'), a, 'str');
  w.set(keyName('GENERAL_NAME'), s.name, 'str');
  w.set(keyName('GENERAL_FILE_TYPE'), s.type === 'f16' ? 1 : 0, 'u32'); // LLAMA_FTYPE_ALL_F32 / MOSTLY_F16
  w.set(keyName('CONTEXT_LENGTH', a), s.ctx, 'u32');
  w.set(keyName('EMBEDDING_LENGTH', a), s.embd, 'u32');
  w.set(keyName('BLOCK_COUNT', a), s.layers, 'u32');
  w.set(keyName('FEED_FORWARD_LENGTH', a), s.ff, 'u32');
  w.set(keyName('ATTN_HEAD_COUNT', a), s.heads, 'u32');
  w.set(keyName('ATTN_HEAD_COUNT_KV', a), s.kvHeads, 'u32');
  w.set(keyName('ATTN_KEY_LENGTH', a), s.headDim, 'u32');
  w.set(keyName('ATTN_VALUE_LENGTH', a), s.headDim, 'u32');
  w.set(keyName('ATTN_LAYERNORM_RMS_EPS', a), s.rmsEps, 'f32');
  w.set(keyName('ROPE_DIMENSION_COUNT', a), s.headDim, 'u32');
  w.set(keyName('ROPE_FREQ_BASE', a), s.ropeTheta, 'f32');
  w.set(keyName('VOCAB_SIZE', a), nVocab, 'u32');
  if (s.experts > 0) {
    w.set(keyName('EXPERT_COUNT', a), s.experts, 'u32');
    w.set(keyName('EXPERT_USED_COUNT', a), s.expertsUsed, 'u32');
  }
  if (a === 'llama4') {
    w.set(keyName('EXPERT_FEED_FORWARD_LENGTH', a), s.ffExp, 'u32');
    w.set(keyName('INTERLEAVE_MOE_LAYER_STEP', a), s.moeStep, 'u32');
  }
  for (const kv of vocab) w.set(kv.key, kv.value, kv.type);
}

/** Write a random-weight model to `out`. */
export async function generateModel(spec: ModelSpec, out: string,
  opts: { log?: (msg: string) => void } = {}): Promise<GeneratedModel> {
  const s = spec;
  const { kvs: vocab, nVocab } = await readVocab(vocabPath(s.vocab));
  const w = new GgufWriter();
  setModelMetadata(w, s, vocab, nVocab);

  const plan = planTensors(s, nVocab);
  let params = 0;
  for (const t of plan) {
    const n = t.shape.reduce((x, y) => x * y, 1);
    params += n;
    const init = t.init;
    w.addTensor(t.name, t.shape, t.type, init.kind === 'values'
      ? init.values
      : () => gaussian(s.seed, t.name, n, init.std, init.mean));
  }
  const layout = w.layout();
  opts.log?.(`${s.arch}: ${plan.length} tensors, ${(params / 1e6).toFixed(2)}M params, ` +
    `${(layout.fileSize / 1e6).toFixed(1)} MB -> ${out}`);
  const t0 = performance.now();
  await w.write(out);
  opts.log?.(`wrote ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { spec: s, path: out, nVocab, params, layout };
}
