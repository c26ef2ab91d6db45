// The CLI: one file per command, each exporting register(program). Errors surface as one line on stderr
// (bin/llama4.js) with the exit code of a Unix tool: 1 for a failure, 2 for a usage error (an unknown flag,
// a bad value, a missing argument: commander's and our UsageError), 130 after Ctrl-C, 141 when stdout was
// closed by its reader (io.ts).
import { Command, CommanderError } from 'commander';
import { normalizeArgv } from './flags.js';
import { EXIT_USAGE } from './io.js';
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
import { versionText } from './version.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('llama4')
    .description('Run GGUF language models locally (llama, Mixtral-style MoE, Llama 4) with dual sparsity')
    // the version and the backends this build has (loads the addon, so only when asked)
    .option('-V, --version', 'output the version number and the backends this build has')
    .on('option:version', () => {
      process.stdout.write(versionText() + '\n');
      throw new CommanderError(0, 'commander.version', '');
    })
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) })
    // before the commands are added: they inherit it, so their usage errors reach main() (exit code 2)
    .exitOverride();
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
  try {
    await program.parseAsync(normalizeArgv(argv));
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    throw err;
  }
}
