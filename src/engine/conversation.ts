// The conversation engine under `llama4 chat` (and later the server): messages -> chat template -> tokens,
// with the KV cache reused across turns. It keeps the tokens the context holds and, beside them, the exact
// text they stand for, with marks where a token boundary and a text boundary coincide (message boundaries
// of the rendered prompt, every whole-character generated token). Each turn renders the whole
// conversation, keeps the longest marked prefix whose text the new render starts with, truncates the KV
// cache there and evaluates only the rest. Matching on text, not on a re-tokenization, makes a reply's
// sampled tokens reusable even where tokenizing the rendered reply would give other tokens.
// When the conversation no longer fits, the oldest turns leave the model's context (the system prompt
// stays); a message that cannot fit even alone is refused with the numbers.
import type { SamplingOptions } from '../sampling/chain.js';
import { generate, type GenerationStats } from './generate.js';
import type { Context } from './model.js';
import { endOfTurnFor, renderChat, type ChatMessage, type ChatTemplate } from './templates/index.js';

export interface ConversationOptions {
  template: ChatTemplate;
  systemPrompt?: string;
  sampling?: SamplingOptions;
  /** tokens per reply; -1 = until the end of the turn or a full context */
  nPredict?: number;
}

export interface TurnStats {
  /** tokens of the rendered conversation sent to the model this turn (cached + evaluated) */
  promptTokens: number;
  /** prompt tokens found in the KV cache */
  reusedTokens: number;
  /** prompt tokens evaluated this turn */
  evaluatedTokens: number;
  generatedTokens: number;
  promptMs: number;
  /** from the start of the turn to the first token of the reply */
  ttftMs: number;
  generateMs: number;
  stop: GenerationStats['stop'];
  /** turns that left the model's context this turn */
  droppedTurns: number;
  /** tokens in the KV cache after the turn */
  cachedTokens: number;
}

export type TurnEvent =
  | { type: 'notice'; text: string }
  | { type: 'prompt'; reused: number; evaluate: number }
  | { type: 'text'; text: string };

export interface ConversationTotals {
  turns: number;
  /** prompt tokens evaluated and generated tokens evaluated, over the conversation */
  evaluated: number;
  reused: number;
  generated: number;
}

/** A refused turn (too long, nothing to regenerate): the conversation is unchanged. */
export class ConversationError extends Error {
  /** 'context_length_exceeded' when the prompt does not fit the context */
  constructor(
    message: string,
    readonly code?: 'context_length_exceeded',
  ) {
    super(message);
  }
}

/** Per-turn choices (an API request's fields); unset ones come from the conversation's settings. */
export interface TurnOptions {
  signal?: AbortSignal;
  /** sampling overrides for this turn */
  sampling?: SamplingOptions;
  /** tokens for this reply (-1: until the end of the turn) */
  nPredict?: number;
  /** more stop strings for this reply */
  stop?: readonly string[];
  /** drop the oldest turns when the conversation does not fit (default true; false: refuse the turn) */
  dropOldTurns?: boolean;
}

interface Plan {
  mark: number;
  chunks: { text: string; tokens: number[] }[];
  total: number;
}

interface Mark {
  tokens: number;
  text: number;
}

export interface SavedConversation {
  version: 1;
  system?: string;
  messages: ChatMessage[];
}

export class Conversation {
  readonly ctx: Context;
  template: ChatTemplate;
  system: string | undefined;
  sampling: SamplingOptions;
  nPredict: number;
  /** the whole transcript, system prompt excluded */
  readonly messages: ChatMessage[] = [];
  /** messages before this index have left the model's context */
  firstInContext = 0;
  readonly totals: ConversationTotals = { turns: 0, evaluated: 0, reused: 0, generated: 0 };
  last: TurnStats | undefined;

  private kvTokens: number[] = [];
  private kvText = '';
  private marks: Mark[] = [{ tokens: 0, text: 0 }];
  /** logits at the end of the last evaluated prompt (a regenerate needs no evaluation) */
  private saved: { tokens: number; logits: Float32Array } | undefined;
  private readonly bosText: string;
  private readonly eosText: string;

  constructor(ctx: Context, o: ConversationOptions) {
    this.ctx = ctx;
    this.template = o.template;
    this.system = o.systemPrompt;
    this.sampling = o.sampling ?? {};
    this.nPredict = o.nPredict ?? -1;
    const tok = ctx.model.tokenizer;
    this.bosText = tok.bos >= 0 ? tok.tokenToPiece(tok.bos) : '';
    this.eosText = tok.eos >= 0 ? tok.tokenToPiece(tok.eos) : '';
    if (ctx.nPast > 0) ctx.truncate(0);
  }

