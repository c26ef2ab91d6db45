// The inputs kept for the Jazzer.js targets (scripts/fuzz-js.sh): every file in test/fixtures/fuzz/js-TARGET/
// (hand-made edge cases and the inputs of past findings) run through the target's own check, the same
// function the fuzzer calls, so a finding fixed once stays fixed without the fuzzer.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderChat } from '../../src/engine/templates/index.js';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'fuzz');
const TARGETS = {
  tokenizer: () => import('./jazzer/tokenizer.target.js'),
  template: () => import('./jazzer/template.target.js'),
  server: () => import('./jazzer/server.target.js'),
} as const;

for (const [target, load] of Object.entries(TARGETS)) {
  const dir = join(FIXTURES, `js-${target}`);
  const files = readdirSync(dir).sort();
  describe(`fuzz target ${target}: kept inputs`, () => {
    it('has some', () => expect(files.length).toBeGreaterThan(0));
    for (const f of files)
      it(f, async () => {
        const { check } = await load();
        await check(readFileSync(join(dir, f)));
      });
  });
}

describe('findings kept as regressions', () => {
  // @huggingface/jinja's parser ran past its last token on a template ending inside a block and threw a
  // TypeError ("Cannot read properties of undefined (reading 'type')"); the message now says what is wrong
  // (js-template/unclosed-for-block)
  it('a template that ends inside a block or an expression is "not valid Jinja: unexpected end"', () => {
    for (const source of ['{% for m in messages %}{{ m.content }}', '{% if true %}x', '{{', '{{ messages[']) {
      const t = { name: 'model', origin: 'model' as const, source, endOfTurn: [] };
      expect(() => renderChat(t, [], { addGenerationPrompt: false, bosToken: '', eosToken: '' }), source).toThrow(
        "the model's chat template is not valid Jinja: unexpected end of the template (a block or an expression is not closed)",
      );
    }
  });
});
