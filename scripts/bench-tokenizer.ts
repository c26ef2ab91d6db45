// Tokenizer and sampler speed, side by side with llama.cpp's tokenizer (node-llama-cpp, vocab-only).
//
//   npx tsx scripts/bench-tokenizer.ts [--vocab llama4-derived,smollm2] [--runs 5] [--steps 2000]
//
// Text: 1 MiB of mixed English (the Python reference), code and multilingual/emoji text, built
// deterministically (a fixed LCG interleaves the sources). The llama.cpp oracle is looked for in
// $LLAMA4_ORACLE_DIR (default /work/oracle); without it only our figures are printed.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SamplerChain } from '../src/sampling/chain.js';
import { Tokenizer } from '../src/tokenizer/tokenizer.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MODELS = resolve(ROOT, '../shared/models');
const TARGET_BYTES = 1 << 20;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

class Lcg {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(n: number): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return this.s % n;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.next(a.length)];
  }
}

const MULTILINGUAL = [
  'Le cœur a ses raisons que la raison ne connaît point. Ça déménage à Noël, n’est-ce pas ?',
  'Größenordnung: Äpfel, Öl und Übermut — die Straße ist naß. ÄpfelÜber',
  'Съешь же ещё этих мягких французских булок, да выпей чаю. Москва — столица России.',
  '我想在苹果公司工作，因为他们的产品设计非常优秀。今天天气很好，我们去公园散步吧！',
  '日本語のテキストには、ひらがな、カタカナ、そして漢字が混在しています。東京タワー🗼',
  '한국어 문장은 띄어쓰기를 사용합니다. 서울은 대한민국의 수도입니다.',
  'Tiếng Việt có nhiều dấu: Cửa Việt, Hà Nội, thành phố Hồ Chí Minh.',
  'العربية تكتب من اليمين إلى اليسار، وهذه جملة للاختبار.',
  'हिन्दी भारत की एक प्रमुख भाषा है। नमस्ते दुनिया!',
  'ភាសាខ្មែរមានអក្សរផ្សំជាច្រើន។ ភ្នំពេញ',
  'Emoji: 🚀 🦙 😶‍🌫️ 👩‍👩‍👧‍👦 🇫🇷 ✅ 1️⃣ — mixed with math ∑∫√∞ ≤ ≥ ≠ and ¼ ½ ¾.',
  'Ελληνικά: Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο.',
  'עברית נכתבת מימין לשמאל. שלום עולם!',
];

const IDENTS = ['count', 'userName', 'getUserName', 'HTTPServer', 'parse_json', 'tokenizer', 'max_len', 'buf', 'i', 'j', 'logits', 'topK', 'résumé', 'data_frame', 'kv_cache', 'n_ctx', 'Vec3', 'self', 'value'];
const CODE_TEMPLATES: Array<(r: Lcg) => string> = [
  (r) => `def ${r.pick(IDENTS)}(${r.pick(IDENTS)}, ${r.pick(IDENTS)}=None):\n    """Return the ${r.pick(IDENTS)} of ${r.pick(IDENTS)}."""\n    if ${r.pick(IDENTS)} is None:\n        return ${r.next(1000)}\n    return [x ** ${r.next(9)} for x in range(${r.next(100000)})]\n`,
  (r) => `export function ${r.pick(IDENTS)}(${r.pick(IDENTS)}: number[], ${r.pick(IDENTS)} = ${r.next(256)}): Map<string, number> {\n  const out = new Map<string, number>();\n  for (let i = 0; i < ${r.pick(IDENTS)}.length; i++) out.set(\`k\${i}\`, ${r.pick(IDENTS)}[i] * ${r.next(97)}.5);\n  return out; // ${r.pick(MULTILINGUAL).slice(0, 20)}\n}\n`,
  (r) => `static inline float ${r.pick(IDENTS)}(const float * x, int n) {\n    float sum = 0.0f;\n    for (int i = 0; i < n; ++i) { sum += x[i] * x[i]; }\n    return 1.0f / sqrtf(sum / n + ${r.next(10)}e-6f); /* 0x${r.next(65536).toString(16)} */\n}\n`,
  (r) => `{"id": ${r.next(1e6)}, "name": "${r.pick(IDENTS)}", "tags": ["${r.pick(IDENTS)}", "${r.pick(IDENTS)}"], "ok": ${r.next(2) ? 'true' : 'false'}, "ratio": ${r.next(1000) / 7}}\n`,
  (r) => `    ${r.pick(IDENTS)}->${r.pick(IDENTS)}[${r.next(64)}] |= (${r.pick(IDENTS)} << ${r.next(32)}) & 0x${r.next(1 << 30).toString(16)};\t// ${r.pick(IDENTS)}\n`,
  (r) => `SELECT ${r.pick(IDENTS)}, COUNT(*) FROM t_${r.pick(IDENTS)} WHERE x >= ${r.next(500)} AND y <> '${r.pick(IDENTS)}' GROUP BY 1 ORDER BY 2 DESC;\n`,
];

