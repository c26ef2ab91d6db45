// The server as a fastify instance (no listen: tests inject requests): routes one per file under routes/,
// OpenAI-style error bodies for every failure (invalid JSON, schema violations, a body over the limit, an
// unknown route, a missing or wrong API key), 5xx only for real server faults.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './openai.js';
import { registerChat } from './routes/chat.js';
import { registerCompletions } from './routes/completions.js';
import { registerDetokenize } from './routes/detokenize.js';
import { registerHealth } from './routes/health.js';
import { registerMetrics } from './routes/metrics.js';
import { registerModels } from './routes/models.js';
import { registerPage } from './routes/page.js';
import { registerTokenize } from './routes/tokenize.js';
import type { ServerState } from './state.js';

export interface AppOptions {
  /** largest request body in bytes (default 8 MiB) */
  bodyLimit?: number;
  logger?: boolean;
}

/** Routes that answer without the API key (llama-server's public ones). */
const PUBLIC = new Set(['/', '/health', '/v1/health']);

function keyMatches(given: string, key: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function buildApp(srv: ServerState, o: AppOptions = {}): FastifyInstance {
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: o.bodyLimit ?? 8 << 20 });

  app.addHook('onRequest', async (req) => {
    if (!srv.apiKey || PUBLIC.has(req.url.split('?')[0])) return;
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice(7) : (req.headers['x-api-key'] as string | undefined);
    if (!given || !keyMatches(given, srv.apiKey)) throw new ApiError(401, 'Invalid API Key', 'authentication_error', null, 'invalid_api_key');
  });

  app.setErrorHandler((err: FastifyError | ApiError, _req, reply) => {
    if (err instanceof ApiError) return reply.code(err.status).send(err.body());
    const e = err as FastifyError;
    if (e.validation) {
      const v = e.validation[0];
      const param = (v?.instancePath || '').replace(/^\//, '').replace(/\//g, '.') || (v?.params as { missingProperty?: string })?.missingProperty || null;
      // ajv names the body "body" ("body/temperature must be number", "body must be object")
      const msg = e.message.replace(/^body\/?/, '').trim();
      return reply.code(400).send(new ApiError(400, msg.startsWith('must ') ? `the request body ${msg}` : msg, 'invalid_request_error', param).body());
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
      return reply.code(e.statusCode).send(new ApiError(e.statusCode, e.message, 'invalid_request_error', null, e.code ?? null).body());
    srv.metrics.errors++;
    return reply.code(500).send(new ApiError(500, e.message, 'server_error').body());
  });

  // Once the server is stopping (srv.closing aborted, or draining), a connection closes as soon as its
  // response is done.
  // server.close() closes only the connections idle at that moment and then waits for the rest, so a reply
  // still running then (a stream ends with its last chunk after the close began) would leave a keep-alive
  // connection open, and the process waiting on it until the client drops it (never, for some clients).
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    res.once('finish', () => {
      if (srv.closing.signal.aborted || srv.draining) socket.end(() => socket.destroy());
    });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(new ApiError(404, `no route ${req.method} ${req.url.split('?')[0]}`, 'not_found_error').body());
  });

  registerHealth(app, srv);
  registerModels(app, srv);
  registerChat(app, srv);
  registerCompletions(app, srv);
  registerTokenize(app, srv);
  registerDetokenize(app, srv);
  registerMetrics(app, srv);
  registerPage(app, srv);
  return app;
}
