// `llama4 bench -m MODEL [-m MODEL2 ...] [-p 512] [-n 128] [-d 0,4096] [-t 1,2] [-r 5] [-b 512] [-ctk f16] [-o md|json|csv]`:
// llama.cpp's llama-bench for our engine (src/engine/bench.ts), with bandwidth columns of our own.
// Results go to stdout; a progress line goes to stderr only when stderr is a terminal.
import { UsageError, withProcessIo } from './io.js';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  BENCH_DEFAULTS,
  MAX_BENCH_CTX,
  parseIntList,
  printerFor,
  runBench,
  type BenchFormat,
  type BenchParams,
  type BenchResult,
} from '../engine/bench.js';
import { addCacheTypeFlags, addDepthFlags, addPlacementFlags, defaultThreads, depthOptions, intArg, MODEL_HELP, modelArg, placementOptions, type DepthFlags, type PlacementFlags } from './flags.js';
import { placementWarning } from '../engine/gpu.js';
import { cudaLine } from './version.js';
import { hasDepth } from '../engine/depth/policy.js';
import { batchedHeader, batchedRowText, runBatchedBench, type BatchedRow } from '../engine/batched-bench.js';
import { Model } from '../engine/model.js';
import type { CacheType } from '../native/addon.js';

export interface BenchFlags extends DepthFlags, PlacementFlags {
  model: string[];
  nPrompt: number[];
  nGen: number[];
  nDepth: number[];
  threads?: number[];
  repetitions: number;
  batchSize: number;
  cacheTypeK: CacheType;
  cacheTypeV: CacheType;
  output: BenchFormat;
  warmup: boolean;
  bw?: number | 'auto' | 'off';
  repack: boolean;
  parallel?: number[];
  nPp: number[];
  nTg: number[];
}

/** `bench --parallel`: llama-batched-bench's table (or JSON lines with -o json). */
export async function runBatchedCommand(f: BenchFlags, out: (s: string) => void, signal?: AbortSignal): Promise<BatchedRow[]> {
  if (f.model.length !== 1) throw new UsageError('--parallel measures one model: give one -m');
  const threads = f.threads ?? [defaultThreads()];
  if (threads.length !== 1) throw new UsageError('--parallel takes one thread count (-t N)');
  if ((f.nDepth ?? [0]).some((d) => d > 0)) throw new UsageError('-d is not supported with --parallel (llama-batched-bench has no depth)');
  const model = await Model.load(f.model[0], { repack: f.repack, signal });
  if (f.output === 'md') out(`model: ${model.info.description}, ${threads[0]} threads, KV ${f.cacheTypeK}/${f.cacheTypeV}\n\n` + batchedHeader());
  const rows = await runBatchedBench(
    model,
    { npp: f.nPp, ntg: f.nTg, npl: f.parallel as number[], threads: threads[0], nBatch: f.batchSize, typeK: f.cacheTypeK, typeV: f.cacheTypeV, signal },
    (r) => out(f.output === 'md' ? batchedRowText(r) : f.output === 'json' ? JSON.stringify(r) + '\n' : ''),
  );
  if (f.output === 'csv') out('pp,tg,pl,n_kv,t_pp,s_pp,t_tg,s_tg,t,s\n' + rows.map((r) => [r.pp, r.tg, r.pl, r.n_kv, r.t_pp, r.s_pp, r.t_tg, r.s_tg, r.t, r.s].join(',')).join('\n') + '\n');
  return rows;
}

export interface BenchIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** show a progress line on err (a terminal) */
  progress?: boolean;
  /** Ctrl-C */
  signal?: AbortSignal;
}

function listArg(what: string, min: number, max: number) {
  return (v: string): number[] => {
    try {
      return parseIntList(v, min, max);
    } catch (e) {
      throw new InvalidArgumentError(`${what}: ${(e as Error).message}`);
    }
  };
}

/** -d: token counts >= 0 (llama-bench's n_depth), as a comma list or ranges */
function depthArg(v: string): number[] {
  try {
    return parseIntList(v, 0, MAX_BENCH_CTX);
  } catch (e) {
    throw new InvalidArgumentError(`-d: ${(e as Error).message}; a depth is a token count >= 0, e.g. -d 0,1024,4096`);
  }
}

function collectModels(v: string, prev: string[] = []): string[] {
  return [...prev, modelArg(v)];
}

