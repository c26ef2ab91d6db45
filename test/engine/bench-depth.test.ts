// bench -d (llama-bench's n_depth): every timed repetition starts with exactly N tokens in the KV cache, the
// depth is evaluated once (not per repetition), and the test then runs at positions N..N+n. Speed is never
// asserted.
import { describe, expect, it } from 'vitest';
import { BENCH_DEFAULTS, runBench, testName, type BenchParams, type TimingStart } from '../../src/engine/bench.js';
import { model } from '../helpers/shared.js';

const STORIES = model('stories260K.gguf');
// stories260K: 5 layers x 4 KV heads x 8 dims, K and V in f16: 640 bytes of KV cache per position
const PER_POS = 5 * 4 * 8 * 2 * 2;

function params(over: Partial<BenchParams>): BenchParams {
  return { ...BENCH_DEFAULTS, models: [STORIES], threads: [1], nPrompt: [8], nGen: [4], reps: 3, bandwidth: 'off', ...over };
}

async function observe(p: BenchParams) {
  const starts: TimingStart[] = [];
  const progress: string[] = [];
  const results = await runBench(p, { onTimingStart: (e) => starts.push(e), progress: (m) => progress.push(m) });
  return { starts, results, fills: progress.filter((m) => m.includes('filling the depth')) };
}

describe('bench -d', () => {
  it('each timed repetition starts with exactly N tokens in the cache and leaves N + n', async () => {
    const { starts, results, fills } = await observe(params({ nDepth: [0, 24, 8] }));
    // llama-bench's order: per depth, the pp tests then the tg tests
    expect(results.map((r) => testName(r))).toEqual(['pp8', 'tg4', 'pp8 @ d24', 'tg4 @ d24', 'pp8 @ d8', 'tg4 @ d8']);
    expect(starts).toHaveLength(6 * 3);
    expect(starts.map((s) => `${s.test}#${s.rep}`)).toEqual(results.flatMap((r) => [0, 1, 2].map((i) => `${testName(r)}#${i}`)));
    for (const s of starts) {
      expect(s.nPast).toBe(s.nDepth);
      expect(s.kvBytesUsed).toBe(s.nDepth * PER_POS);
      // one context holds the largest depth plus the largest test
      expect(s.kvBytes).toBe((24 + 8) * PER_POS);
      expect(s).toMatchObject({ model: STORIES, threads: 1 });
    }
    for (const r of results) {
      expect(r.kv_bytes_used).toBe((r.n_depth + r.n_prompt + r.n_gen) * PER_POS);
      expect(r.kv_bytes).toBe(32 * PER_POS);
      expect(r.samples_ns).toHaveLength(3);
    }
    expect(results.map((r) => r.n_depth)).toEqual([0, 0, 24, 24, 8, 8]);
    // the depth is evaluated once, before the first test at d24; tg4 @ d24 and both d8 tests rewind to it
    expect(fills).toEqual([expect.stringMatching(/ pp8 @ d24 filling the depth \(24 tokens\)$/)]);
  });

  it('a larger depth after a smaller one only evaluates the positions it adds', async () => {
    const { starts, fills } = await observe(params({ nDepth: [8, 24], nPrompt: [0], reps: 2, warmup: false }));
    expect(fills).toEqual([
      expect.stringMatching(/ tg4 @ d8 filling the depth \(8 tokens\)$/),
      expect.stringMatching(/ tg4 @ d24 filling the depth \(16 tokens\)$/),
    ]);
    expect(starts.map((s) => [s.nDepth, s.nPast, s.kvBytesUsed])).toEqual([
      [8, 8, 8 * PER_POS],
      [8, 8, 8 * PER_POS],
      [24, 24, 24 * PER_POS],
      [24, 24, 24 * PER_POS],
    ]);
  });

  it('works with depth gating unchanged (--drop-layers, --depth-kv skip): the sparse cache holds the depth at timing start', async () => {
    const { starts, results } = await observe(
      params({ nDepth: [16], nPrompt: [0], reps: 2, depth: { dropLayers: [1, 2], kv: 'skip', prefill: false } }),
    );
    // statically dropped blocks are skipped by prompts (the depth fill) too: 16 positions in 3 of 5 layers
    const perLayer = PER_POS / 5;
    for (const s of starts) expect([s.nPast, s.kvBytesUsed]).toEqual([16, 16 * 3 * perLayer]);
    const tg = results[0];
    expect(testName(tg)).toBe('tg4 @ d16');
    expect(tg.blocks_per_token).toBe(3);
    // then 4 decode tokens that ran the same 3 blocks
    expect(tg.kv_bytes_used).toBe(20 * 3 * perLayer);
  });

  it('refuses a context past the addon limit before loading anything', async () => {
    await expect(runBench(params({ nDepth: [1 << 24] }))).rejects.toThrow(/-d 16777216 plus 8 test tokens needs a context of 16777224 tokens; the largest is 16777216/);
    await expect(runBench(params({ nDepth: [-1] }))).rejects.toThrow(/-d: depth -1 is not a token count >= 0/);
  });
});
