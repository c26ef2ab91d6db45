// `pull`: a model reference -> the files to fetch (hub listing or URL parts) -> each file downloaded and
// verified into the cache -> a manifest naming the model. With offline set, only the cache answers.
import { addon } from '../native/addon.js';
import {
  absolutePath,
  cachePath,
  cacheRoot,
  cachedFiles,
  findCached,
  hubFilePath,
  readManifests,
  urlFilePath,
  writeManifest,
  type CachedFile,
  type Manifest,
} from './cache.js';
import { downloadFile, type DownloadEvents, type FileSpec } from './download.js';
import { PullError } from './errors.js';
import type { HttpContext } from './http.js';
import { hubEndpoint, hubToken, listRepoFiles, resolveUrl, selectModelFiles } from './hub.js';
import { baseName, canonicalTag, parseRef, partPath, quantOf, splitInfo, stem, type PullRef } from './names.js';

export interface PullEvents extends DownloadEvents {
  /** the model's name and files, before any download */
  resolved?(name: string, files: { name: string; size?: number }[]): void;
}

export interface PullOptions {
  env?: NodeJS.ProcessEnv;
  /** use only the cache (also HF_HUB_OFFLINE=1) */
  offline?: boolean;
  signal?: AbortSignal;
  events?: PullEvents;
}

export interface PullResult {
  manifest: Manifest;
  /** the first file: what -m loads */
  path: string;
  /** files actually downloaded (0: all were in the cache) */
  downloaded: number;
}

interface Plan {
  name: string;
  source: string;
  repo?: string;
  tag?: string;
  quant?: string;
  specs: FileSpec[];
}

async function planHub(root: string, ref: Extract<PullRef, { kind: 'hf' }>, env: NodeJS.ProcessEnv, http: HttpContext): Promise<Plan> {
  const endpoint = hubEndpoint(env);
  const host = new URL(endpoint).host;
  const sel = selectModelFiles(await listRepoFiles(endpoint, ref.repo, http), ref.repo, ref.tag);
  const tag = ref.tag !== undefined ? canonicalTag(ref.tag) : (quantOf(sel.first.path) ?? stem(sel.first.path));
  return {
    name: `${ref.repo}:${tag}`,
    source: `hf:${ref.repo}`,
    repo: ref.repo,
    tag,
    quant: quantOf(sel.first.path),
    specs: sel.files.map((f) => ({
      url: resolveUrl(endpoint, ref.repo, f.path),
      dest: hubFilePath(root, ref.repo, f.path),
      name: f.path,
      ...(f.size !== undefined ? { size: f.size } : {}),
      ...(f.sha256 !== undefined ? { sha256: f.sha256 } : {}),
      target: { what: `'${f.path}' in ${ref.repo}`, host, hub: true, repoUrl: `${endpoint}/${ref.repo}`, hasToken: !!http.token },
    })),
  };
}

function planUrl(root: string, url: URL, http: HttpContext): Plan {
  const split = splitInfo(url.pathname);
  const urls = split ? Array.from({ length: split.count }, (_, i) => new URL(partPath(split.prefix, i + 1, split.count) + url.search, url)) : [url];
  const name = decodeURIComponent(stem(url.pathname));
  const hub = http.tokenOrigin === url.origin;
  return {
    name,
    source: urls[0].href,
    quant: quantOf(url.pathname),
    specs: urls.map((u) => ({
      url: u.href,
      dest: urlFilePath(root, u),
      name: decodeURIComponent(baseName(u.pathname)),
      target: { what: u.href, host: u.host, hub, hasToken: hub && !!http.token },
    })),
  };
}

/** The predominant tensor type (by bytes) of a file whose name names no quant: F32, Q8_0, ... */
async function quantFromHeader(path: string): Promise<string | undefined> {
  try {
    const h = await addon().readGguf(path, { arrayLimit: 0 });
    const bytes = new Map<string, number>();
    for (const t of h.tensors) bytes.set(t.type, (bytes.get(t.type) ?? 0) + t.bytes);
    return [...bytes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  } catch {
    return undefined;
  }
}

function offlineResult(root: string, refText: string): PullResult {
  const m = findCached(root, refText);
  if (!m) throw new PullError(`'${refText}' is not in the cache, and offline nothing is downloaded`);
  return { manifest: m, path: cachedFiles(root, m)[0], downloaded: 0 };
}

export async function pullModel(refText: string, opts: PullOptions = {}): Promise<PullResult> {
  const env = opts.env ?? process.env;
  const root = cacheRoot(env);
  const ref = parseRef(refText);
  if (opts.offline || /^(1|true|yes|on)$/i.test(env.HF_HUB_OFFLINE ?? '')) return offlineResult(root, refText);
  const token = hubToken(env);
  const http: HttpContext = { signal: opts.signal, token, tokenOrigin: new URL(hubEndpoint(env)).origin };
  const plan = ref.kind === 'hf' ? await planHub(root, ref, env, http) : planUrl(root, ref.url, http);
  const existing = readManifests(root);
  const clash = existing.find((m) => m.name.toLowerCase() === plan.name.toLowerCase() && m.source !== plan.source);
  if (clash) throw new PullError(`the cache already holds a model named '${clash.name}', pulled from ${clash.source}: remove it first (llama4 rm ${clash.name})`);
  const recorded = new Map(existing.flatMap((m) => m.files.map((f) => [f.path, f.sha256] as const)));
  for (const s of plan.specs) {
    const sha = recorded.get(cachePath(root, s.dest));
    if (sha) s.recordedSha256 = sha;
  }
  opts.events?.resolved?.(plan.name, plan.specs.map((s) => ({ name: s.name, ...(s.size !== undefined ? { size: s.size } : {}) })));

  const files: CachedFile[] = [];
  let downloaded = 0;
  for (const s of plan.specs) {
    const r = await downloadFile(s, http, opts.events);
    if (!r.reused) downloaded++;
    files.push({ path: cachePath(root, s.dest), size: r.size, sha256: r.sha256, url: s.url });
  }
  const quant = plan.quant ?? (await quantFromHeader(absolutePath(root, files[0])));
  const manifest: Manifest = {
    name: plan.name,
    source: plan.source,
    ...(plan.repo !== undefined ? { repo: plan.repo } : {}),
    ...(plan.tag !== undefined ? { tag: plan.tag } : {}),
    ...(quant !== undefined ? { quant } : {}),
    files,
    size: files.reduce((s, f) => s + f.size, 0),
    pulledAt: new Date().toISOString(),
  };
  writeManifest(root, manifest);
  return { manifest, path: absolutePath(root, files[0]), downloaded };
}
