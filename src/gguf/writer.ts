// GGUF v3 writer (little-endian), streaming tensor data to disk so multi-GB models never sit in memory.
//
// Layout (spec-gguf-llama4.md section 1): magic, version 3, u64 tensor count, u64 KV count, KV records,
// tensor infos, zero padding to ALIGNMENT, then the tensor data. Offsets follow llama.cpp's strict packing
// rule: in info order, each offset is the running sum of the previous tensors' sizes rounded up to
// ALIGNMENT (first at 0); every tensor, the last included, is zero-padded to ALIGNMENT as gguf-py does.
import { rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { endianness } from 'node:os';
import { addon, type GgufKv, type TypeRow } from '../native/addon.js';
import { keyName } from './names.js';

/** Metadata value types, by the names readGguf() reports. */
export type GgufMetaType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'str' | 'u64' | 'i64' | 'f64';

export const GGUF_META_TYPE_ID: Readonly<Record<GgufMetaType | 'array', number>> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, str: 8, array: 9, u64: 10, i64: 11, f64: 12,
};

const SIZE: Readonly<Record<Exclude<GgufMetaType, 'str'>, number>> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8,
};

const INT_RANGE: Readonly<Partial<Record<GgufMetaType, [bigint, bigint]>>> = {
  u8: [0n, 0xffn], i8: [-0x80n, 0x7fn], u16: [0n, 0xffffn], i16: [-0x8000n, 0x7fffn],
  u32: [0n, 0xffffffffn], i32: [-0x80000000n, 0x7fffffffn],
  u64: [0n, 0xffffffffffffffffn], i64: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

export type GgufTypedArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | Float32Array | Float64Array | BigUint64Array | BigInt64Array;
export type GgufWriteScalar = number | bigint | string | boolean;
export type GgufWriteArray = GgufTypedArray | readonly string[] | readonly boolean[] | readonly number[] | readonly bigint[];
export type GgufWriteValue = GgufWriteScalar | GgufWriteArray;

/** A chunk of tensor bytes. A Float32Array chunk for a non-F32 tensor is converted with the native quantizer. */
export type TensorChunk = ArrayBufferView;
export type TensorChunks = TensorChunk | Iterable<TensorChunk> | AsyncIterable<TensorChunk>;
/** Tensor data: the bytes, or a callback run when the tensor is written (so data can be produced lazily). */
export type TensorData = TensorChunk | (() => TensorChunks | Promise<TensorChunks>);

export interface GgufWriterOptions {
  /** data alignment; default 32. Written as `general.alignment` (u32) when not 32 or when writeAlignmentKey is set. */
  alignment?: number;
  writeAlignmentKey?: boolean;
}

interface Kv {
  key: string;
  type: GgufMetaType;
  isArray: boolean;
  value: GgufWriteValue;
  /** the encoded record, written as it is (setRecord) */
  record?: Uint8Array;
}

export interface TensorLayout {
  name: string;
  shape: number[];
  type: number;
  /** relative to the start of the data section */
  offset: number;
  bytes: number;
}

interface Tensor extends TensorLayout {
  data: TensorData;
}

export interface GgufLayout {
  alignment: number;
  /** absolute file offset of the data section */
  dataOffset: number;
  fileSize: number;
  tensors: TensorLayout[];
}

const MAX_TENSOR_NAME = 63; // GGML_MAX_NAME - 1
const MAX_DIMS = 4;

let typeRows: TypeRow[] | undefined;
function typeRow(id: number): TypeRow {
  typeRows ??= addon().typeTable();
  const row = typeRows.find((r) => r.id === id);
  if (!row || row.blockSize <= 0) throw new Error(`ggml type id ${id} cannot be stored in a GGUF file`);
  return row;
}

/** Bytes of a tensor of `shape` (ne order) and ggml type id `type`. */
export function tensorBytes(shape: readonly number[], type: number): number {
  const row = typeRow(type);
  if (shape[0] % row.blockSize !== 0)
    throw new Error(`${row.name} tensor row length ${shape[0]} is not a multiple of the block size ${row.blockSize}`);
  const n = shape.reduce((a, b) => a * b, 1);
  return (n / row.blockSize) * row.typeSize;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

function typedArrayType(v: ArrayBufferView): GgufMetaType | undefined {
  if (v instanceof Uint8Array) return 'u8';
  if (v instanceof Int8Array) return 'i8';
  if (v instanceof Uint16Array) return 'u16';
  if (v instanceof Int16Array) return 'i16';
  if (v instanceof Uint32Array) return 'u32';
  if (v instanceof Int32Array) return 'i32';
  if (v instanceof Float32Array) return 'f32';
  if (v instanceof Float64Array) return 'f64';
  if (v instanceof BigUint64Array) return 'u64';
  if (v instanceof BigInt64Array) return 'i64';
  return undefined;
}

function inferScalar(v: GgufWriteScalar): GgufMetaType {
  switch (typeof v) {
    case 'string': return 'str';
    case 'boolean': return 'bool';
    case 'bigint': return v < 0n ? 'i64' : 'u64';
    default:
      if (!Number.isInteger(v)) return 'f32';
      if (v >= 0 && v <= 0xffffffff) return 'u32';
      if (v >= -0x80000000 && v < 0) return 'i32';
      return 'i64';
  }
}

function inferArray(v: GgufWriteArray, key: string): GgufMetaType {
  if (ArrayBuffer.isView(v)) return typedArrayType(v)!;
  const a = v as readonly GgufWriteScalar[];
  if (a.length === 0) throw new Error(`metadata '${key}': give the element type of an empty array`);
  const first = a[0];
  if (typeof first === 'string') return 'str';
  if (typeof first === 'boolean') return 'bool';
  if (typeof first === 'bigint') return (a as readonly bigint[]).some((x) => x < 0n) ? 'i64' : 'u64';
  // gguf-py's default: integer lists are INT32, anything else FLOAT32
  return (a as readonly number[]).every((x) => Number.isInteger(x)) ? 'i32' : 'f32';
}

function checkValue(key: string, type: GgufMetaType, v: GgufWriteScalar): void {
  const bad = (why: string) => new Error(`metadata '${key}' (${type}): ${why}: ${String(v)}`);
  if (type === 'str') {
    if (typeof v !== 'string') throw bad('expected a string');
  } else if (type === 'bool') {
    if (typeof v !== 'boolean' && v !== 0 && v !== 1) throw bad('expected a boolean');
  } else if (type === 'f32' || type === 'f64') {
    if (typeof v !== 'number' && typeof v !== 'bigint') throw bad('expected a number');
  } else {
    if (typeof v === 'number' && !Number.isInteger(v)) throw bad('expected an integer');
    if (typeof v !== 'number' && typeof v !== 'bigint') throw bad('expected an integer');
    const [lo, hi] = INT_RANGE[type]!;
    const b = BigInt(v);
    if (b < lo || b > hi) throw bad('out of range');
  }
}

/** A growable little-endian byte buffer for the header. */
class HeaderBuf {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  n = 0;
  private reserve(k: number) {
    if (this.n + k <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.n + k) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  bytes(b: Uint8Array) {
    this.reserve(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  u32(v: number) { this.reserve(4); this.view.setUint32(this.n, v, true); this.n += 4; }
  u64(v: number | bigint) { this.reserve(8); this.view.setBigUint64(this.n, BigInt(v), true); this.n += 8; }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }
  scalar(type: Exclude<GgufMetaType, 'str'>, v: GgufWriteScalar) {
    this.reserve(8);
    const d = this.view, o = this.n;
    switch (type) {
      case 'u8': d.setUint8(o, Number(v)); break;
      case 'i8': d.setInt8(o, Number(v)); break;
      case 'u16': d.setUint16(o, Number(v), true); break;
      case 'i16': d.setInt16(o, Number(v), true); break;
      case 'u32': d.setUint32(o, Number(v), true); break;
      case 'i32': d.setInt32(o, Number(v), true); break;
      case 'f32': d.setFloat32(o, Number(v), true); break;
      case 'f64': d.setFloat64(o, Number(v), true); break;
      case 'bool': d.setUint8(o, v === true || v === 1 ? 1 : 0); break;
      case 'u64': d.setBigUint64(o, BigInt(v), true); break;
      case 'i64': d.setBigInt64(o, BigInt(v), true); break;
    }
    this.n += SIZE[type];
  }
}

/** The part of a FileHandle the writer uses. */
export interface WriterFileHandle {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How GgufWriter.write creates its temporary file. A seam for tests: replacing `open` (and putting it
 * back) simulates a file system that fails part-way, e.g. a full disk, for every writer in the process
 * (quantize, calibrate's adapters, split).
 */
export const writerIo = {
  open: (path: string): Promise<WriterFileHandle> => open(path, 'w'),
};

/** Out-of-space errors, by errno code: what the user reads. */
const SPACE_ERRORS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file size limit exceeded', // the file system's largest file, or the process's RLIMIT_FSIZE
};

/** A failed operation on the output file itself (not an error of the data being written), until reported. */
class OutputFailure {
  constructor(readonly error: unknown) {}
}
/** Runs one operation on the output file, marking its failure as the output's. */
async function outputOp<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw new OutputFailure(e);
  }
}

/** The error a failed output file reports: the file system's errno `code` and the original as `cause`. */
export class GgufWriteError extends Error {
  override name = 'GgufWriteError';
  constructor(message: string, readonly code: string | undefined, options: { cause: unknown }) {
    super(message, options);
  }
}

/** Buffered sequential file output. `written`: bytes accepted; `flushed`: bytes the file holds. */
class FileOut {
  private buf = Buffer.allocUnsafe(8 << 20);
  private n = 0;
  written = 0;
  flushed = 0;
  constructor(private fh: WriterFileHandle) {}
  async write(b: Uint8Array) {
    this.written += b.length;
    if (this.n + b.length > this.buf.length) await this.flush();
    if (b.length >= this.buf.length) {
      await this.put(b, b.length);
      return;
    }
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  async zeros(k: number) {
    if (k > 0) await this.write(new Uint8Array(k));
  }
  async flush() {
    await this.put(this.buf, this.n);
    this.n = 0;
  }
  private async put(b: Uint8Array, len: number) {
    let off = 0;
    while (off < len) {
      const { bytesWritten } = await outputOp(() => this.fh.write(b, off, len - off));
      if (!(bytesWritten > 0)) throw new OutputFailure(Object.assign(new Error('EIO: the file system accepted no bytes, write'), { code: 'EIO' }));
      off += bytesWritten;
      this.flushed += bytesWritten;
    }
  }
}

function asBytes(c: ArrayBufferView): Uint8Array {
  return c instanceof Uint8Array ? c : new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
}

async function* chunksOf(data: TensorData): AsyncGenerator<TensorChunk> {
  const d = typeof data === 'function' ? await data() : data;
  if (ArrayBuffer.isView(d)) {
    yield d;
  } else if (Symbol.asyncIterator in d) {
    yield* d as AsyncIterable<TensorChunk>;
  } else {
    yield* d as Iterable<TensorChunk>;
  }
}

let tmpSeq = 0;
// Temporary files being written, removed by a process.exit() during the write (a second Ctrl-C) too.
const pendingTmp = new Set<string>();
let exitHooked = false;
function trackTmp(tmp: string): void {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const p of pendingTmp) rmSync(p, { force: true });
    });
  }
  pendingTmp.add(tmp);
}

