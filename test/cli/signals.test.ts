// Exit codes, Ctrl-C and closed pipes, on the real CLI process (bin/llama4.js over dist/) as a shell runs it:
//   - usage errors (an unknown flag or command, a bad value, a missing option, -p with -f) exit 2 with one
//     line and the usage hint; help and version exit 0;
//   - SIGINT during generation, perplexity, bench, calibrate and quantize stops the work, leaves no output behind (a
//     calibrate output that existed before is untouched) and exits 130, without a stack trace;
//   - stdout closed by its reader (`llama4 run ... | head -c 100`) stops the generation at once, quietly
//     (nothing on stderr), with exit 141 as `cat` has in the same pipe;
//   - -c above the training context warns.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { cliAsync } from '../helpers/cli-async.js';
import { generateModel, resolveSpec } from '../../scripts/lib/model-gen.js';
import { model } from '../helpers/shared.js';

const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');
const STORIES = model('stories260K.gguf');
const TEXT = model('text/python-reference.txt');
const dir = mkdtempSync(join(tmpdir(), 'llama4-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const noStack = (s: string) => expect(s, s).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);

/**
 * Starts the CLI, waits until `ready` matches its stdout or stderr (or `ready` ms passed), sends SIGINT;
 * resolves with the result.
 */
async function interrupt(args: string[], ready: RegExp | number) {
  const run = cliAsync(args, { timeoutMs: 120_000 });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    if (typeof ready === 'number') setTimeout(resolve, ready);
    const check = (d: Buffer | string) => {
      seen += d.toString();
      if (typeof ready !== 'number' && ready.test(seen)) resolve();
    };
    run.child.stdout!.on('data', check);
    run.child.stderr!.on('data', check);
    run.child.on('close', () => reject(new Error(`ended before ${ready}:\n${seen}`)));
  });
  const t0 = Date.now();
  run.child.kill('SIGINT');
  const r = await run.done;
  return { ...r, stopMs: Date.now() - t0 };
}

