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
    // the reply is to the last user message: the one at the end, or before the last reply (a loaded
    // conversation may end otherwise; regenerating would drop that reply and then fail)
    const answered = m[m.length - 1].role === 'assistant' ? m[m.length - 2] : m[m.length - 1];
    if (answered?.role !== 'user') return { error: 'nothing to regenerate: the last reply does not answer a user message' };
    return { regenerate: true };
  },
};
