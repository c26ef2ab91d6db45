// Exact mode (self-speculative decoding): greedy output token-identical to dense decoding, on several
// models and prompts, whatever the drafts' quality.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDepthGates } from '../../src/engine/depth/adapter.js';
import { generateExact, newExactStats } from '../../src/engine/depth/speculative.js';
import { generate } from '../../src/engine/generate.js';
import { Model } from '../../src/engine/model.js';
import { model, rng } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'llama4-exact-'));

async function randomGates(m: Model, seed: number, scale: number) {
  const r = rng(seed);
  const L = m.info.nLayer, E = m.info.nEmbd;
  const gates = [];
  for (let l = 1; l < L - 1; l++) gates.push({ layer: l, w: Float32Array.from({ length: E }, () => (r() - 0.5) * scale), b: 0.5 });
  const path = join(dir, `g${seed}-${L}.gguf`);
  await writeDepthGates(path, { arch: m.info.arch, baseModel: 'test', nLayer: L, gates, threshold: 0.5 });
  return m.loadDepthGates(path);
}

async function dense(m: Model, prompt: number[], n: number) {
  const ctx = m.createContext({ nCtx: 256 });
  const out: number[] = [];
  for await (const p of generate(ctx, prompt, { temp: 0, maxTokens: n })) if (p.token >= 0) out.push(p.token);
  return out;
}

async function exact(m: Model, prompt: number[], n: number, seed: number, scale: number) {
  const ctx = m.createContext({ nCtx: 256 });
  ctx.setDepthPolicy({ gates: await randomGates(m, seed, scale) });
  const out: number[] = [];
  const st = newExactStats();
  for await (const p of generateExact(ctx, prompt, { maxTokens: n }, st)) if (p.token >= 0) out.push(p.token);
  return { out, st };
}

const CASES: [string, string[]][] = [
  ['stories260K.gguf', ['Once upon a time', 'The little dog']],
  ['synthetic/stories260K-moe4.synthetic.gguf', ['Once upon a time']],
  ['synthetic/tiny-llama4-q8_0.synthetic.gguf', ['Once upon a time']],
  ['real/SmolLM2-135M-Instruct.Q4_1.gguf', ['The capital of France is', 'def fibonacci(n):']],
];

describe('exact mode (self-speculative decoding)', () => {
  for (const [file, prompts] of CASES) {
    it(`greedy output equals dense decoding: ${file}`, async () => {
      const m = await Model.load(model(file));
      for (const [i, text] of prompts.entries()) {
        const prompt = m.tokenizer.encode(text, { addSpecial: true, parseSpecial: true });
        const want = await dense(m, prompt, 48);
        // mild gates (most drafts accepted) and harsh ones (many rejected): both must be exact
        for (const scale of [0.05, 2]) {
          const { out, st } = await exact(m, prompt, 48, 100 + i, scale);
          expect(out, `${text} (gate scale ${scale})`).toEqual(want);
          expect(st.verifyPasses + st.denseTokens).toBeGreaterThan(0);
          expect(st.accepted).toBeLessThanOrEqual(st.drafted);
        }
      }
    });
  }
});
