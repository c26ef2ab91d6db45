// Reference quantizers (K-quants, IQ4_NL, legacy), the quantizeRows binding, llama.cpp's per-tensor type
// rules, and byte-exactness against files written by llama-quantize.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addon, type GgufTensor } from '../../src/native/addon.js';
import { FTYPE, GGML, parseQuantType, planTensors, quantizeModel, type ModelFacts } from '../../src/engine/quantize.js';
import { model, rng } from '../helpers/shared.js';

const gaussian = (n: number, seed: number, scale = 1): Float32Array => {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = scale * Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return x;
};

const relRmse = (x: Float32Array, y: Float32Array) => {
  let e = 0, s = 0;
  for (let i = 0; i < x.length; i++) {
    e += (y[i] - x[i]) ** 2;
    s += x[i] ** 2;
  }
  return Math.sqrt(e / s);
};

// relative RMSE on N(0,1) data; llama.cpp's quantizers give (same bytes): Q4_0 .087 Q4_1 .079 Q5_0 .043
// Q5_1 .038 Q8_0 .0053 Q2_K .29 Q3_K .15 Q4_K .072 Q5_K .036 Q6_K .018 IQ4_NL .077
const BOUNDS: Array<[string, number, number]> = [
  ['Q4_0', GGML.Q4_0, 0.1], ['Q4_1', GGML.Q4_1, 0.095], ['Q5_0', GGML.Q5_0, 0.052], ['Q5_1', GGML.Q5_1, 0.046],
  ['Q8_0', GGML.Q8_0, 0.0065], ['Q2_K', GGML.Q2_K, 0.35], ['Q3_K', GGML.Q3_K, 0.18], ['Q4_K', GGML.Q4_K, 0.087],
  ['Q5_K', GGML.Q5_K, 0.044], ['Q6_K', GGML.Q6_K, 0.022], ['IQ4_NL', GGML.IQ4_NL, 0.093],
];

describe('reference quantizers', () => {
  it('every type llama4 quantize writes has a quantizer in the type table', () => {
    const table = addon().typeTable();
    for (const [name, id] of BOUNDS) expect(table.find((r) => r.id === id), name).toMatchObject({ canQuantize: true, canDequantize: true });
  });

  it.each(BOUNDS)('%s round-trips random data within its error bound', (_name, id, bound) => {
    const x = gaussian(256 * 48, 7, 0.02);
    const q = addon().quantize(id, x);
    const y = addon().dequantize(id, q, x.length);
    expect(y.every(Number.isFinite)).toBe(true);
    const e = relRmse(x, y);
    expect(e).toBeLessThan(bound);
    expect(e).toBeGreaterThan(0);
  });

  it('more bits give less error (K-quants and legacy)', () => {
    const x = gaussian(256 * 32, 3);
    const err = (id: number) => relRmse(x, addon().dequantize(id, addon().quantize(id, x), x.length));
    const k = [GGML.Q2_K, GGML.Q3_K, GGML.Q4_K, GGML.Q5_K, GGML.Q6_K, GGML.Q8_0].map(err);
    for (let i = 1; i < k.length; i++) expect(k[i]).toBeLessThan(k[i - 1]);
    expect(err(GGML.Q4_K)).toBeLessThan(err(GGML.Q4_0));
    expect(err(GGML.IQ4_NL)).toBeLessThan(err(GGML.Q4_0));
  });

  it.each(BOUNDS)('%s handles zero, constant, tiny and outlier blocks', (_name, id) => {
    const n = 512;
    const cases: Float32Array[] = [
      new Float32Array(n),
      new Float32Array(n).fill(0.5),
      new Float32Array(n).fill(-3),
      gaussian(n, 5, 1e-20),
      (() => { const x = gaussian(n, 9, 0.01); x[17] = 40; x[300] = -25; return x; })(),
    ];
    for (const x of cases) {
      const y = addon().dequantize(id, addon().quantize(id, x), n);
      expect(y.every(Number.isFinite)).toBe(true);
      if (x.every((v) => v === 0)) expect(y.every((v) => v === 0)).toBe(true);
      let amax = 0;
      for (const v of x) amax = Math.max(amax, Math.abs(v));
      for (let i = 0; i < n; i++) expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(amax * 0.75 + 1e-15);
    }
  });
});

