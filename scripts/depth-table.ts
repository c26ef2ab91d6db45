// The dual-sparsity trade-off, measured: for each model, depth gates calibrated at several skip rates
// vs the static-drop baseline (ShortGPT block influence) at the same skip rate vs dense, with held-out
// perplexity, top-1 agreement with dense, blocks per token, decode tokens/s side by side in one run, and
// the exact mode's speed. Calibration and evaluation texts never overlap.
//
//   npx tsx scripts/depth-table.ts [--models smollm2,stories] [--skips 0.1,0.2,0.3] [--threads 1] [--out DIR]
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { calibrate, staticDropList } from '../src/engine/depth/calibrate.js';
import { generateExact, newExactStats } from '../src/engine/depth/speculative.js';
import { generate } from '../src/engine/generate.js';
import { Model, type Context } from '../src/engine/model.js';
import { perplexity } from '../src/engine/perplexity.js';
import type { DepthPolicy } from '../src/native/addon.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'stories,smollm2' },
    skips: { type: 'string', default: '0.1,0.2,0.3' },
    threads: { type: 'string', default: '1' },
    out: { type: 'string', default: '/tmp/llama4-depth' },
    shared: { type: 'string', default: join(process.cwd(), '..', 'shared', 'models') },
  },
});
const threads = Number(values.threads);
const skips = values.skips!.split(',').map(Number);
mkdirSync(values.out!, { recursive: true });
const log = (s: string) => process.stderr.write(s + '\n');

async function sampleStories(m: Model, nTexts: number): Promise<string> {
  // stories260K was trained on TinyStories, which is not here: its own samples are the fair text
  let text = '';
  for (let seed = 1; seed <= nTexts; seed++) {
    const ctx = m.createContext({ nCtx: 512, nThreads: threads });
    const prompt = m.tokenizer.encode('Once upon a time', { addSpecial: true });
    let s = 'Once upon a time';
    for await (const p of generate(ctx, prompt, { temp: 1, seed, maxTokens: 400 })) s += p.text;
    text += s + '\n';
  }
  return text;
}

async function tgRate(ctx: Context, prompt: number[], n: number, reps = 3): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    ctx.truncate(0);
    let logits = await ctx.evaluate(prompt, { gated: false });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      logits = await ctx.evaluate([best]);
    }
    rates.push((n * 1000) / (performance.now() - t0));
  }
  rates.sort((a, b) => a - b);
  return rates[rates.length >> 1];
}

async function exactSpeed(m: Model, policy: DepthPolicy, prompt: number[], n: number) {
  const dense = m.createContext({ nCtx: 1024, nThreads: threads });
  let t0 = performance.now();
  let nd = 0;
  const out: number[] = [];
  for await (const p of generate(dense, prompt, { temp: 0, maxTokens: n })) if (p.token >= 0) (out.push(p.token), nd++);
  const denseRate = (nd * 1000) / (performance.now() - t0);
  const ctx = m.createContext({ nCtx: 1024, nThreads: threads });
  ctx.setDepthPolicy(policy);
  const st = newExactStats();
  const got: number[] = [];
  for await (const p of generateExact(ctx, prompt, { maxTokens: n }, st)) if (p.token >= 0) got.push(p.token);
  const exactRate = (st.generatedTokens * 1000) / st.generateMs;
  return { denseRate, exactRate, identical: JSON.stringify(out) === JSON.stringify(got), accept: st.drafted ? st.accepted / st.drafted : 0, switchedOff: st.switchedOff };
}

interface Row {
  model: string;
  mode: string;
  skip: number;
  blocks: string;
  ppl: number;
  dppl: string;
  top1: string;
  tps: string;
  speedup: string;
}

