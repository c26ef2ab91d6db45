// /help: the commands and the input keys.
import type { SlashCommand } from './types.js';

export const help: SlashCommand = {
  name: 'help',
  aliases: ['?'],
  usage: '/help',
  description: 'list the commands and keys',
  action(ctx) {
    const w = Math.max(...ctx.commands.map((c) => c.usage.length));
    const lines = ctx.commands.map((c) => `  ${c.usage.padEnd(w)}  ${c.description}`);
    return {
      output: [
        'Commands:',
        ...lines,
        'Input: Enter sends; end a line with \\ or wrap text in """ for several lines; Up/Down: history;',
        'Tab completes commands; Ctrl-C stops a reply (on an empty prompt: quit); Ctrl-D quits.',
      ].join('\n'),
    };
  },
};
