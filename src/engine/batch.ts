// Many sequences over one model, one decode step for all: each sequence has its own Context (its own KV
// cache), and the single-token evaluations that the sequences' generation loops ask for in the same turn
// of the event loop are gathered into one native decodeStep (one pass over the weights, attention per
// sequence; numerics equal to each sequence decoding alone). Prompt evaluations run in chunks of the
// context's batch size, each chunk taking the same lock as the steps, so a long prompt does not hold up
// the running streams for more than one chunk.
import { addon } from '../native/addon.js';
import { Context, type EvaluateOptions } from './model.js';

/** A FIFO async mutex. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.then(
      () => undefined,
      () => undefined,
    );
    return r;
  }
}

interface Pending {
  ctx: BatchedContext;
  token: number;
  resolve: (l: Float32Array) => void;
  reject: (e: unknown) => void;
}

/**
 * Gathers single-token evaluations into decode steps. A step is queued on the lock when the first token
 * arrives; when its turn comes it lets the sequences that the previous step resumed ask for their next
 * token, then takes every token pending.
 */
export class StepBatcher {
  readonly lock = new Mutex();
  private pending: Pending[] = [];
  private queued = false;
  /** decode steps run and sequences they carried (for statistics) */
  steps = 0;
  stepTokens = 0;
  private lastBatch = 0;

  step(ctx: BatchedContext, token: number, signal?: AbortSignal): Promise<Float32Array> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      this.pending.push({ ctx, token, resolve, reject });
      if (!this.queued) {
        this.queued = true;
        void this.lock.run(() => this.runStep());
      }
    });
  }

  private async runStep(): Promise<void> {
    // the sequences the last step resumed ask for their next token within a few microtasks; a setImmediate
    // more when some of them have not yet (deep async chains: a server's stream writes)
    for (let i = 0; i < 32; i++) await null;
    if (this.pending.length < this.lastBatch) await new Promise<void>((r) => setImmediate(r));
    this.queued = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await addon().decodeStep(batch.map((p) => p.ctx.native), Int32Array.from(batch.map((p) => p.token)));
      this.steps++;
      this.stepTokens += batch.length;
      this.lastBatch = batch.length;
      for (const p of batch) p.resolve(p.ctx.native.logits());
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  }
}

/** A context whose evaluations go through a StepBatcher (decode tokens) or its lock (prompt chunks). */
export class BatchedContext extends Context {
  batcher!: StepBatcher;

  override async evaluate(tokens: ArrayLike<number>, options: EvaluateOptions = {}): Promise<Float32Array> {
    if (tokens.length === 1 && !options.allLogits && !options.sequential && options.gated !== false)
      return this.batcher.step(this, tokens[0], options.signal);
    const nBatch = this.state().nBatch;
    let logits: Float32Array | undefined;
    for (let i = 0; i < tokens.length; i += nBatch) {
      const chunk = Array.prototype.slice.call(tokens, i, i + nBatch) as number[];
      logits = await this.batcher.lock.run(() => super.evaluate(chunk, options));
    }
    if (!logits) throw new Error('evaluate: no tokens');
    return logits;
  }
}
