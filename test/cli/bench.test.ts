// llama4 bench: table shape, json fields, csv quoting and argument errors. Speed is never asserted.
import { totalmem } from 'node:os';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerBench, runBenchCommand, type BenchFlags } from '../../src/cli/bench.js';
import { normalizeArgv } from '../../src/cli/flags.js';
import {
  BENCH_FIELDS,
  csvQuote,
  mean,
  measureReadBandwidth,
  median,
  parseIntList,
  stdev,
  type BenchResult,
} from '../../src/engine/bench.js';
import { addon } from '../../src/native/addon.js';
import { cli } from '../helpers/cli.js';
import { model } from '../helpers/shared.js';

const STORIES = model('stories260K.gguf');
const MOE = model('synthetic/tiny-llama4-q8_0.synthetic.gguf');
const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');

interface Captured {
  out: string;
  err: string;
  results?: BenchResult[];
  flags?: BenchFlags;
}

/** Parses `args` as `llama4 bench ...` would (llama.cpp short flags included) and captures the output. */
async function bench(args: string[]): Promise<Captured> {
  const c: Captured = { out: '', err: '' };
  const program = new Command().exitOverride().configureOutput({ writeOut: (s) => (c.out += s), writeErr: (s) => (c.err += s) });
  const cmd = registerBench(program);
  cmd.exitOverride();
  cmd.action(async (flags: BenchFlags) => {
    c.flags = flags;
    c.results = await runBenchCommand(flags, { out: (s) => (c.out += s), err: (s) => (c.err += s) });
  });
  await program.parseAsync(normalizeArgv(['node', 'llama4', 'bench', ...args]));
  return c;
}

const TINY = ['-m', STORIES, '-p', '16', '-n', '8', '-r', '2', '-t', '1'];

