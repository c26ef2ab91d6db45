// scripts/bench-vs-llamacpp: times our engine and llama.cpp (the oracle's native nbench, persistent thread
// pool) on the same files and thread counts, alternating per repetition (ours, llama.cpp, ours, llama.cpp,
// ...), and prints a ratio table. See USAGE.
//
// Ours runs in this process through the engine API with llama-bench semantics (src/engine/bench.ts): one
// context per (model, threads), one warm-up, then per repetition ppP then tgN with the KV cache cleared.
// llama.cpp runs as `POOL=1 nbench MODEL THREADS P N 1 PROMPT 4` once per repetition: a fresh process that
// loads the (page-cached) file, decodes a short greedy warm-up and a 32-token warm-up batch, then times
// one ppP decode and N single-token decodes (untimed first token, like our BOS-first tg). Its t/s are
// printed with one decimal, so very slow rows (< 10 t/s) carry up to ~1% rounding.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Model } from '../../src/engine/model.js';
import { addon } from '../../src/native/addon.js';
import { cpuInfo, makeRng, median, parseIntList, runOnce, testModelOf, warmUp } from '../../src/engine/bench.js';
import { makeModels, SHARED_MODELS, setIn, sharedModels, type OracleDirs, type Quantizer } from './bench-models.js';

const SHARED_TOOLS = resolve(SHARED_MODELS, '..', 'tools', 'llamacpp-oracle');

const USAGE = `usage: scripts/bench-vs-llamacpp [options] [MODEL.gguf ...]

Times llama4 and llama.cpp (native nbench, persistent thread pool) alternately on the same files.
Models: the paths given; else the set in --set DIR / --make-models DIR (+ the shared stories260K and
SmolLM2-135M Q4_1); else just the two shared models.

  -t, --threads LIST     thread counts (default 1,${availableParallelism()})
  -p, --n-prompt N       prompt length for ppN (default 128; 0 skips pp)
  -n, --n-gen N          tokens for tgN (default 128; 0 skips tg)
  -r, --reps N           repetitions per engine, alternating (default 3)
  -b, --batch-size N     our n_batch (default 512; llama.cpp's nbench uses max(P, 512))
  -o, --output md|json   (default md)
  --set DIR              benchmark the generated set found in DIR
  --make-models DIR      generate + quantize the set into DIR (existing files are kept), then benchmark it
  --no-bench             with --make-models: only make the files
  --quantizer Q          auto (llama4 quantize if the CLI has it, else llama.cpp) | llama4 | llamacpp
  --no-shared            leave out stories260K and SmolLM2 when using --set / --make-models
  --ik PATH              also time ik_llama.cpp: PATH is its llama-bench (built outside this repository, see the
                         README), run with its run-time repacking (-rtr 1), alternating with the other two

Environment: LLAMA4_ORACLE_DIR (default /work/oracle) holds nbench and quant built as in its
README.local.md; LIBDIR (default $LLAMA4_ORACLE_DIR/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64).`;

export interface Args {
  models: string[];
  threads: number[];
  nPrompt: number;
  nGen: number;
  reps: number;
  nBatch: number;
  output: 'md' | 'json';
  set?: string;
  makeModels?: string;
  bench: boolean;
  quantizer: Quantizer;
  shared: boolean;
  /** ik_llama.cpp's llama-bench */
  ik?: string;
}

export function parseCli(argv: string[]): Args | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      threads: { type: 'string', short: 't' },
      'n-prompt': { type: 'string', short: 'p' },
      'n-gen': { type: 'string', short: 'n' },
      reps: { type: 'string', short: 'r' },
      'batch-size': { type: 'string', short: 'b' },
      output: { type: 'string', short: 'o' },
      set: { type: 'string' },
      'make-models': { type: 'string' },
      'no-bench': { type: 'boolean' },
      quantizer: { type: 'string' },
      'no-shared': { type: 'boolean' },
      ik: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const int = (name: string, v: string | undefined, dflt: number, min: number): number => {
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new Error(`--${name} expects an integer >= ${min}, got '${v}'`);
    return Number(v);
  };
  const output = values.output ?? 'md';
  if (output !== 'md' && output !== 'json') throw new Error(`--output is md or json, got '${output}'`);
  const quantizer = (values.quantizer ?? 'auto') as Quantizer;
  if (!['auto', 'llama4', 'llamacpp'].includes(quantizer)) throw new Error(`--quantizer is auto, llama4 or llamacpp`);
  let threads: number[];
  try {
    threads = values.threads ? parseIntList(values.threads, 1, 512) : [...new Set([1, availableParallelism()])];
  } catch (e) {
    throw new Error(`-t: ${(e as Error).message}`);
  }
  const a: Args = {
    models: positionals.map((p) => resolve(p)),
    threads,
    nPrompt: int('n-prompt', values['n-prompt'], 128, 0),
    nGen: int('n-gen', values['n-gen'], 128, 0),
    reps: int('reps', values.reps, 3, 1),
    nBatch: int('batch-size', values['batch-size'], 512, 1),
    output,
    set: values.set,
    makeModels: values['make-models'],
    bench: !values['no-bench'],
    quantizer,
    shared: !values['no-shared'],
    ...(values.ik ? { ik: resolve(values.ik) } : {}),
  };
  if (a.nPrompt === 0 && a.nGen === 0) throw new Error('nothing to time: -p and -n are both 0');
  if (a.reps > 64) throw new Error('-r is at most 64 (nbench keeps 64 samples)');
  return a;
}