  /** tokens in the KV cache */
  get cachedTokens(): readonly number[] {
    return this.kvTokens;
  }

  get nCtx(): number {
    return this.ctx.state().nCtx;
  }

  /** Where the turn's stop conditions come from: the template's end-of-turn texts and the vocab's EOG set. */
  stopConditions(): { tokens: number[]; strings: string[] } {
    const tok = this.ctx.model.tokenizer;
    const tokens: number[] = [];
    const strings: string[] = [];
    for (const t of endOfTurnFor(this.template, this.eosText)) {
      const id = tok.tokenId(t);
      if (id >= 0) tokens.push(id);
      else strings.push(t);
    }
    return { tokens, strings };
  }

  /** The messages the model sees: system prompt, then the turns still in context. */
  private visible(extra?: ChatMessage): ChatMessage[] {
    const out: ChatMessage[] = [];
    if (this.system !== undefined && this.system !== '') out.push({ role: 'system', content: this.system });
    out.push(...this.messages.slice(this.firstInContext));
    if (extra) out.push(extra);
    return out;
  }

  private render(messages: ChatMessage[], addGenerationPrompt: boolean): string {
    let s: string;
    try {
      s = renderChat(this.template, messages, { addGenerationPrompt, bosToken: this.bosText, eosToken: this.eosText });
    } catch (e) {
      // a template that raises (or fails) refuses this turn; the chat goes on
      throw new ConversationError((e as Error).message);
    }
    // the tokenizer adds BOS itself when the vocab asks for it (llama.cpp strips it from the render too)
    if (this.ctx.model.tokenizer.vocab.addBos && this.bosText && s.startsWith(this.bosText)) s = s.slice(this.bosText.length);
    return s;
  }

  /** Tokens of rendered text starting at `from` (the conversation's start gets BOS when the vocab adds it). */
  private encode(text: string, atStart: boolean): number[] {
    return this.ctx.model.tokenizer.encode(text, { addSpecial: atStart, parseSpecial: true });
  }

  /** Text offsets in `render` where a prefix of the messages ends (message boundaries). */
  private boundaries(messages: ChatMessage[], render: string): number[] {
    const out: number[] = [];
    for (let k = 1; k < messages.length; k++) {
      let prefix: string;
      try {
        prefix = this.render(messages.slice(0, k), false);
      } catch {
        continue; // some templates refuse partial conversations (e.g. must end with a user turn)
      }
      if (prefix.length > 0 && render.startsWith(prefix)) out.push(prefix.length);
    }
    return out;
  }

  /** Cuts the cache back to mark index i. */
  private rollback(i: number): void {
    const m = this.marks[i];
    this.marks.length = i + 1;
    this.kvTokens.length = m.tokens;
    this.kvText = this.kvText.slice(0, m.text);
    this.ctx.truncate(m.tokens);
    if (this.saved && this.saved.tokens > m.tokens) this.saved = undefined;
  }

  /** Cached tokens a request for these messages (or this raw prompt) would reuse: picks a server slot. */
  reusableFor(request: readonly ChatMessage[] | string): number {
    let text: string;
    try {
      text = typeof request === 'string' ? request : this.render(request.slice(), true);
    } catch {
      return 0;
    }
    return this.marks[this.reusableMark(text)].tokens;
  }

  /** The last mark whose text the render starts with. */
  private reusableMark(render: string): number {
    const a = this.kvText;
    let l = 0;
    const n = Math.min(a.length, render.length);
    while (l < n && a.charCodeAt(l) === render.charCodeAt(l)) l++;
    let i = this.marks.length - 1;
    while (i > 0 && this.marks[i].text > l) i--;
    return i;
  }

  /** The rendered conversation with a generation prompt, planned against the cache. */
  private plan(messages: ChatMessage[]): Plan {
    const render = this.render(messages, true);
    return this.planText(render, this.boundaries(messages, render));
  }