interface FsError extends Error {
  code?: string;
}
/** "permission denied (EACCES)" from "EACCES: permission denied, open '...'" (the temporary file's name is noise). */
function fsReason(e: FsError): string {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /^E[A-Z0-9]+: (.*?), \w+\b/.exec(msg);
  return m && e.code ? `${m[1]} (${e.code})` : msg;
}

export class GgufWriter {
  private kvs = new Map<string, Kv>();
  private tensors: Tensor[] = [];
  private alignmentOpt: number;
  private writeAlignmentKey: boolean;

  constructor(options: GgufWriterOptions = {}) {
    this.alignmentOpt = options.alignment ?? 32;
    this.writeAlignmentKey = options.writeAlignmentKey ?? false;
    GgufWriter.checkAlignment(this.alignmentOpt);
    if (endianness() !== 'LE') throw new Error('GgufWriter writes little-endian files and needs a little-endian host');
  }

  private static checkAlignment(a: number) {
    if (!Number.isInteger(a) || a <= 0 || a > 0xffffffff || (a & (a - 1)) !== 0)
      throw new Error(`GGUF alignment must be a power of two that fits u32, got ${a}`);
  }

  get alignment(): number {
    const kv = this.kvs.get(keyName('GENERAL_ALIGNMENT'));
    return kv ? Number(kv.value) : this.alignmentOpt;
  }

