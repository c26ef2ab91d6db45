// `llama4 run -m MODEL -p PROMPT`: stream a completion to stdout (only the generated text; --echo adds
// the prompt), a timing summary to stderr, like llama.cpp's completion tool. With depth gates it also
// reports the dual-sparsity figures; --depth-exact decodes self-speculatively with output identical to
// dense greedy decoding.
import type { Command } from 'commander';
import { depthSummary, dropsLine, hasDepth, resolveDepth } from '../engine/depth/policy.js';
import { generateExact, newExactStats } from '../engine/depth/speculative.js';
import { generate, type GenerationStats } from '../engine/generate.js';
import { Model, type Context } from '../engine/model.js';
import {
  addChatFlags,
  addContextFlags,
  addDepthFlags,
  addModelFlag,
  addRepackFlag,
  addPromptFlags,
  addSamplingFlags,
  contextOptions,
  contextWarning,
  placementOptions,
  depthOptions,
  intArg,
  readPrompt,
  samplingOptions,
  type ChatFlags,
  type ContextFlags,
  type RepackFlags,
  type DepthFlags,
  type SamplingFlags,
} from './flags.js';
import { placementWarning } from '../engine/gpu.js';
import { UsageError, withProcessIo, type CommandIo } from './io.js';
import { formatBytes } from './format.js';
import { innerSkipRate, layerSkipRates } from '../engine/depth/calibrate.js';
import { runChat } from './chat.js';

export interface RunFlags extends ContextFlags, SamplingFlags, DepthFlags, RepackFlags, ChatFlags {
  model: string;
  prompt?: string;
  file?: string;
  nPredict: number;
  echo?: boolean;
  depthExact?: boolean;
  verbose?: boolean;
}

export type RunIo = CommandIo;

const rate = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0).toFixed(2);

/** The dual-sparsity lines of a run's summary: blocks per token, skip rate per block, experts per token. */
export function sparsityLines(ctx: Context, decodeTokens: number, verbose = false): string {
  const info = ctx.model.info;
  const st = ctx.stats();
  let out = '';
  if (st.routedTokens > 0) {
    const d = depthSummary(st, info.nLayer);
    const perLayer = (runs: number[], skips: number[]) => layerSkipRates(runs, skips).map((r) => Math.round(r * 100)).join(' ');
    out +=
      `llama4: depth: ${d.blocksPerToken.toFixed(2)} of ${info.nLayer} blocks per routed token (${d.routedTokens} tokens), ` +
      `skip rate per block (%): ${d.skipPerBlock.map((s) => Math.round(s * 100)).join(' ')}\n` +
      `llama4: depth: sublayers skipped (blocks 1..${info.nLayer - 2}): attention ${(innerSkipRate(st.attnRuns, st.attnSkips) * 100).toFixed(1)}%, ` +
      `FFN ${(innerSkipRate(st.ffnRuns, st.ffnSkips) * 100).toFixed(1)}%\n`;
    if (verbose)
      out +=
        `llama4: depth: attention skip rate per block (%): ${perLayer(st.attnRuns, st.attnSkips)}\n` +
        `llama4: depth: FFN skip rate per block (%): ${perLayer(st.ffnRuns, st.ffnSkips)}\n`;
    const shared = st.blockSharedOnly.reduce((a, b) => a + b, 0);
    if (shared > 0) out += `llama4: depth: ${shared} MoE block runs used the shared expert only\n`;
  }
  if (info.nExpert > 0 && decodeTokens > 0) {
    out += `llama4: width: ${info.nExpertUsed} of ${info.nExpert} experts per MoE block, ${(st.expertEvals / st.tokens).toFixed(2)} expert FFNs per token over all blocks\n`;
  }
  if (verbose) out += `llama4: KV cache: ${formatBytes(st.kvBytes)} allocated, ${formatBytes(st.kvBytesUsed)} in use (${st.kvBytes} / ${st.kvBytesUsed} bytes)\n`;
  return out;
}

