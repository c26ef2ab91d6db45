// Calibration: deterministic for a seed, writes a loadable adapter naming the base model, holds the
// threshold out of the calibration text, and never modifies the model file.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrate } from '../../src/engine/depth/calibrate.js';
import { generate } from '../../src/engine/generate.js';
import { Model } from '../../src/engine/model.js';
import { addon } from '../../src/native/addon.js';
import { model } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'llama4-calib-'));
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

async function storyText(m: Model): Promise<string> {
  let text = '';
  for (let seed = 1; seed <= 12; seed++) {
    const ctx = m.createContext({ nCtx: 512 });
    let s = 'Once upon a time';
    for await (const p of generate(ctx, m.tokenizer.encode(s, { addSpecial: true }), { temp: 1, seed, maxTokens: 300 })) s += p.text;
    text += s + '\n';
  }
  return text;
}

describe('llama4 calibrate', () => {
  it('is deterministic for a seed and writes an adapter the engine loads', async () => {
    const path = model('stories260K.gguf');
    const before = sha(path);
    const m = await Model.load(path);
    const text = await storyText(m);
    const opts = { targetSkip: 0.2, nCtx: 128, calibChunks: 4, heldoutChunks: 2, maxRows: 256, iterations: 60, seed: 5 };
    const a = join(dir, 'a.gguf'), b = join(dir, 'b.gguf'), c = join(dir, 'c.gguf');
    const ra = await calibrate(m, text, a, opts);
    await calibrate(m, text, b, opts);
    await calibrate(m, text, c, { ...opts, seed: 6 });
    // same seed, same bytes (the report's timing is the only field that may differ: compare tensors)
    const ha = await addon().readGguf(a), hb = await addon().readGguf(b), hc = await addon().readGguf(c);
    const tensors = (h: typeof ha, p: string) => h.tensors.map((t) => readFileSync(p).subarray(t.offset, t.offset + t.bytes).toString('hex')).join();
    expect(tensors(hb, b)).toBe(tensors(ha, a));
    expect(tensors(hc, c)).not.toBe(tensors(ha, a));
    const md = new Map(ha.metadata.map((kv) => [kv.key, kv.value]));
    expect(md.get('depth_gate.base_model')).toBe('stories260K.gguf');
    expect(md.get('depth_gate.threshold')).toBeCloseTo(ra.chosen.threshold, 6);
    expect(ra.chosen.skipRate).toBeLessThanOrEqual(0.2 + 1e-9);
    expect(ra.tokensHeldout).toBe(2 * 128);
    // gates for blocks 1..3 (first and last always run), loadable by the engine
    const g = await m.loadDepthGates(a);
    expect(g.info().layers.map((l) => l.present)).toEqual([false, true, true, true, false]);
    // the base model is never modified
    expect(sha(path)).toBe(before);
    expect(statSync(path).size).toBe(1185376);
  });

  it('refuses bad options clearly', async () => {
    const m = await Model.load(model('stories260K.gguf'));
    await expect(calibrate(m, 'Once upon a time', join(dir, 'x.gguf'), { targetSkip: 0.2, klBudget: 0.1 })).rejects.toThrow(/either --target-skip or --kl-budget/);
    await expect(calibrate(m, 'Once upon a time', join(dir, 'x.gguf'), { targetSkip: 1.5 })).rejects.toThrow(/--target-skip must be in \(0, 1\)/);
    await expect(calibrate(m, 'Once upon a time', join(dir, 'x.gguf'), { nCtx: 128 })).rejects.toThrow(/calibration needs at least 3/);
  });
});
