// One generation request on a slot, streamed as server-sent events or answered as one object: shared by
// the chat and text completion routes (which only build the request and the response shapes).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConversationError, type TurnEvent, type TurnStats } from '../engine/conversation.js';
import type { Conversation, TurnOptions } from '../engine/conversation.js';
import { QueueFullError } from '../engine/slots.js';
import type { ChatMessage } from '../engine/templates/index.js';
import { ApiError, finishReason, timings, usage } from './openai.js';
import type { ServerState } from './state.js';

export interface TurnShapes {
  /** a streamed chunk carrying text (or, with finish set, the last chunk) */
  chunk(text: string | null, finish: 'stop' | 'length' | null, first: boolean): object;
  /** the whole response */
  whole(text: string, st: TurnStats): object;
}

export function requirePool(srv: ServerState) {
  if (!srv.pool) throw new ApiError(503, 'the model is loading', 'unavailable_error', null, 503);
  return srv.pool;
}

export async function serveTurn(
  req: FastifyRequest,
  reply: FastifyReply,
  srv: ServerState,
  want: ChatMessage[] | string,
  o: TurnOptions & { stream: boolean; includeUsage: boolean },
  start: (c: Conversation, o: TurnOptions) => AsyncGenerator<TurnEvent, TurnStats>,
  shapes: TurnShapes & { usageChunk(st: TurnStats): object },
): Promise<void> {
  const pool = requirePool(srv);
  const ac = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) ac.abort(new Error('the client went away'));
  };
  reply.raw.on('close', onClose);
  const onClosing = () => ac.abort(new Error('the server is shutting down'));
  srv.closing.signal.addEventListener('abort', onClosing, { once: true });
  let slot;
  try {
    try {
      slot = await pool.acquire(want, ac.signal);
    } catch (e) {
      if (e instanceof QueueFullError) {
        reply.header('Retry-After', '1');
        throw new ApiError(503, e.message, 'unavailable_error', null, 503);
      }
      // left the queue because the client went away (or the server is stopping): not a server fault
      if (ac.signal.aborted && srv.closing.signal.aborted) throw new ApiError(503, 'the server is shutting down', 'unavailable_error', null, 503);
      if (ac.signal.aborted) throw new ApiError(499, 'the client went away', 'invalid_request_error', null, 'client_closed_request');
      throw e;
    }
    srv.metrics.requests++;
    const it = pool.run(slot, (c) => start(c, { ...o, signal: ac.signal }));
    let text = '';
    let r: IteratorResult<TurnEvent, TurnStats>;
    try {
      r = await it.next();
    } catch (e) {
      await it.return(undefined as never);
      if (e instanceof ConversationError) {
        // the conversation's refusals: too long for a slot, or malformed (a system message after the first,
        // not ending with a user message, a template error)
        throw new ApiError(400, e.message, 'invalid_request_error', typeof want === 'string' ? 'prompt' : 'messages', e.code ?? null);
      }
      throw e;
    }
    if (o.stream) {
      reply.hijack();
      reply.raw.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
      const send = (obj: object | string) => {
        if (!reply.raw.destroyed) reply.raw.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);
      };
      let first = true;
      try {
        while (!r.done) {
          if (r.value.type === 'text') {
            send(shapes.chunk(r.value.text, null, first));
            first = false;
          }
          r = await it.next();
        }
      } catch (e) {
        send({ error: { message: (e as Error).message, type: 'server_error', param: null, code: null } });
        srv.metrics.errors++;
        reply.raw.end();
        return;
      } finally {
        if (!r!.done) await it.return(undefined as never);
      }
      const st = r.value;
      record(srv, st);
      send({ ...shapes.chunk(null, finishReason(st.stop), first), timings: timings(st) });
      if (o.includeUsage) send(shapes.usageChunk(st));
      send('[DONE]');
      reply.raw.end();
      return;
    }
    try {
      while (!r.done) {
        if (r.value.type === 'text') text += r.value.text;
        r = await it.next();
      }
    } finally {
      if (!r!.done) await it.return(undefined as never);
    }
    record(srv, r.value);
    reply.send({ ...shapes.whole(text, r.value), usage: usage(r.value), timings: timings(r.value) });
  } finally {
    reply.raw.off('close', onClose);
    srv.closing.signal.removeEventListener('abort', onClosing);
  }
}

function record(srv: ServerState, st: TurnStats): void {
  srv.metrics.promptTokens += st.evaluatedTokens;
  srv.metrics.promptMs += st.promptMs;
  srv.metrics.generatedTokens += st.generatedTokens;
  srv.metrics.generateMs += st.generateMs;
}
