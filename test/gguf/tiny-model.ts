// The smallest llama model the loader accepts (the TS twin of native/fuzz/gguf_builder.h's TinyModel):
// n_embd 8, 2 blocks, 2 heads sharing 1 KV head, FFN 16, 8 tokens, F32 everywhere. Hostile-input tests
// take it and change one thing (a key, a shape, a tensor) so the loader's error is about that thing alone.
import { readFileSync } from 'node:fs';
import { keyName, tensorName } from '../../src/gguf/names.js';
import { GgufWriter, type GgufMetaType, type GgufWriteValue } from '../../src/gguf/writer.js';
import { addon } from '../../src/native/addon.js';

export const TINY = { embd: 8, layers: 2, heads: 2, headsKv: 1, ff: 16, vocab: 8 };
const F32 = 0;

export interface TinyOptions {
  /** blocks (default 2) */
  layers?: number;
  /** metadata to set or replace after the defaults: key id (names.h) -> value and type; null drops the key */
  keys?: Record<string, [GgufWriteValue, GgufMetaType?] | null>;
  /** tensor shapes to use instead of the right ones, by full tensor name */
  shapes?: Record<string, number[]>;
  /** more tensors (F32, filled with small values) */
  extra?: Record<string, number[]>;
}

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 31 + i) / 4);

export function tinyModel(o: TinyOptions = {}): GgufWriter {
  const a = 'llama';
  const w = new GgufWriter();
  const { embd: E, heads, headsKv, ff: F, vocab: V } = TINY;
  const layers = o.layers ?? TINY.layers;
  const kv: Record<string, [GgufWriteValue, GgufMetaType?]> = {
    GENERAL_ARCHITECTURE: [a],
    GENERAL_NAME: ['tiny'],
    CONTEXT_LENGTH: [64, 'u32'],
    EMBEDDING_LENGTH: [E, 'u32'],
    BLOCK_COUNT: [layers, 'u32'],
    FEED_FORWARD_LENGTH: [F, 'u32'],
    ATTN_HEAD_COUNT: [heads, 'u32'],
    ATTN_HEAD_COUNT_KV: [headsKv, 'u32'],
    ATTN_LAYERNORM_RMS_EPS: [1e-5, 'f32'],
    TOKENIZER_MODEL: ['llama'],
    TOKENIZER_TOKENS: [['<unk>', '<s>', '</s>', 'a', 'b', 'c', 'd', 'e']],
    TOKENIZER_SCORES: [Float32Array.from({ length: V }, (_, i) => -i)],
    TOKENIZER_TOKEN_TYPE: [Int32Array.from([2, 3, 3, 1, 1, 1, 1, 1])],
    TOKENIZER_BOS_ID: [1, 'u32'],
    TOKENIZER_EOS_ID: [2, 'u32'],
  };
  for (const [id, v] of Object.entries(o.keys ?? {})) {
    if (v === null) delete kv[id];
    else kv[id] = v;
  }
  for (const [id, [value, type]] of Object.entries(kv)) w.set(keyName(id, a), value, type);
  const hd = E / heads;
  const tensors: [string, number[]][] = [
    [tensorName('TOKEN_EMBD'), [E, V]],
    [tensorName('OUTPUT_NORM'), [E]],
    [tensorName('OUTPUT'), [E, V]],
  ];
  for (let il = 0; il < layers; il++)
    tensors.push(
      [tensorName('ATTN_NORM', il), [E]],
      [tensorName('ATTN_Q', il), [E, heads * hd]],
      [tensorName('ATTN_K', il), [E, headsKv * hd]],
      [tensorName('ATTN_V', il), [E, headsKv * hd]],
      [tensorName('ATTN_OUT', il), [heads * hd, E]],
      [tensorName('FFN_NORM', il), [E]],
      [tensorName('FFN_GATE', il), [E, F]],
      [tensorName('FFN_UP', il), [E, F]],
      [tensorName('FFN_DOWN', il), [F, E]],
    );
  tensors.push(...Object.entries(o.extra ?? {}));
  tensors.forEach(([name, shape], i) => {
    const s = o.shapes?.[name] ?? shape;
    w.addTensor(name, s, F32, values(s.reduce((p, d) => p * d, 1), i));
  });
  return w;
}

/**
 * A copy of one GGUF file (a single part: parsed from its bytes, other parts are not followed) with an edit:
 * every key record byte for byte and every tensor's data, then `edit` may set, delete or add.
 */
export async function rewriteGguf(src: string, dst: string, edit: (w: GgufWriter) => void): Promise<void> {
  const bytes = new Uint8Array(readFileSync(src));
  const h = await addon().readGguf(bytes, { arrayLimit: 0 });
  const w = new GgufWriter({ alignment: h.alignment });
  for (const kv of h.metadata) w.setRecord(kv, bytes.subarray(kv.offset, kv.offset + kv.recordBytes));
  for (const t of h.tensors) w.addTensor(t.name, t.shape, t.typeId, bytes.slice(t.offset, t.offset + t.bytes));
  edit(w);
  await w.write(dst);
}
