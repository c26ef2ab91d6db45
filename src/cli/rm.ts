// `llama4 rm NAME...`: remove cached models (every part of a split model), as `ollama rm`.
import type { Command } from 'commander';
import { cacheRoot, findCached, removeCached } from '../pull/cache.js';
import { PullError } from '../pull/errors.js';
import { formatBytes } from './format.js';

export function registerRm(program: Command): void {
  program
    .command('rm')
    .description('remove models from the cache (the names llama4 ls prints)')
    .argument('<names...>', 'cached model names')
    .action((names: string[]) => {
      const root = cacheRoot();
      // every name must be known before anything is removed
      const models = names.map((n) => {
        const m = findCached(root, n);
        if (!m) throw new PullError(`no cached model named '${n}' (llama4 ls lists them)`);
        return m;
      });
      const done = new Set<string>();
      for (const m of models) {
        if (done.has(m.name)) continue;
        done.add(m.name);
        const removed = removeCached(root, m);
        process.stdout.write(`deleted '${m.name}' (${formatBytes(m.size)}, ${removed.length} file${removed.length === 1 ? '' : 's'})\n`);
      }
    });
}
