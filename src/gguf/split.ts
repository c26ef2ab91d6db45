// Splitting a GGUF into the parts llama.cpp's `llama-gguf-split --split` writes, byte for byte for files of
// the default alignment: PREFIX-00001-of-0000N.gguf ... each a whole GGUF holding some of the tensors (in
// the source's order), part 1 also every metadata key of the source; each part ends its keys with split.no
// (u16, 0-based), split.tensors.count (i32, all parts) and split.count (u16), in that order, as
// gguf_set_val moves a key it sets again to the end. The loader (GgufFile::open_model) reads them back as
// one model from any part's path.
import { open } from 'node:fs/promises';
import { addon, type GgufHeader, type GgufTensor } from '../native/addon.js';
import { keyName } from './names.js';
import { GgufWriter } from './writer.js';

/** llama-gguf-split's default --split-max-tensors */
export const DEFAULT_MAX_TENSORS = 128;
/** GGUF_DEFAULT_ALIGNMENT: llama-gguf-split counts each tensor's bytes padded to it */
const SIZE_PAD = 32;
const READ_CHUNK = 16 << 20;

/** The path of part `no` (0-based) of `count`: llama_split_path's PREFIX-%05d-of-%05d.gguf. */
export function splitPath(prefix: string, no: number, count: number): string {
  const five = (n: number) => String(n).padStart(5, '0');
  return `${prefix}-${five(no + 1)}-of-${five(count)}.gguf`;
}

/** PREFIX, part index (0-based) and count of a path named as a part, or undefined. */
export function parseSplitPath(path: string): { prefix: string; no: number; count: number } | undefined {
  const m = /^(.+)-(\d{5})-of-(\d{5})\.gguf$/.exec(path);
  if (!m) return undefined;
  const no = Number(m[2]) - 1, count = Number(m[3]);
  return no >= 0 && no < count ? { prefix: m[1], no, count } : undefined;
}

export interface SplitOptions {
  /** at most this many tensors per part (--split-max-tensors; the default, 128, when maxBytes is not given) */
  maxTensors?: number;
  /** at most this many bytes of tensor data per part, each tensor counted padded to 32 (--split-max-size) */
  maxBytes?: number;
}

export interface SplitPartWritten {
  path: string;
  tensors: number;
  fileSize: number;
}

/**
 * Which tensors go to which part, as llama-gguf-split plans it: by count, a new part at every multiple
 * of maxTensors; by size, a new part when the next tensor would take the part past maxBytes (a tensor
 * larger than maxBytes gets a part of its own, where llama-gguf-split would stop with an empty part).
 */
export function planSplit(tensors: readonly Pick<GgufTensor, 'bytes'>[], opts: SplitOptions): number[][] {
  if (opts.maxTensors !== undefined && opts.maxBytes !== undefined) throw new Error('split by tensors or by bytes, not both');
  const maxT = opts.maxTensors ?? DEFAULT_MAX_TENSORS;
  if (opts.maxBytes === undefined && (!Number.isInteger(maxT) || maxT < 1)) throw new Error(`max tensors per part must be a positive integer, got ${maxT}`);
  if (opts.maxBytes !== undefined && !(opts.maxBytes > 0)) throw new Error(`max bytes per part must be positive, got ${opts.maxBytes}`);
  const parts: number[][] = [[]];
  let size = 0;
  tensors.forEach((t, i) => {
    const padded = Math.ceil(t.bytes / SIZE_PAD) * SIZE_PAD;
    const cur = parts[parts.length - 1];
    const split = opts.maxBytes !== undefined ? cur.length > 0 && size + padded > opts.maxBytes : i > 0 && i % maxT === 0;
    if (split) {
      parts.push([i]);
      size = padded;
    } else {
      cur.push(i);
      size += padded;
    }
  });
  return parts;
}

async function readAt(fh: import('node:fs/promises').FileHandle, path: string, offset: number, bytes: number): Promise<Uint8Array> {
  const buf = new Uint8Array(bytes);
  for (let got = 0; got < bytes; ) {
    const { bytesRead } = await fh.read(buf, got, bytes - got, offset + got);
    if (bytesRead === 0) throw new Error(`'${path}' is truncated (data past the end of the file)`);
    got += bytesRead;
  }
  return buf;
}

/** ggml_n_dims: the shape without trailing 1s (at least one dimension), as ggml writes tensor infos */
const trimShape = (shape: readonly number[]) => {
  let n = shape.length;
  while (n > 1 && shape[n - 1] === 1) n--;
  return shape.slice(0, n);
};

/**
 * Split the GGUF at `input` into parts named splitPath(outPrefix, k, n); returns the parts written. The
 * source must be a single file (not itself a split model) with at least one tensor.
 */
export async function splitGguf(input: string, outPrefix: string, opts: SplitOptions = {}): Promise<SplitPartWritten[]> {
  const h: GgufHeader = await addon().readGguf(input);
  if (h.parts) throw new Error(`'${input}' is already a split model (${h.parts.length} parts)`);
  if (h.tensors.length === 0) throw new Error(`'${input}' has no tensors to split`);
  const plan = planSplit(h.tensors, opts);
  const n = plan.length;
  if (n > 0xffff) throw new Error(`${n} parts is more than split.count (u16) can say`);
  const splitKeys = new Set(['SPLIT_NO', 'SPLIT_COUNT', 'SPLIT_TENSORS_COUNT'].map((k) => keyName(k)));
  const fh = await open(input, 'r');
  const written: SplitPartWritten[] = [];
  try {
    // part 1 carries the source's keys as they are encoded there
    const kvs = h.metadata.filter((kv) => !splitKeys.has(kv.key));
    const start = Math.min(...h.metadata.map((kv) => kv.offset)), end = Math.max(...h.metadata.map((kv) => kv.offset + kv.recordBytes));
    const records = h.metadata.length ? await readAt(fh, input, start, end - start) : new Uint8Array(0);
    for (let p = 0; p < n; p++) {
      const w = new GgufWriter({ alignment: h.alignment });
      if (p === 0) for (const kv of kvs) w.setRecord(kv, records.subarray(kv.offset - start, kv.offset - start + kv.recordBytes));
      w.set(keyName('SPLIT_NO'), p, 'u16');
      w.set(keyName('SPLIT_TENSORS_COUNT'), h.tensors.length, 'i32');
      w.set(keyName('SPLIT_COUNT'), n, 'u16');
      for (const i of plan[p]) {
        const t = h.tensors[i];
        w.addTensor(t.name, trimShape(t.shape), t.typeId, async function* () {
          for (let off = 0; off < t.bytes; off += READ_CHUNK) yield await readAt(fh, input, t.offset + off, Math.min(READ_CHUNK, t.bytes - off));
        });
      }
      const path = splitPath(outPrefix, p, n);
      const layout = await w.write(path);
      written.push({ path, tensors: plan[p].length, fileSize: layout.fileSize });
    }
  } finally {
    await fh.close();
  }
  return written;
}
