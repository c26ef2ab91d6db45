// POST /v1/completions (and /completions): a raw text completion, no template; a slot's cache is reused as
// far as the prompt's text matches what it holds.
import type { FastifyInstance } from 'fastify';
import { bad, finishReason, responseBase, SAMPLING_PROPS, turnFields, usage, type SamplingFields } from '../openai.js';
import type { ServerState } from '../state.js';
import { requirePool, serveTurn } from '../turn.js';

const schema = {
  body: {
    type: 'object',
    required: ['prompt'],
    properties: { ...SAMPLING_PROPS, prompt: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 1 }] } },
  },
};

export function registerCompletions(app: FastifyInstance, srv: ServerState): void {
  for (const url of ['/v1/completions', '/completions']) {
    app.post(url, { schema }, async (req, reply) => {
      requirePool(srv);
      const b = req.body as SamplingFields & { prompt: string | string[] };
      const prompt = Array.isArray(b.prompt) ? b.prompt[0] : b.prompt;
      if (prompt === '') throw bad("'prompt' is empty", 'prompt');
      const f = turnFields(b);
      const base = responseBase('cmpl', srv.modelName);
      await serveTurn(
        req,
        reply,
        srv,
        prompt,
        f,
        (c, o) => c.complete(prompt, o),
        {
          chunk: (text, finish) => ({ ...base, object: 'text_completion', choices: [{ index: 0, text: text ?? '', logprobs: null, finish_reason: finish }] }),
          usageChunk: (st) => ({ ...base, object: 'text_completion', choices: [], usage: usage(st) }),
          whole: (text, st) => ({ ...base, object: 'text_completion', choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason(st.stop) }] }),
        },
      );
      return reply;
    });
  }
}
