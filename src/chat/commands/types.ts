// The slash-command contract: one object per command, its action a plain function of the session, so each
// is testable without a terminal. The UI and the plain mode render the result.
import type { ChatSession } from '../session.js';

export interface CommandContext {
  session: ChatSession;
  /** every command, for /help */
  commands: readonly SlashCommand[];
}

export interface CommandResult {
  /** text to show (may span lines) */
  output?: string;
  /** a failure to show; the chat goes on */
  error?: string;
  /** leave the chat */
  exit?: boolean;
  /** start a reply now (e.g. /regen) */
  regenerate?: boolean;
  /** the transcript was replaced (/clear, /load): the screen shows the new one */
  transcriptChanged?: boolean;
}

export interface SlashCommand {
  name: string;
  aliases?: readonly string[];
  /** e.g. '/set PARAM VALUE' */
  usage: string;
  description: string;
  action(ctx: CommandContext, args: string): CommandResult | Promise<CommandResult>;
}
