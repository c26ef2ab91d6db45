// End to end: the real `llama4 chat` (bin/llama4.js over dist/) on the real SmolLM2-135M model, in a
// pseudo-terminal that tmux provides, so the ink screen runs exactly as a user sees it. The test types
// with `send-keys` and reads the screen with `capture-pane`. tmux runs on a socket of its own
// (-L llama4-e2e-<pid>, no config file), so a user's tmux server is never touched; the server is killed
// at the end whatever happens. Each pane runs a small script: the chat, then `stty -a` (was the
// terminal's cooked mode restored?) and EXIT=<code>, then a sleep that keeps the pane readable.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { model } from '../helpers/shared.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');
const SOCKET = `llama4-e2e-${process.pid}`;
const WIDTH = 80;
const HEIGHT = 40;

const SPINNER = /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
const STATUS = /^ctx \d+\/\d+/;

let dir = '';
/** the server's socket file, which kill-server leaves behind */
let socketPath = '';

// TMUX unset: the test may itself run inside a user's tmux
const ENV = { ...process.env, TMUX: undefined };

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The screen's lines (scrollback included, wrapped lines joined), trailing blank lines dropped. */
function lines(screen: string): string[] {
  const l = screen.split('\n').map((x) => x.trimEnd());
  while (l.length && l[l.length - 1] === '') l.pop();
  return l;
}

class Pane {
  readonly name: string;
  private tty = '';

  /** args: the llama4 command line after the binary (default: the chat on SmolLM2) */
  constructor(name: string, args = `chat -m ${q(SMOL)} --temp 0 -t 2 -c 2048`) {
    this.name = name;
    const script = join(dir, `${name}.sh`);
    writeFileSync(
      script,
      [
        `export LLAMA4_CHAT_HISTORY=${q(join(dir, 'history'))}`,
        'export NO_COLOR=1',
        // as in CI: a terminal chat stays interactive even where CI is set (ink alone would not)
        'export CI=true',
        `${q(process.execPath)} ${q(join(REPO, 'bin', 'llama4.js'))} ${args}`,
        'code=$?',
        // the termios flags that raw mode turns off, one per line: "STTY icanon" or "STTY -icanon"
        `stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | sed 's/^/STTY /'`,
        'echo "EXIT=$code"',
        'sleep 60',
        '',
      ].join('\n'),
    );
    tmux('new-session', '-d', '-s', name, '-x', String(WIDTH), '-y', String(HEIGHT), `bash ${q(script)}`);
    this.tty = tmux('display-message', '-p', '-t', name, '#{pane_tty}').trim();
    socketPath ||= tmux('display-message', '-p', '-t', name, '#{socket_path}').trim();
  }

  screen(): string {
    return tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', this.name);
  }

  /** Polls the screen every 100 ms until the predicate holds; fails with the last screen. Fails at once
   * when the chat has exited (EXIT=) and the predicate is not about that. */
  async waitForScreen(predicate: (screen: string) => boolean, timeoutMs: number, what = 'the screen'): Promise<string> {
    const t0 = Date.now();
    let s = '';
    for (;;) {
      s = this.screen();
      if (predicate(s)) return s;
      const exited = /^EXIT=\d+/m.test(s);
      if (exited || Date.now() - t0 > timeoutMs) {
        const why = exited ? 'the chat exited' : `timed out after ${timeoutMs} ms`;
        throw new Error(`${why} waiting for ${what}; last screen:\n${s}\n-- end of screen --`);
      }
      await sleep(100);
    }
  }

  /** stdin's terminal is in raw mode: ink is reading keys (not the case while the model loads). */
  raw(): boolean {
    const r = spawnSync('stty', ['-a', '-F', this.tty], { encoding: 'utf8' });
    return / -icanon\b/.test(r.stdout ?? '');
  }

  /** Waits for the banner, the prompt at the bottom and ink's raw mode (keys typed earlier would be
   * lost to the terminal's cooked mode). */
  async ready(timeoutMs = 60_000): Promise<string> {
    return this.waitForScreen(
      (s) => s.includes('llama4 chat') && lastLine(s) === '>' && this.raw(),
      timeoutMs,
      'the banner, the prompt "> " and raw mode',
    );
  }

  keys(...k: string[]): void {
    tmux('send-keys', '-t', this.name, ...k);
  }

  /** Types text (literally), waits until the prompt shows it, then presses Enter. */
  async type(text: string): Promise<void> {
    tmux('send-keys', '-t', this.name, '-l', text);
    await this.waitForScreen((s) => lastLine(s) === `> ${text}`, 10_000, `the prompt to show "${text}"`);
    this.keys('Enter');
  }

  /** The exit code and the STTY flags after the chat ended. */
  async exited(timeoutMs = 20_000): Promise<{ code: number; stty: string[]; screen: string }> {
    const s = await this.waitForScreen((x) => /^EXIT=\d+/m.test(x), timeoutMs, 'EXIT=');
    const code = Number(/^EXIT=(\d+)/m.exec(s)![1]);
    const stty = [...s.matchAll(/\bSTTY (-?\w+)/g)].map((m) => m[1]); // a raw terminal indents the 2nd
    return { code, stty, screen: s };
  }

  kill(): void {
    try {
      tmux('kill-session', '-t', this.name);
    } catch {
      /* already gone */
    }
  }
}

function lastLine(screen: string): string {
  const l = lines(screen);
  return l.length ? l[l.length - 1] : '';
}

/** The lines after the last one equal to `marker` (null: marker absent). */
function after(screen: string, marker: string): string[] | null {
  const l = lines(screen);
  const i = l.lastIndexOf(marker);
  return i < 0 ? null : l.slice(i + 1);
}

