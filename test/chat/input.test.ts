// Multi-line input (\ continuation, """ blocks) and the input history kept across runs.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputHistory } from '../../src/chat/history.js';
import { MultilineInput } from '../../src/chat/input.js';

/** Feeds lines; returns what each push returned. */
function feed(ml: MultilineInput, lines: string[]): (string | null)[] {
  return lines.map((l) => ml.push(l));
}

describe('MultilineInput', () => {
  it('a plain line is a message at once', () => {
    const ml = new MultilineInput();
    expect(ml.push('hello world')).toBe('hello world');
    expect(ml.pending).toBe(false);
    expect(ml.push('')).toBe('');
    expect(ml.push('  spaced  ')).toBe('  spaced  ');
  });

  it('a trailing backslash continues the message on the next line', () => {
    const ml = new MultilineInput();
    expect(ml.push('first \\')).toBeNull();
    expect(ml.pending).toBe(true);
    expect(ml.partial).toEqual(['first \\']);
    expect(ml.push('second\\')).toBeNull();
    expect(ml.push('third')).toBe('first \nsecond\nthird');
    expect(ml.pending).toBe(false);
    expect(ml.partial).toEqual([]);
    // a backslash inside a line is text
    expect(ml.push('a \\ b')).toBe('a \\ b');
    // a lone backslash continues with an empty line
    expect(feed(ml, ['\\', 'x'])).toEqual([null, '\nx']);
  });

  it('""" opens a block that a line ending in """ closes', () => {
    const ml = new MultilineInput();
    expect(feed(ml, ['"""', 'line one', '', '  indented \\', '"""'])).toEqual([null, null, null, null, 'line one\n\n  indented \\']);
    expect(ml.pending).toBe(false);
  });

  it('a bare opening """ leaves the block pending and shows in partial', () => {
    const ml = new MultilineInput();
    expect(ml.push('"""')).toBeNull();
    expect(ml.pending).toBe(true);
    expect(ml.partial).toEqual(['"""']);
    expect(ml.push('abc')).toBeNull();
    expect(ml.partial).toEqual(['"""', 'abc']);
    expect(ml.push('"""')).toBe('abc');
  });

  it('text on the opening and on the closing line belongs to the message', () => {
    const ml = new MultilineInput();
    expect(feed(ml, ['"""Dear model,', 'please', 'answer."""'])).toEqual([null, null, 'Dear model,\nplease\nanswer.']);
    // spaces before the opening and after the closing quotes are dropped
    expect(feed(ml, ['   """start', 'end"""   '])).toEqual([null, 'start\nend']);
  });

  it('a one-line """x""" is the message x', () => {
    const ml = new MultilineInput();
    expect(ml.push('"""x"""')).toBe('x');
    expect(ml.pending).toBe(false);
    expect(ml.push('"""  two words  """')).toBe('  two words  ');
    expect(ml.push('""""""')).toBe('');
  });

  it('""" after a continued line is text, not a block', () => {
    const ml = new MultilineInput();
    expect(feed(ml, ['a\\', '"""b'])).toEqual([null, 'a\n"""b']);
  });

  it('reset forgets a message being continued', () => {
    const ml = new MultilineInput();
    ml.push('"""');
    ml.push('half');
    ml.reset();
    expect(ml.pending).toBe(false);
    expect(ml.partial).toEqual([]);
    expect(ml.push('fresh')).toBe('fresh');
  });
});

describe('InputHistory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama4-history-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('Up walks to older entries, Down back to newer and then to an empty line', () => {
    const h = new InputHistory(null);
    for (const e of ['one', 'two', 'three']) h.add(e);
    expect(h.prev()).toBe('three');
    expect(h.prev()).toBe('two');
    expect(h.prev()).toBe('one');
    expect(h.prev()).toBeUndefined(); // at the oldest
    expect(h.next()).toBe('two');
    expect(h.next()).toBe('three');
    expect(h.next()).toBe(''); // past the newest: an empty line
    expect(h.next()).toBeUndefined();
    expect(h.prev()).toBe('three');
  });

  it('add skips blank entries and a repeat of the last one, and resets the cursor', () => {
    const h = new InputHistory(null);
    h.add('a');
    h.add('   ');
    h.add('b');
    h.add('b');
    h.add('a');
    expect(h.entries).toEqual(['a', 'b', 'a']);
    h.prev();
    h.prev();
    h.add('c');
    expect(h.prev()).toBe('c');
    h.prev();
    h.resetCursor();
    expect(h.prev()).toBe('c');
  });

  it('null path keeps the history in memory only', () => {
    const h = new InputHistory(null);
    h.add('private');
    expect(h.entries).toEqual(['private']);
    expect(new InputHistory(null).entries).toEqual([]);
  });

  it('persists to the file across instances, multi-line entries included', () => {
    const file = join(dir, 'nested', 'state', 'chat_history');
    const a = new InputHistory(file);
    expect(a.entries).toEqual([]);
    a.add('first');
    a.add('line one\nline two');
    a.add('with "quotes" and \\ backslash');
    // one JSON string per line
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(3);
    const b = new InputHistory(file);
    expect(b.entries).toEqual(['first', 'line one\nline two', 'with "quotes" and \\ backslash']);
    expect(b.prev()).toBe('with "quotes" and \\ backslash');
    expect(b.prev()).toBe('line one\nline two');
    b.add('from b');
    expect(new InputHistory(file).entries.at(-1)).toBe('from b');
  });

  it('skips damaged lines and non-string entries', () => {
    const file = join(dir, 'damaged');
    writeFileSync(file, ['"ok 1"', '{not json', '42', '', '"ok 2"', '"unterminated'].join('\n') + '\n');
    const h = new InputHistory(file);
    expect(h.entries).toEqual(['ok 1', 'ok 2']);
    h.add('ok 3');
    expect(new InputHistory(file).entries).toEqual(['ok 1', 'ok 2', 'ok 3']);
  });

  it('keeps the newest 1000 entries of a long file', () => {
    const file = join(dir, 'long');
    for (let i = 0; i < 1005; i++) appendFileSync(file, JSON.stringify(`e${i}`) + '\n');
    const h = new InputHistory(file);
    expect(h.entries).toHaveLength(1000);
    expect(h.entries[0]).toBe('e5');
    expect(h.entries.at(-1)).toBe('e1004');
    // the file was trimmed too
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(1000);
  });

  it('an unwritable path never throws', () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const h = new InputHistory(join(blocker, 'history')); // a directory that is a file
    h.add('still works');
    expect(h.prev()).toBe('still works');
  });
});
