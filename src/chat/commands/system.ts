// /system TEXT: set (or with no text, show) the system prompt; it applies from the next reply on.
import type { SlashCommand } from './types.js';

export const system: SlashCommand = {
  name: 'system',
  usage: '/system [TEXT]',
  description: 'set the system prompt (no text: show it; "/system -" removes it)',
  action({ session }, args) {
    const conv = session.conversation;
    const text = args.trim();
    if (text === '') return { output: conv.system ? `System prompt: ${conv.system}` : 'No system prompt.' };
    if (text === '-') {
      conv.setSystem(undefined);
      return { output: 'System prompt removed.' };
    }
    conv.setSystem(text);
    return { output: 'System prompt set; it applies from the next reply.' };
  },
};
