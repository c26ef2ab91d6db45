// llama-bench for our engine: ppN / tgN tests, repetitions, mean ± sample sd, md / json / csv output with
// llama-bench's fields, plus what our engine adds: weight bytes read per generated token, the achieved
// read bandwidth on tg, and its share of the machine's streaming-read bandwidth.
//
// Semantics (llama.cpp tools/llama-bench, spec-gguf-llama4.md §7):
//   ppN: N tokens (first = BOS when the vocab adds BOS, the rest random) evaluated in n_batch chunks.
//   tgN: N sequential single-token evaluations (first BOS when the vocab adds BOS, then random tokens; no
//        sampling). One warm-up per test unless disabled (the full prompt for pp, one token for tg); the KV
//        cache is cleared before every repetition; t/s per repetition = tokens / seconds; avg_ts is the
//        mean of those, stddev_ts their sample (n-1) standard deviation.
//   -d D (n_depth): every test also runs with D tokens already in the cache ("pp512 @ d4096"): D random
//        tokens (first BOS, as a prompt) are evaluated untimed, then the test runs at positions D..D+n.
//        llama-bench evaluates the depth once and restores that state before each repetition
//        (llama_state_seq_set_data); we evaluate it once per depth and rewind with truncate(D), which
//        leaves exactly the same D cells. The warm-up runs at depth too. Loop order as llama-bench's:
//        model, threads, depth, then the pp and tg tests.
//
// Bandwidth limit: `--bw GBPS` gives it; otherwise it is measured once per thread count with
// measureReadBandwidth() below, which needs no native build: T worker threads each run Buffer.indexOf(0)
// (glibc's vectorized memchr: one read-only stream, like a decode thread walking a weight matrix) over
// their own share of 1 GiB filled with a non-zero byte, best of 5 passes timed from the main thread.
// On the development host (AMD EPYC, zen4, 2 vCPU, shared and busy) it read 19-29 GB/s with 1 thread and
// ~28 with 2, where the oracle's AVX-512 sum kernel (shared/tools/llamacpp-oracle/membw.c) read 18-21 and
// 18-24 in the same minutes; both fell to ~12 under heavy load. Two-stream memcmp read more (~33), so
// it was not chosen. Treat the share as an estimate against what plain streaming reads achieve on this
// machine right now, not a hardware peak; pass --bw for a fixed reference.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { addon, type CacheType, type ModelInfo } from '../native/addon.js';
import { Model, type Context } from './model.js';
import { mulberry32 } from '../sampling/rng.js';
import { resolveDepth, type DepthOptions } from './depth/policy.js';

export interface BenchParams {
  models: string[];
  /** ppN tests; 0 entries are skipped (llama-bench) */
  nPrompt: number[];
  /** tgN tests; 0 entries are skipped */
  nGen: number[];
  /** llama-bench's -d: tokens already in the cache when each test starts (0 = empty cache) */
  nDepth?: number[];
  threads: number[];
  reps: number;
  nBatch: number;
  typeK: CacheType;
  typeV: CacheType;
  warmup: boolean;
  /** bandwidth limit in GB/s; 'auto' = measure once per thread count; 'off' = report n/a */
  bandwidth: number | 'auto' | 'off';
  /** depth gating for the generation tests (prompt tests run full depth unless depth.prefill) */
  depth?: DepthOptions;
  /** copy packable matrices into the CPU kernels' packed layout at load (default true) */
  repack?: boolean;
}

export const BENCH_DEFAULTS: Omit<BenchParams, 'models' | 'threads'> = {
  nPrompt: [512],
  nGen: [128],
  nDepth: [0],
  reps: 5,
  nBatch: 512,
  typeK: 'f16',
  typeV: 'f16',
  warmup: true,
  bandwidth: 'auto',
};

