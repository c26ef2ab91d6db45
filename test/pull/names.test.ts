// The pure parts of pull: references, quant tags, split names, the hub's file choice, error lines, the
// cache's name lookup and the progress line.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { progressLine, PullView } from '../../src/cli/pull.js';
import { formatAge, renderList } from '../../src/cli/ls.js';
import { findCached, resolveModelPath, type Manifest } from '../../src/pull/cache.js';
import { parseContentRange, sha256FromEtag } from '../../src/pull/download.js';
import { networkError, statusError } from '../../src/pull/http.js';
import { selectModelFiles } from '../../src/pull/hub.js';
import { canonicalTag, parseRef, quantOf, splitInfo, tagMatches } from '../../src/pull/names.js';

describe('model references', () => {
  it('reads user/repo[:QUANT], hf.co/ spellings and URLs, and refuses anything else', () => {
    expect(parseRef('bartowski/SmolLM2-135M-Instruct-GGUF')).toEqual({ kind: 'hf', repo: 'bartowski/SmolLM2-135M-Instruct-GGUF' });
    expect(parseRef('hf.co/unsloth/Qwen3-0.6B-GGUF:q4_k_m')).toEqual({ kind: 'hf', repo: 'unsloth/Qwen3-0.6B-GGUF', tag: 'q4_k_m' });
    const u = parseRef('http://127.0.0.1:8080/m/x-Q8_0.gguf');
    expect(u.kind === 'url' && u.url.port).toBe('8080');
    expect(() => parseRef('justaname')).toThrow(/not a model reference: give user\/repo\[:QUANT\]/);
    expect(() => parseRef('a/b/c')).toThrow(/not a model reference/);
    expect(() => parseRef('a/../b')).toThrow(/not a model reference/);
    expect(() => parseRef('ftp://host/x.gguf')).toThrow(/only http and https/);
    expect(() => parseRef('https://host/x.bin')).toThrow(/must name a \.gguf file/);
  });

  it('finds the quant in file names, canonical tags and llama.cpp tag matching', () => {
    expect(quantOf('Llama-3.2-1B-Instruct-Q4_K_M.gguf')).toBe('Q4_K_M');
    expect(quantOf('SmolLM2-135M-Instruct.Q4_1.gguf')).toBe('Q4_1');
    expect(quantOf('Q4_K_M/DeepSeek-R1-UD-IQ2_XXS-00001-of-00004.gguf')).toBe('IQ2_XXS');
    expect(quantOf('model-bf16.gguf')).toBe('BF16');
    expect(quantOf('stories260K.gguf')).toBeUndefined();
    expect(canonicalTag('q4_k_m')).toBe('Q4_K_M');
    expect(canonicalTag('stories260K')).toBe('stories260K');
    expect(tagMatches('x-Q4_K_M.gguf', 'q4_k_m')).toBe(true);
    expect(tagMatches('x-Q4_K_M.gguf', 'Q4_K')).toBe(false);
    expect(tagMatches('x-IQ4_XS.gguf', 'Q4_XS')).toBe(false);
    expect(tagMatches('x-Q8_0-00001-of-00002.gguf', 'Q8_0')).toBe(true);
    expect(splitInfo('a/x-Q8_0-00002-of-00003.gguf')).toEqual({ prefix: 'a/x-Q8_0', index: 2, count: 3 });
    expect(splitInfo('x-00004-of-00003.gguf')).toBeUndefined();
  });
});

describe('choosing the files of a repository', () => {
  const files = [
    { path: 'README.md' },
    { path: 'm-Q8_0.gguf', size: 8 },
    { path: 'm-Q4_K_M-00002-of-00002.gguf', size: 2 },
    { path: 'm-Q4_K_M-00001-of-00002.gguf', size: 1 },
    { path: 'mmproj-m-F16.gguf', size: 3 },
    { path: 'm-Q6_K.gguf', size: 6 },
  ];
  it('defaults to Q4_K_M (all parts of a split model, in order), takes a tag in any case', () => {
    expect(selectModelFiles(files, 'u/r').files.map((f) => f.path)).toEqual(['m-Q4_K_M-00001-of-00002.gguf', 'm-Q4_K_M-00002-of-00002.gguf']);
    expect(selectModelFiles(files, 'u/r', 'q6_k').files.map((f) => f.path)).toEqual(['m-Q6_K.gguf']);
    expect(selectModelFiles(files.slice(0, 2), 'u/r').files.map((f) => f.path)).toEqual(['m-Q8_0.gguf']);
    expect(selectModelFiles([{ path: 'stories260K.gguf' }], 'u/r').files.map((f) => f.path)).toEqual(['stories260K.gguf']);
  });
  it('lists the quants available when none matches, and refuses an incomplete split set', () => {
    expect(() => selectModelFiles(files, 'u/r', 'Q5_K_M')).toThrow('u/r has no GGUF file for Q5_K_M; available: Q4_K_M, Q6_K, Q8_0');
    expect(() => selectModelFiles([{ path: 'README.md' }], 'u/r')).toThrow('u/r has no GGUF model files');
    expect(() => selectModelFiles(files.filter((f) => !f.path.startsWith('m-Q4_K_M-00002')), 'u/r')).toThrow(/has 2 parts but m-Q4_K_M-00002-of-00002.gguf is missing/);
  });
});

