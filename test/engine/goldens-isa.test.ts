// Every kernel level gives the same model outputs, bit for bit: scripts/golden-diffs.ts --json runs all the
// llama.cpp goldens end to end in a child process per level (LLAMA4_ISA is read once per process), with
// packed and with plain (--no-repack) weights, and with llama.cpp's default F16 KV cache, and the checksums of
// every logit computed must agree with the host's own level. So the AVX2 path (what many users have) and the
// scalar fallback are covered whole on hosts that would otherwise run only AVX-512, beside the per-kernel
// tests in test/ops.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { SHARED } from '../helpers/shared.js';

interface Run {
  isa: string;
  repack: boolean;
  cache: string;
  goldens: { name: string; maxDiff: number; greedy: number; total: number; checksum: string }[];
}

function goldenRun(isa: string, repack: boolean, cache: 'f32' | 'f16'): Run {
  const args = ['--import', 'tsx', join('scripts', 'golden-diffs.ts'), '--json', '--cache', cache, ...(repack ? [] : ['--no-repack'])];
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, LLAMA4_ISA: isa, LLAMA4_SHARED: SHARED },
    timeout: 300_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`golden-diffs (LLAMA4_ISA=${isa}) exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Run;
}

const host = addon().systemInfo().isa;
const order = ['scalar', 'avx2', 'avx512'];
const levels = order.slice(0, order.indexOf(host) + 1).reverse(); // the host's level first
const missing = order.slice(order.indexOf(host) + 1);
if (missing.length) console.log(`goldens-isa: this CPU has no ${missing.join(' / ')}: those levels are not tested here`);

describe('goldens on every kernel level this CPU has', () => {
  const cases: { repack: boolean; cache: 'f32' | 'f16' }[] = [
    { repack: true, cache: 'f32' },
    { repack: false, cache: 'f32' },
    { repack: true, cache: 'f16' },
  ];
  for (const { repack, cache } of cases) {
    const what = `${repack ? 'packed' : 'plain (--no-repack)'} weights, ${cache.toUpperCase()} KV cache`;
    it(`${levels.join(', ')}: identical logits, ${what}`, () => {
      const runs = levels.map((isa) => goldenRun(isa, repack, cache));
      const base = runs[0];
      expect(base.goldens.length).toBeGreaterThanOrEqual(11);
      for (const [k, run] of runs.entries()) {
        expect(run.isa, 'LLAMA4_ISA took effect').toBe(levels[k]);
        expect([run.repack, run.cache]).toEqual([repack, cache]);
        for (const [i, g] of run.goldens.entries()) {
          // the goldens are llama.cpp with an F32 cache: an F16 cache only has to agree across levels
          if (cache === 'f32') {
            expect(g.greedy, `${run.isa} ${g.name}: greedy tokens`).toBe(g.total);
            expect(g.maxDiff, `${run.isa} ${g.name}: max |dlogit|`).toBeLessThan(1e-3);
          }
          expect(g.checksum, `${run.isa} ${g.name}: logits as on ${base.isa}`).toBe(base.goldens[i].checksum);
        }
      }
    });
  }
});
