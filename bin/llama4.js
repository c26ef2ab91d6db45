#!/usr/bin/env node
import { main } from '../dist/cli/index.js';

main(process.argv).catch((err) => {
  process.stderr.write(`llama4: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});
