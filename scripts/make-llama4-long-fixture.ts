// Long-context llama4 parity fixture (issue 4, item 6): Llama 4's chunked attention (8192-token chunks on the
// RoPE layers) and attention-temperature tuning (NoPE layers) only act from position 8191 on, which the shared
// goldens never reach. This script writes
//   test/fixtures/llama4-long/model.gguf      a small random-weight llama4 model (4 layers: 0-2 chunked + RoPE +
//                                             QK-norm, 3 NoPE + full causal + temperature; MoE every 2nd layer)
//   test/fixtures/llama4-long/reference.json  llama.cpp's full logits at positions on both sides of 8192 for a
//                                             seeded ~9300-token prompt, plus the logits a naive implementation
//                                             (no chunk mask / no temperature) would give, from an f64 reference
//                                             forward pass in this file (which is also checked against llama.cpp).
//
//   npx tsx scripts/make-llama4-long-fixture.ts [--out DIR] [--threads N]
//   LLAMA4_ORACLE_DIR=/work/oracle  (node-llama-cpp install; see shared/tools/llamacpp-oracle)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gaussian, planTensors, readVocab, resolveSpec, setModelMetadata, vocabPath, type ModelSpec, type TensorPlan } from './lib/model-gen.js';
import { GgufWriter } from '../src/gguf/writer.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---- what the fixture is ----

export const SPEC: ModelSpec = resolveSpec({
  preset: 'tiny-llama4', // embd 64, 4 layers, 4 heads / 2 kv heads, hd 16, 4 experts top-1, MoE step 2, rope_freqs
  name: 'llama4-long fixture (random weights)',
  ctx: 16384,
  ff: 64,
  ffExp: 64,
  seed: 4,
  type: 'f32',
});
/**
 * Multiplies the init std of the NoPE layer's Q and K projections (the RoPE layers are QK-normed, so scaling
 * theirs changes nothing): sharper NoPE attention makes the temperature (x1.069 on Q from position 8191) visible.
 */
export const NOPE_QK_SCALE = 2;
export const PROMPT = { seed: 0x11a4a, length: 9300, bos: 1, lo: 3, hi: 512 };
export const POSITIONS = [100, 8000, 8190, 8191, 8192, 8193, 8500, 9000, 9299];
/** positions where the naive variants are stored: where the chunk mask (>= 8192) / temperature (>= 8191) act */
export const NO_CHUNK_POSITIONS = POSITIONS.filter((p) => p >= 8192);
export const NO_TEMP_POSITIONS = POSITIONS.filter((p) => p >= 8191);

/** mulberry32 */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The prompt: BOS, then uniform ids in [lo, hi). */
export function promptTokens(p = PROMPT): number[] {
  const r = prng(p.seed);
  const out = [p.bos];
  while (out.length < p.length) out.push(p.lo + Math.floor(r() * (p.hi - p.lo)));
  return out;
}

