// POST /tokenize {content, add_special?, parse_special?, with_pieces?} -> {tokens}, llama-server's options
// (with_pieces: [{id, piece}], a piece that is not whole UTF-8 given as its bytes).
import type { FastifyInstance } from 'fastify';
import type { ServerState } from '../state.js';
import { requirePool } from '../turn.js';

const schema = {
  body: {
    type: 'object',
    required: ['content'],
    properties: { content: { type: 'string' }, add_special: { type: 'boolean' }, parse_special: { type: 'boolean' }, with_pieces: { type: 'boolean' } },
  },
};

export function registerTokenize(app: FastifyInstance, srv: ServerState): void {
  for (const url of ['/tokenize', '/v1/tokenize'])
    app.post(url, { schema }, async (req) => {
      const tok = requirePool(srv).model.tokenizer;
      const b = req.body as { content: string; add_special?: boolean; parse_special?: boolean; with_pieces?: boolean };
      const ids = tok.encode(b.content, { addSpecial: b.add_special ?? false, parseSpecial: b.parse_special ?? true });
      if (!b.with_pieces) return { tokens: ids };
      const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      return {
        tokens: ids.map((id) => {
          const bytes = tok.tokenToBytes(id, true);
          try {
            return { id, piece: dec.decode(bytes) };
          } catch {
            return { id, piece: [...bytes] };
          }
        }),
      };
    });
}
