// The placement planner (issue 25 item 2): llama.cpp's -ngl / -ot / --cpu-moe / --n-cpu-moe rules and its
// automatic fit, on synthetic tensor lists (plain code: no GPU, no model file).
import { describe, expect, it } from 'vitest';
import {
  EXPS_REGEX,
  FIT_MARGIN,
  parseByteSize,
  parseOverrides,
  placementModel,
  planPlacement,
  tensorGroup,
  tensorLayer,
  type GpuMemory,
  type PlacementModel,
  type PlacementTensor,
} from '../../src/engine/placement.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

interface Shape {
  nLayer: number;
  attn: number;
  ffn?: number;
  exps?: number; // bytes of each of up/gate/down expert stacks per layer
  shexp?: number;
  embd: number;
  output?: number; // absent: tied
  moeEvery?: number;
}

function model(s: Shape, kvPerLayer = 0, compute = 0): PlacementModel {
  const t: PlacementTensor[] = [{ name: 'token_embd.weight', bytes: s.embd }];
  for (let i = 0; i < s.nLayer; i++) {
    t.push({ name: `blk.${i}.attn_norm.weight`, bytes: 1024 });
    for (const w of ['q', 'k', 'v', 'output']) t.push({ name: `blk.${i}.attn_${w}.weight`, bytes: s.attn / 4 });
    t.push({ name: `blk.${i}.ffn_norm.weight`, bytes: 1024 });
    const moe = s.exps !== undefined && i % (s.moeEvery ?? 1) === (s.moeEvery ?? 1) - 1;
    if (moe) {
      t.push({ name: `blk.${i}.ffn_gate_inp.weight`, bytes: 64 * 1024 });
      for (const w of ['gate', 'up', 'down']) t.push({ name: `blk.${i}.ffn_${w}_exps.weight`, bytes: s.exps! });
      if (s.shexp) for (const w of ['gate', 'up', 'down']) t.push({ name: `blk.${i}.ffn_${w}_shexp.weight`, bytes: s.shexp / 3 });
    } else {
      for (const w of ['gate', 'up', 'down']) t.push({ name: `blk.${i}.ffn_${w}.weight`, bytes: (s.ffn ?? 0) / 3 });
    }
  }
  t.push({ name: 'output_norm.weight', bytes: 1024 });
  if (s.output !== undefined) t.push({ name: 'output.weight', bytes: s.output });
  return { tensors: t, nLayer: s.nLayer, kvBytes: Array(s.nLayer).fill(kvPerLayer), computeBytes: compute };
}

const gpu = (free: number): GpuMemory => ({ name: 'CUDA0', freeBytes: free, totalBytes: free });
const onGpu = (p: ReturnType<typeof planPlacement>, name: string) => p.device[name] === 'CUDA0';

describe('tensor names', () => {
  it('layers: blk.N, the output as layer n_layer, the embedding as the input (-1)', () => {
    expect(tensorLayer('blk.17.attn_q.weight', 30)).toBe(17);
    expect(tensorLayer('output.weight', 30)).toBe(30);
    expect(tensorLayer('output_norm.weight', 30)).toBe(30);
    expect(tensorLayer('token_embd.weight', 30)).toBe(-1);
  });
  it('groups', () => {
    expect(tensorGroup('blk.3.ffn_up_exps.weight')).toBe('routed experts');
    expect(tensorGroup('blk.3.ffn_gate_up_exps.weight')).toBe('routed experts');
    expect(tensorGroup('blk.3.ffn_down_shexp.weight')).toBe('shared expert');
    expect(tensorGroup('blk.3.ffn_gate_inp.weight')).toBe('router');
    expect(tensorGroup('blk.3.ffn_gate.weight')).toBe('dense FFN');
    expect(tensorGroup('blk.3.attn_k.weight')).toBe('attention');
    expect(tensorGroup('blk.3.attn_norm.weight')).toBe('norms');
    expect(tensorGroup('token_embd.weight')).toBe('embedding');
    expect(tensorGroup('output.weight')).toBe('output');
  });
});

