// The built-in chat templates and their shape (each built-in file imports only the types from here).
// BUILTINS is in detection order: for a model without a template, the first built-in whose detect()
// answers is used (chatml when none does).
import { chatml } from './chatml.js';
import { deepseek } from './deepseek.js';
import { gemma } from './gemma.js';
import { llama2 } from './llama2.js';
import { llama3 } from './llama3.js';
import { llama4 } from './llama4.js';
import { mistral } from './mistral.js';
import { phi3 } from './phi3.js';
import { vicuna } from './vicuna.js';
import { zephyr } from './zephyr.js';

export interface DetectInput {
  /** general.architecture */
  arch: string;
  /** whether the vocabulary has a token with exactly this text */
  hasToken: (text: string) => boolean;
  /** tokenizer.ggml.model when known ('llama' = SentencePiece) */
  tokenizerModel?: string;
}

export interface BuiltinTemplate {
  name: string;
  /** Jinja text; rendered with trim_blocks/lstrip_blocks (as @huggingface/jinja always does) */
  source: string;
  /** texts that end an assistant turn */
  endOfTurn: string[];
  /** why this template fits a model without its own template (e.g. "the vocabulary has <|im_start|>"), or undefined */
  detect?: (v: DetectInput) => string | undefined;
}

export const BUILTINS: readonly BuiltinTemplate[] = [
  chatml, llama4, llama3, gemma, phi3, llama2, mistral, zephyr, vicuna, deepseek,
];

/** used when no built-in's detect() answers */
export const FALLBACK: BuiltinTemplate = chatml;