  /**
   * What a prompt text needs: the cached mark it keeps, and the rest in chunks cut at `boundaries` (each
   * chunk tokenized alone and marked, so a later prompt can stop reusing at any of them).
   */
  private planText(render: string, boundaries: number[]): Plan {
    let mark = this.reusableMark(render);
    // nothing new to evaluate: regenerate from saved logits, or step back one mark to get logits
    if (this.marks[mark].text === render.length && !(this.saved && this.saved.tokens === this.marks[mark].tokens)) mark = Math.max(0, mark - 1);
    const from = this.marks[mark].text;
    const cuts = [...boundaries.filter((b) => b > from), render.length];
    const chunks: { text: string; tokens: number[] }[] = [];
    let at = from;
    for (const c of [...new Set(cuts)].sort((x, y) => x - y)) {
      if (c <= at) continue;
      const text = render.slice(at, c);
      chunks.push({ text, tokens: this.encode(text, at === 0) });
      at = c;
    }
    const total = this.marks[mark].tokens + chunks.reduce((s, c) => s + c.tokens.length, 0);
    return { mark, chunks, total };
  }

  /** Tokens of the system prompt alone, as the template renders it (0 without one). */
  private systemPromptTokens(): number {
    return this.system ? this.encode(this.render([{ role: 'system', content: this.system }], false), true).length : 0;
  }

  /** Room kept for the reply when deciding whether the conversation still fits. */
  private replyReserve(nPredict: number): number {
    const n = this.nCtx;
    return nPredict > 0 ? Math.min(nPredict, n >> 1) : Math.min(256, n >> 2);
  }

  /**
   * One turn: the user's message (or null: answer the last user message again), the reply streamed as
   * events. Returns the turn's statistics; the reply (partial when aborted) is in messages.
   */
  async *send(user: string | null, o: TurnOptions = {}): AsyncGenerator<TurnEvent, TurnStats> {
    const t0 = performance.now();
    if (this.ctx.state().busy) throw new ConversationError('a reply is already being generated');
    const extra: ChatMessage | undefined = user === null ? undefined : { role: 'user', content: user };
    if (user === null && (this.messages.length === 0 || this.messages[this.messages.length - 1].role !== 'user'))
      throw new ConversationError('there is no user message to answer');

    // fit: drop the oldest turns (user + assistant pairs) until the prompt and a reply's room fit. Once
    // over, drop down to half of the room after the system prompt (as llama-cli's context shift discards
    // half), so the history after the system prompt is re-evaluated once per several turns, not every turn.
    const nCtx = this.nCtx;
    const reserve = this.replyReserve(o.nPredict ?? this.nPredict);
    let dropped = 0;
    let p = this.plan(this.visible(extra));
    let limit = nCtx;
    if (p.total + reserve > nCtx && o.dropOldTurns !== false) {
      const sysTokens = Math.min(p.total, this.systemPromptTokens());
      limit = sysTokens + Math.floor((nCtx - sysTokens) / 2);
    }
    while (p.total + reserve > limit && o.dropOldTurns !== false) {
      const firstUser = this.nextTurnStart(this.firstInContext);
      const lastUser = extra ? this.messages.length : this.messages.length - 1; // the message being answered
      if (firstUser >= lastUser) break;
      this.firstInContext = this.nextTurnStart(firstUser + 1);
      dropped++;
      p = this.plan(this.visible(extra));
    }
    if (p.total >= nCtx) {
      const sys = this.systemPromptTokens();
      throw new ConversationError(
        `the message does not fit: the prompt needs ${p.total} tokens${sys ? ` (system prompt ${sys})` : ''} and the context holds ${nCtx} (raise -c or shorten it)`,
        'context_length_exceeded',
      );
    }
    if (extra) this.messages.push(extra);
    if (dropped > 0)
      yield {
        type: 'notice',
        text: `context full: the ${dropped === 1 ? 'oldest turn' : `${dropped} oldest turns`} left the model's context (the system prompt is kept; ${p.total} of ${nCtx} tokens used)`,
      };
    const r = yield* this.run(p, o, t0, dropped);
    if (r.reply === null && extra) this.messages.pop(); // cancelled before the first token: the turn did not happen
    return this.finish(r.stats, r.reply);
  }

