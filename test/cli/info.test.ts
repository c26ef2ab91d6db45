import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInfo } from '../../src/cli/info.js';
import { cli } from '../helpers/cli.js';
import { allGgufFiles, model } from '../helpers/shared.js';

describe('llama4 info', () => {
  for (const f of allGgufFiles()) {
    it(`works on ${f.split('/models/')[1]}`, async () => {
      const text = await runInfo(f, {});
      expect(text).toMatch(/^architecture: +\S+/m);
      expect(text).toMatch(/^totals: /m);
      const json = JSON.parse(await runInfo(f, { json: true }));
      expect(json.file.version).toBe(3);
      expect(json.totals.fileSize).toBeGreaterThan(0);
    });
  }

  it('summarizes SmolLM2: hyper-parameters, tokenizer, tensors and totals', async () => {
    const j = JSON.parse(await runInfo(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'), { json: true }));
    expect(j.architecture).toBe('llama');
    expect(j.hparams).toMatchObject({ blockCount: 30, embeddingLength: 576, contextLength: 8192, headDimK: 64, ropeFreqBase: 100000 });
    expect(j.hparams.headCount[0]).toBe(9);
    expect(j.hparams.headCountKv[0]).toBe(3);
    expect(j.tokenizer).toMatchObject({ model: 'gpt2', pre: 'smollm', tokens: 49152, merges: 48900, addBos: false, chatTemplate: true });
    expect(j.tensors).toHaveLength(272);
    expect(j.totals.types).toEqual({ Q8_0: 1, F32: 61, Q4_1: 210 });
    expect(j.totals.parameters).toBe(134515008);
    expect(j.totals.bitsPerWeight).toBeGreaterThan(4.5);
    expect(j.totals.bitsPerWeight).toBeLessThan(6.5);
  });

  it('shows the Llama 4 schedule', async () => {
    const text = await runInfo(model('synthetic/tiny-llama4-q8_0.synthetic.gguf'), {});
    expect(text).toMatch(/experts: +4, 1 used per token, expert FFN 64/);
    expect(text).toMatch(/MoE layers: +1,3 \(interleave step 2\)/);
    expect(text).toMatch(/NoPE layers: +3/);
    expect(text).toMatch(/chunked attn: +8192 tokens on layers 0,1,2/);
  });

  it('--all dumps every key with long arrays shortened unless asked', async () => {
    const f = model('vocab/ggml-vocab-gpt-2.gguf');
    const short = await runInfo(f, { all: true });
    expect(short).toMatch(/tokenizer\.ggml\.tokens \(str\[50257\]\) = \["!", .*… \(50257 total\)\]/);
    const full = await runInfo(f, { all: true, fullArrays: true });
    expect(full.length).toBeGreaterThan(short.length * 10);
    const j = JSON.parse(await runInfo(f, { all: true, json: true }));
    expect(j.metadata['tokenizer.ggml.tokens'].count).toBe(50257);
    expect(j.metadata['tokenizer.ggml.tokens'].values).toHaveLength(8);
  });

  it('the binary lists the commands and exits 1 with one clear line on a broken file (2 on a bad flag)', () => {
    const help = cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/info \[options\] \[model\]/);
    const dir = mkdtempSync(join(tmpdir(), 'llama4-info-'));
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, Buffer.from('GGUF\x03\x00\x00\x00garbage'));
    const r = cli(['info', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^llama4: invalid GGUF '.*bad.gguf': .*at byte offset \d+/);
    const missing = cli(['info', join(dir, 'nope.gguf')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot open .*nope.gguf': No such file or directory/);
    const flag = cli(['info', '--bogus', bad]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--bogus'/);
  });
});