  /**
   * Set a metadata key (a second set() of the same key replaces the value in place).
   * `type` forces the stored type: for arrays it is the element type. Without it: string -> str,
   * boolean -> bool, integer number -> u32 (i32 if negative), other number -> f32, bigint -> u64/i64;
   * typed arrays by their element type; number[] -> i32 if all integers else f32 (as gguf-py).
   * Force 'f32' for floats with integral values (e.g. rope.freq_base 500000), llama.cpp checks types.
   */
  set(key: string, value: GgufWriteValue, type?: GgufMetaType): this {
    if (!key) throw new Error('metadata key must not be empty');
    if (Buffer.byteLength(key, 'utf8') > 0xffff) throw new Error(`metadata key is longer than 65535 bytes`);
    const isArray = Array.isArray(value) || ArrayBuffer.isView(value);
    const t = type ?? (isArray ? inferArray(value as GgufWriteArray, key) : inferScalar(value as GgufWriteScalar));
    if (!(t in GGUF_META_TYPE_ID) || (t as string) === 'array') throw new Error(`metadata '${key}': unknown type '${t}'`);
    if (isArray) {
      const arr = value as GgufWriteArray;
      if (arr.length > 2 ** 30) throw new Error(`metadata '${key}': array of ${arr.length} elements exceeds llama.cpp's 2^30`);
      if (!(ArrayBuffer.isView(arr) && typedArrayType(arr) === t))
        for (const el of arr as Iterable<GgufWriteScalar>) checkValue(key, t, el as GgufWriteScalar);
    } else {
      checkValue(key, t, value as GgufWriteScalar);
    }
    if (key === keyName('GENERAL_ALIGNMENT')) {
      if (isArray || t !== 'u32') throw new Error(`'${key}' must be a u32 scalar (llama.cpp rejects other types)`);
      GgufWriter.checkAlignment(Number(value));
    }
    this.kvs.set(key, { key, type: t, isArray, value });
    return this;
  }

