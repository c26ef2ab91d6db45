// One file into the cache, resumable: bytes go to DEST.partial (continued with an HTTP Range request when a
// previous pull left one), are hashed on the way, and DEST appears only by an atomic rename once the size
// and sha256 (published by the hub, or an ETag / x-linked-etag that is a sha256) check out and the file
// starts with the GGUF magic. A broken transfer keeps the partial for the next pull; a corrupt one (wrong
// checksum) is discarded. The lock makes a second pull of the same file wait and then reuse it.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PullError, PullInterrupted } from './errors.js';
import { errorCode, httpGet, statusError, type HttpContext, type HttpResponse, type Target } from './http.js';
import { acquireLock } from './lock.js';

export interface FileSpec {
  url: string;
  /** the installed file */
  dest: string;
  /** the file as the user knows it (repo path or URL file name) */
  name: string;
  /** published size and sha256 (lower-case hex), when the source publishes them */
  size?: number;
  sha256?: string;
  /** the sha256 a previous pull recorded for dest (spares re-hashing an installed file) */
  recordedSha256?: string;
  /** what an HTTP error names */
  target: Target;
}

export interface FileResult {
  size: number;
  sha256: string;
  /** the sha256 was checked against a published one */
  checked: boolean;
  /** already installed: nothing downloaded */
  reused: boolean;
}

export interface DownloadEvents {
  note?(message: string): void;
  start?(name: string, total: number | undefined, from: number): void;
  progress?(name: string, bytes: number, total: number | undefined): void;
  done?(name: string, result: FileResult): void;
}

const GGUF_MAGIC = 'GGUF';
const SHA256_RE = /^[0-9a-f]{64}$/;

/** An ETag that is a sha256 (the hub's x-linked-etag of an LFS file): `"<64 hex>"`, maybe weak. */
export function sha256FromEtag(etag: string | null | undefined): string | undefined {
  const v = etag?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return v && SHA256_RE.test(v) ? v : undefined;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

async function hashFile(path: string, bytes: number, h: Hash, signal?: AbortSignal): Promise<void> {
  if (bytes === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1, signal })) h.update(chunk as Buffer);
}

async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  await hashFile(path, (await stat(path)).size, h, signal);
  return h.digest('hex');
}

/** `bytes START-END/TOTAL` of a 206 (TOTAL may be a star), or `bytes STAR/TOTAL` of a 416. */
export function parseContentRange(v: string | null): { start?: number; total?: number } | undefined {
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(v?.trim() ?? '');
  if (!m) return undefined;
  return { ...(m[1] !== undefined ? { start: Number(m[1]) } : {}), ...(m[3] !== '*' ? { total: Number(m[3]) } : {}) };
}

const fmtMiB = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;

async function ensureSpace(dir: string, need: number, name: string): Promise<void> {
  if (need <= 0) return;
  let free: number;
  try {
    const s = await statfs(dir);
    free = s.bavail * s.bsize;
  } catch {
    return; // unknown: ENOSPC will say it if it comes to that
  }
  if (free < need) throw new PullError(`not enough disk space for ${name}: ${fmtMiB(need)} still to download, ${fmtMiB(free)} free in ${dir}`);
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

function isDiskFull(e: unknown): boolean {
  const c = (e as NodeJS.ErrnoException).code;
  return c === 'ENOSPC' || c === 'EDQUOT';
}

export async function downloadFile(spec: FileSpec, http: HttpContext, ev: DownloadEvents = {}): Promise<FileResult> {
  await mkdir(dirname(spec.dest), { recursive: true });
  const release = await acquireLock(`${spec.dest}.lock`, {
    signal: http.signal,
    onWait: (h) => ev.note?.(`waiting for another pull of ${spec.name}${h ? ` (pid ${h.pid})` : ''} to finish`),
  });
  try {
    const installed = await reuseInstalled(spec, ev, http.signal);
    if (installed) {
      ev.done?.(spec.name, installed);
      return installed;
    }
    const r = await fetchFile(spec, http, ev);
    ev.done?.(spec.name, r);
    return r;
  } finally {
    await release();
  }
}

/** The installed file, when it is the published one (same size, same sha256 where one is published). */
async function reuseInstalled(spec: FileSpec, ev: DownloadEvents, signal?: AbortSignal): Promise<FileResult | undefined> {
  const size = await sizeOf(spec.dest);
  if (size === undefined) return undefined;
  if (spec.size !== undefined && size !== spec.size) {
    ev.note?.(`${spec.name} in the cache differs from the published file (${size} bytes, not ${spec.size}): downloading it again`);
    return undefined;
  }
  const sha = spec.recordedSha256 ?? (await sha256File(spec.dest, signal));
  if (spec.sha256 !== undefined && sha !== spec.sha256) {
    const fresh = spec.recordedSha256 ? await sha256File(spec.dest, signal) : sha;
    if (fresh !== spec.sha256) {
      ev.note?.(`${spec.name} changed upstream (sha256 ${spec.sha256.slice(0, 12)}…, cached ${fresh.slice(0, 12)}…): downloading it again`);
      return undefined;
    }
  }
  return { size, sha256: spec.sha256 ?? sha, checked: spec.sha256 !== undefined, reused: true };
}

async function fetchFile(spec: FileSpec, http: HttpContext, ev: DownloadEvents): Promise<FileResult> {
  const partial = `${spec.dest}.partial`;
  let from = (await sizeOf(partial)) ?? 0;
  if (spec.size !== undefined && from > spec.size) {
    ev.note?.(`${partial} is larger than ${spec.name} (${from} > ${spec.size} bytes): starting over`);
    from = 0;
  }
  if (from > 0) ev.note?.(`resuming ${spec.name} at byte ${from}`);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (spec.size !== undefined && from === spec.size) return install(spec, partial, from, undefined, spec.sha256, http.signal);
    const r = await httpGet(spec.url, http, from > 0 ? { range: `bytes=${from}-` } : {});
    const status = r.res.status;
    if (status === 416 && from > 0) {
      await r.res.body?.cancel().catch(() => {});
      const total = parseContentRange(r.res.headers.get('content-range'))?.total;
      if (total === from) return install(spec, partial, from, undefined, spec.sha256 ?? sha256FromEtag(r.linkedEtag), http.signal);
      ev.note?.(`the server refused to resume ${spec.name} at byte ${from} (416): restarting it from zero`);
      from = 0;
      continue;
    }
    if (status !== 200 && status !== 206) {
      await r.res.body?.cancel().catch(() => {});
      throw statusError(status, r.res.headers, spec.target);
    }
    if (status === 206) {
      const cr = parseContentRange(r.res.headers.get('content-range'));
      if (cr?.start !== from) {
        await r.res.body?.cancel().catch(() => {});
        ev.note?.(`the server answered the Range request for ${spec.name} with another range (${r.res.headers.get('content-range')}): restarting it from zero`);
        from = 0;
        continue;
      }
      return receive(spec, r, partial, from, cr.total, http, ev);
    }
    if (from > 0) ev.note?.(`the server ignored the Range request for ${spec.name} (200 instead of 206): restarting it from zero`);
    const len = r.res.headers.get('content-length');
    return receive(spec, r, partial, 0, len !== null && /^\d+$/.test(len) ? Number(len) : r.linkedSize, http, ev);
  }
  throw new PullError(`the server kept answering ${spec.name}'s Range requests inconsistently: giving up`);
}

