// GET /: the chat page.
import type { FastifyInstance } from 'fastify';
import type { ServerState } from '../state.js';
import { PAGE } from '../web/page.js';

export function registerPage(app: FastifyInstance, _srv: ServerState): void {
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
}
