// GGUF key and tensor names from the native name table (native/src/model/names.h via ggufNames()),
// so the writer, the generator and the loader can never disagree on a spelling.
import { addon, type NameTable } from '../native/addon.js';

let table: NameTable | undefined;
/** The native name table, read once. */
export function nameTable(): NameTable {
  table ??= addon().ggufNames();
  return table;
}
const names = nameTable;

/** keyName('CONTEXT_LENGTH', 'llama4') === 'llama4.context_length' */
export function keyName(id: string, arch = ''): string {
  const fmt = names().keys[id];
  if (fmt === undefined) throw new Error(`unknown GGUF key id '${id}'`);
  if (fmt.includes('%s') && !arch) throw new Error(`GGUF key '${fmt}' needs an architecture`);
  return fmt.replace('%s', arch);
}

/** tensorName('ATTN_Q', 3) === 'blk.3.attn_q.weight'; tensorName('OUTPUT') === 'output.weight'; suffix '' = bare name */
export function tensorName(id: string, layer?: number, suffix = 'weight'): string {
  const fmt = names().tensors[id];
  if (fmt === undefined) throw new Error(`unknown GGUF tensor id '${id}'`);
  let name = fmt;
  if (fmt.includes('%d')) {
    if (layer === undefined || !Number.isInteger(layer) || layer < 0)
      throw new Error(`tensor '${fmt}' needs a block index (got ${layer})`);
    name = fmt.replace('%d', String(layer));
  }
  return suffix ? `${name}.${suffix}` : name;
}
