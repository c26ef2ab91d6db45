// What the Jazzer.js fuzz targets share: turning fuzzer bytes into text (several ways, so that both raw
// UTF-8 and well-formed-but-odd strings are reached), the slow-input check, and the finding error.

/** A broken invariant: the message names it and shows the input's text. */
export class FuzzFinding extends Error {
  override name = 'FuzzFinding';
}

export function fail(what: string, detail: unknown): never {
  const shown = JSON.stringify(detail, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  throw new FuzzFinding(`${what}: ${shown !== undefined && shown.length > 600 ? `${shown.slice(0, 600)}...` : shown}`);
}

/** Pieces that break tokenizers and templates, for the fragment text mode (a byte >= 0x80 picks one). */
export const FRAGMENTS: readonly string[] = [
  ' ', '  ', '\t', '\n', '\r\n', '\r', '\u00a0', '\u0085', '\u2028', '\u3000', '\ufeff', '\u200b', '\u000b', '\f',
  "'s", "'S", "'ll", "'VE", "'d", "n't", '\u2019s', '0', '7', '123', '4567890', '\u0663', '\u00bd', '\u2460',
  'hello', 'World', 'HTTPServer', 'caf\u00e9', 'cafe\u0301', '\u00c4pfel', 'stra\u00dfe', '\u017f', '\u0130',
  '\u03a3\u03bf\u03c6\u03af\u03b1', '\u043f\u0440\u0438\u0432\u0435\u0442', '\u0645\u0631\u062d\u0628\u0627',
  '\u0928\u092e\u0938\u094d\u0924\u0947', '\u4f60\u597d', '\u65e5\u672c\u8a9e', '\ud55c\uad6d\uc5b4', '\u0e44\u0e17\u0e22',
  '\ud83e\udd99', '\ud83d\udc4d\ud83c\udffd', '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67', '\ud800', '\udfff',
  '\udc00\ud800', '\u0000', '\u001b[31m', '\u007f', '\u0300\u0301\u0302', '\u20ac', '//', '...', '!!', '{{', '}}',
  '{%', '%}', '{#', '#}', '\u2581', '\u0120', '\u010a', '<s>', '</s>', '<unk>', '<|im_start|>', '<|im_end|>',
  '<|endoftext|>', '<|begin_of_text|>', '<|eot_id|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot|>',
  '<|header_start|>', '<|header_end|>', '<0x0A>', '<0xFF>',
];

export const TEXT_MODES = 4;

/**
 * Text from bytes: 0 UTF-8 (invalid sequences become U+FFFD), 1 UTF-16LE code units (lone surrogates,
 * every BMP character), 2 Latin-1 (a char per byte), 3 fragments (a byte < 0x80 is itself, a byte >= 0x80
 * one of FRAGMENTS or of `extra`, e.g. a vocabulary's special tokens).
 */
export function textFrom(bytes: Uint8Array, mode: number, extra: readonly string[] = []): string {
  switch (mode % TEXT_MODES) {
    case 0:
      return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
    case 1: {
      let s = '';
      for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
      return s;
    }
    case 2:
      return String.fromCharCode(...bytes);
    default: {
      let s = '';
      const table = extra.length ? [...FRAGMENTS, ...extra] : FRAGMENTS;
      for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : table[(b - 0x80) % table.length];
      return s;
    }
  }
}

/** Whether s is well-formed UTF-16 (no lone surrogate), so it survives a round trip through UTF-8. */
export const wellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

/** CPU milliseconds of this process (all threads) spent in fn. */
export function cpuMs(fn: () => void): number {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

export const SLOW_MS = Number(process.env.FUZZ_SLOW_MS ?? 250);

/**
 * Runs check(input) and fails when it takes over `limit` ms of CPU twice in a row (the first run can pay
 * for JIT compilation or a GC; CPU time, not wall time, so a loaded machine does not make inputs slow).
 */
export function runTimed(check: () => void, what: () => unknown, limit = SLOW_MS): void {
  const first = cpuMs(check);
  if (first <= limit) return;
  const second = cpuMs(check);
  if (second > limit) fail(`slow input (${Math.round(first)} and ${Math.round(second)} ms CPU, limit ${limit} ms)`, what());
}

/** Async variant for targets that await (wall time: the work may wait on I/O or timers). */
export async function runTimedAsync(check: () => Promise<void>, what: () => unknown, limitMs: number): Promise<void> {
  let t0 = performance.now();
  await check();
  const first = performance.now() - t0;
  if (first <= limitMs) return;
  t0 = performance.now();
  await check();
  const second = performance.now() - t0;
  if (second > limitMs) fail(`slow request (${Math.round(first)} and ${Math.round(second)} ms, limit ${limitMs} ms)`, what());
}
