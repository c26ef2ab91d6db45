// The OpenAI wire format: error bodies, request fields -> engine options, response objects. Field names
// and extensions follow llama-server where it extends the API (timings, /tokenize's with_pieces).
import { randomUUID } from 'node:crypto';
import type { SamplingOptions } from '../sampling/chain.js';
import type { TurnStats } from '../engine/conversation.js';
import type { ChatMessage } from '../engine/templates/index.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | number | null = null,
  ) {
    super(message);
  }
  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const bad = (message: string, param: string | null = null, code: string | null = null) => new ApiError(400, message, 'invalid_request_error', param, code);

/** Sampling fields shared by chat and text completions. */
export const SAMPLING_PROPS = {
  temperature: { type: 'number', minimum: 0 },
  top_p: { type: 'number', minimum: 0, maximum: 1 },
  top_k: { type: 'integer' },
  min_p: { type: 'number', minimum: 0, maximum: 1 },
  seed: { type: 'integer' },
  max_tokens: { type: ['integer', 'null'], minimum: -1 },
  max_completion_tokens: { type: ['integer', 'null'], minimum: -1 },
  n_predict: { type: 'integer', minimum: -1 },
  stop: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 16 }, { type: 'null' }] },
  presence_penalty: { type: 'number', minimum: -2, maximum: 2 },
  frequency_penalty: { type: 'number', minimum: -2, maximum: 2 },
  repeat_penalty: { type: 'number', minimum: 0 },
  n: { type: 'integer' },
  stream: { type: 'boolean' },
  stream_options: { type: ['object', 'null'], properties: { include_usage: { type: 'boolean' } } },
  model: { type: 'string' },
  user: { type: 'string' },
} as const;

export interface SamplingFields {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  seed?: number;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  n_predict?: number;
  stop?: string | string[] | null;
  presence_penalty?: number;
  frequency_penalty?: number;
  repeat_penalty?: number;
  n?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  model?: string;
}

/** Request fields -> sampling options, reply length and stop strings (n other than 1 is refused). */
/** A request's generation fields as the options of one served turn (sampling, length, stops, streaming). */
export function turnFields(b: SamplingFields): { sampling: SamplingOptions; nPredict?: number; stop: string[]; stream: boolean; includeUsage: boolean } {
  if (b.n !== undefined && b.n !== 1) throw bad('only n = 1 is supported', 'n', 'unsupported_value');
  const sampling: SamplingOptions = {};
  if (b.temperature !== undefined) sampling.temp = b.temperature;
  if (b.top_p !== undefined) sampling.topP = b.top_p;
  if (b.top_k !== undefined) sampling.topK = b.top_k;
  if (b.min_p !== undefined) sampling.minP = b.min_p;
  if (b.seed !== undefined) sampling.seed = b.seed >>> 0;
  if (b.presence_penalty !== undefined) sampling.presencePenalty = b.presence_penalty;
  if (b.frequency_penalty !== undefined) sampling.frequencyPenalty = b.frequency_penalty;
  if (b.repeat_penalty !== undefined) sampling.repeatPenalty = b.repeat_penalty;
  const n = b.max_completion_tokens ?? b.max_tokens ?? b.n_predict;
  const stop = b.stop == null ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop;
  if (stop.some((s) => s === '')) throw bad('stop strings must not be empty', 'stop');
  return { sampling, nPredict: n ?? undefined, stop, stream: b.stream === true, includeUsage: b.stream_options?.include_usage === true };
}

/** The fields every (chunk) object of one completion response shares: id, creation time, model. */
export function responseBase(idPrefix: string, model: string) {
  return { id: `${idPrefix}-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model, system_fingerprint: 'llama4' };
}

type Part = { type?: unknown; text?: unknown };
/** OpenAI messages (content a string or text parts) -> chat messages; roles checked. */
export function chatMessages(raw: unknown): ChatMessage[] {
  if (!Array.isArray(raw) || raw.length === 0) throw bad("'messages' must be a non-empty array", 'messages');
  return raw.map((m, i) => {
    const role = (m as { role?: unknown })?.role;
    let content = (m as { content?: unknown })?.content;
    const param = `messages[${i}]`;
    if (role === 'developer') {
      // OpenAI's newer name for the system role
    } else if (role !== 'system' && role !== 'user' && role !== 'assistant')
      throw bad(`${param}.role must be one of system, user, assistant (got ${JSON.stringify(role)})`, `${param}.role`);
    if (Array.isArray(content)) {
      if (!content.every((p: Part) => p && p.type === 'text' && typeof p.text === 'string'))
        throw bad(`${param}.content: only text parts are supported`, `${param}.content`);
      content = content.map((p: Part) => p.text).join('');
    }
    if (content === null && role === 'assistant') content = '';
    if (typeof content !== 'string') throw bad(`${param}.content must be a string or a list of text parts`, `${param}.content`);
    return { role: role === 'developer' ? 'system' : (role as ChatMessage['role']), content };
  });
}

export function finishReason(stop: TurnStats['stop']): 'stop' | 'length' {
  return stop === 'eog' || stop === 'stop' ? 'stop' : 'length';
}

export function usage(st: TurnStats) {
  return {
    prompt_tokens: st.promptTokens,
    completion_tokens: st.generatedTokens,
    total_tokens: st.promptTokens + st.generatedTokens,
    prompt_tokens_details: { cached_tokens: st.reusedTokens },
  };
}

/** llama-server's timings extension */
export function timings(st: TurnStats) {
  const per = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);
  return {
    cache_n: st.reusedTokens,
    prompt_n: st.evaluatedTokens,
    prompt_ms: st.promptMs,
    prompt_per_token_ms: st.evaluatedTokens ? st.promptMs / st.evaluatedTokens : 0,
    prompt_per_second: per(st.evaluatedTokens, st.promptMs),
    predicted_n: st.generatedTokens,
    predicted_ms: st.generateMs,
    predicted_per_token_ms: st.generatedTokens ? st.generateMs / st.generatedTokens : 0,
    predicted_per_second: per(st.generatedTokens, st.generateMs),
  };
}