/** FNV-1a over the ids (checks that a regenerated prompt is the one the reference was made from). */
export function tokensHash(t: readonly number[]): string {
  let h = 0x811c9dc5;
  for (const x of t) for (let b = 0; b < 4; b++) h = Math.imul(h ^ ((x >>> (8 * b)) & 255), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

// ---- model ----

function plan(s: ModelSpec, nVocab: number): TensorPlan[] {
  const nope = (il: number) => (il + 1) % 4 === 0;
  return planTensors(s, nVocab).map((t) => {
    const m = /^blk\.(\d+)\.attn_(q|k)\.weight$/.exec(t.name);
    if (m && nope(Number(m[1])) && t.init.kind === 'gaussian')
      return { ...t, init: { ...t.init, std: t.init.std * NOPE_QK_SCALE } };
    return t;
  });
}

function tensorValues(s: ModelSpec, t: TensorPlan): Float32Array {
  if (t.init.kind === 'values') return t.init.values;
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let o = 0;
  for (const c of gaussian(s.seed, t.name, n, t.init.std, t.init.mean)) { out.set(c, o); o += c.length; }
  return out;
}

/** The generator's metadata (setModelMetadata), weights from plan(). */
async function writeModel(s: ModelSpec, out: string): Promise<Map<string, Float32Array>> {
  const { kvs: vocab, nVocab } = await readVocab(vocabPath(s.vocab));
  const w = new GgufWriter();
  setModelMetadata(w, s, vocab, nVocab);
  const weights = new Map<string, Float32Array>();
  for (const t of plan(s, nVocab)) {
    if (t.type !== 0) throw new Error('F32 only');
    const v = tensorValues(s, t);
    weights.set(t.name, v);
    w.addTensor(t.name, t.shape, t.type, v);
  }
  await w.write(out);
  return weights;
}

// ---- f64 reference forward pass (spec 4.4-4.9), with switches to break it the way a buggy engine would ----

export interface RefOptions {
  chunk: boolean; // chunked mask on layers il%4<3
  temperature: boolean; // Q scale on NoPE layers
}

export function referenceLogits(s: ModelSpec, W: Map<string, Float32Array>, tokens: number[], want: number[],
  opt: RefOptions): Map<number, Float64Array> {
  const E = s.embd, H = s.heads, KH = s.kvHeads, D = s.headDim, N = tokens.length;
  const nVocab = W.get('token_embd.weight')!.length / E;
  const eps = s.rmsEps;
  const g = (n: string) => { const t = W.get(n); if (!t) throw new Error(`no tensor ${n}`); return t; };
  const matvec = (w: Float32Array, x: Float64Array, nIn: number, nOut: number, off = 0) => {
    const y = new Float64Array(nOut);
    for (let o = 0; o < nOut; o++) {
      let acc = 0;
      const r = off + o * nIn;
      for (let i = 0; i < nIn; i++) acc += w[r + i] * x[i];
      y[o] = acc;
    }
    return y;
  };
  const rmsnorm = (x: Float64Array, w: Float32Array | null, n = x.length, off = 0) => {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[off + i] * x[off + i];
    const sc = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) x[off + i] = x[off + i] * sc * (w ? w[i] : 1);
  };
  const silu = (x: number) => x / (1 + Math.exp(-x));
  const swiglu = (y: Float64Array, gate: Float32Array, up: Float32Array, down: Float32Array, ff: number, off = 0, offD = 0) => {
    const a = matvec(gate, y, E, ff, off), b = matvec(up, y, E, ff, off);
    for (let i = 0; i < ff; i++) a[i] = silu(a[i]) * b[i];
    return matvec(down, a, ff, E, offD);
  };
  const freqs = W.get('rope_freqs.weight');
  const rope = (x: Float64Array, nh: number, p: number) => {
    for (let h = 0; h < nh; h++)
      for (let i = 0; i < D / 2; i++) {
        const theta = (p * Math.pow(s.ropeTheta, (-2 * i) / D)) / (freqs ? freqs[i] : 1);
        const c = Math.cos(theta), sn = Math.sin(theta);
        const j = h * D + 2 * i, x0 = x[j], x1 = x[j + 1];
        x[j] = x0 * c - x1 * sn;
        x[j + 1] = x0 * sn + x1 * c;
      }
  };
  const useKqNorm = s.experts !== 128;
  const wantSet = new Set(want);
  let hid: Float64Array[] = tokens.map((t) => Float64Array.from(g('token_embd.weight').subarray(t * E, (t + 1) * E)));
  const out = new Map<number, Float64Array>();
  for (let il = 0; il < s.layers; il++) {
    const last = il === s.layers - 1;
    const hasRope = (il + 1) % 4 !== 0;
    const chunked = opt.chunk && il % 4 < 3;
    const blk = (n: string) => g(`blk.${il}.${n}.weight`);
    const K = new Float64Array(N * KH * D), V = new Float64Array(N * KH * D);
    const Q: (Float64Array | null)[] = new Array(N).fill(null);
    for (let p = 0; p < N; p++) {
      const x = Float64Array.from(hid[p]);
      rmsnorm(x, blk('attn_norm'));
      const k = matvec(blk('attn_k'), x, E, KH * D), v = matvec(blk('attn_v'), x, E, KH * D);
      const needQ = !last || wantSet.has(p);
      const q = needQ ? matvec(blk('attn_q'), x, E, H * D) : null;
      if (hasRope) {
        rope(k, KH, p);
        if (q) rope(q, H, p);
        if (useKqNorm) {
          for (let h = 0; h < KH; h++) rmsnorm(k, null, D, h * D);
          if (q) for (let h = 0; h < H; h++) rmsnorm(q, null, D, h * D);
        }
      } else if (q && opt.temperature) {
        const sc = Math.fround(Math.log(Math.floor((p + 1) / 8192) + 1) * 0.1 + 1);
        for (let i = 0; i < q.length; i++) q[i] *= sc;
      }
      K.set(k, p * KH * D);
      V.set(v, p * KH * D);
      Q[p] = q;
    }
    const next: Float64Array[] = new Array(N);
    const kq = 1 / Math.sqrt(D);
    const sc = new Float64Array(N);
    for (let p = 0; p < N; p++) {
      const q = Q[p];
      if (!q) continue;
      const p0 = chunked ? Math.floor(p / 8192) * 8192 : 0;
      const att = new Float64Array(H * D);
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / (H / KH));
        let mx = -Infinity;
        for (let j = p0; j <= p; j++) {
          let d = 0;
          const ko = (j * KH + kh) * D;
          for (let i = 0; i < D; i++) d += q[h * D + i] * K[ko + i];
          sc[j] = d * kq;
          if (sc[j] > mx) mx = sc[j];
        }
        let sum = 0;
        for (let j = p0; j <= p; j++) { sc[j] = Math.exp(sc[j] - mx); sum += sc[j]; }
        for (let j = p0; j <= p; j++) {
          const wj = sc[j] / sum, vo = (j * KH + kh) * D;
          for (let i = 0; i < D; i++) att[h * D + i] += wj * V[vo + i];
        }
      }
      const h1 = matvec(blk('attn_output'), att, H * D, E);
      for (let i = 0; i < E; i++) h1[i] += hid[p][i];
      const y = Float64Array.from(h1);
      rmsnorm(y, blk('ffn_norm'));
      let f: Float64Array;
      if ((il + 1) % s.moeStep === 0) {
        const ffe = s.ffExp;
        const logits = matvec(blk('ffn_gate_inp'), y, E, s.experts);
        let e = 0;
        for (let i = 1; i < s.experts; i++) if (logits[i] > logits[e]) e = i;
        if (s.expertsUsed !== 1) throw new Error('top-1 only');
        const wgt = 1 / (1 + Math.exp(-logits[e]));
        const yin = y.map((v) => v * wgt);
        f = swiglu(yin, blk('ffn_gate_exps'), blk('ffn_up_exps'), blk('ffn_down_exps'), ffe, e * E * ffe, e * ffe * E);
        const sh = swiglu(y, blk('ffn_gate_shexp'), blk('ffn_up_shexp'), blk('ffn_down_shexp'), ffe);
        for (let i = 0; i < E; i++) f[i] += sh[i];
      } else {
        f = swiglu(y, blk('ffn_gate'), blk('ffn_up'), blk('ffn_down'), s.ff);
      }
      for (let i = 0; i < E; i++) h1[i] += f[i];
      next[p] = h1;
    }
    hid = next;
  }
  for (const p of want) {
    const x = Float64Array.from(hid[p]);
    rmsnorm(x, g('output_norm.weight'));
    out.set(p, matvec(g('output.weight'), x, E, nVocab));
  }
  return out;
}

