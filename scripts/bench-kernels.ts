// Microbenchmarks of the CPU matmul kernels, timed in native loops, per ISA level this host supports.
//   npx tsx scripts/bench-kernels.ts [--types Q4_1,Q8_0] [--shapes 576x1536,4096x4096] [--isas avx2,avx512]
//       single-thread mat-vec, one vec_dot per row (addon kernelBench): us per mat-vec, GB/s of weights
//   npx tsx scripts/bench-kernels.ts --matmul [--types ..] [--shapes 4096x4096,...] [--tokens 1,128]
//                                    [--threads 1,2] [--isas ..] [--rows | --packed] [--reps 5] [--cold MB]
//       whole matmul() on a persistent pool (activation conversion included; addon matmulBench):
//       us per call, GB/s of weights (decode) and tokens/s (n_tokens > 1). --rows: reference schedule.
//       --packed: the packed (8-row interleaved) kernels of the types that have one (ops/packed.h).
//       --cold MB (default 256): rotate over copies of the weights totalling MB (memory-bound decode, as
//       in a real model); --cold 0: one copy, cache-resident when it fits. --cpu-clock: 1-thread runs are
//       timed with the thread's CPU clock (a busy shared machine preempts long calls).
// Shapes are n_in x n_out. Reports the best of --reps runs and the spread (max/min - 1) as a noise figure.
import { addon, type Addon } from '../src/native/addon.js';

type BenchAddon = Addon & {
  kernelBench(typeId: number, weightBytes: Uint8Array, activations: Float32Array, isa: string, iters: number): number;
};

const TYPES: Record<string, { id: number; block: number; size: number; f16: number[] }> = {
  F32: { id: 0, block: 1, size: 4, f16: [] },
  F16: { id: 1, block: 1, size: 2, f16: [] },
  BF16: { id: 30, block: 1, size: 2, f16: [] },
  Q4_0: { id: 2, block: 32, size: 18, f16: [0] },
  Q4_1: { id: 3, block: 32, size: 20, f16: [0, 2] },
  Q5_0: { id: 6, block: 32, size: 22, f16: [0] },
  Q5_1: { id: 7, block: 32, size: 24, f16: [0, 2] },
  Q8_0: { id: 8, block: 32, size: 34, f16: [0] },
  IQ4_NL: { id: 20, block: 32, size: 18, f16: [0] },
  Q2_K: { id: 10, block: 256, size: 84, f16: [80, 82] },
  Q3_K: { id: 11, block: 256, size: 110, f16: [108] },
  Q4_K: { id: 12, block: 256, size: 144, f16: [0, 2] },
  Q5_K: { id: 13, block: 256, size: 176, f16: [0, 2] },
  Q6_K: { id: 14, block: 256, size: 210, f16: [208] },
  IQ4_XS: { id: 23, block: 256, size: 136, f16: [0] },
};

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

const a = addon() as BenchAddon;
const matmulMode = process.argv.includes('--matmul');
const types = arg('types', 'Q4_1,Q8_0,Q4_0,Q4_K,Q6_K,Q5_K,F16,F32').split(',');
const shapes = arg('shapes', matmulMode ? '64x64,576x1536,4096x4096,2048x5632' : '576x1536,4096x4096')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number]);
const isas = arg('isas', a.kernelIsas().join(',')).split(',').filter((i) => a.kernelIsas().includes(i));
const reps = Number(arg('reps', '5'));

let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 4294967296;
};

function weights(t: (typeof TYPES)[string], n: number, rows: number): Uint8Array {
  if (t.block === 1) {
    const f = new Float32Array(n * rows).map(() => rand() - 0.5);
    return a.quantize(t.id, f);
  }
  const nb = (n / t.block) * rows;
  const w = new Uint8Array(nb * t.size).map(() => Math.floor(rand() * 256));
  for (let b = 0; b < nb; b++)
    for (const off of t.f16) {
      w[b * t.size + off] = Math.floor(rand() * 256);
      w[b * t.size + off + 1] = 0x1c + Math.floor(rand() * 4);
    }
  return w;
}

