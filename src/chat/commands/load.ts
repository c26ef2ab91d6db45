// /load FILE: replace the conversation with one saved by /save (or any {"messages": [...]} JSON). A bad
// file is an error and the conversation stays as it was.
import { readFileSync } from 'node:fs';
import type { SlashCommand } from './types.js';

export const load: SlashCommand = {
  name: 'load',
  usage: '/load FILE',
  description: 'load a conversation saved with /save',
  action({ session }, args) {
    const file = args.trim();
    if (!file) return { error: 'usage: /load FILE' };
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      return { error: `cannot load ${file}: ${(e as Error).message}` };
    }
    try {
      session.conversation.load(data);
    } catch (e) {
      return { error: `cannot load ${file}: ${(e as Error).message}` };
    }
    return { output: `Loaded ${session.conversation.messages.length} messages from ${file}.`, transcriptChanged: true };
  },
};