// ---- llama.cpp (node-llama-cpp) in a child process, so its libraries never meet our addon ----

const ORACLE_JS = String.raw`
import fs from "node:fs";
import path from "node:path";
import {pathToFileURL} from "node:url";
const dir = process.env.LLAMA4_ORACLE_DIR;
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(path.join(dir, "node_modules/node-llama-cpp/dist/index.js")).href);
const job = JSON.parse(fs.readFileSync(process.env.LLAMA4_LONG_JOB, "utf8"));
const llama = await getLlama({gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: job.model, gpuLayers: 0});
const ctx = await model.createContext({contextSize: job.contextSize, batchSize: job.batchSize, threads: job.threads,
    flashAttention: false, sequences: 1, swaFullCache: job.swaFullCache,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
const want = new Set(job.positions);
const seq = ctx.getSequence();
const res = await seq.controlledEvaluate(job.tokens.map((t, i) => want.has(i) ? [t, {generateNext: {logits: true}}] : t));
const logits = {};
for (const p of job.positions) {
    const m = res[p].next.logits;
    const row = new Array(m.size);
    for (const [tok, l] of m) row[tok] = l;
    logits[p] = row;
}
const pkg = JSON.parse(fs.readFileSync(path.join(dir, "node_modules/node-llama-cpp/package.json"), "utf8"));
fs.writeFileSync(job.out, JSON.stringify({nodeLlamaCpp: pkg.version, contextSize: ctx.contextSize,
    batchSize: ctx.batchSize, flashAttention: ctx.flashAttention, logits}));
await ctx.dispose(); await model.dispose(); await llama.dispose();
`;

