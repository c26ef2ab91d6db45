// The real `llama4 serve` process (bin/llama4.js over dist/) driven by the official `openai` npm client over
// loopback, as a user's program would: chat completions whole and streamed (include_usage), text
// completions, the model list, and each error kind surfacing as the client's typed error (401, 400, 404).
// The greedy answer through the server equals `llama4 run` on the same chatml-rendered prompt, and
// SIGTERM stops the server with exit code 0 within 5 s.
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { startServer as startServerProcess, type RunningServer } from '../helpers/server.js';
import { model } from '../helpers/shared.js';

const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');
const KEY = 'sekrit';
const QUESTION = 'What is the capital of France?';
const FRANCE = [{ role: 'user' as const, content: QUESTION }];

type Server = RunningServer;
const startServer = (args: string[]) => startServerProcess(['-m', SMOL, ...args]);

let srv: Server;
let client: OpenAI;

beforeAll(async () => {
  srv = await startServer(['--api-key', KEY, '-c', '2048', '-t', '2']);
  client = new OpenAI({ baseURL: `http://127.0.0.1:${srv.port}/v1`, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
});

afterAll(async () => {
  if (!srv || srv.proc.exitCode !== null) return;
  const t0 = Date.now();
  srv.proc.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000).unref());
  const r = await Promise.race([srv.exited, timeout]);
  if (r === 'timeout') srv.proc.kill('SIGKILL');
  expect(r, `the server did not exit within 5 s of SIGTERM:\n${srv.stderr()}`).not.toBe('timeout');
  if (r === 'timeout') return;
  expect(r.signal).toBeNull();
  expect(r.code).toBe(0);
  expect(r.at - t0).toBeLessThan(5_000);
  expect(srv.stderr()).toContain('llama4: SIGTERM: stopping');
});

