// A fake Hugging Face hub on 127.0.0.1 for pull tests: the listing API (/api/models/{repo}/tree/main), the
// resolve route (302 to a second server, as the hub redirects to its CDN, with x-linked-etag/-size), and a
// file server with Range support. Faults are armed per file: cut the connection after N bytes, ignore
// Range, corrupt a byte, trickle slowly, publish a wrong sha256. Every request is recorded.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';

export interface FakeRepo {
  files: Record<string, Buffer>;
  /** private: only this bearer token may read it (401 RepoNotFound otherwise, as the hub answers) */
  token?: string;
  /** gated: 403 GatedRepo on downloads unless the token is given */
  gated?: boolean;
  /** entries per listing page (Link: rel="next"); default all in one */
  pageSize?: number;
  /** files whose listing carries a wrong sha256 */
  wrongSha?: string[];
}

export interface Fault {
  /** send this many bytes of the body, then destroy the socket */
  cutAfter?: number;
  /** send only this many bytes, without Content-Length, and end the response cleanly (a short body) */
  shortBody?: number;
  /** answer Range requests with 200 and the whole file */
  ignoreRange?: boolean;
  /** flip one byte in the middle of what is sent */
  corrupt?: boolean;
  /** send in chunks of this many bytes with delayMs between them */
  slow?: { chunk: number; delayMs: number };
  /** how many requests this fault applies to (default 1; Infinity: all) */
  times?: number;
}

export interface Recorded {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  /** plain files on the CDN server, by URL path (/files/x.gguf) */
  readonly plain = new Map<string, { data: Buffer; etag?: 'sha256' | 'none'; token?: string }>();
  readonly faults = new Map<string, Fault>();
  readonly requests: Recorded[] = [];
  private hub: Server = createServer((q, s) => this.onHub(q, s));
  private cdn: Server = createServer((q, s) => this.onCdn(q, s));
  endpoint = '';
  cdnBase = '';

