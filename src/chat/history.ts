// Input history kept across runs: one JSON string per line (multi-line messages survive) in
// $XDG_STATE_HOME/llama4/chat_history (default ~/.local/state/llama4), LLAMA4_CHAT_HISTORY overrides the
// path. At most MAX entries are kept; a file that cannot be read or written never stops the chat.
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

const MAX = 1000;

export function defaultHistoryPath(): string {
  if (process.env.LLAMA4_CHAT_HISTORY) return process.env.LLAMA4_CHAT_HISTORY;
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'llama4', 'chat_history');
}

export class InputHistory {
  readonly entries: string[] = [];
  private cursor = 0;

  /** path null: in memory only (--no-history) */
  constructor(private readonly path: string | null) {
    if (!path) return;
    try {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const v = JSON.parse(line);
          if (typeof v === 'string') this.entries.push(v);
        } catch {
          /* a damaged line is skipped */
        }
      }
    } catch {
      /* no history yet */
    }
    if (this.entries.length > MAX) {
      this.entries.splice(0, this.entries.length - MAX);
      this.rewrite();
    }
    this.cursor = this.entries.length;
  }

  add(entry: string): void {
    if (!entry.trim()) return;
    if (this.entries[this.entries.length - 1] !== entry) {
      this.entries.push(entry);
      if (this.path) {
        try {
          mkdirSync(dirname(this.path), { recursive: true });
          appendFileSync(this.path, JSON.stringify(entry) + '\n');
        } catch {
          /* history is a convenience */
        }
      }
    }
    this.cursor = this.entries.length;
  }

  /** Older entry (Up), or undefined at the oldest. */
  prev(): string | undefined {
    if (this.cursor === 0) return undefined;
    return this.entries[--this.cursor];
  }

  /** Newer entry (Down); '' past the newest. */
  next(): string | undefined {
    if (this.cursor >= this.entries.length) return undefined;
    this.cursor++;
    return this.cursor === this.entries.length ? '' : this.entries[this.cursor];
  }

  resetCursor(): void {
    this.cursor = this.entries.length;
  }

  private rewrite(): void {
    if (!this.path) return;
    try {
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, this.entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
      renameSync(tmp, this.path);
    } catch {
      /* keep the old file */
    }
  }
}
