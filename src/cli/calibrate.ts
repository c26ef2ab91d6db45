// `llama4 calibrate -m MODEL -f TEXT -o GATES.gguf`: fit depth gates on a frozen model and write them as
// an adapter beside it (the model file is never modified).
import type { Command } from 'commander';
import { calibrate, type CalibrationReport } from '../engine/depth/calibrate.js';
import type { Granularity } from '../engine/depth/adapter.js';
import { Model } from '../engine/model.js';
import { Option } from 'commander';
import { withProcessIo } from './io.js';
import { addModelFlag, addRepackFlag, defaultThreads, floatArg, intArg, readPrompt, type RepackFlags } from './flags.js';

interface CalibrateFlags extends RepackFlags {
  model: string;
  file?: string;
  prompt?: string;
  output: string;
  targetSkip?: number;
  klBudget?: number;
  ctxSize: number;
  chunks: number;
  heldout: number;
  rows: number;
  seed: number;
  threads?: number;
  depthKv: 'fill' | 'skip';
  labels?: 'kl' | 'rel';
  granularity: Granularity;
  thresholds: 'global' | 'quota';
  json?: boolean;
}

export function formatReport(r: CalibrationReport): string {
  const c = r.chosen;
  const lines = [
    `calibrated on ${r.tokensCalib} tokens, threshold chosen on ${r.tokensHeldout} held-out tokens (seed ${r.seed}, ${r.seconds.toFixed(1)} s)`,
    `granularity ${r.granularity} (${r.labels} labels): threshold ${c.threshold.toFixed(4)}: ${(c.skipRate * 100).toFixed(1)}% of gated ${r.granularity === 'block' ? 'blocks' : r.granularity === 'attn' ? 'attention sublayers' : r.granularity === 'ffn' ? 'FFN sublayers' : 'sublayers'} skipped ` +
      `(attention ${(c.attnSkipRate * 100).toFixed(1)}%, FFN ${(c.ffnSkipRate * 100).toFixed(1)}%), ${c.blocksPerToken.toFixed(2)} of ${r.nLayer} blocks per token`,
    `held-out: perplexity ${c.pplGated.toFixed(4)} gated vs ${c.pplDense.toFixed(4)} dense (${(((c.pplGated / c.pplDense) - 1) * 100).toFixed(2)}%), ` +
      `top-1 agreement ${(c.top1Agreement * 100).toFixed(1)}%, mean KL ${c.meanKl.toFixed(4)} nats`,
    `skip rate per block: ${c.perBlockSkip.map((s) => (s * 100).toFixed(0)).join(' ')} (%)`,
  ];
  if (r.quota)
    lines.push(
      `quota thresholds: ${r.quota.sublayers.length} sublayers (${r.quota.sublayers.map((x) => `${x.kind}${x.layer}`).join(' ')}) each skip ${(r.quota.fraction * 100).toFixed(0)}% of tokens; ` +
        `tried ${r.quota.tried.map((t) => `${t.fraction}: KL ${t.meanKl.toFixed(4)}`).join(', ')}`,
    );
  return lines.join('\n');
}

export function registerCalibrate(program: Command): void {
  const cmd = program.command('calibrate').description('fit depth gates (per-token block skipping) on a model and write them as an adapter GGUF');
  addModelFlag(cmd);
  addRepackFlag(cmd);
  cmd
    .option('-f, --file <path>', 'calibration text (the end of it is held out to choose the threshold)')
    .option('-p, --prompt <text>', 'calibration text given inline')
    .requiredOption('-o, --output <path>', 'adapter file to write (GATES.gguf)')
    .option('--target-skip <r>', 'fraction of gated blocks to skip (default 0.25)', floatArg(0, 1))
    .option('--kl-budget <nats>', 'instead: the largest skip rate whose mean KL(dense || gated) stays within this', floatArg(0))
    .option('-c, --ctx-size <n>', 'tokens per chunk', intArg(16, 1 << 16), 512)
    .option('--chunks <n>', 'calibration chunks', intArg(1), 8)
    .option('--heldout <n>', 'held-out chunks for the threshold', intArg(1), 2)
    .option('--rows <n>', 'tokens per block used to fit each gate', intArg(64), 4096)
    .option('-s, --seed <n>', 'seed (the result is deterministic for a seed)', intArg(0, 0xffffffff), 42)
    .option('-t, --threads <n>', 'threads', intArg(1, 512))
    .addOption(new Option('--depth-kv <mode>', 'KV of skipped blocks during threshold selection').choices(['fill', 'skip']).default('fill'))
    .addOption(new Option('--granularity <g>', 'what a gate skips: attn (attention sublayer), ffn, sublayer (both, separate gates) or block').choices(['attn', 'ffn', 'sublayer', 'block']).default('block'))
    .addOption(new Option('--thresholds <how>', "global: one threshold for every gate; quota: the target's worth of lowest-influence sublayers, each skipping the tokens its gate scores lowest (share chosen on held-out text)").choices(['global', 'quota']).default('global'))
    .addOption(new Option('--labels <kind>', "what makes a token skip a sublayer: 'kl' (a removal pass per sublayer; default for attn/ffn/sublayer) or 'rel' (relative update, cheaper; default for block)").choices(['kl', 'rel']))
    .option('--json', 'print the calibration report as JSON');
  cmd.action(async (flags: CalibrateFlags) => {
    const text = readPrompt(flags);
    const tty = process.stderr.isTTY;
    await withProcessIo(
      async (io) => {
        const model = await Model.load(flags.model, { repack: flags.repack, signal: io.signal });
        const report = await calibrate(model, text, flags.output, {
          signal: io.signal,
          targetSkip: flags.targetSkip,
          klBudget: flags.klBudget,
          nCtx: flags.ctxSize,
          calibChunks: flags.chunks,
          heldoutChunks: flags.heldout,
          maxRows: flags.rows,
          seed: flags.seed,
          nThreads: flags.threads ?? defaultThreads(),
          kv: flags.depthKv,
          labels: flags.labels,
          granularity: flags.granularity,
          thresholds: flags.thresholds,
          onProgress: (m) => io.err(tty ? `\r\x1b[K${m}` : `${m}\n`),
        });
        if (tty) io.err('\r\x1b[K');
        io.out(flags.json ? JSON.stringify(report, null, 2) + '\n' : `${formatReport(report)}\nwrote ${flags.output}\n`);
      },
      // the progress line is cleared before the interruption is reported
      { onInterrupt: () => tty && process.stderr.write('\r\x1b[K') },
    );
  });
}
