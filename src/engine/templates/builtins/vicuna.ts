// Vicuna 1.1, as llama.cpp's built-in "vicuna" (src/llama-chat.cpp): a system message is `content\n\n`,
// a user message `USER: content\n`, an assistant message `ASSISTANT: content</s>\n`; generation prompt
// `ASSISTANT:` (no space after it).
import type { BuiltinTemplate } from './index.js';

export const vicuna: BuiltinTemplate = {
  name: 'vicuna',
  source: String.raw`{%- for message in messages -%}
{%- if message['role'] == 'system' -%}{{- message['content'] + '\n\n' -}}
{%- elif message['role'] == 'user' -%}{{- 'USER: ' + message['content'] + '\n' -}}
{%- elif message['role'] == 'assistant' -%}{{- 'ASSISTANT: ' + message['content'] + '</s>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- 'ASSISTANT:' -}}{%- endif -%}`,
  endOfTurn: ['</s>'],
};
