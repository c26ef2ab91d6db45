// The Hugging Face hub: list a repository's files (GET /api/models/{repo}/tree/main?recursive=true, the
// listing llama.cpp's -hf reads: path, size, and the LFS sha256) and choose the model files for a tag.
import { PullError } from './errors.js';
import { httpGet, statusError, type HttpContext } from './http.js';
import { DEFAULT_TAGS, baseName, isFirstPart, isModelGguf, partPath, quantOf, splitInfo, tagMatches } from './names.js';

export interface HubFile {
  path: string;
  size?: number;
  sha256?: string;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
const MAX_PAGES = 100;

export function hubEndpoint(env: NodeJS.ProcessEnv): string {
  return (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

export function hubToken(env: NodeJS.ProcessEnv): string | undefined {
  return env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined;
}

export function resolveUrl(endpoint: string, repo: string, path: string): string {
  return `${endpoint}/${repo}/resolve/main/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** The next page of a paginated listing (`Link: <url>; rel="next"`). */
function nextLink(link: string | null): string | undefined {
  return link ? /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link)?.[1] : undefined;
}

interface TreeEntry {
  type?: string;
  path?: string;
  size?: number;
  lfs?: { oid?: string; sha256?: string; size?: number };
}

export async function listRepoFiles(endpoint: string, repo: string, http: HttpContext): Promise<HubFile[]> {
  const files: HubFile[] = [];
  const host = new URL(endpoint).host;
  let url: string | undefined = `${endpoint}/api/models/${repo}/tree/main?recursive=true`;
  for (let page = 0; url && page < MAX_PAGES; page++) {
    const r = await httpGet(url, http, { accept: 'application/json' });
    if (r.res.status !== 200) {
      await r.res.body?.cancel().catch(() => {});
      throw statusError(r.res.status, r.res.headers, { what: `repository '${repo}'`, host, hub: true, repoUrl: `${endpoint}/${repo}`, hasToken: !!http.token });
    }
    let items: unknown;
    try {
      items = await r.res.json();
    } catch {
      throw new PullError(`${host} sent a listing of ${repo} that is not JSON`);
    }
    if (!Array.isArray(items)) throw new PullError(`${host} sent a listing of ${repo} that is not a file list`);
    for (const it of items as TreeEntry[]) {
      if (it?.type !== 'file' || typeof it.path !== 'string') continue;
      const sha = (it.lfs?.oid ?? it.lfs?.sha256)?.toLowerCase();
      const size = it.lfs?.size ?? it.size;
      files.push({
        path: it.path,
        ...(typeof size === 'number' ? { size } : {}),
        ...(sha && /^[0-9a-f]{64}$/.test(sha) ? { sha256: sha } : {}),
      });
    }
    url = nextLink(r.res.headers.get('link'));
  }
  return files;
}

/** The quants a repository offers (the names of model files without one), for "no GGUF for ..." errors. */
export function availableQuants(files: HubFile[]): string[] {
  const seen = new Set<string>();
  for (const f of files) if (isModelGguf(f.path) && isFirstPart(f.path)) seen.add(quantOf(f.path) ?? baseName(f.path));
  return [...seen].sort();
}

export interface Selection {
  /** every part, in order */
  files: HubFile[];
  /** the file chosen by the tag (or by default) */
  first: HubFile;
}

/**
 * llama.cpp's choice: the first model file whose path carries the tag followed by `.` or `-` (any case);
 * without a tag Q4_K_M, then Q8_0, then the first model file. A split model comes whole: all its parts.
 */
export function selectModelFiles(files: HubFile[], repo: string, tag?: string): Selection {
  const models = files.filter((f) => isModelGguf(f.path));
  if (models.length === 0) throw new PullError(`${repo} has no GGUF model files`);
  let first: HubFile | undefined;
  for (const t of tag !== undefined ? [tag] : DEFAULT_TAGS) {
    first = models.find((f) => isFirstPart(f.path) && tagMatches(f.path, t));
    if (first) break;
  }
  if (!first && tag === undefined) first = models.find((f) => isFirstPart(f.path));
  if (!first) throw new PullError(`${repo} has no GGUF file for ${tag ?? DEFAULT_TAGS.join(' or ')}; available: ${availableQuants(models).join(', ')}`);
  const split = splitInfo(first.path);
  if (!split) return { files: [first], first };
  const parts: HubFile[] = [];
  for (let i = 1; i <= split.count; i++) {
    const want = partPath(split.prefix, i, split.count);
    const part = models.find((f) => f.path === want);
    if (!part) throw new PullError(`${repo}: the split model ${baseName(first.path)} has ${split.count} parts but ${baseName(want)} is missing from the repository`);
    parts.push(part);
  }
  return { files: parts, first };
}
