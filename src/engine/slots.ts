// Server slots: N conversations over one loaded model, each with its own KV cache (the total context split
// across them), and a bounded FIFO queue of requests waiting for a slot. The slots' decode tokens are
// batched into one step (continuous batching: a request that arrives joins the next step), prompts run in
// chunks between steps (batch.ts). A request takes the idle slot whose cache it reuses most (a chat client
// resending its history lands where that history is cached), else the least recently used one.
import type { SamplingOptions } from '../sampling/chain.js';
import { Conversation, type TurnOptions } from './conversation.js';
import { BatchedContext, StepBatcher } from './batch.js';
import type { ContextOptions, Model } from './model.js';
import type { ChatMessage, ChatTemplate } from './templates/index.js';
import type { DepthPolicy } from '../native/addon.js';

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
  /** gathers the slots' decode tokens into one step */
  readonly batcher: StepBatcher;

  constructor(
    readonly model: Model,
    readonly o: SlotPoolOptions,
  ) {
    this.batcher = new StepBatcher();
    const perSlot = Math.floor(o.nCtx / o.nSlots);
    if (perSlot < 16) throw new Error(`a context of ${o.nCtx} tokens split across ${o.nSlots} slots leaves ${perSlot} per slot`);
    for (let i = 0; i < o.nSlots; i++) {
      const ctx = new BatchedContext(model, model.createContext({ ...o.context, nCtx: perSlot }).native);
      ctx.batcher = this.batcher;
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
    if (signal?.aborted) return Promise.reject(new Error('the client went away'));
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
