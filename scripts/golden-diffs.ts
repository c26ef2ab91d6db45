// Max |logit - llama.cpp golden| (F32 KV cache) and greedy agreement for every golden in
// ../shared/models/goldens (LLAMA4_SHARED overrides ../shared), with this host's kernels (LLAMA4_ISA lowers
// the level; --no-repack keeps the file layouts): the parity figures quoted in the README.
//   npx tsx scripts/golden-diffs.ts [--no-repack] [--json] [--cache f16]
// --cache f16: an F16 KV cache (llama.cpp's default) instead of the goldens' F32: logits then differ from the
// goldens by the cache's rounding, but must still be identical across kernel levels.
// --json: one object {isa, repack, goldens: [{name, maxDiff, greedy, total, checksum}]} where checksum is an
// FNV-1a hash of the bytes of every logit the run computed (prompt rows and each greedy step): equal
// checksums across ISA levels mean bit-identical results (test/engine/goldens-isa.test.ts).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../src/engine/model.js';
import { addon } from '../src/native/addon.js';
import { argmax } from '../src/sampling/argmax.js';

interface Golden {
  model: string;
  prompt_tokens: number[];
  n_vocab: number;
  prefill: { pos: number; argmax: number; logits?: number[]; top5: [number, number][] }[];
  greedy_tokens: number[];
}

const dir = join(process.env.LLAMA4_SHARED ?? join(import.meta.dirname, '..', '..', 'shared'), 'models');
const repack = !process.argv.includes('--no-repack');
const json = process.argv.includes('--json');
const cache = process.argv.includes('--cache') ? process.argv[process.argv.indexOf('--cache') + 1] : 'f32';
if (cache !== 'f32' && cache !== 'f16') throw new Error(`--cache: 'f32' or 'f16', not '${cache}'`);
const fnv = (h: number, a: Float32Array) => {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h;
};
const isa = addon().systemInfo().isa;
const results: { name: string; maxDiff: number; greedy: number; total: number; checksum: string }[] = [];
if (!json) console.log(`kernels: ${isa}, repack: ${repack}, KV cache: ${cache}`);
for (const f of readdirSync(join(dir, 'goldens')).filter((f) => f.endsWith('.golden.json')).sort()) {
  const g = JSON.parse(readFileSync(join(dir, 'goldens', f), 'utf8')) as Golden;
  const m = await Model.load(join(dir, g.model), { repack });
  const ctx = m.createContext({ nCtx: 256, nThreads: 1, typeK: cache, typeV: cache });
  await ctx.evaluate(g.prompt_tokens, { allLogits: true });
  const all = ctx.allLogits();
  let h = fnv(0x811c9dc5, all);
  const V = g.n_vocab;
  let d = 0;
  for (const p of g.prefill) {
    const row = all.subarray(p.pos * V, (p.pos + 1) * V);
    if (p.logits) for (let i = 0; i < V; i++) d = Math.max(d, Math.abs(row[i] - p.logits[i]));
    for (const [id, l] of p.top5) d = Math.max(d, Math.abs(row[id] - l));
  }
  let logits = all.subarray((g.prompt_tokens.length - 1) * V);
  // greedy: as many steps as the golden has, following our own argmax; same = the agreeing prefix
  let same = 0;
  for (let i = 0; i < g.greedy_tokens.length; i++) {
    const t = argmax(logits);
    if (same === i && t === g.greedy_tokens[i]) same++;
    if (m.tokenizer.isEog(t) || i + 1 === g.greedy_tokens.length) break;
    logits = await ctx.evaluate([t]);
    h = fnv(h, logits);
  }
  results.push({ name: f, maxDiff: d, greedy: same, total: g.greedy_tokens.length, checksum: h.toString(16).padStart(8, '0') });
  if (!json) console.log(`${f.padEnd(45)} max|dlogit| ${d.toExponential(2)}  greedy ${same}/${g.greedy_tokens.length}  packed ${(m.info.packedBytes / 1e6).toFixed(1)} MB`);
}
if (json) console.log(JSON.stringify({ isa, repack, cache, goldens: results }));
