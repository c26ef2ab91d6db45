#!/usr/bin/env node
// V8 interprets a function until it has run many times; the CLI's per-token JS (sampler chain,
// detokenizer, the decode call) runs only once per token, so most of a short run would be interpreted.
// Compiling straight to baseline code (Sparkplug, no optimisation, cheap) made a one-shot 128-token run
// of stories260K ~8% faster. The flag must be set before the CLI's modules load, hence the dynamic import.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--always-sparkplug');
const { main } = await import('../dist/cli/index.js');
const { UsageError, EXIT_USAGE, interruptionExitCode } = await import('../dist/cli/io.js');

main(process.argv).then(
  () => {
    // an interrupted command (Ctrl-C: 130, stdout closed: 141) leaves now, not when a pass the native
    // side still runs would let the event loop drain
    const code = interruptionExitCode();
    if (code) process.exit(code);
  },
  (err) => {
    process.stderr.write(`llama4: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(err instanceof UsageError ? EXIT_USAGE : interruptionExitCode() || 1);
  },
);
