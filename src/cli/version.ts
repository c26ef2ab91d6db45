// `llama4 --version`: the version and the backends this build has (compiled, and usable on this machine).
import { addon, type BackendInfo } from '../native/addon.js';
import { cudaBackend } from '../engine/gpu.js';
import { formatBytes } from './format.js';

export const VERSION = '0.1.0';

export function backendLine(b: BackendInfo): string {
  if (!b.compiled) return `${b.name}: ${b.detail}`;
  const archs = b.archs ? ` (sm_${b.archs.split(',').join(', sm_')})` : '';
  if (!b.available) return `${b.name}: compiled${archs}; not usable here: ${b.detail}`;
  const mem = b.freeBytes !== undefined && b.totalBytes ? `; ${formatBytes(b.freeBytes)} free of ${formatBytes(b.totalBytes)}` : '';
  return `${b.name}: ${b.detail}${archs}${mem}`;
}

export function versionText(): string {
  const lines = [`llama4 ${VERSION}`];
  try {
    for (const b of addon().systemInfo().backends) lines.push(`  ${backendLine(b)}`);
  } catch (e) {
    lines.push(`  (the native addon did not load: ${(e as Error).message})`);
  }
  return lines.join('\n');
}

/** The CUDA backend's line, for commands that say where the weights are. */
export function cudaLine(): string {
  const b = cudaBackend();
  return b ? backendLine(b) : 'cuda: not compiled';
}