const rows: Row[] = [];
for (const name of values.models!.split(',')) {
  const file = name === 'smollm2' ? 'real/SmolLM2-135M-Instruct.Q4_1.gguf' : 'stories260K.gguf';
  const m = await Model.load(join(values.shared!, file));
  const L = m.info.nLayer;
  let calibText: string, evalText: string, nCtx: number, calChunks: number, evalChunks: number;
  if (name === 'smollm2') {
    const text = readFileSync(join(values.shared!, 'text/python-reference.txt'), 'utf8');
    // calibration: the first 170 kB; evaluation: the last 80 kB (disjoint)
    calibText = text.slice(0, 170000);
    evalText = text.slice(text.length - 80000);
    nCtx = 512;
    calChunks = 4;
    evalChunks = 4;
  } else {
    log('sampling stories260K text');
    const text = await sampleStories(m, 60);
    calibText = text.slice(0, Math.floor(text.length * 0.6));
    evalText = text.slice(Math.floor(text.length * 0.6));
    nCtx = 128;
    calChunks = 16;
    evalChunks = 24;
  }
  const evalOpts = { nCtx, maxChunks: evalChunks, context: { nThreads: threads } };
  log(`${name}: dense perplexity`);
  const dense = await perplexity(m, evalText, evalOpts);
  const speedCtx = m.createContext({ nCtx: 512, nThreads: threads });
  const prompt = m.tokenizer.encode(evalText.slice(0, 400), { addSpecial: true }).slice(0, 64);
  const denseTps = await tgRate(speedCtx, prompt, 64);
  rows.push({ model: name, mode: 'dense', skip: 0, blocks: `${L}`, ppl: dense.ppl, dppl: '—', top1: '100.0%', tps: denseTps.toFixed(1), speedup: '1.00x' });
  for (const r of skips) {
    log(`${name}: calibrating at target skip ${r}`);
    const gatesPath = join(values.out!, `${name}-gates-${r}.gguf`);
    const rep = await calibrate(m, calibText, gatesPath, { targetSkip: r, nCtx, calibChunks: calChunks, heldoutChunks: 1, nThreads: threads, onProgress: () => {} });
    const gates = await m.loadDepthGates(gatesPath);
    const gated = await perplexity(m, evalText, { ...evalOpts, evaluation: { depth: { gates }, compareDense: true } });
    speedCtx.setDepthPolicy({ gates });
    const gTps = await tgRate(speedCtx, prompt, 64);
    speedCtx.setDepthPolicy(null);
    const actualSkip = (L - gated.blocksPerToken) / (L - 2);
    rows.push({
      model: name, mode: 'gated', skip: actualSkip, blocks: gated.blocksPerToken.toFixed(2), ppl: gated.ppl,
      dppl: `${((gated.ppl / dense.ppl - 1) * 100).toFixed(1)}%`, top1: `${((gated.dense?.top1Agreement ?? 0) * 100).toFixed(1)}%`,
      tps: gTps.toFixed(1), speedup: `${(gTps / denseTps).toFixed(2)}x`,
    });
    // static drop at the same average skip rate, ranked by block influence on the calibration text
    const drop = staticDropList(rep.blockInfluence, (actualSkip * (L - 2)) / L);
    const dropped = await perplexity(m, evalText, { ...evalOpts, evaluation: { depth: { drop }, compareDense: true } });
    speedCtx.setDepthPolicy({ drop });
    const dTps = await tgRate(speedCtx, prompt, 64);
    speedCtx.setDepthPolicy(null);
    rows.push({
      model: name, mode: `drop ${drop.join(',')}`, skip: drop.length / (L - 2), blocks: dropped.blocksPerToken.toFixed(2), ppl: dropped.ppl,
      dppl: `${((dropped.ppl / dense.ppl - 1) * 100).toFixed(1)}%`, top1: `${((dropped.dense?.top1Agreement ?? 0) * 100).toFixed(1)}%`,
      tps: dTps.toFixed(1), speedup: `${(dTps / denseTps).toFixed(2)}x`,
    });
    const ex = await exactSpeed(m, { gates }, prompt, 96);
    rows.push({
      model: name, mode: `exact (gates ${r})`, skip: 0, blocks: '—', ppl: dense.ppl, dppl: '0.0%', top1: ex.identical ? 'identical' : 'DIFFERS',
      tps: ex.exactRate.toFixed(1), speedup: `${(ex.exactRate / ex.denseRate).toFixed(2)}x (accept ${(ex.accept * 100).toFixed(0)}%${ex.switchedOff ? ', switched off' : ''})`,
    });
    log(`  gated ppl ${gated.ppl.toFixed(3)} vs drop ${dropped.ppl.toFixed(3)} vs dense ${dense.ppl.toFixed(3)}`);
  }
}
console.log(`| model | mode | skip (gated blocks) | blocks/token | perplexity | Δ ppl | top-1 vs dense | decode t/s (${threads}T) | speed vs dense |`);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows)
  console.log(`| ${r.model} | ${r.mode} | ${(r.skip * 100).toFixed(1)}% | ${r.blocks} | ${r.ppl.toFixed(3)} | ${r.dppl} | ${r.top1} | ${r.tps} | ${r.speedup} |`);
