// Pulls against a real HTTP server on 127.0.0.1 (test/helpers/hub-server.ts), in process: resume after a
// cut connection, corruption caught, Range ignored, the token kept to the hub, locks, pagination, a full disk.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/pull/lock.js';
import { pullModel, type PullEvents } from '../../src/pull/pull.js';
import { readManifests } from '../../src/pull/cache.js';
import { sha256, useFakeHub } from '../helpers/hub-server.js';
import { model } from '../helpers/shared.js';

const STORIES = readFileSync(model('stories260K.gguf'));
const TINY = readFileSync(model('synthetic/tiny-llama4-q8_0.synthetic.gguf'));
const REPO = 'test/stories-GGUF';
const FILE = 'stories260K-F32.gguf';
const BLOB = `/blob/${REPO}/${FILE}`;

const { hub, tempDir } = useFakeHub();
let cache: string;
let env: NodeJS.ProcessEnv;
const notes: string[] = [];
const events: PullEvents = { note: (m) => notes.push(m) };

beforeEach(() => {
  notes.length = 0;
  hub.repos.set(REPO, { files: { [FILE]: STORIES, 'tiny-Q8_0.gguf': TINY, 'README.md': Buffer.from('# test\n') } });
  cache = tempDir('llama4-pull-');
  env = { LLAMA4_CACHE: cache, HF_ENDPOINT: hub.endpoint };
});

const installed = () => join(cache, 'models', 'hf', ...REPO.split('/'), FILE);
const pull = (ref: string, extra: Partial<Parameters<typeof pullModel>[1]> = {}) => pullModel(ref, { env, events, ...extra });
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: Error) => e.message);

