// The OpenAI-compatible server's handlers through fastify's inject (no socket) on the real SmolLM2: health
// while loading and after, models, chat and text completions (whole and streamed as SSE, max_tokens, stop,
// the slot cache reused by a resent history), tokenize / detokenize, Prometheus metrics, OpenAI error bodies
// for every bad request, the API key, the bounded queue (503 + Retry-After), a client going away and the
// server shutting down (no slot or queue place left behind, no server error counted).
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChatModel } from '../../src/engine/chat-model.js';
import type { Model } from '../../src/engine/model.js';
import { SlotPool } from '../../src/engine/slots.js';
import type { ChatTemplate } from '../../src/engine/templates/index.js';
import { buildApp } from '../../src/server/app.js';
import { newState, type ServerState } from '../../src/server/state.js';
import { model } from '../helpers/shared.js';

const NAME = 'smol-test';
const FRANCE = [{ role: 'user', content: 'What is the capital of France?' }];

let m: Model;
let template: ChatTemplate;
let srv: ServerState;
let app: FastifyInstance;
const apps: FastifyInstance[] = [];

function pool(nSlots: number, nCtx: number, queueLimit: number): SlotPool {
  return new SlotPool(m, { nSlots, nCtx, context: { nThreads: 2 }, template, sampling: {}, nPredict: -1, queueLimit });
}

function mkApp(s: ServerState, o?: Parameters<typeof buildApp>[1]): FastifyInstance {
  const a = buildApp(s, o);
  apps.push(a);
  return a;
}

const post = (a: FastifyInstance, url: string, payload: object, headers: Record<string, string> = {}) => a.inject({ method: 'POST', url, payload, headers });
const chat = (body: object, a = app) => post(a, '/v1/chat/completions', body);

/** Asserts an OpenAI error body {error: {message, type, param, code}} with this status. */
function expectError(res: LightMyRequestResponse, status: number, type?: string, param?: string | RegExp | null) {
  expect(res.statusCode, res.body).toBe(status);
  const b = res.json();
  expect(Object.keys(b)).toEqual(['error']);
  expect(Object.keys(b.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof b.error.message).toBe('string');
  expect(b.error.message.length).toBeGreaterThan(0);
  expect(typeof b.error.type).toBe('string');
  if (type !== undefined) expect(b.error.type).toBe(type);
  if (param instanceof RegExp) expect(b.error.param).toMatch(param);
  else if (param !== undefined) expect(b.error.param).toBe(param);
  return b.error as { message: string; type: string; param: string | null; code: string | number | null };
}

/** The SSE payload as parsed events; every event must be `data: ...\n\n`. */
function sse(body: string): (Record<string, any> | '[DONE]')[] {
  expect(body.endsWith('\n\n')).toBe(true);
  const events = body.slice(0, -2).split('\n\n');
  return events.map((e) => {
    expect(e).toMatch(/^data: [^\n]+$/);
    const d = e.slice(6);
    return d === '[DONE]' ? '[DONE]' : JSON.parse(d);
  });
}

function metricsOf(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const mm = /^(llamacpp:\w+) (\S+)$/.exec(line);
    if (mm) out.set(mm[1], Number(mm[2]));
  }
  return out;
}

beforeAll(async () => {
  srv = newState(NAME);
  const loaded = await loadChatModel({ modelPath: model('real/SmolLM2-135M-Instruct.Q4_1.gguf'), depth: {} });
  m = loaded.model;
  template = loaded.template.template;
  srv.model = m;
  srv.template = loaded.template;
  srv.pool = pool(2, 2048, 1);
  app = mkApp(srv);
});

afterAll(async () => {
  for (const a of apps) await a.close();
});

describe('health and models', () => {
  it('answers 503 with llama-server\'s body while the model loads, and 503 on the other endpoints', async () => {
    const loading = mkApp(newState('loading'));
    for (const url of ['/health', '/v1/health']) {
      const res = await loading.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: { code: 503, message: 'Loading model', type: 'unavailable_error' } });
    }
    expectError(await loading.inject({ method: 'GET', url: '/v1/models' }), 503, 'unavailable_error');
    expectError(await chat({ messages: FRANCE }, loading), 503, 'unavailable_error');
    expectError(await post(loading, '/v1/completions', { prompt: 'Hi' }), 503, 'unavailable_error');
    expectError(await post(loading, '/tokenize', { content: 'Hi' }), 503, 'unavailable_error');
  });

  it('answers 200 {status: ok} once the pool is set', async () => {
    for (const url of ['/health', '/v1/health']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    }
  });

  it('lists the one model under the name given to the state', async () => {
    for (const url of ['/v1/models', '/models']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      const b = res.json();
      expect(b.object).toBe('list');
      expect(b.data).toHaveLength(1);
      expect(b.data[0]).toMatchObject({ id: NAME, object: 'model', owned_by: 'llama4' });
      expect(b.data[0].meta.n_ctx_slot).toBe(1024);
      expect(b.data[0].meta.slots).toBe(2);
    }
  });
});

