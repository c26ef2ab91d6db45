// A bounded loopback load test of the real `llama4 serve` process (bin/llama4.js over dist/) on SmolLM2 with
// 2 slots and a queue of 8: 24 chat requests from 6 concurrent clients (more streams than slots), streamed
// and whole, some streams dropped by their client after the first chunk. No 5xx and no 503 (the queue never
// overflows), every request that was not dropped finishes with stop or length and with the greedy answer
// its prompt gets alone (the slots do not disturb each other), no slot is lost (/metrics shows nothing
// processing or deferred afterwards), and resident memory stays flat across the run. Then
// SIGINT with streams running and a request waiting for a slot: every client sees the end of its response
// (no hang) and the process exits 0 within 5 s, keep-alive connections included.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer as startServerProcess, type RunningServer } from '../helpers/server.js';
import { model } from '../helpers/shared.js';

const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');
const SLOTS = 2;
const CLIENTS = 6;
const PER_CLIENT = 4; // 24 requests in all

const PROMPTS = [
  'What is the capital of France?',
  'Name three colors.',
  'Write a haiku about the sea.',
  'What is 2 + 2?',
  'Give me a tip for sleeping well.',
  'Who wrote Hamlet?',
  'Describe a cat in one sentence.',
  'List two planets.',
];

type Server = RunningServer;
const startServer = (args: string[]) => startServerProcess(['-m', SMOL, ...args]);

/** VmRSS of a process in KiB. */
function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

interface Outcome {
  k: number;
  status: number;
  stream: boolean;
  dropped: boolean;
  finish: string | null;
  text: string;
  retryAfter: string | null;
  ms: number;
  error?: string;
}

/** Parses `data: ...\n\n` events from an SSE buffer; returns the events and the unparsed rest. */
function sseEvents(buf: string): { events: string[]; rest: string } {
  const parts = buf.split('\n\n');
  return { events: parts.slice(0, -1).map((e) => (e.startsWith('data: ') ? e.slice(6) : e)), rest: parts[parts.length - 1] };
}

let srv: Server;
let base: string;

async function chat(k: number, stream: boolean, drop: boolean): Promise<Outcome> {
  const t0 = Date.now();
  const ac = new AbortController();
  const body = {
    messages: [{ role: 'user', content: PROMPTS[k % PROMPTS.length] }],
    stream,
    temperature: 0,
    ...(k % 3 === 0 ? { max_tokens: 8 } : {}), // the rest get the server's -n 24
  };
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: ac.signal,
  });
  const out: Outcome = { k, status: r.status, stream, dropped: false, finish: null, text: '', retryAfter: r.headers.get('retry-after'), ms: 0 };
  if (r.status !== 200) {
    out.error = await r.text();
    out.ms = Date.now() - t0;
    return out;
  }
  if (!stream) {
    const j = (await r.json()) as { choices: { message: { content: string }; finish_reason: string }[] };
    out.text = j.choices[0].message.content;
    out.finish = j.choices[0].finish_reason;
    out.ms = Date.now() - t0;
    return out;
  }
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let done = false;
  try {
    while (!done) {
      const { done: eof, value } = await reader.read();
      if (eof) break;
      buf += dec.decode(value, { stream: true });
      const { events, rest } = sseEvents(buf);
      buf = rest;
      for (const e of events) {
        if (e === '[DONE]') {
          done = true;
          continue;
        }
        const j = JSON.parse(e) as { choices: { delta: { content?: string }; finish_reason: string | null }[]; error?: unknown };
        if (j.error) throw new Error(`error event in the stream: ${e}`);
        out.text += j.choices[0]?.delta?.content ?? '';
        out.finish = j.choices[0]?.finish_reason ?? out.finish;
        if (drop && !out.dropped) {
          out.dropped = true;
          ac.abort();
        }
      }
    }
  } catch (e) {
    if (!out.dropped) throw e;
  }
  if (!out.dropped && !done) out.error = 'the stream ended without [DONE]';
  out.ms = Date.now() - t0;
  return out;
}

