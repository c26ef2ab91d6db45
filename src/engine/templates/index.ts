// Chat templates: choosing one (a file, a built-in by name, the GGUF's tokenizer.chat_template, or a built-in
// guessed from the architecture and vocabulary) and rendering a conversation into prompt text with
// @huggingface/jinja, given what Hugging Face templates expect: messages, add_generation_prompt, bos_token,
// eos_token, raise_exception(msg), strftime_now(fmt) and tools (undefined).
// Built-ins reproduce llama.cpp's llm_chat_apply_template output (src/llama-chat.cpp) and, like it, emit no
// BOS text; a model's own template usually starts with {{ bos_token }}, so the caller must not add a second BOS.
import { readFileSync } from 'node:fs';
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { BUILTINS, FALLBACK, type BuiltinTemplate } from './builtins/index.js';

export type ChatRole = 'system' | 'user' | 'assistant';
export interface ChatMessage { role: ChatRole; content: string }
export interface ChatTemplate {
  /** 'model' for the GGUF's own tokenizer.chat_template, a built-in's name, or the file path */
  name: string;
  origin: 'model' | 'builtin' | 'file';
  source: string;
  /** texts that end an assistant turn in this template, e.g. ['<|im_end|>'] */
  endOfTurn: string[];
}

export const BUILTIN_TEMPLATES: readonly string[] = BUILTINS.map((b) => b.name);

/** end-of-turn texts looked for in model and file templates */
const KNOWN_END_OF_TURN = ['<|im_end|>', '<|eot_id|>', '<|eot|>', '<|eom_id|>', '<end_of_turn>', '<|end|>', '</s>', '<|endoftext|>', '<|EOT|>'];

function fromBuiltin(b: BuiltinTemplate): ChatTemplate {
  return { name: b.name, origin: 'builtin', source: b.source, endOfTurn: [...b.endOfTurn] };
}

function fromSource(name: string, origin: 'model' | 'file', source: string): ChatTemplate {
  return { name, origin, source, endOfTurn: KNOWN_END_OF_TURN.filter((t) => source.includes(t)) };
}

export function builtinTemplate(name: string): ChatTemplate {
  const b = BUILTINS.find((x) => x.name === name);
  if (!b) throw new Error(`unknown chat template '${name}'; built-in templates: ${BUILTIN_TEMPLATES.join(', ')}`);
  return fromBuiltin(b);
}

/**
 * A Jinja file, or a Hugging Face tokenizer_config.json / chat_template.json whose chat_template is a string
 * (or a list of {name, template}: the one named 'default'). One final newline is dropped (editors add it).
 */
export function templateFromFile(path: string): ChatTemplate {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `chat template file not found: ${path}`
      : `cannot read chat template file ${path}: ${(e as Error).message}`);
  }
  if (path.endsWith('.json')) {
    let ct: unknown;
    try {
      ct = (JSON.parse(text) as { chat_template?: unknown }).chat_template;
    } catch (e) {
      throw new Error(`chat template file ${path} is not valid JSON: ${(e as Error).message}`);
    }
    if (Array.isArray(ct)) ct = (ct as { name?: string; template?: unknown }[]).find((x) => x.name === 'default')?.template;
    if (typeof ct !== 'string') throw new Error(`chat template file ${path} has no chat_template string`);
    text = ct;
  } else {
    text = text.replace(/\r?\n$/, '');
  }
  if (text.trim() === '') throw new Error(`chat template file ${path} is empty`);
  return fromSource(path, 'file', text);
}

export interface TemplateChoice {
  template: ChatTemplate;
  /** one line for the user, e.g. "the model's template" */
  reason: string;
}

/**
 * Precedence: file > name > the model's tokenizer.chat_template > a built-in chosen from arch + vocabulary.
 * tokenizerModel (tokenizer.ggml.model) is optional: without it a SentencePiece vocabulary is recognized by
 * having <s>, </s> and <unk>.
 */
export function chooseTemplate(opts: {
  file?: string;
  name?: string;
  modelTemplate?: string;
  arch: string;
  hasToken: (text: string) => boolean;
  tokenizerModel?: string;
  /**
   * render the model's own template (default true). false = llama-cli without --jinja: a model template of a
   * known family is rendered as that family's built-in (llama.cpp's llm_chat_detect_template), any other
   * model template as it is.
   */
  jinja?: boolean;
}): TemplateChoice {
  if (opts.file) return { template: templateFromFile(opts.file), reason: `the template file ${opts.file}` };
  if (opts.name) return { template: builtinTemplate(opts.name), reason: `built-in ${opts.name}, as asked` };
  if (opts.modelTemplate && opts.modelTemplate.trim() !== '') {
    const family = opts.jinja === false ? templateFamily(opts.modelTemplate) : undefined;
    if (family)
      return { template: builtinTemplate(family), reason: `the model's template is ${family}-style: built-in ${family}, as llama-cli; --jinja renders the model's own` };
    return { template: fromSource('model', 'model', opts.modelTemplate), reason: "the model's template" };
  }
  for (const b of BUILTINS) {
    const why = b.detect?.(opts);
    if (why) return { template: fromBuiltin(b), reason: `no template in the model: built-in ${b.name} (${why})` };
  }
  return {
    template: fromBuiltin(FALLBACK),
    reason: `no template in the model: built-in ${FALLBACK.name} (the default: no known chat tokens in the vocabulary)`,
  };
}

/**
 * The built-in family of a model's template, as llama.cpp's llm_chat_detect_template tells it by the
 * texts in the source (only the unambiguous families; others render as they are).
 */
