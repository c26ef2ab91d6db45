// `llama4 perplexity -m MODEL -f TEXT`: llama.cpp's llama-perplexity. Progress goes to stderr; the running
// `[i]ppl` values, the final estimate and the run's statistics go to stdout (--json: one JSON object only).
import type { Command } from 'commander';
import { Model } from '../engine/model.js';
import { DEFAULT_PPL_CTX, perplexity, type PerplexityResult } from '../engine/perplexity.js';
import { formatBytes } from './format.js';
import { dropsLine, resolveDepth } from '../engine/depth/policy.js';
import {
  addContextFlags,
  addDepthFlags,
  addModelFlag,
  addRepackFlag,
  addPromptFlags,
  contextOptions,
  contextWarning,
  depthOptions,
  intArg,
  readPrompt,
  type ContextFlags,
  type RepackFlags,
  type DepthFlags,
} from './flags.js';
import { UsageError, withProcessIo, type CommandIo } from './io.js';

export interface PerplexityFlags extends ContextFlags, DepthFlags, RepackFlags {
  compareDense?: boolean;
  model: string;
  prompt?: string;
  file?: string;
  chunks?: number;
  json?: boolean;
}

export type PerplexityIo = CommandIo;

export interface PerplexityReport extends PerplexityResult {
  model: string;
  file?: string;
}


/** llama-perplexity's closing line; the error is left out when the variance is not positive. */
export function finalEstimateLine(r: { ppl: number; error: number }): string {
  return Number.isFinite(r.error)
    ? `Final estimate: PPL = ${r.ppl.toFixed(4)} +/- ${r.error.toFixed(5)}`
    : `Final estimate: PPL = ${r.ppl.toFixed(4)} (unexpected non-positive variance of log(prob): no error estimate)`;
}

export async function runPerplexity(flags: PerplexityFlags, io: PerplexityIo): Promise<PerplexityReport> {
  const text = readPrompt(flags);
  if (flags.chunks === 0) throw new UsageError('--chunks must be at least 1 (or -1 for every chunk)');
  const model = await Model.load(flags.model, { repack: flags.repack, signal: io.signal });
  const { nCtx, ...context } = contextOptions(flags);
  const json = flags.json ?? false;
  io.err(contextWarning(nCtx ?? DEFAULT_PPL_CTX, model.info.nCtxTrain));
  const depth = await resolveDepth(model, depthOptions(flags), text);
  io.err(dropsLine(depth).replace(/^llama4: /, 'perplexity: '));
  const result = await perplexity(model, text, {
    nCtx: nCtx ?? DEFAULT_PPL_CTX,
    maxChunks: flags.chunks,
    context,
    evaluation: { depth: depth.policy, compareDense: flags.compareDense ?? false },
    signal: io.signal,
    onStart: (p) => {
      io.err(`perplexity: tokenizing the input ..\nperplexity: tokenization took ${p.tokenizeMs.toFixed(3)} ms\n`);
      io.err(`perplexity: calculating perplexity over ${p.nChunks} chunks, n_ctx=${p.nCtx}, batch_size=${p.nBatch}, n_seq=1, threads=${p.nThreads}\n`);
    },
    onChunk: (c) => {
      if (c.index === 1) {
        const eta = (c.evalMs / 1000) * c.nChunks;
        io.err(`perplexity: ${(c.evalMs / 1000).toFixed(2)} seconds per pass - ETA ${(eta / 60).toFixed(2)} minutes\n`);
      }
      if (!json) io.out(`[${c.index}]${c.ppl.toFixed(4)},`);
    },
  });
  const report: PerplexityReport = { model: flags.model, ...(flags.file !== undefined ? { file: flags.file } : {}), ...result };
  if (json) {
    io.out(JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    return report;
  }
  const r = result;
  io.out(
    `\n${finalEstimateLine(r)}\n` +
      `llama4: ${model.info.description}, ${r.nThreads} threads, KV ${r.typeK}/${r.typeV} ${formatBytes(r.kvBytes)} (${r.kvBytes} bytes)\n` +
      `llama4: ${r.nChunks} chunks of ${r.nCtx} tokens (${r.nTokens} in the text), ${r.nScored} scored\n` +
      `llama4: eval: ${r.nEvaluated} tokens in ${r.evalMs.toFixed(2)} ms (${r.tokensPerSecond.toFixed(2)} t/s), total ${(r.totalMs / 1000).toFixed(2)} s\n` +
      `llama4: blocks executed per token: ${r.blocksPerToken.toFixed(2)} of ${r.nLayer}\n` +
      (depth.policy
        ? `llama4: skip rate per block (%): ${r.skipPerBlock.map((x) => Math.round(x * 100)).join(' ')}; KV in use ${formatBytes(r.kvBytesUsed)}\n` +
          `llama4: sublayers skipped (blocks 1..${r.nLayer - 2}): attention ${(r.attnSkipRate * 100).toFixed(1)}%, FFN ${(r.ffnSkipRate * 100).toFixed(1)}%\n`
        : '') +
      (r.dense
        ? `llama4: vs dense: perplexity ${r.dense.pplDense.toFixed(4)}, top-1 agreement ${(r.dense.top1Agreement * 100).toFixed(2)}%, mean KL ${r.dense.meanKl.toFixed(5)} nats\n`
        : ''),
  );
  return report;
}

export function registerPerplexity(program: Command): void {
  const cmd = program
    .command('perplexity')
    .description("perplexity of a model on a text, llama-perplexity's method (chunks of -c tokens, second half scored)");
  addModelFlag(cmd);
  addRepackFlag(cmd);
  addPromptFlags(cmd);
  addContextFlags(cmd);
  cmd.option('--chunks <n>', 'score at most this many chunks (-1 = all)', intArg(-1));
  cmd.option('--json', 'print the result as one JSON object');
  addDepthFlags(cmd);
  cmd.option('--compare-dense', 'also evaluate densely and report top-1 agreement and KL of the gated run');
  cmd.addHelpText('after', `\nFor perplexity, -c is the chunk size (default ${DEFAULT_PPL_CTX}).`);
  cmd.action(async (flags: PerplexityFlags) => {
    await withProcessIo((io) => runPerplexity(flags, io));
  });
}
