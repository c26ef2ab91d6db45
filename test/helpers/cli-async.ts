// Runs the real CLI binary without blocking the event loop, so a server in the test process can answer
// it; the child is returned too (to send it SIGINT).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { CliResult } from './cli.js';

export interface AsyncCli {
  child: ChildProcess;
  done: Promise<CliResult & { signal: NodeJS.Signals | null }>;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

export function cliAsync(args: string[], opts: CliOptions = {}): AsyncCli {
  const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'llama4.js'), ...args], {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export async function runCli(args: string[], opts: CliOptions = {}) {
  return cliAsync(args, opts).done;
}