function bwArg(v: string): number | 'auto' | 'off' {
  const s = v.trim().toLowerCase();
  if (s === 'auto' || s === 'off') return s;
  const n = Number(s);
  if (s === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected GB/s > 0, 'auto' or 'off'`);
  return n;
}

export function benchParams(f: BenchFlags): BenchParams {
  return {
    models: f.model,
    nPrompt: f.nPrompt,
    nGen: f.nGen,
    nDepth: f.nDepth ?? BENCH_DEFAULTS.nDepth,
    threads: f.threads ?? [defaultThreads()],
    reps: f.repetitions,
    nBatch: f.batchSize,
    typeK: f.cacheTypeK,
    typeV: f.cacheTypeV,
    warmup: f.warmup,
    bandwidth: f.bw ?? 'auto',
    repack: f.repack,
    ...(hasDepth(depthOptions(f)) ? { depth: depthOptions(f) } : {}),
  };
}

export async function runBenchCommand(flags: BenchFlags, io: BenchIo): Promise<BenchResult[]> {
  const params = benchParams(flags);
  io.err(placementWarning(placementOptions(flags)));
  const printer = printerFor(flags.output, params);
  let shown = false;
  const progress = io.progress
    ? (msg: string) => {
        io.err(`\r\x1b[2Kbench: ${msg}`);
        shown = true;
      }
    : undefined;
  const clear = () => {
    if (shown) io.err('\r\x1b[2K');
    shown = false;
  };
  let begun = false;
  try {
    const results = await runBench(params, {
      signal: io.signal,
      progress,
      onResult: (r) => {
        clear();
        if (!begun) io.out(printer.begin());
        begun = true;
        io.out(printer.row(r));
      },
    });
    clear();
    io.out(printer.end(results));
    if (flags.output === 'md') io.out(`placement: all weights and the KV cache in system memory (${cudaLine()})\n`);
    return results;
  } finally {
    clear();
  }
}

export function registerBench(program: Command): Command {
  const cmd = program
    .command('bench')
    .description("measure prompt processing (ppN) and generation (tgN) speed, like llama.cpp's llama-bench")
    .option('-m, --model <path>', `${MODEL_HELP}; repeat for several`, collectModels, [])
    .option('-p, --n-prompt <list>', 'prompt lengths to test (comma list / ranges a-b[+s]; 0 skips)', listArg('-p', 0, 1 << 20), BENCH_DEFAULTS.nPrompt)
    .option('-n, --n-gen <list>', 'generation lengths to test (0 skips)', listArg('-n', 0, 1 << 20), BENCH_DEFAULTS.nGen)
    .option(
      '-d, --n-depth <list>',
      'tokens already in the KV cache when each test starts, evaluated untimed (llama-bench n_depth; e.g. 0,1024,4096)',
      depthArg,
      BENCH_DEFAULTS.nDepth,
    )
    .option('-t, --threads <list>', `thread counts, e.g. 1,2 or 1-8+1 (default: ${defaultThreads()})`, listArg('-t', 1, 512))
    .option('-r, --repetitions <n>', 'repetitions per test', intArg(1, 100000), BENCH_DEFAULTS.reps)
    .option('-b, --batch-size <n>', 'tokens per forward pass when processing the prompt', intArg(1, 65536), BENCH_DEFAULTS.nBatch);
  addCacheTypeFlags(cmd);
  addPlacementFlags(cmd);
  addDepthFlags(cmd);
  cmd
    .addOption(new Option('-o, --output <format>', 'output format').choices(['md', 'json', 'csv']).default('md'))
    .option('--no-warmup', 'skip the warm-up run before each test')
    .option('--parallel <list>', "llama-batched-bench: numbers of parallel sequences (-npl), each decoding in one batched step", listArg('--parallel', 1, 256))
    .option('--n-pp <list>', 'with --parallel: prompt tokens per sequence (-npp)', listArg('-npp', 0, 1 << 16), [32])
    .option('--n-tg <list>', 'with --parallel: generated tokens per sequence (-ntg)', listArg('-ntg', 1, 1 << 16), [64])
    .option('--no-repack', "keep the file's weight layout (no packed copies for the CPU kernels)")
    .option(
      '--bw <GBPS|auto|off>',
      "read-bandwidth limit for the 'of bw' share: a number in GB/s, 'auto' = measure once per thread count (memchr read probe, ~1 s), 'off'",
      bwArg,
      'auto',
    );
  cmd.action(async (flags: BenchFlags) => {
    if (flags.model.length === 0) throw new UsageError('no model: give -m MODEL (repeat -m for several)');
    if (flags.parallel) {
      await withProcessIo((io) => runBatchedCommand(flags, io.out, io.signal));
      return;
    }
    await withProcessIo((io) => runBenchCommand(flags, { ...io, progress: process.stderr.isTTY === true }));
  });
  return cmd;
}