describe('chat completions', () => {
  let first: any;

  it('answers a question (temperature 0): Paris, finish_reason stop, consistent usage, timings', async () => {
    const res = await chat({ messages: FRANCE, temperature: 0 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const b = res.json();
    first = b;
    expect(b.object).toBe('chat.completion');
    expect(b.model).toBe(NAME);
    expect(b.id).toMatch(/^chatcmpl-/);
    expect(b.choices).toHaveLength(1);
    expect(b.choices[0].message.role).toBe('assistant');
    expect(b.choices[0].message.content).toContain('Paris');
    expect(b.choices[0].finish_reason).toBe('stop');
    const u = b.usage;
    expect(u.prompt_tokens).toBeGreaterThan(5);
    expect(u.completion_tokens).toBeGreaterThan(0);
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    expect(u.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(0);
    expect(b.timings.prompt_n + b.timings.cache_n).toBe(u.prompt_tokens);
    expect(b.timings.predicted_n).toBe(u.completion_tokens);
    expect(b.timings.predicted_ms).toBeGreaterThan(0);
    expect(srv.pool!.busyCount).toBe(0);
  });

  it('reuses the slot holding the history when the client resends it', async () => {
    const reply = first.choices[0].message.content as string;
    const res = await chat({
      messages: [...FRANCE, { role: 'assistant', content: reply }, { role: 'user', content: 'And of Germany?' }],
      temperature: 0,
      max_tokens: 16,
    });
    expect(res.statusCode, res.body).toBe(200);
    const u = res.json().usage;
    expect(u.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
    // the whole first prompt (and its reply) came from the cache, not just a shared template prefix
    expect(u.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(first.usage.prompt_tokens);
    expect(u.prompt_tokens).toBeGreaterThan(u.prompt_tokens_details.cached_tokens);
  });

  it('answers without the /v1 prefix', async () => {
    const res = await post(app, '/chat/completions', { messages: FRANCE, temperature: 0 });
    expect(res.statusCode, res.body).toBe(200);
    const b = res.json();
    expect(b.choices[0].message.content).toContain('Paris');
    expect(b.choices[0].finish_reason).toBe('stop');
    expect(b.usage.total_tokens).toBe(b.usage.prompt_tokens + b.usage.completion_tokens);
  });

  it('streams server-sent events: role first, deltas with Paris, finish chunk, usage chunk, [DONE] last', async () => {
    const res = await chat({ messages: FRANCE, temperature: 0, stream: true, stream_options: { include_usage: true } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const ev = sse(res.body);
    expect(ev[ev.length - 1]).toBe('[DONE]');
    expect(ev.filter((e) => e === '[DONE]')).toHaveLength(1);
    const chunks = ev.slice(0, -1) as Record<string, any>[];
    for (const c of chunks) {
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.model).toBe(NAME);
      expect(c.id).toBe(chunks[0].id);
    }
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const usageChunk = chunks[chunks.length - 1];
    expect(usageChunk.choices).toEqual([]);
    const u = usageChunk.usage;
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    const finish = chunks[chunks.length - 2];
    expect(finish.choices[0].finish_reason).toBe('stop');
    expect(finish.choices[0].delta).toEqual({});
    expect(finish.timings.predicted_n).toBe(u.completion_tokens);
    const deltas = chunks.slice(0, -2);
    expect(deltas.length).toBeGreaterThan(0);
    for (const d of deltas) expect(d.choices[0].finish_reason).toBeNull();
    const text = deltas.map((d) => d.choices[0].delta.content ?? '').join('');
    expect(text).toContain('Paris');
    expect(srv.pool!.busyCount).toBe(0);
  });

  it('streams without a usage chunk when include_usage is not set', async () => {
    const res = await chat({ messages: FRANCE, temperature: 0, stream: true, max_tokens: 4 });
    const ev = sse(res.body);
    expect(ev[ev.length - 1]).toBe('[DONE]');
    const chunks = ev.slice(0, -1) as Record<string, any>[];
    for (const c of chunks) expect(c.choices).toHaveLength(1);
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe('length');
  });

  it('max_tokens: 3 stops at 3 tokens with finish_reason length', async () => {
    const res = await chat({ messages: FRANCE, temperature: 0, max_tokens: 3 });
    expect(res.statusCode, res.body).toBe(200);
    const b = res.json();
    expect(b.choices[0].finish_reason).toBe('length');
    expect(b.usage.completion_tokens).toBe(3);
    expect(b.usage.total_tokens).toBe(b.usage.prompt_tokens + 3);
  });

  it('a stop string ends the reply before it (finish_reason stop)', async () => {
    const res = await chat({ messages: FRANCE, temperature: 0, stop: ['Paris'] });
    expect(res.statusCode, res.body).toBe(200);
    const b = res.json();
    expect(b.choices[0].message.content).not.toContain('Paris');
    expect(b.choices[0].finish_reason).toBe('stop');
  });
});

describe('concurrent requests', () => {
  it('two slots answer at once and a third request waits in the queue, each gets its own answer', async () => {
    const ask = (country: string) => chat({ messages: [{ role: 'user', content: `What is the capital of ${country}?` }], temperature: 0, max_tokens: 24 });
    const pending = [ask('France'), ask('Germany'), ask('Italy')];
    // two run, one waits (queueLimit 1)
    const t0 = Date.now();
    while (srv.pool!.queueDepth === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 1));
    expect(srv.pool!.busyCount).toBe(2);
    expect(srv.pool!.queueDepth).toBe(1);
    const res = await Promise.all(pending);
    for (const r of res) expect(r.statusCode, r.body).toBe(200);
    const texts = res.map((r) => r.json().choices[0].message.content as string);
    expect(texts[0]).toContain('Paris');
    expect(texts[1]).toContain('Berlin');
    expect(texts[2]).toContain('Rome');
    expect(srv.pool!.busyCount).toBe(0);
    expect(srv.pool!.queueDepth).toBe(0);
  });
});

describe('text completions', () => {
  it('completes a prompt string', async () => {
    const res = await post(app, '/v1/completions', { prompt: 'The capital of France is', temperature: 0, max_tokens: 8 });
    expect(res.statusCode, res.body).toBe(200);
    const b = res.json();
    expect(b.object).toBe('text_completion');
    expect(b.id).toMatch(/^cmpl-/);
    expect(b.model).toBe(NAME);
    expect(typeof b.choices[0].text).toBe('string');
    expect(b.choices[0].text.length).toBeGreaterThan(0);
    expect(b.choices[0].finish_reason).toBe('length');
    expect(b.usage.completion_tokens).toBe(8);
    expect(b.usage.total_tokens).toBe(b.usage.prompt_tokens + b.usage.completion_tokens);
  });

  it('streams a completion ending with [DONE] (also without /v1)', async () => {
    const res = await post(app, '/completions', { prompt: 'The capital of France is', temperature: 0, max_tokens: 8, stream: true, stream_options: { include_usage: true } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const ev = sse(res.body);
    expect(ev[ev.length - 1]).toBe('[DONE]');
    const chunks = ev.slice(0, -1) as Record<string, any>[];
    for (const c of chunks) expect(c.object).toBe('text_completion');
    expect(chunks[chunks.length - 1].choices).toEqual([]);
    expect(chunks[chunks.length - 1].usage.completion_tokens).toBe(8);
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('length');
    const text = chunks.slice(0, -2).map((c) => c.choices[0].text).join('');
    expect(text.length).toBeGreaterThan(0);
  });

  it('takes the prompt as a one-element array, with the same greedy text', async () => {
    const a = await post(app, '/v1/completions', { prompt: ['The capital of France is'], temperature: 0, max_tokens: 8 });
    const s = await post(app, '/v1/completions', { prompt: 'The capital of France is', temperature: 0, max_tokens: 8 });
    expect(a.statusCode, a.body).toBe(200);
    expect(a.json().choices[0].text.length).toBeGreaterThan(0);
    expect(a.json().choices[0].text).toBe(s.json().choices[0].text);
    // the second found the prompt in a slot's cache
    expect(s.json().usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('refuses an empty prompt, a missing one and a two-element array', async () => {
    expectError(await post(app, '/v1/completions', { prompt: '' }), 400, 'invalid_request_error', 'prompt');
    expectError(await post(app, '/v1/completions', { prompt: [''] }), 400, 'invalid_request_error', 'prompt');
    expectError(await post(app, '/v1/completions', {}), 400, 'invalid_request_error', 'prompt');
    expectError(await post(app, '/v1/completions', { prompt: ['a', 'b'] }), 400, 'invalid_request_error');
    expect(srv.pool!.busyCount).toBe(0);
  });
});

describe('tokenize and detokenize', () => {
  it('tokenizes, with pieces, without special tokens by default, and detokenizes back', async () => {
    const res = await post(app, '/tokenize', { content: 'Hello world' });
    expect(res.statusCode, res.body).toBe(200);
    const ids = res.json().tokens as number[];
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(Number.isInteger(id)).toBe(true);
    expect(ids).toEqual(m.tokenizer.encode('Hello world', { addSpecial: false, parseSpecial: true }));

    const wp = await post(app, '/v1/tokenize', { content: 'Hello world', with_pieces: true });
    expect(wp.statusCode).toBe(200);
    const pieces = wp.json().tokens as { id: number; piece: string }[];
    expect(pieces.map((p) => p.id)).toEqual(ids);
    expect(pieces.map((p) => p.piece).join('')).toBe('Hello world');

    // add_special: true adds what the vocabulary asks for (SmolLM2 adds nothing, so both agree there)
    const sp = await post(app, '/tokenize', { content: 'Hello world', add_special: true });
    expect(sp.json().tokens).toEqual(m.tokenizer.encode('Hello world', { addSpecial: true, parseSpecial: true }));

    const de = await post(app, '/detokenize', { tokens: ids });
    expect(de.statusCode, de.body).toBe(200);
    expect(de.json()).toEqual({ content: 'Hello world' });
  });

  it('parses special tokens in the content, and detokenizes them back as text', async () => {
    const res = await post(app, '/tokenize', { content: '<|im_start|>user' });
    const ids = res.json().tokens as number[];
    expect(ids[0]).toBe(m.tokenizer.tokenId('<|im_start|>'));
    expect((await post(app, '/detokenize', { tokens: ids })).json()).toEqual({ content: '<|im_start|>user' });
  });

  it('gives a piece that is not whole UTF-8 as its bytes', async () => {
    const text = 'llama 🦙!';
    const res = await post(app, '/tokenize', { content: text, with_pieces: true });
    const pieces = res.json().tokens as { id: number; piece: string | number[] }[];
    expect(pieces.some((p) => Array.isArray(p.piece))).toBe(true);
    const bytes = pieces.flatMap((p) => (typeof p.piece === 'string' ? [...Buffer.from(p.piece)] : p.piece));
    expect(Buffer.from(bytes).toString('utf8')).toBe(text);
  });

  it('refuses an id outside the vocabulary with its param', async () => {
    const n = m.tokenizer.size;
    const e = expectError(await post(app, '/detokenize', { tokens: [1, n] }), 400, 'invalid_request_error', 'tokens[1]');
    expect(e.message).toContain(String(n));
    expectError(await post(app, '/detokenize', { tokens: [-1] }), 400, 'invalid_request_error', 'tokens[0]');
    expectError(await post(app, '/detokenize', {}), 400, 'invalid_request_error', 'tokens');
  });
});

describe('metrics', () => {
  it('reports Prometheus text whose counters grow with a request', async () => {
    const before = await app.inject({ method: 'GET', url: '/metrics' });
    expect(before.statusCode).toBe(200);
    expect(before.headers['content-type']).toMatch(/^text\/plain/);
    expect(before.body).toMatch(/^llamacpp:prompt_tokens_total \d/m);
    expect(before.body).toMatch(/^llamacpp:requests_processing 0$/m);
    expect(before.body).toContain('# TYPE llamacpp:prompt_tokens_total counter');
    const a = metricsOf(before.body);

    const res = await chat({ messages: [{ role: 'user', content: 'Name a colour.' }], temperature: 0, max_tokens: 5 });
    expect(res.statusCode).toBe(200);

    const b = metricsOf((await app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(b.get('llamacpp:requests_total')).toBe(a.get('llamacpp:requests_total')! + 1);
    expect(b.get('llamacpp:prompt_tokens_total')).toBeGreaterThan(a.get('llamacpp:prompt_tokens_total')!);
    expect(b.get('llamacpp:tokens_predicted_total')).toBe(a.get('llamacpp:tokens_predicted_total')! + 5);
    expect(b.get('llamacpp:prompt_seconds_total')).toBeGreaterThan(a.get('llamacpp:prompt_seconds_total')!);
    expect(b.get('llamacpp:requests_processing')).toBe(0);
    expect(b.get('llamacpp:errors_total')).toBe(0);
  });
});

describe('errors', () => {
  it('invalid JSON, or a body that is not an object, is a 400', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: '{"messages": [', headers: { 'content-type': 'application/json' } });
    expectError(res, 400, 'invalid_request_error');
    for (const r of [
      await app.inject({ method: 'POST', url: '/v1/chat/completions' }),
      await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: '[1]', headers: { 'content-type': 'application/json' } }),
    ]) {
      const e = expectError(r, 400, 'invalid_request_error');
      expect(e.message).toMatch(/^\S/);
    }
  });

  it('wrong types are a 400 naming the field', async () => {
    expectError(await chat({ messages: FRANCE, temperature: 'hot' }), 400, 'invalid_request_error', /temperature/);
    expectError(await chat({ messages: FRANCE, stop: [1, { a: 2 }] }), 400, 'invalid_request_error', /stop/);
    expectError(await chat({ messages: 'hello' }), 400, 'invalid_request_error', /messages/);
  });

  it('missing or empty messages are a 400', async () => {
    expectError(await chat({ temperature: 0 }), 400, 'invalid_request_error', 'messages');
    expectError(await chat({ messages: [] }), 400, 'invalid_request_error', /messages/);
  });

  it('an unknown role, or content that is not a string, is a 400 with the message\'s param', async () => {
    expectError(await chat({ messages: [{ role: 'wizard', content: 'hi' }] }), 400, 'invalid_request_error', 'messages[0].role');
    expectError(await chat({ messages: [{ role: 'user', content: 42 }] }), 400, 'invalid_request_error', 'messages[0].content');
    expectError(await chat({ messages: [{ role: 'user', content: { text: 'hi' } }] }), 400, 'invalid_request_error', 'messages[0].content');
    expectError(await chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'x' }] }] }), 400, 'invalid_request_error', 'messages[0].content');
    expectError(await chat({ messages: [FRANCE[0], 'oops'] }), 400, 'invalid_request_error', 'messages[1].role');
  });

  it('a conversation not ending with a user message, or a system message after the first, is a 400', async () => {
    const e = expectError(await chat({ messages: [{ role: 'assistant', content: 'Hi' }] }), 400, 'invalid_request_error', 'messages');
    expect(e.code).toBeNull();
    const s = expectError(await chat({ messages: [FRANCE[0], { role: 'system', content: 'Be brief.' }, FRANCE[0]] }), 400, 'invalid_request_error', 'messages');
    expect(s.code).toBeNull();
    expect(s.message).toMatch(/system/);
    expect(srv.pool!.busyCount).toBe(0);
  });

  it('negative max_tokens and n: 2 are a 400', async () => {
    expectError(await chat({ messages: FRANCE, max_tokens: -5 }), 400, 'invalid_request_error', /max_tokens/);
    expectError(await chat({ messages: FRANCE, n: 2 }), 400, 'invalid_request_error', 'n');
    expectError(await chat({ messages: FRANCE, stop: [''] }), 400, 'invalid_request_error', 'stop');
  });

  it('a prompt longer than a slot\'s context is a 400 and leaks no slot', async () => {
    const long = Array.from({ length: 3000 }, (_, i) => `word${i % 97}`).join(' ');
    const e = expectError(await chat({ messages: [{ role: 'user', content: long }] }), 400, 'invalid_request_error', 'messages');
    expect(e.code).toBe('context_length_exceeded');
    expect(e.message).toMatch(/1024/);
    expect(srv.pool!.busyCount).toBe(0);
    // streamed, and as a raw completion: refused before any event
    const s = await chat({ messages: [{ role: 'user', content: long }], stream: true });
    expect(s.headers['content-type']).toMatch(/application\/json/);
    expect(expectError(s, 400, 'invalid_request_error', 'messages').code).toBe('context_length_exceeded');
    expect(expectError(await post(app, '/v1/completions', { prompt: long }), 400, 'invalid_request_error', 'prompt').code).toBe('context_length_exceeded');
    expect(srv.pool!.busyCount).toBe(0);
    expect(srv.pool!.queueDepth).toBe(0);

    const ok = await chat({ messages: FRANCE, temperature: 0 });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().choices[0].message.content).toContain('Paris');
    expect(srv.pool!.busyCount).toBe(0);
  });

  it('a body over the limit is a 413', async () => {
    const small = mkApp(srv, { bodyLimit: 1024 });
    const res = await post(small, '/v1/chat/completions', { messages: [{ role: 'user', content: 'x'.repeat(2048) }] });
    expectError(res, 413);
    // under the limit the same app answers
    const ok = await post(small, '/tokenize', { content: 'Hello' });
    expect(ok.statusCode).toBe(200);
  });

  it('an unknown route is a 404 not_found_error; a wrong method on a known route is a 404/405 with the body', async () => {
    expectError(await app.inject({ method: 'GET', url: '/v1/nope' }), 404, 'not_found_error');
    expectError(await post(app, '/v2/chat/completions', { messages: FRANCE }), 404, 'not_found_error');
    const res = await app.inject({ method: 'GET', url: '/v1/chat/completions' });
    expect([404, 405]).toContain(res.statusCode);
    expectError(res, res.statusCode);
    const del = await app.inject({ method: 'DELETE', url: '/v1/models' });
    expect([404, 405]).toContain(del.statusCode);
    expectError(del, del.statusCode);
  });

  it('no request above left a server error behind', () => {
    expect(srv.metrics.errors).toBe(0);
    expect(srv.pool!.busyCount).toBe(0);
  });
});

