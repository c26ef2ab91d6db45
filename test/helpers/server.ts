// Starts the real `llama4 serve` on 127.0.0.1 with a free port (--port 0) and waits until it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface RunningServer {
  url: string;
  proc: ChildProcess;
  stderr: () => string;
  /** SIGTERM (or the given signal); resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startServer(args: string[], timeoutMs = 60_000): Promise<RunningServer> {
  const proc = spawn(process.execPath, [join(process.cwd(), 'bin', 'llama4.js'), 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`the server did not get ready in ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (m && /llama4: ready:/.test(err)) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          proc,
          stderr: () => err,
          stop: (signal = 'SIGTERM') => {
            if (proc.exitCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code} before it was ready:\n${err}`));
    });
  });
}
