// Command-line flags, declared once with llama.cpp's spellings, meanings and defaults, and shared by
// every command. llama.cpp's multi-letter short flags (-ctk, -ctv) are rewritten to their long forms
// before commander sees them.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SAMPLING_DEFAULTS, type SamplingOptions } from '../sampling/chain.js';
import type { ContextOptions } from '../engine/model.js';
import { CACHE_TYPES, type CacheType } from '../native/addon.js';
import { parseSublayerDrop, type DepthOptions, type SublayerDrop } from '../engine/depth/policy.js';
import { resolveModelPath } from '../pull/cache.js';
import { UsageError } from './io.js';
import { parseOverrides, type PlacementOptions, type TensorOverride } from '../engine/placement.js';

const SHORT_ALIASES: Record<string, string> = {
  '-ctk': '--cache-type-k',
  '-ctv': '--cache-type-v',
  '-sys': '--system-prompt',
  '-np': '--parallel',
  '-npl': '--parallel',
  '-npp': '--n-pp',
  '-ntg': '--n-tg',
  '-ngl': '--n-gpu-layers',
  '--gpu-layers': '--n-gpu-layers',
  '-ot': '--override-tensor',
  '-cmoe': '--cpu-moe',
  '-ncmoe': '--n-cpu-moe',
};

export function normalizeArgv(argv: string[]): string[] {
  return argv.map((a) => {
    const eq = a.indexOf('=');
    const head = eq > 0 ? a.slice(0, eq) : a;
    const long = SHORT_ALIASES[head];
    return long ? long + (eq > 0 ? a.slice(eq) : '') : a;
  });
}

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    if (!/^[-+]?\d+$/.test(v.trim())) throw new InvalidArgumentError(`not an integer`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };
}

export function floatArg(min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`not a number`);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };
}

/** llama.cpp's `-l TOKEN_ID(+/-)BIAS`, repeatable; `-inf` bans a token. */
function logitBiasArg(v: string, prev: Array<[number, number]> = []): Array<[number, number]> {
  const m = /^(\d+)\s*([+-]\s*(?:inf|\d*\.?\d+(?:e[+-]?\d+)?))$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected TOKEN_ID(+/-)BIAS, e.g. 15043+1 or 2-inf`);
  const bias = m[2].replace(/\s+/g, '').toLowerCase();
  return [...prev, [Number(m[1]), bias.endsWith('inf') ? (bias.startsWith('-') ? -Infinity : Infinity) : Number(bias)]];
}

/** Chat template choice, shared by `chat`, `run` (opening the chat) and `serve`. */
export function addTemplateFlags(cmd: Command): Command {
  return cmd
    .option('--chat-template <name>', 'built-in chat template instead of the model\'s (chatml, llama2, llama3, llama4, mistral, gemma, phi3, ...)')
    .option('--chat-template-file <path>', 'read the chat template (Jinja) from a file')
    .option('--jinja', "render the model's own Jinja template (default, as llama-cli: a template of a known family renders as that built-in)");
}

export interface TemplateFlags {
  chatTemplate?: string;
  chatTemplateFile?: string;
  jinja?: boolean;
}

/** The chat's own flags, shared by `chat` and by `run` without a prompt (which opens the chat). */
export function addChatFlags(cmd: Command): Command {
  return addTemplateFlags(cmd.option('--system-prompt <text>', 'system prompt (-sys)')).option('--no-history', 'do not read or write the input history file');
}

export interface ChatFlags extends TemplateFlags {
  systemPrompt?: string;
  /** false with --no-history */
  history: boolean;
}

export const MODEL_HELP = 'model file (.gguf), or a cached model\'s name (llama4 ls)';

/**
 * Every command's model value becomes a path here: a file that exists, else a model in the cache
 * (`user/repo:Q4_K_M`, the name `llama4 ls` prints; a split model gives its first part).
 */
export function modelArg(value: string): string {
  return resolveModelPath(value);
}

export function addModelFlag(cmd: Command): Command {
  return cmd.requiredOption('-m, --model <path>', MODEL_HELP, modelArg);
}

const REPACK_HELP = "keep the file's weight layout (no packed copies for the CPU kernels: less memory, slower)";
/** --no-repack, for commands that compute with the model */
export function addRepackFlag(cmd: Command): Command {
  return cmd.option('--no-repack', REPACK_HELP);
}
export interface RepackFlags {
  /** false with --no-repack */
  repack: boolean;
}

export function addPromptFlags(cmd: Command): Command {
  return cmd.option('-p, --prompt <text>', 'prompt text').option('-f, --file <path>', 'read the prompt from a file');
}

/** The prompt of -p or -f (exactly one of them). */
export function readPrompt(f: { prompt?: string; file?: string }): string {
  if (f.prompt !== undefined && f.file !== undefined) throw new UsageError('give either -p or -f, not both');
  if (f.prompt !== undefined) return f.prompt;
  if (f.file !== undefined) return readFileSync(f.file, 'utf8');
  throw new UsageError('no prompt: give -p TEXT or -f FILE');
}

export const defaultThreads = (): number => Math.max(1, availableParallelism());

export function addContextFlags(cmd: Command): Command {
  cmd
    .option('-c, --ctx-size <n>', 'context size in tokens (default: min(4096, training context))', intArg(1, 1 << 24))
    .option('-b, --batch-size <n>', 'tokens per forward pass when processing the prompt', intArg(1, 65536), 512)
    .option('-t, --threads <n>', `threads (default: ${defaultThreads()})`, intArg(1, 512))
    .option('--exact-numerics', "llama.cpp's summation order everywhere, bit-identical output (default: decode attention over >= 256 cells takes the faster flash-decoding path; LLAMA4_EXACT_NUMERICS=1 sets it too)");
  addPlacementFlags(cmd);
  return addCacheTypeFlags(cmd);
}

export function addCacheTypeFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--cache-type-k <type>', 'KV cache type for K (-ctk); the quantized types need head sizes that are multiples of 32').choices([...CACHE_TYPES]).default('f16'))
    .addOption(new Option('--cache-type-v <type>', 'KV cache type for V (-ctv)').choices([...CACHE_TYPES]).default('f16'));
}

export interface ContextFlags extends PlacementFlags {
  ctxSize?: number;
  batchSize: number;
  threads?: number;
  cacheTypeK: CacheType;
  cacheTypeV: CacheType;
  exactNumerics?: boolean;
}

/** llama.cpp's warning for a context past the training one (RoPE was never trained there); '' when it fits. */
export function contextWarning(nCtx: number, nCtxTrain: number): string {
  return nCtxTrain > 0 && nCtx > nCtxTrain
    ? `llama4: warning: the context (-c ${nCtx}) is larger than the model's training context (${nCtxTrain} tokens): output past ${nCtxTrain} tokens degrades\n`
    : '';
}