/** 1 MiB of mixed text; same bytes on every run. */
export function benchText(): string {
  const r = new Lcg(20240405);
  const english = readFileSync(join(MODELS, 'text/python-reference.txt'), 'utf8').split(/\n\n+/);
  const inp = readFileSync(join(MODELS, 'vocab/ggml-vocab-llama-spm.gguf.inp'), 'utf8').split('\n__ggml_vocab_test__\n');
  const parts: string[] = [];
  let bytes = 0;
  let e = 0;
  while (bytes < TARGET_BYTES) {
    const kind = r.next(10);
    let s: string;
    if (kind < 5) s = english[e++ % english.length] + '\n\n'; // ~50% English prose, in order
    else if (kind < 8) s = r.pick(CODE_TEMPLATES)(r) + '\n';
    else if (kind < 9) s = r.pick(MULTILINGUAL) + ' ' + r.pick(MULTILINGUAL) + '\n';
    else s = r.pick(inp) + '\n';
    parts.push(s);
    bytes += Buffer.byteLength(s);
  }
  // cut to exactly TARGET_BYTES on a character boundary
  const buf = Buffer.from(parts.join('')).subarray(0, TARGET_BYTES);
  let end = buf.length;
  while (end > 0 && (buf[end - 1] & 0xc0) === 0x80) end--;
  if (end > 0 && buf[end - 1] >= 0xc0) end--;
  return buf.subarray(0, end).toString('utf8');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

interface Oracle {
  tokenize(text: string): number[];
  dispose(): Promise<void>;
}

async function loadOracle(vocabFile: string): Promise<Oracle | string> {
  const dir = process.env.LLAMA4_ORACLE_DIR ?? '/work/oracle';
  const entry = join(dir, 'node_modules/node-llama-cpp/dist/index.js');
  if (!existsSync(entry)) return `llama.cpp oracle not found (${entry}); set LLAMA4_ORACLE_DIR to a node-llama-cpp install`;
  process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD ??= 'true';
  const mod = (await import(pathToFileURL(entry).href)) as {
    getLlama(o: object): Promise<{ loadModel(o: object): Promise<{ tokenize(t: string, special?: boolean): number[]; dispose(): Promise<void> }> }>;
  };
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: 'fatal' });
  const model = await llama.loadModel({ modelPath: vocabFile, vocabOnly: true });
  return { tokenize: (t) => Array.from(model.tokenize(t, false)), dispose: () => model.dispose() };
}

function firstDifference(a: number[], b: number[]): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `first difference at token ${i} of ${a.length}/${b.length}`;
  return a.length === b.length ? 'identical' : `lengths ${a.length} vs ${b.length}`;
}

