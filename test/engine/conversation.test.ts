// The conversation engine on the real SmolLM2: each turn evaluates only what is new (counted in tokens),
// /regen and /clear roll the cache back, a full context drops the oldest turns and keeps the system
// prompt, a message longer than the context is refused, a stopped reply leaves a consistent cache.
import { beforeAll, describe, expect, it } from 'vitest';
import { Conversation, ConversationError, type TurnEvent, type TurnStats } from '../../src/engine/conversation.js';
import { StopMatcher } from '../../src/engine/generate.js';
import { Model } from '../../src/engine/model.js';
import { builtinTemplate, chooseTemplate } from '../../src/engine/templates/index.js';
import { model } from '../helpers/shared.js';

const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');
let m: Model;

async function turn(c: Conversation, user: string | null, signal?: AbortSignal): Promise<{ text: string; stats: TurnStats; events: TurnEvent[] }> {
  const it = user === null ? c.regenerate({ signal }) : c.send(user, { signal });
  const events: TurnEvent[] = [];
  let text = '';
  let r = await it.next();
  while (!r.done) {
    events.push(r.value);
    if (r.value.type === 'text') text += r.value.text;
    r = await it.next();
  }
  return { text, stats: r.value, events };
}

const enc = (s: string) => m.tokenizer.encode(s, { addSpecial: false, parseSpecial: true });

function chat(nCtx: number, nPredict: number, system?: string): Conversation {
  return new Conversation(m.createContext({ nCtx, nThreads: 2 }), { template: builtinTemplate('chatml'), systemPrompt: system, sampling: { temp: 0 }, nPredict });
}

beforeAll(async () => {
  m = await Model.load(SMOL);
});

