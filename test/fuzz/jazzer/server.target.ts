// Jazzer.js target (async): the server's request parsing and validation (src/server), through fastify's
// inject (no socket), as test/fuzz/server.fuzz.test.ts. FuzzedDataProvider picks the app (no model loaded
// yet; stories260K loaded, 1 slot of 128 tokens; the same with an API key), the method, the route, the
// content type, the credentials and the body: the rest of the bytes as they are (JSON text or not), a
// JSON value built from the bytes, or a valid request of the route with fields replaced, dropped or added.
// Generation lengths in built bodies are clamped to 4 (the 128-token context bounds the rest).
// Invariants: a 2xx has a well-formed body (JSON, or server-sent events ending in [DONE]); anything else
// is a 4xx with an OpenAI error body {error: {message, type, ...}} and nothing else, or the documented 503
// while no model is loaded; never a 5xx otherwise, a 401 only with a key set, no server error counted, no
// unhandled rejection or uncaught exception, and no request over 5 s (twice).
import { FuzzedDataProvider } from '@jazzer.js/core/dist/FuzzedDataProvider.js'; // not the package root: it loads the native fuzzer
import type { FastifyInstance } from 'fastify';
import { loadChatModel } from '../../../src/engine/chat-model.js';
import { SlotPool } from '../../../src/engine/slots.js';
import { buildApp } from '../../../src/server/app.js';
import { newState, type ServerState } from '../../../src/server/state.js';
import { model } from '../../helpers/shared.js';
import { FdpWriter } from './fdp.js';
import { fail, runTimedAsync } from './common.js';

const SLOW_MS = Number(process.env.FUZZ_SLOW_REQUEST_MS ?? 5000);
const KEY = 'sekret-key';

export const METHODS = ['POST', 'POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;
export const URLS = [
  '/v1/chat/completions', '/chat/completions', '/v1/completions', '/completions', '/tokenize', '/v1/tokenize',
  '/detokenize', '/v1/detokenize', '/completion', '/v1/models', '/health', '/v1/health', '/metrics', '/', '/v1/nope',
] as const;
export const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x', '', 'application/json; charset=latin1', 'APPLICATION/JSON', 'application/jsonx',
] as const;
const AUTH: Array<Record<string, string>> = [{}, { authorization: `Bearer ${KEY}` }, { authorization: 'Bearer nope' }, { 'x-api-key': KEY }, { authorization: KEY }];
const FIELDS = ['messages', 'prompt', 'content', 'tokens', 'max_tokens', 'max_completion_tokens', 'n_predict', 'temperature', 'top_p', 'top_k', 'min_p', 'seed', 'stop', 'stream', 'stream_options', 'n', 'presence_penalty', 'frequency_penalty', 'repeat_penalty', 'model', 'user', 'with_pieces', 'add_special', 'parse_special', 'role', 'type', 'text', '__proto__', 'constructor', 'include_usage'];
const WORDS = ['', 'system', 'user', 'assistant', 'developer', 'tool', 'text', 'image_url', 'Hi', '\u0000', '<|im_end|>', '{{', 'null'];
const NUMBERS = [0, -1, 1, 2, 0.5, -0.5, 1e9, -1e9, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, 5e-324, 16, 4096, 128, 127];
const LENGTH_FIELDS = ['max_tokens', 'max_completion_tokens', 'n_predict'];

/** The app with no model, the app with stories260K, the same with an API key. */
interface App {
  srv: ServerState;
  app: FastifyInstance;
  loaded: boolean;
  keyed: boolean;
}

async function makeApps(): Promise<App[]> {
  const none = newState('fuzz');
  const loaded = await loadChatModel({ modelPath: model('stories260K.gguf'), depth: {} });
  const pool = new SlotPool(loaded.model, { nSlots: 1, nCtx: 128, context: { nThreads: 1 }, template: loaded.template.template, sampling: {}, nPredict: 16, queueLimit: 2 });
  const withModel = (key?: string) => Object.assign(newState('fuzz', key), { model: loaded.model, template: loaded.template, pool });
  const apps: App[] = [
    { srv: none, app: buildApp(none), loaded: false, keyed: false },
    { srv: withModel(), app: undefined as never, loaded: true, keyed: false },
    { srv: withModel(KEY), app: undefined as never, loaded: true, keyed: true },
  ];
  for (const a of apps) {
    a.app ??= buildApp(a.srv);
    await a.app.ready();
  }
  return apps;
}

const APPS = await makeApps();

let unhandled: unknown[] = [];
process.on('unhandledRejection', (e) => unhandled.push(e));
process.on('uncaughtException', (e) => unhandled.push(e));

