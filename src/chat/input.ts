// Multi-line input as llama-cli and ollama take it: a line ending in \ continues on the next line; a line
// starting with """ opens a block that the next line ending in """ closes. Pure: the terminal UI and the
// plain mode both feed it lines.
export class MultilineInput {
  private lines: string[] = [];
  private typed: string[] = [];
  private block = false;

  /** true while a message is being continued */
  get pending(): boolean {
    return this.lines.length > 0 || this.block;
  }

  /** the lines taken so far of the message being continued, as typed (a bare opening """ included) */
  get partial(): readonly string[] {
    return this.typed;
  }

  reset(): void {
    this.lines = [];
    this.typed = [];
    this.block = false;
  }

  /** Takes one line; returns the whole message once it is complete, otherwise null. */
  push(line: string): string | null {
    const r = this.take(line);
    if (r === null) this.typed.push(line);
    return r;
  }

  private take(line: string): string | null {
    if (this.block) {
      const end = line.trimEnd();
      if (end.endsWith('"""')) {
        // text before the closing quotes is the last line; a bare closing line adds none (as a bare
        // opening line adds none), so '"""', 'a', '"""' gives 'a', not 'a\n'
        const last = end.slice(0, -3);
        if (last.trim() !== '') this.lines.push(last);
        return this.finish();
      }
      this.lines.push(line);
      return null;
    }
    if (this.lines.length === 0 && line.trimStart().startsWith('"""')) {
      const rest = line.trimStart().slice(3);
      const end = rest.trimEnd();
      if (end.endsWith('"""')) return this.finishWith([end.slice(0, -3)]);
      this.block = true;
      if (rest !== '') this.lines.push(rest);
      return null;
    }
    if (line.endsWith('\\')) {
      this.lines.push(line.slice(0, -1));
      return null;
    }
    this.lines.push(line);
    return this.finish();
  }

  private finishWith(lines: string[]): string {
    this.lines = lines;
    return this.finish();
  }

  private finish(): string {
    const text = this.lines.join('\n');
    this.reset();
    return text;
  }
}
