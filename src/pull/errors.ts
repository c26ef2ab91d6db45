// The errors a pull reports: each message is one line meant for the user (the CLI prints it as it is).

/** A failed pull, cache lookup or removal. */
export class PullError extends Error {
  override name = 'PullError';
}

/** Ctrl-C during a pull: the partial download (if any) is kept for the next pull to resume. */
export class PullInterrupted extends Error {
  override name = 'PullInterrupted';
  constructor(
    readonly file?: string,
    readonly partial?: string,
    readonly bytes = 0,
  ) {
    super(
      partial && bytes > 0
        ? `interrupted: ${bytes} bytes of ${file} kept in ${partial}; run the same pull again to resume`
        : 'interrupted',
    );
  }
}
