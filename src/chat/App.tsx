// The terminal chat: a small state machine (loading | idle | prompt | generating) over a ChatSession.
// Finished turns go to <Static> once; only the streaming reply (throttled), the spinner, the status line
// and the input re-render.
import { Box, Text, useApp, useInput } from 'ink';
import { useCallback, useEffect, useRef, useState } from 'react';
import { ConversationError } from '../engine/conversation.js';
import { dropsLine } from '../engine/depth/policy.js';
import { completeCommand, isCommand, runCommand } from './commands/index.js';
import { bannerInfo } from './components/Banner.js';
import { ProgressBar } from './components/ProgressBar.js';
import { Prompt } from './components/Prompt.js';
import { Reply } from './components/Reply.js';
import { Spinner } from './components/Spinner.js';
import { StatusLine, type StatusInfo } from './components/StatusLine.js';
import { Transcript, type TranscriptItem } from './components/Transcript.js';
import type { InputHistory } from './history.js';
import { MultilineInput } from './input.js';
import type { ChatSession } from './session.js';

export type Phase = 'loading' | 'idle' | 'prompt' | 'generating';

export interface AppProps {
  open: () => Promise<ChatSession>;
  /** [bytes loaded, bytes in all] of the model being loaded, for the progress bar */
  loadProgress?: Float64Array;
  history: InputHistory;
  /** called once with the exit code before the app unmounts */
  onExit(code: number): void;
  /** ms between re-renders of the streaming reply */
  throttleMs?: number;
}

type NewItem = TranscriptItem extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;

export function depthDescription(s: ChatSession): string {
  if (!s.depth.policy) return 'off';
  if (s.depth.policy.gates) {
    const t = s.settings.depthThreshold ?? s.depth.policy.gates.info().threshold;
    return `on (threshold ${t.toFixed(3)})`;
  }
  return dropsLine(s.depth).replace(/^llama4: /, '').trim();
}

