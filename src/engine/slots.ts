// Server slots: N conversations over one loaded model, each with its own KV cache (the total context split
// across them), a bounded FIFO queue of requests waiting for a slot, and one evaluation at a time across
// slots (they share the cores: a decode step of one slot runs, then the next), so concurrent streams
// interleave token by token. A request takes the idle slot whose cache it reuses most (a chat client
// resending its history lands where that history is cached), else the least recently used one.
// Batching the slots' decode steps into one pass over the weights is the next step (issue 21, item 1).
import type { SamplingOptions } from '../sampling/chain.js';
import { Conversation, type TurnOptions } from './conversation.js';
import { Context, type ContextOptions, type EvaluateOptions, type Model } from './model.js';
import type { ChatMessage, ChatTemplate } from './templates/index.js';
import type { DepthPolicy } from '../native/addon.js';

/** A FIFO async mutex. */
class Mutex {
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

/** A context whose evaluations take the pool's lock: one slot evaluates at a time. */
class SlotContext extends Context {
  lock!: Mutex;
  override evaluate(tokens: ArrayLike<number>, options: EvaluateOptions = {}): Promise<Float32Array> {
    return this.lock.run(() => super.evaluate(tokens, options));
  }
}

export interface Slot {
  id: number;
  conversation: Conversation;
  busy: boolean;
  lastUsed: number;
}

export class QueueFullError extends Error {}

export interface SlotPoolOptions {
  nSlots: number;
  /** total context, split across the slots */
  nCtx: number;
  context: Omit<ContextOptions, 'nCtx'>;
  template: ChatTemplate;
  sampling: SamplingOptions;
  nPredict: number;
  /** requests waiting for a slot beyond which a new one is refused */
  queueLimit: number;
  /** depth routing of every slot's decode tokens */
  depth?: DepthPolicy | null;
}

export class SlotPool {
  readonly slots: Slot[] = [];
  private readonly waiting: { resolve: (s: Slot) => void; reject: (e: Error) => void; want: ChatMessage[] | string }[] = [];
  private clock = 0;

  constructor(
    readonly model: Model,
    readonly o: SlotPoolOptions,
  ) {
    const lock = new Mutex();
    const perSlot = Math.floor(o.nCtx / o.nSlots);
    if (perSlot < 16) throw new Error(`a context of ${o.nCtx} tokens split across ${o.nSlots} slots leaves ${perSlot} per slot`);
    for (let i = 0; i < o.nSlots; i++) {
      const ctx = new SlotContext(model, model.createContext({ ...o.context, nCtx: perSlot }).native);
      ctx.lock = lock;
      if (o.depth) ctx.setDepthPolicy(o.depth);
      this.slots.push({ id: i, conversation: new Conversation(ctx, { template: o.template, sampling: o.sampling, nPredict: o.nPredict }), busy: false, lastUsed: 0 });
    }
  }

  get busyCount(): number {
    return this.slots.filter((s) => s.busy).length;
  }
  get queueDepth(): number {
    return this.waiting.length;
  }
  get slotContext(): number {
    return this.slots[0].conversation.nCtx;
  }

  private pick(want: ChatMessage[] | string): Slot | undefined {
    let best: Slot | undefined;
    let bestReuse = -1;
    for (const s of this.slots) {
      if (s.busy) continue;
      const r = s.conversation.reusableFor(want);
      if (r > bestReuse || (r === bestReuse && best && s.lastUsed < best.lastUsed)) {
        best = s;
        bestReuse = r;
      }
    }
    return best;
  }

  /** A free slot for this request (waiting in the queue when all are busy; QueueFullError past its limit). */
  acquire(want: ChatMessage[] | string, signal?: AbortSignal): Promise<Slot> {
    const s = this.pick(want);
    if (s) {
      s.busy = true;
      return Promise.resolve(s);
    }
    if (this.waiting.length >= this.o.queueLimit) return Promise.reject(new QueueFullError(`all ${this.slots.length} slots are busy and ${this.waiting.length} requests wait`));
    return new Promise<Slot>((resolve, reject) => {
      const w = { resolve, reject, want };
      this.waiting.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) {
            this.waiting.splice(i, 1);
            reject(new Error('the client went away'));
          }
        },
        { once: true },
      );
    });
  }

  release(slot: Slot): void {
    slot.busy = false;
    slot.lastUsed = ++this.clock;
    const w = this.waiting.shift();
    if (w) {
      const s = this.pick(w.want) as Slot;
      s.busy = true;
      w.resolve(s);
    }
  }

  /** Runs a request on a slot: the slot is released when the iterator ends, however it ends. */
  async *run<T, R>(slot: Slot, it: (c: Conversation) => AsyncGenerator<T, R>): AsyncGenerator<T, R> {
    try {
      return yield* it(slot.conversation);
    } finally {
      this.release(slot);
    }
  }
}

export type { TurnOptions };