  async start(): Promise<this> {
    const listen = (srv: Server) => new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as AddressInfo).port)));
    this.endpoint = `http://127.0.0.1:${await listen(this.hub)}`;
    this.cdnBase = `http://127.0.0.1:${await listen(this.cdn)}`;
    return this;
  }

  async close(): Promise<void> {
    for (const srv of [this.hub, this.cdn]) {
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  }

  /** forget repositories, files, faults and recorded requests */
  reset(): void {
    this.repos.clear();
    this.plain.clear();
    this.faults.clear();
    this.requests.length = 0;
  }

  /** arm a fault for the file at this CDN path (hub files: `/blob/user/repo/path`; plain: `/files/...`) */
  fault(path: string, f: Fault): void {
    this.faults.set(path, f);
  }

  fileRequests(pathEnd: string): Recorded[] {
    return this.requests.filter((r) => r.server === 'cdn' && r.url.endsWith(pathEnd));
  }

  private record(server: 'hub' | 'cdn', q: IncomingMessage): void {
    this.requests.push({ server, method: q.method ?? '', url: q.url ?? '', range: q.headers.range, authorization: q.headers.authorization });
  }

  private deny(repo: FakeRepo, q: IncomingMessage, s: ServerResponse, download: boolean): boolean {
    const ok = repo.token !== undefined && q.headers.authorization === `Bearer ${repo.token}`;
    if (repo.token !== undefined && !repo.gated && !ok) {
      s.writeHead(401, { 'content-type': 'application/json', 'x-error-code': 'RepoNotFound' }).end('{"error":"Repository not found"}');
      return true;
    }
    if (repo.gated && download && !ok) {
      s.writeHead(403, { 'content-type': 'application/json', 'x-error-code': 'GatedRepo' }).end('{"error":"Access to model is restricted"}');
      return true;
    }
    return false;
  }

  private onHub(q: IncomingMessage, s: ServerResponse): void {
    this.record('hub', q);
    const url = new URL(q.url ?? '/', this.endpoint);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/main$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(url.pathname);
    const repoId = api?.[1] ?? resolve?.[1];
    const repo = repoId ? this.repos.get(repoId) : undefined;
    if (!repo) {
      s.writeHead(404, { 'content-type': 'application/json', 'x-error-code': 'RepoNotFound' }).end('{"error":"Repository not found"}');
      return;
    }
    if (this.deny(repo, q, s, !!resolve)) return;
    if (api) {
      const entries = Object.entries(repo.files).map(([path, data]) => ({
        type: 'file',
        oid: createHash('sha1').update(data).digest('hex'),
        size: data.length,
        path,
        ...(path.endsWith('.gguf')
          ? { lfs: { oid: repo.wrongSha?.includes(path) ? sha256(Buffer.from('wrong')) : sha256(data), size: data.length, pointerSize: 134 } }
          : {}),
      }));
      const size = repo.pageSize ?? entries.length;
      const page = Number(url.searchParams.get('cursor') ?? 0);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if ((page + 1) * size < entries.length) headers.link = `<${this.endpoint}${url.pathname}?recursive=true&cursor=${page + 1}>; rel="next"`;
      s.writeHead(200, headers).end(JSON.stringify(entries.slice(page * size, (page + 1) * size)));
      return;
    }
    const path = decodeURIComponent(resolve![2]);
    const data = repo.files[path];
    if (!data) {
      s.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    s.writeHead(302, {
      location: `${this.cdnBase}/blob/${repoId}/${resolve![2]}`,
      'x-linked-etag': `"${sha256(data)}"`,
      'x-linked-size': String(data.length),
    }).end();
  }

  private onCdn(q: IncomingMessage, s: ServerResponse): void {
    this.record('cdn', q);
    const path = new URL(q.url ?? '/', this.cdnBase).pathname;
    let data: Buffer | undefined;
    let etag: string | undefined;
    const blob = /^\/blob\/([^/]+\/[^/]+)\/(.+)$/.exec(path);
    if (blob) data = this.repos.get(blob[1])?.files[decodeURIComponent(blob[2])];
    const plain = this.plain.get(path);
    if (plain) {
      if (plain.token !== undefined && q.headers.authorization !== `Bearer ${plain.token}`) {
        s.writeHead(401).end('unauthorized');
        return;
      }
      data = plain.data;
      etag = plain.etag === 'sha256' ? `"${sha256(data)}"` : undefined;
    }
    if (!data) {
      s.writeHead(404).end('not found');
      return;
    }
    const fault = this.faults.get(path);
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.faults.delete(path);
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(q.headers.range ?? '');
    let start = 0;
    let end = data.length - 1;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', ...(etag ? { etag } : {}) };
    let status = 200;
    if (m && !fault?.ignoreRange) {
      start = Number(m[1]);
      if (start >= data.length) {
        s.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
        return;
      }
      if (m[2]) end = Math.min(end, Number(m[2]));
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${data.length}`;
    }
    let body = data.subarray(start, end + 1);
    if (fault?.corrupt) {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff;
    }
    if (fault?.shortBody !== undefined) {
      s.writeHead(status, headers);
      s.end(body.subarray(0, fault.shortBody));
      return;
    }
    headers['content-length'] = String(body.length);
    s.writeHead(status, headers);
    if (fault?.cutAfter !== undefined) {
      s.write(body.subarray(0, fault.cutAfter), () => setTimeout(() => s.destroy(), 20));
      return;
    }
    if (fault?.slow) {
      const { chunk, delayMs } = fault.slow;
      let off = 0;
      const next = () => {
        if (s.destroyed) return;
        if (off >= body.length) return void s.end();
        s.write(body.subarray(off, off + chunk));
        off += chunk;
        setTimeout(next, delayMs);
      };
      next();
      return;
    }
    s.end(body);
  }
}

/**
 * A test file's hub and temporary directories: the hub starts before the file's tests and is reset before
 * each; after them it closes and the directories are removed.
 */
export function useFakeHub(): { hub: FakeHub; tempDir: (prefix: string) => string } {
  const hub = new FakeHub();
  const temps: string[] = [];
  beforeAll(async () => {
    await hub.start();
  });
  beforeEach(() => hub.reset());
  afterAll(async () => {
    await hub.close();
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });
  return {
    hub,
    tempDir: (prefix) => {
      const d = mkdtempSync(join(tmpdir(), prefix));
      temps.push(d);
      return d;
    },
  };
}
