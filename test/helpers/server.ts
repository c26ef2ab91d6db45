// Starts the real `llama4 serve` (bin/llama4.js over dist/) on 127.0.0.1 with a free port (--port 0) and
// resolves once the model is loaded.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() at exit */
  at: number;
}

export interface RunningServer {
  url: string;
  port: number;
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<Exit>;
  /** sends the signal (default SIGTERM) unless the process has ended; resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startServer(args: string[], timeoutMs = 60_000): Promise<RunningServer> {
  const proc = spawn(process.execPath, [join(process.cwd(), 'bin', 'llama4.js'), 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const exited = new Promise<Exit>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`the server did not get ready in ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      err += d;
      const m = /llama4: listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(err);
      if (!/llama4: ready: /.test(err)) return;
      clearTimeout(timer);
      if (!m) return reject(new Error(`ready without a 'listening on' line:\n${err}`));
      resolve({
        url: m[1],
        port: Number(m[2]),
        proc,
        stderr: () => err,
        exited,
        stop: async (signal = 'SIGTERM') => {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
          return (await exited).code;
        },
      });
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code} before it was ready:\n${err}`));
    });
  });
}