export async function runCompletion(flags: RunFlags, io: RunIo): Promise<GenerationStats> {
  const prompt = readPrompt(flags);
  const model = await Model.load(flags.model, { repack: flags.repack, signal: io.signal });
  const tokens = model.tokenizer.encode(prompt, { addSpecial: true, parseSpecial: true });
  if (tokens.length === 0) throw new Error('the prompt is empty after tokenization');
  const ctx = model.createContext(contextOptions(flags));
  const nCtx = ctx.state().nCtx;
  io.err(contextWarning(nCtx, model.info.nCtxTrain));
  io.err(placementWarning(placementOptions(flags)));
  if (tokens.length >= nCtx) throw new Error(`the prompt is ${tokens.length} tokens, the context only ${nCtx} (raise -c)`);
  const depth = depthOptions(flags);
  if (flags.depthExact) {
    if (!hasDepth(depth)) throw new UsageError('--depth-exact drafts with depth gates: give --depth-gates (or --drop-layers / --drop-auto / --drop-attn / --drop-ffn)');
    if (flags.temp > 0) throw new UsageError('--depth-exact reproduces dense greedy decoding: use --temp 0');
    if (depth.kv === 'skip') throw new UsageError('--depth-exact needs --depth-kv fill');
  }
  // the exact mode verifies on the same context at full depth: it keeps every layer's KV
  const resolved = await resolveDepth(model, { ...depth, keepDroppedKv: flags.depthExact }, prompt);
  if (resolved.policy) ctx.setDepthPolicy(resolved.policy);
  io.err(dropsLine(resolved));
  if (flags.echo) io.out(prompt);
  const stats: GenerationStats = { promptTokens: 0, promptMs: 0, generatedTokens: 0, generateMs: 0, stop: 'length' };
  let exactLine = '';
  if (flags.depthExact) {
    const ex = newExactStats();
    for await (const piece of generateExact(ctx, tokens, { maxTokens: flags.nPredict, signal: io.signal }, ex)) io.out(piece.text);
    Object.assign(stats, { promptTokens: ex.promptTokens, promptMs: ex.promptMs, generatedTokens: ex.generatedTokens, generateMs: ex.generateMs, stop: ex.stop });
    exactLine =
      `llama4: exact mode: ${ex.verifyPasses} verify passes, ${ex.accepted} of ${ex.drafted} drafted tokens accepted ` +
      `(${ex.drafted ? ((ex.accepted / ex.drafted) * 100).toFixed(1) : '0.0'}%)` +
      `${ex.switchedOff ? `, switched itself off (slower than dense) after which ${ex.denseTokens} tokens were decoded densely` : ''}\n`;
  } else {
    const options = { ...samplingOptions(flags), maxTokens: flags.nPredict, signal: io.signal };
    for await (const piece of generate(ctx, tokens, options, stats)) io.out(piece.text);
  }
  const st = ctx.state();
  io.err(
    `\nllama4: ${model.info.description}, ${st.nThreads} threads, ctx ${st.nCtx}, KV ${st.typeK}/${st.typeV}\n` +
      `llama4: prompt eval: ${stats.promptTokens} tokens in ${stats.promptMs.toFixed(2)} ms (${rate(stats.promptTokens, stats.promptMs)} t/s)\n` +
      `llama4: generation:  ${stats.generatedTokens} tokens in ${stats.generateMs.toFixed(2)} ms (${rate(stats.generatedTokens, stats.generateMs)} t/s), stopped by ${stats.stop}\n` +
      exactLine +
      sparsityLines(ctx, stats.generatedTokens, flags.verbose ?? false),
  );
  return stats;
}

export function registerRun(program: Command): void {
  const cmd = program.command('run').description('generate text from a prompt and stream it to stdout');
  addModelFlag(cmd);
  addRepackFlag(cmd);
  addPromptFlags(cmd);
  cmd.option('-n, --n-predict <n>', 'tokens to generate (-1 = until end of generation)', intArg(-1), -1);
  cmd.option('--echo', 'print the prompt before the generated text');
  cmd.option('-v, --verbose', 'also report per-block attention / FFN skip rates and the KV cache bytes allocated and in use');
  addContextFlags(cmd);
  addSamplingFlags(cmd);
  addDepthFlags(cmd);
  cmd.option('--depth-exact', 'self-speculative decoding: gated drafts verified at full depth; output identical to dense greedy');
  addChatFlags(cmd);
  cmd.action(async (flags: RunFlags) => {
    // as ollama's run: no prompt on a terminal opens the chat
    if (flags.prompt === undefined && flags.file === undefined && process.stdin.isTTY && process.stdout.isTTY) {
      if (flags.depthExact) throw new UsageError('--depth-exact is for completions: give -p or -f');
      return runChat(flags);
    }
    await withProcessIo((io) => runCompletion(flags, io));
  });
}
