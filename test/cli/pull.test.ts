// `llama4 pull / ls / rm` and `-m NAME`, end to end: the real binary against a fake hub on 127.0.0.1
// (test/helpers/hub-server.ts). Nothing here reaches any other address.
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { splitGguf } from '../../src/gguf/split.js';
import { addon } from '../../src/native/addon.js';
import { cliAsync, runCli } from '../helpers/cli-async.js';
import { sha256, useFakeHub } from '../helpers/hub-server.js';
import { model } from '../helpers/shared.js';

const STORIES = readFileSync(model('stories260K.gguf'));
const REPO = 'test/stories260K-GGUF';
const FILE = 'stories260K-F32.gguf';
const NAME = `${REPO}:F32`;

const { hub, tempDir } = useFakeHub();
let cache: string;
let env: NodeJS.ProcessEnv;
const llama4 = (...args: string[]) => runCli(args, { env });

beforeEach(() => {
  hub.repos.set(REPO, { files: { [FILE]: STORIES, 'README.md': Buffer.from('# stories\n') } });
  cache = tempDir('llama4-cli-pull-');
  env = { LLAMA4_CACHE: cache, HF_ENDPOINT: hub.endpoint, HF_TOKEN: '', HF_HUB_OFFLINE: '' };
});

const installed = () => join(cache, 'models', 'hf', ...REPO.split('/'), FILE);

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('llama4 pull, ls, rm and -m NAME', () => {
  it('pulls, lists, loads by name in every kind of command, and removes', async () => {
    const before = await llama4('info', '-m', NAME);
    expect(before.code).toBe(1);
    expect(before.stderr).toBe(`llama4: no model file or cached model named '${NAME}' (llama4 ls lists the cache; llama4 pull ${NAME} downloads it)\n`);

    const p = await llama4('pull', REPO);
    expect(p.code).toBe(0);
    expect(p.stdout).toBe(`${installed()}\n`);
    expect(p.stderr).toContain(`llama4: pulling ${NAME}: ${FILE} (1.13 MiB)\n`);
    expect(p.stderr).toContain(`llama4: downloading ${FILE} (1.13 MiB)\n`);
    expect(p.stderr).toMatch(/llama4: stories260K-F32\.gguf: 1\.13 MiB, 1\.13 MiB in [\d.]+ s \([\d.]+ [KMG]iB\/s\), sha256 verified\n/);
    expect(p.stderr).not.toMatch(/\r|\x1b/); // no bar when stderr is not a terminal
    expect(sha256(readFileSync(installed()))).toBe(sha256(STORIES));

    const ls = await llama4('ls');
    expect(ls.stdout.split('\n')[0]).toMatch(/^NAME +QUANT +SIZE +FILES +MODIFIED$/);
    expect(ls.stdout.split('\n')[1]).toMatch(/^test\/stories260K-GGUF:F32 +F32 +1\.13 MiB +1 +just now$/);
    const json = JSON.parse((await llama4('ls', '--json')).stdout);
    expect(json).toMatchObject([{ name: NAME, quant: 'F32', size: STORIES.length, files: [installed()], source: `hf:${REPO}` }]);

    const info = await llama4('info', '-m', NAME, '--json');
    expect(JSON.parse(info.stdout).file.path).toBe(installed());
    const tok = await llama4('tokenize', '-m', 'stories260K-GGUF:f32', '-p', 'Hello world', '--json');
    const direct = await llama4('tokenize', '-m', model('stories260K.gguf'), '-p', 'Hello world', '--json');
    expect(tok.stdout).toBe(direct.stdout);
    const run = await llama4('run', '-m', REPO, '-p', 'Once upon a time', '-n', '8', '--temp', '0', '-t', '1');
    const runDirect = await llama4('run', '-m', model('stories260K.gguf'), '-p', 'Once upon a time', '-n', '8', '--temp', '0', '-t', '1');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(runDirect.stdout);
    const ppl = await llama4('perplexity', '-m', NAME, '-f', model('text/python-reference.txt'), '-c', '64', '--chunks', '1', '--json');
    expect(ppl.code).toBe(0);
    const bench = await llama4('bench', '-m', NAME, '-p', '8', '-n', '4', '-r', '1', '-t', '1', '--bw', 'off', '-o', 'json');
    expect(bench.code).toBe(0);

    const out = join(tempDir('llama4-cli-q-'), 'q.gguf');
    expect((await llama4('quantize', NAME, out, 'Q8_0')).code).toBe(0);
    expect((await llama4('quantize', '-m', NAME, out, 'Q8_0')).code).toBe(0);
    const chat = await llama4('chat', '-m', NAME, '--no-history'); // stdin at EOF: loads, then ends
    expect(chat.stderr).not.toMatch(/no model file|cannot open/);
    expect(chat.code).toBe(0);

    const rm = await llama4('rm', NAME);
    expect(rm.stdout).toBe(`deleted '${NAME}' (1.13 MiB, 1 file)\n`);
    expect(existsSync(installed())).toBe(false);
    expect((await llama4('ls')).stdout.trim()).toBe('NAME  QUANT  SIZE  FILES  MODIFIED');
    const again = await llama4('rm', NAME);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`llama4: no cached model named '${NAME}' (llama4 ls lists them)\n`);
  });

  it('a path that exists wins over a cached name', async () => {
    await llama4('pull', REPO);
    const dir = tempDir('llama4-cli-path-');
    copyFileSync(model('synthetic/tiny-llama4-q8_0.synthetic.gguf'), join(dir, 'stories260K-GGUF:F32'));
    const local = await runCli(['info', '-m', 'stories260K-GGUF:F32', '--json'], { env, cwd: dir });
    expect(JSON.parse(local.stdout)).toMatchObject({ file: { path: 'stories260K-GGUF:F32' }, architecture: 'llama4' });
    const cached = await runCli(['info', 'stories260K-GGUF:F32', '--json'], { env });
    expect(JSON.parse(cached.stdout)).toMatchObject({ file: { path: installed() }, architecture: 'llama' });
  });

  it('explains 404, 401, 403, a refused connection and a missing quant', async () => {
    hub.repos.set('me/private', { files: { 'p-F32.gguf': STORIES }, token: 'hf_secret' });
    hub.repos.set('me/gated', { files: { 'g-F32.gguf': STORIES }, gated: true, token: 'hf_ok' });
    const cases: Array<[string[], RegExp, NodeJS.ProcessEnv?]> = [
      [['pull', 'nobody/nothing'], /^llama4: repository 'nobody\/nothing' not found on 127\.0\.0\.1:\d+ \(404\)\n$/],
      [['pull', `${hub.endpoint}/${REPO}/resolve/main/missing-F32.gguf`], /^llama4: http:\/\/127\.0\.0\.1:\d+\/test\/stories260K-GGUF\/resolve\/main\/missing-F32\.gguf not found on 127\.0\.0\.1:\d+ \(404\)\n$/],
      [['pull', 'me/private'], /^llama4: repository 'me\/private' not found on 127\.0\.0\.1:\d+, or it is private or gated: check the name, or set HF_TOKEN to a token that can read it \(401\)\n$/],
      [['pull', 'me/gated'], /^llama4: 'g-F32\.gguf' in me\/gated is gated: accept its conditions at http:\/\/127\.0\.0\.1:\d+\/me\/gated with your account, then set HF_TOKEN to that account's token \(403\)\n$/],
      [['pull', `${REPO}:Q4_K_M`], /^llama4: test\/stories260K-GGUF has no GGUF file for Q4_K_M; available: F32\n$/],
      [['pull', 'nobody/nothing'], /^llama4: cannot connect to 127\.0\.0\.1:\d+: connection refused \(no network\? --offline uses only the cache\)\n$/, { HF_ENDPOINT: `http://127.0.0.1:${await closedPort()}` }],
    ];
    for (const [args, want, extra] of cases) {
      const r = await runCli(args, { env: { ...env, ...extra } });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.replace(/^llama4: pulling .*\n/, '')).toMatch(want);
    }
    expect(existsSync(join(cache, 'manifests'))).toBe(false);
    // with the token both work
    expect((await runCli(['pull', 'me/private'], { env: { ...env, HF_TOKEN: 'hf_secret' } })).code).toBe(0);
    expect((await runCli(['pull', 'me/gated'], { env: { ...env, HF_TOKEN: 'hf_ok' } })).code).toBe(0);
  });

  it('--offline answers from the cache only', async () => {
    const offline = { ...env, HF_ENDPOINT: `http://127.0.0.1:${await closedPort()}` };
    const miss = await runCli(['pull', '--offline', NAME], { env: offline });
    expect(miss.code).toBe(1);
    expect(miss.stderr).toBe(`llama4: '${NAME}' is not in the cache, and offline nothing is downloaded\n`);
    await llama4('pull', NAME);
    const hit = await runCli(['pull', '--offline', REPO], { env: offline });
    expect(hit.code).toBe(0);
    expect(hit.stdout).toBe(`${installed()}\n`);
    expect(hit.stderr).toBe(`llama4: ${NAME} is in the cache (1.13 MiB): llama4 run -m ${NAME}\n`);
  });
});

