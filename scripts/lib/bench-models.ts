// The benchmark model set for scripts/bench-vs-llamacpp: random-weight GGUFs made with scripts/gen-model.ts
// (TinyLlama-1.1B shape F16 and the Llama-4-shaped MoE preset F16), quantized to Q8_0 / Q4_0 / Q4_K_M
// (MoE: Q4_K_M), plus the two real shared models. Existing files are kept; files are written to
// NAME.part and renamed, so an interrupted run never leaves a truncated model that looks finished.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_MODELS = resolve(process.env.LLAMA4_SHARED ?? join(ROOT, '..', 'shared'), 'models');

/** The two real files every comparison includes. */
export function sharedModels(): string[] {
  return [join(SHARED_MODELS, 'stories260K.gguf'), join(SHARED_MODELS, 'real', 'SmolLM2-135M-Instruct.Q4_1.gguf')];
}

interface GenSpec {
  file: string;
  preset: string;
}

interface QuantSpec {
  file: string;
  from: string;
  /** llama.cpp ftype name and number (llama_ftype) */
  type: 'Q8_0' | 'Q4_0' | 'Q4_K_M';
}

const FTYPE: Record<QuantSpec['type'], number> = { Q4_0: 2, Q8_0: 7, Q4_K_M: 15 };

export const GENERATED: GenSpec[] = [
  { file: 'tinyllama-f16.gguf', preset: 'tinyllama' },
  { file: 'llama4-moe-f16.gguf', preset: 'llama4-moe' },
];

export const QUANTIZED: QuantSpec[] = [
  { file: 'tinyllama-q8_0.gguf', from: 'tinyllama-f16.gguf', type: 'Q8_0' },
  { file: 'tinyllama-q4_0.gguf', from: 'tinyllama-f16.gguf', type: 'Q4_0' },
  { file: 'tinyllama-q4_k_m.gguf', from: 'tinyllama-f16.gguf', type: 'Q4_K_M' },
  { file: 'llama4-moe-q4_k_m.gguf', from: 'llama4-moe-f16.gguf', type: 'Q4_K_M' },
];

/** The benchmark order: dense F16, Q8_0, Q4_0, Q4_K_M, then the MoE. */
export const SET_ORDER = [
  'tinyllama-f16.gguf',
  'tinyllama-q8_0.gguf',
  'tinyllama-q4_0.gguf',
  'tinyllama-q4_k_m.gguf',
  'llama4-moe-q4_k_m.gguf',
];

/** The generated files of the set that exist in `dir`, in SET_ORDER. */
export function setIn(dir: string): string[] {
  return SET_ORDER.map((f) => join(dir, f)).filter((p) => existsSync(p));
}

export type Quantizer = 'auto' | 'llama4' | 'llamacpp';

export interface OracleDirs {
  dir: string;
  libdir: string;
}

function llama4HasQuantize(): boolean {
  const bin = join(ROOT, 'bin', 'llama4.js');
  if (!existsSync(bin)) return false;
  const r = spawnSync(process.execPath, [bin, 'quantize', '--help'], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 && /quantize/i.test(r.stdout);
}

/** Runs a tool quietly; its output is shown only when it fails. */
function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${tail}`);
  }
}

/**
 * Generates and quantizes the set into `dir`, skipping files that exist. `llama4 quantize` is used when the
 * CLI has it (positional llama-quantize syntax: IN OUT TYPE [threads]), else llama.cpp's quant from the oracle.
 */
export function makeModels(dir: string, opts: { quantizer: Quantizer; oracle?: OracleDirs; log: (s: string) => void }): string[] {
  mkdirSync(dir, { recursive: true });
  const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
  for (const g of GENERATED) {
    const out = join(dir, g.file);
    if (existsSync(out)) {
      opts.log(`keep ${out}`);
      continue;
    }
    opts.log(`generate ${out} (preset ${g.preset})`);
    const part = `${out}.part`;
    rmSync(part, { force: true });
    run(tsx, [join(ROOT, 'scripts', 'gen-model.ts'), '--preset', g.preset, '-o', part]);
    renameSync(part, out);
  }
  let quantizer = opts.quantizer;
  if (quantizer === 'auto') quantizer = llama4HasQuantize() ? 'llama4' : 'llamacpp';
  const threads = String(availableParallelism());
  for (const q of QUANTIZED) {
    const out = join(dir, q.file);
    if (existsSync(out)) {
      opts.log(`keep ${out}`);
      continue;
    }
    const src = join(dir, q.from);
    const part = `${out}.part`;
    rmSync(part, { force: true });
    if (quantizer === 'llama4') {
      opts.log(`quantize ${out} (${q.type}, llama4 quantize)`);
      run(process.execPath, [join(ROOT, 'bin', 'llama4.js'), 'quantize', src, part, q.type, threads]);
    } else {
      if (!opts.oracle) throw new Error('quantizing with llama.cpp needs the oracle (LLAMA4_ORACLE_DIR)');
      opts.log(`quantize ${out} (${q.type}, llama.cpp quant)`);
      run(join(opts.oracle.dir, 'quant'), [src, part, String(FTYPE[q.type]), threads], { LIBDIR: opts.oracle.libdir });
    }
    if (!existsSync(part) || statSync(part).size === 0) throw new Error(`quantizer wrote no ${part}`);
    renameSync(part, out);
  }
  return setIn(dir);
}
