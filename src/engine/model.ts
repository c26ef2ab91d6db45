// The TypeScript API over the addon: a Model (weights + tokenizer) and Contexts (KV cache + evaluation).
import {
  addon,
  type BlockTaps,
  type CacheType,
  type ContextState,
  type DecodeStats,
  type DepthPolicy,
  type ModelInfo,
  type NativeContext,
  type NativeDepthGates,
  type NativeModel,
} from '../native/addon.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';

export interface ContextOptions {
  /** context size in tokens (default: min(4096, the model's training context)) */
  nCtx?: number;
  /** tokens per forward pass during prompt processing (default 512) */
  nBatch?: number;
  /** worker threads, including the caller (default 1) */
  nThreads?: number;
  typeK?: CacheType;
  typeV?: CacheType;
  /** decodes reading at most this many bytes run on the JS thread (default 4 MiB; 0 = always a worker) */
  inlineBytes?: number;
  /**
   * llama.cpp's exact summation order everywhere (default: the environment's LLAMA4_EXACT_NUMERICS=1, else
   * off: decode attention over >= 256 cells takes the fast path)
   */
  exactNumerics?: boolean;
}

/** LLAMA4_EXACT_NUMERICS=1: every context keeps llama.cpp's numerics unless it says otherwise. */
export const exactNumericsDefault = (): boolean => process.env.LLAMA4_EXACT_NUMERICS === '1';

export class Model {
  private constructor(
    readonly path: string,
    readonly native: NativeModel,
    readonly tokenizer: Tokenizer,
    readonly info: ModelInfo,
  ) {}

  /**
   * repack (default true): copy the matrices of packable types into the CPU kernels' packed layout.
   * progress: a Float64Array(2) the loader keeps at [bytes copied, bytes in all] while it copies weights.
   * signal: rejects with its reason as soon as it aborts (the native load, not interruptible, finishes in
   * the background and is dropped), so Ctrl-C during a long load answers at once.
   */
  static async load(path: string, options: { repack?: boolean; progress?: Float64Array; signal?: AbortSignal } = {}): Promise<Model> {
    const { signal } = options;
    signal?.throwIfAborted();
    const loading = Promise.all([
      addon().loadModel(path, { repack: options.repack ?? true, ...(options.progress ? { progress: options.progress } : {}) }),
      Tokenizer.fromGguf(path),
    ]);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    loading.catch(() => {}); // an abandoned load's failure is nobody's business
    let native, tokenizer;
    try {
      [native, tokenizer] = await (signal ? Promise.race([loading, aborted]) : loading);
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    const info = native.info();
    if (tokenizer.size !== info.nVocab)
      throw new Error(`'${path}': tokenizer has ${tokenizer.size} tokens but the model's vocabulary is ${info.nVocab}`);
    return new Model(path, native, tokenizer, info);
  }

  /** Depth gates from an adapter GGUF (or the model's own gate tensors when no path is given). */
  loadDepthGates(path = ''): Promise<NativeDepthGates> {
    return addon().loadDepthGates(this.native, path);
  }

  createContext(options: ContextOptions = {}): Context {
    return new Context(this, addon().createContext(this.native, { ...options, exactNumerics: options.exactNumerics ?? exactNumericsDefault() }));
  }
}

export interface EvaluateOptions {
  /** keep logits for every token (perplexity); otherwise only the last token's */
  allLogits?: boolean;
  signal?: AbortSignal;
  /** apply the context's depth policy (default true; prompt batches only with policy.prefill) */
  gated?: boolean;
  /** batch numerics equal to evaluating the tokens one by one (speculative verification) */
  sequential?: boolean;
}

/** One sequence of cached positions 0..nPast-1; evaluate() appends. */
export class Context {
  constructor(
    readonly model: Model,
    readonly native: NativeContext,
  ) {}

  get nPast(): number {
    return this.native.state().nPast;
  }

  state(): ContextState {
    return this.native.state();
  }

  /** Evaluates tokens after the cached ones; resolves to a zero-copy view of the last token's logits. */
  async evaluate(tokens: ArrayLike<number>, options: EvaluateOptions = {}): Promise<Float32Array> {
    const { signal } = options;
    signal?.throwIfAborted();
    const onAbort = () => this.native.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.native.decode(Int32Array.from(tokens), options.allLogits ?? false, {
        gated: options.gated ?? true,
        sequential: options.sequential ?? false,
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return this.native.logits();
  }

  /** Logits of every token of the last evaluate({allLogits: true}) call, [rows * nVocab]. */
  allLogits(): Float32Array {
    return this.native.allLogits();
  }

  /** Routes later decode tokens through depth (gates, threshold, KV mode, static drop); null = dense. */
  setDepthPolicy(policy: DepthPolicy | null): void {
    this.native.setDepthPolicy(policy);
  }

  stats(): DecodeStats {
    return this.native.stats();
  }

  resetStats(): void {
    this.native.resetStats();
  }

  /** Full-depth evaluation of one batch recording per-block taps (calibration). */
  taps(tokens: ArrayLike<number>, features: boolean | { features?: boolean; ffnFeatures?: boolean } = true): Promise<BlockTaps> {
    return this.native.decodeTaps(Int32Array.from(tokens), typeof features === 'boolean' ? { features } : features);
  }

  /** Forgets cached positions >= n (e.g. to reuse a common prefix across chat turns). */
  truncate(n: number): void {
    this.native.truncate(n);
  }

  /** Forks a sequence: this context's cache becomes positions [0, n) of src's, without evaluating them. */
  copyFrom(src: Context, n: number): void {
    this.native.copyFrom(src.native, n);
  }
}
