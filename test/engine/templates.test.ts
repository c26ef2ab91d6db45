// Chat templates: every built-in against llama.cpp's llm_chat_apply_template output (hand-derived from its
// rules in src/llama-chat.cpp), the real SmolLM2 template from its GGUF, errors, and template choice.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_TEMPLATES,
  builtinTemplate,
  chooseTemplate,
  endOfTurnFor,
  renderChat,
  strftime,
  templateFromFile,
  type ChatMessage,
  type ChatTemplate,
} from '../../src/engine/templates/index.js';
import { addon } from '../../src/native/addon.js';
import { model } from '../helpers/shared.js';

const opts = { addGenerationPrompt: true, bosToken: '<s>', eosToken: '</s>' };
// spaces around the assistant's reply show which templates trim contents
const chat: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi there' },
  { role: 'assistant', content: ' Hello! ' },
  { role: 'user', content: 'What is 2+2?' },
];

const expected: Record<string, string> = {
  chatml:
    '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n' +
    '<|im_start|>assistant\n Hello! <|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
  llama2: '[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! </s>[INST] What is 2+2? [/INST]',
  llama3:
    '<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n',
  llama4:
    '<|header_start|>system<|header_end|>\n\nYou are terse.<|eot|>' +
    '<|header_start|>user<|header_end|>\n\nHi there<|eot|>' +
    '<|header_start|>assistant<|header_end|>\n\nHello!<|eot|>' +
    '<|header_start|>user<|header_end|>\n\nWhat is 2+2?<|eot|>' +
    '<|header_start|>assistant<|header_end|>\n\n',
  mistral: ' [INST] You are terse.\n\nHi there [/INST]  Hello! </s> [INST] What is 2+2? [/INST]',
  gemma:
    '<start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n' +
    '<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n',
  phi3:
    '<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\n Hello! <|end|>\n' +
    '<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n',
  zephyr:
    '<|system|>\nYou are terse.<|endoftext|>\n<|user|>\nHi there<|endoftext|>\n<|assistant|>\n Hello! <|endoftext|>\n' +
    '<|user|>\nWhat is 2+2?<|endoftext|>\n<|assistant|>\n',
  vicuna: 'You are terse.\n\nUSER: Hi there\nASSISTANT:  Hello! </s>\nUSER: What is 2+2?\nASSISTANT:',
  deepseek:
    'You are terse.### Instruction:\nHi there\n### Response:\n Hello! \n<|EOT|>\n' +
    '### Instruction:\nWhat is 2+2?\n### Response:\n',
};

describe('built-in templates', () => {
  it('lists every built-in', () => {
    expect([...BUILTIN_TEMPLATES].sort()).toEqual(Object.keys(expected).sort());
  });

  for (const [name, text] of Object.entries(expected)) {
    it(`${name} renders as llama.cpp's built-in`, () => {
      const t = builtinTemplate(name);
      expect(t.origin).toBe('builtin');
      expect(renderChat(t, chat, opts)).toBe(text);
    });
  }

  it('adds the generation prompt only when asked', () => {
    const two = chat.slice(0, 2);
    const o = { ...opts, addGenerationPrompt: false };
    expect(renderChat(builtinTemplate('chatml'), two, o)).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n');
    expect(renderChat(builtinTemplate('llama3'), chat.slice(1, 2), o)).toBe(
      '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>');
    expect(renderChat(builtinTemplate('gemma'), two, o)).toBe(
      '<start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n');
    // no generation prompt in llama.cpp's llama2 / mistral-v1: the prompt ends in [/INST] either way
    expect(renderChat(builtinTemplate('llama2'), two, o)).toBe(renderChat(builtinTemplate('llama2'), two, opts));
  });

  it('gemma joins system prompts and keeps them for the next user turn', () => {
    const msgs: ChatMessage[] = [
      { role: 'system', content: ' A ' },
      { role: 'system', content: 'B' },
      { role: 'user', content: ' hi ' },
      { role: 'user', content: 'again' },
    ];
    expect(renderChat(builtinTemplate('gemma'), msgs, opts)).toBe(
      '<start_of_turn>user\nAB\n\nhi<end_of_turn>\n<start_of_turn>user\nagain<end_of_turn>\n<start_of_turn>model\n');
  });

  it('has the end-of-turn texts of each template', () => {
    expect(builtinTemplate('chatml').endOfTurn).toEqual(['<|im_end|>']);
    expect(builtinTemplate('llama3').endOfTurn).toContain('<|eot_id|>');
    expect(builtinTemplate('llama4').endOfTurn).toContain('<|eot|>');
    expect(builtinTemplate('gemma').endOfTurn).toEqual(['<end_of_turn>']);
    expect(builtinTemplate('phi3').endOfTurn).toEqual(['<|end|>']);
  });

  it('an unknown name is an error listing the built-ins', () => {
    expect(() => builtinTemplate('nope')).toThrow(/unknown chat template 'nope'.*chatml, .*llama3.*gemma/);
  });
});

