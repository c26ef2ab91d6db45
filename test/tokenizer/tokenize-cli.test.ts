// `llama4 tokenize`, driven through commander as the CLI entry does.
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerTokenize } from '../../src/cli/tokenize.js';
import { MODELS, vocabPath } from './fixtures.js';

const SMOLLM = `${MODELS}/real/SmolLM2-135M-Instruct.Q4_1.gguf`;

async function run(...args: string[]): Promise<string> {
  const program = new Command();
  program.exitOverride();
  registerTokenize(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  try {
    await program.parseAsync(['node', 'llama4', 'tokenize', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('llama4 tokenize', () => {
  it('prints a JSON array with --json (SmolLM2, no BOS)', async () => {
    const out = await run('-m', SMOLLM, '-p', 'The capital of France is Paris. The capital of Germany is', '--json');
    expect(JSON.parse(out)).toEqual([504, 3575, 282, 4649, 314, 7042, 30, 378, 3575, 282, 4521, 314]);
  });

  it('prints each id with its piece, specials parsed by default', async () => {
    const out = await run('-m', vocabPath('llama4-derived'), '-p', '<|header_start|>user<|header_end|>');
    expect(out.split('\n')).toEqual([
      '200000 -> \'<|begin_of_text|>\'',
      '200005 -> \'<|header_start|>\'',
      expect.stringMatching(/^ +\d+ -> 'user'$/),
      '200006 -> \'<|header_end|>\'',
      '',
    ]);
  });

  it('--no-bos and --no-parse-special', async () => {
    const ids = JSON.parse(await run('-m', vocabPath('llama4-derived'), '-p', '<|eot|>', '--no-bos', '--no-parse-special', '--json')) as number[];
    expect(ids[0]).not.toBe(200000);
    expect(ids).not.toContain(200008);
    expect(ids.length).toBeGreaterThan(1);
  });

  it('shows byte pieces that are not whole characters as escapes', async () => {
    const out = await run('-m', vocabPath('llama-spm'), '-p', '🦙', '--no-bos');
    expect(out).toContain("-> '\\xf0'");
  });

  it('fails clearly on a missing model and a missing prompt', async () => {
    await expect(run('-m', '/no/such.gguf', '-p', 'x')).rejects.toThrow(/model file not found: \/no\/such.gguf/);
    await expect(run('-m', SMOLLM)).rejects.toThrow(/no prompt: give -p TEXT or -f FILE/);
  });
});
