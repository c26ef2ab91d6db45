// Process I/O shared by the commands: stdout/stderr writers, Ctrl-C wired to an AbortSignal (the native
// passes poll it) and a closed stdout pipe, with the exit codes of a Unix tool:
//   - the first Ctrl-C (SIGINT) aborts the command's signal: the command stops at its next check, removes
//     what it had half-written (GgufWriter's temporary file), restores the terminal line and exits 130;
//   - a second Ctrl-C exits 130 at once, for a pass that does not poll (GgufWriter removes its temporary
//     file on the process's 'exit' event);
//   - stdout closed by its reader (`llama4 run ... | head -c 100`, EPIPE) stops the command quietly, no
//     stack trace, and exits 141 (128 + SIGPIPE), the status `cat` has in the same pipe.
export interface CommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
  signal?: AbortSignal;
}

export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;
export const EXIT_PIPE = 141;

/** A bad flag, value or combination: `llama4: MESSAGE` and exit code 2 (commander's own usage errors too). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The reason a command's signal aborts on Ctrl-C or a closed stdout (the exit code is in exitWanted). */
class Interrupted extends Error {
  override name = 'Interrupted';
}

/** Whether an error is the command's own cancellation (its signal's reason, or an AbortError). */
function isInterruption(e: unknown, signal?: AbortSignal): boolean {
  if (e instanceof Interrupted) return true;
  // a pass cancelled by the signal may reject with its own error (AbortError, 'cancelled')
  return (
    signal?.aborted === true &&
    signal.reason instanceof Interrupted &&
    e instanceof Error &&
    (e.name === 'AbortError' || /\b(aborted|cancell?ed|interrupted)\b/i.test(e.message))
  );
}

let exitWanted = 0;
/** The exit code an interruption asked for (0 when none), read by bin/llama4.js after the command. */
export function interruptionExitCode(): number {
  return exitWanted;
}

export interface ProcessIoOptions {
  /** written to stderr when the first Ctrl-C arrives (e.g. clearing a progress line) */
  onInterrupt?: () => void;
}

/**
 * Runs a command with process I/O. An interruption (Ctrl-C, closed stdout) makes the command's result
 * `undefined` instead of an error, and sets the exit code; other errors pass through.
 */
export async function withProcessIo<T>(fn: (io: CommandIo) => Promise<T>, opts: ProcessIoOptions = {}): Promise<T | undefined> {
  const ac = new AbortController();
  let pipeClosed = false;
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(EXIT_INTERRUPTED);
    exitWanted = EXIT_INTERRUPTED;
    opts.onInterrupt?.();
    ac.abort(new Interrupted('interrupted'));
  };
  const onStdoutError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') {
      if (!ac.signal.aborted) ac.abort(new Error(`cannot write the output: ${e.message}`));
      return;
    }
    pipeClosed = true;
    if (!exitWanted) exitWanted = EXIT_PIPE;
    if (!ac.signal.aborted) ac.abort(new Interrupted('stdout was closed'));
  };
  const onStderrError = () => {
    // nowhere left to report anything: keep going silently
  };
  process.on('SIGINT', onSigint);
  process.stdout.on('error', onStdoutError);
  process.stderr.on('error', onStderrError);
  const out = (s: string) => {
    if (!pipeClosed) process.stdout.write(s);
  };
  const err = (s: string) => {
    if (!pipeClosed || exitWanted !== EXIT_PIPE) process.stderr.write(s);
  };
  try {
    // a command that stops by itself on the aborted signal (a generation ending 'aborted') returns, and
    // still exits with exitWanted
    return await fn({ out, err, signal: ac.signal });
  } catch (e) {
    if (isInterruption(e, ac.signal)) {
      if (exitWanted === EXIT_INTERRUPTED) process.stderr.write('\nllama4: interrupted\n');
      return undefined;
    }
    if (pipeClosed && (e as NodeJS.ErrnoException)?.code === 'EPIPE') return undefined;
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    // after EPIPE the listener stays: a write still queued would otherwise raise an unhandled error
    if (!pipeClosed) process.stdout.off('error', onStdoutError);
    process.stderr.off('error', onStderrError);
  }
}
