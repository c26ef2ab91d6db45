// Byte-level helpers shared by the tokenizers and the detokenizer: UTF-8 encoding of JS strings
// and GPT-2's byte <-> unicode map (llama.cpp unicode.cpp: unicode_byte_to_utf8 / unicode_utf8_to_byte).

/** GPT-2 byte-to-unicode: printable latin-1 bytes map to themselves, the other 68 bytes to U+0100.. in order. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out = new Array<string>(256);
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : next++);
  }
  return out;
})();

/** Inverse of BYTE_TO_CHAR, indexed by UTF-16 code unit (all mapped chars are < U+0144); -1 = not a byte char. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const out = new Int16Array(0x144).fill(-1);
  for (let b = 0; b < 256; b++) out[BYTE_TO_CHAR[b].charCodeAt(0)] = b;
  return out;
})();

/** A byte-level token text back to raw bytes; `null` when a char is outside the byte map (llama_decode_text's UNK case). */
export function byteLevelDecode(text: string): Uint8Array | null {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) return null;
    out[i] = b;
  }
  return out;
}

const encoder = new TextEncoder();

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Appends the UTF-8 bytes of text[start, end) to `out` starting at `pos`; returns the new position.
 * Lone surrogates become U+FFFD like TextEncoder. `out` must have room for 3 bytes per UTF-16 unit.
 */
export function utf8EncodeInto(text: string, start: number, end: number, out: Uint8Array, pos: number): number {
  for (let i = start; i < end; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[pos++] = c;
    } else if (c < 0x800) {
      out[pos++] = 0xc0 | (c >> 6);
      out[pos++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          out[pos++] = 0xf0 | (cp >> 18);
          out[pos++] = 0x80 | ((cp >> 12) & 63);
          out[pos++] = 0x80 | ((cp >> 6) & 63);
          out[pos++] = 0x80 | (cp & 63);
          i++;
          continue;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      out[pos++] = 0xe0 | (c >> 12);
      out[pos++] = 0x80 | ((c >> 6) & 63);
      out[pos++] = 0x80 | (c & 63);
    }
  }
  return pos;
}

const lossy = new TextDecoder('utf-8', { ignoreBOM: true });

/** Bytes to text, invalid sequences as U+FFFD. */
export function utf8Decode(bytes: Uint8Array): string {
  return lossy.decode(bytes);
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes to text, or null when they are not complete, valid UTF-8. */
export function utf8DecodeStrict(bytes: Uint8Array): string | null {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}
