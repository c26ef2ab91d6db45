// Perplexity in the manner of llama.cpp's llama-perplexity (tools/perplexity/perplexity.cpp): the whole
// text is tokenized once (with the vocab's BOS), cut into chunks of nCtx tokens, and every chunk is
// evaluated from an empty KV cache with BOS in place of its first token (when the vocab adds BOS). Only the
// second half of each chunk is scored: the logits at positions nCtx/2 .. nCtx-2 predict the token after
// them, so every scored token has at least nCtx/2 tokens of context. PPL = exp(mean NLL), and the error is
// llama-perplexity's: PPL * sqrt((E[nll²] - E[nll]²) / (count - 1)).
import type { DepthPolicy } from '../native/addon.js';
import { compareLogits, innerSkipRate, layerSkipRates } from './depth/calibrate.js';
import type { ContextOptions, Model } from './model.js';

/**
 * Per-run evaluation options: how each token is computed, as opposed to what is measured.
 */
export interface EvaluationOptions {
  /**
   * Depth routing: every token of a chunk is routed as a decoded token would be (gated batches equal
   * one-by-one decoding), so the perplexity is that of gated decoding.
   */
  depth?: DepthPolicy | null;
  /** also evaluate each chunk densely and report top-1 agreement and KL against it */
  compareDense?: boolean;
}

export interface DenseComparison {
  top1Agreement: number;
  meanKl: number;
  pplDense: number;
}

export interface PerplexityOptions {
  /** tokens per chunk (llama-perplexity's -c; default 512) */
  nCtx?: number;
  /** at most this many chunks (default: every whole chunk in the text) */
  maxChunks?: number;
  /** the rest of the context: batch size, threads, KV cache types (nCtx is the chunk size) */
  context?: Omit<ContextOptions, 'nCtx'>;
  evaluation?: EvaluationOptions;
  signal?: AbortSignal;
  /** called once the text is tokenized and cut into chunks, before the first evaluation */
  onStart?: (plan: PerplexityPlan) => void;
  /** called after each chunk with the running result */
  onChunk?: (chunk: ChunkResult) => void;
}

export interface PerplexityPlan {
  nTokens: number;
  nCtx: number;
  nChunks: number;
  nBatch: number;
  nThreads: number;
  tokenizeMs: number;
}

export interface ChunkResult {
  /** 1-based chunk number, as llama-perplexity prints it */
  index: number;
  nChunks: number;
  /** running perplexity over every chunk so far */
  ppl: number;
  /** this chunk's own perplexity */
  chunkPpl: number;
  /** milliseconds to evaluate this chunk */
  evalMs: number;
}

export interface PerplexityResult {
  ppl: number;
  /** llama-perplexity's error estimate; NaN when the variance is not positive */
  error: number;
  /** mean negative log-likelihood of the scored tokens (natural log) */
  meanNll: number;
  /** tokens of the whole text (BOS included when the vocab adds it) */
  nTokens: number;
  nCtx: number;
  nChunks: number;
  /** tokens scored: nChunks * (nCtx - nCtx/2 - 1) */
  nScored: number;
  /** tokens run through the model: nChunks * nCtx */
  nEvaluated: number;
  /** running perplexity after each chunk */
  chunkPpl: number[];
  tokenizeMs: number;
  evalMs: number;
  totalMs: number;
  /** nEvaluated / evalMs */
  tokensPerSecond: number;
  kvBytes: number;
  nThreads: number;
  nBatch: number;
  typeK: string;
  typeV: string;
  nLayer: number;
  /** transformer blocks run per token, averaged over the evaluated tokens (= nLayer for dense runs) */
  blocksPerToken: number;
  /** per block: fraction of evaluated tokens that skipped it */
  skipPerBlock: number[];
  /** fraction of the gateable (not first or last) attention / FFN sublayer evaluations skipped */
  attnSkipRate: number;
  ffnSkipRate: number;
  /** KV bytes holding data at the end of the last chunk (less than kvBytes with --depth-kv skip) */
  kvBytesUsed: number;
  dense?: DenseComparison;
  addBos: boolean;
}

/**
 * -log p(target) under softmax(logits[offset .. offset+nVocab)), in float64 (llama-perplexity sums the
 * exponentials in double too).
 */
