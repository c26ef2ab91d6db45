// `llama4 chat` with stdin piped: plain mode (no ink), one turn per line or """ block, replies on stdout
// followed by a blank line, no escape codes, errors on stderr, EOF ends with exit code 0. Every shared
// model chats (a built-in template is chosen for models without one); bad flags are one clear error.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { allGgufFiles, model } from '../helpers/shared.js';

const SMOL = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');

describe('llama4 chat (piped)', () => {
  it('answers the capital of France with Paris, on stdout, then a blank line, exit 0, no escape codes', () => {
    const r = cli(['chat', '-m', SMOL, '--temp', '0', '-t', '2'], { input: 'What is the capital of France?\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Paris/);
    expect(r.stdout.endsWith('\n\n')).toBe(true);
    expect(r.stdout).not.toMatch(/\x1b/);
    expect(r.stderr).toMatch(/chat template: chatml/);
  });

  it('takes one turn per line and per """ block, runs slash commands, reuses the cache', () => {
    const input = ['What is the capital of France?', '"""', 'And what is the', 'capital of Germany?', '"""', '/stats', ''].join('\n');
    const r = cli(['chat', '-m', SMOL, '--temp', '0', '-t', '2', '-n', '40'], { input });
    expect(r.code).toBe(0);
    const parts = r.stdout.split('\n\n');
    expect(parts[0]).toMatch(/Paris/);
    expect(parts[1]).toMatch(/Berlin/);
    const reply2 = /#2: (\d+)\/(\d+)/.exec(r.stdout);
    expect(reply2).not.toBeNull();
    expect(Number(reply2![1])).toBeGreaterThan(15); // turn 2 reused turn 1 from the KV cache
  });

  it('a system prompt, a chosen built-in template and a template file work; bad ones are one clear error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llama4-chat-'));
    const tpl = join(dir, 't.jinja');
    writeFileSync(tpl, "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");
    let r = cli(['chat', '-m', SMOL, '--temp', '0', '-t', '2', '-n', '24', '-sys', 'You only answer with one word.', '--chat-template-file', tpl], { input: 'Capital of France?\n' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/chat template: .*t\.jinja/);
    expect(r.stdout).toMatch(/Paris/);
    r = cli(['chat', '-m', SMOL, '--chat-template', 'nonesuch'], { input: 'hi\n' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown chat template 'nonesuch'.*chatml.*llama3/);
    r = cli(['chat', '-m', SMOL, '--chat-template-file', join(dir, 'missing.jinja')], { input: 'hi\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/chat template file not found/);
    r = cli(['chat', '-m', join(dir, 'nope.gguf')], { input: 'hi\n' });
    expect(r.code).toBe(1);
    r = cli(['chat', '-m', SMOL, '--temp', 'x']);
    expect(r.code).toBe(2);
  });

  it('a template that raises is an error and the chat goes on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llama4-chat-'));
    const tpl = join(dir, 'raise.jinja');
    writeFileSync(tpl, "{% if messages|length > 1 %}{{ raise_exception('only one message, please') }}{% endif %}<|im_start|>user\n{{ messages[0].content }}<|im_end|>\n<|im_start|>assistant\n");
    const r = cli(['chat', '-m', SMOL, '--temp', '0', '-t', '2', '-n', '8', '--chat-template-file', tpl], { input: 'Hi\nHello again\n/stats\n' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/chat template: only one message, please/);
    expect(r.stdout).toMatch(/Turns: 1/);
  });

  it('every shared model with weights chats through a template of its own or a chosen built-in', () => {
    const files = allGgufFiles().filter((f) => !f.includes('/vocab/'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const r = cli(['chat', '-m', f, '--temp', '0', '-t', '1', '-n', '4', '-c', '256'], { input: 'Hello\n' });
      expect(r.stderr, f).toMatch(/chat template: /);
      expect(r.code, `${f}: ${r.stderr}`).toBe(0);
    }
  });
});

describe('-m everywhere', () => {
  it('quantize takes the source model as -m too, with the same result', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llama4-q-'));
    const a = cli(['quantize', '-m', model('stories260K.gguf'), join(dir, 'a.gguf'), 'Q8_0', '--json']);
    const b = cli(['quantize', model('stories260K.gguf'), join(dir, 'b.gguf'), 'Q8_0', '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(readFileSync(join(dir, 'a.gguf')).equals(readFileSync(join(dir, 'b.gguf')))).toBe(true);
    expect(cli(['quantize', '-m', model('stories260K.gguf'), join(dir, 'c.gguf')]).code).toBe(2);
  });
});

describe('llama4 info -m', () => {
  it('takes the model as -m like every command', () => {
    const a = cli(['info', '-m', model('stories260K.gguf'), '--json']);
    const b = cli(['info', model('stories260K.gguf'), '--json']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(cli(['info']).code).toBe(2);
  });
});