describe('pull from a hub', () => {
  it('installs the quant asked for, verified, and records it', async () => {
    const r = await pull(`${REPO}:f32`);
    expect(r.path).toBe(installed());
    expect(sha256(readFileSync(r.path))).toBe(sha256(STORIES));
    expect(r.manifest).toMatchObject({ name: `${REPO}:F32`, quant: 'F32', size: STORIES.length, repo: REPO, tag: 'F32' });
    expect(r.manifest.files[0].sha256).toBe(sha256(STORIES));
    expect(readManifests(cache).map((m) => m.name)).toEqual([`${REPO}:F32`]);
    expect(existsSync(`${r.path}.partial`) || existsSync(`${r.path}.lock`)).toBe(false);
    // a second pull downloads nothing
    hub.requests.length = 0;
    expect((await pull(`${REPO}:F32`)).downloaded).toBe(0);
    expect(hub.requests.filter((q) => q.server === 'cdn')).toHaveLength(0);
  });

  it('resumes an interrupted transfer with Range to an identical file', async () => {
    hub.fault(BLOB, { cutAfter: 400_000 });
    const msg = await failure(pull(`${REPO}:F32`));
    expect(msg).toMatch(new RegExp(`^the download of ${FILE} broke off after 400000 of ${STORIES.length} bytes .*partial download is kept in .*\\.partial; run the same pull again to resume$`));
    expect(statSync(`${installed()}.partial`).size).toBe(400_000);
    expect(existsSync(installed())).toBe(false);
    expect(readManifests(cache)).toEqual([]);
    const r = await pull(`${REPO}:F32`);
    expect(hub.fileRequests(BLOB).map((q) => q.range)).toEqual([undefined, 'bytes=400000-']);
    expect(notes).toContain(`resuming ${FILE} at byte 400000`);
    expect(sha256(readFileSync(r.path))).toBe(sha256(STORIES));
    expect(existsSync(`${installed()}.partial`)).toBe(false);
  });

  it('calls a short response that ends cleanly truncated, keeps it, and resumes', async () => {
    hub.fault(BLOB, { shortBody: 123_456 });
    expect(await failure(pull(`${REPO}:F32`))).toMatch(
      new RegExp(`^the server sent 123456 of ${STORIES.length} bytes of ${FILE} \\(truncated response\\): the partial download is kept in .*\\.partial; run the same pull again to resume$`),
    );
    const r = await pull(`${REPO}:F32`);
    expect(hub.fileRequests(BLOB).map((q) => q.range)).toEqual([undefined, 'bytes=123456-']);
    expect(sha256(readFileSync(r.path))).toBe(sha256(STORIES));
  });

  it('detects a corrupted transfer and installs nothing', async () => {
    hub.fault(BLOB, { corrupt: true });
    const msg = await failure(pull(`${REPO}:F32`));
    expect(msg).toMatch(new RegExp(`^${FILE} is corrupt: its sha256 is [0-9a-f]{64}, the source publishes ${sha256(STORIES)}; the download was discarded`));
    expect(readdirSync(join(cache, 'models', 'hf', ...REPO.split('/')))).toEqual([]);
    expect(readManifests(cache)).toEqual([]);
    // the next pull starts clean and succeeds
    expect(sha256(readFileSync((await pull(`${REPO}:F32`)).path))).toBe(sha256(STORIES));
  });

  it('detects a corrupted resume: the bytes before the cut are hashed too', async () => {
    mkdirSync(join(cache, 'models', 'hf', ...REPO.split('/')), { recursive: true });
    const bad = Buffer.from(STORIES.subarray(0, 1000));
    bad[10] ^= 1;
    writeFileSync(`${installed()}.partial`, bad);
    expect(await failure(pull(`${REPO}:F32`))).toMatch(/is corrupt: its sha256 is/);
    expect(existsSync(installed())).toBe(false);
    expect(existsSync(`${installed()}.partial`)).toBe(false);
  });

  it('restarts from zero, and says so, when the server ignores Range', async () => {
    hub.fault(BLOB, { cutAfter: 300_000 });
    await failure(pull(`${REPO}:F32`));
    hub.fault(BLOB, { ignoreRange: true });
    const r = await pull(`${REPO}:F32`);
    expect(notes).toContain(`the server ignored the Range request for ${FILE} (200 instead of 206): restarting it from zero`);
    expect(sha256(readFileSync(r.path))).toBe(sha256(STORIES));
  });

  it('installs a complete partial without downloading it again', async () => {
    mkdirSync(join(cache, 'models', 'hf', ...REPO.split('/')), { recursive: true });
    writeFileSync(`${installed()}.partial`, STORIES);
    const r = await pull(`${REPO}:F32`);
    expect(hub.fileRequests(BLOB)).toHaveLength(0);
    expect(sha256(readFileSync(r.path))).toBe(sha256(STORIES));
  });

  it('refuses a file whose published sha256 differs', async () => {
    hub.repos.get(REPO)!.wrongSha = [FILE];
    expect(await failure(pull(`${REPO}:F32`))).toMatch(/is corrupt/);
    expect(existsSync(installed())).toBe(false);
  });

  it('reads a paginated listing', async () => {
    const files: Record<string, Buffer> = { [FILE]: STORIES };
    for (let i = 0; i < 7; i++) files[`notes/${i}.txt`] = Buffer.from(String(i));
    hub.repos.set(REPO, { files: { ...Object.fromEntries(Object.entries(files).reverse()) }, pageSize: 3 });
    await pull(REPO);
    expect(hub.requests.filter((q) => q.url.startsWith('/api/')).length).toBe(3);
  });

  it('sends HF_TOKEN to the hub only, never to the server it redirects to', async () => {
    hub.repos.set('me/private', { files: { 'p-Q8_0.gguf': TINY }, token: 'hf_secret' });
    expect(await failure(pull('me/private'))).toMatch(/not found on 127\.0\.0\.1:\d+, or it is private or gated: check the name, or set HF_TOKEN/);
    hub.requests.length = 0;
    await pullModel('me/private', { env: { ...env, HF_TOKEN: 'hf_secret' } });
    expect(hub.requests.filter((q) => q.server === 'cdn')).toHaveLength(1);
    expect(hub.requests.filter((q) => q.server === 'hub').every((q) => q.authorization === 'Bearer hf_secret')).toBe(true);
    expect(hub.requests.filter((q) => q.server === 'cdn').every((q) => q.authorization === undefined)).toBe(true);
  });

  it('keeps the partial when the disk is full, and says so', async () => {
    if (!existsSync('/dev/full')) return;
    mkdirSync(join(cache, 'models', 'hf', ...REPO.split('/')), { recursive: true });
    symlinkSync('/dev/full', `${installed()}.partial`); // writes fail with ENOSPC, as on a full disk
    const msg = await failure(pull(`${REPO}:F32`));
    expect(msg).toMatch(new RegExp(`^the disk is full \\(ENOSPC\\) after 0 bytes of ${FILE}: the partial download is kept in .*\\.partial; free some space and run the same pull again to resume$`));
    expect(existsSync(installed())).toBe(false);
  });
});

