// Property tests with a fixed seed for chat-template rendering: random conversations (any role order, text
// full of Jinja syntax, control characters and astral characters) through every built-in and the shared
// model's own template, and randomly mutated template sources. The built-ins always render; a model or a
// mutated template may only fail with the documented errors (raise_exception -> "chat template: ...",
// a parse error -> "... is not valid Jinja: ...", a run-time error -> "... failed: ..."), and no render
// takes long.
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { BUILTIN_TEMPLATES, builtinTemplate, renderChat, type ChatMessage, type ChatRole, type ChatTemplate } from '../../src/engine/templates/index.js';
import { model } from '../helpers/shared.js';
import { int, pick, randomText, seeded, timed, type Rand } from './random.js';

const SLOW_MS = 250;
const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];
const DOCUMENTED = /^(chat template: .*|(the model's chat template|chat template file .+|built-in chat template \S+) (is not valid Jinja|failed): .*)$/s;

function conversation(r: Rand): ChatMessage[] {
  return Array.from({ length: int(r, 8) }, () => ({ role: pick(r, ROLES), content: randomText(r, 12) }));
}

function render(t: ChatTemplate, r: Rand) {
  const messages = conversation(r);
  const o = { addGenerationPrompt: r() < 0.5, bosToken: pick(r, ['<s>', '', '<|begin_of_text|>']), eosToken: pick(r, ['</s>', '', '<|im_end|>']) };
  return { messages, ...timed(() => renderChat(t, messages, o)) };
}

const JINJA_BITS = ['{{', '}}', '{%', '%}', '{#', '#}', '(', ')', '[', ']', '|', '.', ',', "'", '"', '-', '+', '~', 'if ', 'endif', 'for ', 'endfor', ' in ', 'set ', 'not ', 'messages', 'loop.', 'message', '[0]', '== ', 'raise_exception(', 'namespace(', 'trim', 'none', '\n'];

/** The source with 1..3 random edits: a character dropped, a slice repeated, a Jinja fragment inserted. */
function mutate(src: string, r: Rand): string {
  let s = src;
  for (let k = 1 + int(r, 3); k > 0; k--) {
    const at = int(r, s.length + 1);
    const op = int(r, 3);
    if (op === 0) s = s.slice(0, at) + s.slice(at + 1);
    else if (op === 1) s = s.slice(0, at) + s.slice(at, at + 1 + int(r, 12)) + s.slice(at);
    else s = s.slice(0, at) + pick(r, JINJA_BITS) + s.slice(at);
  }
  return s;
}

describe('chat templates on random conversations', () => {
  for (const name of BUILTIN_TEMPLATES) {
    it(`built-in ${name} renders every conversation`, () => {
      const r = seeded(0x7e3 + name.length * 977);
      const t = builtinTemplate(name);
      for (let i = 0; i < 150; i++) {
        const out = render(t, r);
        expect(out.error, JSON.stringify(out.messages)).toBeUndefined();
        expect(typeof out.value).toBe('string');
        expect(out.ms).toBeLessThan(SLOW_MS);
      }
    });
  }

  it("SmolLM2's own template renders or fails with a documented error", async () => {
    const h = await addon().readGguf(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'), { arrayLimit: 0 });
    const source = String(h.metadata.find((kv) => kv.key === 'tokenizer.chat_template')!.value);
    const t: ChatTemplate = { name: 'model', origin: 'model', source, endOfTurn: ['<|im_end|>'] };
    const r = seeded(0x5e01);
    for (let i = 0; i < 200; i++) {
      const out = render(t, r);
      if (out.error) expect((out.error as Error).message).toMatch(DOCUMENTED);
      else for (const m of out.messages) expect(out.value).toContain(m.content); // ChatML keeps every content as is
      expect(out.ms).toBeLessThan(SLOW_MS);
    }
  });
});

describe('mutated template sources', () => {
  it('parse, render or fail with a documented error, never hang', () => {
    const r = seeded(0x3a7e);
    const sources = BUILTIN_TEMPLATES.map((n) => builtinTemplate(n).source);
    let failures = 0;
    for (let i = 0; i < 1500; i++) {
      const t: ChatTemplate = { name: `mutant-${i}`, origin: pick(r, ['model', 'file'] as const), source: mutate(pick(r, sources), r), endOfTurn: [] };
      const out = render(t, r);
      expect(out.ms, t.source).toBeLessThan(SLOW_MS * 2);
      if (out.error === undefined) {
        expect(typeof out.value).toBe('string');
        continue;
      }
      failures++;
      expect(out.error, t.source).toBeInstanceOf(Error);
      expect((out.error as Error).message, t.source).toMatch(DOCUMENTED);
    }
    expect(failures).toBeGreaterThan(500); // the mutations do break templates
  });
});
