// /regen: a new reply to the last user message; the KV cache rolls back to the end of that prompt.
import type { SlashCommand } from './types.js';

export const regen: SlashCommand = {
  name: 'regen',
  aliases: ['retry'],
  usage: '/regen',
  description: 'generate the last reply again',
  action({ session }) {
    const m = session.conversation.messages;
    if (m.length === 0) return { error: 'nothing to regenerate yet' };
    return { regenerate: true };
  },
};