async function metrics(): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^llamacpp:(\w+) (\S+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

beforeAll(async () => {
  srv = await startServer(['-np', String(SLOTS), '--max-queue', '8', '-c', '2048', '-t', '2', '-n', '24']);
  base = `http://127.0.0.1:${srv.port}`;
});

afterAll(() => {
  if (srv && srv.proc.exitCode === null && srv.proc.signalCode === null) srv.proc.kill('SIGKILL');
});

describe('llama4 serve under load (2 slots, 6 clients)', () => {
  it('24 requests from 6 clients: no 5xx, every finished request stop/length with the unloaded greedy answer, no slot lost, flat memory', async () => {
    // warm-up: each prompt's greedy answer one at a time (the references), then a batch that fills both
    // slots, so the memory baseline holds both slots' buffers
    const ref: Outcome[] = [];
    for (let i = 0; i < PROMPTS.length; i++) ref.push(await chat(i % 3 === 0 ? i + PROMPTS.length : i, false, false)); // k % 3 != 0: -n 24
    expect(ref.map((o) => o.status)).toEqual(PROMPTS.map(() => 200));
    const warm = await Promise.all([0, 1, 2, 3].map((k) => chat(k, k % 2 === 0, false)));
    expect(warm.map((o) => o.status)).toEqual([200, 200, 200, 200]);
    const rssWarm = rssKiB(srv.proc.pid!);
    const before = await metrics();

    // sample the gauges while the load runs
    let maxProcessing = 0;
    let maxDeferred = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const m = await metrics();
        maxProcessing = Math.max(maxProcessing, m.requests_processing);
        maxDeferred = Math.max(maxDeferred, m.requests_deferred);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const t0 = Date.now();
    const outcomes: Outcome[] = [];
    // client c's j-th request: streamed when (c + j) is even; every 4th client (0 and 4) drops its streams
    // after the first chunk
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let j = 0; j < PER_CLIENT; j++) {
          const stream = (c + j) % 2 === 0;
          outcomes.push(await chat(c * PER_CLIENT + j, stream, stream && c % 4 === 0));
        }
      }),
    );
    const loadMs = Date.now() - t0;
    sampling = false;
    await sampler;

    expect(outcomes).toHaveLength(CLIENTS * PER_CLIENT);
    const statuses = outcomes.map((o) => o.status);
    expect(statuses.filter((s) => s >= 500), JSON.stringify(outcomes.filter((o) => o.status !== 200))).toEqual([]);
    expect(outcomes.filter((o) => o.retryAfter !== null)).toEqual([]);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const dropped = outcomes.filter((o) => o.dropped);
    expect(dropped).toHaveLength(4);
    expect(outcomes.filter((o) => o.stream)).toHaveLength(12);
    for (const o of outcomes.filter((x) => !x.dropped)) {
      expect(o.error, JSON.stringify(o)).toBeUndefined();
      expect(['stop', 'length'], JSON.stringify(o)).toContain(o.finish);
      expect(o.text.length, JSON.stringify(o)).toBeGreaterThan(0);
    }
    // greedy answers do not depend on the load, the slot or the cache: each equals its prompt's reference
    // (a prefix of it for max_tokens 8; the dropped streams' first chunks too)
    for (const o of outcomes) {
      const r = ref[o.k % PROMPTS.length];
      if (o.k % 3 === 0 || o.dropped) expect(r.text.startsWith(o.text), `${JSON.stringify(o)} vs ${JSON.stringify(r.text)}`).toBe(true);
      else expect([o.text, o.finish]).toEqual([r.text, r.finish]);
    }
    // both slots were used, never more; requests waited in the queue, never past its limit (a dropped
    // stream holds its slot until the server notices the closed connection, while its client already sends
    // its next request: up to CLIENTS - SLOTS + 2 may wait for a moment)
    expect(maxProcessing).toBe(SLOTS);
    expect(maxDeferred).toBeGreaterThanOrEqual(1);
    expect(maxDeferred).toBeLessThanOrEqual(CLIENTS);

    // no slot lost: nothing processing or deferred once the clients are done (a dropped stream frees its
    // slot when the server notices the closed connection)
    let after = await metrics();
    const until = Date.now() + 2_000;
    while ((after.requests_processing !== 0 || after.requests_deferred !== 0) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      after = await metrics();
    }
    expect(after.requests_processing).toBe(0);
    expect(after.requests_deferred).toBe(0);
    expect(after.requests_total - before.requests_total).toBe(CLIENTS * PER_CLIENT);
    expect(after.errors_total).toBe(0);

    // both slots still answer
    const again = await Promise.all([0, 1].map((k) => chat(200 + k, false, false)));
    expect(again.map((o) => [o.status, ['stop', 'length'].includes(o.finish!)])).toEqual([
      [200, true],
      [200, true],
    ]);

    const rssAfter = rssKiB(srv.proc.pid!);
    const growth = (rssAfter - rssWarm) / rssWarm;
    expect(Math.abs(growth), `VmRSS ${rssWarm} kB after the warm-up, ${rssAfter} kB after the run`).toBeLessThan(0.3);
    console.log(
      `load: ${outcomes.length} requests in ${loadMs} ms (max ${Math.max(...outcomes.map((o) => o.ms))} ms each), ` +
        `max processing ${maxProcessing}, max deferred ${maxDeferred}, VmRSS ${rssWarm} -> ${rssAfter} kB (${(growth * 100).toFixed(1)}%)`,
    );
  });

  it('SIGINT with streams running and a request queued: every response ends, exit 0 within 5 s', async () => {
    // keep-alive clients that never drop an idle connection themselves: the server must close them
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    try {
      const post = (body: object, onData?: (chunk: string) => void) =>
        new Promise<{ status: number; body: string; connection?: string }>((resolve, reject) => {
          const req = http.request(
            { host: '127.0.0.1', port: srv.port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json' } },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => {
                text += d;
                onData?.(d);
              });
              res.on('end', () => resolve({ status: res.statusCode!, body: text, connection: res.headers.connection }));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify(body));
        });
      const long = { messages: [{ role: 'user', content: 'Write a very long story about a dragon and a knight.' }], temperature: 0, max_tokens: 600 };
      // an idle keep-alive connection from a finished request
      const idle = await post({ ...long, max_tokens: 2 });
      expect(idle.status).toBe(200);

      let signalled: () => void;
      const started = new Promise<void>((r) => (signalled = r));
      const first = new Set<number>();
      const streams = [0, 1].map((i) =>
        post({ ...long, stream: true }, () => {
          first.add(i);
          if (first.size === SLOTS) signalled();
        }),
      );
      await started;
      // both slots busy: this one waits in the queue
      const queued = post({ ...long, max_tokens: 4 });
      const until = Date.now() + 2_000;
      let m = await metrics();
      while (m.requests_deferred !== 1 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
        m = await metrics();
      }
      expect(m.requests_deferred).toBe(1);
      expect(m.requests_processing).toBe(SLOTS);

      const t0 = Date.now();
      srv.proc.kill('SIGINT');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000).unref());
      const ended = await Promise.race([Promise.all([...streams, queued]), timeout]);
      expect(ended, 'a response did not end within 5 s of SIGINT').not.toBe('timeout');
      const [s0, s1, q] = ended as Awaited<(typeof streams)[number]>[];
      for (const s of [s0, s1]) {
        expect(s.status).toBe(200);
        // the stream's proper end: a last chunk with a finish reason, then [DONE]
        expect(s.body.endsWith('data: [DONE]\n\n')).toBe(true);
        const events = sseEvents(s.body).events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
        const last = events[events.length - 1];
        expect(last.choices[0].finish_reason).toBe('length');
        // stopped early, not run to max_tokens
        expect(last.timings.predicted_n).toBeLessThan(600);
      }
      // the request still waiting for a slot is answered, not left hanging
      expect(q.status).toBe(503);
      expect(JSON.parse(q.body).error.type).toBe('unavailable_error');

      const exit = await Promise.race([srv.exited, timeout]);
      expect(exit, `the server did not exit within 5 s of SIGINT:\n${srv.stderr()}`).not.toBe('timeout');
      const e = exit as Awaited<Server['exited']>;
      expect(e.signal).toBeNull();
      expect(e.code).toBe(0);
      expect(e.at - t0).toBeLessThan(5_000);
      expect(srv.stderr()).toContain('llama4: SIGINT: stopping');
      console.log(`SIGINT: responses ended and the process exited ${e.at - t0} ms after the signal`);
    } finally {
      agent.destroy();
    }
  });
});
