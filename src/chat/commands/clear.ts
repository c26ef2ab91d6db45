// /clear: forget the turns, keep the system prompt (its cached tokens stay in the KV cache).
import type { SlashCommand } from './types.js';

export const clear: SlashCommand = {
  name: 'clear',
  usage: '/clear',
  description: 'forget the conversation (the system prompt stays)',
  action({ session }) {
    session.conversation.clear();
    const kept = session.conversation.cachedTokens.length;
    return { output: `Conversation cleared${kept ? ` (${kept} cached tokens of the system prompt kept)` : ''}.`, transcriptChanged: true };
  },
};
