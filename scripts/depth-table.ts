// Issue 22's table: depth sparsity per granularity on the real SmolLM2-135M, against dense and against
// static removal at the same skip rate. For skip rates (default 10/25/40/50%) and each mode
//   gated attention / gated FFN / gated sublayer (both gate kinds) / gated block   (llama4 calibrate)
//   static attention drop / static block drop                                      (influence-ranked)
//   *-quota: the same gates with per-block quota thresholds (calibrate --thresholds quota)
// it measures perplexity at -c 512 and -c 2048 and top-1 agreement with dense on evaluation text, decode
// t/s at depth 0 and depth 4096 (alternated with dense in one run), and KV bytes allocated / in use at
// depth 4096. Plus the Llama-4-shaped MoE fixture with the three-way decision in bytes per token.
//
// Texts (never overlapping): python-reference.txt's first 170 kB are the calibration text (gates are fitted
// on its start, thresholds chosen on its last 2 chunks); evaluation uses its last 80 kB.
// Gated modes run with gated prompts (--depth-prefill) and KV-fill (a skipped attention still writes its
// K/V, so the cache does not shrink); a mode suffixed '-kvskip' (e.g. attn-kvskip) runs --depth-kv skip
// instead (a skipped attention writes no K/V: the sparse cache shrinks). Quality, speed and KV are
// measured in the same configuration. One calibration per granularity (labels at the 0.3 quantile); each
// skip rate gets its own threshold on the held-out chunks (bisection), never on the evaluation text.
//
//   npx tsx scripts/depth-table.ts [--skips 0.1,0.25,0.4,0.5] [--modes attn,ffn,sublayer,block,drop-attn,drop-block,attn-kvskip,attn-quota,...]
//                                  [--phase quality|speed|moe|exact|all] [--threads 2] [--out /tmp/llama4-depth]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readGateTensors, type Granularity } from '../src/engine/depth/adapter.js';
import { calibrate, chunkTokens, denseLogits, evaluatePolicy, quotaThresholds, staticDropList, type CalibrationReport } from '../src/engine/depth/calibrate.js';
import { generateExact, newExactStats } from '../src/engine/depth/speculative.js';
import { generate, type GenerationStats } from '../src/engine/generate.js';
import { Model, type Context } from '../src/engine/model.js';
import { perplexity } from '../src/engine/perplexity.js';
import type { DepthPolicy } from '../src/native/addon.js';

const { values } = parseArgs({
  options: {
    skips: { type: 'string', default: '0.1,0.25,0.4,0.5' },
    modes: { type: 'string', default: 'attn,ffn,sublayer,block,drop-attn,drop-block,attn-kvskip,attn-quota,sublayer-quota,block-quota' },
    phase: { type: 'string', default: 'all' },
    threads: { type: 'string', default: '2' },
    out: { type: 'string', default: '/tmp/llama4-depth' },
    shared: { type: 'string', default: join(process.cwd(), '..', 'shared', 'models') },
    'calib-chunks': { type: 'string', default: '4' },
    depth: { type: 'string', default: '4096' },
    'tg-tokens': { type: 'string', default: '32' },
    // skip rates and modes whose decode speed is measured (each alternated with dense at depth 0 and D)
    'speed-skips': { type: 'string', default: '0.1,0.25,0.4,0.5' },
    'speed-modes': { type: 'string', default: '' },
  },
});
const threads = Number(values.threads);
const skips = values.skips!.split(',').map(Number);
const modes = values.modes!.split(',');
const phase = values.phase!;
const out = values.out!;
const D = Number(values.depth);
const nTg = Number(values['tg-tokens']);
mkdirSync(out, { recursive: true });
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const m = await Model.load(join(values.shared!, 'real/SmolLM2-135M-Instruct.Q4_1.gguf'));
const L = m.info.nLayer;
const text = readFileSync(join(values.shared!, 'text/python-reference.txt'), 'utf8');
const calibText = text.slice(0, 170000);
const evalText = text.slice(text.length - 80000);
const bos = m.tokenizer.vocab.addBos ? m.tokenizer.vocab.bos : null;

// --- configurations: one policy per (mode, skip rate), cached in out/configs.json -------------------------
interface Config {
  mode: string;
  target: number;
  policy: { gates?: string; threshold?: number; kv?: 'fill' | 'skip'; prefill?: boolean; drop?: number[]; dropAttn?: number[] };
  heldoutSkip: number;
}
const cfgPath = join(out, 'configs.json');
const configs: Config[] = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, 'utf8')) : [];
const saveConfigs = () => writeFileSync(cfgPath, JSON.stringify(configs, null, 2));

