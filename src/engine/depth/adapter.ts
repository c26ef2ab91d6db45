// Depth-gate adapter files: a small GGUF beside the model (like a LoRA file) holding
// blk.N.depth_gate.weight [n_embd] and blk.N.depth_gate.bias [1] in F32, with metadata naming the base
// model and the calibrated thresholds. The base model file is never modified.
import { closeSync, openSync, readSync } from 'node:fs';
import { GgufWriter } from '../../gguf/writer.js';
import { addon, type GgufTensor } from '../../native/addon.js';
import { keyName, tensorName } from '../../gguf/names.js';

/** Which sublayer a gate decides: the whole block, its attention, or its FFN (format version 2). */
export type GateKind = 'block' | 'attn' | 'ffn';
export type Granularity = 'block' | 'attn' | 'ffn' | 'sublayer';

/** The adapter format this build writes (depth_gate.version); version 1 (no key) held block gates only. */
export const ADAPTER_VERSION = 2;

export interface GateTensor {
  layer: number;
  /** default 'block' */
  kind?: GateKind;
  w: Float32Array;
  b: number;
}

const TENSOR: Record<GateKind, string> = { block: 'DEPTH_GATE', attn: 'DEPTH_GATE_ATTN', ffn: 'DEPTH_GATE_FFN' };

export interface AdapterContent {
  arch: string;
  /** the base model's general.name or file name */
  baseModel: string;
  nLayer: number;
  gates: GateTensor[];
  /** global threshold (probability) */
  threshold: number;
  /** optional per-block thresholds, one per block (block gates; < 0: the global one) */
  thresholds?: Float32Array;
  /** the same for attention and FFN gates */
  thresholdsAttn?: Float32Array;
  thresholdsFfn?: Float32Array;
  granularity?: Granularity;
  kvMode?: 'fill' | 'skip';
  targetSkip?: number;
  /** free-form calibration report, stored as JSON text */
  calibration?: unknown;
}

const F32 = 0;

export async function writeDepthGates(path: string, a: AdapterContent): Promise<void> {
  const w = new GgufWriter();
  w.set(keyName('GENERAL_ARCHITECTURE'), a.arch);
  w.set(keyName('GENERAL_TYPE'), 'adapter');
  w.set(keyName('GENERAL_NAME'), `depth gates for ${a.baseModel}`);
  w.set(keyName('DEPTH_GATE_BASE_MODEL'), a.baseModel);
  w.set(keyName('DEPTH_GATE_VERSION'), ADAPTER_VERSION, 'u32');
  if (a.granularity) w.set(keyName('DEPTH_GATE_GRANULARITY'), a.granularity);
  w.set(keyName('DEPTH_GATE_THRESHOLD'), a.threshold, 'f32');
  for (const [th, id] of [[a.thresholds, 'DEPTH_GATE_THRESHOLDS'], [a.thresholdsAttn, 'DEPTH_GATE_THRESHOLDS_ATTN'], [a.thresholdsFfn, 'DEPTH_GATE_THRESHOLDS_FFN']] as const) {
    if (!th) continue;
    if (th.length !== a.nLayer) throw new Error(`thresholds: ${th.length} entries for ${a.nLayer} blocks`);
    w.set(keyName(id), th, 'f32');
  }
  if (a.kvMode) w.set(keyName('DEPTH_GATE_KV_MODE'), a.kvMode);
  if (a.targetSkip !== undefined) w.set(keyName('DEPTH_GATE_TARGET_SKIP'), a.targetSkip, 'f32');
  if (a.calibration !== undefined) w.set(keyName('DEPTH_GATE_CALIBRATION'), JSON.stringify(a.calibration));
  const order: GateKind[] = ['block', 'attn', 'ffn'];
  const sorted = [...a.gates].sort((x, y) => x.layer - y.layer || order.indexOf(x.kind ?? 'block') - order.indexOf(y.kind ?? 'block'));
  for (const g of sorted) {
    const id = TENSOR[g.kind ?? 'block'];
    w.addTensor(tensorName(id, g.layer, 'weight'), [g.w.length], F32, new Uint8Array(g.w.buffer, g.w.byteOffset, g.w.byteLength));
    w.addTensor(tensorName(id, g.layer, 'bias'), [1], F32, new Uint8Array(Float32Array.of(g.b).buffer));
  }
  await w.write(path);
}

/** The gate tensors of an adapter (F32), for tools that score tokens in JS (quota thresholds). */
export async function readGateTensors(path: string): Promise<GateTensor[]> {
  const h = await addon().readGguf(path, { arrayLimit: 0 });
  const fd = openSync(path, 'r');
  try {
    const read = (t: GgufTensor): Float32Array => {
      if (t.typeId !== F32) throw new Error(`'${path}': gate tensor ${t.name} is ${t.type}, expected F32`);
      const b = Buffer.alloc(t.bytes);
      for (let got = 0; got < t.bytes; ) {
        const n = readSync(fd, b, got, t.bytes - got, t.offset + got);
        // a file cut short after its header was read: an error, not gates silently filled with zeros
        if (n === 0) throw new Error(`'${path}' is truncated: gate tensor ${t.name} ends past the end of the file`);
        got += n;
      }
      return new Float32Array(b.buffer, b.byteOffset, t.bytes / 4);
    };
    const out: GateTensor[] = [];
    const byName = new Map(h.tensors.map((t) => [t.name, t]));
    for (const t of h.tensors) {
      const m = /^blk\.(\d+)\./.exec(t.name);
      if (!m) continue;
      const layer = Number(m[1]);
      for (const kind of Object.keys(TENSOR) as GateKind[]) {
        if (t.name !== tensorName(TENSOR[kind], layer, 'weight')) continue;
        const bias = byName.get(tensorName(TENSOR[kind], layer, 'bias'));
        if (!bias) throw new Error(`'${path}': ${t.name} has no bias`);
        out.push({ layer, kind, w: read(t), b: read(bias)[0] });
      }
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
