// Process I/O shared by the commands: stdout/stderr writers and Ctrl-C wired to an AbortSignal, so a long
// evaluation stops cleanly (the native decode polls the cancel flag) instead of killing the process.
export interface CommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
  signal?: AbortSignal;
}

export async function withProcessIo<T>(fn: (io: CommandIo) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSigint = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    return await fn({ out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), signal: ac.signal });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