describe('API key', () => {
  let keyed: FastifyInstance;
  beforeAll(() => {
    const s = newState(NAME, 'sekrit');
    s.pool = srv.pool;
    keyed = mkApp(s);
  });

  it('refuses a request without a key or with a wrong one (401 authentication_error)', async () => {
    expectError(await keyed.inject({ method: 'GET', url: '/v1/models' }), 401, 'authentication_error');
    expectError(await keyed.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer wrong' } }), 401, 'authentication_error');
    expectError(await keyed.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer sekri' } }), 401, 'authentication_error');
    expectError(await keyed.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'sekrit' } }), 401, 'authentication_error');
    expectError(await keyed.inject({ method: 'GET', url: '/v1/models', headers: { 'x-api-key': 'nope' } }), 401, 'authentication_error');
    expectError(await post(keyed, '/v1/chat/completions', { messages: FRANCE }), 401, 'authentication_error');
    expectError(await keyed.inject({ method: 'GET', url: '/metrics' }), 401, 'authentication_error');
    expectError(await keyed.inject({ method: 'GET', url: '/v1/models?x=/health' }), 401, 'authentication_error');
  });

  it('accepts Authorization: Bearer and x-api-key', async () => {
    const a = await keyed.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer sekrit' } });
    expect(a.statusCode, a.body).toBe(200);
    expect(a.json().data[0].id).toBe(NAME);
    const b = await keyed.inject({ method: 'GET', url: '/v1/models', headers: { 'x-api-key': 'sekrit' } });
    expect(b.statusCode, b.body).toBe(200);
    const c = await post(keyed, '/v1/chat/completions', { messages: FRANCE, temperature: 0, max_tokens: 2 }, { authorization: 'Bearer sekrit' });
    expect(c.statusCode, c.body).toBe(200);
  });

  it('/health needs no key', async () => {
    const res = await keyed.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect((await keyed.inject({ method: 'GET', url: '/health?x=1' })).statusCode).toBe(200);
  });
});