export function runOracle(modelPath: string, tokens: number[], positions: number[],
  o: { threads: number; swaFullCache: boolean; batchSize?: number; oracleDir?: string }) {
  const oracleDir = o.oracleDir ?? process.env.LLAMA4_ORACLE_DIR ?? '/work/oracle';
  const tmp = mkdtempSync(join(tmpdir(), 'l4long-'));
  try {
    const job = {
      model: resolve(modelPath), tokens, positions, threads: o.threads, swaFullCache: o.swaFullCache,
      contextSize: Math.ceil((tokens.length + 1) / 256) * 256, batchSize: o.batchSize ?? 512, out: join(tmp, 'out.json'),
    };
    writeFileSync(join(tmp, 'job.json'), JSON.stringify(job));
    // a file, not `node -e`: node-llama-cpp's binding self-test re-runs node with process.execArgv
    writeFileSync(join(tmp, 'oracle.mjs'), ORACLE_JS);
    const r = spawnSync(process.execPath, [join(tmp, 'oracle.mjs')], {
      cwd: oracleDir, stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, LLAMA4_LONG_JOB: join(tmp, 'job.json'), LLAMA4_ORACLE_DIR: resolve(oracleDir),
        NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
    });
    if (r.status !== 0) throw new Error(`oracle failed (exit ${r.status}) in ${oracleDir}`);
    return JSON.parse(readFileSync(job.out, 'utf8')) as {
      nodeLlamaCpp: string; contextSize: number; batchSize: number; flashAttention: boolean;
      logits: Record<string, number[]>;
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const r6 = (x: number) => Number(x.toPrecision(6));
/** logits as compact JSON numbers: f32 values round-trip exactly with 9 significant digits */
const f32s = (a: ArrayLike<number>) => Array.from(a, (x) => Number(Math.fround(x).toPrecision(9)));

async function main() {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, threads: { type: 'string' } },
  });
  const outDir = resolve(values.out ?? join(ROOT, 'test', 'fixtures', 'llama4-long'));
  const threads = Number(values.threads ?? 2);
  mkdirSync(outDir, { recursive: true });
  const modelPath = join(outDir, 'model.gguf');
  const t0 = performance.now();
  const W = await writeModel(SPEC, modelPath);
  const tokens = promptTokens();
  console.error(`model ${modelPath}: ${statSync(modelPath).size} bytes; prompt ${tokens.length} tokens`);

  const oracle = runOracle(modelPath, tokens, POSITIONS, { threads, swaFullCache: false });
  const oracleFull = runOracle(modelPath, tokens, POSITIONS, { threads, swaFullCache: true });
  console.error(`llama.cpp done (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const ref = referenceLogits(SPEC, W, tokens, POSITIONS, { chunk: true, temperature: true });
  const noChunk = referenceLogits(SPEC, W, tokens, NO_CHUNK_POSITIONS, { chunk: false, temperature: true });
  const noTemp = referenceLogits(SPEC, W, tokens, NO_TEMP_POSITIONS, { chunk: true, temperature: false });
  console.error(`f64 reference done (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const checks: Record<string, Record<string, number>> = {};
  for (const p of POSITIONS) {
    const l = oracle.logits[p];
    const c: Record<string, number> = {
      f64RefVsLlamaCpp: r6(maxAbs(ref.get(p)!, l)),
      swaFullVsNot: r6(maxAbs(oracleFull.logits[p], l)),
    };
    if (noChunk.has(p)) c.noChunkVsLlamaCpp = r6(maxAbs(noChunk.get(p)!, l));
    if (noTemp.has(p)) c.noTempVsLlamaCpp = r6(maxAbs(noTemp.get(p)!, l));
    checks[p] = c;
    console.error(`pos ${p}: ${JSON.stringify(c)}`);
  }
  const worstRef = Math.max(...POSITIONS.map((p) => checks[p].f64RefVsLlamaCpp));
  if (worstRef > 1e-3) console.error(`WARNING: the f64 reference differs from llama.cpp by ${worstRef}`);

  const reference = {
    about: 'llama.cpp logits for test/engine/llama4-long.test.ts (made by scripts/make-llama4-long-fixture.ts)',
    made: {
      date: new Date().toISOString().slice(0, 10),
      oracle: `node-llama-cpp ${oracle.nodeLlamaCpp} (llama.cpp prebuilt CPU build), controlledEvaluate`,
      oracleSettings: {
        contextSize: oracle.contextSize, batchSize: oracle.batchSize, flashAttention: oracle.flashAttention,
        kvCache: 'F32', threads, swaFullCache: false, sequences: 1,
      },
      model: { ...SPEC, nopeQkScale: NOPE_QK_SCALE, fileBytes: statSync(modelPath).size,
        generator: 'scripts/lib/model-gen.ts planTensors/gaussian; NoPE-layer attn_q/attn_k std scaled by nopeQkScale' },
      naive: 'f64 forward pass in the script with the chunk mask (noChunk) or the NoPE temperature (noTemp) removed',
    },
    prompt: { ...PROMPT, generator: 'mulberry32; ids[0] = bos, then lo + floor(r() * (hi - lo))', hash: tokensHash(tokens) },
    nVocab: oracle.logits[POSITIONS[0]].length,
    positions: POSITIONS,
    checks,
    logits: Object.fromEntries(POSITIONS.map((p) => [p, f32s(oracle.logits[p])])),
    naive: {
      noChunk: Object.fromEntries(NO_CHUNK_POSITIONS.map((p) => [p, f32s(noChunk.get(p)!)])),
      noTemp: Object.fromEntries(NO_TEMP_POSITIONS.map((p) => [p, f32s(noTemp.get(p)!)])),
    },
  };
  writeFileSync(join(outDir, 'reference.json'), JSON.stringify(reference) + '\n');
  console.error(`wrote ${join(outDir, 'reference.json')} (${statSync(join(outDir, 'reference.json')).size} bytes) ` +
    `in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(`make-llama4-long-fixture: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
