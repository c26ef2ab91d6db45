// Gemma, as llama.cpp's built-in "gemma" (src/llama-chat.cpp): `<start_of_turn>role\n` + trimmed content +
// `<end_of_turn>\n`, with role assistant written as `model`. System messages are not turns: their trimmed
// contents are joined and put, followed by `\n\n`, at the start of the next non-model turn.
// Generation prompt `<start_of_turn>model\n`.
import type { BuiltinTemplate } from './index.js';

export const gemma: BuiltinTemplate = {
  name: 'gemma',
  source: String.raw`{%- set ns = namespace(system='') -%}
{%- for message in messages -%}
{%- if message['role'] == 'system' -%}{%- set ns.system = ns.system + (message['content'] | trim) -%}
{%- else -%}
{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
{{- '<start_of_turn>' + role + '\n' -}}
{%- if ns.system != '' and role != 'model' -%}{{- ns.system + '\n\n' -}}{%- set ns.system = '' -%}{%- endif -%}
{{- (message['content'] | trim) + '<end_of_turn>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<start_of_turn>model\n' -}}{%- endif -%}`,
  endOfTurn: ['<end_of_turn>'],
  detect: ({ hasToken }) => (hasToken('<start_of_turn>') ? 'the vocabulary has <start_of_turn>' : undefined),
};