describe('queue', () => {
  it('refuses a request past the queue limit with 503 and Retry-After; the slot is free afterwards', async () => {
    const qs = newState('queue');
    qs.pool = pool(1, 1024, 0);
    const qa = mkApp(qs);
    const long = chat({ messages: [{ role: 'user', content: 'Write a long story about a dragon and a knight.' }], temperature: 0, max_tokens: 200, stream: true }, qa);
    const t0 = Date.now();
    while (qs.pool.busyCount === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 1));
    expect(qs.pool.busyCount).toBe(1);

    const res = await chat({ messages: FRANCE, max_tokens: 2 }, qa);
    expectError(res, 503, 'unavailable_error');
    expect(res.headers['retry-after']).toBeDefined();
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    const comp = await post(qa, '/v1/completions', { prompt: 'Hi', max_tokens: 2 });
    expectError(comp, 503, 'unavailable_error');
    expect(comp.headers['retry-after']).toBeDefined();

    const done = await long;
    expect(done.statusCode).toBe(200);
    const ev = sse(done.body);
    expect(ev[ev.length - 1]).toBe('[DONE]');
    const finish = ev[ev.length - 2] as Record<string, any>;
    expect(['stop', 'length']).toContain(finish.choices[0].finish_reason);
    expect(finish.timings.predicted_n).toBeGreaterThan(0);
    expect(qs.pool.busyCount).toBe(0);

    const after = await chat({ messages: FRANCE, temperature: 0, max_tokens: 2 }, qa);
    expect(after.statusCode, after.body).toBe(200);
    expect(qs.metrics.errors).toBe(0);
  });
});