/** One row: llama-bench's fields that apply to us, then ours. */
export interface BenchResult {
  build_commit: string;
  cpu_info: string;
  backends: string;
  model_filename: string;
  model_type: string;
  model_size: number;
  model_n_params: number;
  n_batch: number;
  n_threads: number;
  type_k: string;
  type_v: string;
  n_prompt: number;
  n_gen: number;
  /** tokens in the cache before the test (llama-bench's n_depth) */
  n_depth: number;
  test_time: string;
  avg_ns: number;
  stddev_ns: number;
  avg_ts: number;
  stddev_ts: number;
  samples_ns: number[];
  samples_ts: number[];
  // --- ours ---
  cpu_features: string;
  isa: string;
  /** weight bytes the CPU kernels read from packed (8-row interleaved) copies; 0 with --no-repack */
  packed_bytes: number;
  /** parameters used per token: all for dense models; for MoE the routed `*_exps` tensors count nExpertUsed/nExpert
   *  (token_embd counts whole, as in n_params, though decode gathers one row) */
  model_n_params_active: number;
  n_expert: number;
  n_expert_used: number;
  /** weight bytes read to decode one token (routed experts only for MoE) */
  bytes_per_token: number;
  /** tg only: weight bytes the engine's matmul kernels actually read per generated token (its counter;
   *  packed layouts included), to check against bytes_per_token (e.g. MoE: routed experts only) */
  read_bytes_per_token: number | null;
  /** tg only: bytes_per_token × avg_ts (GB/s, 1e9) */
  achieved_gbps: number | null;
  /** the streaming-read bandwidth limit used for the share (GB/s), null when off */
  bw_limit_gbps: number | null;
  /** 'measured' (memchr probe) | 'given' (--bw) | null */
  bw_source: string | null;
  /** achieved_gbps / bw_limit_gbps (tg only) */
  bw_share: number | null;
  /** blocks executed per generated token (tg; n_layer when no depth gating) */
  blocks_per_token: number | null;
  n_layer: number;
  /** routed expert FFN evaluations per generated token over all MoE blocks (tg; 0 for dense models) */
  experts_per_token: number | null;
  /** KV cache bytes allocated at the end of the test (the context holds the largest depth + test; with
   *  --depth-kv skip the sparse cache grows as used) */
  kv_bytes: number;
  /** KV cache bytes holding data at the end of the last repetition: n_depth + the test's tokens */
  kv_bytes_used: number;
}

/** The fields every output format prints, in order (json adds samples_ns / samples_ts, like llama-bench). */
export const BENCH_FIELDS = [
  'build_commit', 'cpu_info', 'backends', 'model_filename', 'model_type', 'model_size', 'model_n_params',
  'n_batch', 'n_threads', 'type_k', 'type_v', 'n_prompt', 'n_gen', 'n_depth', 'test_time', 'avg_ns', 'stddev_ns', 'avg_ts',
  'stddev_ts', 'cpu_features', 'isa', 'packed_bytes', 'model_n_params_active', 'n_expert', 'n_expert_used', 'bytes_per_token',
  'read_bytes_per_token',
  'achieved_gbps', 'bw_limit_gbps', 'bw_source', 'bw_share', 'blocks_per_token', 'n_layer', 'experts_per_token',
  'kv_bytes', 'kv_bytes_used',
] as const satisfies readonly (keyof BenchResult)[];

// ----------------------------------------------------------------------------------------------------
// list arguments

/**
 * llama-bench's list syntax: comma-separated values, each a number or a range `first-last[+step]`
 * (step default 1). Throws on anything else or on a value below `min`.
 */
export function parseIntList(text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number[] {
  const out: number[] = [];
  if (text.trim() === '') throw new Error('empty list');
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const m = /^(\d+)(?:-(\d+)(?:\+(\d+))?)?$/.exec(item);
    if (!m) throw new Error(`'${item}' is not a number or a range like 1-8 or 1-8+2`);
    const first = Number(m[1]);
    const last = m[2] !== undefined ? Number(m[2]) : first;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (step < 1) throw new Error(`bad step in '${item}'`);
    if (last < first) throw new Error(`empty range '${item}'`);
    for (let v = first; v <= last; v += step) {
      if (v < min || v > max) throw new Error(`${v} is out of range (${min}..${max})`);
      out.push(v);
      if (out.length > 4096) throw new Error('list too long');
    }
  }
  return out;
}

// ----------------------------------------------------------------------------------------------------
// statistics

