// L2-regularised logistic regression, fitted by full-batch Adam on standardised features. Used to fit
// one depth gate per block: P(skippable | the block's normed input). Deterministic: no sampling inside.

export interface LogisticFit {
  /** weights on the raw (unstandardised) features */
  w: Float32Array;
  b: number;
  /** mean log-loss on the training rows */
  loss: number;
  /** accuracy at p >= 0.5 on the training rows */
  accuracy: number;
}

export interface LogisticOptions {
  l2?: number;
  iterations?: number;
  learningRate?: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Fits p(y=1|x) = sigmoid(w.x + b). X holds n rows of d features (row-major); y holds 0/1 labels.
 */
export function fitLogistic(X: Float32Array, y: Uint8Array, d: number, opts: LogisticOptions = {}): LogisticFit {
  const n = y.length;
  if (X.length !== n * d) throw new Error(`fitLogistic: X has ${X.length} values, expected ${n} x ${d}`);
  if (n === 0) throw new Error('fitLogistic: no rows');
  const l2 = opts.l2 ?? 1e-3;
  const iters = opts.iterations ?? 200;
  const lr = opts.learningRate ?? 0.05;
  // standardise
  const mu = new Float64Array(d);
  const sd = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += X[i * d + j];
  for (let j = 0; j < d; j++) mu[j] /= n;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const v = X[i * d + j] - mu[j];
      sd[j] += v * v;
    }
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j] / n) || 1;
  const Z = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) Z[i * d + j] = (X[i * d + j] - mu[j]) / sd[j];

  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i];
  const prior = Math.min(Math.max(pos / n, 1e-4), 1 - 1e-4);
  const w = new Float64Array(d);
  let b = Math.log(prior / (1 - prior));
  // Adam state
  const mw = new Float64Array(d), vw = new Float64Array(d);
  let mb = 0, vb = 0;
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const gw = new Float64Array(d);
  const z = new Float64Array(n);
  for (let it = 1; it <= iters; it++) {
    gw.fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let s = b;
      const row = i * d;
      for (let j = 0; j < d; j++) s += w[j] * Z[row + j];
      z[i] = s;
      const r = sigmoid(s) - y[i];
      gb += r;
      for (let j = 0; j < d; j++) gw[j] += r * Z[row + j];
    }
    gb /= n;
    const c1 = 1 - Math.pow(b1, it), c2 = 1 - Math.pow(b2, it);
    for (let j = 0; j < d; j++) {
      const g = gw[j] / n + l2 * w[j];
      mw[j] = b1 * mw[j] + (1 - b1) * g;
      vw[j] = b2 * vw[j] + (1 - b2) * g * g;
      w[j] -= (lr * (mw[j] / c1)) / (Math.sqrt(vw[j] / c2) + eps);
    }
    mb = b1 * mb + (1 - b1) * gb;
    vb = b2 * vb + (1 - b2) * gb * gb;
    b -= (lr * (mb / c1)) / (Math.sqrt(vb / c2) + eps);
  }
  // final loss / accuracy
  let loss = 0, correct = 0;
  for (let i = 0; i < n; i++) {
    let s = b;
    for (let j = 0; j < d; j++) s += w[j] * Z[i * d + j];
    const p = sigmoid(s);
    loss -= y[i] ? Math.log(Math.max(p, 1e-12)) : Math.log(Math.max(1 - p, 1e-12));
    if ((p >= 0.5 ? 1 : 0) === y[i]) correct++;
  }
  // fold the standardisation into the raw-feature weights
  const wr = new Float32Array(d);
  let br = b;
  for (let j = 0; j < d; j++) {
    wr[j] = w[j] / sd[j];
    br -= (w[j] * mu[j]) / sd[j];
  }
  return { w: wr, b: br, loss: loss / n, accuracy: correct / n };
}

/** p(y=1|x) with a fitted gate, in float64 like the native gate. */
export function gateProb(fit: { w: Float32Array; b: number }, x: ArrayLike<number>, offset = 0): number {
  let s = fit.b;
  for (let j = 0; j < fit.w.length; j++) s += fit.w[j] * x[offset + j];
  return sigmoid(s);
}
