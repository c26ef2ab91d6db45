// Jazzer.js target: chat-template rendering (src/engine/templates, @huggingface/jinja). A conversation
// (up to 8 messages: role, content), add_generation_prompt, bos/eos texts come from the bytes through
// FuzzedDataProvider; then either
//  - mode 0: it is rendered through every built-in template, which must render it (a string, no error),
//    and through SmolLM2-135M-Instruct's own template, which renders it keeping every content as is
//    (ChatML) or fails with a documented error (raise_exception); or
//  - mode 1: the rest of the bytes is a template source (given as a model's or a file's), which renders
//    or fails with a documented error: "chat template: ..." (raise_exception), "... is not valid Jinja:
//    ..." (a parse error), "... failed: ..." (a run-time error), always an Error. An internal error of
//    @huggingface/jinja under it (the wrapped error's cause a TypeError, ReferenceError, ...) is a finding
//    too, but for the parser's TypeError at an unexpected end, which compile() names as such.
//    FUZZ_TEMPLATE_INTERNAL=log lists each distinct internal error once instead of stopping at the first.
// No render takes over 250 ms of CPU (twice).
import { FuzzedDataProvider } from '@jazzer.js/core/dist/FuzzedDataProvider.js'; // not the package root: it loads the native fuzzer
import { addon } from '../../../src/native/addon.js';
import { BUILTIN_TEMPLATES, builtinTemplate, renderChat, type ChatMessage, type ChatRole, type ChatTemplate, type RenderOptions } from '../../../src/engine/templates/index.js';
import { model } from '../../helpers/shared.js';
import { FdpWriter } from './fdp.js';
import { fail, runTimed } from './common.js';

const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];
const BOS = ['<s>', '', '<|begin_of_text|>', '<|im_start|>'];
const EOS = ['</s>', '', '<|im_end|>', '<|eot_id|>'];
const MAX_MESSAGES = 8;
const MAX_CONTENT = 255;
const DOCUMENTED = /^(chat template: .*|(the model's chat template|chat template file .+|built-in chat template \S+) (is not valid Jinja|failed): .*)$/s;
/** errors the interpreter only throws by accident (its own are Error and SyntaxError) */
const INTERNAL = new Set(['TypeError', 'ReferenceError', 'EvalError', 'URIError']);

const header = await addon().readGguf(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'), { arrayLimit: 0 });
export const MODEL_TEMPLATE: ChatTemplate = {
  name: 'model',
  origin: 'model',
  source: String(header.metadata.find((kv) => kv.key === 'tokenizer.chat_template')!.value),
  endOfTurn: ['<|im_end|>'],
};
const BUILTINS = BUILTIN_TEMPLATES.map((n) => builtinTemplate(n));

export interface TemplateInput {
  mode: 0 | 1;
  messages: ChatMessage[];
  options: RenderOptions;
  /** mode 1 */
  source?: string;
  origin?: 'model' | 'file';
}

export function decode(data: Uint8Array): TemplateInput {
  const fdp = new FuzzedDataProvider(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  const mode = fdp.consumeIntegralInRange(0, 1) as 0 | 1;
  const options: RenderOptions = {
    addGenerationPrompt: fdp.consumeBoolean(),
    bosToken: BOS[fdp.consumeIntegralInRange(0, BOS.length - 1)],
    eosToken: EOS[fdp.consumeIntegralInRange(0, EOS.length - 1)],
  };
  const messages: ChatMessage[] = [];
  for (let n = fdp.consumeIntegralInRange(0, MAX_MESSAGES); n > 0; n--) {
    const role = ROLES[fdp.consumeIntegralInRange(0, ROLES.length - 1)];
    messages.push({ role, content: fdp.consumeString(fdp.consumeIntegralInRange(0, MAX_CONTENT)) });
  }
  if (mode === 0) return { mode, messages, options };
  const origin = fdp.consumeBoolean() ? 'file' : 'model';
  return { mode, messages, options, origin, source: fdp.consumeRemainingAsString() };
}

/** The bytes decode() reads back as `input` (for seeds). */
export function encode(input: TemplateInput): Buffer {
  const w = new FdpWriter().int(input.mode, 0, 1).bool(input.options.addGenerationPrompt);
  w.int(Math.max(0, BOS.indexOf(input.options.bosToken)), 0, BOS.length - 1);
  w.int(Math.max(0, EOS.indexOf(input.options.eosToken)), 0, EOS.length - 1);
  const messages = input.messages.slice(0, MAX_MESSAGES);
  w.int(messages.length, 0, MAX_MESSAGES);
  for (const m of messages) w.int(ROLES.indexOf(m.role), 0, ROLES.length - 1).str(m.content, MAX_CONTENT);
  if (input.mode === 1) w.bool(input.origin === 'file').rest(input.source ?? '');
  return w.bytes();
}

function render(t: ChatTemplate, input: TemplateInput): { value?: string; error?: unknown } {
  try {
    return { value: renderChat(t, input.messages, input.options) };
  } catch (error) {
    return { error };
  }
}

const seen = new Set<string>();
function checkError(error: unknown, what: unknown): void {
  if (!(error instanceof Error)) fail(`a template threw a non-Error (${typeof error})`, what);
  if (!DOCUMENTED.test(error.message)) fail(`undocumented template error ${error.name}: ${error.message}`, what);
  const cause = (error as Error & { cause?: unknown }).cause;
  // the parser's TypeError at an unexpected end is documented (compile() in templates/index.ts says so)
  const early = error.message.includes('is not valid Jinja: unexpected end of the template');
  if (cause instanceof Error && INTERNAL.has(cause.name) && !early) {
    if (process.env.FUZZ_TEMPLATE_INTERNAL === 'log') {
      const key = `${cause.name}: ${cause.message} ${cause.stack?.split('\n')[1]?.trim()} [${error.message.split(':')[0]}]`;
      if (!seen.has(key)) console.error(`INTERNAL ${key} <- ${JSON.stringify(what).slice(0, 300)}`);
      seen.add(key);
      return;
    }
    fail(`the Jinja interpreter failed with ${cause.name}: ${cause.message}`, what);
  }
}

function checkConversation(input: TemplateInput): void {
  for (const t of BUILTINS) {
    const out = render(t, input);
    if (out.error !== undefined)
      fail(`built-in ${t.name} failed: ${(out.error as Error)?.message}`, { messages: input.messages, options: input.options });
    if (typeof out.value !== 'string') fail(`built-in ${t.name} gave a ${typeof out.value}`, input.messages);
  }
  const out = render(MODEL_TEMPLATE, input);
  if (out.error !== undefined) checkError(out.error, { template: 'SmolLM2', messages: input.messages });
  else
    for (const m of input.messages)
      if (!out.value!.includes(m.content)) fail("SmolLM2's template lost a message's content", { message: m, rendered: out.value });
}

function checkSource(input: TemplateInput): void {
  const t: ChatTemplate = { name: 'fuzz.jinja', origin: input.origin!, source: input.source!, endOfTurn: [] };
  const out = render(t, input);
  if (out.error !== undefined) checkError(out.error, { source: t.source, messages: input.messages });
  else if (typeof out.value !== 'string') fail(`a template gave a ${typeof out.value}`, t.source);
}

export function check(data: Uint8Array): void {
  const input = decode(data);
  runTimed(() => (input.mode === 0 ? checkConversation(input) : checkSource(input)), () => input);
}

export function fuzz(data: Buffer): void {
  check(data);
}