  /**
   * Answers a whole conversation given at once (an API request that resends the history): the transcript
   * becomes `messages` (a leading system message is the system prompt) and the last user message is
   * answered, the cache reused as far as its text matches. Turns are never dropped here: a conversation
   * that does not fit is a ConversationError.
   */
  respond(messages: readonly ChatMessage[], o: TurnOptions = {}): AsyncGenerator<TurnEvent, TurnStats> {
    const rest = messages[0]?.role === 'system' ? messages.slice(1) : messages.slice();
    for (const m of rest) if (m.role === 'system') throw new ConversationError('a system message can only come first');
    if (rest.length === 0 || rest[rest.length - 1].role !== 'user') throw new ConversationError('the last message must be from the user');
    this.system = messages[0]?.role === 'system' ? messages[0].content : undefined;
    this.messages.length = 0;
    this.messages.push(...rest.map((m) => ({ role: m.role, content: m.content })));
    this.firstInContext = 0;
    return this.send(null, { ...o, dropOldTurns: false });
  }

  /** A raw completion of `prompt` (no template), reusing the cache as far as the text matches. */
  async *complete(prompt: string, o: TurnOptions = {}): AsyncGenerator<TurnEvent, TurnStats & { text: string }> {
    const t0 = performance.now();
    if (this.ctx.state().busy) throw new ConversationError('a reply is already being generated');
    if (prompt === '') throw new ConversationError('the prompt is empty');
    const p = this.planText(prompt, []);
    if (p.total >= this.nCtx)
      throw new ConversationError(`the prompt needs ${p.total} tokens and the context holds ${this.nCtx}`, 'context_length_exceeded');
    const r = yield* this.run(p, { ...o, template: false }, t0, 0);
    return { ...this.finish(r.stats, null), text: r.reply ?? '' };
  }

  /** Evaluates a planned prompt after rolling the cache back to its mark, then streams the reply. */
  private async *run(p: Plan, o: TurnOptions & { template?: boolean }, t0: number, dropped: number): AsyncGenerator<TurnEvent, { stats: TurnStats; reply: string | null }> {
    this.rollback(p.mark);
    const reused = this.kvTokens.length;
    const newTokens = p.chunks.flatMap((c) => c.tokens);
    yield { type: 'prompt', reused, evaluate: newTokens.length };

    const stats: TurnStats = {
      promptTokens: reused + newTokens.length,
      reusedTokens: reused,
      evaluatedTokens: newTokens.length,
      generatedTokens: 0,
      promptMs: 0,
      ttftMs: 0,
      generateMs: 0,
      stop: 'length',
      droppedTurns: dropped,
      cachedTokens: 0,
    };
    let logits: Float32Array;
    const tp = performance.now();
    if (newTokens.length > 0) {
      try {
        logits = await this.ctx.evaluate(newTokens, { signal: o.signal });
      } catch (err) {
        if (o.signal?.aborted) {
          // nothing was added to the cache
          stats.stop = 'aborted';
          stats.promptMs = performance.now() - tp;
          stats.evaluatedTokens = 0;
          return { stats, reply: null };
        }
        throw err;
      }
      for (const c of p.chunks) {
        const last = this.marks[this.marks.length - 1];
        this.kvTokens.push(...c.tokens);
        this.kvText += c.text;
        this.marks.push({ tokens: last.tokens + c.tokens.length, text: last.text + c.text.length });
      }
      this.saved = { tokens: this.kvTokens.length, logits: logits.slice() };
    } else if (this.saved) {
      logits = this.saved.logits.slice();
    } else {
      throw new ConversationError('the chat template rendered nothing to evaluate');
    }
    stats.promptMs = performance.now() - tp;

    const promptEnd = this.kvTokens.length;
    const stop = o.template === false ? { tokens: [], strings: [] } : this.stopConditions();
    const gen: GenerationStats = { promptTokens: 0, promptMs: 0, generatedTokens: 0, generateMs: 0, stop: 'length' };
    const replyTokens: number[] = [];
    let reply = '';
    let first = true;
    try {
      for await (const piece of generate(
        this.ctx,
        [],
        {
          ...this.sampling,
          ...o.sampling,
          maxTokens: o.nPredict ?? this.nPredict,
          signal: o.signal,
          history: this.kvTokens.concat(),
          logits,
          stopTokens: stop.tokens,
          stopStrings: [...stop.strings, ...(o.stop ?? [])],
        },
        gen,
      )) {
        if (piece.token >= 0) replyTokens.push(piece.token);
        if (first) {
          stats.ttftMs = performance.now() - t0;
          first = false;
        }
        if (piece.text) {
          reply += piece.text;
          yield { type: 'text', text: piece.text };
        }
      }
    } finally {
      // the generated tokens now in the KV cache, with marks at whole characters
      const inKv = Math.max(0, this.ctx.nPast - promptEnd);
      this.appendGenerated(replyTokens.slice(0, inKv));
      if (this.ctx.nPast !== this.kvTokens.length) this.rollback(this.marks.length - 1);
      stats.generatedTokens = gen.generatedTokens;
      this.totals.evaluated += this.kvTokens.length - promptEnd;
      stats.generateMs = gen.generateMs;
      stats.stop = gen.stop;
      if (first) stats.ttftMs = performance.now() - t0;
    }
    return { stats, reply };
  }

