// GET /metrics: Prometheus text with llama-server's metric names (llamacpp:*).
import type { FastifyInstance } from 'fastify';
import type { ServerState } from '../state.js';

export function registerMetrics(app: FastifyInstance, srv: ServerState): void {
  app.get('/metrics', async (_req, reply) => {
    const m = srv.metrics;
    const rate = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);
    const rows: [string, string, 'counter' | 'gauge', number][] = [
      ['requests_total', 'Requests answered by a slot.', 'counter', m.requests],
      ['prompt_tokens_total', 'Number of prompt tokens processed.', 'counter', m.promptTokens],
      ['prompt_seconds_total', 'Prompt process time.', 'counter', m.promptMs / 1000],
      ['tokens_predicted_total', 'Number of generation tokens processed.', 'counter', m.generatedTokens],
      ['tokens_predicted_seconds_total', 'Predict process time.', 'counter', m.generateMs / 1000],
      ['prompt_tokens_seconds', 'Average prompt throughput in tokens/s.', 'gauge', rate(m.promptTokens, m.promptMs)],
      ['predicted_tokens_seconds', 'Average generation throughput in tokens/s.', 'gauge', rate(m.generatedTokens, m.generateMs)],
      ['requests_processing', 'Number of requests processing (busy slots).', 'gauge', srv.pool?.busyCount ?? 0],
      ['requests_deferred', 'Number of requests deferred (queue depth).', 'gauge', srv.pool?.queueDepth ?? 0],
      ['errors_total', 'Requests that ended in a server error.', 'counter', m.errors],
    ];
    reply.type('text/plain; version=0.0.4');
    return rows.map(([n, help, type, v]) => `# HELP llamacpp:${n} ${help}\n# TYPE llamacpp:${n} ${type}\nllamacpp:${n} ${v}\n`).join('');
  });
}
