// One pull per file at a time: an exclusive lock file (created with O_EXCL) holding the owner's pid and
// host. A second pull of the same file waits for the first and then finds the file installed. A lock whose
// process is gone (same host, pid not alive) is stale: it is moved aside under a unique name and removed,
// so two waiters that both find it stale cannot both break it.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { PullInterrupted } from './errors.js';

interface LockInfo {
  pid: number;
  host: string;
  token: string;
}

/** A lock file whose content cannot be read yet is given this long to be written before it counts as stale. */
const UNREADABLE_GRACE_MS = 10_000;

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    const j = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    return typeof j.pid === 'number' && typeof j.token === 'string' ? j : undefined;
  } catch {
    return undefined;
  }
}

async function isStale(path: string, info: LockInfo | undefined): Promise<boolean> {
  if (info) return info.host === hostname() && !pidAlive(info.pid);
  try {
    return Date.now() - (await stat(path)).mtimeMs > UNREADABLE_GRACE_MS;
  } catch {
    return false; // gone already: the next attempt creates it
  }
}

/** Move a stale lock aside; if what was moved is not the stale lock read before (a new owner's), put it back. */
async function breakStale(path: string, seen: LockInfo | undefined): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  const moved = await readLock(aside);
  if (moved && moved.token !== seen?.token) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}

export interface LockOptions {
  signal?: AbortSignal;
  /** called once when the lock is held by a live process */
  onWait?: (holder: { pid: number; host: string } | undefined) => void;
  pollMs?: number;
}

/** Take the lock (waiting while another live process holds it); resolves to the release function. */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const me: LockInfo = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex') };
  let waited = false;
  for (;;) {
    if (opts.signal?.aborted) throw new PullInterrupted();
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(JSON.stringify(me));
      } finally {
        await fh.close();
      }
      return async () => {
        const now = await readLock(path);
        if (now?.token === me.token) await unlink(path).catch(() => {});
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readLock(path);
    if (await isStale(path, holder)) {
      await breakStale(path, holder);
      continue;
    }
    if (!waited) {
      waited = true;
      opts.onWait?.(holder ? { pid: holder.pid, host: holder.host } : undefined);
    }
    await new Promise<void>((r) => {
      const t = setTimeout(r, opts.pollMs ?? 200);
      opts.signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });
  }
}