  /**
   * Set a metadata key from its encoded record in another GGUF (key, value type and value, as readGguf's
   * `offset` / `recordBytes` locate it), written byte for byte: strings that are not valid UTF-8 survive.
   * `kv` is readGguf's entry for it (key, type and scalar value).
   */
  setRecord(kv: GgufKv, record: Uint8Array): this {
    const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
    const keyLen = record.length >= 8 ? Number(view.getBigUint64(0, true)) : -1;
    const key = keyLen >= 0 && 8 + keyLen + 4 <= record.length ? Buffer.from(record.subarray(8, 8 + keyLen)).toString('utf8') : undefined;
    if (key !== kv.key) throw new Error(`metadata record of ${record.length} bytes does not hold key '${kv.key}'`);
    const type = (kv.type === 'array' ? kv.elementType : kv.type) as GgufMetaType;
    if (key === keyName('GENERAL_ALIGNMENT')) this.set(key, kv.value as GgufWriteValue, type); // checks it
    this.kvs.set(key, { key, type, isArray: kv.type === 'array', value: kv.value as GgufWriteValue, record: record.slice() });
    return this;
  }

  has(key: string): boolean {
    return this.kvs.has(key);
  }

  delete(key: string): this {
    this.kvs.delete(key);
    return this;
  }

