// Zephyr, as llama.cpp's built-in "zephyr" (src/llama-chat.cpp): `<|role|>\ncontent<|endoftext|>\n` per
// message, content untouched; generation prompt `<|assistant|>\n`.
import type { BuiltinTemplate } from './index.js';

export const zephyr: BuiltinTemplate = {
  name: 'zephyr',
  source: String.raw`{%- for message in messages -%}
{{- '<|' + message['role'] + '|>\n' + message['content'] + '<|endoftext|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|assistant|>\n' -}}{%- endif -%}`,
  endOfTurn: ['<|endoftext|>'],
};
