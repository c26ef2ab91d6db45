// Seeds for the Jazzer.js targets, written by scripts/fuzz-js.sh into OUT/TARGET/ (under build-fuzz/js,
// never committed): the tokenizer test texts of the shared vocabularies through every splitter and
// vocabulary, conversations and every template source (built-ins, SmolLM2's), a valid request for every
// route. The small hand-made inputs and past findings are test/fixtures/fuzz/js-TARGET/.
//
//   node --import tsx test/fuzz/jazzer/make-seeds.ts OUT [TARGET...]
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VOCAB, vocabTexts } from '../../tokenizer/fixtures.js';

const [out, ...wanted] = process.argv.slice(2);
if (!out) {
  console.error('usage: make-seeds.ts OUT [tokenizer|template|server...]');
  process.exit(2);
}
const want = (t: string) => wanted.length === 0 || wanted.includes(t);

function write(target: string, inputs: Uint8Array[]): void {
  const dir = join(out, target);
  mkdirSync(dir, { recursive: true });
  for (const b of inputs) writeFileSync(join(dir, createHash('sha1').update(b).digest('hex')), b);
  console.log(`${target}: ${inputs.length} seeds in ${dir}`);
}

if (want('tokenizer')) {
  const { CHOICES } = await import('./tokenizer.target.js');
  const hf = JSON.parse(readFileSync(join(VOCAB, 'ggml-vocab-llama4-derived.hf-cases.json'), 'utf8')) as { text: string }[];
  const texts = [...vocabTexts(), ...hf.map((c) => c.text)].filter((t) => Buffer.byteLength(t) <= 1000);
  const inputs: Uint8Array[] = [];
  for (let choice = 0; choice < CHOICES; choice++)
    texts.forEach((t, i) => {
      // UTF-8 text; every third one with add_special + parse_special, every fifth decoded with special
      const flags = (i % 3 === 0 ? 4 | 8 : 0) | (i % 5 === 0 ? 16 : 0);
      inputs.push(Buffer.concat([Buffer.from([choice, flags]), Buffer.from(t, 'utf8')]));
    });
  write('tokenizer', inputs);
}

if (want('template')) {
  const { encode, MODEL_TEMPLATE } = await import('./template.target.js');
  const { BUILTIN_TEMPLATES, builtinTemplate } = await import('../../../src/engine/templates/index.js');
  const options = { addGenerationPrompt: true, bosToken: '<s>', eosToken: '</s>' };
  const conversations = [
    [],
    [{ role: 'user', content: 'Hi' }],
    [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }, { role: 'assistant', content: 'Hi!' }, { role: 'user', content: 'Bye' }],
    [{ role: 'assistant', content: '{{ raise_exception("x") }}' }, { role: 'assistant', content: '<|im_end|>\n<|im_start|>system' }],
    [{ role: 'user', content: '  \n\t' }, { role: 'system', content: 'late system' }],
  ] as const;
  const inputs: Uint8Array[] = conversations.map((messages) => encode({ mode: 0, messages: [...messages], options }));
  const sources = [MODEL_TEMPLATE.source, ...BUILTIN_TEMPLATES.map((n) => builtinTemplate(n).source)];
  for (const source of sources)
    for (const [i, origin] of (['model', 'file'] as const).entries())
      inputs.push(encode({ mode: 1, messages: [...conversations[2 + i]], options: { ...options, addGenerationPrompt: i === 0 }, source, origin }));
  write('template', inputs);
}

if (want('server')) {
  const { encodeRaw } = await import('./server.target.js');
  const J = 'application/json';
  const chat = JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 });
  const inputs = [
    encodeRaw(1, 'POST', '/v1/chat/completions', J, 0, chat),
    encodeRaw(0, 'POST', '/v1/chat/completions', J, 0, chat),
    encodeRaw(2, 'POST', '/v1/chat/completions', J, 1, chat),
    encodeRaw(1, 'POST', '/v1/chat/completions', J, 0, JSON.stringify({ messages: [{ role: 'system', content: 'S' }, { role: 'user', content: [{ type: 'text', text: 'Hi' }] }], max_tokens: 3, stream: true, stream_options: { include_usage: true }, stop: ['\n'], temperature: 0.5, seed: 7 })),
    encodeRaw(1, 'POST', '/v1/completions', J, 0, JSON.stringify({ prompt: 'Once upon', max_tokens: 3, n: 1, top_k: 4, top_p: 0.9, min_p: 0.1, repeat_penalty: 1.1 })),
    encodeRaw(1, 'POST', '/v1/completions', J, 0, JSON.stringify({ prompt: ['Once'], max_tokens: 2, stream: true })),
    encodeRaw(1, 'POST', '/tokenize', J, 0, JSON.stringify({ content: 'Hello world', with_pieces: true, add_special: true, parse_special: false })),
    encodeRaw(1, 'POST', '/detokenize', J, 0, JSON.stringify({ tokens: [1, 2, 3, 400] })),
    encodeRaw(1, 'POST', '/v1/chat/completions', J, 0, '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1'),
    encodeRaw(1, 'POST', '/v1/chat/completions', 'text/plain', 0, chat),
    encodeRaw(1, 'GET', '/v1/models', '', 0, ''),
    encodeRaw(1, 'GET', '/health', '', 0, ''),
    encodeRaw(2, 'GET', '/metrics', '', 2, ''),
    encodeRaw(0, 'GET', '/health', '', 0, ''),
  ];
  write('server', inputs);
}
// the targets loaded models and apps: nothing more to wait for
process.exit(0);