describe('llama4 bench', () => {
  it('prints llama-bench\'s markdown table plus our columns, and the CPU features in the footer', async () => {
    const { out, err } = await bench([...TINY, '--bw', '12.5']);
    expect(err).toBe(''); // no progress line when not asked for (not a terminal)
    const lines = out.trimEnd().split('\n');
    const cells = (l: string) => l.split('|').slice(1, -1).map((s) => s.trim());
    expect(cells(lines[0])).toEqual([
      'model', 'size', 'params', 'backend', 'threads', 'test', 't/s', 'active', 'B/tok', 'read', 'GB/s', 'of bw', 'KV used', 'KV alloc',
    ]);
    expect(lines[1]).toMatch(/^\|-+\|-+:\|-+:\|-+\|-+:\|-+:\|-+:\|-+:\|-+:\|-+:\|-+:\|-+:\|-+:\|-+:\|$/);
    const pp = cells(lines[2]);
    const tg = cells(lines[3]);
    expect(pp.slice(0, 6)).toEqual(['llama 293K F32', '1.12 MiB', '0.29 M', 'CPU', '1', 'pp16']);
    expect(tg.slice(0, 6)).toEqual(['llama 293K F32', '1.12 MiB', '0.29 M', 'CPU', '1', 'tg8']);
    for (const r of [pp, tg]) expect(r[6]).toMatch(/^\d+\.\d\d ± \d+\.\d\d$/);
    expect(pp.slice(8, 12)).toEqual(['', '', '', '']); // bandwidth columns are for tg only
    expect(tg[8]).toMatch(/^\d+\.\d\d MiB$/);
    expect(tg[9]).toBe('100.0 %'); // F32: no packed layout, the kernels read exactly B/tok
    expect(tg[10]).toMatch(/^\d+\.\d\d$/);
    expect(tg[11]).toMatch(/^\d+\.\d %$/);
    // KV cache: stories260K holds 5 layers x 4 KV heads x 8 dims x K,V x f16 = 640 bytes per position; the
    // context holds the largest test (16 tokens)
    expect(pp.slice(12)).toEqual(['10.00 KiB', '10.00 KiB']);
    expect(tg.slice(12)).toEqual(['5.00 KiB', '10.00 KiB']);
    // every row has the same width
    expect(new Set(lines.slice(0, 4).map((l) => l.length)).size).toBe(1);
    const sys = addon().systemInfo();
    expect(out).toContain(`kernels: ${sys.isa}`);
    expect(out).toContain(`features: ${sys.cpuFeatures}`);
    expect(out).toMatch(/^build: \S+ \| cpu: /m);
    expect(out).toMatch(/read bandwidth limit \(--bw\): 12\.50 GB\/s @ 1t/);
  });

  it('shows non-default parameters as columns (llama-bench) and n/a for the share with --bw off', async () => {
    const { out, flags } = await bench([...TINY, '-n', '4', '-p', '0', '-b', '8', '-ctk', 'f32', '--no-warmup', '--bw', 'off']);
    expect(flags).toMatchObject({ batchSize: 8, cacheTypeK: 'f32', cacheTypeV: 'f16', warmup: false, nPrompt: [0], bw: 'off' });
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/\| threads \| +n_batch \| +type_k \| +test \|/);
    expect(lines[2]).toMatch(/\| +8 \| +f32 \| +tg4 \|/);
    // KV: 4 positions, K in f32 (5 layers x 32 values x 4 bytes), V in f16 (5 x 32 x 2): 960 bytes each
    expect(lines[2]).toMatch(/\| +n\/a \| +3\.75 KiB \| +3\.75 KiB \|$/);
    expect(lines.filter((l) => l.startsWith('| llama'))).toHaveLength(1); // -p 0 skips pp
  });

  it('json: one object per model × threads × test with llama-bench fields and ours', async () => {
    const { out, results } = await bench(['-m', STORIES, '-m', MOE, '-p', '8', '-n', '4', '-r', '3', '-t', '1,2', '-o', 'json', '--bw', '10']);
    const j = JSON.parse(out) as Record<string, unknown>[];
    expect(j).toHaveLength(2 * 2 * 2);
    expect(j).toEqual(JSON.parse(JSON.stringify(results)).map((r: Record<string, unknown>) => {
      const o: Record<string, unknown> = {};
      for (const f of [...BENCH_FIELDS, 'samples_ns', 'samples_ts']) o[f] = r[f];
      return o;
    }));
    for (const o of j) {
      expect(Object.keys(o)).toEqual([...BENCH_FIELDS, 'samples_ns', 'samples_ts']);
      expect(o).toMatchObject({ backends: 'CPU', n_batch: 512, type_k: 'f16', type_v: 'f16' });
      expect(o.test_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const ns = o.samples_ns as number[];
      const ts = o.samples_ts as number[];
      expect(ns).toHaveLength(3);
      expect(ts).toHaveLength(3);
      for (const x of ns) expect(Number.isInteger(x) && x > 0).toBe(true);
      const nTok = (o.n_prompt as number) + (o.n_gen as number);
      ts.forEach((t, i) => expect(t).toBeCloseTo((1e9 * nTok) / ns[i], 6));
      expect(o.avg_ts).toBeCloseTo(mean(ts), 6);
      expect(o.stddev_ts).toBeCloseTo(stdev(ts), 6);
      expect(o.avg_ns).toBe(Math.round(mean(ns)));
      if (o.n_gen) {
        expect(o.achieved_gbps).toBeCloseTo(((o.bytes_per_token as number) * (o.avg_ts as number)) / 1e9, 9);
        expect(o).toMatchObject({ bw_limit_gbps: 10, bw_source: 'given' });
        expect(o.bw_share).toBeCloseTo((o.achieved_gbps as number) / 10, 9);
        // what the kernels read per token is what the model says (MoE: the routed expert only), within
        // the packed layouts' few % of extra scale bytes
        expect(Math.abs((o.read_bytes_per_token as number) / (o.bytes_per_token as number) - 1)).toBeLessThan(0.1);
      } else {
        expect(o).toMatchObject({ achieved_gbps: null, bw_limit_gbps: null, bw_share: null });
      }
    }
    expect(j.map((o) => `${o.model_type} t${o.n_threads} p${o.n_prompt} n${o.n_gen}`)).toEqual([
      'llama 293K F32 t1 p8 n0', 'llama 293K F32 t1 p0 n4', 'llama 293K F32 t2 p8 n0', 'llama 293K F32 t2 p0 n4',
      'llama4 288K Q8_0 t1 p8 n0', 'llama4 288K Q8_0 t1 p0 n4', 'llama4 288K Q8_0 t2 p8 n0', 'llama4 288K Q8_0 t2 p0 n4',
    ]);
    const dense = j[0];
    expect(dense.model_n_params_active).toBe(dense.model_n_params);
    expect(dense).toMatchObject({ model_n_params: 292800, n_expert: 0 });
    // MoE: 4 experts, 1 used: 3/4 of the routed expert weights (2 layers × 3 × 64×64×4) are idle per token
    const moe = j[4];
    expect(moe).toMatchObject({ model_n_params: 287816, model_n_params_active: 287816 - (3 * 98304) / 4, n_expert: 4, n_expert_used: 1 });
  });

  it('--no-repack: no packed copies, and decode reads exactly the modelled bytes per token (MoE: routed experts only)', async () => {
    const { out } = await bench(['-m', STORIES, '-m', MOE, '-p', '0', '-n', '4', '-r', '1', '-t', '1', '-o', 'json', '--bw', 'off', '--no-repack']);
    const j = JSON.parse(out) as Record<string, number>[];
    expect(j).toHaveLength(2);
    for (const o of j) {
      expect(o.packed_bytes).toBe(0);
      expect(o.read_bytes_per_token).toBe(o.bytes_per_token);
    }
    // the MoE model's figure leaves out 3 of its 4 experts: less than all its matrices
    expect(j[1].bytes_per_token).toBeLessThan(j[1].model_size * 0.8);
  });

  it('csv: a header of field names and every value double-quoted', async () => {
    const { out } = await bench([...TINY, '-o', 'csv', '--bw', 'off']);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe(BENCH_FIELDS.join(','));
    expect(lines).toHaveLength(3);
    for (const l of lines.slice(1)) {
      expect(l).toMatch(/^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*$/);
      const values = l.slice(1, -1).split('","');
      expect(values).toHaveLength(BENCH_FIELDS.length);
      const row = Object.fromEntries(BENCH_FIELDS.map((f, i) => [f, values[i]]));
      expect(row).toMatchObject({ model_filename: STORIES, model_type: 'llama 293K F32', n_threads: '1', bw_share: '' });
      expect(Number(row.avg_ts)).toBeGreaterThan(0);
    }
    expect(csvQuote('a "b", c')).toBe('"a ""b"", c"');
    expect(csvQuote(null)).toBe('""');
  });

  it('rejects a bad -t list (and other bad lists) with a commander usage error', async () => {
    for (const bad of ['1,x', '0', '2-1', '', '1,,2', '-1']) {
      const c = bench(['-m', STORIES, '-t', bad]);
      await expect(c).rejects.toBeInstanceOf(CommanderError);
      await expect(c).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    }
    await expect(bench(['-m', STORIES, '-p', '8,y'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(bench(['-m', STORIES, '-o', 'xml'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(bench(['-m', STORIES, '--bw', 'fast'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(bench(['-m', STORIES, '-p', '0', '-n', '0'])).rejects.toThrow(/no tests/);
    await expect(bench(['-m', '/nonexistent/x.gguf', '-p', '1', '-n', '0'])).rejects.toThrow(/not found|no such file/i);
  });

  it('list syntax and statistics follow llama-bench', async () => {
    expect(parseIntList('1,2')).toEqual([1, 2]);
    expect(parseIntList('1-4')).toEqual([1, 2, 3, 4]);
    expect(parseIntList('1-8+3, 16')).toEqual([1, 4, 7, 16]);
    expect(() => parseIntList('0', 1)).toThrow(/out of range/);
    expect(stdev([5])).toBe(0);
    expect(stdev([1, 2, 3])).toBe(1); // n-1 denominator
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const bw = await measureReadBandwidth(1, 16 << 20, 1);
    expect(bw).toBeGreaterThan(0);
  });
});

describe('llama4 bench -d (llama-bench n_depth)', () => {
  const cells = (l: string) => l.split('|').slice(1, -1).map((s) => s.trim());

  it("names tests 'pp8 @ d24' / 'tg4 @ d24' (plain at depth 0) and shows the KV cache used and allocated", async () => {
    const { out, flags } = await bench(['-m', STORIES, '-p', '8', '-n', '4', '-d', '0,24', '-r', '2', '-t', '1', '--bw', 'off']);
    expect(flags?.nDepth).toEqual([0, 24]);
    const lines = out.trimEnd().split('\n');
    const rows = lines.filter((l) => l.startsWith('| llama')).map(cells);
    expect(rows.map((r) => r[5])).toEqual(['pp8', 'tg4', 'pp8 @ d24', 'tg4 @ d24']);
    // 640 bytes per position: used = depth + the test's tokens; one context of 24 + 8 positions
    expect(rows.map((r) => r.slice(-2))).toEqual([
      ['5.00 KiB', '20.00 KiB'],
      ['2.50 KiB', '20.00 KiB'],
      ['20.00 KiB', '20.00 KiB'],
      ['17.50 KiB', '20.00 KiB'],
    ]);
    expect(new Set(lines.slice(0, 6).map((l) => l.length)).size).toBe(1);
  });

  it('json and csv carry n_depth where llama-bench puts it (after n_gen), and kv_bytes / kv_bytes_used', async () => {
    const { out } = await bench(['-m', STORIES, '-p', '8', '-n', '4', '-d', '16', '-r', '1', '-t', '1', '--bw', 'off', '-o', 'json']);
    const j = JSON.parse(out) as Record<string, unknown>[];
    expect(Object.keys(j[0]).indexOf('n_depth')).toBe(Object.keys(j[0]).indexOf('n_gen') + 1);
    expect(j.map((o) => [o.n_prompt, o.n_gen, o.n_depth, o.kv_bytes_used, o.kv_bytes])).toEqual([
      [8, 0, 16, 24 * 640, 24 * 640],
      [0, 4, 16, 20 * 640, 24 * 640],
    ]);
    const csv = (await bench(['-m', STORIES, '-p', '0', '-n', '4', '-d', '16', '-r', '1', '-t', '1', '--bw', 'off', '-o', 'csv'])).out;
    const [head, row] = csv.trimEnd().split('\n');
    expect(head).toContain(',n_prompt,n_gen,n_depth,test_time,');
    expect(head.endsWith(',kv_bytes,kv_bytes_used')).toBe(true);
    const values = row.slice(1, -1).split('","');
    const o = Object.fromEntries(head.split(',').map((f, i) => [f, values[i]]));
    expect(o).toMatchObject({ n_prompt: '0', n_gen: '4', n_depth: '16', kv_bytes_used: String(20 * 640) });
  });

  it('rejects bad depths with a clear usage error (exit code 2 from the CLI)', async () => {
    for (const bad of ['-1', 'x', '1,,2', '', '8-4', '0,-5']) {
      const c = bench(['-m', STORIES, '-d', bad]);
      await expect(c).rejects.toBeInstanceOf(CommanderError);
      await expect(c).rejects.toMatchObject({ code: 'commander.invalidArgument', message: expect.stringMatching(/-d: .*a depth is a token count >= 0/) });
    }
    for (const bad of ['-1', 'x']) {
      const r = cli(['bench', '-m', STORIES, '-d', bad]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`error: option '-d, --n-depth <list>' argument '${bad}' is invalid. -d: '${bad}' is not a number`);
      expect(r.stderr).toContain('a depth is a token count >= 0, e.g. -d 0,1024,4096');
    }
    const p = cli(['bench', '-m', STORIES, '--parallel', '1', '-d', '8', '-t', '1']);
    expect([p.code, p.stderr]).toEqual([2, 'llama4: -d is not supported with --parallel (llama-batched-bench has no depth)\n']);
  });

  // (skipped on a machine that could hold it: it would then fill 16M tokens)
  it.skipIf(totalmem() > 600 * 1024 ** 3)('a depth whose KV cache cannot fit in memory is refused before anything is evaluated', async () => {
    // SmolLM2: 30 layers x 3 KV heads x 64 x K,V x f32 = 46080 bytes per position: ~690 GiB at 16M tokens
    const c = bench(['-m', SMOL, '--no-repack', '-ctk', 'f32', '-ctv', 'f32', '-p', '16', '-n', '0', '-d', '16000000', '-r', '1', '-t', '1']);
    await expect(c).rejects.toThrow(/^bench -d 16000000: a context of 16000016 tokens needs [\d.]+ GiB .* of memory is available \(depth 16000000 \+ 16 test tokens\); lower -d$/);
    await expect(bench(['-m', STORIES, '-p', '16', '-n', '0', '-d', String(1 << 24)])).rejects.toThrow(/the largest is 16777216/);
  });
});
