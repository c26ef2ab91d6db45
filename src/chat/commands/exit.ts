// /exit (or /bye, /quit): leave the chat.
import type { SlashCommand } from './types.js';

export const exit: SlashCommand = {
  name: 'exit',
  aliases: ['bye', 'quit'],
  usage: '/exit',
  description: 'leave the chat (also /bye, Ctrl-D)',
  action: () => ({ exit: true }),
};
