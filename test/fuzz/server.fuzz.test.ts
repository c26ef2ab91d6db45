// Property test with a fixed seed for the server's request handling (fastify inject, no socket): random
// bodies for every route (valid requests with fields replaced, dropped or added, random JSON of any shape,
// broken JSON, other content types, unknown routes and methods) on stories260K. Every answer is a 2xx
// with a well-formed body or a 4xx/503 with an OpenAI error body; never a 500, never a counted server
// error, and no request takes long.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChatModel } from '../../src/engine/chat-model.js';
import { SlotPool } from '../../src/engine/slots.js';
import { buildApp } from '../../src/server/app.js';
import { newState, type ServerState } from '../../src/server/state.js';
import { model } from '../helpers/shared.js';
import { int, pick, randomJson, randomText, seeded, type Rand } from './random.js';

const SLOW_MS = 5000;
let srv: ServerState;
let app: FastifyInstance;

beforeAll(async () => {
  srv = newState('fuzz');
  const loaded = await loadChatModel({ modelPath: model('stories260K.gguf'), depth: {} });
  srv.model = loaded.model;
  srv.template = loaded.template;
  srv.pool = new SlotPool(loaded.model, { nSlots: 1, nCtx: 128, context: { nThreads: 1 }, template: loaded.template.template, sampling: {}, nPredict: 16, queueLimit: 2 });
  app = buildApp(srv);
});
afterAll(async () => {
  await app?.close();
});

const msg = (r: Rand) => ({ role: pick(r, ['system', 'user', 'assistant']), content: randomText(r, 8) });
const VALID: Record<string, (r: Rand) => Record<string, unknown>> = {
  '/v1/chat/completions': (r) => ({ messages: Array.from({ length: 1 + int(r, 3) }, () => msg(r)), max_tokens: int(r, 12), temperature: r() }),
  '/v1/completions': (r) => ({ prompt: randomText(r, 8) || 'x', max_tokens: int(r, 12), seed: int(r, 100) }),
  '/tokenize': (r) => ({ content: randomText(r, 12), with_pieces: r() < 0.5, parse_special: r() < 0.5 }),
  '/detokenize': (r) => ({ tokens: Array.from({ length: int(r, 12) }, () => int(r, 600) - 40) }),
};
const FIELDS = ['messages', 'prompt', 'content', 'tokens', 'max_tokens', 'max_completion_tokens', 'n_predict', 'temperature', 'top_p', 'top_k', 'min_p', 'seed', 'stop', 'stream', 'stream_options', 'n', 'presence_penalty', 'frequency_penalty', 'repeat_penalty', 'model', 'with_pieces', 'add_special', 'parse_special'];

/** A request: a valid body with 0..3 fields replaced, dropped or added, or something else entirely. */
function request(r: Rand): { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; url: string; payload?: string; headers: Record<string, string> } {
  if (r() < 0.1) return { method: pick(r, ['GET', 'PUT', 'DELETE'] as const), url: pick(r, ['/v1/models', '/health', '/metrics', '/v1/nope', '/tokenize', '/']), headers: {} };
  const url = pick(r, [...Object.keys(VALID), ...Object.keys(VALID), '/chat/completions', '/completions', '/v1/tokenize', '/v1/detokenize', '/v1/nope', '/v1/chat/completions?x=1']);
  const k = r();
  const base = (VALID[url.replace(/\?.*$/, '').replace(/^\/(chat\/completions|completions)$/, '/v1/$1').replace('/v1/tokenize', '/tokenize')] ?? VALID['/tokenize'])(r);
  let body: unknown = base;
  if (k < 0.15) body = randomJson(r);
  else if (k < 0.85) {
    for (let i = int(r, 4); i > 0; i--) {
      const f = pick(r, [...Object.keys(base), ...FIELDS]);
      if (r() < 0.25) delete base[f];
      else base[f] = f === 'stream' && r() < 0.7 ? r() < 0.5 : randomJson(r);
    }
  }
  let payload = JSON.stringify(body);
  if (k >= 0.85 && k < 0.92) payload = payload.slice(0, int(r, payload.length)); // cut JSON
  if (k >= 0.92 && k < 0.95) payload = randomText(r, 10);
  const type = k >= 0.95 ? pick(r, ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/json; charset=latin1']) : 'application/json';
  return { method: 'POST', url, payload, headers: { 'content-type': type } };
}

describe('the server on random requests', () => {
  it('answers every request with a body of its status, never a server error', async () => {
    const r = seeded(0x5e7e);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1500; i++) {
      const q = request(r);
      const t0 = performance.now();
      const res = await app.inject(q);
      const ms = performance.now() - t0;
      const what = `${q.method} ${q.url} ${q.payload ?? ''}`;
      expect(ms, what).toBeLessThan(SLOW_MS);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      expect([200, 400, 404, 413, 415, 503], what).toContain(res.statusCode);
      const stream = res.headers['content-type']?.toString().startsWith('text/event-stream');
      if (res.statusCode === 200 && stream) {
        expect(res.body.endsWith('data: [DONE]\n\n'), what).toBe(true);
        for (const e of res.body.slice(0, -2).split('\n\n')) if (e !== 'data: [DONE]') expect(() => JSON.parse(e.slice(6)), what).not.toThrow();
      } else if (res.statusCode === 200) {
        if (res.headers['content-type']?.toString().startsWith('application/json')) expect(() => res.json(), what).not.toThrow();
      } else {
        const b = res.json();
        expect(Object.keys(b), what).toEqual(['error']);
        expect(typeof b.error.message, what).toBe('string');
        expect(b.error.message.length, what).toBeGreaterThan(0);
        expect(typeof b.error.type, what).toBe('string');
      }
    }
    expect(srv.metrics.errors).toBe(0);
    // the mix reached the handlers and the validation alike
    expect(statuses.get(200)).toBeGreaterThan(50);
    expect(statuses.get(400)).toBeGreaterThan(50);
  }, 60_000);
});