async function adapter(g: Granularity): Promise<{ path: string; report: CalibrationReport }> {
  const path = join(out, `smollm2-${g}.gguf`);
  const rp = join(out, `smollm2-${g}.json`);
  if (existsSync(path) && existsSync(rp)) return { path, report: JSON.parse(readFileSync(rp, 'utf8')) };
  log(`calibrating ${g} gates`);
  const report = await calibrate(m, calibText, path, {
    granularity: g, targetSkip: 0.3, nCtx: 512, calibChunks: Number(values['calib-chunks']), heldoutChunks: 2, nThreads: threads,
    onProgress: (s) => (s.includes('dense pass') || s.includes('tau') ? log(s) : undefined),
  });
  writeFileSync(rp, JSON.stringify(report));
  return { path, report };
}

async function buildConfigs(): Promise<void> {
  const heldTok = m.tokenizer.encode(calibText, { addSpecial: true, parseSpecial: false });
  const all = chunkTokens(heldTok, 512, bos);
  const held = all.slice(all.length - 2);
  const ctx = m.createContext({ nCtx: 512, nBatch: 512, nThreads: threads });
  const dense = await denseLogits(ctx, held);
  let influence: CalibrationReport | undefined;
  for (const mode of modes) {
    for (const r of skips) {
      if (configs.some((c) => c.mode === mode && c.target === r)) continue;
      if (mode.startsWith('drop-')) {
        influence ??= (await adapter('attn')).report;
        const k = Math.round(r * (L - 2));
        const inf = mode === 'drop-attn' ? influence.attnInfluence : influence.blockInfluence;
        const list = staticDropList(inf, k / L);
        configs.push({ mode, target: r, policy: mode === 'drop-attn' ? { dropAttn: list } : { drop: list }, heldoutSkip: list.length / (L - 2) });
      } else if (mode.endsWith('-quota')) {
        // per-block quotas: lowest-influence sublayers, each skipping the tokens its gate scores lowest
        const g = mode.replace(/-quota$/, '') as Granularity;
        const { path, report } = await adapter(g);
        const gates = await readGateTensors(path);
        const qpath = join(out, `smollm2-${mode}-${r}.gguf`);
        const influence = { block: report.blockInfluence, attn: report.attnInfluence, ffn: report.ffnInfluence };
        const content = { arch: m.info.arch, baseModel: 'SmolLM2-135M-Instruct.Q4_1.gguf', nLayer: L, threshold: 0.5 };
        const q = await quotaThresholds(ctx, held, dense, gates, influence, g, r, { path: qpath, content }, { kv: 'fill' });
        log(`${mode} @ ${r}: ${q.sublayers.length} sublayers at ${q.fraction} (held-out skip ${(q.chosen.skipRate * 100).toFixed(1)}%, KL ${q.chosen.meanKl.toFixed(4)})`);
        configs.push({ mode, target: r, policy: { gates: qpath, kv: 'fill', prefill: true }, heldoutSkip: q.chosen.skipRate });
      } else {
        const g = mode.replace(/-kvskip$/, '') as Granularity;
        const kv = mode.endsWith('-kvskip') ? 'skip' : 'fill';
        const { path } = await adapter(g);
        const gates = await m.loadDepthGates(path);
        const base: DepthPolicy = { gates, kv };
        let lo = 0, hi = 1, best = 0, bestSkip = 0;
        for (let it = 0; it < 9; it++) {
          const mid = (lo + hi) / 2;
          const e = await evaluatePolicy(ctx, held, dense, { ...base, threshold: mid }, g);
          if (e.skipRate <= r) (best = mid, bestSkip = e.skipRate, lo = mid);
          else hi = mid;
        }
        log(`${mode} @ ${r}: tau ${best.toFixed(4)} (held-out skip ${(bestSkip * 100).toFixed(1)}%)`);
        configs.push({ mode, target: r, policy: { gates: path, threshold: best, kv, prefill: true }, heldoutSkip: bestSkip });
      }
      saveConfigs();
    }
  }
}

async function policyOf(c: Config | null): Promise<DepthPolicy | null> {
  if (!c) return null;
  const { gates, ...rest } = c.policy;
  return gates ? { ...rest, gates: await m.loadDepthGates(gates) } : { ...rest };
}