  /** Records the turn; `reply` null = no reply (cancelled before the first token). */
  private finish(stats: TurnStats, reply: string | null): TurnStats {
    if (reply !== null) this.messages.push({ role: 'assistant', content: reply });
    stats.cachedTokens = this.kvTokens.length;
    this.totals.turns++;
    this.totals.evaluated += stats.evaluatedTokens;
    this.totals.reused += stats.reusedTokens;
    this.totals.generated += stats.generatedTokens;
    this.last = stats;
    return stats;
  }

  /** Appends sampled tokens to the cache bookkeeping, marking where their bytes end on a whole character. */
  private appendGenerated(tokens: number[]): void {
    const tok = this.ctx.model.tokenizer;
    const dec = new TextDecoder('utf-8', { ignoreBOM: true });
    let bytes = 0; // token bytes so far
    let decoded = 0; // UTF-8 bytes of the text decoded from them (fewer while a character is split)
    let text = '';
    const base = this.marks[this.marks.length - 1];
    for (let i = 0; i < tokens.length; i++) {
      const b = tok.tokenToBytes(tokens[i], true);
      bytes += b.length;
      const piece = dec.decode(b, { stream: true });
      decoded += Buffer.byteLength(piece, 'utf8');
      text += piece;
      this.kvTokens.push(tokens[i]);
      if (decoded === bytes) this.marks.push({ tokens: base.tokens + i + 1, text: base.text + text.length });
    }
    this.kvText += text;
    // a trailing partial character has no mark: the cache ends at the last whole character
    if (this.marks[this.marks.length - 1].tokens !== this.kvTokens.length) this.rollback(this.marks.length - 1);
  }

  /** Index of the first user message at or after i. */
  private nextTurnStart(i: number): number {
    while (i < this.messages.length && this.messages[i].role !== 'user') i++;
    return i;
  }

  /** The last reply again: the cache rolls back to the end of the last prompt (no re-evaluation there). */
  regenerate(o: { signal?: AbortSignal } = {}): AsyncGenerator<TurnEvent, TurnStats> {
    if (this.messages.length && this.messages[this.messages.length - 1].role === 'assistant') this.messages.pop();
    return this.send(null, o);
  }

  /** Forgets the turns; the system prompt stays, and its cached tokens with it. */
  clear(): void {
    this.messages.length = 0;
    this.firstInContext = 0;
    const sys = this.visible();
    const keep = sys.length ? this.reusableMark(this.render(sys, false)) : 0;
    this.rollback(keep);
    this.saved = undefined;
  }

  setSystem(text: string | undefined): void {
    this.system = text;
  }

  toJSON(): SavedConversation {
    return { version: 1, system: this.system, messages: this.messages.map((m) => ({ ...m })) };
  }

  /** Replaces the conversation with a saved one (validated first: a bad file changes nothing). */
  load(data: unknown): void {
    const d = data as Partial<SavedConversation>;
    if (!d || typeof d !== 'object' || !Array.isArray(d.messages)) throw new ConversationError('not a saved conversation (expected {"messages": [...]})');
    const msgs: ChatMessage[] = [];
    let system = d.system;
    if (system !== undefined && typeof system !== 'string') throw new ConversationError('"system" must be a string');
    for (const [i, m] of d.messages.entries()) {
      if (!m || typeof m !== 'object' || typeof m.content !== 'string' || !['system', 'user', 'assistant'].includes(m.role))
        throw new ConversationError(`message ${i + 1}: expected {"role": "user"|"assistant"|"system", "content": "..."}`);
      if (m.role === 'system') {
        if (i !== 0) throw new ConversationError(`message ${i + 1}: a system message can only come first`);
        system = m.content;
      } else msgs.push({ role: m.role, content: m.content });
    }
    this.system = system;
    this.messages.length = 0;
    this.messages.push(...msgs);
    this.firstInContext = 0;
  }
}