describe('the SmolLM2 template from its GGUF', async () => {
  const h = await addon().readGguf(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'));
  const source = h.metadata.find((kv) => kv.key === 'tokenizer.chat_template')?.value as string;
  const { template } = chooseTemplate({ modelTemplate: source, arch: 'llama', hasToken: () => true });

  it('is the model template', () => {
    expect(typeof source).toBe('string');
    expect(template).toMatchObject({ name: 'model', origin: 'model', endOfTurn: ['<|im_end|>'] });
  });

  it('renders a conversation with a system message', () => {
    expect(renderChat(template, chat, { ...opts, bosToken: '<|im_start|>', eosToken: '<|im_end|>' })).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n' +
        '<|im_start|>assistant\n Hello! <|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n');
  });

  it("renders the chat golden's prompt (llama.cpp's rendering of the same template)", () => {
    const golden = JSON.parse(readFileSync(model('goldens/smollm2-135m-q4_1-chat.golden.json'), 'utf8')) as { prompt: string };
    const q: ChatMessage[] = [{ role: 'user', content: 'What is the capital of France? Answer in one sentence.' }];
    expect(renderChat(template, q, opts)).toBe(golden.prompt);
  });

  it('inserts its default system prompt when there is none', () => {
    expect(renderChat(template, chat.slice(1, 2), opts)).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' +
        '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n');
  });
});

const custom = (source: string): ChatTemplate => ({ name: 'model', origin: 'model', source, endOfTurn: [] });

describe('rendering', () => {
  it('raise_exception becomes a clear error', () => {
    const t = custom("{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok");
    expect(renderChat(t, chat.slice(1), opts)).toBe('ok');
    expect(() => renderChat(t, chat, opts)).toThrow(new Error('chat template: Conversation must start with user'));
  });

  it('a syntax error names the template', () => {
    expect(() => renderChat(custom('{% for m in messages %}{{ m.content }}'), chat, opts)).toThrow(
      /^the model's chat template is not valid Jinja: /);
  });

  it('passes bos_token, eos_token, tools and strftime_now', () => {
    const t = custom("{{ bos_token }}|{{ eos_token }}|{{ tools is defined }}|{{ strftime_now('%d %b %Y') }}");
    expect(renderChat(t, chat, opts)).toBe(`<s>|</s>|false|${strftime(new Date(), '%d %b %Y')}`);
    expect(strftime(new Date(2024, 6, 5, 14, 3, 9), '%d %b %Y, %A %B %e %H:%M:%S %I%p %j %y %%'))
      .toBe('05 Jul 2024, Friday July  5 14:03:09 02PM 187 24 %');
  });

  it('endOfTurnFor adds the EOS text when the template writes eos_token', () => {
    const t = chooseTemplate({
      modelTemplate: "{% for m in messages %}{{ m['content'] + eos_token }}<|eot_id|>{% endfor %}",
      arch: 'llama', hasToken: () => false,
    }).template;
    expect(t.endOfTurn).toEqual(['<|eot_id|>']);
    expect(endOfTurnFor(t, '<|end_of_text|>')).toEqual(['<|eot_id|>', '<|end_of_text|>']);
    expect(endOfTurnFor(builtinTemplate('chatml'), '</s>')).toEqual(['<|im_end|>']);
  });
});

describe('templateFromFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama4-tpl-'));

  it('reads a Jinja file (dropping the final newline) and a tokenizer_config.json', () => {
    const p = join(dir, 't.jinja');
    writeFileSync(p, "{% for m in messages %}[{{ m['content'] }}]<|end|>{% endfor %}\n");
    const t = templateFromFile(p);
    expect(t).toMatchObject({ name: p, origin: 'file', endOfTurn: ['<|end|>'] });
    expect(renderChat(t, chat.slice(1, 2), opts)).toBe('[Hi there]<|end|>');
    const j = join(dir, 'tokenizer_config.json');
    writeFileSync(j, JSON.stringify({ chat_template: '{{ messages[0].content }}<|im_end|>' }));
    expect(renderChat(templateFromFile(j), chat, opts)).toBe('You are terse.<|im_end|>');
  });

  it('missing and empty files are readable errors', () => {
    expect(() => templateFromFile(join(dir, 'absent.jinja'))).toThrow(/^chat template file not found: .*absent\.jinja$/);
    const e = join(dir, 'empty.jinja');
    writeFileSync(e, '\n');
    expect(() => templateFromFile(e)).toThrow(/^chat template file .*empty\.jinja is empty$/);
  });

  it('a syntax error names the file', () => {
    const p = join(dir, 'bad.jinja');
    writeFileSync(p, '{{ messages[0 }}');
    expect(() => renderChat(templateFromFile(p), chat, opts)).toThrow(/^chat template file .*bad\.jinja is not valid Jinja/);
  });
});

