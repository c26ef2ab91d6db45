// Starts the terminal chat: the ink app over a session that it opens itself (the spinner shows while the
// model loads). NO_COLOR turns colours off.
import chalk from 'chalk';
import { render } from 'ink';
import { App } from './App.js';
import { defaultHistoryPath, InputHistory } from './history.js';
import { openSession, type OpenOptions } from './session.js';

export async function runInkChat(options: OpenOptions, o: { history: boolean }): Promise<number> {
  if (process.env.NO_COLOR) chalk.level = 0;
  const history = new InputHistory(o.history ? defaultHistoryPath() : null);
  let code = 0;
  const progress = new Float64Array(2);
  const open = () => openSession({ ...options, progress });
  const app = render(<App open={open} loadProgress={progress} history={history} onExit={(c) => (code = c)} />, { exitOnCtrlC: false, patchConsole: false });
  await app.waitUntilExit();
  return code;
}