/** A JSON value of bounded depth from the bytes: the shapes request bodies are made of, and odd ones. */
function jsonValue(fdp: FuzzedDataProvider, depth: number): unknown {
  switch (fdp.consumeIntegralInRange(0, depth > 0 ? 9 : 6)) {
    case 0: return null;
    case 1: return fdp.consumeBoolean();
    case 2: return NUMBERS[fdp.consumeIntegralInRange(0, NUMBERS.length - 1)];
    case 3: return fdp.consumeIntegralInRange(-20, 300);
    case 4: return fdp.consumeString(fdp.consumeIntegralInRange(0, 48));
    case 5: return WORDS[fdp.consumeIntegralInRange(0, WORDS.length - 1)];
    case 6: return fdp.consumeDouble();
    case 7: return Array.from({ length: fdp.consumeIntegralInRange(0, 4) }, () => jsonValue(fdp, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let n = fdp.consumeIntegralInRange(0, 4); n > 0; n--) {
        const k = fdp.consumeBoolean() ? FIELDS[fdp.consumeIntegralInRange(0, FIELDS.length - 1)] : fdp.consumeString(fdp.consumeIntegralInRange(0, 12));
        Object.defineProperty(o, k, { value: jsonValue(fdp, depth - 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

function message(fdp: FuzzedDataProvider) {
  return { role: ['system', 'user', 'assistant', 'developer'][fdp.consumeIntegralInRange(0, 3)], content: fdp.consumeString(fdp.consumeIntegralInRange(0, 64)) };
}

/** A valid body for the route (fields from the bytes). */
function validBody(url: string, fdp: FuzzedDataProvider): Record<string, unknown> {
  const route = url.replace(/^\/v1\//, '/');
  if (route === '/chat/completions')
    return { messages: Array.from({ length: fdp.consumeIntegralInRange(1, 3) }, () => message(fdp)), max_tokens: fdp.consumeIntegralInRange(0, 4), stream: fdp.consumeBoolean() };
  if (route === '/completions' || route === '/completion')
    return { prompt: fdp.consumeString(fdp.consumeIntegralInRange(1, 64)) || 'x', max_tokens: fdp.consumeIntegralInRange(0, 4), stream: fdp.consumeBoolean() };
  if (route === '/detokenize') return { tokens: Array.from({ length: fdp.consumeIntegralInRange(0, 12) }, () => fdp.consumeIntegralInRange(-40, 600)) };
  return { content: fdp.consumeString(fdp.consumeIntegralInRange(0, 64)), with_pieces: fdp.consumeBoolean(), parse_special: fdp.consumeBoolean() };
}

export interface ServerRequest {
  app: number;
  method: (typeof METHODS)[number];
  url: string;
  headers: Record<string, string>;
  payload?: Buffer | string;
}

export function decode(data: Uint8Array): ServerRequest {
  const fdp = new FuzzedDataProvider(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  const app = fdp.consumeIntegralInRange(0, APPS.length - 1);
  const method = METHODS[fdp.consumeIntegralInRange(0, METHODS.length - 1)];
  let url: string = URLS[fdp.consumeIntegralInRange(0, URLS.length - 1)];
  if (fdp.consumeIntegralInRange(0, 7) === 0) url += `?${fdp.consumeString(fdp.consumeIntegralInRange(0, 16))}`;
  const contentType = CONTENT_TYPES[fdp.consumeIntegralInRange(0, CONTENT_TYPES.length - 1)];
  const headers: Record<string, string> = { ...AUTH[fdp.consumeIntegralInRange(0, AUTH.length - 1)] };
  if (contentType) headers['content-type'] = contentType;
  const mode = fdp.consumeIntegralInRange(0, 2);
  if (mode === 0) return { app, method, url, headers, payload: Buffer.from(fdp.consumeRemainingAsBytes()) };
  let body: unknown;
  if (mode === 1) body = jsonValue(fdp, 3);
  else {
    const b = validBody(url, fdp);
    for (let n = fdp.consumeIntegralInRange(0, 3); n > 0; n--) {
      const f = FIELDS[fdp.consumeIntegralInRange(0, FIELDS.length - 1)];
      if (fdp.consumeIntegralInRange(0, 3) === 0) delete b[f];
      else Object.defineProperty(b, f, { value: jsonValue(fdp, 2), enumerable: true, writable: true, configurable: true });
    }
    body = b;
  }
  if (body && typeof body === 'object' && !Array.isArray(body))
    for (const f of LENGTH_FIELDS) {
      const v = (body as Record<string, unknown>)[f];
      if (typeof v === 'number' && v > 4) (body as Record<string, unknown>)[f] = 4;
    }
  return { app, method, url, headers, payload: JSON.stringify(body) ?? '' };
}

/** The bytes decode() reads back as a request with a raw body (for seeds). */
export function encodeRaw(app: number, method: ServerRequest['method'], url: string, contentType: string, auth: number, payload: string): Buffer {
  const w = new FdpWriter().int(app, 0, APPS.length - 1).int(METHODS.indexOf(method), 0, METHODS.length - 1);
  const q = url.indexOf('?');
  w.int(URLS.indexOf((q < 0 ? url : url.slice(0, q)) as never), 0, URLS.length - 1);
  if (q < 0) w.int(1, 0, 7);
  else w.int(0, 0, 7).str(url.slice(q + 1), 16);
  w.int(CONTENT_TYPES.indexOf(contentType as never), 0, CONTENT_TYPES.length - 1).int(auth, 0, AUTH.length - 1).int(0, 0, 2);
  return w.rest(payload).bytes();
}

const PUBLIC = new Set(['/', '/health', '/v1/health']);

async function send(q: ServerRequest): Promise<void> {
  const a = APPS[q.app];
  const res = await a.app.inject({ method: q.method, url: q.url, headers: q.headers, payload: q.payload });
  if (process.env.FUZZ_JS_STATS) count(q, res.statusCode);
  await new Promise((r) => setImmediate(r)); // let an unhandled rejection surface
  const what = () => ({ ...q, payload: String(q.payload), status: res.statusCode, body: res.body.slice(0, 400) });
  if (unhandled.length) {
    const e = unhandled[0] as Error;
    unhandled = [];
    fail(`unhandled ${e?.name}: ${e?.message}`, what());
  }
  if (a.srv.metrics.errors !== 0) {
    a.srv.metrics.errors = 0;
    fail('a server error was counted', what());
  }
  const s = res.statusCode;
  const path = q.url.split('?')[0];
  if (s >= 500 && !(s === 503 && !a.loaded)) fail(`status ${s}`, what());
  if (s === 401 && (!a.keyed || PUBLIC.has(path))) fail('401 without a key to check', what());
  if (![200, 400, 401, 404, 413, 415, 503].includes(s)) fail(`unexpected status ${s}`, what());
  const type = String(res.headers['content-type'] ?? '');
  if (s === 200) {
    if (type.startsWith('text/event-stream')) {
      if (!res.body.endsWith('data: [DONE]\n\n')) fail('an event stream without [DONE]', what());
      for (const e of res.body.slice(0, -2).split('\n\n')) {
        if (e === 'data: [DONE]') continue;
        if (!e.startsWith('data: ')) fail('an event that is not data', what());
        try {
          JSON.parse(e.slice(6));
        } catch {
          fail('an event that is not JSON', what());
        }
      }
    } else if (type.startsWith('application/json') && q.method !== 'HEAD') {
      try {
        JSON.parse(res.body);
      } catch {
        fail('a 200 whose JSON body does not parse', what());
      }
    }
    return;
  }
  if (q.method === 'HEAD') return;
  let b: { error?: { message?: unknown; type?: unknown } };
  try {
    b = JSON.parse(res.body);
  } catch {
    fail(`a ${s} whose body is not JSON`, what());
  }
  if (!b || typeof b !== 'object' || Object.keys(b).join() !== 'error') fail(`a ${s} whose body is not {error}`, what());
  if (typeof b.error?.message !== 'string' || b.error.message.length === 0) fail(`a ${s} without an error message`, what());
  if (typeof b.error.type !== 'string') fail(`a ${s} without an error type`, what());
}

/** FUZZ_JS_STATS=1: the statuses so far, on stderr after 2^k requests (is the mix reaching the handlers?) */
const statuses = new Map<string, number>();
let requests = 0;
function count(q: ServerRequest, status: number): void {
  const key = `${APPS[q.app].loaded ? (APPS[q.app].keyed ? 'key' : 'model') : 'none'} ${status}`;
  statuses.set(key, (statuses.get(key) ?? 0) + 1);
  if (++requests >= 1024 && (requests & (requests - 1)) === 0)
    console.error(`INFO: ${requests} requests: ${[...statuses].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}`);
}

export async function check(data: Uint8Array): Promise<void> {
  const q = decode(data);
  await runTimedAsync(() => send(q), () => ({ ...q, payload: String(q.payload) }), SLOW_MS);
}

export async function fuzz(data: Buffer): Promise<void> {
  await check(data);
}