/** The streamed reply's text below the question: not the spinner, status line, prompt or cursor. */
function replyText(screen: string, question: string): string {
  const l = after(screen, `> ${question}`) ?? [];
  return l
    .filter((x) => x !== '' && !SPINNER.test(x) && !STATUS.test(x) && !/^>( |$)/.test(x))
    .join('\n')
    .replace(/▍/g, '')
    .trim();
}

function expectSaneTerminal(stty: string[], screen: string) {
  // raw mode restored: canonical input and echo back on
  expect(stty, screen).toContain('icanon');
  expect(stty, screen).toContain('echo');
  expect(stty, screen).not.toContain('-icanon');
  expect(stty, screen).not.toContain('-echo');
}

beforeAll(() => {
  const r = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error('tmux is required: apt-get install tmux');
  if (!existsSync(SMOL)) throw new Error(`the model ${SMOL} is missing`);
  if (!existsSync(join(REPO, 'dist', 'cli', 'index.js'))) throw new Error('dist/ is not built: npm run build:ts');
  dir = mkdtempSync(join(tmpdir(), 'llama4-e2e-'));
});

afterAll(() => {
  try {
    tmux('kill-server');
  } catch {
    /* no server (never started, or already gone) */
  }
  if (socketPath) rmSync(socketPath, { force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('llama4 chat in a terminal (tmux)', () => {
  it('answers, stops a reply on Ctrl-C, reuses the cache, /exit leaves with 0 and a sane terminal', async () => {
    const p = new Pane('main');
    try {
      // 1. the banner and the prompt
      let s = await p.ready();
      expect(s).toContain('llama4 chat');
      expect(s).toContain('SmolLM2-135M-Instruct.Q4_1.gguf');
      expect(s).toContain('template:');
      expect(lastLine(s)).toBe('>');

      // 2. a question: the answer streams, then the status line with the context use and TTFT
      const q1 = 'What is the capital of France?';
      await p.type(q1);
      s = await p.waitForScreen(
        (x) => {
          const l = after(x, `> ${q1}`);
          return !!l && l.some((y) => STATUS.test(y) && y.includes('TTFT')) && lastLine(x) === '>';
        },
        30_000,
        'the reply and the status line with TTFT',
      );
      let below = after(s, `> ${q1}`)!;
      const statusAt = below.findIndex((y) => STATUS.test(y) && y.includes('TTFT'));
      const parisAt = below.findIndex((y) => y.includes('Paris'));
      expect(parisAt, s).toBeGreaterThanOrEqual(0);
      expect(parisAt, s).toBeLessThan(statusAt);
      expect(below[statusAt]).toMatch(/^ctx \d+\/2048 · TTFT \d/);

      // 3. a long reply, stopped with Ctrl-C once it has started: the chat goes on
      const q2 = 'Write a very long story about a dragon and a knight.';
      await p.type(q2);
      await p.waitForScreen((x) => replyText(x, q2).length >= 40, 30_000, 'the long reply to start');
      p.keys('C-c');
      s = await p.waitForScreen(
        (x) => (after(x, `> ${q2}`) ?? []).includes('[reply stopped]') && lastLine(x) === '>',
        15_000,
        '"[reply stopped]" and the prompt',
      );
      below = after(s, `> ${q2}`)!;
      const stoppedAt = below.indexOf('[reply stopped]');
      expect(below.slice(0, stoppedAt).join(' ').trim().length, s).toBeGreaterThan(0); // the partial reply stays
      expect(s).not.toMatch(/^EXIT=/m);

      // 4. /stats: the second turn reused the first turn's tokens from the KV cache
      await p.type('/stats');
      s = await p.waitForScreen((x) => /#2: \d+\/\d+/.test(x) && lastLine(x) === '>', 10_000, 'the /stats output');
      const reused = /reused\s+from\s+the\s+cache\s+(\d+)/.exec(s);
      expect(reused, s).not.toBeNull();
      expect(Number(reused![1])).toBeGreaterThan(0);
      const turn2 = /#2: (\d+)\/(\d+)/.exec(s)!;
      expect(Number(turn2[1]), s).toBeGreaterThan(0);
      expect(s).toMatch(/#2: .*\(aborted\)/);
      expect(s).not.toMatch(/^EXIT=/m);

      // 5. /exit: exit code 0, the terminal back in cooked mode
      await p.type('/exit');
      const e = await p.exited();
      expect(e.code, e.screen).toBe(0);
      expectSaneTerminal(e.stty, e.screen);
    } finally {
      p.kill();
    }
  });

  it('llama4 run -m MODEL without a prompt on a terminal opens the chat, as ollama run does', async () => {
    const p = new Pane('run', `run -m ${q(SMOL)} --temp 0 -t 2 -c 1024`);
    try {
      await p.ready();
      await p.waitForScreen((s) => s.includes('llama4 chat') && /^> ?$/m.test(s), 30_000, 'the chat banner');
      p.keys('C-d');
      const e = await p.exited();
      expect(e.code, e.screen).toBe(0);
    } finally {
      p.kill();
    }
  });

  it.each([
    ['Ctrl-D', 'eof', 'C-d'],
    ['Ctrl-C', 'intr', 'C-c'],
  ])('%s on an empty prompt exits with 0 and a sane terminal', async (_name, pane, key) => {
    const p = new Pane(pane);
    try {
      await p.ready();
      p.keys(key);
      const e = await p.exited();
      expect(e.code, e.screen).toBe(0);
      expectSaneTerminal(e.stty, e.screen);
    } finally {
      p.kill();
    }
  });
});
