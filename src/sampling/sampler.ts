// The shape every sampler shares (llama_sampler_i): apply narrows or rescales the candidates; accept sees
// each token that was kept; reset forgets history.
import type { Candidates } from './candidates.js';

export interface Sampler {
  readonly name: string;
  apply(cur: Candidates): void;
  accept?(token: number): void;
  reset?(): void;
}