export function contextOptions(f: ContextFlags): ContextOptions {
  return {
    nCtx: f.ctxSize,
    nBatch: f.batchSize,
    nThreads: f.threads ?? defaultThreads(),
    typeK: f.cacheTypeK,
    typeV: f.cacheTypeV,
    ...(f.exactNumerics ? { exactNumerics: true } : {}),
  };
}

export function addSamplingFlags(cmd: Command): Command {
  const d = SAMPLING_DEFAULTS;
  return cmd
    .option('-s, --seed <n>', 'RNG seed (default: random)', intArg(0, 0xffffffff))
    .option('--temp <t>', `temperature; <= 0 is greedy`, floatArg(), d.temp)
    .option('--top-k <k>', 'top-k sampling (<= 0 disables)', intArg(-1 << 30, 1 << 30), d.topK)
    .option('--top-p <p>', 'top-p sampling (1.0 disables)', floatArg(0, 1), d.topP)
    .option('--min-p <p>', 'min-p sampling (0.0 disables)', floatArg(0, 1), d.minP)
    .option('--repeat-penalty <x>', 'penalize repeated tokens (1.0 disables)', floatArg(0), d.repeatPenalty)
    .option('--repeat-last-n <n>', 'tokens of history the penalties consider (0 disables, -1 = context)', intArg(-1), d.repeatLastN)
    .option('--presence-penalty <x>', 'presence penalty (0.0 disables)', floatArg(), d.presencePenalty)
    .option('--frequency-penalty <x>', 'frequency penalty (0.0 disables)', floatArg(), d.frequencyPenalty)
    .option('-l, --logit-bias <id(+/-)bias>', 'add a bias to a token\'s logit (repeatable)', logitBiasArg)
    .option('--ignore-eos', 'never stop at end-of-generation tokens');
}

