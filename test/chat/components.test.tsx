// The terminal UI's components through ink-testing-library: what they draw, and the line editor's keys
// (typing, Enter, pastes with line breaks, history, Tab, Ctrl-C, Ctrl-D). Last, the whole App over a real
// session (SmolLM2-135M): banner, one turn answered with Paris, /exit.
import { render } from 'ink-testing-library';
import type { ReactElement } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../src/chat/App.js';
import { completeCommand } from '../../src/chat/commands/index.js';
import { Banner, bannerInfo, type BannerInfo } from '../../src/chat/components/Banner.js';
import { ProgressBar } from '../../src/chat/components/ProgressBar.js';
import { Prompt, type PromptProps } from '../../src/chat/components/Prompt.js';
import { Reply } from '../../src/chat/components/Reply.js';
import { StatusLine, statusText } from '../../src/chat/components/StatusLine.js';
import { Transcript, type TranscriptItem } from '../../src/chat/components/Transcript.js';
import { InputHistory } from '../../src/chat/history.js';
import { openSession } from '../../src/chat/session.js';
import { SMOL_CHAT } from '../helpers/chat.js';

const tick = (ms = 50) => new Promise<void>((r) => setTimeout(r, ms));
// colours off whatever the terminal: frames compared as text
// eslint-disable-next-line no-control-regex
const plain = (s: string | undefined) => (s ?? '').replace(/\x1b\[[0-9;]*m/g, '');

type Frame = () => string | undefined;
async function waitFor(frame: Frame, cond: (f: string) => boolean, timeoutMs = 5000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const f = plain(frame());
    if (cond(f)) return f;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms; last frame:\n${f}`);
    await tick(20);
  }
}

const unmounts: (() => void)[] = [];
function mount(node: ReactElement) {
  const r = render(node);
  unmounts.push(r.unmount);
  return { ...r, frame: () => plain(r.lastFrame()) };
}
afterEach(() => {
  for (const u of unmounts.splice(0)) u();
});

const info: BannerInfo = {
  file: 'tiny.gguf',
  arch: 'llama',
  layers: 30,
  params: 134.5e6,
  type: 'Q4_1',
  ctx: 1024,
  threads: 2,
  template: 'chatml',
  templateReason: 'from the model',
  depth: 'off',
};

describe('Banner', () => {
  it('shows the model, its shape, the context, the template and the depth gates', () => {
    const f = mount(<Banner info={info} />).frame();
    expect(f).toContain('llama4 chat · tiny.gguf');
    expect(f).toContain('llama · 30 layers · 134.5M params · Q4_1 · ctx 1024 · 2 threads');
    expect(f).toContain('template: chatml (from the model) · depth gates: off');
    expect(f).toContain('/help for commands');
    expect(f).not.toContain('experts');
  });

  it('MoE models show their experts; billions of parameters show as B', () => {
    const f = mount(<Banner info={{ ...info, params: 46.7e9, experts: '2 of 8 experts', depth: 'on (threshold 0.500)' }} />).frame();
    expect(f).toContain('46.7B params · Q4_1 · 2 of 8 experts · ctx 1024');
    expect(f).toContain('depth gates: on (threshold 0.500)');
  });

  it('bannerInfo takes its figures from the session', () => {
    const b = bannerInfo({
      model: { path: '/models/x/Mixtral-Q4_K_M.gguf', info: { arch: 'llama', nLayer: 32, nParams: 46.7e9, description: 'llama 8x7B Q4_K - Medium', nExpert: 8, nExpertUsed: 2 } },
      ctx: { state: () => ({ nCtx: 4096, nThreads: 8 }) },
      templateChoice: { template: { name: 'mistral-v1' }, reason: 'as asked' },
      depthDescription: 'off',
    });
    expect(b).toMatchObject({ file: 'Mixtral-Q4_K_M.gguf', layers: 32, ctx: 4096, threads: 8, template: 'mistral-v1', experts: '2 of 8 experts' });
  });
});

describe('StatusLine', () => {
  it('statusText: the context alone before any reply', () => {
    expect(statusText({ used: 0, total: 1024 })).toBe('ctx 0/1024');
  });

  it('statusText: TTFT, prompt and generation speed', () => {
    expect(statusText({ used: 42, total: 1024, ttftMs: 54.4, promptTps: 730.6, genTps: 227.26 })).toBe(
      'ctx 42/1024 · TTFT 54 ms · prompt 731 t/s · gen 227.3 t/s',
    );
    expect(statusText({ used: 1, total: 2, ttftMs: 1500 })).toBe('ctx 1/2 · TTFT 1.50 s');
  });

  it('statusText: blocks and experts per token when depth gates or experts are active', () => {
    const s = statusText({ used: 10, total: 512, genTps: 20, blocksPerToken: 21.44, nLayer: 30, expertsPerToken: 64 });
    expect(s).toBe('ctx 10/512 · gen 20.0 t/s · 21.4/30 blocks/tok · 64.0 experts/tok');
    expect(statusText({ used: 1, total: 2, blocksPerToken: 3 })).toBe('ctx 1/2 · 3.0/? blocks/tok');
  });

  it('draws statusText', () => {
    const s = { used: 7, total: 256, ttftMs: 12, genTps: 99.5, blocksPerToken: 10, nLayer: 12 };
    expect(mount(<StatusLine {...s} />).frame()).toBe(statusText(s));
  });
});

describe('Transcript, Reply, ProgressBar', () => {
  it('Transcript draws every kind of item once', () => {
    const items: TranscriptItem[] = [
      { id: 0, kind: 'banner', info },
      { id: 1, kind: 'user', text: 'What is 2+2?' },
      { id: 2, kind: 'assistant', text: 'It is 4.' },
      { id: 3, kind: 'notice', text: '[reply stopped]' },
      { id: 4, kind: 'error', text: 'unknown command /x' },
      { id: 5, kind: 'output', text: 'Conversation cleared.' },
    ];
    const f = mount(<Transcript items={items} />).frame();
    expect(f).toContain('llama4 chat · tiny.gguf');
    expect(f).toMatch(/^> What is 2\+2\?$/m);
    const order = ['llama4 chat', '> What is 2+2?', 'It is 4.', '[reply stopped]', 'unknown command /x', 'Conversation cleared.'].map((t) => f.indexOf(t));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(f.split('It is 4.')).toHaveLength(2);
  });

  it('Transcript adds new items below the old ones', () => {
    const first: TranscriptItem[] = [{ id: 0, kind: 'user', text: 'one' }];
    const r = mount(<Transcript items={first} />);
    r.rerender(<Transcript items={[...first, { id: 1, kind: 'assistant', text: 'two' }]} />);
    const f = r.frame();
    expect(f.indexOf('> one')).toBeGreaterThanOrEqual(0);
    expect(f.indexOf('two')).toBeGreaterThan(f.indexOf('> one'));
  });

  it('Reply draws the text and a cursor', () => {
    expect(mount(<Reply text="Hello the" />).frame()).toBe('Hello the▍');
  });

  it('ProgressBar: label, bar and percentage, clamped', () => {
    expect(mount(<ProgressBar label="loading" fraction={0.5} width={10} />).frame()).toBe('loading █████░░░░░ 50%');
    expect(mount(<ProgressBar label="x" fraction={0.123} width={4} />).frame()).toBe('x ░░░░ 12%');
    expect(mount(<ProgressBar label="x" fraction={1.7} width={4} />).frame()).toBe('x ████ 100%');
    expect(mount(<ProgressBar label="x" fraction={-1} width={4} />).frame()).toBe('x ░░░░ 0%');
    expect(mount(<ProgressBar label="x" fraction={NaN} width={4} />).frame()).toBe('x ░░░░ 0%');
  });
});

describe('Prompt', () => {
  function prompt(extra: Partial<PromptProps> = {}) {
    const calls = { submit: [] as string[], interrupt: [] as boolean[], eof: 0, candidates: [] as string[][] };
    const r = mount(
      <Prompt
        active
        pending={[]}
        onSubmit={(v) => calls.submit.push(v)}
        onInterrupt={(e) => calls.interrupt.push(e)}
        onEof={() => calls.eof++}
        onCandidates={(c) => calls.candidates.push(c)}
        complete={completeCommand}
        {...extra}
      />,
    );
    const type = async (s: string) => {
      r.stdin.write(s);
      await tick();
    };
    return { ...r, calls, type };
  }

  it('typed text then Enter submits it and clears the line', async () => {
    const p = prompt();
    await tick();
    await p.type('hello');
    expect(p.frame()).toContain('> hello');
    expect(p.calls.submit).toEqual([]);
    await p.type('\r');
    expect(p.calls.submit).toEqual(['hello']);
    expect(p.frame()).not.toContain('hello');
  });

  it('keys arriving before a re-render see each other (text and Enter in one tick)', async () => {
    const p = prompt();
    await tick();
    p.stdin.write('ab');
    p.stdin.write('c');
    p.stdin.write('\r');
    await tick();
    expect(p.calls.submit).toEqual(['abc']);
  });

  it('a paste with line breaks stays in the editor; Enter then sends it whole', async () => {
    const p = prompt();
    await tick();
    await p.type('a\nb');
    expect(p.calls.submit).toEqual([]);
    expect(p.frame()).toContain('b');
    // a terminal's paste (CR line breaks) alike
    await p.type('\rc');
    expect(p.calls.submit).toEqual([]);
    await p.type('\r');
    expect(p.calls.submit).toEqual(['a\nb\nc']);
  });

  it("text and Enter in one read ('hello\\r') submits the text", async () => {
    const p = prompt();
    await tick();
    await p.type('hello\r');
    expect(p.calls.submit).toEqual(['hello']);
    await p.type('x\r\n');
    expect(p.calls.submit).toEqual(['hello', 'x']);
  });

  it('Left, Backspace, Ctrl-U and Ctrl-W edit at the cursor', async () => {
    const p = prompt();
    await tick();
    await p.type('ac');
    await p.type('\x1b[D'); // Left
    await p.type('b');
    await p.type('\r');
    expect(p.calls.submit).toEqual(['abc']);
    await p.type('abcd');
    await p.type('\x7f'); // Backspace
    await p.type('\r');
    expect(p.calls.submit.at(-1)).toBe('abc');
    await p.type('one two three');
    await p.type('\x17'); // Ctrl-W
    await p.type('\r');
    expect(p.calls.submit.at(-1)).toBe('one two ');
    await p.type('gone');
    await p.type('\x15'); // Ctrl-U
    await p.type('kept\r');
    expect(p.calls.submit.at(-1)).toBe('kept');
  });

  it('Up and Down walk the history', async () => {
    const history = new InputHistory(null);
    for (const e of ['first', 'second']) history.add(e);
    const p = prompt({ history });
    await tick();
    await p.type('\x1b[A'); // Up
    expect(p.frame()).toContain('> second');
    await p.type('\x1b[A');
    expect(p.frame()).toContain('> first');
    await p.type('\x1b[A'); // at the oldest: stays
    expect(p.frame()).toContain('> first');
    await p.type('\x1b[B'); // Down
    expect(p.frame()).toContain('> second');
    await p.type('\x1b[B'); // past the newest: empty
    expect(p.frame()).not.toMatch(/first|second/);
    await p.type('\x1b[A');
    await p.type('!\r');
    expect(p.calls.submit).toEqual(['second!']);
  });

  it('Tab completes a command; an ambiguous prefix lists the candidates', async () => {
    const p = prompt();
    await tick();
    await p.type('/he');
    await p.type('\t');
    expect(p.frame()).toContain('> /help');
    await p.type('\r');
    expect(p.calls.submit).toEqual(['/help ']);
    await p.type('/s');
    await p.type('\t');
    expect(p.calls.candidates).toHaveLength(1);
    expect([...p.calls.candidates[0]].sort()).toEqual(['save', 'set', 'show', 'stats', 'system']);
  });

  it('text and Tab arriving in one read (a fast typist, tmux send-keys) still complete', async () => {
    const p = prompt();
    await tick();
    await p.type('/cle\t');
    expect(p.frame()).toContain('> /clear');
    await p.type('\r');
    expect(p.calls.submit).toEqual(['/clear ']);
  });

  it('Ctrl-C: on an empty line onInterrupt(true), with text onInterrupt(false) and the line cleared', async () => {
    const p = prompt();
    await tick();
    await p.type('\x03');
    expect(p.calls.interrupt).toEqual([true]);
    await p.type('draft');
    await p.type('\x03');
    expect(p.calls.interrupt).toEqual([true, false]);
    expect(p.frame()).not.toContain('draft');
    expect(p.calls.submit).toEqual([]);
  });

  it('Ctrl-D quits on an empty line only', async () => {
    const p = prompt();
    await tick();
    await p.type('text');
    await p.type('\x04');
    expect(p.calls.eof).toBe(0);
    await p.type('\x15'); // Ctrl-U empties the line
    await p.type('\x04');
    expect(p.calls.eof).toBe(1);
  });

  it('shows the lines taken of a multi-line message, and ignores keys when inactive', async () => {
    const calls: string[] = [];
    const r = mount(<Prompt active={false} pending={['"""', 'first line']} onSubmit={(v) => calls.push(v)} onInterrupt={() => {}} onEof={() => {}} />);
    await tick();
    const f = r.frame();
    expect(f).toMatch(/^\. """$/m);
    expect(f).toMatch(/^\. first line$/m);
    r.stdin.write('x\r');
    await tick();
    expect(calls).toEqual([]);
  });
});

describe('App', () => {
  const opts = SMOL_CHAT;

  it('opens the session, answers a question, and /exit calls onExit(0)', async () => {
    const onExit = vi.fn();
    const history = new InputHistory(null);
    const r = mount(<App open={() => openSession(opts)} history={history} onExit={onExit} throttleMs={10} />);
    const frame = () => r.lastFrame();
    const banner = await waitFor(frame, (f) => f.includes('llama4 chat · SmolLM2-135M-Instruct.Q4_1.gguf') && f.includes('ctx 0/1024'), 20_000);
    expect(banner).toContain('template: chatml');
    expect(banner).toContain('depth gates: off');
    await tick(100); // the prompt's input handler is in place

    r.stdin.write('What is the capital of France?');
    await tick();
    r.stdin.write('\r');
    const answered = await waitFor(frame, (f) => f.includes('TTFT'), 20_000);
    expect(answered).toMatch(/^> What is the capital of France\?$/m);
    expect(answered).toContain('Paris');
    expect(answered).toMatch(/ctx \d+\/1024 · TTFT \d+ ms · prompt \d+ t\/s · gen [\d.]+ t\/s/);
    expect(history.entries).toEqual(['What is the capital of France?']);
    await tick(); // the prompt takes keys again

    // a """ block shows its lines while it is being typed
    r.stdin.write('"""');
    await tick();
    r.stdin.write('\r');
    await waitFor(frame, (f) => /^\. """$/m.test(f));
    r.stdin.write('\x03'); // Ctrl-C drops it
    await waitFor(frame, (f) => !/^\. """$/m.test(f));
    expect(onExit).not.toHaveBeenCalled();

    // a command's output and error
    r.stdin.write('/cler\r');
    await waitFor(frame, (f) => f.includes('did you mean /clear?'));

    r.stdin.write('/exit\r');
    await waitFor(frame, () => onExit.mock.calls.length > 0);
    expect(onExit).toHaveBeenCalledTimes(1);
    expect(onExit).toHaveBeenCalledWith(0);
  });

  it('a failed open shows the error and exits with 1', async () => {
    const onExit = vi.fn();
    const r = mount(<App open={() => openSession({ ...opts, modelPath: '/nonexistent/model.gguf' })} history={new InputHistory(null)} onExit={onExit} />);
    const f = await waitFor(() => r.lastFrame(), (x) => x.includes('llama4: '));
    expect(f).toMatch(/llama4: .*nonexistent/);
    await waitFor(() => r.lastFrame(), () => onExit.mock.calls.length > 0);
    expect(onExit).toHaveBeenCalledWith(1);
  });
});