export function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? 0 : n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** sample standard deviation (n-1), 0 for fewer than two samples (llama-bench) */
export function stdev(xs: number[]): number {
  if (xs.length <= 1) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

// ----------------------------------------------------------------------------------------------------
// the tests

/** Deterministic benchmark tokens; llama-bench uses std::rand() unseeded, i.e. also fixed. */
export const makeRng = (seed = 1): (() => number) => mulberry32(seed);

export interface TestModel {
  nVocab: number;
  /** BOS id when the vocab adds BOS, else undefined */
  bos?: number;
  /** cancels the run: every pass of the tests polls it (Ctrl-C) */
  signal?: AbortSignal;
}

export function testModelOf(model: Model, signal?: AbortSignal): TestModel {
  const v = model.tokenizer.vocab;
  return { nVocab: model.info.nVocab, bos: v.addBos && v.bos >= 0 ? v.bos : undefined, signal };
}

/** ppN: one prompt of n tokens evaluated in nBatch chunks; returns elapsed nanoseconds. */
export async function timePrompt(ctx: Context, tm: TestModel, n: number, nBatch: number, rng: () => number): Promise<number> {
  const tokens = new Int32Array(n);
  for (let i = 0; i < n; i++) tokens[i] = Math.floor(rng() * tm.nVocab);
  if (tm.bos !== undefined && n > 0) tokens[0] = tm.bos;
  const chunk = Math.max(1, Math.min(nBatch, ctx.state().nBatch));
  const t0 = performance.now();
  for (let i = 0; i < n; i += chunk) await ctx.evaluate(tokens.subarray(i, Math.min(n, i + chunk)), { signal: tm.signal });
  return Math.round((performance.now() - t0) * 1e6);
}

/** tgN: n sequential single-token evaluations; returns elapsed nanoseconds. */
export async function timeGen(ctx: Context, tm: TestModel, n: number, rng: () => number): Promise<number> {
  let token = tm.bos ?? Math.floor(rng() * tm.nVocab);
  const one = [0];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    one[0] = token;
    await ctx.evaluate(one, { signal: tm.signal });
    token = Math.floor(rng() * tm.nVocab);
  }
  return Math.round((performance.now() - t0) * 1e6);
}

/** A test: ppN (nPrompt > 0) or tgN (nGen > 0), run with nDepth tokens already in the cache (default 0). */
export interface BenchTest {
  nPrompt: number;
  nGen: number;
  nDepth?: number;
}

/**
 * The depth's contents, untimed: positions [from, to) get random tokens (position 0 BOS when the vocab adds
 * BOS, as llama-bench's test_prompt fills the depth), evaluated in nBatch chunks after truncating to `from`.
 * Positions below `from` must already hold an earlier fill.
 */
export async function fillDepth(ctx: Context, tm: TestModel, from: number, to: number, nBatch: number, rng: () => number): Promise<void> {
  ctx.truncate(from);
  if (to <= from) return;
  const tokens = new Int32Array(to - from);
  for (let i = 0; i < tokens.length; i++) tokens[i] = Math.floor(rng() * tm.nVocab);
  if (tm.bos !== undefined && from === 0) tokens[0] = tm.bos;
  const chunk = Math.max(1, Math.min(nBatch, ctx.state().nBatch));
  for (let i = 0; i < tokens.length; i += chunk) await ctx.evaluate(tokens.subarray(i, Math.min(tokens.length, i + chunk)), { signal: tm.signal });
}

/**
 * One repetition of a test on a reused context: rewind the KV cache to the test's depth (empty at depth
 * 0; at depth D the cache must hold a fill of at least D positions), call `onStart` (untimed), then time it.
 */
export async function runOnce(
  ctx: Context,
  tm: TestModel,
  test: BenchTest,
  nBatch: number,
  rng: () => number,
  onStart?: () => void,
): Promise<number> {
  const depth = test.nDepth ?? 0;
  ctx.truncate(depth);
  if (ctx.nPast !== depth) throw new Error(`bench: the cache holds ${ctx.nPast} tokens where the test needs ${depth} (fill the depth first)`);
  onStart?.();
  if (test.nPrompt > 0) return timePrompt(ctx, tm, test.nPrompt, nBatch, rng);
  return timeGen(ctx, tm, test.nGen, rng);
}

