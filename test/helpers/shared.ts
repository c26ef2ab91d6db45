// Where the shared fixtures live (../shared beside the checkout). Tests never copy them into the repo.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const SHARED = resolve(process.env.LLAMA4_SHARED ?? join(process.cwd(), '..', 'shared'));
export const MODELS = join(SHARED, 'models');

if (!existsSync(MODELS)) {
  throw new Error(`shared models not found at ${MODELS}: the tests need ../shared/models beside the checkout`);
}

export function model(rel: string): string {
  return join(MODELS, rel);
}

/** Every .gguf file under ../shared/models, recursively. */
export function allGgufFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.gguf')) out.push(p);
    }
  };
  walk(MODELS);
  return out;
}

/** A small deterministic PRNG for fuzzing offsets and test data. */
export { mulberry32 as rng } from '../../src/sampling/rng.js';
