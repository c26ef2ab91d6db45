// Special-token partitioning (llama.cpp tokenizer_st_partition): special tokens, longest text first, are cut
// out of the raw text by plain substring search; the remaining raw fragments are tokenized separately.
// With parse_special off only USER_DEFINED tokens are cut out (HF behaviour).
//
// The result equals llama.cpp's loop over every special token; to keep it cheap on 2048-special vocabs,
// one scan over the text first finds which specials occur at all, and only those are partitioned.
import { TokenAttr, type Vocab } from './vocab.js';

/** [start, end) of the text, or a special token (token >= 0, start = end = position). */
export interface Fragment {
  start: number;
  end: number;
  token: number;
}

interface TrieNode {
  next: Map<number, TrieNode>;
  token: number;
}

interface Matcher {
  /** candidate ids in partition order */
  order: number[];
  root: TrieNode;
  /** first UTF-16 unit of some candidate */
  first: Uint8Array;
}

const matchers = new WeakMap<Vocab, Map<boolean, Matcher>>();

function matcherFor(vocab: Vocab, parseSpecial: boolean): Matcher {
  let byMode = matchers.get(vocab);
  if (!byMode) matchers.set(vocab, (byMode = new Map()));
  let m = byMode.get(parseSpecial);
  if (m) return m;
  const order = vocab.specialTokens.filter(
    (id) => parseSpecial || !(vocab.attrs[id] & (TokenAttr.CONTROL | TokenAttr.UNKNOWN)),
  );
  const root: TrieNode = { next: new Map(), token: -1 };
  const first = new Uint8Array(65536);
  for (const id of order) {
    const text = vocab.tokens[id];
    first[text.charCodeAt(0)] = 1;
    let node = root;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let child = node.next.get(c);
      if (!child) node.next.set(c, (child = { next: new Map(), token: -1 }));
      node = child;
    }
    node.token = id;
  }
  m = { order, root, first };
  byMode.set(parseSpecial, m);
  return m;
}

/** The candidates that occur somewhere in `text` (overlaps included). */
function occurring(m: Matcher, text: string): Set<number> {
  const found = new Set<number>();
  for (let i = 0; i < text.length; i++) {
    if (!m.first[text.charCodeAt(i)]) continue;
    let node: TrieNode | undefined = m.root;
    for (let j = i; j < text.length; j++) {
      node = node.next.get(text.charCodeAt(j));
      if (!node) break;
      if (node.token >= 0) found.add(node.token);
    }
  }
  return found;
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

export function partitionSpecial(vocab: Vocab, text: string, parseSpecial: boolean): Fragment[] {
  if (text.length === 0) return [];
  let frags: Fragment[] = [{ start: 0, end: text.length, token: -1 }];
  const m = matcherFor(vocab, parseSpecial);
  if (m.order.length === 0) return frags;
  const present = occurring(m, text);
  if (present.size === 0) return frags;

  for (const id of m.order) {
    if (!present.has(id)) continue;
    const tok = vocab.tokens[id];
    const attr = vocab.attrs[id];
    const next: Fragment[] = [];
    for (const f of frags) {
      if (f.token >= 0) {
        next.push(f);
        continue;
      }
      let start = f.start;
      const end = f.end;
      for (;;) {
        const at = text.indexOf(tok, start);
        if (at < 0 || at + tok.length > end) {
          if (start < end) next.push({ start, end, token: -1 });
          break;
        }
        let leftEnd = at;
        if (attr & TokenAttr.LSTRIP) while (leftEnd > start && isSpace(text.charCodeAt(leftEnd - 1))) leftEnd--;
        if (leftEnd > start) next.push({ start, end: leftEnd, token: -1 });
        next.push({ start: at, end: at, token: id });
        start = at + tok.length;
        if (attr & TokenAttr.RSTRIP) while (start < end && isSpace(text.charCodeAt(start))) start++;
      }
    }
    frags = next;
  }
  return frags;
}
