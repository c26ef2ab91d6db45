// `llama4 quantize IN.gguf OUT.gguf TYPE [-t N]`: llama-quantize for F32/F16/BF16 models (no imatrix).
import { UsageError, withProcessIo } from './io.js';
import type { Command } from 'commander';
import { quantizeModel, QUANT_TYPES, type QuantizeResult, type TensorResult } from '../engine/quantize.js';
import { defaultThreads, intArg, MODEL_HELP, modelArg } from './flags.js';
import { formatBytes, table } from './format.js';

export interface QuantizeCliOptions {
  threads?: number;
  stats?: boolean;
  json?: boolean;
  /** Ctrl-C */
  signal?: AbortSignal;
}

const bpw = (bytes: number, n: number) => ((bytes * 8) / n).toFixed(2);

export function formatSummary(r: QuantizeResult, threads: number, stats: boolean): string {
  const converted = r.tensors.filter((t) => t.from !== t.to);
  const byType: Record<string, number> = {};
  for (const t of r.tensors) byType[t.to] = (byType[t.to] ?? 0) + 1;
  const lines = [
    `quantized ${r.input} -> ${r.output} as ${r.type} (general.file_type ${r.ftype})`,
    `  tensors: ${r.tensors.length} (${converted.length} converted, ${r.tensors.length - converted.length} copied): ` +
      Object.entries(byType).map(([k, v]) => `${v} ${k}`).join(', '),
    `  size:    ${formatBytes(r.bytesIn)} (${bpw(r.bytesIn, r.nElements)} bpw) -> ${formatBytes(r.bytesOut)} (${bpw(r.bytesOut, r.nElements)} bpw); file ${formatBytes(r.fileSizeIn)} -> ${formatBytes(r.fileSizeOut)}`,
    `  time:    ${r.seconds.toFixed(2)} s on ${threads} thread${threads === 1 ? '' : 's'}`,
  ];
  const fb = r.tensors.filter((t) => t.fallbackFrom);
  if (fb.length)
    lines.push(
      `  fallback: ${fb.length} tensor(s) whose row length does not fit the chosen type: ` +
        fb.map((t) => `${t.name} (${t.shape[0]} cols) ${t.fallbackFrom} -> ${t.to}`).join(', '),
    );
  if (stats && converted.length) {
    const rows = [['tensor', 'shape', 'type', 'rmse', 'rel rmse', 'max |err|']];
    for (const t of converted)
      rows.push([t.name, t.shape.join('x'), `${t.from}->${t.to}`, t.rmse!.toExponential(3), t.relRmse!.toExponential(3), t.maxErr!.toExponential(3)]);
    lines.push(table(rows, [false, false, false, true, true, true]));
  }
  return lines.join('\n') + '\n';
}

function progressLine(done: number, total: number, t: TensorResult): string {
  const w = String(total).length;
  return `[${String(done).padStart(w)}/${total}] ${t.name} ${t.from} -> ${t.to}`;
}

export async function runQuantize(
  input: string,
  output: string,
  type: string,
  opts: QuantizeCliOptions,
  write: (s: string) => void,
  progress?: (s: string) => void,
): Promise<QuantizeResult> {
  const threads = opts.threads ?? defaultThreads();
  const r = await quantizeModel(input, output, type, {
    threads,
    stats: opts.stats ?? false,
    signal: opts.signal,
    onTensor: progress ? (d, n, t) => progress(progressLine(d, n, t)) : undefined,
  });
  if (opts.json) write(JSON.stringify(r, null, 1) + '\n');
  else write(formatSummary(r, threads, opts.stats ?? false));
  return r;
}

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('quantize an F32/F16/BF16 model (llama-quantize without an importance matrix)')
    .argument('<args...>', `[input] output type: the source model (.gguf, F32/F16/BF16 tensors; or give it with -m), the quantized model to write, one of ${QUANT_TYPES.map((t) => t.name).join(', ')}`)
    .option('-m, --model <path>', `source model: ${MODEL_HELP}, as every other command takes it (then only OUTPUT TYPE follow)`, modelArg)
    .option('-t, --threads <n>', `threads (default: ${defaultThreads()})`, intArg(1, 512))
    .option('--stats', 'measure and print each tensor\'s quantization error (slower)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nTypes:\n' + QUANT_TYPES.map((t) => `  ${t.name.padEnd(7)} ${t.description}`).join('\n') +
        "\n\nQ3_K / Q4_K / Q5_K are llama.cpp's _S mixes; llama-quantize's own 'Q4_K' alias means Q4_K_M.",
    )
    .action(async (args: string[], opts: QuantizeCliOptions & { model?: string }) => {
      const want = opts.model === undefined ? 3 : 2;
      if (args.length !== want)
        throw new UsageError(opts.model === undefined ? 'usage: llama4 quantize INPUT OUTPUT TYPE (or -m INPUT OUTPUT TYPE)' : 'usage: llama4 quantize -m INPUT OUTPUT TYPE');
      const [input, output, type] = opts.model === undefined ? [modelArg(args[0]), args[1], args[2]] : [opts.model, ...args];
      const tty = process.stderr.isTTY;
      let shown = false;
      const progress = tty
        ? (s: string) => {
            process.stderr.write('\r' + s.slice(0, (process.stderr.columns || 80) - 1) + '\x1b[K');
            shown = true;
          }
        : undefined;
      const clear = () => {
        if (shown) process.stderr.write('\r\x1b[K');
        shown = false;
      };
      await withProcessIo(
        async (io) => {
          try {
            await runQuantize(input, output, type, { ...opts, signal: io.signal }, io.out, progress);
          } finally {
            clear();
          }
        },
        { onInterrupt: clear },
      );
    });
}
