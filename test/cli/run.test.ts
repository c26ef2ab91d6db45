import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { model } from '../helpers/shared.js';

const STORIES = model('stories260K.gguf');
const golden = JSON.parse(readFileSync(model('goldens/stories260K.golden.json'), 'utf8'));

describe('llama4 run', () => {
  it('streams only the generated text to stdout and a timing summary to stderr', () => {
    const r = cli(['run', '-m', STORIES, '-p', 'Once upon a time', '--temp', '0', '-n', '64', '-t', '1', '-ctk', 'f32', '-ctv', 'f32']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(golden.greedy_text);
    expect(r.stderr).toMatch(/prompt eval: 5 tokens in [\d.]+ ms \([\d.]+ t\/s\)/);
    expect(r.stderr).toMatch(/generation: +64 tokens in [\d.]+ ms \([\d.]+ t\/s\), stopped by length/);
  });

  it('--echo prints the prompt first; -f reads it from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llama4-run-'));
    const f = join(dir, 'prompt.txt');
    writeFileSync(f, 'Once upon a time');
    const r = cli(['run', '-m', STORIES, '-f', f, '--temp', '0', '-n', '8', '-t', '1', '--echo']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('Once upon a time, there was a little girl')).toBe(true);
  });

  it('sampling is reproducible for a seed and differs across seeds', () => {
    const args = ['run', '-m', STORIES, '-p', 'Once upon a time', '-n', '40', '-t', '1', '--temp', '1'];
    const a = cli([...args, '-s', '42']).stdout;
    const b = cli([...args, '-s', '42']).stdout;
    const c = cli([...args, '-s', '7']).stdout;
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a.length).toBeGreaterThan(20);
  });

  it('-n -1 stops at the end-of-generation token', () => {
    const r = cli(['run', '-m', STORIES, '-p', 'Once upon a time', '-n', '-1', '-t', '1', '-s', '3', '-c', '512']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/stopped by (eog|context)/);
  });

  it('bad input gives one clear error and exit code 1 (2 for a usage error)', () => {
    const missing = cli(['run', '-m', '/nonexistent.gguf', '-p', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/(not found|cannot open).*\/nonexistent.gguf/);
    const noPrompt = cli(['run', '-m', STORIES]);
    expect(noPrompt.code).toBe(2);
    expect(noPrompt.stderr).toMatch(/no prompt/);
    const badTemp = cli(['run', '-m', STORIES, '-p', 'x', '--temp', 'hot']);
    expect(badTemp.code).toBe(2);
    expect(badTemp.stderr).toMatch(/--temp.*not a number/);
    const badCache = cli(['run', '-m', STORIES, '-p', 'x', '-ctk', 'q4']);
    expect(badCache.code).toBe(2);
    expect(badCache.stderr).toMatch(/Allowed choices are f16, f32/);
    const tooLong = cli(['run', '-m', STORIES, '-p', 'Once upon a time', '-c', '3']);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toMatch(/prompt is 5 tokens, the context only 3/);
  });

  it('works on the real model SmolLM2 and answers sensibly', () => {
    const r = cli(['run', '-m', model('real/SmolLM2-135M-Instruct.Q4_1.gguf'), '-p', 'The capital of France is Paris. The capital of Germany is', '--temp', '0', '-n', '3', '-t', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ Berlin/);
  });
});