// --- quality ---------------------------------------------------------------------------------------------
interface Quality {
  mode: string;
  target: number;
  ppl512: number;
  ppl2048: number;
  top1: number;
  attnSkip: number;
  ffnSkip: number;
  blocksPerToken: number;
}
const qPath = join(out, 'quality.json');
const quality: Quality[] = existsSync(qPath) ? JSON.parse(readFileSync(qPath, 'utf8')) : [];

async function measureQuality(c: Config | null): Promise<void> {
  const mode = c?.mode ?? 'dense', target = c?.target ?? 0;
  if (quality.some((q) => q.mode === mode && q.target === target)) return;
  const depth = await policyOf(c);
  const context = { nThreads: threads };
  const a = await perplexity(m, evalText, { nCtx: 512, maxChunks: 8, context, evaluation: { depth, compareDense: depth !== null } });
  const b = await perplexity(m, evalText, { nCtx: 2048, maxChunks: 4, context, evaluation: { depth, compareDense: false } });
  quality.push({
    mode, target, ppl512: a.ppl, ppl2048: b.ppl, top1: a.dense?.top1Agreement ?? 1,
    attnSkip: a.attnSkipRate, ffnSkip: a.ffnSkipRate, blocksPerToken: a.blocksPerToken,
  });
  writeFileSync(qPath, JSON.stringify(quality, null, 2));
  log(`${mode} @ ${target}: ppl ${a.ppl.toFixed(3)} (c512) ${b.ppl.toFixed(3)} (c2048), top-1 ${((a.dense?.top1Agreement ?? 1) * 100).toFixed(1)}%, attn ${(a.attnSkipRate * 100).toFixed(1)}% ffn ${(a.ffnSkipRate * 100).toFixed(1)}%`);
}

// --- speed: tg at depth 0 and D, each configuration alternated with dense ---------------------------------
interface Speed {
  mode: string;
  target: number;
  tg0: number;
  tgD: number;
  dense0: number;
  denseD: number;
  kvAlloc: number;
  kvUsed: number;
  denseKv: number;
}
const sPath = join(out, 'speed.json');
const speed: Speed[] = existsSync(sPath) ? JSON.parse(readFileSync(sPath, 'utf8')) : [];
const evalTok = m.tokenizer.encode(evalText, { addSpecial: true, parseSpecial: false });

async function tg(ctx: Context, depth: number): Promise<{ rate: number; kvAlloc: number; kvUsed: number }> {
  ctx.truncate(0);
  const prompt = evalTok.slice(0, Math.max(depth, 16));
  let logits = await ctx.evaluate(prompt);
  const t0 = performance.now();
  for (let i = 0; i < nTg; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    logits = await ctx.evaluate([best]);
  }
  const rate = (nTg * 1000) / (performance.now() - t0);
  const st = ctx.stats();
  return { rate, kvAlloc: st.kvBytes, kvUsed: st.kvBytesUsed };
}

async function measureSpeed(c: Config): Promise<void> {
  if (speed.some((s) => s.mode === c.mode && s.target === c.target)) return;
  const nCtx = D + nTg + 16;
  const policy = (await policyOf(c))!;
  const denseCtx = m.createContext({ nCtx, nThreads: threads });
  const ctx = m.createContext({ nCtx, nThreads: threads });
  ctx.setDepthPolicy(policy);
  // alternate: dense, gated, dense, gated; best of two each
  const r = { d0: 0, g0: 0, dD: 0, gD: 0, kvA: 0, kvU: 0, dKv: 0 };
  for (let rep = 0; rep < 2; rep++) {
    r.d0 = Math.max(r.d0, (await tg(denseCtx, 0)).rate);
    r.g0 = Math.max(r.g0, (await tg(ctx, 0)).rate);
    const dd = await tg(denseCtx, D);
    r.dD = Math.max(r.dD, dd.rate);
    r.dKv = dd.kvUsed;
    const gd = await tg(ctx, D);
    r.gD = Math.max(r.gD, gd.rate);
    r.kvA = gd.kvAlloc;
    r.kvU = gd.kvUsed;
  }
  speed.push({ mode: c.mode, target: c.target, tg0: r.g0, tgD: r.gD, dense0: r.d0, denseD: r.dD, kvAlloc: r.kvA, kvUsed: r.kvU, denseKv: r.dKv });
  writeFileSync(sPath, JSON.stringify(speed, null, 2));
  log(`${c.mode} @ ${c.target}: tg ${r.g0.toFixed(1)} vs ${r.d0.toFixed(1)} (d0), ${r.gD.toFixed(1)} vs ${r.dD.toFixed(1)} (d${D}); KV ${(r.kvU / 2 ** 20).toFixed(1)} MiB used of ${(r.kvA / 2 ** 20).toFixed(1)} (dense ${(r.dKv / 2 ** 20).toFixed(1)})`);
}

