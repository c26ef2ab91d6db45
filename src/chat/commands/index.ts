// The slash commands, parsing of a '/name args' line, hints for unknown names and Tab completion.
import { clear } from './clear.js';
import { exit } from './exit.js';
import { help } from './help.js';
import { load } from './load.js';
import { regen } from './regen.js';
import { save } from './save.js';
import { set } from './set.js';
import { show } from './show.js';
import { stats } from './stats.js';
import { system } from './system.js';
import type { CommandContext, CommandResult, SlashCommand } from './types.js';

export type { CommandContext, CommandResult, SlashCommand } from './types.js';

export const COMMANDS: readonly SlashCommand[] = [help, clear, regen, system, set, show, save, load, stats, exit];

export function isCommand(line: string): boolean {
  return /^\/[a-z?]/i.test(line.trim());
}

export function findCommand(name: string): SlashCommand | undefined {
  const n = name.toLowerCase();
  return COMMANDS.find((c) => c.name === n || c.aliases?.includes(n));
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/** Runs a '/name args' line. Unknown names get the closest command as a hint. */
export async function runCommand(line: string, ctx: Omit<CommandContext, 'commands'>): Promise<CommandResult> {
  const m = /^\/(\S+)\s*([\s\S]*)$/.exec(line.trim());
  if (!m) return { error: 'not a command' };
  const cmd = findCommand(m[1]);
  if (!cmd) {
    const names = COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
    const best = names.map((n) => [n, distance(m[1].toLowerCase(), n)] as const).sort((a, b) => a[1] - b[1])[0];
    const hint = best && best[1] <= 2 ? `did you mean /${best[0]}? ` : '';
    return { error: `unknown command /${m[1]}: ${hint}/help lists the commands` };
  }
  try {
    return await cmd.action({ ...ctx, commands: COMMANDS }, m[2]);
  } catch (e) {
    return { error: `/${cmd.name}: ${(e as Error).message}` };
  }
}

/** Tab completion of a command name: the completed line, or the candidates when ambiguous. */
export function completeCommand(line: string): { line: string; candidates: string[] } {
  const m = /^\/(\S*)$/.exec(line);
  if (!m) return { line, candidates: [] };
  const names = COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]).filter((n) => n.startsWith(m[1].toLowerCase()));
  if (names.length === 1) return { line: `/${names[0]} `, candidates: names };
  let common = names[0] ?? '';
  for (const n of names) while (!n.startsWith(common)) common = common.slice(0, -1);
  return { line: common.length > m[1].length ? `/${common}` : line, candidates: names };
}
