// The chat without a terminal (stdin piped): no ink, no escape codes. One user turn per line (or per """
// block / \-continued lines), each reply on stdout followed by a blank line, slash commands as in the
// terminal chat, errors on stderr. EOF ends with exit code 0; Ctrl-C stops a reply, or quits when idle.
import { createInterface } from 'node:readline';
import { ConversationError } from '../engine/conversation.js';
import { isCommand, runCommand } from './commands/index.js';
import { MultilineInput } from './input.js';
import type { ChatSession } from './session.js';

export interface PlainIo {
  input: NodeJS.ReadableStream;
  out: (s: string) => void;
  err: (s: string) => void;
}

export async function runPlainChat(session: ChatSession, io: PlainIo): Promise<number> {
  const t = session.templateChoice;
  io.err(`llama4: chat template: ${t.template.name} (${t.reason})\n`);
  const rl = createInterface({ input: io.input, crlfDelay: Infinity, terminal: false });
  const ml = new MultilineInput();
  let current: AbortController | null = null;
  let quit = false;
  const onSigint = () => {
    if (current) current.abort(new Error('interrupted'));
    else {
      quit = true;
      rl.close();
    }
  };
  process.on('SIGINT', onSigint);
  try {
    for await (const line of rl) {
      if (quit) break;
      const text = ml.push(line);
      if (text === null) continue;
      if (text.trim() === '') continue;
      let user: string | null = text;
      if (isCommand(text)) {
        const r = await runCommand(text, { session });
        if (r.error) io.err(`llama4: ${r.error}\n`);
        if (r.output) io.out(r.output + '\n\n');
        if (r.exit) break;
        if (!r.regenerate) continue;
        user = null;
      }
      current = new AbortController();
      try {
        const it = session.turn(user, current.signal);
        let r = await it.next();
        let wrote = false;
        while (!r.done) {
          const ev = r.value;
          if (ev.type === 'text') {
            io.out(ev.text);
            wrote = true;
          } else if (ev.type === 'notice') io.err(`llama4: ${ev.text}\n`);
          r = await it.next();
        }
        io.out(wrote ? '\n\n' : '\n');
        if (r.value.stop === 'aborted') io.err('llama4: reply stopped\n');
        if (r.value.stop === 'context') io.err('llama4: the context is full; the next turn drops the oldest turns\n');
      } catch (e) {
        if (!(e instanceof ConversationError)) throw e;
        io.err(`llama4: ${e.message}\n`);
      } finally {
        current = null;
      }
    }
    if (ml.pending) io.err('llama4: input ended inside a multi-line message; it was not sent\n');
  } finally {
    process.off('SIGINT', onSigint);
    rl.close();
  }
  return 0;
}