// --- MoE fixture: three-way decision, bytes per token -------------------------------------------------------
async function moe(): Promise<string> {
  const f = await Model.load(join(values.shared!, 'synthetic/tiny-llama4.synthetic.gguf'));
  // the fixture has random weights: its own greedy samples are the text (as for any model without data)
  const ctx0 = f.createContext({ nCtx: 2048, nThreads: threads });
  const seedToks = f.tokenizer.encode('Once upon a time', { addSpecial: true });
  const toks: number[] = [...seedToks];
  let logits = await ctx0.evaluate(seedToks);
  let s = 1;
  while (toks.length < 1400) {
    // a cheap deterministic sampler over the top 40 (the fixture's greedy output loops)
    const idx = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]).slice(0, 40);
    s = (s * 1103515245 + 12345) >>> 0;
    const t = idx[s % idx.length];
    toks.push(t);
    logits = await ctx0.evaluate([t]);
  }
  const txt = f.tokenizer.decode(toks);
  const path = join(out, 'llama4-moe-block.gguf');
  const rep = await calibrate(f, txt, path, { granularity: 'block', targetSkip: 0.3, nCtx: 256, calibChunks: 3, heldoutChunks: 1, nThreads: threads });
  const gates = await f.loadDepthGates(path);
  const prompt = toks.slice(0, 64);
  const rows: string[] = [];
  const bpt = async (label: string, policy: DepthPolicy | null) => {
    const ctx = f.createContext({ nCtx: 512, nThreads: threads });
    if (policy) ctx.setDepthPolicy(policy);
    await ctx.evaluate(prompt, { gated: false });
    ctx.resetStats();
    let lg = await ctx.evaluate([toks[64]]);
    for (let i = 0; i < 64; i++) {
      let best = 0;
      for (let j = 1; j < lg.length; j++) if (lg[j] > lg[best]) best = j;
      lg = await ctx.evaluate([best]);
    }
    const st = ctx.stats();
    const shared = st.blockSharedOnly.reduce((a, b) => a + b, 0), skipped = st.blockSkips.reduce((a, b) => a + b, 0);
    rows.push(`| ${label} | ${(st.weightBytes / st.tokens / 2 ** 20).toFixed(3)} MiB | ${(st.expertEvals / st.tokens).toFixed(2)} | ${(shared / st.tokens).toFixed(2)} | ${(skipped / st.tokens).toFixed(2)} |`);
  };
  await bpt('dense', null);
  await bpt(`gated two-way (tau ${rep.chosen.threshold.toFixed(3)})`, { gates });
  await bpt(`three-way (tau ${rep.chosen.threshold.toFixed(3)}, shared-only band from ${(rep.chosen.threshold / 2).toFixed(3)})`, { gates, sharedThreshold: rep.chosen.threshold / 2 });
  return ['| Llama-4 MoE fixture, decode | weight bytes / token | routed expert evals / token | shared-only blocks / token | skipped blocks / token |', '|---|---:|---:|---:|---:|', ...rows].join('\n');
}

