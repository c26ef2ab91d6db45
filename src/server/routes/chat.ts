// POST /v1/chat/completions (and /chat/completions): the model's chat template as in `llama4 chat`, the
// history reused from a slot's cache; stream: true answers with server-sent events ending in [DONE].
import type { FastifyInstance } from 'fastify';
import { chatMessages, finishReason, responseBase, SAMPLING_PROPS, turnFields, usage, type SamplingFields } from '../openai.js';
import type { ServerState } from '../state.js';
import { requirePool, serveTurn } from '../turn.js';

const schema = {
  body: {
    type: 'object',
    required: ['messages'],
    properties: { ...SAMPLING_PROPS, messages: { type: 'array', minItems: 1, maxItems: 4096 } },
  },
};

export function registerChat(app: FastifyInstance, srv: ServerState): void {
  for (const url of ['/v1/chat/completions', '/chat/completions']) {
    app.post(url, { schema }, async (req, reply) => {
      requirePool(srv);
      const b = req.body as SamplingFields & { messages: unknown };
      const messages = chatMessages(b.messages);
      const f = turnFields(b);
      const base = responseBase('chatcmpl', srv.modelName);
      await serveTurn(
        req,
        reply,
        srv,
        messages,
        f,
        (c, o) => c.respond(messages, o),
        {
          chunk: (text, finish, first) => ({
            ...base,
            object: 'chat.completion.chunk',
            choices: [{ index: 0, delta: text === null ? {} : first ? { role: 'assistant', content: text } : { content: text }, logprobs: null, finish_reason: finish }],
          }),
          usageChunk: (st) => ({ ...base, object: 'chat.completion.chunk', choices: [], usage: usage(st) }),
          whole: (text, st) => ({
            ...base,
            object: 'chat.completion',
            choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finishReason(st.stop) }],
          }),
        },
      );
      return reply;
    });
  }
}
