// GET /v1/models (and /models): the one loaded model, under its alias or file name.
import type { FastifyInstance } from 'fastify';
import type { ServerState } from '../state.js';
import { requirePool } from '../turn.js';

export function registerModels(app: FastifyInstance, srv: ServerState): void {
  for (const url of ['/v1/models', '/models'])
    app.get(url, async () => {
      const pool = requirePool(srv);
      const i = pool.model.info;
      return {
        object: 'list',
        data: [
          {
            id: srv.modelName,
            object: 'model',
            created: srv.created,
            owned_by: 'llama4',
            meta: { n_vocab: i.nVocab, n_ctx_train: i.nCtxTrain, n_embd: i.nEmbd, n_params: i.nParams, size: i.weightBytes, n_ctx_slot: pool.slotContext, slots: pool.slots.length },
          },
        ],
      };
    });
}