async function benchVocab(name: string, text: string, runs: number): Promise<void> {
  const file = join(MODELS, `vocab/ggml-vocab-${name}.gguf`);
  const bytes = Buffer.byteLength(text);
  console.log(`\n## ${name} (${file})`);
  const rows: string[][] = [];
  const modes = name.startsWith('llama4') ? [false, true] : [false];
  let oursCompatIds: number[] = [];
  let oursRefIds: number[] = [];
  let oursBest = 0;
  for (const compat of modes) {
    let t0 = performance.now();
    const tok = await Tokenizer.fromGguf(file, { llamaCppCompat: compat });
    const loadMs = performance.now() - t0;
    // first call: empty word cache and cold JIT
    t0 = performance.now();
    const ids = tok.encode(text, { addSpecial: false });
    const firstMs = performance.now() - t0;
    // fresh tokenizers (empty cache, warm JIT)
    const cold: number[] = [];
    for (let i = 0; i < Math.max(1, Math.min(3, runs)); i++) {
      const fresh = await Tokenizer.fromGguf(file, { llamaCppCompat: compat });
      t0 = performance.now();
      fresh.encode(text, { addSpecial: false });
      cold.push(performance.now() - t0);
    }
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) {
      t0 = performance.now();
      tok.encode(text, { addSpecial: false });
      warm.push(performance.now() - t0);
    }
    const label = `ours${modes.length > 1 ? (compat ? ' (llama.cpp-compat)' : ' (reference regex)') : ''}`;
    rows.push([label, mbps(bytes, firstMs).toFixed(2), mbps(bytes, median(cold)).toFixed(2), mbps(bytes, median(warm)).toFixed(2), String(ids.length), loadMs.toFixed(0)]);
    if (compat || modes.length === 1) oursCompatIds = ids;
    if (!compat) oursRefIds = ids;
    oursBest = Math.max(oursBest, mbps(bytes, median(cold)));
  }

  const oracle = await loadOracle(file);
  let oracleMbps = 0;
  if (typeof oracle === 'string') {
    console.log(oracle);
  } else {
    let ids: number[] = [];
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      ids = oracle.tokenize(text);
      times.push(performance.now() - t0);
    }
    oracleMbps = mbps(bytes, median(times));
    rows.push(['llama.cpp (node-llama-cpp)', '', '', oracleMbps.toFixed(2), String(ids.length), '']);
    console.log(`ids vs llama.cpp: ours${modes.length > 1 ? ' (llama.cpp-compat)' : ''} ${firstDifference(oursCompatIds, ids)}`);
    if (modes.length > 1) console.log(`ids vs llama.cpp: ours (reference regex) ${firstDifference(oursRefIds, ids)} (expected to differ on Khmer and other combining-mark text)`);
    await oracle.dispose();
  }
  console.log('\n| tokenizer | MB/s first call | MB/s empty cache | MB/s steady | tokens | load ms |\n|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  if (oracleMbps > 0) console.log(`\nratio ours (empty cache) / llama.cpp: ${(oursBest / oracleMbps).toFixed(2)}x`);
}

function benchSampling(steps: number): void {
  const n = 202_048;
  const logits = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    // a peaked, model-like distribution: a few strong tokens over a wide noisy floor
    logits[i] = (s / 2 ** 32) * 8 - 4 + (i % 4099 === 0 ? 9 : 0);
  }
  console.log(`\n## sampling, ${n} vocabulary, ${steps} steps`);
  console.log('\n| chain | mean ms/step | median | p99 |\n|---|---|---|---|');
  const configs: Array<[string, ConstructorParameters<typeof SamplerChain>[1]]> = [
    ['defaults (top-k 40, top-p 0.95, min-p 0.05, temp 0.8)', { seed: 42 }],
    ['defaults + repeat/presence/frequency penalties', { seed: 42, repeatPenalty: 1.1, presencePenalty: 0.3, frequencyPenalty: 0.2 }],
    ['greedy (temp 0)', { seed: 42, temp: 0 }],
  ];
  for (const [label, opts] of configs) {
    const chain = new SamplerChain(n, opts);
    for (let i = 0; i < 64; i++) chain.accept(i * 3001);
    for (let i = 0; i < 100; i++) chain.accept(chain.sample(logits));
    const t: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      const id = chain.sample(logits);
      t.push(performance.now() - t0);
      chain.accept(id);
    }
    const sorted = [...t].sort((a, b) => a - b);
    const mean = t.reduce((a, b) => a + b, 0) / t.length;
    console.log(`| ${label} | ${mean.toFixed(3)} | ${median(t).toFixed(3)} | ${sorted[Math.floor(t.length * 0.99)].toFixed(3)} |`);
  }
}

async function main(): Promise<void> {
  const vocabs = arg('vocab', 'llama4-derived,smollm2').split(',');
  const runs = Number(arg('runs', '5'));
  const steps = Number(arg('steps', '2000'));
  const text = benchText();
  console.log(`# tokenizer benchmark: ${Buffer.byteLength(text)} bytes of mixed English / code / multilingual text, node ${process.version}`);
  for (const v of vocabs) await benchVocab(v, text, runs);
  benchSampling(steps);
}

await main();
