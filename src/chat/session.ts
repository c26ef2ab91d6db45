// A chat session: the loaded model and context, the conversation engine, the template choice and the
// settings the slash commands change (sampling, reply length, depth threshold). The terminal UI and the
// plain (piped) mode drive the same session; neither holds any generation logic of its own.
import { SAMPLING_DEFAULTS, type SamplingOptions } from '../sampling/chain.js';
import { Conversation, type TurnEvent, type TurnStats } from '../engine/conversation.js';
import { loadChatModel, type ChatModelOptions } from '../engine/chat-model.js';
import { depthSummary, type ResolvedDepth } from '../engine/depth/policy.js';
import type { Context, ContextOptions, Model } from '../engine/model.js';
import type { TemplateChoice } from '../engine/templates/index.js';

/** Per-reply figures for the status line and /stats. */
export interface ReplyFigures extends TurnStats {
  promptTps: number;
  genTps: number;
  /** blocks run per decoded token when depth routing is on */
  blocksPerToken?: number;
  /** routed expert FFNs per token over all MoE blocks, for MoE models */
  expertsPerToken?: number;
}

export interface SessionSettings {
  sampling: Required<Omit<SamplingOptions, 'logitBias' | 'eogTokens'>> & Pick<SamplingOptions, 'logitBias'>;
  nPredict: number;
  /** overrides the gates' calibrated threshold (undefined: the calibrated one) */
  depthThreshold?: number;
}

export interface SessionInit {
  model: Model;
  ctx: Context;
  template: TemplateChoice;
  systemPrompt?: string;
  sampling: SamplingOptions;
  nPredict: number;
  depth: ResolvedDepth;
}

const tps = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);

export class ChatSession {
  readonly model: Model;
  readonly ctx: Context;
  readonly conversation: Conversation;
  readonly templateChoice: TemplateChoice;
  readonly depth: ResolvedDepth;
  readonly settings: SessionSettings;
  readonly replies: ReplyFigures[] = [];

  constructor(o: SessionInit) {
    this.model = o.model;
    this.ctx = o.ctx;
    this.templateChoice = o.template;
    this.depth = o.depth;
    const sampling = { ...SAMPLING_DEFAULTS, ...Object.fromEntries(Object.entries(o.sampling).filter(([, v]) => v !== undefined)) } as SessionSettings['sampling'];
    this.settings = { sampling, nPredict: o.nPredict, depthThreshold: o.depth.policy?.threshold };
    this.conversation = new Conversation(o.ctx, { template: o.template.template, systemPrompt: o.systemPrompt, sampling, nPredict: o.nPredict });
  }

  get depthOn(): boolean {
    return this.depth.policy !== null;
  }

  /** Applies the settings to the conversation and the context's depth policy. */
  applySettings(): void {
    this.conversation.sampling = { ...this.settings.sampling };
    this.conversation.nPredict = this.settings.nPredict;
    if (this.depth.policy) {
      this.depth.policy.threshold = this.settings.depthThreshold;
      this.ctx.setDepthPolicy(this.depth.policy);
    }
  }

  /** One turn (a user message, or null to regenerate the last reply), its figures recorded at the end. */
  async *turn(user: string | null, signal?: AbortSignal): AsyncGenerator<TurnEvent, ReplyFigures> {
    this.applySettings();
    this.ctx.resetStats();
    const it = user === null ? this.conversation.regenerate({ signal }) : this.conversation.send(user, { signal });
    let r = await it.next();
    while (!r.done) {
      yield r.value;
      r = await it.next();
    }
    const st = r.value;
    const figures: ReplyFigures = { ...st, promptTps: tps(st.evaluatedTokens, st.promptMs), genTps: tps(st.generatedTokens, st.generateMs) };
    const ds = this.ctx.stats();
    const info = this.model.info;
    if (ds.routedTokens > 0) figures.blocksPerToken = depthSummary(ds, info.nLayer).blocksPerToken;
    if (info.nExpert > 0 && ds.tokens > 0) figures.expertsPerToken = ds.expertEvals / ds.tokens;
    this.replies.push(figures);
    return figures;
  }

  /** context used / total */
  contextUse(): { used: number; total: number } {
    return { used: this.conversation.cachedTokens.length, total: this.conversation.nCtx };
  }
}

export interface OpenOptions extends ChatModelOptions {
  context: ContextOptions;
  sampling: SamplingOptions;
  nPredict: number;
  systemPrompt?: string;
}

/** Loads the model, picks the chat template, builds the depth policy and the context. */
export async function openSession(o: OpenOptions): Promise<ChatSession> {
  const { model, template, depth } = await loadChatModel(o);
  const ctx = model.createContext(o.context);
  if (depth.policy) ctx.setDepthPolicy(depth.policy);
  return new ChatSession({ model, ctx, template, systemPrompt: o.systemPrompt, sampling: o.sampling, nPredict: o.nPredict, depth });
}