describe('quantizeRows (native, threaded)', () => {
  const x = gaussian(1024 * 24, 11, 0.05);
  const f16 = addon().quantize(GGML.F16, x);
  const bf16 = addon().quantize(GGML.BF16, x);
  const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

  it.each(BOUNDS)('%s: same bytes as the reference, for any thread count and F32/F16/BF16 sources', async (_n, id) => {
    const ref = addon().quantize(id, x);
    const one = await addon().quantizeRows(GGML.F32, bytes(x), id, 1024, 1);
    const three = await addon().quantizeRows(GGML.F32, bytes(x), id, 1024, 3, true);
    expect(Buffer.compare(one.data, ref)).toBe(0);
    expect(Buffer.compare(three.data, ref)).toBe(0);
    // stats: squared error against the source
    const y = addon().dequantize(id, ref, x.length);
    let e = 0, s = 0, m = 0;
    for (let i = 0; i < x.length; i++) {
      e += (y[i] - x[i]) ** 2;
      s += x[i] ** 2;
      m = Math.max(m, Math.abs(y[i] - x[i]));
    }
    expect(three.sqErr).toBeCloseTo(e, 10);
    expect(three.sqRef).toBeCloseTo(s, 8);
    expect(three.maxErr).toBeCloseTo(m, 10);
    const fromF16 = await addon().quantizeRows(GGML.F16, f16, id, 1024, 2);
    expect(Buffer.compare(fromF16.data, addon().quantize(id, addon().dequantize(GGML.F16, f16, x.length)))).toBe(0);
    const fromBf16 = await addon().quantizeRows(GGML.BF16, bf16, id, 1024, 2);
    expect(Buffer.compare(fromBf16.data, addon().quantize(id, addon().dequantize(GGML.BF16, bf16, x.length)))).toBe(0);
  });

  it('rejects bad arguments with clear errors', async () => {
    await expect(addon().quantizeRows(GGML.F32, bytes(x), GGML.Q4_K, 1000, 1)).rejects.toThrow(/not a multiple of the Q4_K block size 256/);
    await expect(addon().quantizeRows(GGML.Q8_0, new Uint8Array(34), GGML.Q4_0, 32, 1)).rejects.toThrow(/not F32, F16 or BF16/);
    await expect(addon().quantizeRows(GGML.F32, new Uint8Array(100), GGML.Q4_0, 32, 1)).rejects.toThrow(/not whole rows/);
    await expect(addon().quantizeRows(GGML.F32, bytes(x), 16 /* IQ2_XXS */, 256, 1)).rejects.toThrow(/no quantizer/);
  });
});

// ---- per-tensor type choice --------------------------------------------------------------------------

function fakeTensors(nLayer: number, o: { embd: number; ff: number; kv: number; vocab: number; tied?: boolean; experts?: number }): GgufTensor[] {
  const t = (name: string, shape: number[]): GgufTensor => ({
    name, shape, typeId: 0, type: 'F32', elements: shape.reduce((a, b) => a * b, 1), offset: 0, bytes: 0,
  });
  const out = [t('token_embd.weight', [o.embd, o.vocab]), t('output_norm.weight', [o.embd])];
  if (!o.tied) out.push(t('output.weight', [o.embd, o.vocab]));
  for (let i = 0; i < nLayer; i++) {
    const b = `blk.${i}.`;
    out.push(t(b + 'attn_norm.weight', [o.embd]), t(b + 'attn_q.weight', [o.embd, o.embd]), t(b + 'attn_k.weight', [o.embd, o.kv]),
      t(b + 'attn_v.weight', [o.embd, o.kv]), t(b + 'attn_output.weight', [o.embd, o.embd]), t(b + 'ffn_norm.weight', [o.embd]));
    if (o.experts) {
      out.push(t(b + 'ffn_gate_inp.weight', [o.embd, o.experts]), t(b + 'ffn_gate_exps.weight', [o.embd, o.ff, o.experts]),
        t(b + 'ffn_up_exps.weight', [o.embd, o.ff, o.experts]), t(b + 'ffn_down_exps.weight', [o.ff, o.embd, o.experts]));
    } else {
      out.push(t(b + 'ffn_gate.weight', [o.embd, o.ff]), t(b + 'ffn_up.weight', [o.embd, o.ff]), t(b + 'ffn_down.weight', [o.ff, o.embd]));
    }
  }
  return out;
}

