// Perplexity, llama-perplexity's method: the scoring and error math on hand-made logits, and agreement
// with perplexities computed from llama.cpp's own logits.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/engine/model.js';
import { NllAccumulator, perplexity, planChunks, scoreChunk, tokenNll } from '../../src/engine/perplexity.js';
import { model } from '../helpers/shared.js';

/**
 * llama.cpp reference perplexities of stories260K on STORY (below), llama.cpp v0.5.0 (node-llama-cpp 3.22.1,
 * CPU, zen4 backend), flash attention off, measured 2026-11-21 with a scratch copy of
 * shared/tools/llamacpp-oracle/ppl.mjs changed to llama-perplexity's exact method (tokens =
 * tokenize(text, add_special=true), chunk[0] = BOS, logits at positions C/2 .. C-2 scored):
 *   node ppl-exact.mjs /work/shared/models/stories260K.gguf story.txt C 100 KV 1
 * (story.txt = STORY; the tokenization, 1551 tokens, matched ours id for id).
 */
const LLAMACPP_STORIES = {
  c128_f32: { chunks: 12, scored: 756, ppl: 3.385972, err: 0.191025, running: [2.725219, 2.797941, 2.766794, 2.701416, 3.036384, 3.050643, 3.177006, 3.099168, 3.195183, 3.284562, 3.387264, 3.385972] },
  c128_f16: { chunks: 12, scored: 756, ppl: 3.386278, err: 0.191047 },
  c256_f32: { chunks: 6, scored: 762, ppl: 3.309772, err: 0.188136 },
  c256_f16: { chunks: 6, scored: 762, ppl: 3.309577, err: 0.188114 },
};

/**
 * llama.cpp reference perplexities of SmolLM2-135M-Instruct Q4_1 on shared/models/text/python-reference.txt
 * (61716 tokens, no BOS: the vocab adds none; ours match id for id), -c 512, flash attention off, same
 * llama.cpp build and script as above, 2 threads, 2026-11-21:
 *   node ppl-exact.mjs /work/shared/models/real/SmolLM2-135M-Instruct.Q4_1.gguf python-reference.txt 512 8 F16 2
 *   node ppl-exact.mjs ... 512 8 F32 2
 * `running` is the perplexity after each chunk (running[1] = the 2-chunk result).
 */
const LLAMACPP_SMOLLM2 = {
  c512_f16: { ppl: 9.998817, err: 0.567234, running: [12.658344, 8.510537, 8.385122, 8.244567, 9.39139, 9.955182, 9.625683, 9.998817] },
  c512_f32: { ppl: 10.022723, err: 0.56797, running: [12.713034, 8.548361, 8.404963, 8.276068, 9.42518, 9.978442, 9.656857, 10.022723] },
};

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('perplexity math', () => {
  it('tokenNll is -log softmax in float64 and shift-invariant', () => {
    const logits = [0, Math.log(2), Math.log(3), Math.log(4)]; // p = 1/10, 2/10, 3/10, 4/10
    for (let t = 0; t < 4; t++) expect(tokenNll(logits, 0, 4, t)).toBeCloseTo(-Math.log((t + 1) / 10), 14);
    const shifted = logits.map((v) => v - 123.5);
    for (let t = 0; t < 4; t++) expect(tokenNll(shifted, 0, 4, t)).toBeCloseTo(-Math.log((t + 1) / 10), 12);
    // float32 logits are widened, not summed in float32
    const f32 = Float32Array.from(logits);
    const exact = -Math.log(f32[2] === 0 ? 1 : Math.exp(f32[2]) / f32.reduce((a, v) => a + Math.exp(v), 0));
    expect(tokenNll(f32, 0, 4, 2)).toBeCloseTo(exact, 14);
    expect(tokenNll([0, 0, 0, 0], 0, 4, 2)).toBeCloseTo(Math.log(4), 14);
    // large logits do not overflow; the offset selects the row
    const rows = [9, 9, 9, 1000, 1000 - Math.log(3), 1000];
    expect(tokenNll(rows, 3, 3, 1)).toBeCloseTo(Math.log(3) + Math.log(1 + 1 / 3 + 1), 10);
    // a certain token costs nothing; an impossible one is infinite
    expect(tokenNll([0, -Infinity], 0, 2, 0)).toBe(0);
    expect(tokenNll([0, -Infinity], 0, 2, 1)).toBe(Infinity);
    expect(() => tokenNll([0, 0], 0, 2, 2)).toThrow(/outside the vocabulary/);
  });

  it('NllAccumulator gives exp(mean) and llama-perplexity\'s error', () => {
    const acc = new NllAccumulator();
    for (const v of [1, 2, 3]) acc.add(v);
    expect(acc.count).toBe(3);
    expect(acc.mean).toBe(2);
    expect(acc.ppl).toBeCloseTo(Math.exp(2), 12);
    // E[x^2] - E[x]^2 = 14/3 - 4 = 2/3; error = ppl * sqrt((2/3) / (3 - 1))
    expect(acc.error).toBeCloseTo(Math.exp(2) * Math.sqrt(1 / 3), 12);
    const flat = new NllAccumulator();
    flat.add(0.5);
    flat.add(0.5);
    expect(flat.ppl).toBeCloseTo(Math.exp(0.5), 14);
    expect(flat.error).toBeNaN(); // zero variance: llama-perplexity prints no error either
  });

  it('scoreChunk scores only positions n/2 .. n-2, each predicting the next token', () => {
    const V = 3;
    const chunk = [0, 1, 2, 0, 1, 2]; // n = 6: rows 3 and 4 predict chunk[4] = 1 and chunk[5] = 2
    const logits = new Float32Array(chunk.length * V).fill(NaN); // unscored rows must not be read
    logits.set([0, 0, 0], 3 * V); // uniform: -log(1/3)
    logits.set([0, 0, Math.log(2)], 4 * V); // p(2) = 2/4
    const acc = new NllAccumulator();
    const own = scoreChunk(logits, V, chunk, acc);
    expect(acc.count).toBe(2);
    expect(own.count).toBe(2);
    expect(acc.sum).toBeCloseTo(Math.log(3) + Math.log(2), 6);
    expect(own.ppl).toBeCloseTo(Math.sqrt(6), 6);
    // an odd chunk size: n = 5 scores rows 2 and 3 (n - n/2 - 1 = 2)
    const acc5 = new NllAccumulator();
    const l5 = new Float32Array(5 * V).fill(NaN);
    l5.set([0, 0, 0, 0, 0, 0], 2 * V);
    scoreChunk(l5, V, [0, 0, 0, 1, 2], acc5);
    expect(acc5.count).toBe(2);
    expect(acc5.ppl).toBeCloseTo(3, 6);
    expect(() => scoreChunk(new Float32Array(5), V, chunk, acc)).toThrow(/expected 6 rows/);
  });

  it('planChunks keeps whole chunks only, puts BOS first and honours the chunk limit', () => {
    const toks = Array.from({ length: 11 }, (_, i) => 100 + i);
    expect(planChunks(toks, 4, undefined, 1)).toEqual([[1, 101, 102, 103], [1, 105, 106, 107]]);
    expect(planChunks(toks, 4, undefined, null)).toEqual([[100, 101, 102, 103], [104, 105, 106, 107]]);
    expect(planChunks(toks, 4, 1, 1)).toEqual([[1, 101, 102, 103]]);
    expect(planChunks(toks, 4, -1, 1)).toHaveLength(2);
    expect(planChunks(toks, 4, 9, 1)).toHaveLength(2);
  });
});

