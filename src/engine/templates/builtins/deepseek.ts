// DeepSeek Coder instruct, as llama.cpp's built-in "deepseek" (src/llama-chat.cpp): a system message is its
// content alone, a user message `### Instruction:\ncontent\n`, an assistant message
// `### Response:\ncontent\n<|EOT|>\n`; generation prompt `### Response:\n`.
import type { BuiltinTemplate } from './index.js';

export const deepseek: BuiltinTemplate = {
  name: 'deepseek',
  source: String.raw`{%- for message in messages -%}
{%- if message['role'] == 'system' -%}{{- message['content'] -}}
{%- elif message['role'] == 'user' -%}{{- '### Instruction:\n' + message['content'] + '\n' -}}
{%- elif message['role'] == 'assistant' -%}{{- '### Response:\n' + message['content'] + '\n<|EOT|>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '### Response:\n' -}}{%- endif -%}`,
  endOfTurn: ['<|EOT|>'],
};
