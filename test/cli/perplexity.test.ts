// `llama4 perplexity`: llama-perplexity's output (running [i]ppl values, the final estimate with its error),
// the run's statistics, --json, and flag errors. The command is registered on a fresh Command here.
import { Command, CommanderError } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { normalizeArgv } from '../../src/cli/flags.js';
import { finalEstimateLine, registerPerplexity, runPerplexity, type PerplexityFlags } from '../../src/cli/perplexity.js';
import { model } from '../helpers/shared.js';

const STORIES = model('stories260K.gguf');
const TEXT = model('text/python-reference.txt');

/**
 * llama.cpp's perplexity of stories260K on python-reference.txt, -c 128, 4 chunks, F32 KV, flash attention off:
 * llama.cpp v0.5.0 (node-llama-cpp 3.22.1, CPU), 2026-11-21, with a scratch copy of
 * shared/tools/llamacpp-oracle/ppl.mjs changed to llama-perplexity's exact method (tokenize with
 * add_special=true, chunk[0] = BOS, positions C/2 .. C-2 scored):
 *   node ppl-exact.mjs /work/shared/models/stories260K.gguf /work/shared/models/text/python-reference.txt 128 4 F32 1
 * -> 176936 tokens (ours match id for id), 252 scored, ppl 285.859806 +/- 86.138889,
 *    running [363.617664, 192.820227, 251.002825, 285.859806]
 */
const LLAMACPP = { tokens: 176936, scored: 252, ppl: 285.859806, err: 86.138889, running: [363.617664, 192.820227, 251.002825, 285.859806] };

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

function program(): Command {
  const p = new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  registerPerplexity(p);
  return p;
}

/** Parses argv through commander, capturing what the action writes. */
async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    await program().parseAsync(normalizeArgv(['node', 'llama4', 'perplexity', ...args]));
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr };
}

afterEach(() => vi.restoreAllMocks());

describe('llama4 perplexity', () => {
  it("prints llama-perplexity's running values and final estimate, matching llama.cpp within 0.1%", async () => {
    const r = await run(['-m', STORIES, '-f', TEXT, '-c', '128', '--chunks', '4', '-t', '1', '-ctk', 'f32', '-ctv', 'f32']);
    expect(r.stderr).toMatch(/calculating perplexity over 4 chunks, n_ctx=128, batch_size=128/);
    expect(r.stderr).toMatch(/seconds per pass - ETA/);
    const running = [...r.stdout.matchAll(/\[(\d+)\]([\d.]+),/g)];
    expect(running.map((m) => Number(m[1]))).toEqual([1, 2, 3, 4]);
    running.forEach((m, i) => expect(relDiff(Number(m[2]), LLAMACPP.running[i])).toBeLessThan(1e-3));
    const fin = /Final estimate: PPL = ([\d.]+) \+\/- ([\d.]+)/.exec(r.stdout);
    expect(fin).not.toBeNull();
    expect(relDiff(Number(fin![1]), LLAMACPP.ppl)).toBeLessThan(1e-3);
    expect(relDiff(Number(fin![2]), LLAMACPP.err)).toBeLessThan(1e-2);
    expect(r.stdout).toMatch(/KV F32\/F32 [\d.]+ KiB \(\d+ bytes\)/);
    expect(r.stdout).toMatch(/4 chunks of 128 tokens \(176936 in the text\), 252 scored/);
    expect(r.stdout).toMatch(/eval: 512 tokens in [\d.]+ ms \([\d.]+ t\/s\)/);
    expect(r.stdout).toMatch(/blocks executed per token: 5\.00 of 5/);
  });

  it('--json prints one object with the same numbers', async () => {
    const r = await run(['-m', STORIES, '-f', TEXT, '-c', '128', '--chunks', '2', '-t', '1', '-ctk', 'f32', '-ctv', 'f32', '--json']);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ model: STORIES, file: TEXT, nCtx: 128, nChunks: 2, nScored: 126, nEvaluated: 256, nTokens: LLAMACPP.tokens, nLayer: 5, blocksPerToken: 5, addBos: true });
    expect(relDiff(j.ppl, LLAMACPP.running[1])).toBeLessThan(1e-3);
    expect(j.chunkPpl).toHaveLength(2);
    expect(j.error).toBeGreaterThan(0);
    expect(j.kvBytes).toBeGreaterThan(0);
    expect(j.tokensPerSecond).toBeGreaterThan(0);
  });

  it('runPerplexity takes -p text too and defaults to chunks of 512', async () => {
    let out = '';
    const flags: PerplexityFlags = { model: STORIES, prompt: 'Once upon a time', batchSize: 512, threads: 1, cacheTypeK: 'f16', cacheTypeV: 'f16' };
    await expect(runPerplexity(flags, { out: (s) => (out += s), err: () => {} })).rejects.toThrow(/at least 1024 tokens.*only 5 tokens/);
    expect(out).toBe('');
  });

  it('finalEstimateLine formats like llama-perplexity', () => {
    expect(finalEstimateLine({ ppl: 10.01994, error: 0.568612 })).toBe('Final estimate: PPL = 10.0199 +/- 0.56861');
    expect(finalEstimateLine({ ppl: 2, error: NaN })).toMatch(/^Final estimate: PPL = 2.0000 \(.*no error estimate\)$/);
  });

  it('bad flags fail clearly', async () => {
    await expect(run(['-m', STORIES])).rejects.toThrow(/no prompt: give -p TEXT or -f FILE/);
    await expect(run(['-m', STORIES, '-f', TEXT, '-p', 'x'])).rejects.toThrow(/give either -p or -f, not both/);
    await expect(run(['-m', STORIES, '-f', TEXT, '--chunks', '0'])).rejects.toThrow(/--chunks must be at least 1/);
    await expect(run(['-m', STORIES, '-f', TEXT, '-c', 'big'])).rejects.toThrow(CommanderError);
    await expect(run(['-m', STORIES, '-f', TEXT, '--chunks', '1.5'])).rejects.toThrow(/not an integer/);
    await expect(run(['-f', TEXT])).rejects.toThrow(/required option '-m, --model <path>'/);
    await expect(run(['-m', '/nonexistent.gguf', '-f', TEXT])).rejects.toThrow(/nonexistent\.gguf/);
  });
});