describe('a client going away', () => {
  it('frees its queue place and its slot, and is no server error', async () => {
    const ds = newState('leaving');
    ds.pool = pool(1, 1024, 1);
    const da = mkApp(ds);
    // each response, and the SSE events written to it (what the client has seen)
    const raws: import('node:http').ServerResponse[] = [];
    const writes: number[] = [];
    da.addHook('onRequest', async (_req, reply) => {
      const i = raws.push(reply.raw) - 1;
      writes[i] = 0;
      const write = reply.raw.write.bind(reply.raw) as (...a: unknown[]) => boolean;
      reply.raw.write = ((...args: unknown[]) => {
        writes[i]++;
        return write(...args);
      }) as typeof reply.raw.write;
    });
    const until = async (ok: () => boolean) => {
      const t0 = Date.now();
      while (!ok() && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 1));
      expect(ok()).toBe(true);
    };
    const settle = (p: Promise<LightMyRequestResponse>) => p.then((r) => r, (e: Error) => e);
    const a = settle(chat({ messages: [{ role: 'user', content: 'Write a long story about a dragon and a knight.' }], temperature: 0, max_tokens: 400, stream: true }, da));
    await until(() => ds.pool!.busyCount === 1);
    const b = settle(chat({ messages: FRANCE, max_tokens: 2 }, da));
    await until(() => ds.pool!.queueDepth === 1);
    raws[1].destroy(); // the queued client leaves
    await until(() => ds.pool!.queueDepth === 0);
    expect(ds.pool!.busyCount).toBe(1);
    await until(() => writes[0] >= 3); // the stream has begun
    raws[0].destroy(); // the streaming client leaves: the generation stops
    await until(() => ds.pool!.busyCount === 0);
    for (const r of [await a, await b]) expect((r as { code?: string }).code).toBe('LIGHT_ECONNRESET');
    expect(ds.metrics.requests).toBe(1);
    expect(ds.metrics.generatedTokens).toBeGreaterThan(0);
    expect(ds.metrics.generatedTokens).toBeLessThan(400);
    const after = await chat({ messages: FRANCE, temperature: 0, max_tokens: 2 }, da);
    expect(after.statusCode, after.body).toBe(200);
    expect(ds.metrics.errors).toBe(0);
  });
});

