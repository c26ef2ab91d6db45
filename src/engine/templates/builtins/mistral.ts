// Mistral instruct, as llama.cpp's built-in "mistral-v1" (src/llama-chat.cpp; Mistral's tokenizer-v1
// convention, used by Mistral-7B-Instruct-v0.1 and Mixtral-8x7B-Instruct-v0.1). A turn opens with
// ` [INST] ` (leading space included); a system message adds `content\n\n`, a user message
// `content [/INST]`, an assistant message ` content</s>` and closes the turn. Contents are not trimmed;
// no BOS text and no generation prompt (the prompt already ends in `[/INST]`).
import type { BuiltinTemplate } from './index.js';

export const mistral: BuiltinTemplate = {
  name: 'mistral',
  source: String.raw`{%- set ns = namespace(inside=false) -%}
{%- for message in messages -%}
{%- if not ns.inside -%}{{- ' [INST] ' -}}{%- set ns.inside = true -%}{%- endif -%}
{%- if message['role'] == 'system' -%}{{- message['content'] + '\n\n' -}}
{%- elif message['role'] == 'user' -%}{{- message['content'] + ' [/INST]' -}}
{%- else -%}{{- ' ' + message['content'] + '</s>' -}}{%- set ns.inside = false -%}
{%- endif -%}
{%- endfor -%}`,
  endOfTurn: ['</s>'],
};