  /** Tensor with shape in ne order (shape[0] contiguous), ggml type id, and its data or a data callback. */
  addTensor(name: string, shape: readonly number[], type: number, data: TensorData): this {
    if (!name || Buffer.byteLength(name, 'utf8') > MAX_TENSOR_NAME)
      throw new Error(`tensor name '${name}' must be 1..${MAX_TENSOR_NAME} bytes`);
    if (this.tensors.some((t) => t.name === name)) throw new Error(`duplicate tensor name '${name}'`);
    if (shape.length < 1 || shape.length > MAX_DIMS || shape.some((d) => !Number.isInteger(d) || d < 1))
      throw new Error(`tensor '${name}': shape [${shape.join(', ')}] must have 1..${MAX_DIMS} positive dims`);
    let bytes: number;
    try {
      bytes = tensorBytes(shape, type);
    } catch (e) {
      throw new Error(`tensor '${name}': ${(e as Error).message}`);
    }
    this.tensors.push({ name, shape: [...shape], type, offset: 0, bytes, data });
    return this;
  }

  private finalKvs(): Kv[] {
    const kvs = [...this.kvs.values()];
    const ak = keyName('GENERAL_ALIGNMENT');
    if (!this.kvs.has(ak) && (this.alignmentOpt !== 32 || this.writeAlignmentKey))
      kvs.push({ key: ak, type: 'u32', isArray: false, value: this.alignmentOpt });
    return kvs;
  }

  private header(): { head: HeaderBuf; layout: GgufLayout } {
    const align = this.alignment;
    const kvs = this.finalKvs();
    const h = new HeaderBuf();
    h.bytes(Buffer.from('GGUF', 'latin1'));
    h.u32(3);
    h.u64(this.tensors.length);
    h.u64(kvs.length);
    for (const kv of kvs) {
      if (kv.record) {
        h.bytes(kv.record);
        continue;
      }
      h.str(kv.key);
      if (!kv.isArray) {
        h.u32(GGUF_META_TYPE_ID[kv.type]);
        if (kv.type === 'str') h.str(kv.value as string);
        else h.scalar(kv.type, kv.value as GgufWriteScalar);
        continue;
      }
      const arr = kv.value as GgufWriteArray;
      h.u32(GGUF_META_TYPE_ID.array);
      h.u32(GGUF_META_TYPE_ID[kv.type]);
      h.u64(arr.length);
      if (kv.type === 'str') {
        for (const s of arr as readonly string[]) h.str(s);
      } else if (ArrayBuffer.isView(arr) && typedArrayType(arr) === kv.type) {
        h.bytes(asBytes(arr)); // same element type: copy the bytes as they are
      } else {
        for (const el of arr as Iterable<GgufWriteScalar>) h.scalar(kv.type, el);
      }
    }
    let offset = 0;
    const tensors: TensorLayout[] = [];
    for (const t of this.tensors) {
      t.offset = offset;
      h.str(t.name);
      h.u32(t.shape.length);
      for (const d of t.shape) h.u64(d);
      h.u32(t.type);
      h.u64(offset);
      tensors.push({ name: t.name, shape: t.shape, type: t.type, offset, bytes: t.bytes });
      offset += alignUp(t.bytes, align);
    }
    const dataOffset = this.tensors.length > 0 ? alignUp(h.n, align) : h.n;
    return { head: h, layout: { alignment: align, dataOffset, fileSize: dataOffset + offset, tensors } };
  }

