// std::mt19937 and std::uniform_real_distribution<double>(0, 1) as libstdc++ computes them, so a seed gives
// the same draws as llama.cpp's dist sampler.

/** LLAMA_DEFAULT_SEED: pick a random seed */
export const DEFAULT_SEED = 0xffffffff;

const N = 624;
const M = 397;

export class Mt19937 {
  private readonly mt = new Uint32Array(N);
  private index = N;

  constructor(seed: number) {
    this.seed(seed);
  }

  seed(seed: number): void {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.index = N;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
      let v = mt[(i + M) % N] ^ (y >>> 1);
      if (y & 1) v ^= 0x9908b0df;
      mt[i] = v >>> 0;
    }
    this.index = 0;
  }

  /** next 32-bit output */
  nextU32(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** generate_canonical<double, 53>: two draws, (lo + hi * 2^32) / 2^64, kept below 1 */
  uniform(): number {
    const lo = this.nextU32();
    const hi = this.nextU32();
    const u = (lo + hi * 4294967296) / 18446744073709551616;
    return u >= 1 ? 1 - 2 ** -53 : u;
  }
}

/** The seed actually used: DEFAULT_SEED means a random one, as llama.cpp's get_rng_seed. */
export function resolveSeed(seed: number): number {
  if ((seed >>> 0) !== DEFAULT_SEED) return seed >>> 0;
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * A small fast deterministic generator (mulberry32) for benchmark tokens, calibration sampling and tests;
 * returns floats in [0, 1). Not for sampling tokens (that is Mt19937, llama.cpp's generator).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
