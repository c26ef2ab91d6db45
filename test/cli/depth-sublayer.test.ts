// --drop-attn / --drop-ffn on the real CLI (bin/llama4.js over dist/): malformed lists and out-of-range
// automatic fractions are usage errors (exit code 1, nothing run), and perplexity reports the attention
// and FFN skip rates of a static sublayer drop.
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { model } from '../helpers/shared.js';

const STORIES = model('stories260K.gguf');
const TEXT = model('text/python-reference.txt');
const PPL = ['perplexity', '-m', STORIES, '-f', TEXT, '-c', '128', '--chunks', '2', '-t', '1'];

describe('llama4 --drop-attn / --drop-ffn', () => {
  it('rejects a malformed list and an automatic fraction outside [0, 1) as usage errors', () => {
    for (const [flag, value, msg] of [
      ['--drop-attn', 'x', /--drop-attn.*'x'.*invalid.*comma-separated list of block indices, auto or auto:R/],
      ['--drop-attn', 'auto:1.5', /--drop-attn.*'auto:1\.5'.*invalid.*auto fraction must be in \[0, 1\), got 1\.5/],
      ['--drop-ffn', '1,,x', /--drop-ffn.*invalid.*comma-separated list/],
      ['--drop-ffn', 'auto:', /--drop-ffn.*'auto:'.*invalid.*not auto:R with R a fraction/],
    ] as const) {
      const r = cli([...PPL, flag, value]);
      expect(r.code, `${flag} ${value}: ${r.stderr}`).toBe(2);
      expect(r.stderr, `${flag} ${value}`).toMatch(msg);
      expect(r.stdout, `${flag} ${value}`).toBe(''); // refused before anything ran
      expect(r.stderr).not.toMatch(/calculating perplexity/);
    }
    // a block the model does not have (stories260K: blocks 0..4)
    const r = cli([...PPL, '--drop-attn', '7']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--drop-attn: block 7 does not exist \(0\.\.4\)/);
  });

  it('perplexity --drop-attn 1 reports the sublayer skip rates and the static drop', () => {
    const r = cli([...PPL, '--drop-attn', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/perplexity: static drop of attention of blocks 1\n/);
    // inner blocks 1..3: one attention of three skipped for every token, no FFN
    expect(r.stdout).toMatch(/llama4: sublayers skipped \(blocks 1\.\.3\): attention 33\.3%, FFN 0\.0%\n/);
    expect(r.stdout).toMatch(/Final estimate: PPL = [\d.]+/);
    // the dropped attention layer has no KV: 4 of 5 layers' caches (stories260K: 4 KV heads x 8, F16 K and V)
    expect(r.stdout).toMatch(new RegExp(`KV F16/F16 [\\d.]+ KiB \\(${4 * 128 * 4 * 8 * 2 * 2} bytes\\)`));
    const f = cli([...PPL, '--drop-ffn', '2,3']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(/static drop of FFN of blocks 2,3/);
    expect(f.stdout).toMatch(/sublayers skipped \(blocks 1\.\.3\): attention 0\.0%, FFN 66\.7%/);
    expect(f.stdout).toMatch(new RegExp(`\\(${5 * 128 * 4 * 8 * 2 * 2} bytes\\)`));
    // auto:R ranks the attention sublayers by influence measured on the text: round(0.4 * 5) = 2 dropped
    const a = cli([...PPL, '--drop-attn', 'auto:0.4']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/static drop of attention of blocks [1-3],[1-3] \(influence from the first tokens of the evaluated text\)/);
    expect(a.stdout).toMatch(/sublayers skipped \(blocks 1\.\.3\): attention 66\.7%, FFN 0\.0%/);
  });
});
