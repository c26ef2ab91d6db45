// Phi-3, as llama.cpp's built-in "phi3" (src/llama-chat.cpp): `<|role|>\ncontent<|end|>\n` per message,
// content untouched; generation prompt `<|assistant|>\n`.
import type { BuiltinTemplate } from './index.js';

export const phi3: BuiltinTemplate = {
  name: 'phi3',
  source: String.raw`{%- for message in messages -%}
{{- '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|assistant|>\n' -}}{%- endif -%}`,
  endOfTurn: ['<|end|>'],
  detect: ({ hasToken }) =>
    hasToken('<|assistant|>') && hasToken('<|end|>') ? 'the vocabulary has <|assistant|> and <|end|>' : undefined,
};
