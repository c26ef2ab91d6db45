// /save FILE: the conversation as JSON ({version, system, messages}); written to a temporary file and
// renamed, so a failed write leaves no half file.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import type { SlashCommand } from './types.js';

export const save: SlashCommand = {
  name: 'save',
  usage: '/save FILE',
  description: 'save the conversation as JSON',
  action({ session }, args) {
    const file = args.trim();
    if (!file) return { error: 'usage: /save FILE' };
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(session.conversation.toJSON(), null, 2) + '\n');
      renameSync(tmp, file);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        /* nothing written */
      }
      return { error: `cannot save to ${file}: ${(e as Error).message}` };
    }
    return { output: `Saved ${session.conversation.messages.length} messages to ${file}.` };
  },
};
