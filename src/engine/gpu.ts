// The GPU this build can use, if any, and the placement plan for a model file on it (placement.ts decides;
// this reads the addon's backends and the file's tensors).
import { addon, type BackendInfo, type GgufHeader } from '../native/addon.js';
import { placementModel, planPlacement, type ContextShape, type GpuMemory, type Placement, type PlacementOptions } from './placement.js';

export function cudaBackend(): BackendInfo | undefined {
  return addon().systemInfo().backends.find((b) => b.name === 'cuda');
}

/** Device 0 with its free memory, or null when no CUDA device is usable (not compiled, no driver, no GPU). */
export function usableGpu(): GpuMemory | null {
  const b = cudaBackend();
  if (!b?.available || b.freeBytes === undefined) return null;
  return { name: 'CUDA0', freeBytes: b.freeBytes, totalBytes: b.totalBytes ?? b.freeBytes };
}

/** The plan for a file's tensors (a header read with hparams) and a context of `ctx`. */
export function planForHeader(h: GgufHeader, opts: PlacementOptions, ctx: ContextShape, gpu: GpuMemory | null): Placement {
  if (!h.hparams) throw new Error(`cannot plan a placement for '${h.path}': ${h.hparamsError ?? 'no hyper-parameters'}`);
  const tensors = h.tensors.map((t) => ({ name: t.name, bytes: t.bytes }));
  return planPlacement(placementModel(tensors, h.hparams, ctx), opts, gpu);
}

/** What a command that runs a model says about placement before it starts ('' when nothing to say). */
export function placementWarning(opts: PlacementOptions): string {
  const asked = (opts.gpuLayers !== undefined && opts.gpuLayers !== 0 && opts.gpuLayers !== 'auto') || opts.cpuMoe || opts.nCpuMoe !== undefined || !!opts.overrides?.length;
  const b = cudaBackend();
  if (b?.available) {
    return 'llama4: warning: a CUDA device is present, but the CUDA forward pass is not part of this build yet: the model runs on the CPU\n';
  }
  if (!asked) return '';
  const why = !b?.compiled ? 'this build has no CUDA backend' : `no usable GPU: ${b.detail}`;
  return `llama4: warning: ${why}; the placement flags (-ngl, --cpu-moe, --n-cpu-moe, -ot) are ignored\n`;
}
