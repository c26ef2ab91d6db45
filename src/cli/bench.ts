// `llama4 bench -m MODEL [-m MODEL2 ...] [-p 512] [-n 128] [-t 1,2] [-r 5] [-b 512] [-ctk f16] [-o md|json|csv]`:
// llama.cpp's llama-bench for our engine (src/engine/bench.ts), with bandwidth columns of our own.
// Results go to stdout; a progress line goes to stderr only when stderr is a terminal.
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  BENCH_DEFAULTS,
  parseIntList,
  printerFor,
  runBench,
  type BenchFormat,
  type BenchParams,
  type BenchResult,
} from '../engine/bench.js';
import { addCacheTypeFlags, addDepthFlags, defaultThreads, depthOptions, intArg, type DepthFlags } from './flags.js';
import { hasDepth } from '../engine/depth/policy.js';

export interface BenchFlags extends DepthFlags {
  model: string[];
  nPrompt: number[];
  nGen: number[];
  threads?: number[];
  repetitions: number;
  batchSize: number;
  cacheTypeK: 'f16' | 'f32';
  cacheTypeV: 'f16' | 'f32';
  output: BenchFormat;
  warmup: boolean;
  bw?: number | 'auto' | 'off';
  repack: boolean;
}

export interface BenchIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** show a progress line on err (a terminal) */
  progress?: boolean;
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

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
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
    return results;
  } finally {
    clear();
  }
}

export function registerBench(program: Command): Command {
  const cmd = program
    .command('bench')
    .description("measure prompt processing (ppN) and generation (tgN) speed, like llama.cpp's llama-bench")
    .option('-m, --model <path>', 'model file (.gguf); repeat for several', collect, [])
    .option('-p, --n-prompt <list>', 'prompt lengths to test (comma list / ranges a-b[+s]; 0 skips)', listArg('-p', 0, 1 << 20), BENCH_DEFAULTS.nPrompt)
    .option('-n, --n-gen <list>', 'generation lengths to test (0 skips)', listArg('-n', 0, 1 << 20), BENCH_DEFAULTS.nGen)
    .option('-t, --threads <list>', `thread counts, e.g. 1,2 or 1-8+1 (default: ${defaultThreads()})`, listArg('-t', 1, 512))
    .option('-r, --repetitions <n>', 'repetitions per test', intArg(1, 100000), BENCH_DEFAULTS.reps)
    .option('-b, --batch-size <n>', 'tokens per forward pass when processing the prompt', intArg(1, 65536), BENCH_DEFAULTS.nBatch);
  addCacheTypeFlags(cmd);
  addDepthFlags(cmd);
  cmd
    .addOption(new Option('-o, --output <format>', 'output format').choices(['md', 'json', 'csv']).default('md'))
    .option('--no-warmup', 'skip the warm-up run before each test')
    .option('--no-repack', "keep the file's weight layout (no packed copies for the CPU kernels)")
    .option(
      '--bw <GBPS|auto|off>',
      "read-bandwidth limit for the 'of bw' share: a number in GB/s, 'auto' = measure once per thread count (memchr read probe, ~1 s), 'off'",
      bwArg,
      'auto',
    );
  cmd.action(async (flags: BenchFlags) => {
    if (flags.model.length === 0) throw new Error('no model: give -m MODEL (repeat -m for several)');
    await runBenchCommand(flags, {
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
      progress: process.stderr.isTTY === true,
    });
  });
  return cmd;
}