describe('perplexity against llama.cpp', () => {
  it('stories260K, -c 128, F32 KV: every running value within 0.1% of llama.cpp', async () => {
    const m = await Model.load(model('stories260K.gguf'));
    const seen: number[] = [];
    let planned = 0;
    const r = await perplexity(m, STORY, {
      nCtx: 128,
      context: { nThreads: 1, typeK: 'f32', typeV: 'f32' },
      evaluation: {},
      onStart: (p) => (planned = p.nChunks),
      onChunk: (c) => seen.push(c.ppl),
    });
    const ref = LLAMACPP_STORIES.c128_f32;
    expect(r.nTokens).toBe(1551);
    expect(planned).toBe(ref.chunks);
    expect(r.nChunks).toBe(ref.chunks);
    expect(r.nScored).toBe(ref.scored);
    expect(r.nEvaluated).toBe(ref.chunks * 128);
    expect(relDiff(r.ppl, ref.ppl)).toBeLessThan(1e-3);
    expect(relDiff(r.error, ref.err)).toBeLessThan(1e-2);
    expect(seen).toEqual(r.chunkPpl);
    r.chunkPpl.forEach((p, i) => expect(relDiff(p, ref.running[i]), `chunk ${i + 1}`).toBeLessThan(1e-3));
    expect(r.addBos).toBe(true);
    expect(r.nLayer).toBe(m.info.nLayer);
    expect(r.blocksPerToken).toBe(m.info.nLayer); // dense
    expect(r.kvBytes).toBeGreaterThan(0);
    expect(r.typeK).toMatch(/f32/i);
    expect(r.tokensPerSecond).toBeGreaterThan(0);
  });

  it('stories260K: F16 KV and -c 256 within 0.1%, --chunks limits the run', async () => {
    const m = await Model.load(model('stories260K.gguf'));
    for (const [c, kv, ref] of [
      [128, 'f16', LLAMACPP_STORIES.c128_f16],
      [256, 'f32', LLAMACPP_STORIES.c256_f32],
      [256, 'f16', LLAMACPP_STORIES.c256_f16],
    ] as const) {
      const r = await perplexity(m, STORY, { nCtx: c, context: { nThreads: 1, nBatch: 64, typeK: kv, typeV: kv } });
      expect(r.nChunks).toBe(ref.chunks);
      expect(r.nScored).toBe(ref.scored);
      expect(relDiff(r.ppl, ref.ppl), `-c ${c} ${kv}`).toBeLessThan(1e-3);
      expect(relDiff(r.error, ref.err), `-c ${c} ${kv}`).toBeLessThan(1e-2);
    }
    const two = await perplexity(m, STORY, { nCtx: 128, maxChunks: 2, context: { nThreads: 1, typeK: 'f32', typeV: 'f32' } });
    expect(two.nChunks).toBe(2);
    expect(two.nScored).toBe(2 * 63);
    expect(relDiff(two.ppl, LLAMACPP_STORIES.c128_f32.running[1])).toBeLessThan(1e-3);
  });

  // The reference numbers come from llama.cpp's zen4 CPU variant (this host), whose float order differs
  // from the haswell variant our kernels follow bit for bit; on this model that moves single chunks by up
  // to ~0.3% while the 8-chunk estimate agrees closely. Measured 2026-11-21 with the llama.cpp-order
  // kernels: 8 chunks F16 KV 9.9995 vs 9.9988 (+0.007%), F32 KV 10.0186 vs 10.0227 (-0.04%);
  // 2 chunks F16 8.5370 vs 8.5105 (+0.31%). The CI-sized check below runs 2 chunks.
  it('SmolLM2 Q4_1, 2 chunks of 512, F16 KV: close to llama.cpp', async () => {
    const m = await Model.load(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'));
    const r = await perplexity(m, readFileSync(model('text/python-reference.txt'), 'utf8'), {
      nCtx: 512,
      maxChunks: 2,
      context: { nThreads: 1, typeK: 'f16', typeV: 'f16' },
    });
    expect(r.addBos).toBe(false);
    expect(r.nTokens).toBe(61716);
    expect(r.nScored).toBe(2 * 255);
    expect(r.blocksPerToken).toBe(30);
    expect(relDiff(r.chunkPpl[0], LLAMACPP_SMOLLM2.c512_f16.running[0])).toBeLessThan(5e-3);
    expect(relDiff(r.ppl, LLAMACPP_SMOLLM2.c512_f16.running[1])).toBeLessThan(5e-3);
  });

  it('needs at least two chunks of text, like llama-perplexity', async () => {
    const m = await Model.load(model('stories260K.gguf'));
    await expect(perplexity(m, 'Once upon a time', { nCtx: 128 })).rejects.toThrow(/at least 256 tokens.*only 5 tokens/);
    await expect(perplexity(m, STORY, { nCtx: 2 })).rejects.toThrow(/at least 4 tokens/);
  });
});

const STORY = `Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball under a tree. She ran to the ball and picked it up. It was shiny and round.
Lily's mom called her. "Lily, it is time to go home!" Lily did not want to go home. She wanted to play with the ball. She said, "Mom, can I take the ball with me?" Her mom smiled and said, "Yes, but you have to share it with your brother."
When they got home, Lily showed the ball to her brother Tom. Tom was happy. They played with the ball in the garden. They threw it high in the sky and ran after it. The sun was warm and the grass was green.
Then the ball rolled into the pond. Tom was sad. He said, "Oh no, the ball is wet!" Lily said, "Don't worry, Tom. I will get it." She took a long stick and pulled the ball out of the water. Tom hugged her and said, "Thank you, Lily. You are the best sister."
The next day, Lily and Tom went to the park again. They saw a little dog. The dog was lost and hungry. Lily gave the dog some bread. The dog wagged its tail and licked her hand. Lily and Tom played with the dog all day. When it was time to go home, a man came and said, "That is my dog! Thank you for being kind to him." Lily and Tom were very happy.
Once there was a boy named Ben. Ben liked to look at the stars at night. He wanted to fly to the moon. One night, he made a big rocket out of a box. He put on his hat and sat in the box. "Three, two, one, go!" he said. He closed his eyes and dreamed that he was flying high in the sky.
In his dream, Ben saw the moon. It was big and white. He met a funny bird on the moon. The bird said, "Hello, Ben! Do you want to play?" Ben said, "Yes!" They jumped and laughed and played all night. Then the bird said, "It is time to go home, Ben. Your mom will miss you."
Ben opened his eyes. He was in his bed. His mom was there. She gave him a big hug and a kiss. "Good morning, Ben," she said. Ben smiled. He told his mom about the moon and the funny bird. His mom laughed and said, "What a nice dream!"
One day, a little cat named Kitty found a box in the house. The box was big and brown. Kitty wanted to know what was inside. She pushed the box with her nose. The box fell over and a lot of toys came out. There was a car, a doll, and a little ball.
Kitty was happy. She played with the ball. She ran and jumped. Then she heard a noise. It was Sue, the girl who lived in the house. Sue said, "Kitty, you found my toys! I was looking for them." Sue was not mad. She sat down and played with Kitty and the toys.
After a while, Sue was tired. She went to her bed and Kitty went with her. They slept together in the warm bed. Sue had a nice dream about Kitty and the toys. The end.
Once upon a time, in a small town, there lived a kind old man. He had a big garden with many flowers. Every day, he gave water to the flowers and talked to them. The children in the town liked to visit him. He told them stories and gave them apples from his tree.
One day, it did not rain for a long time. The flowers were sad and the tree was dry. The old man was worried. The children wanted to help. They brought water in their buckets and gave it to the garden. Soon the flowers were happy again. The old man said, "Thank you, my friends. You have a good heart." The children smiled and felt proud.
`;
