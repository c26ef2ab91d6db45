// Load through the real server: starts `llama4 serve` on 127.0.0.1 (a free port) with -np = the largest
// concurrency, then for each concurrency C runs C streaming chat clients at once, each sending R requests
// one after another (greedy, fixed max_tokens), and reports the aggregate generation t/s over the run and
// the p50 / p99 time to first token. Bounded: C x R requests per row, then the server is stopped.
//   npx tsx scripts/serve-bench.ts [-m MODEL] [-t 2] [-c 1,2,4,8] [-r 4] [-n 64]
import { startServer } from '../test/helpers/server.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const modelPath = arg('-m', '../shared/models/real/SmolLM2-135M-Instruct.Q4_1.gguf');
const threads = arg('-t', '2');
const conc = arg('-c', '1,2,4,8').split(',').map(Number);
const reps = Number(arg('-r', '4'));
const nGen = Number(arg('-n', '64'));
const maxC = Math.max(...conc);

const QUESTIONS = ['Tell me about the history of Paris.', 'Explain how a bicycle works.', 'Write a poem about the sea.', 'What do cats eat?', 'Describe a day at the beach.', 'How do plants grow?', 'Why is the sky blue?', 'Give me advice for a job interview.'];

const server = await startServer(['-m', modelPath, '-t', threads, '-np', String(maxC), '-c', String(1024 * maxC), '--max-queue', '64', '--temp', '0']);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
console.log(`# ${modelPath}, ${threads} threads, -np ${maxC}, ${reps} requests per client, max_tokens ${nGen} (ignore_eos-free: replies may end early)`);
console.log('| clients | requests | generated tokens | wall s | aggregate gen t/s | TTFT p50 ms | TTFT p99 ms |');
console.log('|---|---|---|---|---|---|---|');
try {
  for (const c of conc) {
    const ttft: number[] = [];
    let tokens = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: c }, async (_, k) => {
        for (let r = 0; r < reps; r++) {
          const q = QUESTIONS[(k + r) % QUESTIONS.length];
          const ts = performance.now();
          const res = await fetch(server.url + '/v1/chat/completions', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ messages: [{ role: 'user', content: `${q} (${k}.${r})` }], stream: true, max_tokens: nGen, stream_options: { include_usage: true } }),
          });
          if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
          const rd = res.body.getReader();
          const dec = new TextDecoder();
          let buf = '';
          let first = true;
          for (;;) {
            const { value, done } = await rd.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 2);
              if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
              const j = JSON.parse(line.slice(6));
              if (first && j.choices?.[0]?.delta?.content) {
                ttft.push(performance.now() - ts);
                first = false;
              }
              if (j.usage) tokens += j.usage.completion_tokens;
            }
          }
        }
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    console.log(`| ${c} | ${c * reps} | ${tokens} | ${wall.toFixed(2)} | ${(tokens / wall).toFixed(1)} | ${pct(ttft, 50).toFixed(0)} | ${pct(ttft, 99).toFixed(0)} |`);
  }
} finally {
  const code = await server.stop();
  if (code !== 0) console.error(`server exited with ${code}`);
}
