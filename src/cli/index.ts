// The CLI: one file per command, each exporting register(program). Errors surface as one line on stderr
// and exit code 1 (bin/llama4.js).
import { Command, CommanderError } from 'commander';
import { normalizeArgv } from './flags.js';
import { registerBench } from './bench.js';
import { registerCalibrate } from './calibrate.js';
import { registerChat } from './chat.js';
import { registerInfo } from './info.js';
import { registerLs } from './ls.js';
import { registerPerplexity } from './perplexity.js';
import { registerPull } from './pull.js';
import { registerQuantize } from './quantize.js';
import { registerRm } from './rm.js';
import { registerRun } from './run.js';
import { registerServe } from './serve.js';
import { registerTokenize } from './tokenize.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('llama4')
    .description('Run GGUF language models locally (llama, Mixtral-style MoE, Llama 4) with dual sparsity')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });
  registerRun(program);
  registerChat(program);
  registerServe(program);
  registerInfo(program);
  registerTokenize(program);
  registerPerplexity(program);
  registerQuantize(program);
  registerBench(program);
  registerCalibrate(program);
  registerPull(program);
  registerLs(program);
  registerRm(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(normalizeArgv(argv));
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
}