describe('chooseTemplate', () => {
  const vocab = (...tokens: string[]) => (t: string) => tokens.includes(t);
  const file = join(mkdtempSync(join(tmpdir(), 'llama4-tpl-')), 'x.jinja');
  writeFileSync(file, 'X');

  it('prefers a file, then a name, then the model template', () => {
    const base = { arch: 'llama', hasToken: vocab('<|im_start|>') };
    expect(chooseTemplate({ ...base, file, name: 'llama3', modelTemplate: 'M' }).template).toMatchObject({ origin: 'file', name: file });
    const named = chooseTemplate({ ...base, name: 'llama3', modelTemplate: 'M' });
    expect(named.template).toMatchObject({ origin: 'builtin', name: 'llama3' });
    expect(named.reason).toContain('llama3');
    expect(chooseTemplate({ ...base, modelTemplate: 'M' })).toEqual({
      template: { name: 'model', origin: 'model', source: 'M', endOfTurn: [] },
      reason: "the model's template",
    });
    expect(chooseTemplate({ ...base, modelTemplate: '' }).template.name).toBe('chatml');
    expect(() => chooseTemplate({ ...base, name: 'bogus' })).toThrow(/built-in templates: chatml/);
  });

  it('picks a built-in from the vocabulary and architecture', () => {
    const pick = (arch: string, ...tokens: string[]) => chooseTemplate({ arch, hasToken: vocab(...tokens) });
    expect(pick('llama', '<|im_start|>', '<|eot_id|>')).toEqual({
      template: builtinTemplate('chatml'),
      reason: 'no template in the model: built-in chatml (the vocabulary has <|im_start|>)',
    });
    expect(pick('llama', '<|header_start|>', '<|eot_id|>').template.name).toBe('llama4');
    const l4 = pick('llama4');
    expect(l4.template.name).toBe('llama4');
    expect(l4.reason).toContain('architecture llama4');
    expect(pick('llama', '<|start_header_id|>').template.name).toBe('llama3');
    expect(pick('llama', '<|eot_id|>').template.name).toBe('llama3');
    expect(pick('gemma', '<start_of_turn>', '<s>', '</s>', '<unk>').template.name).toBe('gemma');
    expect(pick('phi3', '<|assistant|>', '<|end|>', '<s>', '</s>', '<unk>').template.name).toBe('phi3');
    expect(pick('phi3', '<|assistant|>').template.name).toBe('chatml');
    expect(pick('llama', '[INST]').template.name).toBe('llama2');
    expect(pick('llama', '<s>', '</s>', '<unk>').template.name).toBe('llama2');
    expect(chooseTemplate({ arch: 'llama', hasToken: vocab(), tokenizerModel: 'llama' }).template.name).toBe('llama2');
    expect(chooseTemplate({ arch: 'llama', hasToken: vocab('<s>', '</s>', '<unk>'), tokenizerModel: 'gpt2' }).template.name).toBe('chatml');
    const fallback = pick('llama', '<|endoftext|>');
    expect(fallback.template.name).toBe('chatml');
    expect(fallback.reason).toMatch(/^no template in the model: built-in chatml \(/);
  });
});

describe('chooseTemplate on the shared vocabularies', () => {
  const cases: [string, string][] = [
    ['gpt-2', 'chatml'], ['llama-spm', 'llama2'], ['llama3-derived', 'llama3'], ['llama4-derived', 'llama4'],
  ];
  for (const [vocabName, want] of cases) {
    it(`ggml-vocab-${vocabName} -> ${want}`, async () => {
      const h = await addon().readGguf(model(`vocab/ggml-vocab-${vocabName}.gguf`));
      const get = (k: string) => h.metadata.find((kv) => kv.key === k)?.value;
      const tokens = new Set(get('tokenizer.ggml.tokens') as string[]);
      const choice = chooseTemplate({
        modelTemplate: get('tokenizer.chat_template') as string | undefined,
        arch: get('general.architecture') as string,
        hasToken: (t) => tokens.has(t),
      });
      expect(choice.template).toMatchObject({ origin: 'builtin', name: want });
      expect(choice.reason).toMatch(/^no template in the model: built-in /);
    });
  }
});

describe('a hostile template cannot take the memory or the CPU', () => {
  const tpl = (source: string): ChatTemplate => ({ name: 'hostile', origin: 'file', source, endOfTurn: [] });
  const o = { addGenerationPrompt: true, bosToken: '', eosToken: '' };
  const msgs: ChatMessage[] = [{ role: 'user', content: 'hi' }];

  it('range() behaves as Python within the budget', () => {
    expect(renderChat(tpl('{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}|{{ range(2, 2) | length }}'), msgs, o)).toBe('012|531|0');
  });

  it('a huge range, or nested ranges past 2^20 elements in all, is one clear error', () => {
    expect(() => renderChat(tpl('{% for i in range(1000000000) %}x{% endfor %}'), msgs, o)).toThrow(/range\(\) of 1000000000 elements is past what a chat template may produce/);
    expect(() => renderChat(tpl('{% for i in range(2000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}'), msgs, o)).toThrow(/past what a chat template may produce \(1048576 in all per rendering\)/);
    expect(() => renderChat(tpl('{{ range("a") }}'), msgs, o)).toThrow(/range\(\) takes integers/);
  });
});