export function tokenNll(logits: ArrayLike<number>, offset: number, nVocab: number, target: number): number {
  if (target < 0 || target >= nVocab) throw new RangeError(`token ${target} is outside the vocabulary (${nVocab})`);
  let max = -Infinity;
  for (let i = 0; i < nVocab; i++) {
    const v = logits[offset + i];
    if (v > max) max = v;
  }
  let sum = 0;
  for (let i = 0; i < nVocab; i++) sum += Math.exp(logits[offset + i] - max);
  return max + Math.log(sum) - logits[offset + target];
}

/** Running sums of negative log-likelihoods, with llama-perplexity's estimate and error. */
export class NllAccumulator {
  count = 0;
  sum = 0;
  sumSq = 0;

  add(nll: number): void {
    this.count++;
    this.sum += nll;
    this.sumSq += nll * nll;
  }

  get mean(): number {
    return this.count > 0 ? this.sum / this.count : NaN;
  }

  get ppl(): number {
    return Math.exp(this.mean);
  }

  /** ppl * sqrt((E[nll²] - E[nll]²) / (count - 1)); NaN when that variance is not positive */
  get error(): number {
    const mean = this.mean;
    const variance = this.sumSq / this.count - mean * mean;
    if (!(variance > 0) || this.count < 2) return NaN;
    return this.ppl * Math.sqrt(variance / (this.count - 1));
  }
}

/**
 * Scores one evaluated chunk: rows of `logits` are positions 0..nCtx-1 of `chunk` (nVocab floats each);
 * positions nCtx/2 .. nCtx-2 predict chunk[i+1]. Returns the chunk's own accumulator after adding to `acc`.
 */
export function scoreChunk(
  logits: ArrayLike<number>,
  nVocab: number,
  chunk: ArrayLike<number>,
  acc: NllAccumulator,
): NllAccumulator {
  const n = chunk.length;
  if (logits.length < n * nVocab) throw new Error(`expected ${n} rows of ${nVocab} logits, got ${logits.length} values`);
  const own = new NllAccumulator();
  for (let i = n >> 1; i < n - 1; i++) {
    const nll = tokenNll(logits, i * nVocab, nVocab, chunk[i + 1]);
    acc.add(nll);
    own.add(nll);
  }
  return own;
}

/** The token windows llama-perplexity evaluates: whole chunks only, BOS first when the vocab adds one. */
export function planChunks(tokens: ArrayLike<number>, nCtx: number, maxChunks: number | undefined, bos: number | null): number[][] {
  const nMax = Math.floor(tokens.length / nCtx);
  const n = maxChunks === undefined || maxChunks < 0 ? nMax : Math.min(maxChunks, nMax);
  const chunks: number[][] = [];
  for (let c = 0; c < n; c++) {
    const chunk = Array.from({ length: nCtx }, (_, i) => tokens[c * nCtx + i]);
    if (bos !== null) chunk[0] = bos;
    chunks.push(chunk);
  }
  return chunks;
}

export const DEFAULT_PPL_CTX = 512;