/** llama-bench's warm-up: the full prompt for pp, one token for tg; at the test's depth (after its fill). */
export async function warmUp(ctx: Context, tm: TestModel, test: BenchTest, nBatch: number, rng: () => number) {
  ctx.truncate(test.nDepth ?? 0);
  if (test.nPrompt > 0) await timePrompt(ctx, tm, test.nPrompt, nBatch, rng);
  if (test.nGen > 0) await timeGen(ctx, tm, 1, rng);
}

// ----------------------------------------------------------------------------------------------------
// model facts

/** Parameters used per token: for MoE, the routed expert tensors (`*_exps`) count nExpertUsed/nExpert. */
export async function activeParams(path: string, info: ModelInfo): Promise<number> {
  if (info.nExpert <= 0 || info.nExpertUsed <= 0) return info.nParams;
  const h = await addon().readGguf(path, { arrayLimit: 0 });
  let routed = 0;
  for (const t of h.tensors) if (/_exps(\.weight)?$/.test(t.name)) routed += t.elements;
  return Math.round(info.nParams - routed * (1 - info.nExpertUsed / info.nExpert));
}

/** llama-bench's test names: pp512, tg128, pp512+tg128, with ` @ d4096` at a depth. */
export function testName(r: { n_prompt: number; n_gen: number; n_depth?: number }): string {
  const base = r.n_prompt > 0 && r.n_gen > 0 ? `pp${r.n_prompt}+tg${r.n_gen}` : r.n_prompt > 0 ? `pp${r.n_prompt}` : `tg${r.n_gen}`;
  return r.n_depth ? `${base} @ d${r.n_depth}` : base;
}

let commitCache: string | undefined;
export function buildCommit(): string {
  if (commitCache === undefined) {
    try {
      const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
      commitCache = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      commitCache = 'unknown';
    }
  }
  return commitCache;
}

export function cpuInfo(): string {
  return cpus()[0]?.model.trim() || 'unknown CPU';
}

// ----------------------------------------------------------------------------------------------------
// bandwidth probe

