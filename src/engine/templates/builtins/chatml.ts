// ChatML, as llama.cpp's built-in "chatml" (src/llama-chat.cpp): `<|im_start|>role\ncontent<|im_end|>\n` per
// message, content untouched; generation prompt `<|im_start|>assistant\n`.
import type { BuiltinTemplate } from './index.js';

export const chatml: BuiltinTemplate = {
  name: 'chatml',
  source: String.raw`{%- for message in messages -%}
{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}`,
  endOfTurn: ['<|im_end|>'],
  detect: ({ hasToken }) => (hasToken('<|im_start|>') ? 'the vocabulary has <|im_start|>' : undefined),
};