describe('flags as llama.cpp spells them', () => {
  const dense = model({ nLayer: 5, attn: 4 * MiB, ffn: 12 * MiB, embd: 8 * MiB, output: 8 * MiB });
  const big = gpu(100 * GiB);

  it('-ngl N puts the last N of the layers and the output on the GPU; the embedding stays', () => {
    const p = planPlacement(dense, { gpuLayers: 3 }, big);
    expect(p.gpuLayers).toBe(3);
    for (let i = 0; i < 5; i++) expect(onGpu(p, `blk.${i}.attn_q.weight`)).toBe(i >= 3);
    expect(onGpu(p, 'output.weight')).toBe(true);
    expect(onGpu(p, 'token_embd.weight')).toBe(false);
    expect(p.llamaCppFlags).toBe('-ngl 3');
  });

  it('-ngl 1 is the output layer only; -ngl 0 nothing; -ngl all and larger counts everything', () => {
    const one = planPlacement(dense, { gpuLayers: 1 }, big);
    expect(Object.entries(one.device).filter(([, d]) => d === 'CUDA0').map(([n]) => n).sort()).toEqual(['output.weight', 'output_norm.weight']);
    const none = planPlacement(dense, { gpuLayers: 0 }, big);
    expect(Object.values(none.device).every((d) => d === 'CPU')).toBe(true);
    expect(none.vram.total).toBe(0);
    expect(planPlacement(dense, { gpuLayers: 'all' }, big).gpuLayers).toBe(6);
    expect(planPlacement(dense, { gpuLayers: 99 }, big).gpuLayers).toBe(6);
  });

  it('--cpu-moe keeps every routed expert in system memory, the rest on the GPU', () => {
    const moe = model({ nLayer: 4, attn: 4 * MiB, ffn: 12 * MiB, exps: 30 * MiB, shexp: 3 * MiB, embd: 8 * MiB, output: 8 * MiB, moeEvery: 2 });
    const p = planPlacement(moe, { gpuLayers: 'all', cpuMoe: true }, big);
    for (const [name, d] of Object.entries(p.device)) {
      if (name === 'token_embd.weight') continue;
      expect(d, name).toBe(new RegExp(EXPS_REGEX).test(name) ? 'CPU' : 'CUDA0');
    }
    expect(p.groups.find((g) => g.group === 'routed experts')).toEqual({ group: 'routed experts', cpu: 4 * 30 * MiB * 3 / 2, gpu: 0 });
    expect(p.llamaCppFlags).toBe(`-ngl 5 -ot '${EXPS_REGEX}=CPU'`);
  });

  it('--n-cpu-moe N: the experts of layers 0..N-1 only (blk.1 is not blk.10)', () => {
    const moe = model({ nLayer: 12, attn: 4 * MiB, exps: 30 * MiB, embd: 8 * MiB, output: 8 * MiB });
    const p = planPlacement(moe, { gpuLayers: 'all', nCpuMoe: 2 }, big);
    for (let i = 0; i < 12; i++) {
      expect(onGpu(p, `blk.${i}.ffn_up_exps.weight`), `layer ${i}`).toBe(i >= 2);
      expect(onGpu(p, `blk.${i}.attn_q.weight`)).toBe(true);
    }
  });

  it('-ot: the first pattern found in the name wins, before the layer rule; devices CPU and CUDA0', () => {
    const p = planPlacement(dense, { gpuLayers: 2, overrides: parseOverrides('blk\\.0\\.attn=CUDA0,attn=CPU') }, big);
    expect(onGpu(p, 'blk.0.attn_q.weight')).toBe(true); // first rule, though layer 0 is not offloaded
    expect(onGpu(p, 'blk.4.attn_q.weight')).toBe(false); // second rule, though layer 4 is
    expect(onGpu(p, 'blk.4.ffn_up.weight')).toBe(true);
    expect(onGpu(p, 'blk.4.attn_norm.weight')).toBe(false); // 'attn' is found in attn_norm too, as in llama.cpp
  });

  it('a tied output is a copy of the embedding on the GPU', () => {
    const tied = model({ nLayer: 2, attn: 4 * MiB, ffn: 12 * MiB, embd: 50 * MiB });
    const p = planPlacement(tied, { gpuLayers: 1 }, big);
    expect(p.vram.weights).toBe(1024 + 50 * MiB);
    expect(p.groups.find((g) => g.group === 'output')!.gpu).toBe(1024 + 50 * MiB);
    expect(p.host.weights).toBe(p.groups.reduce((s, g) => s + g.cpu, 0));
  });

  it('KV cache follows its layer; the compute buffer comes with the first GPU layer', () => {
    const m = model({ nLayer: 4, attn: 4 * MiB, ffn: 12 * MiB, embd: 8 * MiB, output: 8 * MiB }, 10 * MiB, 7 * MiB);
    const p = planPlacement(m, { gpuLayers: 3 }, big);
    expect(p.vram.kv).toBe(2 * 10 * MiB);
    expect(p.host.kv).toBe(2 * 10 * MiB);
    expect(p.vram.compute).toBe(7 * MiB);
    expect(planPlacement(m, { gpuLayers: 0 }, big).vram.compute).toBe(0);
  });

  it('without a usable GPU everything is in system memory, and -ngl says it is ignored', () => {
    const p = planPlacement(dense, { gpuLayers: 10 }, null);
    expect(p.mode).toBe('cpu');
    expect(Object.values(p.device).every((d) => d === 'CPU')).toBe(true);
    expect(p.notes.join()).toMatch(/no usable GPU: -ngl is ignored/);
  });

  it('a layout over the free VRAM says so with the numbers', () => {
    const p = planPlacement(dense, { gpuLayers: 'all' }, gpu(20 * MiB));
    expect(p.notes.join()).toMatch(/needs 0\.\d+ GiB of VRAM, CUDA0 has 0\.02 GiB free/);
  });

  it('bad -ot values are refused with the reason', () => {
    expect(() => parseOverrides('exps')).toThrow(/REGEX=DEVICE/);
    expect(() => parseOverrides('exps=GPU7')).toThrow(/unknown device 'GPU7'/);
    expect(() => parseOverrides('blk\\.(=CPU')).toThrow(/not a valid regular expression/);
    expect(parseOverrides('exps=cpu', [{ pattern: 'a', device: 'CUDA0' }])).toEqual([
      { pattern: 'a', device: 'CUDA0' },
      { pattern: 'exps', device: 'CPU' },
    ]);
  });

  it('sizes', () => {
    expect(parseByteSize('24G')).toBe(24 * GiB);
    expect(parseByteSize('24GiB')).toBe(24 * GiB);
    expect(parseByteSize('8000M')).toBe(8000 * MiB);
    expect(parseByteSize('1.5g')).toBe(1.5 * GiB);
    expect(parseByteSize('4096')).toBe(4096);
    expect(() => parseByteSize('lots')).toThrow(/expected a size/);
  });
});