const PROBE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { bytes, reps, sab } = workerData;
const buf = Buffer.alloc(bytes, 0x5a); // filled = every page touched; holds no zero byte
const flag = new Int32Array(sab); // [0] ready count, [1] pass to start, [2] finished count
Atomics.add(flag, 0, 1); Atomics.notify(flag, 0);
let found = -1;
for (let r = 0; r < reps; r++) {
  for (;;) { const v = Atomics.load(flag, 1); if (v > r) break; Atomics.wait(flag, 1, v, 1000); }
  found = Math.max(found, buf.indexOf(0)); // memchr over the whole buffer: one read-only stream
  Atomics.add(flag, 2, 1); Atomics.notify(flag, 2);
}
parentPort.postMessage(found);
`;

function waitAtLeast(flag: Int32Array, index: number, target: number, timeoutMs = 60_000): void {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = Atomics.load(flag, index);
    if (v >= target) return;
    if (performance.now() > deadline) throw new Error('bandwidth probe timed out');
    Atomics.wait(flag, index, v, 100);
  }
}

/**
 * Streaming-read bandwidth (GB/s, 1e9) with `threads` threads: each worker memchr's (Buffer.indexOf) its
 * own buffer for a byte it does not hold, `totalBytes` read per pass in all, best of `reps` passes timed
 * on the main thread.
 */
export async function measureReadBandwidth(threads: number, totalBytes = 1 << 30, reps = 5): Promise<number> {
  const sab = new SharedArrayBuffer(12);
  const flag = new Int32Array(sab);
  const per = Math.max(4096, Math.floor(totalBytes / threads / 4096) * 4096);
  const workers = Array.from({ length: threads }, () => new Worker(PROBE_WORKER, { eval: true, workerData: { bytes: per, reps, sab } }));
  const done = workers.map((w) => new Promise<number>((ok, ko) => (w.once('message', ok), w.once('error', ko))));
  try {
    // wait for the allocations without blocking the event loop (worker errors must surface)
    const t0 = performance.now();
    while (Atomics.load(flag, 0) < threads) {
      await Promise.race([new Promise((r) => setTimeout(r, 5)), ...done.map((p) => p.then(() => undefined))]);
      if (performance.now() - t0 > 60_000) throw new Error('bandwidth probe timed out');
    }
    let best = 0;
    for (let r = 0; r < reps; r++) {
      const s = performance.now();
      Atomics.store(flag, 1, r + 1);
      Atomics.notify(flag, 1);
      waitAtLeast(flag, 2, (r + 1) * threads);
      const sec = (performance.now() - s) / 1000;
      best = Math.max(best, (per * threads) / sec / 1e9);
    }
    if ((await Promise.all(done)).some((x) => x !== -1)) throw new Error('bandwidth probe: memchr stopped early');
    return best;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// ----------------------------------------------------------------------------------------------------
// the run

export interface BenchHooks {
  /** a short status line (progress); called often */
  progress?: (msg: string) => void;
  /** each finished row, in order */
  onResult?: (r: BenchResult) => void;
  /** just before each timed repetition starts, after the cache was rewound to the test's depth (untimed) */
  onTimingStart?: (e: TimingStart) => void;
  /** cancels the run (Ctrl-C): the pass running stops and runBench rejects with the signal's reason */
  signal?: AbortSignal;
}

/** What the cache holds when a timed repetition starts. */
export interface TimingStart {
  model: string;
  threads: number;
  /** testName(): pp512, tg128 @ d4096, ... */
  test: string;
  nDepth: number;
  /** 0-based repetition */
  rep: number;
  /** positions in the cache (= nDepth) */
  nPast: number;
  /** KV bytes holding data / allocated */
  kvBytesUsed: number;
  kvBytes: number;
}

/** the largest context the addon creates (tokens) */
export const MAX_BENCH_CTX = 1 << 24;

export function formatKvBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(2)} KiB`;
  return `${n} B`;
}