export function templateFamily(source: string): string | undefined {
  const has = (t: string) => source.includes(t);
  if (has('<|im_start|>')) return 'chatml';
  if (has('<|header_start|>') && has('<|header_end|>')) return 'llama4';
  if (has('<|start_header_id|>') && has('<|end_header_id|>')) return 'llama3';
  if (has('<start_of_turn>')) return 'gemma';
  if (has('<|assistant|>') && has('<|end|>')) return 'phi3';
  return undefined;
}

/** The template's end-of-turn texts, plus eosToken when the template writes eos_token. */
export function endOfTurnFor(t: ChatTemplate, eosToken: string): string[] {
  const out = [...t.endOfTurn];
  if (eosToken && /\beos_token\b/.test(t.source) && !out.includes(eosToken)) out.push(eosToken);
  return out;
}

export interface RenderOptions { addGenerationPrompt: boolean; bosToken: string; eosToken: string }

/** raise_exception() in a template; told apart from the interpreter's own errors */
class RaisedError extends Error {}

/** compiled templates by source text: each is parsed once */
const compiled = new Map<string, Template>();

function compile(t: ChatTemplate): Template {
  let tpl = compiled.get(t.source);
  if (!tpl) {
    try {
      tpl = new Template(t.source);
    } catch (e) {
      // @huggingface/jinja's parser reads past its last token on a template that ends inside a block or an
      // expression ("{% for m in messages %}" alone), and fails with a TypeError about the missing token
      const early = e instanceof TypeError && /\(reading '(type|value)'\)/.test(e.message);
      const why = early ? 'unexpected end of the template (a block or an expression is not closed)' : (e as Error).message;
      throw new Error(`${describe(t)} is not valid Jinja: ${why}`, { cause: e });
    }
    compiled.set(t.source, tpl);
  }
  return tpl;
}

function describe(t: ChatTemplate): string {
  return t.origin === 'model' ? "the model's chat template"
    : t.origin === 'file' ? `chat template file ${t.name}` : `built-in chat template ${t.name}`;
}

export function renderChat(t: ChatTemplate, messages: readonly ChatMessage[], o: RenderOptions): string {
  const tpl = compile(t);
  // Template.render() declares its own raise_exception and refuses a second one, so the environment is built
  // here: the globals @huggingface/jinja's setupGlobals() declares, with our raise_exception and strftime_now.
  const globals: Record<string, unknown> = {
    true: true, false: false, none: null, True: true, False: false, None: null, range: rangeWithin({ left: RANGE_BUDGET }),
    raise_exception: (msg: unknown) => {
      throw new RaisedError(String(msg));
    },
    strftime_now: (fmt: unknown) => strftime(new Date(), String(fmt)),
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    add_generation_prompt: o.addGenerationPrompt,
    bos_token: o.bosToken,
    eos_token: o.eosToken,
    tools: undefined,
  };
  const env = new Environment();
  for (const [k, v] of Object.entries(globals)) env.set(k, v);
  try {
    return String(new Interpreter(env).run(tpl.parsed).value);
  } catch (e) {
    if (e instanceof RaisedError) throw new Error(`chat template: ${e.message}`);
    throw new Error(`${describe(t)} failed: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The most elements the range() calls of one rendering may produce together. A chat template comes with a
 * downloaded model and runs on every request: `range(10**9)`, or loops of ranges nested three deep, would
 * take the memory or the CPU of the server. Real templates use a few small ranges.
 */
export const RANGE_BUDGET = 1 << 20;

/** Python's range(), drawing on a rendering's budget of elements. */
function rangeWithin(budget: { left: number }) {
  return (start: unknown, stop?: unknown, step: unknown = 1): number[] => {
    if (stop === undefined) [start, stop] = [0, start];
    if (![start, stop, step].every((x) => typeof x === 'number' && Number.isInteger(x)))
      throw new Error('range() takes integers');
    const [a, b, c] = [start as number, stop as number, step as number];
    if (c === 0) throw new Error('range() step must not be zero');
    const n = Math.max(0, Math.ceil((b - a) / c));
    if (n > budget.left)
      throw new Error(`range() of ${n} elements is past what a chat template may produce (${RANGE_BUDGET} in all per rendering)`);
    budget.left -= n;
    const out: number[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = a + i * c;
    return out;
  };
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
  'October', 'November', 'December'];

/** Python's strftime in the C locale, local time, for the codes chat templates use. */
export function strftime(d: Date, fmt: string): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const h12 = d.getHours() % 12 || 12;
  const yday = Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 864e5) + 1;
  const codes: Record<string, () => string> = {
    a: () => DAYS[d.getDay()].slice(0, 3), A: () => DAYS[d.getDay()],
    b: () => MONTHS[d.getMonth()].slice(0, 3), B: () => MONTHS[d.getMonth()],
    d: () => p2(d.getDate()), e: () => String(d.getDate()).padStart(2, ' '), m: () => p2(d.getMonth() + 1),
    y: () => p2(d.getFullYear() % 100), Y: () => String(d.getFullYear()),
    H: () => p2(d.getHours()), I: () => p2(h12), M: () => p2(d.getMinutes()), S: () => p2(d.getSeconds()),
    p: () => (d.getHours() < 12 ? 'AM' : 'PM'), j: () => String(yday).padStart(3, '0'), '%': () => '%',
  };
  return fmt.replace(/%([a-zA-Z%])/g, (all, c: string) => codes[c]?.() ?? all);
}
