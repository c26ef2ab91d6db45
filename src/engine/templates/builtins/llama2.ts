// Llama 2 chat, as llama.cpp's built-in "llama2-sys" (src/llama-chat.cpp; plain "llama2" there drops the
// <<SYS>> markers): the prompt opens with `[INST] ` (no BOS text: the tokenizer adds it), a system message
// becomes `<<SYS>>\ncontent\n<</SYS>>\n\n`, a user message `content [/INST]`, an assistant message
// `content</s>` after which the next message reopens with `[INST] `. Contents are not trimmed and there is
// no generation prompt (the prompt already ends in `[/INST]`).
import type { BuiltinTemplate } from './index.js';

export const llama2: BuiltinTemplate = {
  name: 'llama2',
  source: String.raw`{{- '[INST] ' -}}
{%- set ns = namespace(inside=true) -%}
{%- for message in messages -%}
{%- if not ns.inside -%}{{- '[INST] ' -}}{%- set ns.inside = true -%}{%- endif -%}
{%- if message['role'] == 'system' -%}{{- '<<SYS>>\n' + message['content'] + '\n<</SYS>>\n\n' -}}
{%- elif message['role'] == 'user' -%}{{- message['content'] + ' [/INST]' -}}
{%- else -%}{{- message['content'] + '</s>' -}}{%- set ns.inside = false -%}
{%- endif -%}
{%- endfor -%}`,
  endOfTurn: ['</s>'],
  detect: ({ hasToken, tokenizerModel }) => {
    if (hasToken('[INST]')) return 'the vocabulary has [INST]';
    const spm = tokenizerModel !== undefined ? tokenizerModel === 'llama'
      : hasToken('<s>') && hasToken('</s>') && hasToken('<unk>');
    return spm ? 'a SentencePiece llama vocabulary' : undefined;
  },
};