export function App({ open, loadProgress, history, onExit, throttleMs = 50 }: AppProps) {
  const { exit } = useApp();
  const [phase, setPhase] = useState<Phase>('loading');
  const [items, setItems] = useState<TranscriptItem[]>([]);
  const [pending, setPending] = useState<readonly string[]>([]);
  const [reply, setReply] = useState('');
  const [promptLabel, setPromptLabel] = useState('');
  const [status, setStatus] = useState<StatusInfo>({ used: 0, total: 0 });
  const [loaded, setLoaded] = useState<[number, number]>([0, 0]);
  const session = useRef<ChatSession | null>(null);
  const ml = useRef(new MultilineInput());
  const replyRef = useRef('');
  const abort = useRef<AbortController | null>(null);
  const nextId = useRef(0);

  const push = useCallback((...add: NewItem[]) => {
    setItems((prev) => [...prev, ...add.map((x) => ({ ...x, id: nextId.current++ }) as TranscriptItem)]);
  }, []);

  const quit = useCallback(
    (code: number) => {
      abort.current?.abort(new Error('quit'));
      onExit(code);
      exit();
    },
    [exit, onExit],
  );

  useEffect(() => {
    let live = true;
    open().then(
      (s) => {
        if (!live) return;
        session.current = s;
        push({ kind: 'banner', info: bannerInfo({ ...s, depthDescription: depthDescription(s) }) });
        const { used, total } = s.contextUse();
        setStatus({ used, total });
        setPhase('idle');
      },
      (e: Error) => {
        if (!live) return;
        push({ kind: 'error', text: `llama4: ${e.message}` });
        setTimeout(() => quit(1), 0);
      },
    );
    return () => {
      live = false;
    };
  }, [open, push, quit]);

  // the load's progress, polled while it runs
  useEffect(() => {
    if (phase !== 'loading' || !loadProgress) return;
    const id = setInterval(() => setLoaded([loadProgress[0], loadProgress[1]]), 100);
    return () => clearInterval(id);
  }, [phase, loadProgress]);

  // the streaming reply re-renders at most every throttleMs
  useEffect(() => {
    if (phase !== 'generating' && phase !== 'prompt') return;
    const id = setInterval(() => setReply(replyRef.current), throttleMs);
    return () => clearInterval(id);
  }, [phase, throttleMs]);

  const turn = useCallback(
    async (user: string | null) => {
      const s = session.current as ChatSession;
      if (user !== null) push({ kind: 'user', text: user });
      replyRef.current = '';
      setReply('');
      setPromptLabel('processing the prompt');
      setPhase('prompt');
      const ac = new AbortController();
      abort.current = ac;
      try {
        const it = s.turn(user, ac.signal);
        let r = await it.next();
        while (!r.done) {
          const ev = r.value;
          if (ev.type === 'notice') push({ kind: 'notice', text: ev.text });
          else if (ev.type === 'prompt')
            setPromptLabel(`processing ${ev.evaluate} prompt tokens${ev.reused ? ` (${ev.reused} cached)` : ''}`);
          else {
            replyRef.current += ev.text;
            setPhase('generating');
          }
          r = await it.next();
        }
        const f = r.value;
        push({ kind: 'assistant', text: replyRef.current });
        if (f.stop === 'aborted') push({ kind: 'notice', text: '[reply stopped]' });
        if (f.stop === 'context') push({ kind: 'notice', text: '[context full: the next turn drops the oldest turns]' });
        const { used, total } = s.contextUse();
        setStatus({
          used,
          total,
          ttftMs: f.ttftMs,
          promptTps: f.evaluatedTokens > 0 ? f.promptTps : undefined,
          genTps: f.generatedTokens > 0 ? f.genTps : undefined,
          blocksPerToken: f.blocksPerToken,
          nLayer: s.model.info.nLayer,
          expertsPerToken: f.expertsPerToken,
        });
      } catch (e) {
        if (replyRef.current) push({ kind: 'assistant', text: replyRef.current });
        push({ kind: 'error', text: e instanceof ConversationError ? e.message : `error: ${(e as Error).message}` });
      } finally {
        abort.current = null;
        replyRef.current = '';
        setReply('');
        setPhase('idle');
      }
    },
    [push],
  );

  const submitNow = useCallback(
    async (s: ChatSession, value: string) => {
      let message: string | null;
      if (value.includes('\n') && !ml.current.pending) message = value;
      else {
        message = null;
        for (const line of value.split('\n')) message = ml.current.push(line) ?? message;
      }
      setPending([...ml.current.partial]);
      if (message === null || message.trim() === '') return;
      history.add(message);
      if (isCommand(message)) {
        push({ kind: 'user', text: message });
        const r = await runCommand(message, { session: s });
        if (r.output) push({ kind: 'output', text: r.output });
        if (r.error) push({ kind: 'error', text: r.error });
        if (r.transcriptChanged)
          for (const m of s.conversation.messages) push({ kind: m.role === 'user' ? 'user' : 'assistant', text: m.content });
        if (r.transcriptChanged) {
          const { used, total } = s.contextUse();
          setStatus({ used, total });
        }
        if (r.exit) return quit(0);
        if (r.regenerate) await turn(null);
        return;
      }
      await turn(message);
    },
    [history, push, quit, turn],
  );

  const busy = useRef(false);
  const submit = useCallback(
    async (value: string) => {
      const s = session.current;
      // a second Enter in the same tick as the first must not start a second turn
      if (!s || busy.current) return;
      busy.current = true;
      try {
        await submitNow(s, value);
      } finally {
        busy.current = false;
      }
    },
    [submitNow],
  );

  // Ctrl-C while busy stops the reply
  useInput(
    (input, key) => {
      if (key.ctrl && input === 'c') abort.current?.abort(new Error('interrupted'));
    },
    { isActive: phase === 'prompt' || phase === 'generating' },
  );

  return (
    <Box flexDirection="column">
      <Transcript items={items} />
      {phase === 'loading' &&
        (loaded[1] > 0 ? (
          <ProgressBar label={`loading the model (${(loaded[1] / 2 ** 20).toFixed(0)} MiB)`} fraction={loaded[0] / loaded[1]} />
        ) : (
          <Spinner label="loading the model" />
        ))}
      {phase === 'prompt' && <Spinner label={promptLabel} />}
      {phase === 'generating' && <Reply text={reply} />}
      {phase !== 'loading' && (
        <Box flexDirection="column" marginTop={phase === 'idle' ? 1 : 0}>
          <StatusLine {...status} />
          <Prompt
            active={phase === 'idle'}
            pending={pending}
            history={history}
            complete={completeCommand}
            onCandidates={(c) => push({ kind: 'output', text: c.map((n) => `/${n}`).join('  ') })}
            onSubmit={(v) => void submit(v)}
            onInterrupt={(empty) => {
              if (ml.current.pending) {
                ml.current.reset();
                setPending([]);
              } else if (empty) quit(0);
            }}
            onEof={() => quit(0)}
          />
        </Box>
      )}
      {phase === 'loading' && <Text> </Text>}
    </Box>
  );
}
