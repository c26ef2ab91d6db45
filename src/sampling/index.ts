// Public surface of sampling: the llama.cpp default chain and its parts.
export { SamplerChain, SAMPLING_DEFAULTS, type SamplingOptions } from './chain.js';
export { Candidates } from './candidates.js';
export { argmax } from './argmax.js';
export type { Sampler } from './sampler.js';
export { DEFAULT_SEED, Mt19937 } from './rng.js';
export type { LogitBias } from './logit-bias.js';
