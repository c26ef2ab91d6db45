// SIGTERM drains the real `llama4 serve` process: it stops listening at once (a new connection is refused),
// lets the accepted requests finish, running and queued, in full, and exits 0. Past --shutdown-timeout the
// running replies are stopped (they end properly, shorter) and the process still exits 0.
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';
import { model } from '../helpers/shared.js';

const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');

interface Reply {
  status: number;
  body: string;
}

function post(port: number, body: object): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function metrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^llamacpp:(\w+) (\S+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

async function until(what: string, ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ask = (maxTokens: number) => ({
  messages: [{ role: 'user', content: 'Write a long story about a dragon and a knight.' }],
  temperature: 0,
  max_tokens: maxTokens,
  ignore_eos: true,
});

describe('serve: SIGTERM', () => {
  it('drains: the running and the queued request finish in full, new connections are refused, exit 0', async () => {
    const srv = await startServer(['-m', SMOL, '-np', '1', '-c', '1024', '-t', '2']);
    try {
      const running = post(srv.port, ask(40));
      await until('a running request', async () => (await metrics(srv.port)).requests_processing === 1);
      const queued = post(srv.port, ask(8));
      await until('a queued request', async () => (await metrics(srv.port)).requests_deferred === 1);
      srv.proc.kill('SIGTERM');
      await until('the drain to start', async () => /draining/.test(srv.stderr()));
      // the listener is closed: a new client is refused
      await expect(fetch(`http://127.0.0.1:${srv.port}/health`)).rejects.toThrow();
      const [a, b] = await Promise.all([running, queued]);
      for (const [r, n] of [[a, 40], [b, 8]] as const) {
        expect(r.status, r.body).toBe(200);
        const j = JSON.parse(r.body);
        expect(j.choices[0].finish_reason).toBe('length');
        expect(j.usage.completion_tokens).toBe(n);
      }
      const exit = await srv.exited;
      expect(exit.code).toBe(0);
      expect(srv.stderr()).toMatch(/llama4: SIGTERM: stopping: draining 2 request\(s\), accepting none \(at most 30 s\)/);
    } finally {
      srv.proc.kill('SIGKILL');
    }
  });

  it('past --shutdown-timeout the running reply is stopped and the process exits 0', async () => {
    const srv = await startServer(['-m', SMOL, '-np', '1', '-c', '4096', '-t', '2', '--shutdown-timeout', '1']);
    try {
      const running = post(srv.port, ask(3000));
      await until('a running request', async () => (await metrics(srv.port)).requests_processing === 1);
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      const r = await running;
      expect(r.status, r.body).toBe(200);
      const j = JSON.parse(r.body);
      expect(j.usage.completion_tokens).toBeLessThan(3000);
      const exit = await srv.exited;
      expect(exit.code).toBe(0);
      expect(exit.at - t0).toBeLessThan(8_000);
      expect(srv.stderr()).toMatch(/the drain took over 1 s: stopping the running replies/);
    } finally {
      srv.proc.kill('SIGKILL');
    }
  });
});