async function receive(spec: FileSpec, r: HttpResponse, partial: string, start: number, total: number | undefined, http: HttpContext, ev: DownloadEvents): Promise<FileResult> {
  if (spec.size !== undefined && total !== undefined && total !== spec.size) {
    await r.res.body?.cancel().catch(() => {});
    throw new PullError(`${spec.name}: the server sends ${total} bytes but ${spec.size} are published: the file changed while pulling; run the same pull again`);
  }
  total ??= spec.size;
  const expectedSha = spec.sha256 ?? sha256FromEtag(r.linkedEtag) ?? sha256FromEtag(r.res.headers.get('etag'));
  if (total !== undefined) await ensureSpace(dirname(partial), total - start, spec.name);
  const hash = createHash('sha256');
  await hashFile(partial, start, hash, http.signal);
  const fh = await open(partial, start > 0 ? 'a' : 'w');
  let got = start;
  ev.start?.(spec.name, total, start);
  try {
    if (!r.res.body) throw new Error('empty response');
    for await (const chunk of r.res.body) {
      try {
        await writeAll(fh, chunk);
      } catch (e) {
        if (isDiskFull(e))
          throw new PullError(
            `the disk is full (${errorCode(e)}) after ${got} bytes of ${spec.name}: the partial download is kept in ${partial}; free some space and run the same pull again to resume`,
          );
        throw e;
      }
      hash.update(chunk);
      got += chunk.length;
      ev.progress?.(spec.name, got, total);
    }
  } catch (e) {
    await fh.close().catch(() => {});
    if (e instanceof PullError) throw e;
    if (http.signal?.aborted) throw new PullInterrupted(spec.name, partial, got);
    const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
    throw new PullError(
      `the download of ${spec.name} broke off after ${got}${total !== undefined ? ` of ${total}` : ''} bytes (${cause}): the partial download is kept in ${partial}; run the same pull again to resume`,
    );
  }
  await fh.sync().catch(() => {});
  await fh.close();
  if (total !== undefined && got < total)
    throw new PullError(
      `the server sent ${got} of ${total} bytes of ${spec.name} (truncated response): the partial download is kept in ${partial}; run the same pull again to resume`,
    );
  if (total !== undefined && got > total) {
    await rm(partial, { force: true });
    throw new PullError(`the server sent ${got} bytes of ${spec.name}, more than the ${total} announced: the download was discarded`);
  }
  return install(spec, partial, got, hash.digest('hex'), expectedSha, http.signal);
}

/** Verify the complete partial (sha256, GGUF magic) and rename it into place. */
async function install(spec: FileSpec, partial: string, size: number, sha: string | undefined, expectedSha: string | undefined, signal?: AbortSignal): Promise<FileResult> {
  sha ??= await sha256File(partial, signal);
  if (expectedSha !== undefined && sha !== expectedSha) {
    await rm(partial, { force: true });
    throw new PullError(
      `${spec.name} is corrupt: its sha256 is ${sha}, the source publishes ${expectedSha}; the download was discarded (run the same pull again)`,
    );
  }
  const head = Buffer.alloc(4);
  const fh = await open(partial, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head.toString('latin1') !== GGUF_MAGIC) {
    await rm(partial, { force: true });
    throw new PullError(`${spec.name} is not a GGUF file (it starts with ${JSON.stringify(head.toString('latin1'))}): the download was discarded`);
  }
  await rename(partial, spec.dest);
  return { size, sha256: sha, checked: expectedSha !== undefined, reused: false };
}