/** Perplexity of `model` on `text`, llama-perplexity's way. */
export async function perplexity(model: Model, text: string, options: PerplexityOptions = {}): Promise<PerplexityResult> {
  const t0 = performance.now();
  const nCtx = options.nCtx ?? DEFAULT_PPL_CTX;
  if (!Number.isInteger(nCtx) || nCtx < 4) throw new Error(`the perplexity context must be at least 4 tokens (got ${nCtx})`);
  if (options.maxChunks !== undefined && options.maxChunks === 0) throw new Error('maxChunks must be at least 1 (negative: every chunk)');
  const vocab = model.tokenizer.vocab;
  if (vocab.addEos) throw new Error('perplexity does not support vocabularies that append EOS');
  const tokens = model.tokenizer.encode(text, { addSpecial: true, parseSpecial: false });
  const tokenizeMs = performance.now() - t0;
  if (tokens.length < 2 * nCtx)
    throw new Error(
      `you need at least ${2 * nCtx} tokens to evaluate perplexity with a context of ${nCtx}; ` +
        `the text tokenizes to only ${tokens.length} tokens`,
    );
  const addBos = vocab.addBos;
  const chunks = planChunks(tokens, nCtx, options.maxChunks, addBos ? vocab.bos : null);

  const base = options.context ?? {};
  const ctx = model.createContext({ ...base, nCtx, nBatch: Math.min(base.nBatch ?? nCtx, nCtx) });
  const st0 = ctx.state();
  options.onStart?.({ nTokens: tokens.length, nCtx, nChunks: chunks.length, nBatch: st0.nBatch, nThreads: st0.nThreads, tokenizeMs });
  const nVocab = model.info.nVocab;
  const nLayer = model.info.nLayer;
  const acc = new NllAccumulator();
  const chunkPpl: number[] = [];
  let evalMs = 0;
  const depth = options.evaluation?.depth ?? null;
  if (depth) ctx.setDepthPolicy({ ...depth, prefill: true });
  // the dense reference runs in a context of its own: a static attention drop leaves the gated one without
  // those layers' KV
  const denseCtx = options.evaluation?.compareDense ? model.createContext({ ...base, nCtx, nBatch: Math.min(base.nBatch ?? nCtx, nCtx) }) : undefined;
  const cmp = { kl: 0, agree: 0, nllD: 0, count: 0 };
  let kvUsed = 0;
  for (let c = 0; c < chunks.length; c++) {
    options.signal?.throwIfAborted();
    let denseLogits: Float32Array | undefined;
    if (denseCtx) {
      denseCtx.truncate(0);
      await denseCtx.evaluate(chunks[c], { allLogits: true, signal: options.signal, gated: false, sequential: true });
      denseLogits = denseCtx.allLogits();
    }
    ctx.truncate(0);
    const t = performance.now();
    await ctx.evaluate(chunks[c], { allLogits: true, signal: options.signal });
    const ms = performance.now() - t;
    evalMs += ms;
    kvUsed = ctx.stats().kvBytesUsed;
    const logits = ctx.allLogits();
    if (denseLogits) {
      const r = compareLogits(denseLogits, logits, chunks[c], nVocab);
      cmp.kl += r.kl;
      cmp.agree += r.agree;
      cmp.nllD += r.nllD;
      cmp.count += r.count;
    }
    const own = scoreChunk(logits, nVocab, chunks[c], acc);
    chunkPpl.push(acc.ppl);
    options.onChunk?.({ index: c + 1, nChunks: chunks.length, ppl: acc.ppl, chunkPpl: own.ppl, evalMs: ms });
  }
  const st = ctx.state();
  const nEvaluated = chunks.length * nCtx;
  const ds = ctx.stats();
  // routed tokens ran only the blocks their gates chose; without depth routing every block ran
  const blocksRun = ds.routedTokens > 0 ? ds.blockRuns.reduce((a, b) => a + b, 0) : nLayer * nEvaluated;
  const skipPerBlock = layerSkipRates(ds.blockRuns, ds.blockSkips);
  return {
    ppl: acc.ppl,
    error: acc.error,
    meanNll: acc.mean,
    nTokens: tokens.length,
    nCtx,
    nChunks: chunks.length,
    nScored: acc.count,
    nEvaluated,
    chunkPpl,
    tokenizeMs,
    evalMs,
    totalMs: performance.now() - t0,
    tokensPerSecond: evalMs > 0 ? (nEvaluated * 1000) / evalMs : 0,
    kvBytes: st.kvBytes,
    nThreads: st.nThreads,
    nBatch: st.nBatch,
    typeK: st.typeK,
    typeV: st.typeV,
    nLayer,
    blocksPerToken: nEvaluated > 0 ? blocksRun / nEvaluated : nLayer,
    skipPerBlock,
    attnSkipRate: innerSkipRate(ds.attnRuns, ds.attnSkips),
    ffnSkipRate: innerSkipRate(ds.ffnRuns, ds.ffnSkips),
    kvBytesUsed: kvUsed,
    ...(cmp.count > 0
      ? { dense: { top1Agreement: cmp.agree / cmp.count, meanKl: cmp.kl / cmp.count, pplDense: Math.exp(cmp.nllD / cmp.count) } }
      : {}),
    addBos,
  };
}