/** Depth gating (dual sparsity), shared by run, perplexity and bench. */
export function addDepthFlags(cmd: Command): Command {
  return cmd
    .option('--depth-gates <file>', "depth-gate adapter from 'llama4 calibrate' ('model': gates inside the model file)")
    .option('--depth-threshold <p>', 'override the calibrated gate threshold (a probability; higher skips more)', floatArg(0, 1))
    .option('--depth-prefill', 'also gate prompt processing (default: prompts run at full depth)')
    .option('--depth-shared <p>', 'MoE blocks with a shared expert: below the threshold but at least p, run the shared expert only', floatArg(0, 1))
    .addOption(new Option('--depth-kv <mode>', 'KV of skipped blocks: fill (computed anyway) or skip (not written; saves memory)').choices(['fill', 'skip']).default('fill'))
    .option('--drop-layers <list>', 'static baseline: always skip these blocks (comma list)', listArg)
    .option('--drop-auto <r>', 'static baseline: skip this fraction of blocks, lowest block influence first (ShortGPT)', floatArg(0, 0.99))
    .option('--drop-attn <list|auto[:r]>', 'static baseline: always skip these attention sublayers (no KV for them), or the fraction r (auto: 0.25) of lowest influence', sublayerDropArg('--drop-attn'))
    .option('--drop-ffn <list|auto[:r]>', 'static baseline: always skip these FFN sublayers, or the fraction r (auto: 0.25) of lowest influence', sublayerDropArg('--drop-ffn'));
}

function sublayerDropArg(flag: string) {
  return (v: string): SublayerDrop => {
    try {
      return parseSublayerDrop(v, flag);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message.replace(`${flag}: `, ''));
    }
  };
}

function listArg(v: string): number[] {
  const parts = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError('expected a comma-separated list of block indices');
  return parts.map(Number);
}

export interface DepthFlags {
  depthGates?: string;
  depthThreshold?: number;
  depthPrefill?: boolean;
  depthShared?: number;
  depthKv: 'fill' | 'skip';
  dropLayers?: number[];
  dropAuto?: number;
  dropAttn?: SublayerDrop;
  dropFfn?: SublayerDrop;
}

export function depthOptions(f: DepthFlags): DepthOptions {
  return {
    gates: f.depthGates,
    threshold: f.depthThreshold,
    prefill: f.depthPrefill ?? false,
    sharedThreshold: f.depthShared,
    kv: f.depthKv,
    dropLayers: f.dropLayers,
    dropAuto: f.dropAuto,
    dropAttn: f.dropAttn,
    dropFfn: f.dropFfn,
  };
}

export interface SamplingFlags {
  seed?: number;
  temp: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  repeatLastN: number;
  presencePenalty: number;
  frequencyPenalty: number;
  logitBias?: Array<[number, number]>;
  ignoreEos?: boolean;
}

export function samplingOptions(f: SamplingFlags): SamplingOptions {
  return {
    seed: f.seed,
    temp: f.temp,
    topK: f.topK,
    topP: f.topP,
    minP: f.minP,
    repeatPenalty: f.repeatPenalty,
    repeatLastN: f.repeatLastN,
    presencePenalty: f.presencePenalty,
    frequencyPenalty: f.frequencyPenalty,
    logitBias: f.logitBias,
    ignoreEos: f.ignoreEos ?? false,
  };
}

/** Where the weights go (issue 25), as llama.cpp spells it: -ngl, --cpu-moe, --n-cpu-moe, -ot. */
export function addPlacementFlags(cmd: Command): Command {
  return cmd
    .option(
      '--n-gpu-layers <n>',
      "layers on the GPU (-ngl): a count, 'all' or 'auto' (default auto: fit to the free VRAM, routed experts in system memory first)",
      gpuLayersArg,
    )
    .option('--cpu-moe', 'keep every routed expert (MoE) weight in system memory (-cmoe)')
    .option('--n-cpu-moe <n>', 'keep the routed experts of the first N layers in system memory (-ncmoe)', intArg(0, 1 << 20))
    .option(
      '--override-tensor <REGEX=DEVICE,...>',
      'put the tensors whose name matches REGEX on DEVICE (CPU or CUDA0); repeatable, the first match wins (-ot)',
      overridesArg,
    );
}

export interface PlacementFlags {
  nGpuLayers?: number | 'all' | 'auto';
  cpuMoe?: boolean;
  nCpuMoe?: number;
  overrideTensor?: TensorOverride[];
}

function gpuLayersArg(v: string): number | 'all' | 'auto' {
  const t = v.trim().toLowerCase();
  if (t === 'all' || t === 'auto') return t;
  return intArg(0, 1 << 20)(v);
}

function overridesArg(v: string, prev?: TensorOverride[]): TensorOverride[] {
  try {
    return parseOverrides(v, prev ?? []);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function placementOptions(f: PlacementFlags): PlacementOptions {
  return {
    ...(f.nGpuLayers !== undefined ? { gpuLayers: f.nGpuLayers } : {}),
    ...(f.cpuMoe ? { cpuMoe: true } : {}),
    ...(f.nCpuMoe !== undefined ? { nCpuMoe: f.nCpuMoe } : {}),
    ...(f.overrideTensor?.length ? { overrides: f.overrideTensor } : {}),
  };
}
