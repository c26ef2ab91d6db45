// The model cache: where pulled files live, the manifest that names each model, and the one place where a
// `-m` value becomes a path (resolveModelPath). Layout under the cache root:
//   models/hf/<user>/<repo>/<file in the repo>      files pulled from the hub (.partial / .lock beside them)
//   models/url/<host>/<url path>                     files pulled from a plain URL
//   manifests/<name, encoded>.json                   one per model: its name, source and files
// A file appears under models/ only complete and verified (download.ts); a model appears in manifests/
// only once all its files are there.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PullError } from './errors.js';
import { DEFAULT_TAGS, parseRef } from './names.js';

export interface CachedFile {
  /** relative to the cache root, '/'-separated */
  path: string;
  size: number;
  sha256: string;
  url: string;
}

export interface Manifest {
  /** `user/repo:TAG` for the hub, the file's stem for a URL */
  name: string;
  /** `hf:user/repo` or the URL */
  source: string;
  repo?: string;
  tag?: string;
  quant?: string;
  /** in part order: files[0] is what -m NAME loads */
  files: CachedFile[];
  size: number;
  /** ISO time of the pull that installed it */
  pulledAt: string;
}

/** LLAMA4_CACHE, else $XDG_CACHE_HOME/llama4, else ~/.cache/llama4. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LLAMA4_CACHE) return resolve(env.LLAMA4_CACHE);
  const xdg = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(xdg, 'llama4');
}

/** A path from a server (repo file, URL path) as safe segments: no empty, `.` or `..` parts. */
function safeSegments(path: string, what: string): string[] {
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 0 || parts.some((p) => p === '.' || p === '..' || p.includes('\\') || p.includes('\0')))
    throw new PullError(`refusing the unsafe file path '${path}' from ${what}`);
  return parts;
}

export function hubFilePath(root: string, repo: string, file: string): string {
  return join(root, 'models', 'hf', ...repo.split('/'), ...safeSegments(file, repo));
}

export function urlFilePath(root: string, url: URL): string {
  const host = url.host.replace(/[^A-Za-z0-9.-]/g, '_');
  const segs = safeSegments(url.pathname, url.href).map((s) => {
    let d = s;
    try {
      d = decodeURIComponent(s);
    } catch {
      /* keep it encoded */
    }
    return d.replace(/[^A-Za-z0-9._+-]/g, '_');
  });
  return join(root, 'models', 'url', host, ...segs);
}

/** The path a manifest records for a file: relative to the root, '/'-separated. */
export function cachePath(root: string, abs: string): string {
  return relative(root, abs).split(sep).join('/');
}

export function absolutePath(root: string, f: CachedFile): string {
  return join(root, ...f.path.split('/'));
}

function manifestFile(root: string, name: string): string {
  return join(root, 'manifests', encodeURIComponent(name.toLowerCase()) + '.json');
}

export function readManifests(root: string): Manifest[] {
  const dir = join(root, 'manifests');
  if (!existsSync(dir)) return [];
  const out: Manifest[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      const m = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Manifest;
      if (typeof m.name === 'string' && Array.isArray(m.files) && m.files.length > 0) out.push(m);
    } catch {
      // a manifest being replaced or damaged by hand: not a model
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Written whole or not at all (a unique temporary name, then rename). */
export function writeManifest(root: string, m: Manifest): void {
  const path = manifestFile(root, m.name);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, JSON.stringify(m, null, 1) + '\n');
  renameSync(tmp, path);
}

function pick(cands: Manifest[], query: string): Manifest | undefined {
  if (cands.length <= 1) return cands[0];
  for (const t of DEFAULT_TAGS) {
    const d = cands.filter((m) => m.tag?.toUpperCase() === t);
    if (d.length === 1) return d[0];
  }
  throw new PullError(`'${query}' matches several cached models: ${cands.map((m) => m.name).join(', ')} (give the full name)`);
}

/**
 * The cached model a name stands for: the full name `ls` prints (any case), the reference or URL it was
 * pulled with, `user/repo` (the default tag, or the only one cached), or the short `repo:TAG` / `repo`.
 */
export function findCached(root: string, query: string, all = readManifests(root)): Manifest | undefined {
  const q = query.trim().toLowerCase();
  const exact = all.filter((m) => m.name.toLowerCase() === q || m.source.toLowerCase() === q);
  if (exact.length) return exact[0];
  let ref;
  try {
    ref = parseRef(query);
  } catch {
    ref = undefined;
  }
  if (ref?.kind === 'hf') {
    const repo = ref.repo.toLowerCase();
    const tag = ref.tag?.toLowerCase();
    const same = all.filter((m) => m.repo?.toLowerCase() === repo && (tag === undefined || m.tag?.toLowerCase() === tag));
    if (same.length) return pick(same, query);
  }
  const short = (m: Manifest) => m.name.slice(m.name.indexOf('/') + 1).toLowerCase();
  const byShort = all.filter((m) => short(m) === q);
  if (byShort.length) return pick(byShort, query);
  if (!q.includes(':')) {
    const byRepo = all.filter((m) => m.tag !== undefined && short(m).split(':')[0] === q);
    if (byRepo.length) return pick(byRepo, query);
  }
  return undefined;
}

/** The model files of a cached model, checked to be there. */
export function cachedFiles(root: string, m: Manifest): string[] {
  const paths = m.files.map((f) => absolutePath(root, f));
  const missing = paths.find((p) => !existsSync(p));
  if (missing) throw new PullError(`the cached model '${m.name}' is missing ${missing}: run llama4 pull ${pullRefOf(m)} again`);
  return paths;
}

/** What to give `pull` to fetch a cached model again. */
export function pullRefOf(m: Manifest): string {
  return m.source.startsWith('hf:') ? m.name : m.source;
}

/**
 * A -m value as a path: a file that exists wins; otherwise a cached model's name (its first file: the
 * loader finds the other parts of a split model beside it). A path-like value that is not there is
 * returned as it is, so the loader reports it.
 */
export function resolveModelPath(value: string, env: NodeJS.ProcessEnv = process.env): string {
  if (existsSync(value)) return value;
  const pathLike = /^(?:\/|\.{1,2}[/\\]|~)/.test(value);
  if (!pathLike) {
    const root = cacheRoot(env);
    const m = findCached(root, value);
    if (m) return cachedFiles(root, m)[0];
  }
  if (pathLike || /\.gguf$/i.test(value)) return value;
  throw new PullError(`no model file or cached model named '${value}' (llama4 ls lists the cache; llama4 pull ${value} downloads it)`);
}

/** Remove a cached model: its manifest and its files (those no other cached model uses). */
export function removeCached(root: string, m: Manifest): string[] {
  const others = new Set(readManifests(root).filter((o) => o.name.toLowerCase() !== m.name.toLowerCase()).flatMap((o) => o.files.map((f) => f.path)));
  const removed: string[] = [];
  rmSync(manifestFile(root, m.name), { force: true });
  for (const f of m.files) {
    if (others.has(f.path)) continue;
    const abs = absolutePath(root, f);
    for (const p of [abs, `${abs}.partial`]) {
      if (existsSync(p)) {
        rmSync(p, { force: true });
        if (p === abs) removed.push(abs);
      }
    }
    pruneEmptyDirs(dirname(abs), join(root, 'models'));
  }
  return removed;
}

function pruneEmptyDirs(dir: string, stop: string): void {
  for (let d = dir; d.startsWith(stop + sep); d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty (or gone): stop climbing
    }
  }
}
