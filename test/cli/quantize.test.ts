// `llama4 quantize` end to end: every type on tiny-llama-256 (real K-quant paths) and stories260K (a trained
// model whose 64-wide rows exercise llama.cpp's fallbacks), loaded back by our engine and compared with
// the unquantized model's logits. The command is registered on a fresh commander program here (the lead
// wires it into src/cli/index.ts).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/engine/model.js';
import { Metadata, key } from '../../src/gguf/metadata.js';
import { addon } from '../../src/native/addon.js';
import { registerQuantize } from '../../src/cli/quantize.js';
import { model } from '../helpers/shared.js';

const TINY = model('synthetic/tiny-llama-256.synthetic.gguf');
const STORIES = model('stories260K.gguf');
const dir = mkdtempSync(join(tmpdir(), 'llama4-quantize-'));

async function cli(args: string[]): Promise<{ out: string; err?: Error }> {
  const program = new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  registerQuantize(program);
  let out = '';
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'llama4', 'quantize', ...args]);
    return { out };
  } catch (e) {
    return { out, err: e as Error };
  } finally {
    process.stdout.write = write;
  }
}

async function allLogits(path: string, tokens: number[]): Promise<Float32Array> {
  const ctx = (await Model.load(path)).createContext({ nCtx: 64, nThreads: 1 });
  await ctx.evaluate(tokens, { allLogits: true });
  return Float32Array.from(ctx.native.allLogits());
}

function compare(ref: Float32Array, got: Float32Array, nVocab: number) {
  let e = 0, s = 0, agree = 0;
  const rows = ref.length / nVocab;
  for (let r = 0; r < rows; r++) {
    let a = 0, b = 0;
    for (let i = 0; i < nVocab; i++) {
      const k = r * nVocab + i;
      e += (got[k] - ref[k]) ** 2;
      s += ref[k] ** 2;
      if (got[k] > got[r * nVocab + a]) a = i;
      if (ref[k] > ref[r * nVocab + b]) b = i;
    }
    if (a === b) agree++;
  }
  return { rel: Math.sqrt(e / s), agree: agree / rows };
}

// [type, general.file_type, max relative logit error on tiny-llama-256 (random weights, so errors are
// large; measured ~2/3 of these), min top-1 agreement on stories260K (35 positions; measured >= 33/35)]
const TYPES: Array<[string, number, number]> = [
  ['Q4_0', 2, 0.65], ['Q4_1', 3, 0.6], ['Q5_0', 8, 0.35], ['Q5_1', 9, 0.33], ['Q8_0', 7, 0.07],
  ['Q2_K', 10, 1.5], ['Q3_K', 11, 1.0], ['Q4_K', 14, 0.55], ['Q4_K_M', 15, 0.55], ['Q5_K', 16, 0.3],
  ['Q5_K_M', 17, 0.3], ['Q6_K', 18, 0.17], ['IQ4_NL', 25, 0.55],
];

describe('llama4 quantize', () => {
  let tinyRef: Float32Array, storiesRef: Float32Array, tinyTokens: number[], storiesTokens: number[];
  let tinyVocab: number, storiesVocab: number;
  beforeAll(async () => {
    const text = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park';
    const t = await Model.load(TINY);
    tinyTokens = t.tokenizer.encode(text, { addSpecial: true });
    tinyVocab = t.info.nVocab;
    tinyRef = await allLogits(TINY, tinyTokens);
    const s = await Model.load(STORIES);
    storiesTokens = s.tokenizer.encode(text, { addSpecial: true });
    storiesVocab = s.info.nVocab;
    storiesRef = await allLogits(STORIES, storiesTokens);
  });

  it.each(TYPES)('%s: writes a loadable file whose logits stay close to the F32 model', async (type, ftype, maxRel) => {
    const out = join(dir, `tiny-${type}.gguf`);
    const r = await cli([TINY, out, type, '-t', '2']);
    expect(r.err).toBeUndefined();
    expect(r.out).toMatch(new RegExp(`as ${type} \\(general.file_type ${ftype}\\)`));
    expect(r.out).toMatch(/size: +5\.50 MiB \(32\.00 bpw\) -> [\d.]+ [KM]iB \([\d.]+ bpw\)/);
    const md = new Metadata(await addon().readGguf(out));
    expect(md.number(key('GENERAL_FILE_TYPE'))).toBe(ftype);
    expect(md.number(key('GENERAL_QUANT_VERSION'))).toBe(2);
    const c = compare(tinyRef, await allLogits(out, tinyTokens), tinyVocab);
    expect(c.rel).toBeLessThan(maxRel);
    expect(c.rel).toBeGreaterThan(0);

    const sOut = join(dir, `stories-${type}.gguf`);
    const s = await cli([STORIES, sOut, type, '-t', '1']);
    expect(s.err).toBeUndefined();
    const cs = compare(storiesRef, await allLogits(sOut, storiesTokens), storiesVocab);
    expect(cs.agree).toBeGreaterThanOrEqual(0.9);
    expect(cs.rel).toBeLessThan(0.2);
  });

  it('stories260K: the 172-wide ffn_down falls back to F16 (as llama-quantize does) and the summary says so', async () => {
    const r = await cli([STORIES, join(dir, 'fb.gguf'), 'Q4_0', '--stats']);
    expect(r.err).toBeUndefined();
    expect(r.out).toMatch(/fallback: 6 tensor\(s\).*blk\.0\.ffn_down\.weight \(172 cols\) Q4_0 -> F16/);
    expect(r.out).toMatch(/blk\.0\.attn_q\.weight +64x64 +F32->Q4_0 +[\d.]+e-\d+ +[\d.]+e-\d+/);
  });

  it('--json reports per-tensor types and sizes', async () => {
    const r = await cli([TINY, join(dir, 'j.gguf'), 'q6_k', '--json', '-t', '1']);
    const j = JSON.parse(r.out);
    expect(j.type).toBe('Q6_K');
    expect(j.tensors.find((t: { name: string }) => t.name === 'blk.0.attn_norm.weight')).toMatchObject({ from: 'F32', to: 'F32' });
    expect(j.tensors.find((t: { name: string }) => t.name === 'blk.0.ffn_up.weight')).toMatchObject({ from: 'F32', to: 'Q6_K' });
    expect(j.bytesOut).toBeLessThan(j.bytesIn / 4);
  });

  it('refuses a bad TYPE, a quantized input and a missing file with one clear error', async () => {
    const out = join(dir, 'never.gguf');
    const bad = await cli([TINY, out, 'Q4_K_X']);
    expect(bad.err?.message).toMatch(/unknown quantization type 'Q4_K_X'; valid types: Q4_0, Q4_1, .*Q4_K_M.*IQ4_NL/);
    const quantized = await cli([model('synthetic/tiny-llama-256-q4_k_m.synthetic.gguf'), out, 'Q4_0']);
    expect(quantized.err?.message).toMatch(/is already quantized \(tensor .* is Q[46]_K\); requantizing is not supported/);
    const missing = await cli([join(dir, 'nope.gguf'), out, 'Q4_0']);
    expect(missing.err?.message).toMatch(/cannot read '.*nope\.gguf'/);
    const same = await cli([TINY, TINY, 'Q4_0']);
    expect(same.err?.message).toMatch(/output file must differ/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(out + '.tmp')).toBe(false);
  });
});
