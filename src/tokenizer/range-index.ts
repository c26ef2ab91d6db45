// Token ids by text, looked up from ranges of a larger string without slicing it (the BPE merge table
// and the SPM merge loop do this hundreds of thousands of times).
/** Token texts by FNV-1a hash of their UTF-16 units; looks up s[a,b) + s[c,d) without building the string. */
export class RangeIndex {
  private readonly table: Int32Array;
  private readonly mask: number;

  constructor(private readonly tokens: readonly string[]) {
    let cap = 1;
    while (cap < tokens.length * 2) cap <<= 1;
    this.mask = cap - 1;
    this.table = new Int32Array(cap).fill(-1);
    for (let id = 0; id < tokens.length; id++) {
      const t = tokens[id];
      let h = RangeIndex.hash(t, 0, t.length, 0, 0) & this.mask;
      while (this.table[h] !== -1) h = (h + 1) & this.mask;
      this.table[h] = id;
    }
  }

  private static hash(s: string, a: number, b: number, c: number, d: number): number {
    let h = 0x811c9dc5;
    for (let i = a; i < b; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    for (let i = c; i < d; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h >>> 0;
  }

  /** id of the token equal to s[a,b) + s[c,d), or -1 */
  find(s: string, a: number, b: number, c: number, d: number): number {
    const len = b - a + (d - c);
    let h = RangeIndex.hash(s, a, b, c, d) & this.mask;
    for (;;) {
      const id = this.table[h];
      if (id === -1) return -1;
      const t = this.tokens[id];
      if (t.length === len && RangeIndex.equal(t, s, a, b, c, d)) return id;
      h = (h + 1) & this.mask;
    }
  }

  private static equal(t: string, s: string, a: number, b: number, c: number, d: number): boolean {
    let j = 0;
    for (let i = a; i < b; i++) if (t.charCodeAt(j++) !== s.charCodeAt(i)) return false;
    for (let i = c; i < d; i++) if (t.charCodeAt(j++) !== s.charCodeAt(i)) return false;
    return true;
  }
}
