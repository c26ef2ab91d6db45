// `llama4 pull user/repo[:QUANT] | URL`: download a model into the cache (src/pull), with a progress bar per
// file on a terminal (bytes, speed, ETA) and plain lines otherwise. Ctrl-C stops cleanly: the partial
// download is kept for the next pull and the exit code is 130.
import type { Command } from 'commander';
import { PullInterrupted } from '../pull/errors.js';
import { pullModel, type PullEvents } from '../pull/pull.js';
import type { FileResult } from '../pull/download.js';
import { formatBytes } from './format.js';
import { withProcessIo, type CommandIo } from './io.js';

const REDRAW_MS = 100;
const SPEED_WINDOW_MS = 5000;

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '--';
  const t = Math.max(0, Math.round(s));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/** One terminal line: name, bar, percentage, bytes, speed, ETA, fitted to `columns`. */
export function progressLine(name: string, bytes: number, total: number | undefined, bytesPerSec: number, columns: number): string {
  const speed = bytesPerSec > 0 ? `${formatBytes(bytesPerSec)}/s` : '';
  if (total === undefined || total <= 0) return `${name}  ${formatBytes(bytes)}  ${speed}`.trimEnd().slice(0, columns - 1);
  const f = Math.min(1, bytes / total);
  const eta = bytesPerSec > 0 ? `ETA ${formatDuration((total - bytes) / bytesPerSec)}` : '';
  const tail = ` ${String(Math.floor(f * 100)).padStart(3)}%  ${formatBytes(bytes)} / ${formatBytes(total)}  ${speed}  ${eta}`.trimEnd();
  // sized for the widest tail this file can have, so the bar keeps its width while the numbers change
  const widest = ` 100%  ${formatBytes(total)} / ${formatBytes(total)}  999.99 MiB/s  ETA 59m59s`.length;
  const barWidth = Math.max(10, Math.min(30, columns - 1 - widest - 1 - Math.min(name.length, 40)));
  const shown = name.length > 40 ? name.slice(0, 39) + '…' : name;
  const full = Math.round(f * barWidth);
  return `${shown} ${'█'.repeat(full)}${'░'.repeat(barWidth - full)}${tail}`.slice(0, columns - 1);
}

/** What the user sees while pulling: on a terminal a bar per file redrawn in place, else plain lines. */
export class PullView implements PullEvents {
  private t0 = 0;
  private from = 0;
  private lastDraw = 0;
  private bar = '';
  private samples: Array<[number, number]> = [];

  constructor(
    private readonly err: (s: string) => void,
    private readonly tty: boolean,
    private readonly columns: () => number = () => process.stderr.columns || 80,
  ) {}

  resolved(name: string, files: { name: string; size?: number }[]): void {
    const known = files.every((f) => f.size !== undefined);
    const total = files.reduce((s, f) => s + (f.size ?? 0), 0);
    this.err(`llama4: pulling ${name}: ${files.length === 1 ? files[0].name : `${files.length} files`}${known ? ` (${formatBytes(total)})` : ''}\n`);
  }

  note(message: string): void {
    this.clear();
    this.err(`llama4: ${message}\n`);
    if (this.bar) this.err(this.bar);
  }

  start(name: string, total: number | undefined, from: number): void {
    this.t0 = performance.now();
    this.from = from;
    this.samples = [[this.t0, from]];
    if (!this.tty) this.err(`llama4: downloading ${name}${total !== undefined ? ` (${formatBytes(total)})` : ''}${from > 0 ? ` from byte ${from}` : ''}\n`);
    else this.draw(name, from, total, true);
  }

  progress(name: string, bytes: number, total: number | undefined): void {
    if (this.tty) this.draw(name, bytes, total, false);
  }

  done(name: string, r: FileResult): void {
    const secs = (performance.now() - this.t0) / 1000;
    const how = r.reused
      ? 'already in the cache'
      : `${formatBytes(r.size - this.from)} in ${secs.toFixed(1)} s${secs > 0 ? ` (${formatBytes((r.size - this.from) / secs)}/s)` : ''}`;
    const line = `${name}: ${formatBytes(r.size)}, ${how}, ${r.checked ? 'sha256 verified' : 'size checked (no published sha256)'}`;
    this.clear();
    this.bar = '';
    this.err(this.tty ? `${line}\n` : `llama4: ${line}\n`);
  }

  private speed(now: number, bytes: number): number {
    this.samples.push([now, bytes]);
    while (this.samples.length > 2 && now - this.samples[0][0] > SPEED_WINDOW_MS) this.samples.shift();
    const [t, b] = this.samples[0];
    return now > t ? ((bytes - b) * 1000) / (now - t) : 0;
  }

  private draw(name: string, bytes: number, total: number | undefined, force: boolean): void {
    const now = performance.now();
    const speed = this.speed(now, bytes);
    if (!force && now - this.lastDraw < REDRAW_MS && bytes !== total) return;
    this.lastDraw = now;
    this.bar = progressLine(name, bytes, total, speed, this.columns());
    this.err(`\r${this.bar}\x1b[K`);
  }

  private clear(): void {
    if (this.tty && this.bar) this.err('\r\x1b[K');
  }
}

export interface PullFlags {
  offline?: boolean;
}

/** Pull and report; the exit code (0, or 130 when interrupted). Other failures throw one-line errors. */
export async function runPull(ref: string, flags: PullFlags, io: CommandIo, tty: boolean): Promise<number> {
  const view = new PullView(io.err, tty);
  try {
    const r = await pullModel(ref, { offline: flags.offline, signal: io.signal, events: view });
    const m = r.manifest;
    io.err(
      `llama4: ${m.name} is ${r.downloaded === 0 ? 'in the cache' : 'ready'} (${formatBytes(m.size)}${m.files.length > 1 ? `, ${m.files.length} parts` : ''}): llama4 run -m ${m.name}\n`,
    );
    io.out(`${r.path}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof PullInterrupted) && !io.signal?.aborted) throw e;
    view.note(e instanceof PullInterrupted ? e.message : 'interrupted');
    return 130;
  }
}

export function registerPull(program: Command): void {
  program
    .command('pull')
    .description('download a model into the cache: user/repo[:QUANT] from Hugging Face, or an http(s) URL of a .gguf file')
    .argument('<model>', 'user/repo[:QUANT] (QUANT picks the file: Q4_K_M by default, then Q8_0) or an http(s) URL')
    .option('--offline', 'use only the cache: succeed when the model is there, download nothing')
    .addHelpText(
      'after',
      '\nEnvironment:\n' +
        '  LLAMA4_CACHE    the cache directory (default $XDG_CACHE_HOME/llama4, else ~/.cache/llama4)\n' +
        '  HF_TOKEN        Hugging Face token for private or gated repositories (sent to HF_ENDPOINT only)\n' +
        '  HF_ENDPOINT     the hub (default https://huggingface.co)\n' +
        '  HF_HUB_OFFLINE  1: as --offline\n' +
        '\nThe first file\'s path is printed on stdout; -m NAME (llama4 ls) loads the model in every command.',
    )
    .action(async (ref: string, flags: PullFlags) => {
      const code = await withProcessIo((io) => runPull(ref, flags, io, process.stderr.isTTY === true));
      if (code !== 0) process.exitCode = code;
    });
}