// --- exact mode: gated drafts verified at full depth, against dense greedy at depth 0 and D -----------------
async function exact(): Promise<string> {
  const rows: string[] = [];
  const picks = configs.filter((c) => c.target === 0.25 && ['attn', 'ffn', 'sublayer', 'drop-attn'].includes(c.mode));
  for (const c of picks) {
    const policy = { ...(await policyOf(c))!, kv: 'fill' as const, prefill: false, freeDroppedKv: false };
    for (const depth of [0, D]) {
      const prompt = evalTok.slice(0, Math.max(depth, 16));
      const nCtx = prompt.length + 64 + 16;
      let denseRate = 0, exactRate = 0, identical = true, accept = 0, off = false;
      for (let rep = 0; rep < 2; rep++) {
        const dctx = m.createContext({ nCtx, nThreads: threads });
        const ref: number[] = [];
        const ds: GenerationStats = { promptTokens: 0, promptMs: 0, generatedTokens: 0, generateMs: 0, stop: 'length' };
        for await (const p of generate(dctx, prompt, { temp: 0, maxTokens: 64 }, ds)) if (p.token >= 0) ref.push(p.token);
        denseRate = Math.max(denseRate, (ds.generatedTokens * 1000) / ds.generateMs);
        const ctx = m.createContext({ nCtx, nThreads: threads });
        ctx.setDepthPolicy(policy);
        const st = newExactStats();
        const got: number[] = [];
        for await (const p of generateExact(ctx, prompt, { maxTokens: 64 }, st)) if (p.token >= 0) got.push(p.token);
        exactRate = Math.max(exactRate, (st.generatedTokens * 1000) / st.generateMs);
        identical &&= JSON.stringify(ref) === JSON.stringify(got) && got.length > 0;
        accept = st.drafted ? st.accepted / st.drafted : 0;
        off ||= st.switchedOff;
      }
      rows.push(`| ${c.mode} 25% drafts | d${depth} | ${denseRate.toFixed(1)} | ${exactRate.toFixed(1)} (${(exactRate / denseRate).toFixed(2)}x) | ${(accept * 100).toFixed(0)}%${off ? ', switched off' : ''} | ${identical ? 'identical' : 'DIFFERS'} |`);
      log(rows[rows.length - 1]);
    }
  }
  return ['| exact mode (--depth-exact) | depth | dense greedy t/s | exact t/s | drafts accepted | output |', '|---|---|---:|---:|---:|---|', ...rows].join('\n');
}

// --- run ---------------------------------------------------------------------------------------------------
if (phase === 'quality' || phase === 'all' || phase === 'speed') await buildConfigs();
if (phase === 'quality' || phase === 'all') {
  log('dense quality');
  await measureQuality(null);
  for (const c of configs) await measureQuality(c);
}
const speedSkips = values['speed-skips']!.split(',').map(Number);
const speedModes = values['speed-modes'] ? values['speed-modes'].split(',') : modes;
if (phase === 'speed' || phase === 'all')
  for (const c of configs) if (speedSkips.includes(c.target) && speedModes.includes(c.mode)) await measureSpeed(c);
const moeTable = phase === 'moe' || phase === 'all' ? await moe() : '';
const exactTable = phase === 'exact' || phase === 'all' ? await exact() : '';

const dq = quality.find((q) => q.mode === 'dense');
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const rel = (a: number, b: number | undefined) => (b ? `${a.toFixed(2)} (${a >= b ? '+' : ''}${((a / b - 1) * 100).toFixed(1)}%)` : a.toFixed(2));
console.log(`SmolLM2-135M-Instruct Q4_1, ${threads} threads; dense: ppl ${dq?.ppl512.toFixed(3) ?? '?'} (c512) / ${dq?.ppl2048.toFixed(3) ?? '?'} (c2048)\n`);
console.log(`| mode | target | attn skipped | FFN skipped | ppl -c 512 | ppl -c 2048 | top-1 vs dense | tg d0 (vs dense) | tg d${D} (vs dense) | KV @ d${D} used / alloc (dense) |`);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const c of configs) {
  const q = quality.find((x) => x.mode === c.mode && x.target === c.target);
  const s = speed.find((x) => x.mode === c.mode && x.target === c.target);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)}`;
  console.log(
    `| ${c.mode} | ${pct(c.target)} | ${q ? pct(q.attnSkip) : '-'} | ${q ? pct(q.ffnSkip) : '-'} | ${q ? rel(q.ppl512, dq?.ppl512) : '-'} | ${q ? rel(q.ppl2048, dq?.ppl2048) : '-'} | ${q ? pct(q.top1) : '-'} | ` +
      `${s ? `${s.tg0.toFixed(1)} (${(s.tg0 / s.dense0).toFixed(2)}x)` : '-'} | ${s ? `${s.tgD.toFixed(1)} (${(s.tgD / s.denseD).toFixed(2)}x)` : '-'} | ${s ? `${mib(s.kvUsed)} / ${mib(s.kvAlloc)} MiB (${mib(s.denseKv)})` : '-'} |`,
  );
}
if (moeTable) console.log('\n' + moeTable);
if (exactTable) console.log('\n' + exactTable);