describe('llama4 serve through the openai client', () => {
  it('prints the chosen port and the built-in chatml template once ready', () => {
    expect(srv.port).toBeGreaterThan(0);
    expect(srv.stderr()).toMatch(/llama4: ready: .*template chatml.*API key required/);
  });

  let whole = '';
  it('chat.completions.create (temperature 0): Paris, finish_reason stop, usage', async () => {
    const r = await client.chat.completions.create({ model: 'smol', messages: FRANCE, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.choices).toHaveLength(1);
    const c = r.choices[0];
    expect(c.message.role).toBe('assistant');
    expect(c.message.content).toContain('Paris');
    expect(c.finish_reason).toBe('stop');
    expect(r.usage).toBeDefined();
    expect(r.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
    whole = c.message.content!;
  });

  it('streaming with include_usage: the deltas add up to the whole answer, the last chunk carries usage', async () => {
    expect(whole).not.toBe('');
    const stream = await client.chat.completions.create({
      model: 'smol',
      messages: FRANCE,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const ch of stream) chunks.push(ch);
    expect(chunks.length).toBeGreaterThan(2);
    const text = chunks.map((ch) => ch.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(whole);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const finishes = chunks.flatMap((ch) => ch.choices.map((c) => c.finish_reason)).filter((f) => f !== null);
    expect(finishes).toEqual(['stop']);
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toBeDefined();
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + last.usage!.completion_tokens);
    expect(chunks.slice(0, -1).every((ch) => ch.usage == null)).toBe(true);
  });

  it('completions.create: a raw text completion of 8 tokens', async () => {
    const r = await client.completions.create({ model: 'smol', prompt: 'The capital of France is', max_tokens: 8, temperature: 0 });
    expect(r.object).toBe('text_completion');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0].text.length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(r.choices[0].finish_reason);
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(8);
  });

  it('models.list: the one loaded model', async () => {
    const models: OpenAI.Models.Model[] = [];
    for await (const m of client.models.list()) models.push(m);
    expect(models).toHaveLength(1);
    expect(models[0].id).toBe('SmolLM2-135M-Instruct.Q4_1.gguf');
    expect(models[0].object).toBe('model');
  });

  it('a wrong API key is an AuthenticationError (401)', async () => {
    const wrong = new OpenAI({ baseURL: `http://127.0.0.1:${srv.port}/v1`, apiKey: 'wrong', maxRetries: 0 });
    const e = await wrong.chat.completions.create({ model: 'smol', messages: FRANCE }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(e.status).toBe(401);
    expect(e.type).toBe('authentication_error');
    const e2 = await wrong.models.list().catch((x) => x);
    expect(e2).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('bad requests are a BadRequestError (400) with a message', async () => {
    const empty = await client.chat.completions.create({ model: 'smol', messages: [] }).catch((x) => x);
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect(empty.status).toBe(400);
    expect(empty.error?.message).toMatch(/messages/);
    expect(empty.param).toBe('messages');

    const n2 = await client.chat.completions.create({ model: 'smol', messages: FRANCE, n: 2 }).catch((x) => x);
    expect(n2).toBeInstanceOf(OpenAI.BadRequestError);
    expect(n2.status).toBe(400);
    expect(n2.error?.message).toMatch(/n = 1/);
    expect(n2.param).toBe('n');
  });

  it('a message longer than the slot context is a BadRequestError (context_length_exceeded), whole or streamed', async () => {
    const long = [{ role: 'user' as const, content: 'hello '.repeat(3000) }];
    const e = await client.chat.completions.create({ model: 'smol', messages: long, max_tokens: 4 }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e.code).toBe('context_length_exceeded');
    expect(e.error?.message).toMatch(/does not fit.*2048/);
    // streamed: refused before the stream starts, so it is still a plain 400
    const s = await client.chat.completions.create({ model: 'smol', messages: long, stream: true }).catch((x) => x);
    expect(s).toBeInstanceOf(OpenAI.BadRequestError);
    expect(s.code).toBe('context_length_exceeded');
    // the slot is still usable afterwards
    const ok = await client.chat.completions.create({ model: 'smol', messages: FRANCE, temperature: 0 });
    expect(ok.choices[0].message.content).toBe(whole);
  });

  it('an unknown route is a NotFoundError (404) through the client, and a 404 over plain fetch', async () => {
    const e = (await client.get('/nope').then(
      () => null,
      (x: unknown) => x,
    )) as InstanceType<typeof OpenAI.NotFoundError>;
    expect(e).toBeInstanceOf(OpenAI.NotFoundError);
    expect(e.status).toBe(404);
    expect((e.error as { message?: string })?.message).toMatch(/no route GET \/v1\/nope/);
    const r = await fetch(`http://127.0.0.1:${srv.port}/v1/nope`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(r.status).toBe(404);
    expect((await r.json()).error.type).toBe('not_found_error');
  });

  it('the greedy answer equals `llama4 run` on the same chatml-rendered prompt', async () => {
    const r = await client.chat.completions.create({ model: 'smol', messages: FRANCE, temperature: 0, max_tokens: 16 });
    const served = r.choices[0].message.content!;
    const prompt = `<|im_start|>user\n${QUESTION}<|im_end|>\n<|im_start|>assistant\n`;
    const run = cli(['run', '-m', SMOL, '-p', prompt, '--temp', '0', '-n', '16', '-t', '2']);
    expect(run.code, run.stderr).toBe(0);
    // `run` stops at the vocab's end-of-generation tokens; SmolLM2's include <|im_end|>, the chatml end of turn
    expect(run.stderr).toMatch(/generation: +\d+ tokens .*stopped by eog/);
    expect(run.stdout).toBe(served);
    expect(r.choices[0].finish_reason).toBe('stop');
    // the same number of prompt tokens: the server rendered exactly this prompt
    const m = /prompt eval: (\d+) tokens/.exec(run.stderr);
    expect(Number(m?.[1])).toBe(r.usage!.prompt_tokens);
    expect(Number(/generation: +(\d+) tokens/.exec(run.stderr)?.[1])).toBe(r.usage!.completion_tokens);
  });
});
