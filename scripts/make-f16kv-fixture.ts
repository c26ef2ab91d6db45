// F16 KV cache parity fixture. The shared goldens are llama.cpp with an F32 KV cache; llama.cpp's (and our)
// default is F16, whose rounding of K, V, the query and the attention weights moves SmolLM2's logits by up to
// ~0.8 from the F32 ones. This script asks llama.cpp itself (the oracle: --kv F16 --fa off, flash attention
// being another summation order) for the logits at the last prompt position and the greedy continuation of a
// few prompts, and writes test/fixtures/f16-kv/reference.json (top-64 logits, not the whole vocabulary).
//
// llama.cpp's CPU numerics depend on the variant it loads: on an AVX-512 host its zen4 / icelake build runs
// tinyBLAS 16 lanes wide, and its own F16-cache logits for SmolLM2 move by up to 0.41 from its AVX2 (haswell)
// build's. Our kernels follow the AVX2 build's orders on every host (bit-identical across our levels), so the
// reference must come from llama.cpp's haswell variant: the oracle's bins folder may hold no other
// libggml-cpu-*.so (move the others aside while this runs; the script refuses otherwise).
//
//   npx tsx scripts/make-f16kv-fixture.ts
//   LLAMA4_ORACLE_DIR=/work/oracle  (node-llama-cpp install with oracle.mjs; see shared/tools/llamacpp-oracle)
//   LLAMA4_SHARED=../shared
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = resolve(process.env.LLAMA4_SHARED ?? join(ROOT, '..', 'shared'));
const ORACLE = resolve(process.env.LLAMA4_ORACLE_DIR ?? '/work/oracle');
const TOP = 64;
const N_GEN = 32;

// model (relative to shared/models) and prompt: a real chat model over a few hundred tokens of code, the
// Llama 4 graph (chunked attention, NoPE + temperature layers, MoE), a plain F32 llama and a Q6_K llama (the
// packed Q6_K kernels)
const CASES = [
  { model: 'real/SmolLM2-135M-Instruct.Q4_1.gguf', prompt: readFileSync(join(SHARED, 'models', 'text', 'python-reference.txt'), 'utf8').slice(0, 1200) },
  { model: 'synthetic/tiny-llama4.synthetic.gguf', prompt: 'Once upon a time, there was a little robot who wanted to see the sea.' },
  { model: 'stories260K.gguf', prompt: 'Once upon a time, there was a little girl named Lily.' },
  { model: 'synthetic/tiny-llama-256-q6_k.synthetic.gguf', prompt: 'Once upon a time, there was a little girl named Lily.' },
];

const bins = join(ORACLE, 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');
const variants = readdirSync(bins).filter((f) => /^libggml-cpu-.*\.so$/.test(f));
if (variants.length !== 1 || variants[0] !== 'libggml-cpu-haswell.so')
  throw new Error(`${bins} holds ${variants.join(', ')}: leave only libggml-cpu-haswell.so there while this runs`);

const tmp = mkdtempSync(join(tmpdir(), 'f16kv-'));
const out = [];
try {
  for (const c of CASES) {
    const logitsFile = join(tmp, 'logits.json'), jsonFile = join(tmp, 'out.json');
    const args = [join(ORACLE, 'oracle.mjs'), join(SHARED, 'models', c.model), '--prompt', c.prompt, '--n', String(N_GEN),
      '--threads', '1', '--kv', 'F16', '--fa', 'off', '--logits-out', logitsFile, '--json', jsonFile, '--no-bench'];
    const r = spawnSync(process.execPath, args, { cwd: ORACLE, encoding: 'utf8', env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' } });
    if (r.status !== 0) throw new Error(`oracle failed on ${c.model}: ${r.stderr}`);
    const o = JSON.parse(readFileSync(jsonFile, 'utf8'));
    const { promptTokens, logits } = JSON.parse(readFileSync(logitsFile, 'utf8')) as { promptTokens: number[]; logits: number[] };
    if (o.flashAttentionResolved) throw new Error('the oracle ran with flash attention on');
    const top = logits.map((l, i) => [i, l] as [number, number]).sort((a, b) => b[1] - a[1]).slice(0, TOP);
    out.push({ model: c.model, kv: 'F16', flash_attn: false, prompt: c.prompt, prompt_tokens: promptTokens, n_vocab: logits.length, top, greedy_tokens: o.greedyIds as number[] });
    console.log(`${c.model}: ${promptTokens.length} prompt tokens, argmax ${top[0][0]}, greedy ${JSON.stringify(o.greedyIds)}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const dir = join(ROOT, 'test', 'fixtures', 'f16-kv');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'reference.json'), JSON.stringify({ made_by: 'scripts/make-f16kv-fixture.ts (llama.cpp v0.5.0 via node-llama-cpp 3.22.1, CPU variant haswell)', cases: out }, null, 1) + '\n');