describe('Conversation', () => {
  it('turn N evaluates only the new user message, the generation prompt and the reply', async () => {
    const c = chat(2048, 64, 'You are a helpful assistant. Answer briefly.');
    const t1 = await turn(c, 'What is the capital of France?');
    expect(t1.text).toContain('Paris');
    expect(t1.stats.stop).toBe('eog');
    const prompt1 = '<|im_start|>system\nYou are a helpful assistant. Answer briefly.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n';
    expect(t1.stats.reusedTokens).toBe(0);
    expect(t1.stats.evaluatedTokens).toBe(enc(prompt1).length);
    // the reply is in the cache: prompt + every generated token (the end-of-turn token was sampled, not evaluated)
    expect(c.cachedTokens.length).toBe(enc(prompt1).length + t1.stats.generatedTokens);

    for (const q of ['And of Germany?', 'And of Italy?', 'Thank you!']) {
      const before = c.cachedTokens.length;
      const t = await turn(c, q);
      expect(t.stats.reusedTokens).toBe(before);
      expect(t.stats.evaluatedTokens).toBe(enc(`<|im_end|>\n<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n`).length);
      if (t.stats.stop === 'eog') expect(c.cachedTokens.length).toBe(before + t.stats.evaluatedTokens + t.stats.generatedTokens);
    }
    expect(c.totals.turns).toBe(4);
    expect(c.messages.map((x) => x.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
  });

  it('/regen rolls back to the end of the last prompt: nothing is evaluated, greedy gives the same reply', async () => {
    const c = chat(2048, 32);
    const t1 = await turn(c, 'Name three colors.');
    const cached = c.cachedTokens.length;
    const r = await turn(c, null);
    expect(r.stats.evaluatedTokens).toBe(0);
    expect(r.stats.reusedTokens).toBe(cached - (t1.stats.stop === 'eog' ? t1.stats.generatedTokens : t1.stats.generatedTokens - 1));
    expect(r.text).toBe(t1.text);
    expect(c.messages.length).toBe(2);
  });

  it('/clear keeps the system prompt in the cache; the next turn evaluates only the new message', async () => {
    const sys = 'You are a pirate. Always answer like a pirate would, with many nautical words.';
    const c = chat(2048, 16, sys);
    await turn(c, 'Hello!');
    c.clear();
    const sysTokens = enc(`<|im_start|>system\n${sys}<|im_end|>\n`).length;
    expect(c.cachedTokens.length).toBe(sysTokens);
    expect(c.messages).toEqual([]);
    const t = await turn(c, 'Who are you?');
    expect(t.stats.reusedTokens).toBe(sysTokens);
    expect(t.stats.evaluatedTokens).toBe(enc('<|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n').length);
  });

  it('a full context drops the oldest turns, keeps the system prompt and says so', async () => {
    const c = chat(160, 24, 'Be brief.');
    const notices: string[] = [];
    for (let i = 0; i < 8; i++) {
      const t = await turn(c, `Tell me a fact about the number ${i + 1}.`);
      for (const e of t.events) if (e.type === 'notice') notices.push(e.text);
      expect(c.cachedTokens.length).toBeLessThanOrEqual(160);
    }
    expect(notices.length).toBeGreaterThan(0);
    expect(notices[0]).toMatch(/left the model's context \(the system prompt is kept/);
    expect(c.firstInContext).toBeGreaterThan(0);
    expect(c.messages.length).toBe(16); // the transcript keeps every turn
    // what the model sees starts with the system prompt
    expect(m.tokenizer.decode(c.cachedTokens.slice(0, 8), { special: true } as never)).toContain('system');
  });

  it('a message longer than the context is refused with the numbers, and nothing changes', async () => {
    const c = chat(128, 16, 'Be brief.');
    await turn(c, 'Hi');
    const before = c.messages.length;
    const long = 'word '.repeat(400);
    await expect(turn(c, long)).rejects.toThrow(ConversationError);
    await expect(turn(c, long)).rejects.toThrow(/needs \d+ tokens .*the context holds 128/);
    expect(c.messages.length).toBe(before);
    const t = await turn(c, 'Bye');
    expect(t.stats.reusedTokens).toBeGreaterThan(0);
  });

  it('a reply stopped midway stays in the transcript and the cache stays consistent', async () => {
    const c = chat(2048, 200);
    const ac = new AbortController();
    const it = c.send('Write a long story about a dragon.', { signal: ac.signal });
    let text = '';
    let n = 0;
    let r = await it.next();
    while (!r.done) {
      if (r.value.type === 'text') {
        text += r.value.text;
        if (++n === 10) ac.abort();
      }
      r = await it.next();
    }
    expect(r.value.stop).toBe('aborted');
    expect(c.messages[1]).toEqual({ role: 'assistant', content: text });
    expect(c.cachedTokens.length).toBe(c.ctx.nPast);
    const t = await turn(c, 'Go on.');
    expect(t.stats.reusedTokens).toBeGreaterThan(10);
  });

  it('the model template of SmolLM2 is rendered as is with jinja: true, and as built-in chatml for llama-cli behaviour', () => {
    const src = '{{ "<|im_start|>" }}';
    expect(chooseTemplate({ modelTemplate: src, arch: 'llama', hasToken: () => true, jinja: true }).template.origin).toBe('model');
    expect(chooseTemplate({ modelTemplate: src, arch: 'llama', hasToken: () => true, jinja: false }).template.name).toBe('chatml');
    expect(chooseTemplate({ modelTemplate: '{{ messages }}', arch: 'llama', hasToken: () => true, jinja: false }).template.origin).toBe('model');
  });
});

describe('StopMatcher', () => {
  it('holds back a possible stop string and cuts at a completed one', () => {
    const s = new StopMatcher(['<|im_end|>', 'User:']);
    expect(s.push('Hello <|im')).toEqual({ text: 'Hello ', stopped: false });
    expect(s.push('_e')).toEqual({ text: '', stopped: false });
    expect(s.push('nd|> more')).toEqual({ text: '', stopped: true });
    const t = new StopMatcher(['User:']);
    expect(t.push('a Us')).toEqual({ text: 'a ', stopped: false });
    expect(t.push('ually')).toEqual({ text: 'Usually', stopped: false });
    expect(t.flush()).toBe('');
    expect(t.push('x U')).toEqual({ text: 'x ', stopped: false });
    expect(t.flush()).toBe('U');
  });
});
