// Byte-level GGUF builder for hostile-input tests: every field is written exactly as given, so tests
// can produce files no well-behaved writer would (absurd counts, bad offsets, wrong types).
export class Raw {
  private parts: Buffer[] = [];
  u8(v: number) { this.parts.push(Buffer.from([v & 0xff])); return this; }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.parts.push(b); return this; }
  u64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); return this; }
  f32(v: number) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.parts.push(b); return this; }
  bytes(b: Uint8Array | string) { this.parts.push(typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b)); return this; }
  str(s: string, len?: number | bigint) { const b = Buffer.from(s, 'utf8'); this.u64(len ?? b.length); this.parts.push(b); return this; }
  get length() { return this.parts.reduce((n, p) => n + p.length, 0); }
  pad(align: number) { const r = this.length % align; if (r) this.parts.push(Buffer.alloc(align - r)); return this; }
  build(): Uint8Array { return new Uint8Array(Buffer.concat(this.parts)); }
}

export const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9, U64: 10, I64: 11, F64: 12 };

/** header: magic, version, tensor count, kv count */
export function header(nTensors: number | bigint, nKv: number | bigint, version = 3): Raw {
  return new Raw().bytes('GGUF').u32(version).u64(nTensors).u64(nKv);
}

/** one tensor info record */
export function tensorInfo(r: Raw, name: string, dims: (number | bigint)[], type: number, offset: number | bigint): Raw {
  r.str(name).u32(dims.length);
  for (const d of dims) r.u64(d);
  return r.u32(type).u64(offset);
}

/** A minimal valid file: one u32 key and one F32 tensor of n elements. */
export function validFile(n = 8): Uint8Array {
  const r = header(1, 1).str('general.architecture').u32(T.STR).str('llama');
  tensorInfo(r, 'w', [n], 0, 0).pad(32);
  return r.bytes(new Uint8Array(n * 4)).build();
}
