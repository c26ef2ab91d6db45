// `llama4 run -m MODEL -p PROMPT`: stream a completion to stdout (only the generated text; --echo adds
// the prompt), a timing summary to stderr, like llama.cpp's completion tool.
import type { Command } from 'commander';
import { generate, type GenerationStats } from '../engine/generate.js';
import { Model } from '../engine/model.js';
import {
  addContextFlags,
  addModelFlag,
  addPromptFlags,
  addSamplingFlags,
  contextOptions,
  intArg,
  readPrompt,
  samplingOptions,
  type ContextFlags,
  type SamplingFlags,
} from './flags.js';

export interface RunFlags extends ContextFlags, SamplingFlags {
  model: string;
  prompt?: string;
  file?: string;
  nPredict: number;
  echo?: boolean;
}

export interface RunIo {
  out: (s: string) => void;
  err: (s: string) => void;
  signal?: AbortSignal;
}

const rate = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0).toFixed(2);

export async function runCompletion(flags: RunFlags, io: RunIo): Promise<GenerationStats> {
  const prompt = readPrompt(flags);
  const model = await Model.load(flags.model);
  const tokens = model.tokenizer.encode(prompt, { addSpecial: true, parseSpecial: true });
  if (tokens.length === 0) throw new Error('the prompt is empty after tokenization');
  const ctx = model.createContext(contextOptions(flags));
  const nCtx = ctx.state().nCtx;
  if (tokens.length >= nCtx) throw new Error(`the prompt is ${tokens.length} tokens, the context only ${nCtx} (raise -c)`);
  if (flags.echo) io.out(prompt);
  const stats: GenerationStats = { promptTokens: 0, promptMs: 0, generatedTokens: 0, generateMs: 0, stop: 'length' };
  const options = { ...samplingOptions(flags), maxTokens: flags.nPredict, signal: io.signal };
  for await (const piece of generate(ctx, tokens, options, stats)) io.out(piece.text);
  const st = ctx.state();
  io.err(
    `\nllama4: ${model.info.description}, ${st.nThreads} threads, ctx ${st.nCtx}, KV ${st.typeK}/${st.typeV}\n` +
      `llama4: prompt eval: ${stats.promptTokens} tokens in ${stats.promptMs.toFixed(2)} ms (${rate(stats.promptTokens, stats.promptMs)} t/s)\n` +
      `llama4: generation:  ${stats.generatedTokens} tokens in ${stats.generateMs.toFixed(2)} ms (${rate(stats.generatedTokens, stats.generateMs)} t/s), stopped by ${stats.stop}\n`,
  );
  return stats;
}

export function registerRun(program: Command): void {
  const cmd = program.command('run').description('generate text from a prompt and stream it to stdout');
  addModelFlag(cmd);
  addPromptFlags(cmd);
  cmd.option('-n, --n-predict <n>', 'tokens to generate (-1 = until end of generation)', intArg(-1), -1);
  cmd.option('--echo', 'print the prompt before the generated text');
  addContextFlags(cmd);
  addSamplingFlags(cmd);
  cmd.action(async (flags: RunFlags) => {
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    process.once('SIGINT', onSigint);
    try {
      await runCompletion(flags, {
        out: (s) => process.stdout.write(s),
        err: (s) => process.stderr.write(s),
        signal: ac.signal,
      });
    } finally {
      process.off('SIGINT', onSigint);
    }
  });
}
