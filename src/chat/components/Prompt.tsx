// The input line: a small line editor (cursor, Left/Right, Home/End, Backspace, Ctrl-U, Ctrl-W), Up/Down
// through the input history, Tab completion of slash commands. A paste that holds line breaks is inserted
// as it is and sent whole with Enter, never line by line. Lines already taken of a multi-line message
// (\ continuation or a """ block) are shown above the input.
import { Box, Text, useInput } from 'ink';
import { useRef, useState } from 'react';

export interface PromptProps {
  active: boolean;
  /** lines already taken of a message being continued */
  pending: readonly string[];
  onSubmit(value: string): void;
  /** Ctrl-C with the editor empty (quit), or with text (the text is cleared) */
  onInterrupt(empty: boolean): void;
  /** Ctrl-D on an empty line */
  onEof(): void;
  history?: { prev(): string | undefined; next(): string | undefined; resetCursor(): void };
  complete?: (line: string) => { line: string; candidates: string[] };
  /** shown after a Tab with several candidates */
  onCandidates?: (c: string[]) => void;
}

export function Prompt(p: PromptProps) {
  // The editor's state lives in a ref that every key updates at once: keys that arrive before React
  // re-renders (one read split into several keys, or reads in the same tick) must see each other's edits,
  // which a handler closing over the rendered state would not (typed text then Enter would send '').
  const ed = useRef({ value: '', cursor: 0 });
  const [, setShown] = useState(ed.current);
  const set = (v: string, c = v.length) => {
    ed.current = { value: v, cursor: c };
    setShown(ed.current);
  };
  const setCursor = (c: number) => set(ed.current.value, c);
  const { value, cursor } = ed.current;

  useInput(
    (input, key) => {
      const { value, cursor } = ed.current;
      if (key.ctrl && input === 'c') {
        p.onInterrupt(value === '');
        set('');
        return;
      }
      if (key.ctrl && input === 'd') {
        if (value === '') p.onEof();
        return;
      }
      const submit = (v: string) => {
        p.onSubmit(v);
        p.history?.resetCursor();
        set('');
      };
      if (key.return) return submit(value);
      if (key.upArrow || key.downArrow) {
        const h = key.upArrow ? p.history?.prev() : p.history?.next();
        if (h !== undefined) set(h);
        return;
      }
      if (key.leftArrow) return setCursor(Math.max(0, cursor - 1));
      if (key.rightArrow) return setCursor(Math.min(value.length, cursor + 1));
      if (key.home || (key.ctrl && input === 'a')) return setCursor(0);
      if (key.end || (key.ctrl && input === 'e')) return setCursor(value.length);
      if (key.ctrl && input === 'u') return set(value.slice(cursor), 0);
      if (key.ctrl && input === 'w') {
        const before = value.slice(0, cursor).replace(/\S+\s*$/, '');
        return set(before + value.slice(cursor), before.length);
      }
      if (key.backspace || key.delete) {
        if (cursor === 0) return;
        return set(value.slice(0, cursor - 1) + value.slice(cursor), cursor - 1);
      }
      const complete = (line: string) => {
        if (!p.complete) return;
        const r = p.complete(line);
        if (r.line !== line) set(r.line);
        else if (r.candidates.length > 1) p.onCandidates?.(r.candidates);
      };
      if (key.tab) return complete(value);
      if (key.ctrl || key.meta || key.escape || !input) return;
      let text = input.replace(/\r\n?/g, '\n');
      // typed text and a final Enter or Tab arriving in one read (a fast typist, tmux): the text, then the
      // key; a read with line breaks inside is a paste, inserted whole
      const last = text[text.length - 1];
      const trailing = text.indexOf(last) === text.length - 1 && (last === '\n' || (last === '\t' && text.length > 1)) ? last : '';
      if (trailing) text = text.slice(0, -1);
      const v = value.slice(0, cursor) + text + value.slice(cursor);
      if (trailing === '\n') return submit(v);
      set(v, cursor + text.length);
      if (trailing === '\t' && cursor === value.length) complete(v);
    },
    { isActive: p.active },
  );

  const lines = value.split('\n');
  return (
    <Box flexDirection="column">
      {p.pending.map((l, i) => (
        <Text key={i} dimColor>
          {'. '}
          {l}
        </Text>
      ))}
      <Box>
        <Text color="green" bold>
          {p.pending.length ? '. ' : '> '}
        </Text>
        {p.active ? (
          <Text>
            {value.slice(0, cursor)}
            <Text inverse>{value[cursor] && value[cursor] !== '\n' ? value[cursor] : ' '}</Text>
            {value[cursor] === '\n' ? '\n' : ''}
            {value.slice(cursor + 1)}
          </Text>
        ) : (
          <Text dimColor>{lines.length > 1 ? `${lines[0]} …` : value}</Text>
        )}
      </Box>
    </Box>
  );
}
