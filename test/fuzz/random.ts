// Seeded random inputs for the property tests of the JS-side parsers: text that mixes what breaks
// tokenizers (every kind of whitespace, digits, contractions, marks, scripts, astral characters, lone
// surrogates, control characters, special-token texts), raw bytes, and JSON values.
import { mulberry32 } from '../../src/sampling/rng.js';

export type Rand = () => number;
export const seeded = (seed: number): Rand => mulberry32(seed);

export const int = (r: Rand, n: number) => Math.floor(r() * n);
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

const FRAGMENTS = [
  ' ', '  ', '\t', '\n', '\r\n', '\r', '\u00a0', '\u0085', '\u2028', '\u3000', '\ufeff', '\u200b', '\u000b', '\f',
  "'s", "'S", "'ll", "'VE", "'d", "n't", '\u2019s', '0', '7', '123', '4567890', '\u0663', '\u00bd', '\u2460',
  'a', 'Z', 'hello', 'World', 'HTTPServer', 'getUserName', 'caf\u00e9', 'cafe\u0301', '\u00c4pfel', 'stra\u00dfe',
  '\u017f', '\u0130', '\u03a3\u03bf\u03c6\u03af\u03b1', '\u043f\u0440\u0438\u0432\u0435\u0442', '\u0645\u0631\u062d\u0628\u0627',
  '\u0928\u092e\u0938\u094d\u0924\u0947', '\u4f60\u597d', '\u65e5\u672c\u8a9e', '\ud55c\uad6d\uc5b4', '\u0e44\u0e17\u0e22',
  '\ud83e\udd99', '\ud83d\udc4d\ud83c\udffd', '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67', '\ud800', '\udfff', '\udc00\ud800',
  '\u0000', '\u0001', '\u001b[31m', '\u007f', '\u0300\u0301\u0302', '\u20ac', '$', '+', '<', '=', '>', '^', '~', '|', '//',
  '...', '!!', '?', '{{', '}}', '{%', '%}', '{#', '#}', '\\', '"', "'", '`', '\u2581', '\u0120', '\u010a',
];

/** A string of up to maxParts fragments, random code points and the given special texts. */
export function randomText(r: Rand, maxParts = 24, specials: readonly string[] = []): string {
  let s = '';
  const parts = int(r, maxParts + 1);
  for (let i = 0; i < parts; i++) {
    const k = r();
    if (k < 0.6) s += pick(r, FRAGMENTS);
    else if (k < 0.75) s += String.fromCodePoint(int(r, 0x80));
    else if (k < 0.9) s += String.fromCodePoint(int(r, 0x110000)); // surrogate code points too
    else if (k < 0.95 && specials.length) s += pick(r, specials);
    else s += String.fromCharCode(int(r, 0x10000));
  }
  return s;
}

export function randomBytes(r: Rand, maxLen = 64): Uint8Array {
  const b = new Uint8Array(int(r, maxLen + 1));
  for (let i = 0; i < b.length; i++) b[i] = r() < 0.5 ? int(r, 0x80) : int(r, 0x100);
  return b;
}

/** Whether s is well-formed UTF-16 (no lone surrogate), so it survives a round trip through UTF-8. */
export const wellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

/** A random JSON value of bounded depth: the shapes request bodies are made of, and the odd ones. */
export function randomJson(r: Rand, depth = 3): unknown {
  const k = int(r, depth > 0 ? 10 : 7);
  switch (k) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return pick(r, [0, -1, 1, 2, 0.5, -0.5, 1e9, -1e9, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, 5e-324, 16, 4096]);
    case 3: return int(r, 100) - 10;
    case 4: return randomText(r, 6);
    case 5: return pick(r, ['', 'system', 'user', 'assistant', 'developer', 'tool', 'text', 'image_url', 'Hi', '\u0000']);
    case 6: return r() * 4 - 2;
    case 7: return Array.from({ length: int(r, 4) }, () => randomJson(r, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 4); i > 0; i--) o[pick(r, ['role', 'content', 'type', 'text', 'name', '__proto__', 'constructor', randomText(r, 2)])] = randomJson(r, depth - 1);
      return o;
    }
  }
}

/** Milliseconds a call takes, and what it returned or threw. */
export function timed<T>(fn: () => T): { ms: number; value?: T; error?: unknown } {
  const t0 = performance.now();
  try {
    const value = fn();
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}
