// Jazzer.js target: the tokenizers on arbitrary bytes. The first byte picks what runs: one of the
// pre-tokenizers' splitters (PRE_TOKENIZERS: split, and splitLlamaCpp where it differs) or one of the
// shared vocabularies (llama-spm, gpt-2, llama3-derived, llama4-derived and its llama.cpp mode, smollm2).
// The second byte picks how the rest becomes text (UTF-8, UTF-16 code units, Latin-1, fragments with the
// vocabulary's special texts) and the encode / decode options. The invariants are those of
// test/fuzz/tokenizer.fuzz.test.ts:
//  - splitters: nothing throws, the pieces are non-empty and cover the text;
//  - vocabularies: encode never throws and gives ids in range; byte-level BPE over a vocabulary with a
//    token for every byte loses nothing (decode(encode(text)) == text for well-formed text without a
//    leading U+FEFF, special tokens not parsed); decode and the streaming detokenizer agree on the ids
//    and on ids taken from the bytes; tokenToPiece answers a string;
//  - no input takes over 250 ms of CPU (twice), so a regex that backtracks is a finding.
import { PRE_TOKENIZERS, type Splitter } from '../../../src/tokenizer/pretokenizers.js';
import type { Tokenizer } from '../../../src/tokenizer/tokenizer.js';
import { TokenAttr } from '../../../src/tokenizer/vocab.js';
import { FUZZ_VOCABS as VOCABS, loadTokenizer } from '../../tokenizer/fixtures.js';
import { fail, runTimed, textFrom, wellFormed } from './common.js';

const SPLITTERS: Array<[string, Splitter]> = PRE_TOKENIZERS.flatMap((p) => [
  [p.name, p.split] as [string, Splitter],
  ...(p.splitLlamaCpp ? [[`${p.name} (llama.cpp)`, p.splitLlamaCpp] as [string, Splitter]] : []),
]);


interface Loaded {
  name: string;
  tok: Tokenizer;
  specials: string[];
  /** byte-level BPE with a token for every byte: encode + decode is lossless */
  allBytes: boolean;
}

/** The character byte-level BPE writes for byte b (GPT-2's bytes_to_unicode). */
function byteChar(b: number): string {
  const printable = (x: number) => (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
  if (printable(b)) return String.fromCharCode(b);
  let n = 0;
  for (let x = 0; x < b; x++) if (!printable(x)) n++;
  return String.fromCharCode(0x100 + n);
}

const TOKENIZERS: Loaded[] = await Promise.all(
  VOCABS.map(async ([name, compat]) => {
    const tok = await loadTokenizer(name, compat);
    const specials: string[] = [];
    for (let id = 0; id < tok.size && specials.length < 64; id++)
      if (tok.vocab.attr(id) & (TokenAttr.CONTROL | TokenAttr.USER_DEFINED)) specials.push(tok.vocab.tokens[id]);
    const allBytes = tok.vocab.type === 'bpe' && Array.from({ length: 256 }, (_, b) => byteChar(b)).every((c) => tok.tokenId(c) >= 0);
    return { name: `${name}${compat ? ' (llama.cpp compat)' : ''}`, tok, specials, allBytes };
  }),
);

export const CHOICES = SPLITTERS.length + TOKENIZERS.length;

function checkSplit(name: string, split: Splitter, text: string): void {
  let pieces: string[];
  try {
    pieces = split(text);
  } catch (e) {
    fail(`pre-tokenizer ${name} threw ${(e as Error)?.name}: ${(e as Error)?.message}`, text);
  }
  if (pieces.join('') !== text) fail(`pre-tokenizer ${name}: the pieces do not cover the text`, { text, pieces });
  if (pieces.some((p) => p.length === 0)) fail(`pre-tokenizer ${name}: an empty piece`, { text, pieces });
}

function streamed(tok: Tokenizer, ids: number[], special: boolean): string {
  const d = tok.streamDecoder({ special, stripLeadingSpace: true }); // decode() strips the SPM prefix space
  return ids.map((id) => d.push(id)).join('') + d.flush();
}

function checkTokenizer(t: Loaded, text: string, flags: number, rest: Uint8Array): void {
  const { tok, name } = t;
  const addSpecial = (flags & 4) !== 0;
  const parseSpecial = (flags & 8) !== 0;
  const special = (flags & 16) !== 0;
  let ids: number[];
  try {
    ids = tok.encode(text, { addSpecial, parseSpecial });
  } catch (e) {
    fail(`${name}: encode threw ${(e as Error)?.name}: ${(e as Error)?.message}`, text);
  }
  for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= tok.size) fail(`${name}: encode gave id ${id}`, text);

  // byte-level BPE over a vocabulary with a token for every byte loses nothing (a leading U+FEFF is the
  // known exception, see the regression in tokenizer.fuzz.test.ts)
  if (t.allBytes && wellFormed(text) && !text.startsWith('\ufeff')) {
    const plain = parseSpecial || addSpecial ? tok.encode(text, { addSpecial: false }) : ids;
    const back = tok.decode(plain, { cleanSpaces: false });
    if (back !== text) fail(`${name}: decode(encode(text)) differs`, { text, back, ids: plain });
  }

  // decode and the streaming detokenizer agree, on the encoded ids and on ids made of the bytes
  const fromBytes: number[] = [];
  for (let i = 0; i + 2 < rest.length && fromBytes.length < 64; i += 3) fromBytes.push((rest[i] | (rest[i + 1] << 8) | (rest[i + 2] << 16)) % tok.size);
  for (const list of [ids, fromBytes]) {
    let whole: string;
    try {
      whole = tok.decode(list, { special, cleanSpaces: false });
    } catch (e) {
      fail(`${name}: decode threw ${(e as Error)?.name}: ${(e as Error)?.message}`, list);
    }
    const s = streamed(tok, list, special);
    if (s !== whole) fail(`${name}: the streaming detokenizer differs from decode`, { ids: list, special, decode: whole, streamed: s });
  }
  for (const id of fromBytes.slice(0, 4)) if (typeof tok.tokenToPiece(id) !== 'string') fail(`${name}: tokenToPiece(${id})`, id);
}

/** The check for one input; throws a FuzzFinding (or whatever the code under test threw). */
export function check(data: Uint8Array): void {
  const choice = (data[0] ?? 0) % CHOICES;
  const flags = data[1] ?? 0;
  const rest = data.subarray(2);
  if (choice < SPLITTERS.length) {
    const [name, split] = SPLITTERS[choice];
    const text = textFrom(rest, flags);
    runTimed(() => checkSplit(name, split, text), () => ({ splitter: name, text }));
  } else {
    const t = TOKENIZERS[choice - SPLITTERS.length];
    const text = textFrom(rest, flags, t.specials);
    runTimed(() => checkTokenizer(t, text, flags, rest), () => ({ vocab: t.name, flags, text }));
  }
}

export function fuzz(data: Buffer): void {
  check(data);
}