describe('error lines', () => {
  const target = { what: "repository 'u/r'", host: 'huggingface.co', hub: true, repoUrl: 'https://huggingface.co/u/r', hasToken: false };
  const h = (code?: string) => new Headers(code ? { 'x-error-code': code } : {});
  it('say what a status means on the hub, and what to do', () => {
    expect(statusError(404, h('RepoNotFound'), target).message).toBe("repository 'u/r' not found on huggingface.co (404)");
    expect(statusError(401, h('RepoNotFound'), target).message).toMatch(/not found on huggingface.co, or it is private or gated: .*set HF_TOKEN/);
    expect(statusError(403, h('GatedRepo'), target).message).toMatch(/is gated: accept its conditions at https:\/\/huggingface.co\/u\/r .*set HF_TOKEN/);
    expect(statusError(401, h(), { ...target, hasToken: true }).message).toMatch(/rejected HF_TOKEN/);
    expect(statusError(403, h(), target).message).toMatch(/forbidden \(403\): the repository is gated or private; set HF_TOKEN/);
    expect(statusError(503, h(), target).message).toMatch(/answered 503 .*try again later/);
    expect(statusError(401, h(), { ...target, hub: false, what: 'http://x/y.gguf' }).message).toBe('http://x/y.gguf needs authentication (401 from huggingface.co)');
  });
  it('name the cause of a failed connection', () => {
    const err = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
    expect(networkError(err('ECONNREFUSED'), new URL('http://127.0.0.1:9/')).message).toMatch(/^cannot connect to 127.0.0.1:9: connection refused \(no network\? --offline/);
    expect(networkError(err('ENOTFOUND'), new URL('https://huggingface.co/')).message).toMatch(/^cannot resolve huggingface.co: DNS lookup failed/);
    expect(networkError(err('EAI_AGAIN'), new URL('https://huggingface.co/')).message).toMatch(/DNS lookup failed/);
  });
  it('read checksums from ETags and ranges from Content-Range', () => {
    const sha = 'a'.repeat(64);
    expect(sha256FromEtag(`"${sha}"`)).toBe(sha);
    expect(sha256FromEtag(`W/"${sha.toUpperCase()}"`)).toBe(sha);
    expect(sha256FromEtag('"5d41402abc4b2a76b9719d911017c592"')).toBeUndefined();
    expect(parseContentRange('bytes 100-199/200')).toEqual({ start: 100, total: 200 });
    expect(parseContentRange('bytes */200')).toEqual({ total: 200 });
    expect(parseContentRange(null)).toBeUndefined();
  });
});

describe('cache names', () => {
  const m = (name: string, extra: Partial<Manifest> = {}): Manifest => ({
    name,
    source: extra.repo ? `hf:${extra.repo}` : `http://h/${name}.gguf`,
    files: [{ path: `models/${name}.gguf`, size: 1, sha256: '', url: '' }],
    size: 1,
    pulledAt: new Date().toISOString(),
    ...extra,
  });
  const all = [
    m('u/r:Q4_K_M', { repo: 'u/r', tag: 'Q4_K_M' }),
    m('u/r:Q8_0', { repo: 'u/r', tag: 'Q8_0' }),
    m('v/other:Q8_0', { repo: 'v/other', tag: 'Q8_0' }),
    m('stories260K'),
  ];
  it('accepts the full name, user/repo (default tag), repo:TAG, repo, a URL, in any case', () => {
    const find = (q: string) => findCached('/none', q, all)?.name;
    expect(find('U/R:q8_0')).toBe('u/r:Q8_0');
    expect(find('u/r')).toBe('u/r:Q4_K_M');
    expect(find('hf.co/u/r:Q8_0')).toBe('u/r:Q8_0');
    expect(find('other:Q8_0')).toBe('v/other:Q8_0');
    expect(find('other')).toBe('v/other:Q8_0');
    expect(find('stories260K')).toBe('stories260K');
    expect(find('http://h/stories260K.gguf')).toBe('stories260K');
    expect(find('u/r:Q2_K')).toBeUndefined();
  });
  it('refuses an ambiguous short name', () => {
    const two = [m('a/r:Q8_0', { repo: 'a/r', tag: 'Q8_0' }), m('b/r:Q8_0', { repo: 'b/r', tag: 'Q8_0' })];
    expect(() => findCached('/none', 'r:Q8_0', two)).toThrow("'r:Q8_0' matches several cached models: a/r:Q8_0, b/r:Q8_0 (give the full name)");
  });
  it('lets a file on disk win, passes paths through, and says when a name is unknown', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llama4-names-'));
    const env = { LLAMA4_CACHE: join(dir, 'cache') };
    writeFileSync(join(dir, 'u'), 'x');
    expect(resolveModelPath(join(dir, 'u'), env)).toBe(join(dir, 'u'));
    expect(resolveModelPath('/no/such/model.gguf', env)).toBe('/no/such/model.gguf');
    expect(() => resolveModelPath('u/r:Q4_K_M', env)).toThrow("no model file or cached model named 'u/r:Q4_K_M' (llama4 ls lists the cache; llama4 pull u/r:Q4_K_M downloads it)");
  });
  it('ls prints name, quant, size, files and age', () => {
    const now = Date.parse('2025-01-10T12:00:00Z');
    const text = renderList([{ ...all[0], quant: 'Q4_K_M', size: 3 * 1048576, pulledAt: '2025-01-10T10:00:00Z' }], now);
    expect(text.split('\n')).toEqual(['NAME        QUANT       SIZE  FILES  MODIFIED', 'u/r:Q4_K_M  Q4_K_M  3.00 MiB      1  2 hours ago']);
    expect(formatAge('2025-01-10T11:59:30Z', now)).toBe('just now');
    expect(formatAge('2024-01-10T11:59:30Z', now)).toBe('2024-01-10');
  });
});