export async function runBench(p: BenchParams, hooks: BenchHooks = {}): Promise<BenchResult[]> {
  if (p.models.length === 0) throw new Error('no model: give -m MODEL');
  if (p.threads.length === 0) throw new Error('no thread count');
  if (!(p.reps >= 1)) throw new Error('-r must be at least 1');
  const tests = [
    ...p.nPrompt.filter((n) => n > 0).map((n) => ({ nPrompt: n, nGen: 0 })),
    ...p.nGen.filter((n) => n > 0).map((n) => ({ nPrompt: 0, nGen: n })),
  ];
  if (tests.length === 0) throw new Error('no tests: every -p and -n value is 0');
  const depths = p.nDepth && p.nDepth.length > 0 ? p.nDepth : [0];
  for (const d of depths) if (!Number.isInteger(d) || d < 0) throw new Error(`-d: depth ${d} is not a token count >= 0`);
  const maxTest = Math.max(...tests.map((t) => t.nPrompt + t.nGen));
  const maxDepth = Math.max(...depths);
  // one context per (model, thread count) holds the largest depth plus the largest test
  const maxCtx = maxTest + maxDepth;
  if (maxCtx > MAX_BENCH_CTX)
    throw new Error(`-d ${maxDepth} plus ${maxTest} test tokens needs a context of ${maxCtx} tokens; the largest is ${MAX_BENCH_CTX}`);
  const sys = addon().systemInfo();
  const common = { build_commit: buildCommit(), cpu_info: cpuInfo(), backends: 'CPU', cpu_features: sys.cpuFeatures, isa: sys.isa };
  const bwCache = new Map<number, number>();
  const bandwidth = async (threads: number): Promise<{ gbps: number | null; source: string | null }> => {
    if (p.bandwidth === 'off') return { gbps: null, source: null };
    if (typeof p.bandwidth === 'number') return { gbps: p.bandwidth, source: 'given' };
    let v = bwCache.get(threads);
    if (v === undefined) {
      hooks.progress?.(`measuring read bandwidth with ${threads} thread${threads > 1 ? 's' : ''}`);
      v = await measureReadBandwidth(threads);
      bwCache.set(threads, v);
    }
    return { gbps: v, source: 'measured' };
  };
  // llama-bench's order: for each depth, the pp tests, then the tg tests
  const runs: BenchTest[] = depths.flatMap((nDepth) => tests.map((t) => ({ ...t, nDepth })));
  const results: BenchResult[] = [];
  for (const [mi, path] of p.models.entries()) {
    hooks.progress?.(`loading ${basename(path)}`);
    hooks.signal?.throwIfAborted();
    const model = await Model.load(path, { repack: p.repack ?? true, signal: hooks.signal });
    hooks.signal?.throwIfAborted();
    const info = model.info;
    const tm = testModelOf(model, hooks.signal);
    const active = await activeParams(path, info);
    for (const threads of p.threads) {
      const bw = tests.some((t) => t.nGen > 0) ? await bandwidth(threads) : { gbps: null, source: null };
      // one context per (model, thread count), sized for the largest depth plus the largest test; the
      // addon's thread pools are shared per thread count
      let ctx: Context;
      try {
        ctx = model.createContext({ nCtx: maxCtx, nBatch: p.nBatch, nThreads: threads, typeK: p.typeK, typeV: p.typeV });
      } catch (e) {
        const msg = (e as Error).message.replace(/; lower -c$/, '');
        throw new Error(
          maxDepth > 0
            ? `bench -d ${maxDepth}: ${msg} (depth ${maxDepth} + ${maxTest} test tokens); lower -d`
            : `bench: ${msg} (${maxTest} test tokens); lower -p / -n`,
        );
      }
      const depth = p.depth ? (await resolveDepth(model, p.depth)).policy : null;
      if (depth) ctx.setDepthPolicy(depth);
      const rng = makeRng(1);
      // positions [0, filled) of the cache hold depth tokens; a test at depth D overwrites those >= D
      let filled = 0;
      for (const test of runs) {
        const nDepth = test.nDepth ?? 0;
        const name = testName({ n_prompt: test.nPrompt, n_gen: test.nGen, n_depth: nDepth });
        const where = `[${mi + 1}/${p.models.length}] ${basename(path)} t=${threads} ${name}`;
        const testTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        if (filled < nDepth) {
          hooks.progress?.(`${where} filling the depth (${nDepth - filled} tokens)`);
          await fillDepth(ctx, tm, filled, nDepth, p.nBatch, rng);
        }
        filled = nDepth;
        if (p.warmup) {
          hooks.progress?.(`${where} warm-up`);
          await warmUp(ctx, tm, test, p.nBatch, rng);
        }
        const samplesNs: number[] = [];
        ctx.resetStats();
        for (let r = 0; r < p.reps; r++) {
          hooks.progress?.(`${where} rep ${r + 1}/${p.reps}`);
          const onStart = hooks.onTimingStart
            ? () => {
                const s = ctx.state();
                hooks.onTimingStart?.({
                  model: path,
                  threads,
                  test: name,
                  nDepth,
                  rep: r,
                  nPast: s.nPast,
                  kvBytesUsed: ctx.stats().kvBytesUsed,
                  kvBytes: s.kvBytes,
                });
              }
            : undefined;
          samplesNs.push(Math.max(1, await runOnce(ctx, tm, test, p.nBatch, rng, onStart)));
        }
        const nTok = test.nPrompt + test.nGen;
        const samplesTs = samplesNs.map((ns) => (1e9 * nTok) / ns);
        const avgTs = mean(samplesTs);
        const st = ctx.stats();
        const isTg = test.nGen > 0 && test.nPrompt === 0;
        const genTokens = test.nGen * p.reps;
        // blocks run per generated token: routed tokens report their runs, the rest ran every block
        const blocksPerToken = isTg
          ? st.routedTokens > 0
            ? st.blockRuns.reduce((a, b) => a + b, 0) / st.routedTokens
            : info.nLayer
          : null;
        const achieved = isTg ? (info.bytesPerToken * avgTs) / 1e9 : null;
        const r: BenchResult = {
          ...common,
          model_filename: path,
          model_type: info.description,
          model_size: info.weightBytes,
          model_n_params: info.nParams,
          n_batch: p.nBatch,
          n_threads: threads,
          type_k: p.typeK,
          type_v: p.typeV,
          n_prompt: test.nPrompt,
          n_gen: test.nGen,
          n_depth: nDepth,
          test_time: testTime,
          avg_ns: Math.round(mean(samplesNs)),
          stddev_ns: Math.round(stdev(samplesNs)),
          avg_ts: avgTs,
          stddev_ts: stdev(samplesTs),
          samples_ns: samplesNs,
          samples_ts: samplesTs,
          packed_bytes: info.packedBytes,
          model_n_params_active: active,
          n_expert: info.nExpert,
          n_expert_used: info.nExpertUsed,
          bytes_per_token: info.bytesPerToken,
          achieved_gbps: achieved,
          bw_limit_gbps: achieved === null ? null : bw.gbps,
          bw_source: achieved === null ? null : bw.source,
          bw_share: achieved !== null && bw.gbps ? achieved / bw.gbps : null,
          blocks_per_token: blocksPerToken,
          n_layer: info.nLayer,
          experts_per_token: isTg ? st.expertEvals / Math.max(1, genTokens) : null,
          read_bytes_per_token: isTg ? st.weightBytes / Math.max(1, genTokens) : null,
          kv_bytes: ctx.state().kvBytes,
          kv_bytes_used: st.kvBytesUsed,
        };
        results.push(r);
        hooks.onResult?.(r);
      }
    }
  }
  return results;
}