const typesOf = (plans: ReturnType<typeof planTensors>) => Object.fromEntries(plans.map((p) => [p.tensor.name, p.type]));
const facts = (f: Partial<ModelFacts>): ModelFacts => ({ arch: 'llama', nLayer: 32, nExpert: 0, nGqa: 1, is70B: false, ...f });

describe('per-tensor types (llama_tensor_get_type)', () => {
  it('Q4_K_M on a 32-layer llama: Q6_K for attn_v / ffn_down in the use_more_bits layers, Q6_K output', () => {
    const ts = typesOf(planTensors(fakeTensors(32, { embd: 4096, ff: 11008, kv: 4096, vocab: 32000 }), facts({}), parseQuantType('Q4_K_M')));
    const more = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31];
    for (let i = 0; i < 32; i++) {
      const want = more.includes(i) ? GGML.Q6_K : GGML.Q4_K;
      expect(ts[`blk.${i}.attn_v.weight`], `attn_v ${i}`).toBe(want);
      expect(ts[`blk.${i}.ffn_down.weight`], `ffn_down ${i}`).toBe(want);
      expect(ts[`blk.${i}.attn_q.weight`]).toBe(GGML.Q4_K);
      expect(ts[`blk.${i}.attn_norm.weight`]).toBe(GGML.F32);
    }
    expect(ts['output.weight']).toBe(GGML.Q6_K);
    expect(ts['token_embd.weight']).toBe(GGML.Q4_K);
    expect(ts['output_norm.weight']).toBe(GGML.F32);
  });

  it('row lengths that do not fit: Q4_K -> Q5_0, Q6_K -> Q8_0, not a multiple of 32 -> F16; output -> Q8_0', () => {
    const ts = typesOf(planTensors(fakeTensors(8, { embd: 512, ff: 1408, kv: 128, vocab: 1000 }), facts({ nLayer: 8 }), parseQuantType('Q4_K_M')));
    expect(ts['blk.0.ffn_down.weight']).toBe(GGML.Q8_0); // Q6_K (use_more_bits) falls back
    expect(ts['blk.1.ffn_down.weight']).toBe(GGML.Q5_0); // Q4_K falls back
    expect(ts['blk.1.ffn_up.weight']).toBe(GGML.Q4_K);
    const odd = typesOf(planTensors(fakeTensors(2, { embd: 288, ff: 172, kv: 96, vocab: 512 }), facts({ nLayer: 2 }), parseQuantType('Q4_0')));
    expect(odd['blk.0.ffn_down.weight']).toBe(GGML.F16); // 172 columns: stories260K
    expect(odd['blk.0.ffn_up.weight']).toBe(GGML.Q4_0);
    expect(odd['output.weight']).toBe(GGML.Q8_0); // 288 % 256 != 0
    const legacy = typesOf(planTensors(fakeTensors(2, { embd: 4096, ff: 11008, kv: 4096, vocab: 32000 }), facts({ nLayer: 2 }), parseQuantType('Q4_0')));
    expect(legacy['output.weight']).toBe(GGML.Q6_K);
    expect(typesOf(planTensors(fakeTensors(2, { embd: 4096, ff: 11008, kv: 4096, vocab: 32000 }), facts({ nLayer: 2 }), parseQuantType('Q8_0')))['output.weight']).toBe(GGML.Q8_0);
  });

  it('tied embeddings take the output type; Mixtral-8 bumps attn_v/attn_k to Q8_0; routers stay F32', () => {
    const tied = typesOf(planTensors(fakeTensors(4, { embd: 2048, ff: 5632, kv: 256, vocab: 32000, tied: true }), facts({ nLayer: 4 }), parseQuantType('Q5_K_M')));
    expect(tied['token_embd.weight']).toBe(GGML.Q6_K);
    const moe = typesOf(planTensors(fakeTensors(4, { embd: 4096, ff: 14336, kv: 1024, vocab: 32000, experts: 8 }), facts({ nLayer: 4, nExpert: 8, nGqa: 4 }), parseQuantType('Q4_K_M')));
    expect(moe['blk.2.attn_v.weight']).toBe(GGML.Q8_0);
    expect(moe['blk.2.attn_k.weight']).toBe(GGML.Q8_0);
    expect(moe['blk.2.attn_output.weight']).toBe(GGML.Q5_K);
    expect(moe['blk.2.ffn_gate_inp.weight']).toBe(GGML.F32);
    expect(moe['blk.2.ffn_down_exps.weight']).toBe(GGML.Q6_K); // use_more_bits(2, 4)
    expect(moe['blk.1.ffn_down_exps.weight']).toBe(GGML.Q4_K);
    const q2 = (gqa: number) => typesOf(planTensors(fakeTensors(4, { embd: 4096, ff: 11008, kv: 1024, vocab: 32000 }), facts({ nLayer: 4, nGqa: gqa }), parseQuantType('Q2_K')));
    expect(q2(4)['blk.0.attn_v.weight']).toBe(GGML.Q4_K);
    expect(q2(1)['blk.0.attn_v.weight']).toBe(GGML.Q3_K);
    expect(q2(1)['blk.0.ffn_down.weight']).toBe(GGML.Q3_K);
    expect(q2(1)['blk.0.attn_output.weight']).toBe(GGML.Q3_K);
    expect(q2(1)['blk.0.ffn_up.weight']).toBe(GGML.Q2_K);
  });

  it('TYPE names map to llama.cpp ftypes', () => {
    expect(parseQuantType('q4_k_m').ftype).toBe(FTYPE.Q4_K_M);
    expect(parseQuantType('Q4_K').ftype).toBe(FTYPE.Q4_K_S);
    expect(parseQuantType('IQ4_NL').ftype).toBe(25);
    expect(() => parseQuantType('Q7_K')).toThrow(/unknown quantization type 'Q7_K'; valid types: Q4_0, .*IQ4_NL/);
  });
});