describe('shutting down', () => {
  it('ends a running stream with its last chunk and [DONE], and answers a queued request 503', async () => {
    const ss = newState('stopping');
    ss.pool = pool(1, 1024, 1);
    const sa = mkApp(ss);
    const msgs = [{ role: 'user', content: 'Write a long story about a dragon and a knight.' }];
    const a = chat({ messages: msgs, temperature: 0, max_tokens: 400, stream: true }, sa);
    const t0 = Date.now();
    while (ss.pool.busyCount === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 1));
    const b = chat({ messages: FRANCE, max_tokens: 2 }, sa);
    while (ss.pool.queueDepth === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 1));
    expect(ss.pool.queueDepth).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    ss.closing.abort();
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.statusCode).toBe(200);
    const ev = sse(ra.body);
    expect(ev[ev.length - 1]).toBe('[DONE]');
    const finish = ev[ev.length - 2] as Record<string, any>;
    expect(finish.choices[0].finish_reason).not.toBeNull();
    expect(finish.timings.predicted_n).toBeLessThan(400);
    expectError(rb, 503, 'unavailable_error');
    expect(ss.pool.busyCount).toBe(0);
    expect(ss.pool.queueDepth).toBe(0);
    expect(ss.metrics.errors).toBe(0);
  });
});