export function oracleDirs(): OracleDirs {
  const dir = resolve(process.env.LLAMA4_ORACLE_DIR ?? '/work/oracle');
  const libdir = resolve(process.env.LIBDIR ?? join(dir, 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64'));
  return { dir, libdir };
}

export function oracleProblem(o: OracleDirs, need: 'nbench' | 'quant'): string | undefined {
  const missing: string[] = [];
  if (!existsSync(join(o.dir, need))) missing.push(join(o.dir, need));
  if (!existsSync(o.libdir)) missing.push(o.libdir);
  if (missing.length === 0) return undefined;
  const readme = [join(o.dir, 'README.local.md'), join(SHARED_TOOLS, 'README.md')].find((p) => existsSync(p));
  return (
    `llama.cpp oracle not found: missing ${missing.join(', ')}.\n` +
    `Install it (llama.cpp's prebuilt CPU libraries from the node-llama-cpp npm package, no download of models):\n` +
    `  mkdir -p ${o.dir} && cd ${o.dir} && npm init -y\n` +
    `  NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --omit=optional node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1\n` +
    `  cp ${SHARED_TOOLS}/*.c .   # then fetch the headers and build nbench.c / quant.c with gcc\n` +
    `The exact header and gcc commands are in ${readme ?? 'shared/tools/llamacpp-oracle/README.md'}.\n` +
    `Point LLAMA4_ORACLE_DIR (and LIBDIR if the libraries live elsewhere) at an existing install.`
  );
}

export interface NbenchResult {
  desc: string;
  pp: number;
  tg: number;
}

/** Runs a benchmark program to its end: its exit code and what it printed. */
function runTool(bin: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((ok, ko) => {
    const child = spawn(bin, args, { ...(env ? { env } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', ko);
    child.on('close', (code) => ok({ code, out, err }));
  });
}

/** The last lines of a failed run, for its error message. */
const tail = (r: { out: string; err: string }, n: number) => (r.err || r.out).trim().split('\n').slice(-n).join(' | ');

/** `POOL=1 nbench MODEL THREADS PP TG 1 PROMPT 4`, one repetition. */
export async function runNbench(o: OracleDirs, model: string, threads: number, pp: number, tg: number): Promise<NbenchResult> {
  const r = await runTool(join(o.dir, 'nbench'), [model, String(threads), String(pp), String(tg), '1', 'Once upon a time', '4'], {
    ...process.env,
    LIBDIR: o.libdir,
    POOL: '1',
  });
  const out = r.out;
  const m = /RESULT threads=\d+ pp\d+ min\/median\/max [\d.]+\/([\d.]+|inf|nan)\/[\d.a-z]+ t\/s \| tg\d+ min\/median\/max [\d.]+\/([\d.]+|inf|nan)\//.exec(out);
  if (r.code !== 0 || !m) throw new Error(`nbench failed (exit ${r.code}) on ${basename(model)}: ${tail(r, 3)}`);
  const desc = /^(.*?) \| n_params=/m.exec(out)?.[1] ?? '';
  return { desc, pp: Number(m[1]), tg: Number(m[2]) };
}

/** ik_llama.cpp's `llama-bench -m MODEL -t THREADS -p PP -n TG -r 1 -rtr 1 -o json`, one repetition: t/s of pp, tg. */
export async function runIkBench(bin: string, model: string, threads: number, pp: number, tg: number): Promise<{ pp: number; tg: number }> {
  const args = ['-m', model, '-t', String(threads), '-p', String(pp), '-n', String(tg), '-r', '1', '-rtr', '1', '-o', 'json'];
  const r = await runTool(bin, args);
  try {
    if (r.code !== 0) throw new Error(`exit ${r.code}`);
    const rows = JSON.parse(r.out.slice(r.out.indexOf('['))) as { n_prompt: number; n_gen: number; avg_ts: number }[];
    const find = (p: number, g: number) => rows.find((x) => x.n_prompt === p && x.n_gen === g)?.avg_ts ?? NaN;
    return { pp: pp > 0 ? find(pp, 0) : NaN, tg: tg > 0 ? find(0, tg) : NaN };
  } catch (e) {
    throw new Error(`ik_llama.cpp llama-bench failed (${(e as Error).message}) on ${basename(model)}: ${tail(r, 2)}`);
  }
}

// llama_ftype names (llama.cpp llama_model_ftype_name), for the type column
const FTYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K - Medium', 11: 'Q3_K - Small',
  12: 'Q3_K - Medium', 13: 'Q3_K - Large', 14: 'Q4_K - Small', 15: 'Q4_K - Medium', 16: 'Q5_K - Small',
  17: 'Q5_K - Medium', 18: 'Q6_K', 32: 'BF16',
};

/** The file's general.file_type as llama.cpp names it, else the type part of our model description. */
async function fileType(file: string, description?: string): Promise<string> {
  try {
    const h = await addon().readGguf(file, { arrayLimit: 0 });
    const v = h.metadata.find((kv) => kv.key === 'general.file_type')?.value;
    const name = typeof v === 'number' ? FTYPE_NAMES[v] : undefined;
    if (name) return name;
  } catch {
    // fall through
  }
  return description?.split(' ').slice(2).join(' ') || '?';
}

export interface Row {
  model: string;
  file: string;
  type: string;
  threads: number;
  test: string;
  ours: number[];
  llamacpp: number[];
  ours_median: number | null;
  llamacpp_median: number | null;
  /** ours / llama.cpp (medians); > 1 = we are faster */
  ratio: number | null;
  /** with --ik: ik_llama.cpp's t/s, its median and ours / ik_llama.cpp */
  ik?: number[];
  ik_median?: number | null;
  ratio_ik?: number | null;
  error?: string;
}

function fmt(x: number | null, digits = 2): string {
  return x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);
}

function range(xs: number[]): string {
  return xs.length ? `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}` : '';
}

export function markdown(rows: Row[]): string {
  const ik = rows.some((r) => r.ik !== undefined);
  const ratio = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)}x`);
  const head = ['model', 'type', 'threads', 'test', 'ours t/s', 'llama.cpp t/s', 'ratio', ...(ik ? ['ik_llama.cpp t/s', 'ratio ik'] : []), 'ours min-max', 'llama.cpp min-max', ...(ik ? ['ik min-max'] : [])];
  const right = head.map((_, i) => i >= 2);
  const cells = rows.map((r) => [
    r.model,
    r.type,
    String(r.threads),
    r.test,
    fmt(r.ours_median),
    fmt(r.llamacpp_median),
    ratio(r.ratio),
    ...(ik ? [fmt(r.ik_median ?? null), ratio(r.ratio_ik)] : []),
    range(r.ours),
    range(r.llamacpp),
    ...(ik ? [range(r.ik ?? [])] : []),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((s, i) => (right[i] ? s.padStart(w[i]) : s.padEnd(w[i]))).join(' | ')} |`;
  const sep = `|${w.map((n, i) => (right[i] ? '-'.repeat(n + 1) + ':' : '-'.repeat(n + 2))).join('|')}|`;
  const errors = rows.filter((r) => r.error).map((r) => `- ${r.model} t=${r.threads} ${r.test}: ${r.error}`);
  return [line(head), sep, ...cells.map(line)].join('\n') + '\n' + (errors.length ? `\nerrors:\n${[...new Set(errors)].join('\n')}\n` : '');
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCli(argv);
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const a = parsed;
  const oracle = oracleDirs();
  const tty = process.stderr.isTTY === true;
  const status = (s: string) => (tty ? process.stderr.write(`\r\x1b[2K${s}`) : undefined);
  const log = (s: string) => process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${s}\n`);

  let models = a.models;
  if (a.makeModels) {
    const needQuant = a.quantizer === 'llamacpp' || a.quantizer === 'auto';
    const problem = needQuant ? oracleProblem(oracle, 'quant') : undefined;
    if (problem && a.quantizer === 'llamacpp') {
      log(problem);
      return 2;
    }
    const made = makeModels(resolve(a.makeModels), { quantizer: a.quantizer, oracle: problem ? undefined : oracle, log });
    if (!a.bench) {
      for (const m of made) console.log(m);
      return 0;
    }
    if (models.length === 0) models = [...made, ...(a.shared ? sharedModels() : [])];
  } else if (a.set && models.length === 0) {
    const found = setIn(resolve(a.set));
    if (found.length === 0) log(`no benchmark models in ${a.set} (make them with --make-models ${a.set})`);
    models = [...found, ...(a.shared ? sharedModels() : [])];
  }
  if (models.length === 0) models = sharedModels();
  for (const m of models) if (!existsSync(m)) throw new Error(`model not found: ${m}`);

  const problem = oracleProblem(oracle, 'nbench');
  if (problem) {
    log(problem);
    return 2;
  }

  const sys = addon().systemInfo();
  log(`bench-vs-llamacpp: ${cpuInfo()} | kernels ${sys.isa} | ${sys.cpuFeatures}`);
  log(`threads ${a.threads.join(',')} | pp${a.nPrompt} tg${a.nGen} | ${a.reps} alternating repetitions | oracle ${oracle.dir}${a.ik ? ` | ik_llama.cpp ${a.ik} (-rtr 1)` : ''}`);
  if (a.ik && !existsSync(a.ik)) throw new Error(`--ik: ${a.ik} not found (ik_llama.cpp's llama-bench)`);

  const rows: Row[] = [];
  const tests = [
    ...(a.nPrompt > 0 ? [{ nPrompt: a.nPrompt, nGen: 0, name: `pp${a.nPrompt}` }] : []),
    ...(a.nGen > 0 ? [{ nPrompt: 0, nGen: a.nGen, name: `tg${a.nGen}` }] : []),
  ];
  for (const file of models) {
    let model: Model | undefined;
    let loadError: string | undefined;
    try {
      status(`loading ${basename(file)}`);
      model = await Model.load(file);
    } catch (e) {
      loadError = `llama4: ${(e as Error).message}`;
    }
    const type = await fileType(file, model?.info.description);
    for (const threads of a.threads) {
      const byTest = tests.map((t) => ({ t, ours: [] as number[], cpp: [] as number[], ik: [] as number[], errors: [] as string[] }));
      if (loadError) for (const b of byTest) b.errors.push(loadError);
      const ctx = model?.createContext({ nCtx: Math.max(a.nPrompt, a.nGen) + 1, nBatch: a.nBatch, nThreads: threads });
      const tm = model ? testModelOf(model) : undefined;
      const rng = makeRng(1);
      if (ctx && tm) for (const b of byTest) await warmUp(ctx, tm, b.t, a.nBatch, rng);
      for (let r = 0; r < a.reps; r++) {
        if (ctx && tm)
          for (const b of byTest) {
            status(`${basename(file)} t=${threads} rep ${r + 1}/${a.reps}: llama4 ${b.t.name}`);
            const ns = await runOnce(ctx, tm, b.t, a.nBatch, rng);
            b.ours.push((1e9 * (b.t.nPrompt + b.t.nGen)) / ns);
          }
        status(`${basename(file)} t=${threads} rep ${r + 1}/${a.reps}: llama.cpp`);
        try {
          // nbench always times both; a 0 length is replaced by a token so it runs
          const nb = await runNbench(oracle, file, threads, Math.max(1, a.nPrompt), Math.max(1, a.nGen));
          for (const b of byTest) b.cpp.push(b.t.nPrompt > 0 ? nb.pp : nb.tg);
        } catch (e) {
          for (const b of byTest) b.errors.push(`llama.cpp: ${(e as Error).message}`);
        }
        if (a.ik) {
          status(`${basename(file)} t=${threads} rep ${r + 1}/${a.reps}: ik_llama.cpp`);
          try {
            const ik = await runIkBench(a.ik, file, threads, a.nPrompt, a.nGen);
            for (const b of byTest) b.ik.push(b.t.nPrompt > 0 ? ik.pp : ik.tg);
          } catch (e) {
            for (const b of byTest) b.errors.push((e as Error).message);
          }
        }
      }
      for (const b of byTest) {
        const om = b.ours.length ? median(b.ours) : null;
        const cm = b.cpp.length ? median(b.cpp) : null;
        rows.push({
          model: basename(file),
          file,
          type,
          threads,
          test: b.t.name,
          ours: b.ours,
          llamacpp: b.cpp,
          ours_median: om,
          llamacpp_median: cm,
          ratio: om !== null && cm ? om / cm : null,
          ...(a.ik ? { ik: b.ik, ik_median: b.ik.length ? median(b.ik) : null, ratio_ik: om !== null && b.ik.length ? om / median(b.ik) : null } : {}),
          error: b.errors.length ? [...new Set(b.errors)].join('; ') : undefined,
        });
      }
    }
  }
  status('');
  if (tty) process.stderr.write('\r\x1b[2K');
  process.stdout.write(a.output === 'json' ? JSON.stringify(rows, null, 2) + '\n' : markdown(rows));
  return rows.some((r) => r.error) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench-vs-llamacpp: ${(e as Error).message}\n`);
    process.exit(2);
  },
);
