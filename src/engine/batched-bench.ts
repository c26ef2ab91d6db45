// llama-batched-bench for our engine: for each number of parallel sequences B, B prompts of PP tokens
// (random tokens), then TG decode steps in which every sequence decodes its next token in one batched
// pass (engine/batch.ts). Rows as llama-batched-bench prints them: PP, TG, B, N_KV, T_PP, S_PP, T_TG,
// S_TG, T, S (S = tokens per second over all sequences).
import { BatchedContext, StepBatcher } from './batch.js';
import { makeRng, testModelOf } from './bench.js';
import type { CacheType } from '../native/addon.js';
import type { Model } from './model.js';

export interface BatchedBenchParams {
  npp: number[];
  ntg: number[];
  npl: number[];
  threads: number;
  nBatch: number;
  typeK?: CacheType;
  typeV?: CacheType;
  /** cancels the run (Ctrl-C) */
  signal?: AbortSignal;
}

export interface BatchedRow {
  pp: number;
  tg: number;
  pl: number;
  n_kv: number;
  t_pp: number;
  s_pp: number;
  t_tg: number;
  s_tg: number;
  t: number;
  s: number;
}

async function runOne(model: Model, p: BatchedBenchParams, pp: number, tg: number, pl: number, seed: number): Promise<BatchedRow> {
  const tm = testModelOf(model, p.signal);
  const rng = makeRng(seed);
  const batcher = new StepBatcher();
  const ctxs = Array.from({ length: pl }, () => {
    const c = new BatchedContext(model, model.createContext({ nCtx: pp + tg + 1, nBatch: p.nBatch, nThreads: p.threads, typeK: p.typeK, typeV: p.typeV }).native);
    c.batcher = batcher;
    return c;
  });
  const prompts = ctxs.map(() => {
    const t = Array.from({ length: pp }, () => Math.floor(rng() * tm.nVocab));
    if (tm.bos !== undefined && pp > 0) t[0] = tm.bos;
    return t;
  });
  const t0 = performance.now();
  for (let i = 0; i < pl; i++) if (pp > 0) await ctxs[i].evaluate(prompts[i], { signal: tm.signal });
  const t1 = performance.now();
  // every sequence decodes tg tokens; their steps run together
  await Promise.all(
    ctxs.map(async (c) => {
      for (let k = 0; k < tg; k++) await c.evaluate([Math.floor(rng() * tm.nVocab)], { signal: tm.signal });
    }),
  );
  const t2 = performance.now();
  const tPp = (t1 - t0) / 1000;
  const tTg = (t2 - t1) / 1000;
  return {
    pp,
    tg,
    pl,
    n_kv: pl * (pp + tg),
    t_pp: tPp,
    s_pp: tPp > 0 ? (pl * pp) / tPp : 0,
    t_tg: tTg,
    s_tg: tTg > 0 ? (pl * tg) / tTg : 0,
    t: tPp + tTg,
    s: (pl * (pp + tg)) / (tPp + tTg),
  };
}

/** Every (PP, TG, B) combination, B innermost as llama-batched-bench; a warm-up run first. */
export async function runBatchedBench(model: Model, p: BatchedBenchParams, onRow: (r: BatchedRow) => void): Promise<BatchedRow[]> {
  await runOne(model, p, Math.min(16, p.npp[0] ?? 16), 4, Math.max(...p.npl), 0);
  const rows: BatchedRow[] = [];
  for (const pp of p.npp)
    for (const tg of p.ntg)
      for (const pl of p.npl) {
        const r = await runOne(model, p, pp, tg, pl, rows.length + 1);
        rows.push(r);
        onRow(r);
      }
  return rows;
}

export function batchedHeader(): string {
  return (
    '|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |\n' +
    '|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|\n'
  );
}

export function batchedRowText(r: BatchedRow): string {
  const f = (x: number, w: number, d = 3) => x.toFixed(d).padStart(w);
  return `| ${String(r.pp).padStart(5)} | ${String(r.tg).padStart(6)} | ${String(r.pl).padStart(4)} | ${String(r.n_kv).padStart(6)} | ${f(r.t_pp, 8)} | ${f(r.s_pp, 8, 2)} | ${f(r.t_tg, 8)} | ${f(r.s_tg, 8, 2)} | ${f(r.t, 8)} | ${f(r.s, 8, 2)} |\n`;
}
