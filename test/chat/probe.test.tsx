import { render } from 'ink-testing-library';
import { it, expect } from 'vitest';
import { Prompt } from '../../src/chat/components/Prompt.js';
const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));
it('probe', async () => {
  const got: string[] = [];
  const { stdin, lastFrame } = render(<Prompt active pending={[]} onSubmit={(v) => got.push(v)} onInterrupt={() => {}} onEof={() => {}} />);
  await tick();
  stdin.write('abc');
  stdin.write('\r');
  await tick();
  console.log(JSON.stringify(lastFrame()), JSON.stringify(got));
  stdin.write('x'); stdin.write('y');
  await tick();
  console.log(JSON.stringify(lastFrame()), JSON.stringify(got));
  expect(1).toBe(1);
});