  /** Where everything will land, without writing. */
  layout(): GgufLayout {
    return this.header().layout;
  }

  /**
   * Write the file: into a temporary file beside it (PATH.PID.N.tmp, unique, so two writers of one PATH
   * do not mix their bytes), flushed to disk and renamed to PATH at the end. On any error the temporary
   * file is removed and PATH is as it was (absent, or the previous file untouched). A full disk (ENOSPC),
   * an exceeded quota (EDQUOT) or file size limit (EFBIG) reads e.g.
   *   no space left on device writing 'PATH' (N of M bytes written); nothing was written
   * other failures of the output file `cannot write 'PATH': REASON`; errors of the tensor data pass
   * through as they are.
   */
  async write(path: string): Promise<GgufLayout> {
    const { head, layout } = this.header();
    const tmp = `${path}.${process.pid}.${++tmpSeq}.tmp`;
    // an output failure becomes one clear error; the data's own errors pass through
    const fail = (f: unknown, written: number): never => {
      if (!(f instanceof OutputFailure)) throw f;
      const e = f.error as FsError;
      const code = typeof e?.code === 'string' ? e.code : undefined;
      const space = SPACE_ERRORS[code ?? ''];
      if (space)
        throw new GgufWriteError(`${space} writing '${path}' (${written} of ${layout.fileSize} bytes written); nothing was written`, code, { cause: e });
      throw new GgufWriteError(`cannot write '${path}': ${fsReason(e)}`, code, { cause: e });
    };
    let fh: WriterFileHandle;
    try {
      fh = await outputOp(() => writerIo.open(tmp));
    } catch (e) {
      return fail(e, 0);
    }
    trackTmp(tmp);
    const out = new FileOut(fh);
    try {
      try {
        await out.write(head.buf.subarray(0, head.n));
        await out.zeros(layout.dataOffset - head.n);
        for (const t of this.tensors) {
          let n = 0;
          for await (const c of chunksOf(t.data)) {
            const b = this.chunkBytes(t, c);
            n += b.length;
            if (n > t.bytes) throw new Error(`tensor '${t.name}': data exceeds its ${t.bytes} bytes`);
            await out.write(b);
          }
          if (n !== t.bytes) throw new Error(`tensor '${t.name}': got ${n} bytes of data, expected ${t.bytes}`);
          await out.zeros(alignUp(t.bytes, layout.alignment) - t.bytes);
        }
        await out.flush();
        if (out.written !== layout.fileSize)
          throw new Error(`internal: wrote ${out.written} bytes, layout says ${layout.fileSize}`);
        // on disk before it takes PATH's place: some file systems report a full disk only here (or at close)
        await outputOp(() => fh.sync());
        await outputOp(() => fh.close());
      } catch (e) {
        await fh.close().catch(() => {});
        fail(e, out.flushed);
      }
      try {
        await outputOp(() => rename(tmp, path));
      } catch (e) {
        fail(e, out.flushed);
      }
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => {});
      throw e;
    } finally {
      pendingTmp.delete(tmp);
    }
    return layout;
  }

  private chunkBytes(t: Tensor, c: TensorChunk): Uint8Array {
    if (c instanceof Float32Array && t.type !== 0) {
      const row = typeRow(t.type);
      if (!row.canQuantize) throw new Error(`tensor '${t.name}': cannot convert f32 data to ${row.name}`);
      if (c.length % row.blockSize !== 0)
        throw new Error(`tensor '${t.name}': f32 chunk of ${c.length} values is not a whole number of ${row.name} blocks`);
      return addon().quantize(t.type, c);
    }
    return asBytes(c);
  }
}
