// POST /detokenize {tokens} -> {content}; ids outside the vocabulary are a 400.
import type { FastifyInstance } from 'fastify';
import { bad } from '../openai.js';
import type { ServerState } from '../state.js';
import { requirePool } from '../turn.js';

const schema = {
  body: { type: 'object', required: ['tokens'], properties: { tokens: { type: 'array', items: { type: 'integer' }, maxItems: 1 << 20 } } },
};

export function registerDetokenize(app: FastifyInstance, srv: ServerState): void {
  for (const url of ['/detokenize', '/v1/detokenize'])
    app.post(url, { schema }, async (req) => {
      const tok = requirePool(srv).model.tokenizer;
      const ids = (req.body as { tokens: number[] }).tokens;
      const badId = ids.findIndex((t) => t < 0 || t >= tok.size);
      if (badId >= 0) throw bad(`tokens[${badId}] = ${ids[badId]} is not in the vocabulary (0..${tok.size - 1})`, `tokens[${badId}]`);
      return { content: tok.decode(ids, { special: true } as never) };
    });
}