describe('the progress line', () => {
  it('shows bar, percentage, bytes, speed and ETA within the terminal width', () => {
    const line = progressLine('model-Q4_K_M.gguf', 512 * 1024, 1024 * 1024, 256 * 1024, 100);
    expect(line).toMatch(/^model-Q4_K_M\.gguf █+░+  50%  512\.00 KiB \/ 1\.00 MiB  256\.00 KiB\/s  ETA 2s$/);
    expect(line.length).toBeLessThan(100);
    expect(progressLine('x.gguf', 10, undefined, 0, 80)).toBe('x.gguf  10 B');
  });

  it('a terminal gets one line per file redrawn in place; a pipe gets plain lines', () => {
    let tty = '';
    const v = new PullView((s) => (tty += s), true, () => 80);
    v.resolved('u/r:Q8_0', [{ name: 'a.gguf', size: 2048 }]);
    v.start('a.gguf', 2048, 0);
    v.note('resuming a.gguf at byte 0');
    v.progress('a.gguf', 2048, 2048);
    v.done('a.gguf', { size: 2048, sha256: '', checked: true, reused: false });
    expect(tty).toMatch(/^llama4: pulling u\/r:Q8_0: a\.gguf \(2\.00 KiB\)\n\ra\.gguf ░+   0%  0 B \/ 2\.00 KiB\x1b\[K\r\x1b\[Kllama4: resuming a\.gguf at byte 0\n/);
    expect(tty).toMatch(/\ra\.gguf █+ 100%  2\.00 KiB \/ 2\.00 KiB .*\x1b\[K\r\x1b\[Ka\.gguf: 2\.00 KiB, 2\.00 KiB in [\d.]+ s.*, sha256 verified\n$/);
    let pipe = '';
    const p = new PullView((s) => (pipe += s), false);
    p.start('a.gguf', 2048, 1024);
    p.progress('a.gguf', 2048, 2048);
    p.done('a.gguf', { size: 2048, sha256: '', checked: false, reused: false });
    expect(pipe).toMatch(/^llama4: downloading a\.gguf \(2\.00 KiB\) from byte 1024\nllama4: a\.gguf: 2\.00 KiB, 1\.00 KiB in [\d.]+ s.*, size checked \(no published sha256\)\n$/);
  });
});
