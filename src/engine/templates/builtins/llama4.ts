// Llama 4, as llama.cpp's built-in "llama4" (src/llama-chat.cpp):
// `<|header_start|>role<|header_end|>\n\n` + trimmed content + `<|eot|>`; no BOS text;
// generation prompt `<|header_start|>assistant<|header_end|>\n\n`.
import type { BuiltinTemplate } from './index.js';

export const llama4: BuiltinTemplate = {
  name: 'llama4',
  source: String.raw`{%- for message in messages -%}
{{- '<|header_start|>' + message['role'] + '<|header_end|>\n\n' + (message['content'] | trim) + '<|eot|>' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|header_start|>assistant<|header_end|>\n\n' -}}{%- endif -%}`,
  endOfTurn: ['<|eot|>', '<|eom|>'],
  detect: ({ arch, hasToken }) =>
    hasToken('<|header_start|>') ? 'the vocabulary has <|header_start|>'
      : arch === 'llama4' ? 'architecture llama4' : undefined,
};