describe('usage errors exit 2', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown flag', ['run', '-m', SMOL, '-p', 'hi', '--bogus'], /unknown option '--bogus'/],
    ['a bad value', ['run', '-m', SMOL, '-p', 'hi', '-n', 'abc'], /'-n, --n-predict <n>' argument 'abc' is invalid/],
    ['a value out of range', ['run', '-m', SMOL, '-p', 'hi', '--top-p', '2'], /must be between 0 and 1/],
    ['a missing option', ['run', '-p', 'hi'], /required option '-m, --model <path>' not specified/],
    ['an unknown command', ['nosuch'], /unknown command 'nosuch'/],
    ['-p with -f', ['run', '-m', SMOL, '-p', 'hi', '-f', TEXT], /give either -p or -f, not both/],
    ['no prompt', ['perplexity', '-m', SMOL], /no prompt: give -p TEXT or -f FILE/],
    ['quantize without its arguments', ['quantize', SMOL], /usage: llama4 quantize/],
    ['a bad choice', ['bench', '-m', SMOL, '-o', 'xml'], /argument 'xml' is invalid. Allowed choices are md, json, csv/],
  ];
  it.each(cases)('%s', (_name, args, message) => {
    const r = cli(args, { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    noStack(r.stderr);
  });

  it('help and version exit 0; a failure that is not a usage error exits 1', () => {
    expect(cli(['--help']).code).toBe(0);
    expect(cli(['run', '--help']).code).toBe(0);
    expect(cli(['--version']).code).toBe(0);
    const missing = cli(['run', '-m', join(dir, 'absent.gguf'), '-p', 'hi']);
    expect(missing.code, missing.stderr).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('Ctrl-C exits 130 and leaves nothing half-written', () => {
  it('run: stops generating, prints its summary, exits 130', async () => {
    const r = await interrupt(['run', '-m', SMOL, '-p', 'Tell me a long story.', '-n', '5000', '--ignore-eos', '-t', '2'], /[^]{40}/);
    expect(r.code, r.stderr).toBe(130);
    expect(r.signal).toBeNull();
    expect(r.stderr).toMatch(/stopped by aborted/);
    expect(r.stopMs).toBeLessThan(5_000);
    noStack(r.stderr);
  });

  it('perplexity: stops between or inside chunks, exits 130', async () => {
    const r = await interrupt(['perplexity', '-m', SMOL, '-f', TEXT, '-c', '128', '-t', '2'], /\[1\]/);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).not.toMatch(/Final estimate/);
    expect(r.stderr).toMatch(/llama4: interrupted/);
    noStack(r.stderr);
  });

  it('bench: stops the running test, exits 130', async () => {
    const r = await interrupt(['bench', '-m', SMOL, '-p', '0', '-n', '4000', '-r', '20', '--bw', 'off', '-t', '2'], 3_000);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stopMs).toBeLessThan(5_000);
    noStack(r.stderr);
  });

  it('calibrate: no adapter written, an existing output untouched, no scratch file left', async () => {
    const out = join(dir, 'gates.gguf');
    writeFileSync(out, 'the previous adapter');
    const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('llama4-calibrate-')));
    const r = await interrupt(
      ['calibrate', '-m', SMOL, '-f', TEXT, '-o', out, '-c', '128', '--chunks', '4', '--heldout', '1', '-t', '2'],
      /calibrate: tau/,
    );
    expect(r.code, r.stderr).toBe(130);
    expect(readFileSync(out, 'utf8')).toBe('the previous adapter');
    expect(readdirSync(dir).filter((f) => f !== 'gates.gguf')).toEqual([]);
    const after = readdirSync(tmpdir()).filter((f) => f.startsWith('llama4-calibrate-') && !before.has(f));
    expect(after).toEqual([]);
    noStack(r.stderr);
  });

  it('quantize: the temporary output is removed, an existing output untouched', async () => {
    // an F32 model of ~100 MB: quantizing it takes long enough to be interrupted while the output is written
    const src = join(dir, 'f32.gguf');
    await generateModel(resolveSpec({ arch: 'llama', embd: 1024, layers: 4, heads: 8, kvHeads: 8, ff: 2816, vocab: 'llama-spm', type: 'f32', seed: 1 }), src);
    const out = join(dir, 'q.gguf');
    writeFileSync(out, 'the previous model');
    const run = cliAsync(['quantize', src, out, 'Q4_0', '-t', '1'], { timeoutMs: 120_000 });
    // SIGINT once the writer's temporary file exists
    const tmpOf = () => readdirSync(dir).filter((f) => f.startsWith('q.gguf.') && f.endsWith('.tmp'));
    const end = Date.now() + 60_000;
    while (tmpOf().length === 0 && run.child.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
    expect(tmpOf().length, 'the temporary output never appeared').toBe(1);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/llama4: interrupted/);
    expect(tmpOf()).toEqual([]);
    expect(readFileSync(out, 'utf8')).toBe('the previous model');
    noStack(r.stderr);
    rmSync(src);
  });
});

describe('a closed stdout', () => {
  it('`run | head -c 100`: stops at once, nothing on stderr, exit 141', async () => {
    const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'llama4.js'), 'run', '-m', SMOL, '-p', 'Tell me a long story.', '-n', '5000', '--ignore-eos', '-t', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let got = 0;
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let closedAt = 0;
    child.stdout.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= 100 && !closedAt) {
        closedAt = Date.now();
        child.stdout.destroy(); // as head does after its 100 bytes
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
    clearTimeout(timer);
    expect(signal).toBeNull();
    expect(code, stderr).toBe(141);
    expect(stderr).toBe('');
    // 5000 tokens would take a minute: the generation stopped when the pipe closed
    expect(Date.now() - closedAt).toBeLessThan(5_000);
  });
});

describe('limits', () => {
  it('-c above the training context warns', () => {
    const r = cli(['run', '-m', SMOL, '-p', 'hi', '-n', '1', '-c', '9000', '-t', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: the context \(-c 9000\) is larger than the model's training context \(8192 tokens\)/);
    const fits = cli(['run', '-m', SMOL, '-p', 'hi', '-n', '1', '-c', '8192', '-t', '2']);
    expect(fits.stderr).not.toMatch(/warning/);
  });

  it('a prompt longer than the context is refused with the numbers; a context beyond the memory fails before allocating', () => {
    const long = cli(['run', '-m', STORIES, '-p', 'one two three four five six seven eight nine ten eleven twelve', '-c', '8']);
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/the prompt is \d+ tokens, the context only 8 \(raise -c\)/);
    const huge = cli(['run', '-m', SMOL, '-p', 'hi', '-c', '16000000']);
    expect(huge.code).toBe(1);
    expect(huge.stderr).toMatch(/a context of 16000000 tokens needs [\d.]+ GiB \(KV cache and buffers\) but only [\d.]+ GiB of memory is available; lower -c/);
  });
});
