// The slash commands without a terminal: each command's action on a real session (SmolLM2-135M, greedy,
// 16-token replies), parsing of '/name args', hints for unknown names and Tab completion.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COMMANDS, completeCommand, isCommand, runCommand, type CommandResult } from '../../src/chat/commands/index.js';
import { PARAMS } from '../../src/chat/commands/set.js';
import { openSession, type ChatSession, type SessionSettings } from '../../src/chat/session.js';
import { SMOL_CHAT } from '../helpers/chat.js';

const opts = SMOL_CHAT;

let session: ChatSession;
let initial: SessionSettings;
let dir: string;

const run = (line: string): Promise<CommandResult> => runCommand(line, { session });
async function turn(text: string | null): Promise<string> {
  let out = '';
  for await (const ev of session.turn(text)) if (ev.type === 'text') out += ev.text;
  return out;
}

beforeAll(async () => {
  session = await openSession(opts);
  initial = structuredClone(session.settings);
  dir = mkdtempSync(join(tmpdir(), 'llama4-commands-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// every test starts from an empty conversation, no system prompt and the settings the session opened with
beforeEach(() => {
  session.conversation.setSystem(undefined);
  session.conversation.clear();
  Object.assign(session.settings.sampling, structuredClone(initial.sampling));
  session.settings.nPredict = initial.nPredict;
  session.settings.depthThreshold = initial.depthThreshold;
  session.applySettings();
});

describe('parsing, hints and completion', () => {
  it('isCommand takes /name lines only', () => {
    expect(isCommand('/help')).toBe(true);
    expect(isCommand('  /clear  ')).toBe(true);
    expect(isCommand('/?')).toBe(true);
    expect(isCommand('hello /help')).toBe(false);
    expect(isCommand('/')).toBe(false);
    expect(isCommand('/ x')).toBe(false);
  });

  it('an unknown command is an error with the closest name as a hint', async () => {
    const r = await run('/cler');
    expect(r.error).toMatch(/unknown command \/cler/);
    expect(r.error).toContain('did you mean /clear?');
    expect(r.output).toBeUndefined();
    const far = await run('/xyzzyplugh');
    expect(far.error).toMatch(/unknown command \/xyzzyplugh/);
    expect(far.error).not.toContain('did you mean');
    expect(far.error).toContain('/help');
  });

  it('command names are case-insensitive and aliases work', async () => {
    expect((await run('/HELP')).output).toMatch(/^Commands:/);
    expect((await run('/?')).output).toMatch(/^Commands:/);
  });

  it('completeCommand completes a unique prefix and lists the candidates of an ambiguous one', () => {
    expect(completeCommand('/he')).toEqual({ line: '/help ', candidates: ['help'] });
    expect(completeCommand('/sh').line).toBe('/show ');
    expect(completeCommand('/st').line).toBe('/stats ');
    const s = completeCommand('/s');
    expect(s.line).toBe('/s');
    expect([...s.candidates].sort()).toEqual(['save', 'set', 'show', 'stats', 'system']);
    // common prefix longer than what was typed: extended, not completed
    const r = completeCommand('/r');
    expect(r.line).toBe('/re');
    expect([...r.candidates].sort()).toEqual(['regen', 'retry']);
    expect(completeCommand('/nothing')).toEqual({ line: '/nothing', candidates: [] });
    expect(completeCommand('hello')).toEqual({ line: 'hello', candidates: [] });
    expect(completeCommand('/help me')).toEqual({ line: '/help me', candidates: [] });
  });
});

describe('/help', () => {
  it('lists every command with its usage and description, and the input keys', async () => {
    const r = await run('/help');
    expect(r.error).toBeUndefined();
    const out = r.output ?? '';
    for (const c of COMMANDS) {
      const line = out.split('\n').find((l) => l.trimStart().startsWith(c.usage + ' '));
      expect(line, c.name).toBeDefined();
      expect(line).toContain(c.description);
    }
    expect(out.split('\n').filter((l) => l.startsWith('  /'))).toHaveLength(COMMANDS.length);
    expect(out).toContain('Ctrl-D');
    expect(out).toContain('"""');
  });
});

describe('/exit', () => {
  it('/exit, /bye and /quit leave the chat', async () => {
    for (const c of ['/exit', '/bye', '/quit']) expect(await run(c), c).toEqual({ exit: true });
    expect((await run('/help')).exit).toBeUndefined();
  });
});

describe('/system', () => {
  it('shows, sets and removes the system prompt', async () => {
    expect((await run('/system')).output).toBe('No system prompt.');
    const set = await run('/system   You are terse.  ');
    expect(set.error).toBeUndefined();
    expect(session.conversation.system).toBe('You are terse.');
    expect((await run('/system')).output).toBe('System prompt: You are terse.');
    expect((await run('/system -')).output).toBe('System prompt removed.');
    expect(session.conversation.system).toBeUndefined();
    expect((await run('/system')).output).toBe('No system prompt.');
  });

  it('the new system prompt reaches the model on the next turn', async () => {
    await turn('Hi');
    const before = session.conversation.last!.promptTokens;
    await run('/system You are a pirate who always answers in rhymes.');
    await turn('Hi');
    // the prompt grew by the system message, and nothing before it could be reused
    expect(session.conversation.last!.promptTokens).toBeGreaterThan(before + 10);
    expect(session.conversation.last!.reusedTokens).toBe(0);
  });
});

describe('/clear', () => {
  it('empties the messages and keeps the system prompt cached', async () => {
    await run('/system You are a helpful assistant.');
    await turn('Hi');
    expect(session.conversation.messages).toHaveLength(2);
    const full = session.conversation.cachedTokens.length;
    const r = await run('/clear');
    expect(r.error).toBeUndefined();
    expect(r.transcriptChanged).toBe(true);
    expect(session.conversation.messages).toHaveLength(0);
    expect(session.conversation.system).toBe('You are a helpful assistant.');
    const kept = session.conversation.cachedTokens.length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(full);
    expect(r.output).toContain(`${kept} cached tokens of the system prompt kept`);
    // the next turn starts from the kept tokens
    await turn('Hi');
    expect(session.conversation.last!.reusedTokens).toBe(kept);
  });

  it('without a system prompt nothing stays cached', async () => {
    await turn('Hi');
    const r = await run('/clear');
    expect(session.conversation.messages).toHaveLength(0);
    expect(session.conversation.cachedTokens.length).toBe(0);
    expect(r.output).toBe('Conversation cleared.');
  });
});

describe('/regen', () => {
  it('is an error with no messages', async () => {
    const r = await run('/regen');
    expect(r.regenerate).toBeUndefined();
    expect(r.error).toMatch(/nothing to regenerate/);
  });

  it('asks for a new reply once a turn ran, and the reply replaces the last one', async () => {
    await turn('What is the capital of France?');
    const first = session.conversation.messages[1].content;
    const r = await run('/regen');
    expect(r).toEqual({ regenerate: true });
    expect((await run('/retry')).regenerate).toBe(true);
    const again = await turn(null);
    expect(session.conversation.messages).toHaveLength(2);
    expect(session.conversation.messages[0].content).toBe('What is the capital of France?');
    // greedy: the same reply, from the cached prompt (nothing evaluated again)
    expect(again).toBe(first);
    expect(session.conversation.last!.evaluatedTokens).toBe(0);
  });

  it('refuses, and changes nothing, when the last reply answers no user message', async () => {
    const file = join(dir, 'assistant-only.json');
    writeFileSync(file, JSON.stringify({ messages: [{ role: 'assistant', content: 'Hello there.' }] }));
    expect((await run(`/load ${file}`)).error).toBeUndefined();
    const r = await run('/regen');
    expect(r.regenerate).toBeUndefined();
    expect(r.error).toMatch(/nothing to regenerate/);
    expect(session.conversation.messages).toEqual([{ role: 'assistant', content: 'Hello there.' }]);
  });
});

describe('/set', () => {
  // one valid and one invalid value per parameter, and where the valid one lands
  const cases: Record<string, { ok: string; want: number | boolean; bad: string; get: (s: SessionSettings) => unknown }> = {
    temp: { ok: '0.7', want: 0.7, bad: 'hot', get: (s) => s.sampling.temp },
    'top-k': { ok: '10', want: 10, bad: '1.5', get: (s) => s.sampling.topK },
    'top-p': { ok: '0.5', want: 0.5, bad: '1.5', get: (s) => s.sampling.topP },
    'min-p': { ok: '0.1', want: 0.1, bad: '-0.1', get: (s) => s.sampling.minP },
    'repeat-penalty': { ok: '1.1', want: 1.1, bad: '-1', get: (s) => s.sampling.repeatPenalty },
    'repeat-last-n': { ok: '32', want: 32, bad: '-2', get: (s) => s.sampling.repeatLastN },
    'presence-penalty': { ok: '0.5', want: 0.5, bad: 'x', get: (s) => s.sampling.presencePenalty },
    'frequency-penalty': { ok: '0.25', want: 0.25, bad: 'NaN', get: (s) => s.sampling.frequencyPenalty },
    seed: { ok: '42', want: 42, bad: '-1', get: (s) => s.sampling.seed },
    'ignore-eos': { ok: 'on', want: true, bad: 'maybe', get: (s) => s.sampling.ignoreEos },
    'n-predict': { ok: '32', want: 32, bad: '-2', get: (s) => s.nPredict },
    'depth-threshold': { ok: '0.5', want: 0.5, bad: '2', get: (s) => s.depthThreshold },
  };

  it('the cases cover every parameter', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(PARAMS).sort());
  });

  for (const [name, c] of Object.entries(cases)) {
    if (name === 'depth-threshold') continue;
    it(`${name}: a valid value changes the settings, an invalid one is an error`, async () => {
      const before = c.get(session.settings);
      expect(before).not.toBe(c.want);
      const bad = await run(`/set ${name} ${c.bad}`);
      expect(bad.error).toMatch(new RegExp(`^/set ${name}: `));
      expect(c.get(session.settings)).toBe(before);
      const ok = await run(`/set ${name} ${c.ok}`);
      expect(ok.error).toBeUndefined();
      expect(ok.output).toBe(`${name} = ${String(c.want)}`);
      expect(c.get(session.settings)).toBe(c.want);
      expect(PARAMS[name].get(session.settings)).toBe(c.want);
    });
  }

  it('the settings reach the conversation', async () => {
    await run('/set temp 0.3');
    await run('/set n-predict 4');
    expect(session.conversation.sampling.temp).toBe(0.3);
    expect(session.conversation.nPredict).toBe(4);
    await turn('Tell me a long story about a dragon.');
    expect(session.conversation.last!.generatedTokens).toBeLessThanOrEqual(4);
  });

  it('underscores stand for dashes; booleans take off/false/0', async () => {
    expect((await run('/set top_k 7')).output).toBe('top-k = 7');
    expect(session.settings.sampling.topK).toBe(7);
    await run('/set ignore-eos on');
    expect((await run('/set ignore-eos off')).output).toBe('ignore-eos = false');
    expect(session.settings.sampling.ignoreEos).toBe(false);
  });

  it('depth-threshold needs depth gates (under either spelling)', async () => {
    expect(session.depthOn).toBe(false);
    for (const n of ['depth-threshold', 'depth_threshold']) {
      const r = await run(`/set ${n} 0.5`);
      expect(r.error, n).toMatch(/needs depth gates/);
      expect(session.settings.depthThreshold).toBeUndefined();
    }
  });

  it('unknown parameters, missing or extra values are errors', async () => {
    expect((await run('/set bogus 1')).error).toMatch(/unknown parameter 'bogus'/);
    expect((await run('/set constructor 1')).error).toMatch(/unknown parameter 'constructor'/);
    expect((await run('/set')).error).toMatch(/^usage: \/set PARAM VALUE/);
    expect((await run('/set temp')).error).toMatch(/^usage: \/set temp VALUE/);
    expect((await run('/set temp 1 2')).error).toMatch(/^usage: \/set temp VALUE/);
    expect(session.settings.sampling.temp).toBe(0);
  });
});

describe('/show', () => {
  it('shows the parameters, the template and the model', async () => {
    await run('/set top-k 12');
    const r = await run('/show');
    expect(r.error).toBeUndefined();
    const out = r.output ?? '';
    expect(out).toMatch(/^Parameters:/);
    expect(out).toMatch(/^ {2}top-k +12$/m);
    expect(out).toMatch(/^ {2}temp +0$/m);
    expect(out).toMatch(/^ {2}n-predict +16$/m);
    for (const name of Object.keys(PARAMS)) if (name !== 'depth-threshold') expect(out).toContain(`  ${name} `);
    expect(out).not.toContain('depth-threshold'); // no depth gates
    expect(out).toContain(`Template: ${session.templateChoice.template.name}`);
    expect(out).toContain('ends a turn: <|im_end|>');
    expect(out).toContain(`Model: ${opts.modelPath}`);
    expect(out).toContain('30 layers');
    expect(out).toContain('context 1024 of 8192 trained, 2 threads');
    // the template's source only with /show template
    expect(out).not.toContain(session.templateChoice.template.source);
  });

  it('/show template shows its source, /show params and /show model only theirs', async () => {
    const t = (await run('/show template')).output ?? '';
    expect(t).toContain(session.templateChoice.template.source);
    expect(t).toContain('<|im_start|>');
    expect(t).not.toContain('Parameters:');
    expect(t).not.toContain('Model:');
    const p = (await run('/show params')).output ?? '';
    expect(p).toMatch(/^Parameters:/);
    expect(p).not.toContain('Template:');
    const m = (await run('/show model')).output ?? '';
    expect(m).toMatch(/^Model: /);
    expect(m).not.toContain('Parameters:');
  });

  it('/show bogus is an error', async () => {
    const r = await run('/show bogus');
    expect(r.error).toMatch(/^usage: \/show/);
    expect(r.output).toBeUndefined();
  });
});

describe('/save and /load', () => {
  it('round-trips the messages and the system prompt', async () => {
    await run('/system Answer in one sentence.');
    await turn('Hi');
    await turn('What is the capital of France?');
    const saved = session.conversation.messages.map((m) => ({ ...m }));
    expect(saved).toHaveLength(4);
    const file = join(dir, 'chat.json');
    const s = await run(`/save ${file}`);
    expect(s.error).toBeUndefined();
    expect(s.output).toBe(`Saved 4 messages to ${file}.`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, system: 'Answer in one sentence.', messages: saved });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    await run('/system -');
    await run('/clear');
    expect(session.conversation.messages).toHaveLength(0);
    const l = await run(`/load ${file}`);
    expect(l.error).toBeUndefined();
    expect(l.transcriptChanged).toBe(true);
    expect(l.output).toBe(`Loaded 4 messages from ${file}.`);
    expect(session.conversation.messages).toEqual(saved);
    expect(session.conversation.system).toBe('Answer in one sentence.');
    // the loaded conversation goes on
    await turn('Thanks!');
    expect(session.conversation.messages).toHaveLength(6);
  });

  it('a failed save is an error and leaves no file', async () => {
    const r = await run(`/save ${join(dir, 'no-such-dir', 'x.json')}`);
    expect(r.error).toMatch(/^cannot save to /);
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
    expect((await run('/save')).error).toBe('usage: /save FILE');
  });

  it('a missing, unparsable or invalid file is an error and the conversation stays', async () => {
    await run('/system Be brief.');
    await turn('Hi');
    const before = session.conversation.messages.map((m) => ({ ...m }));
    const badJson = join(dir, 'bad.json');
    writeFileSync(badJson, '{"messages": [');
    const badRole = join(dir, 'bad-role.json');
    writeFileSync(badRole, JSON.stringify({ system: 'Other.', messages: [{ role: 'user', content: 'a' }, { role: 'robot', content: 'b' }] }));
    const badContent = join(dir, 'bad-content.json');
    writeFileSync(badContent, JSON.stringify({ messages: [{ role: 'user', content: 42 }] }));
    const notConversation = join(dir, 'array.json');
    writeFileSync(notConversation, '[1, 2, 3]');
    const lateSystem = join(dir, 'late-system.json');
    writeFileSync(lateSystem, JSON.stringify({ messages: [{ role: 'user', content: 'a' }, { role: 'system', content: 'b' }] }));

    for (const [file, why] of [
      [join(dir, 'missing.json'), /ENOENT/],
      [badJson, /JSON/],
      [badRole, /message 2/],
      [badContent, /message 1/],
      [notConversation, /not a saved conversation/],
      [lateSystem, /system message can only come first/],
    ] as const) {
      const r = await run(`/load ${file}`);
      expect(r.error, file).toMatch(new RegExp(`^cannot load ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect(r.error, file).toMatch(why);
      expect(r.transcriptChanged).toBeUndefined();
      expect(session.conversation.messages).toEqual(before);
      expect(session.conversation.system).toBe('Be brief.');
    }
    expect((await run('/load')).error).toBe('usage: /load FILE');
  });
});

describe('/stats', () => {
  it('shows cached, evaluated and reused tokens after the turns', async () => {
    const t0 = { ...session.conversation.totals };
    await turn('Hi');
    await turn('What is the capital of France?');
    const out = (await run('/stats')).output ?? '';
    const cached = session.conversation.cachedTokens.length;
    expect(cached).toBeGreaterThan(0);
    expect(out).toContain(`Context: ${cached} of 1024 tokens cached`);
    const m = /Turns: (\d+); tokens evaluated (\d+), reused from the cache (\d+), generated (\d+)/.exec(out);
    expect(m).not.toBeNull();
    const [turns, evaluated, reused, generated] = m!.slice(1).map(Number);
    const t = session.conversation.totals;
    expect([turns, evaluated, reused, generated]).toEqual([t.turns, t.evaluated, t.reused, t.generated]);
    expect(turns - t0.turns).toBe(2);
    expect(evaluated).toBeGreaterThan(t0.evaluated);
    // the second turn reused the first one from the cache
    expect(reused - t0.reused).toBeGreaterThan(0);
    expect(generated - t0.generated).toBeGreaterThan(0);
    // one line per recent reply: reused/evaluated, TTFT, speeds
    const last = session.replies[session.replies.length - 1];
    expect(out).toContain(`#${session.replies.length}: ${last.reusedTokens}/${last.evaluatedTokens}, `);
    expect(last.reusedTokens).toBeGreaterThan(0);
    expect(out).toMatch(/#\d+: \d+\/\d+, \d+ ms, [\d.]+ t\/s, \d+ tokens, [\d.]+ t\/s/);
  });
});
