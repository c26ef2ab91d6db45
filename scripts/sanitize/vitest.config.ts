// The suite under ASan + UBSan + LSan (scripts/sanitize.sh): the normal config plus a leak check after
// each test file (setup.ts), longer timeouts (the sanitized addon is built at -O1 and checks every access:
// several times slower), and what cannot run that way left out, each with its reason.
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import base from '../../vitest.config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

// Whole files left out.
const EXCLUDED_FILES = [
  // Runs scripts/golden-diffs.ts in a child per kernel level with spawnSync, 9 runs of every golden: about
  // 9 minutes under ASan, and each spawnSync blocks the worker for longer than vitest's 60 s RPC limit
  // ("Timeout calling onTaskUpdate" fails the run). Every level's kernels still run sanitized, against the
  // scalar ones, in test/ops (kernels, matmul, packed, attn-kernels), and the goldens in goldens.test.ts.
  'test/engine/goldens-isa.test.ts',
];

// Single tests left out (by the end of the full name, "describe test"): their assertions are about time, which the
// sanitized build cannot meet; the rest of their files runs.
const TIMING_TESTS = [
  // the status line's TTFT is expected in ms: the sanitized first token takes over a second ("TTFT 2.12 s")
  'App opens the session, answers a question, and /exit calls onExit(0)',
  // the second pull must start (a node start-up) within the first one's 0.7 s throttled download
  'pull under stress two concurrent pulls of the same model: one downloads, the other waits and reuses it',
  // the whole calibration (4 dense passes, 28 gate fits, held-out logits) must reach its "tau" line within
  // the CLI helper's 120 s limit before the test interrupts it
  'calibrate: no adapter written, an existing output untouched, no scratch file left',
];
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export default mergeConfig(
  base,
  defineConfig({
    root,
    test: {
      setupFiles: [fileURLToPath(new URL('./setup.ts', import.meta.url))],
      testTimeout: 600_000,
      hookTimeout: 600_000,
      exclude: [...configDefaults.exclude, ...EXCLUDED_FILES],
      testNamePattern: new RegExp(`^(?!.*(${TIMING_TESTS.map(escape).join('|')})$)`),
    },
  }),
);
