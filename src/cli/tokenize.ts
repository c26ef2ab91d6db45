// `llama4 tokenize`: the ids of a prompt under a model's vocabulary (llama.cpp's llama-tokenize).
import type { Command } from 'commander';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { addModelFlag, addPromptFlags, readPrompt } from './flags.js';
import { utf8DecodeStrict } from '../tokenizer/unicode.js';

interface TokenizeOptions {
  model: string;
  prompt?: string;
  file?: string;
  bos: boolean;
  parseSpecial: boolean;
  json?: boolean;
  llamacppCompat?: boolean;
}

/** A piece for display: its text, or \xNN escapes where it is not whole UTF-8 (byte tokens, split characters). */
function showPiece(bytes: Uint8Array): string {
  const text = utf8DecodeStrict(bytes);
  if (text !== null) return text;
  return Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

export async function runTokenize(opts: TokenizeOptions, write: (s: string) => void): Promise<void> {
  const text = readPrompt(opts);
  const tok = await Tokenizer.fromGguf(opts.model, { llamaCppCompat: opts.llamacppCompat ?? false });
  const ids = tok.encode(text, { addSpecial: opts.bos, parseSpecial: opts.parseSpecial });
  if (opts.json) {
    write(JSON.stringify(ids) + '\n');
    return;
  }
  let out = '';
  for (const id of ids) out += `${String(id).padStart(6)} -> '${showPiece(tok.tokenToBytes(id, true))}'\n`;
  write(out);
}

export function registerTokenize(program: Command): void {
  const cmd = program.command('tokenize').description("print the token ids of a text under a model's vocabulary");
  addModelFlag(cmd);
  addPromptFlags(cmd);
  cmd
    .option('--no-bos', 'add no BOS/EOS even where the vocabulary asks for them')
    .option('--no-parse-special', 'treat special-token texts such as <|eot|> as plain text')
    .option('--json', 'print only the ids, as a JSON array')
    .option('--llamacpp-compat', "reproduce llama.cpp's tokenization where it differs from the model's own tokenizer (Llama 4)")
    .action(async (opts: TokenizeOptions) => {
      await runTokenize(opts, (s) => process.stdout.write(s));
    });
}