describe('automatic placement (-ngl auto): fit to free VRAM minus 1 GiB', () => {
  it('everything when it fits', () => {
    const m = model({ nLayer: 6, attn: 40 * MiB, ffn: 120 * MiB, embd: 80 * MiB, output: 80 * MiB }, 8 * MiB, 100 * MiB);
    const p = planPlacement(m, {}, gpu(4 * GiB));
    expect(p.mode).toBe('auto');
    expect(p.gpuLayers).toBe(7);
    expect(p.vram.budget).toBe(3 * GiB);
  });

  it('a dense model: the most layers from the back that fit (checked against every -ngl)', () => {
    const m = model({ nLayer: 22, attn: 40 * MiB, ffn: 120 * MiB, embd: 80 * MiB, output: 80 * MiB }, 8 * MiB, 100 * MiB);
    for (const freeMiB of [1024, 1100, 1500, 2000, 3000, 4000, 5000]) {
      const free = freeMiB * MiB;
      const p = planPlacement(m, {}, gpu(free));
      const budget = Math.max(0, free - FIT_MARGIN);
      expect(p.vram.total).toBeLessThanOrEqual(budget);
      const best = [...Array(24).keys()].filter((n) => planPlacement(m, { gpuLayers: n }, gpu(free)).vram.total <= budget).pop();
      expect(p.gpuLayers, `${freeMiB} MiB`).toBe(best);
    }
  });

  // Llama 4 Scout at Q4_K_M, roughly: 48 MoE layers, 16 experts of 8192 x 5120, ~61 GiB in all.
  const scout = () => {
    const expStack = Math.round(16 * 8192 * 5120 * 4.5 / 8); // one of gate/up/down, 16 experts, ~4.5 bits
    return model(
      { nLayer: 48, attn: Math.round(5120 * (5120 + 2 * 1024 + 5120) * 4.5 / 8), exps: expStack, shexp: Math.round(3 * 8192 * 5120 * 4.5 / 8), embd: Math.round(202048 * 5120 * 4.5 / 8), output: Math.round(202048 * 5120 * 6.5 / 8) },
      8192 * 8 * 128 * 2 * 2,
      600 * MiB,
    );
  };

  it('a 61 GiB MoE on a 24 GB card: routed experts to system memory first, then those of the first layers back while they fit', () => {
    const m = scout();
    const total = m.tensors.reduce((s, t) => s + t.bytes, 0);
    expect(total / GiB).toBeGreaterThan(55);
    const free = 23 * GiB; // a 24 GB card after the driver's share
    const p = planPlacement(m, {}, gpu(free));
    const budget = free - FIT_MARGIN;
    expect(p.gpuLayers).toBe(49); // every layer's attention, router and shared expert on the GPU
    for (let i = 0; i < 48; i++) {
      expect(onGpu(p, `blk.${i}.attn_q.weight`)).toBe(true);
      expect(onGpu(p, `blk.${i}.ffn_up_shexp.weight`)).toBe(true);
      expect(onGpu(p, `blk.${i}.ffn_gate_inp.weight`)).toBe(true);
    }
    expect(onGpu(p, 'output.weight')).toBe(true);
    const fullLayers = [...Array(48).keys()].filter((i) => onGpu(p, `blk.${i}.ffn_down_exps.weight`));
    expect(fullLayers.length).toBeGreaterThan(0);
    expect(fullLayers).toEqual([...Array(fullLayers.length).keys()]); // the first layers, front to back
    expect(p.vram.total).toBeLessThanOrEqual(budget);
    // maximal: one more whole layer of experts would not fit
    const n = fullLayers.length;
    const more = planPlacement(m, { gpuLayers: 'all', overrides: [{ pattern: `blk\\.(${[...Array(48 - n - 1).keys()].map((k) => k + n + 1).join('|')})${EXPS_REGEX}`, device: 'CPU' }] }, gpu(free));
    expect(more.vram.total).toBeGreaterThan(budget);
    // the layer after them may hold part of its experts (up, then up and gate), never down alone
    const partial = ['up', 'gate', 'down'].filter((w) => onGpu(p, `blk.${n}.ffn_${w}_exps.weight`));
    expect([[], ['up'], ['up', 'gate']].map(String)).toContain(String(partial.sort().reverse()));
    expect(p.llamaCppFlags).toMatch(/^-ngl 49 -ot 'blk\\\.\(/);
    expect(p.groups.find((g) => g.group === 'routed experts')!.cpu).toBeGreaterThan(30 * GiB);
  });

  it('a MoE whose dense parts do not all fit: dense-only layers from the back, experts all in system memory', () => {
    const m = scout();
    const p = planPlacement(m, {}, gpu(4 * GiB));
    expect(p.gpuLayers).toBeGreaterThan(0);
    expect(p.gpuLayers).toBeLessThan(49);
    expect(p.groups.find((g) => g.group === 'routed experts')!.gpu).toBe(0);
    expect(p.vram.total).toBeLessThanOrEqual(3 * GiB);
    expect(onGpu(p, 'blk.47.attn_q.weight')).toBe(true);
    expect(onGpu(p, 'blk.0.attn_q.weight')).toBe(false);
  });

  it('a layout the user spelled (-ot, --cpu-moe, --n-cpu-moe) is left as it is, all layers', () => {
    const p = planPlacement(scout(), { cpuMoe: true }, gpu(23 * GiB));
    expect(p.mode).toBe('flags');
    expect(p.gpuLayers).toBe(49);
    expect(p.groups.find((g) => g.group === 'routed experts')!.gpu).toBe(0);
  });

  it('less free memory than the margin: nothing on the GPU', () => {
    const m = model({ nLayer: 4, attn: 4 * MiB, ffn: 12 * MiB, embd: 8 * MiB, output: 8 * MiB });
    expect(planPlacement(m, {}, gpu(512 * MiB)).gpuLayers).toBe(0);
  });
});

describe('placementModel', () => {
  it('KV bytes per layer from the shape and cache types; a compute estimate that grows with the batch', () => {
    const hp = {
      blockCount: 2,
      embeddingLength: 576,
      headCount: [9],
      headCountKv: [3],
      headDimK: 64,
      headDimV: 64,
      feedForwardLength: [1536],
      vocabSize: 49152,
      expertUsedCount: 0,
      expertFeedForwardLength: 0,
    };
    const a = placementModel([], hp, { nCtx: 4096, kvTypeBytes: { k: 2, v: 2 }, nUbatch: 512 });
    expect(a.kvBytes).toEqual([4096 * 3 * 128 * 2, 4096 * 3 * 128 * 2]);
    const b = placementModel([], hp, { nCtx: 4096, kvTypeBytes: { k: 2, v: 2 }, nUbatch: 1024 });
    expect(b.computeBytes).toBeGreaterThan(a.computeBytes);
  });
});
