// `llama4 ls`: the models in the cache (as `ollama ls`): name, quant, size, files, when pulled.
import type { Command } from 'commander';
import { absolutePath, cacheRoot, readManifests, type Manifest } from '../pull/cache.js';
import { formatBytes, table } from './format.js';

/** "just now", "5 minutes ago", "3 days ago", then the date. */
export function formatAge(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, (now - t) / 1000);
  const ago = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  if (s < 60) return 'just now';
  if (s < 3600) return ago(Math.floor(s / 60), 'minute');
  if (s < 86400) return ago(Math.floor(s / 3600), 'hour');
  if (s < 30 * 86400) return ago(Math.floor(s / 86400), 'day');
  return new Date(t).toISOString().slice(0, 10);
}

export function renderList(models: Manifest[], now = Date.now()): string {
  const rows = [['NAME', 'QUANT', 'SIZE', 'FILES', 'MODIFIED']];
  for (const m of models) rows.push([m.name, m.quant ?? '-', formatBytes(m.size), String(m.files.length), formatAge(m.pulledAt, now)]);
  return table(rows, [false, false, true, true, false]);
}

export function registerLs(program: Command): void {
  program
    .command('ls')
    .alias('list')
    .description('list the models in the cache (llama4 pull adds them; -m NAME loads one)')
    .option('--json', 'print them as JSON: name, quant, size, files (paths), source, pulledAt')
    .action((opts: { json?: boolean }) => {
      const root = cacheRoot();
      const models = readManifests(root);
      if (opts.json) {
        const out = models.map((m) => ({ name: m.name, quant: m.quant ?? null, size: m.size, files: m.files.map((f) => absolutePath(root, f)), source: m.source, pulledAt: m.pulledAt }));
        process.stdout.write(JSON.stringify(out, null, 1) + '\n');
        return;
      }
      process.stdout.write(renderList(models) + '\n');
    });
}
