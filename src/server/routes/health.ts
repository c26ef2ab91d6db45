// GET /health (and /v1/health): 503 while the model loads, 200 when ready (llama-server's bodies).
import type { FastifyInstance } from 'fastify';
import type { ServerState } from '../state.js';

export function registerHealth(app: FastifyInstance, srv: ServerState): void {
  for (const url of ['/health', '/v1/health'])
    app.get(url, async (_req, reply) => {
      if (!srv.pool) return reply.code(503).send({ error: { code: 503, message: 'Loading model', type: 'unavailable_error' } });
      return { status: 'ok' };
    });
}