describe('pull under stress', () => {
  it('resumes after the connection is cut midway, to an identical file', async () => {
    hub.fault(`/blob/${REPO}/${FILE}`, { cutAfter: 500_000 });
    const first = await llama4('pull', NAME);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/llama4: the download of stories260K-F32\.gguf broke off after 500000 of 1185376 bytes \(.*\): the partial download is kept in .*stories260K-F32\.gguf\.partial; run the same pull again to resume\n$/);
    expect(statSync(`${installed()}.partial`).size).toBe(500_000);
    const second = await llama4('pull', NAME);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('llama4: resuming stories260K-F32.gguf at byte 500000\n');
    expect(second.stderr).toContain('llama4: downloading stories260K-F32.gguf (1.13 MiB) from byte 500000\n');
    expect(hub.fileRequests(FILE).map((q) => q.range)).toEqual([undefined, 'bytes=500000-']);
    expect(sha256(readFileSync(installed()))).toBe(sha256(STORIES));
  });

  it('says when the server ignores Range and restarts from zero', async () => {
    hub.fault(`/blob/${REPO}/${FILE}`, { cutAfter: 200_000 });
    await llama4('pull', NAME);
    hub.fault(`/blob/${REPO}/${FILE}`, { ignoreRange: true });
    const r = await llama4('pull', NAME);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('llama4: the server ignored the Range request for stories260K-F32.gguf (200 instead of 206): restarting it from zero\n');
    expect(sha256(readFileSync(installed()))).toBe(sha256(STORIES));
  });

  it('does not install a corrupted transfer', async () => {
    hub.fault(`/blob/${REPO}/${FILE}`, { corrupt: true });
    const r = await llama4('pull', NAME);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/llama4: stories260K-F32\.gguf is corrupt: its sha256 is [0-9a-f]{64}, the source publishes [0-9a-f]{64}; the download was discarded \(run the same pull again\)\n$/);
    expect(existsSync(installed()) || existsSync(`${installed()}.partial`)).toBe(false);
    expect((await llama4('ls', '--json')).stdout.trim()).toBe('[]');
  });

  it('two concurrent pulls of the same model: one downloads, the other waits and reuses it', async () => {
    hub.fault(`/blob/${REPO}/${FILE}`, { slow: { chunk: 64 * 1024, delayMs: 40 } });
    const a = cliAsync(['pull', NAME], { env });
    // the second starts once the first holds the lock
    for (let i = 0; i < 200 && !existsSync(`${installed()}.lock`); i++) await new Promise((r) => setTimeout(r, 25));
    const b = cliAsync(['pull', NAME], { env });
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect([ra.code, rb.code]).toEqual([0, 0]);
    expect(rb.stderr).toMatch(/llama4: waiting for another pull of stories260K-F32\.gguf \(pid \d+\) to finish\n/);
    expect(rb.stderr).toContain('already in the cache');
    expect(hub.fileRequests(FILE)).toHaveLength(1);
    expect(sha256(readFileSync(installed()))).toBe(sha256(STORIES));
    expect(existsSync(`${installed()}.lock`)).toBe(false);
  });

  it('Ctrl-C stops cleanly with exit code 130, keeps the partial, and the next pull resumes', async () => {
    hub.fault(`/blob/${REPO}/${FILE}`, { slow: { chunk: 32 * 1024, delayMs: 50 } });
    const p = cliAsync(['pull', NAME], { env });
    const partial = `${installed()}.partial`;
    for (let i = 0; i < 200 && !(existsSync(partial) && statSync(partial).size >= 100_000); i++) await new Promise((r) => setTimeout(r, 25));
    p.child.kill('SIGINT');
    const r = await p.done;
    expect(r.code).toBe(130);
    const kept = statSync(partial).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(STORIES.length);
    expect(r.stderr).toMatch(/llama4: interrupted: \d+ bytes of stories260K-F32\.gguf kept in .*\.partial; run the same pull again to resume\n$/);
    expect(existsSync(`${installed()}.lock`)).toBe(false);
    expect(existsSync(installed())).toBe(false);
    const again = await llama4('pull', NAME);
    expect(again.code).toBe(0);
    expect(hub.fileRequests(FILE).at(-1)!.range).toBe(`bytes=${kept}-`);
    expect(sha256(readFileSync(installed()))).toBe(sha256(STORIES));
  });
});

