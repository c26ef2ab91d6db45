// A vitest setup file for scripts/sanitize.sh only (scripts/sanitize/vitest.config.ts).
//
// Leaks: after each test file's own afterAll hooks (hooks run as a stack, so this one, registered first,
// runs last) it collects the garbage, lets node run the finalizers it defers, and runs LeakSanitizer in
// this worker (leak_check.c). vitest ends its workers with SIGTERM, which skips LeakSanitizer's usual
// check at exit, so without this a leak in the addon (every in-process addon call runs in these workers)
// would never be looked for.
//
// Stalls: vitest fails the run ("Timeout calling onTaskUpdate") when a worker's event loop cannot answer
// the main process for 60 s, which a long synchronous call (spawnSync of the CLI, a sync addon call) can
// do under the sanitizers' slowdown; a stall of over 30 s is named here, with the test that made it.
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';

const helper = process.env.LLAMA4_LEAK_CHECK;
if (!helper) throw new Error('LLAMA4_LEAK_CHECK is not set: run this config through scripts/sanitize.sh');
const { leakCheck } = createRequire(import.meta.url)(helper) as { leakCheck(): boolean };
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// which file each worker runs, for a worker that dies without a word (logs/files.log: PID start|end FILE)
const trace = (what: string) => {
  const logs = process.env.LLAMA4_SANITIZE_LOGS;
  if (logs) appendFileSync(`${logs}/files.log`, `${process.pid} ${what} ${expect.getState().testPath ?? '?'}\n`);
};
beforeAll(() => trace('start'));

let current = '(outside a test)';
beforeEach((ctx) => {
  current = ctx.task.name;
});
let last = Date.now();
const watch = setInterval(() => {
  const now = Date.now();
  if (now - last > 30_000) console.warn(`sanitize: this worker's event loop stalled for ${((now - last) / 1000).toFixed(0)} s in '${current}'`);
  last = now;
}, 1000);
watch.unref();

afterAll(async () => {
  clearInterval(watch);
  const t0 = Date.now();
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const leaked = leakCheck();
  const s = (Date.now() - t0) / 1000;
  if (s > 10) console.warn(`sanitize: the leak check took ${s.toFixed(1)} s`);
  trace('end');
  if (leaked) {
    throw new Error(`LeakSanitizer: this test file leaked memory (report in ${process.env.LLAMA4_SANITIZE_LOGS ?? 'the log'})`);
  }
}, 300_000);
