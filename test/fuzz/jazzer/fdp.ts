// The inverse of the FuzzedDataProvider calls the targets make, for writing seeds: integrals go to the
// back of the input (FuzzedDataProvider reads them from the end, the first one last), strings to the front.
// Only what the targets use: consumeIntegralInRange, consumeBoolean, consumeString(n), consumeRemainingAsString.
export class FdpWriter {
  private front: number[] = [];
  private back: number[] = [];

  /** consumeIntegralInRange(min, max) answering v */
  int(v: number, min: number, max: number): this {
    const range = max - min;
    if (range === 0) return this;
    const n = Math.ceil(Math.log2(range + 1) / 8);
    const bytes: number[] = [];
    let x = v - min;
    for (let i = 0; i < n; i++) {
      bytes.push(x & 0xff);
      x = Math.floor(x / 256);
    }
    this.back = [...bytes, ...this.back];
    return this;
  }

  /** consumeBoolean() answering b */
  bool(b: boolean): this {
    return this.int(b ? 1 : 0, 0, 255);
  }

  /** consumeString(n) for the UTF-8 bytes of s (n = their length, written with int(n, 0, max) first) */
  str(s: string, max: number): this {
    const bytes = [...Buffer.from(s, 'utf8')].slice(0, max);
    this.int(bytes.length, 0, max);
    this.front.push(...bytes);
    return this;
  }

  /** consumeRemainingAsString() answering s: must come last */
  rest(s: string): this {
    this.front.push(...Buffer.from(s, 'utf8'));
    return this;
  }

  bytes(): Buffer {
    return Buffer.from([...this.front, ...this.back]);
  }
}