describe('pull from a URL', () => {
  it('checks the size without a checksum, resumes a truncated response, and names the model by its file', async () => {
    hub.plain.set('/files/tiny.gguf', { data: TINY });
    hub.fault('/files/tiny.gguf', { cutAfter: 1000 });
    const url = `${hub.cdnBase}/files/tiny.gguf`;
    expect(await failure(pull(url))).toMatch(/broke off after 1000 of \d+ bytes/);
    const r = await pull(url);
    expect(r.manifest).toMatchObject({ name: 'tiny', source: url, quant: 'Q8_0' });
    expect(sha256(readFileSync(r.path))).toBe(sha256(TINY));
  });

  it('installs a complete partial when the server answers 416 to the resume', async () => {
    hub.plain.set('/files/tiny.gguf', { data: TINY });
    const url = new URL(`${hub.cdnBase}/files/tiny.gguf`);
    const dest = join(cache, 'models', 'url', url.host.replace(':', '_'), 'files', 'tiny.gguf');
    mkdirSync(join(dest, '..'), { recursive: true });
    writeFileSync(`${dest}.partial`, TINY);
    const r = await pull(url.href);
    expect(hub.fileRequests('/files/tiny.gguf').map((q) => q.range)).toEqual([`bytes=${TINY.length}-`]);
    expect(r.path).toBe(dest);
    expect(sha256(readFileSync(dest))).toBe(sha256(TINY));
  });

  it('uses an ETag that is a sha256 as the checksum', async () => {
    hub.plain.set('/files/tiny.gguf', { data: TINY, etag: 'sha256' });
    hub.fault('/files/tiny.gguf', { corrupt: true });
    expect(await failure(pull(`${hub.cdnBase}/files/tiny.gguf`))).toMatch(/tiny\.gguf is corrupt/);
  });

  it('refuses what is not a GGUF file', async () => {
    hub.plain.set('/files/page.gguf', { data: Buffer.from('<!DOCTYPE html><html>login</html>') });
    expect(await failure(pull(`${hub.cdnBase}/files/page.gguf`))).toBe('page.gguf is not a GGUF file (it starts with "<!DO"): the download was discarded');
    expect(readManifests(cache)).toEqual([]);
  });

  it('fetches every part of a split URL', async () => {
    hub.plain.set('/files/s-Q8_0-00001-of-00002.gguf', { data: STORIES });
    hub.plain.set('/files/s-Q8_0-00002-of-00002.gguf', { data: TINY });
    const r = await pull(`${hub.cdnBase}/files/s-Q8_0-00001-of-00002.gguf`);
    expect(r.manifest.files.map((f) => f.path.split('/').pop())).toEqual(['s-Q8_0-00001-of-00002.gguf', 's-Q8_0-00002-of-00002.gguf']);
    expect(r.path.endsWith('s-Q8_0-00001-of-00002.gguf')).toBe(true);
  });
});

describe('locks', () => {
  it('a second pull of the same file waits for the first and reuses its result', async () => {
    hub.fault(BLOB, { slow: { chunk: 100_000, delayMs: 20 } });
    const [a, b] = await Promise.all([pull(`${REPO}:F32`), pull(`${REPO}:F32`)]);
    expect(a.path).toBe(b.path);
    expect(hub.fileRequests(BLOB)).toHaveLength(1);
    expect(notes.some((n) => /^waiting for another pull of stories260K-F32\.gguf \(pid \d+\) to finish$/.test(n))).toBe(true);
    expect(sha256(readFileSync(a.path))).toBe(sha256(STORIES));
  });

  it('breaks a stale lock left by a process that is gone', async () => {
    const path = join(cache, 'x.lock');
    writeFileSync(path, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), token: 'old' }));
    const release = await acquireLock(path, { pollMs: 10 });
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    await release();
    expect(existsSync(path)).toBe(false);
  });

  it('waits for a live holder until it lets go', async () => {
    const path = join(cache, 'y.lock');
    const first = await acquireLock(path);
    let waited = false;
    const second = acquireLock(path, { pollMs: 10, onWait: () => (waited = true) });
    await new Promise((r) => setTimeout(r, 50));
    expect(waited).toBe(true);
    await first();
    await (await second)();
  });
});
