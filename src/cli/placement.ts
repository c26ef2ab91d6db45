// The placement section of `info` (and the one-line summary of `bench`): where each tensor group lives and
// the VRAM it takes.
import type { Placement } from '../engine/placement.js';
import { formatBytes, table } from './format.js';

export function placementSummary(p: Placement, gpuName: string): string {
  if (p.mode === 'cpu') return 'all weights and the KV cache in system memory';
  if (p.vram.total === 0) {
    return p.mode === 'auto'
      ? `auto: nothing fits in ${formatBytes(p.vram.budget ?? 0)} (the free VRAM less llama.cpp's 1 GiB margin): all in system memory`
      : 'all weights and the KV cache in system memory (-ngl 0)';
  }
  const v = p.vram;
  const budget = v.budget !== undefined ? ` of ${formatBytes(v.budget)} usable` : '';
  return (
    `${p.mode === 'auto' ? 'auto' : 'flags'}: ${p.gpuLayers} layers on ${gpuName} (the output counts as one), ${formatBytes(v.total)} of VRAM${budget} ` +
    `(weights ${formatBytes(v.weights)}, KV ${formatBytes(v.kv)}, compute ${formatBytes(v.compute)}); system memory: weights ${formatBytes(p.host.weights)}, KV ${formatBytes(p.host.kv)}`
  );
}

export function renderPlacement(p: Placement, gpuName: string): string {
  const out = [`placement:     ${placementSummary(p, gpuName)}`];
  if (p.mode !== 'cpu') {
    const rows = [['group', 'system memory', gpuName], ...p.groups.map((g) => [g.group, g.cpu ? formatBytes(g.cpu) : '', g.gpu ? formatBytes(g.gpu) : ''])];
    out.push(table(rows, [false, true, true]).replace(/^/gm, '  '));
    out.push(`  as llama.cpp flags: ${p.llamaCppFlags}`);
  }
  for (const n of p.notes) out.push(`  note: ${n}`);
  return out.join('\n');
}