function bytesOf(t: (typeof TYPES)[string], n: number, rows: number): number {
  return (n / t.block) * t.size * rows;
}

console.log(`CPU: ${a.systemInfo().cpuFeatures}`);
if (!matmulMode) {
  console.log(`levels: ${isas.join(', ')} (1 thread; best of ${reps} runs)`);
  console.log('type    shape        isa      us/matvec   GB/s(weights)');
  for (const name of types) {
    const t = TYPES[name];
    if (!t) throw new Error(`unknown type ${name}`);
    for (const [n, rows] of shapes) {
      if (n % t.block !== 0) continue;
      const w = weights(t, n, rows);
      const x = new Float32Array(n).map(() => rand() * 2 - 1);
      for (const isa of isas) {
        // aim for ~50 ms per run
        const once = a.kernelBench(t.id, w, x, isa, 1);
        const iters = Math.max(1, Math.min(10000, Math.round(0.05 / Math.max(once, 1e-7))));
        let best = Infinity;
        for (let r = 0; r < reps; r++) best = Math.min(best, a.kernelBench(t.id, w, x, isa, iters));
        const gbs = w.length / best / 1e9;
        console.log(
          `${name.padEnd(7)} ${`${n}x${rows}`.padEnd(12)} ${isa.padEnd(8)} ${(best * 1e6).toFixed(1).padStart(10)}   ${gbs.toFixed(1).padStart(8)}`,
        );
      }
    }
  }
} else {
  const tokens = arg('tokens', '1').split(',').map(Number);
  const threads = arg('threads', '1,2').split(',').map(Number);
  const rowsOnly = process.argv.includes('--rows');
  const packed = process.argv.includes('--packed');
  const budget = Number(arg('ms', '60')) / 1000;
  const cold = Number(arg('cold', '256')) * 1e6; // MB of rotated weight copies (0: cache-resident)
  const cpuClock = process.argv.includes('--cpu-clock'); // 1 thread: thread CPU time, not wall time
  console.log(`matmul(): levels ${isas.join(', ')}; best of ${reps} runs (each: min over ~${budget * 1000} ms of individually timed calls)${rowsOnly ? '; reference schedule (--rows)' : ''}${packed ? '; packed kernels (--packed)' : ''}; weights ${cold > 0 ? `rotated over ${cold / 1e6} MB` : 'one copy'}`);
  console.log('type    n_in x n_out  tok thr isa          us/call   GB/s  tok/s   spread');
  for (const name of types) {
    const t = TYPES[name];
    if (!t) throw new Error(`unknown type ${name}`);
    for (const [n, rows] of shapes) {
      if (n % t.block !== 0) continue;
      for (const nt of tokens)
        for (const th of threads)
          for (const isa of isas) {
            const once = a.matmulBench(t.id, n, rows, nt, th, 1, isa, rowsOnly, cold, cpuClock, packed);
            const iters = Math.max(3, Math.min(20000, Math.round(budget / Math.max(once, 1e-7))));
            const runs: number[] = [];
            for (let r = 0; r < reps; r++) runs.push(a.matmulBench(t.id, n, rows, nt, th, iters, isa, rowsOnly, cold, cpuClock, packed));
            const best = Math.min(...runs);
            const worst = Math.max(...runs);
            const gbs = bytesOf(t, n, rows) / best / 1e9;
            const tps = nt / best;
            console.log(
              `${name.padEnd(7)} ${`${n}x${rows}`.padEnd(13)} ${String(nt).padStart(3)} ${String(th).padStart(3)} ${isa.padEnd(8)} ${(best * 1e6).toFixed(1).padStart(10)} ${gbs.toFixed(1).padStart(6)} ${(nt > 1 ? tps.toFixed(0) : '-').padStart(6)}   ${((worst / best - 1) * 100).toFixed(0).padStart(3)}%`,
            );
          }
    }
  }
}