describe('split models', () => {
  it('pulls every part, lists the model once, and -m NAME gives part 1', async () => {
    const dir = tempDir('llama4-split-src-');
    const parts = await splitGguf(model('stories260K.gguf'), join(dir, 'stories260K-F32'), { maxTensors: 20 });
    expect(parts.length).toBe(3);
    hub.repos.set('test/split-GGUF', { files: Object.fromEntries(parts.map((p) => [`F32/${basename(p.path)}`, readFileSync(p.path)])) });
    const r = await llama4('pull', 'test/split-GGUF');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('llama4: pulling test/split-GGUF:F32: 3 files');
    const root = join(cache, 'models', 'hf', 'test', 'split-GGUF', 'F32');
    expect(r.stdout).toBe(`${join(root, 'stories260K-F32-00001-of-00003.gguf')}\n`);
    for (const p of parts) expect(sha256(readFileSync(join(root, basename(p.path))))).toBe(sha256(readFileSync(p.path)));
    const ls = JSON.parse((await llama4('ls', '--json')).stdout);
    expect(ls).toHaveLength(1);
    expect(ls[0].files.map((f: string) => basename(f))).toEqual(parts.map((p) => basename(p.path)));
    const info = JSON.parse((await llama4('info', '-m', 'test/split-GGUF:F32', '--json')).stdout);
    expect(info.file.path).toBe(join(root, 'stories260K-F32-00001-of-00003.gguf'));
    // loading the parts as one model is the native loader's (when it reads split.count)
    if ((await addon().readGguf(parts[0].path, { arrayLimit: 0 })).parts) {
      const run = await llama4('run', '-m', 'split-GGUF', '-p', 'Once upon a time', '-n', '8', '--temp', '0', '-t', '1');
      const direct = await llama4('run', '-m', model('stories260K.gguf'), '-p', 'Once upon a time', '-n', '8', '--temp', '0', '-t', '1');
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(direct.stdout);
    }
    const rm = await llama4('rm', 'split-GGUF');
    expect(rm.stdout).toBe(`deleted 'test/split-GGUF:F32' (${(ls[0].size / 1048576).toFixed(2)} MiB, 3 files)\n`);
    expect(existsSync(join(cache, 'models', 'hf', 'test'))).toBe(false);
  });
});