// ----------------------------------------------------------------------------------------------------
// output

export function formatSize(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(2)} MiB`;
}

export function formatParamCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : `${(n / 1e6).toFixed(2)} M`;
}

export interface Printer {
  begin(): string;
  row(r: BenchResult): string;
  end(results: BenchResult[]): string;
}

interface MdColumn {
  name: string;
  right: boolean;
  value: (r: BenchResult) => string;
}

/**
 * llama-bench's markdown table (model | size | params | backend | threads | [non-default params] | test |
 * t/s), then our columns: active params, bytes per generated token, achieved GB/s and share of the
 * bandwidth limit (tg rows only), blocks per token with depth gating, KV cache bytes used and allocated.
 * Tests at a depth are named `pp512 @ d4096` (llama-bench). Rows stream as tests finish; the footer names
 * build, CPU and ISA.
 */
export function markdownPrinter(p: Pick<BenchParams, 'nBatch' | 'typeK' | 'typeV' | 'depth'>): Printer {
  const cols: MdColumn[] = [
    { name: 'model', right: false, value: (r) => r.model_type },
    { name: 'size', right: true, value: (r) => formatSize(r.model_size) },
    { name: 'params', right: true, value: (r) => formatParamCount(r.model_n_params) },
    { name: 'backend', right: false, value: (r) => r.backends },
    { name: 'threads', right: true, value: (r) => String(r.n_threads) },
  ];
  if (p.nBatch !== BENCH_DEFAULTS.nBatch) cols.push({ name: 'n_batch', right: true, value: (r) => String(r.n_batch) });
  if (p.typeK !== BENCH_DEFAULTS.typeK) cols.push({ name: 'type_k', right: true, value: (r) => r.type_k });
  if (p.typeV !== BENCH_DEFAULTS.typeV) cols.push({ name: 'type_v', right: true, value: (r) => r.type_v });
  cols.push(
    { name: 'test', right: true, value: (r) => testName(r) },
    { name: 't/s', right: true, value: (r) => `${r.avg_ts.toFixed(2)} ± ${r.stddev_ts.toFixed(2)}` },
    { name: 'active', right: true, value: (r) => formatParamCount(r.model_n_params_active) },
    { name: 'B/tok', right: true, value: (r) => (r.n_gen > 0 ? formatSize(r.bytes_per_token) : '') },
    // what the kernels read per token against B/tok (packed copies may differ by a few %)
    {
      name: 'read',
      right: true,
      value: (r) => (r.read_bytes_per_token === null ? '' : `${((100 * r.read_bytes_per_token) / r.bytes_per_token).toFixed(1)} %`),
    },
    { name: 'GB/s', right: true, value: (r) => (r.achieved_gbps === null ? '' : r.achieved_gbps.toFixed(2)) },
    {
      name: 'of bw',
      right: true,
      value: (r) => (r.achieved_gbps === null ? '' : r.bw_share === null ? 'n/a' : `${(100 * r.bw_share).toFixed(1)} %`),
    },
  );
  if (p.depth)
    cols.push({
      name: 'blk/tok',
      right: true,
      value: (r) => (r.blocks_per_token === null ? '' : `${r.blocks_per_token.toFixed(2)}/${r.n_layer}`),
    });
  // the KV cache as the test left it (n_depth + the test's tokens) and what the context allocated
  cols.push(
    { name: 'KV used', right: true, value: (r) => formatKvBytes(r.kv_bytes_used) },
    { name: 'KV alloc', right: true, value: (r) => formatKvBytes(r.kv_bytes) },
  );
  // fixed widths so rows can stream (llama-bench: model 30, size/params 9, test 15, t/s 20); size gets 10 for
  // 'nnn.nn MiB'
  const width = (c: MdColumn) =>
    Math.max(c.name.length, { model: 30, size: 10, params: 9, test: 15, 't/s': 20, active: 9, 'B/tok': 10, read: 8, 'of bw': 8, 'KV used': 10, 'KV alloc': 10 }[c.name] ?? 6);
  const line = (cells: string[]) =>
    `| ${cells.map((s, i) => (cols[i].right ? s.padStart(width(cols[i])) : s.padEnd(width(cols[i])))).join(' | ')} |\n`;
  return {
    begin: () =>
      line(cols.map((c) => c.name)) +
      `|${cols.map((c) => (c.right ? '-'.repeat(width(c) + 1) + ':' : '-'.repeat(width(c) + 2))).join('|')}|\n`,
    row: (r) => line(cols.map((c) => c.value(r))),
    end: (results) => {
      const first = results[0];
      const sys = addon().systemInfo();
      const bw = new Map<number, string>();
      for (const r of results)
        if (r.bw_limit_gbps !== null) bw.set(r.n_threads, `${r.bw_limit_gbps.toFixed(2)} GB/s @ ${r.n_threads}t`);
      const src = results.find((r) => r.bw_source)?.bw_source;
      return (
        `\nbuild: ${first?.build_commit ?? buildCommit()} | cpu: ${first?.cpu_info ?? cpuInfo()} | kernels: ${sys.isa} | features: ${sys.cpuFeatures}\n` +
        (bw.size
          ? `read bandwidth limit (${src === 'given' ? '--bw' : 'memchr probe, best of 5 over 1 GiB'}): ${[...bw.values()].join(', ')}\n`
          : '') +
        (results.some((r) => r.bw_share !== null && r.bw_share > 1)
          ? `(a share over 100 % means those weights stay in the CPU caches between tokens)\n`
          : '')
      );
    },
  };
}

export function jsonPrinter(): Printer {
  return {
    begin: () => '',
    row: () => '',
    end: (results) =>
      JSON.stringify(
        results.map((r) => {
          const o: Record<string, unknown> = {};
          for (const f of BENCH_FIELDS) o[f] = r[f];
          o.samples_ns = r.samples_ns;
          o.samples_ts = r.samples_ts;
          return o;
        }),
        null,
        2,
      ) + '\n',
  };
}

export function csvQuote(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return `"${s.replace(/"/g, '""')}"`;
}

/** llama-bench's csv: a header with the field names, every value double-quoted, no samples. */
export function csvPrinter(): Printer {
  return {
    begin: () => BENCH_FIELDS.join(',') + '\n',
    row: (r) => BENCH_FIELDS.map((f) => csvQuote(r[f])).join(',') + '\n',
    end: () => '',
  };
}

export type BenchFormat = 'md' | 'json' | 'csv';

export function printerFor(format: BenchFormat, p: Pick<BenchParams, 'nBatch' | 'typeK' | 'typeV' | 'depth'>): Printer {
  if (format === 'json') return jsonPrinter();
  if (format === 'csv') return csvPrinter();
  return markdownPrinter(p);
}
