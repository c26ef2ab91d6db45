// Typed access to a GGUF header's metadata. Key names come from the native name table (names.ts).
import { addon, type GgufHeader, type GgufKv, type GgufValue } from '../native/addon.js';
import { keyName } from './names.js';

/** A metadata key by its table id, e.g. key('CONTEXT_LENGTH', 'llama') === 'llama.context_length'. */
export const key = keyName;

export class Metadata {
  readonly entries: ReadonlyMap<string, GgufKv>;
  constructor(readonly header: GgufHeader) {
    this.entries = new Map(header.metadata.map((kv) => [kv.key, kv]));
  }
  get arch(): string {
    return this.string(key('GENERAL_ARCHITECTURE')) ?? '';
  }
  has(k: string): boolean {
    return this.entries.has(k);
  }
  value(k: string): GgufValue | undefined {
    return this.entries.get(k)?.value;
  }
  string(k: string): string | undefined {
    const v = this.value(k);
    return typeof v === 'string' ? v : undefined;
  }
  number(k: string): number | undefined {
    const v = this.value(k);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'boolean') return v ? 1 : 0;
    return undefined;
  }
  bool(k: string): boolean | undefined {
    const v = this.value(k);
    return typeof v === 'boolean' ? v : typeof v === 'number' ? v !== 0 : undefined;
  }
  /** full element count of an array key (even when the value was cut by arrayLimit) */
  count(k: string): number | undefined {
    return this.entries.get(k)?.count;
  }
}

export async function readMetadata(path: string, options?: { arrayLimit?: number; hparams?: boolean }) {
  return new Metadata(await addon().readGguf(path, options));
}
