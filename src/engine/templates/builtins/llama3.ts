// Llama 3, as llama.cpp's built-in "llama3" (src/llama-chat.cpp):
// `<|start_header_id|>role<|end_header_id|>\n\n` + trimmed content + `<|eot_id|>`; no BOS text;
// generation prompt `<|start_header_id|>assistant<|end_header_id|>\n\n`.
import type { BuiltinTemplate } from './index.js';

export const llama3: BuiltinTemplate = {
  name: 'llama3',
  source: String.raw`{%- for message in messages -%}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + (message['content'] | trim) + '<|eot_id|>' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}{%- endif -%}`,
  endOfTurn: ['<|eot_id|>', '<|eom_id|>'],
  detect: ({ hasToken }) =>
    hasToken('<|start_header_id|>') ? 'the vocabulary has <|start_header_id|>'
      : hasToken('<|eot_id|>') ? 'the vocabulary has <|eot_id|>' : undefined,
};
