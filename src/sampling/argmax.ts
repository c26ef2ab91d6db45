/** Index (relative to off) of the largest of a[off .. off + n), the first one on ties: greedy decoding's pick. */
export function argmax(a: ArrayLike<number>, off = 0, n = a.length - off): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
  return best;
}