// ---- byte-exactness against llama-quantize ----------------------------------------------------------

describe('same bytes as llama-quantize (tiny-llama-256)', () => {
  const src = model('synthetic/tiny-llama-256.synthetic.gguf');
  it.each([
    ['Q6_K', 'synthetic/tiny-llama-256-q6_k.synthetic.gguf'],
    ['Q4_K_M', 'synthetic/tiny-llama-256-q4_k_m.synthetic.gguf'],
  ])('%s: the whole file is identical', async (type, ref) => {
    const dir = mkdtempSync(join(tmpdir(), 'llama4-quant-'));
    const out = join(dir, `${type}.gguf`);
    await quantizeModel(src, out, type, { threads: 2 });
    const a = await addon().readGguf(out), b = await addon().readGguf(model(ref));
    expect(a.tensors.map((t) => [t.name, t.type])).toEqual(b.tensors.map((t) => [t.name, t.type]));
    const A = readFileSync(out), B = readFileSync(model(ref));
    for (const t of b.tensors) {
      const u = a.tensors.find((x) => x.name === t.name)!;
      expect(Buffer.compare(A.subarray(u.offset, u.offset + u.bytes), B.subarray(t.offset, t.offset + t.bytes)), t.name).toBe(0);
    }
    expect(Buffer.compare(A, B)).toBe(0);
  });
});
