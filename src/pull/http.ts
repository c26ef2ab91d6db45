// HTTP for pulls, on Node's fetch: redirects followed by hand (so the hub's x-linked-etag / x-linked-size
// on the redirect are seen, and the token goes to the hub's origin only, never to a CDN or another
// host), no content encoding (bytes on disk are the bytes served, and Range offsets mean file offsets),
// and every failure turned into one line that names the host and the cause.
import { PullError, PullInterrupted } from './errors.js';

const USER_AGENT = 'llama4/0.1.0';
const MAX_REDIRECTS = 10;

export interface HttpContext {
  signal?: AbortSignal;
  /** HF_TOKEN: sent as `Authorization: Bearer` to tokenOrigin only */
  token?: string;
  tokenOrigin?: string;
}

export interface HttpResponse {
  res: Response;
  /** the URL that answered, after redirects */
  url: string;
  /** the hub's x-linked-etag (the LFS file's sha256, quoted) from any hop */
  linkedEtag?: string;
  linkedSize?: number;
}

export async function httpGet(url: string, ctx: HttpContext, headers: Record<string, string> = {}): Promise<HttpResponse> {
  let current = new URL(url);
  let linkedEtag: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const h: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...headers };
    if (ctx.token && current.origin === ctx.tokenOrigin) h.authorization = `Bearer ${ctx.token}`;
    let res: Response;
    try {
      res = await fetch(current, { headers: h, redirect: 'manual', signal: ctx.signal });
    } catch (e) {
      if (ctx.signal?.aborted) throw new PullInterrupted();
      throw networkError(e, current);
    }
    linkedEtag ??= res.headers.get('x-linked-etag') ?? undefined;
    const ls = res.headers.get('x-linked-size');
    if (linkedSize === undefined && ls !== null && /^\d+$/.test(ls)) linkedSize = Number(ls);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel().catch(() => {});
      current = new URL(location, current);
      if (current.protocol !== 'http:' && current.protocol !== 'https:') throw new PullError(`${url} redirects to an unsupported URL: ${current.href}`);
      continue;
    }
    return { res, url: current.href, linkedEtag, linkedSize };
  }
  throw new PullError(`too many redirects from ${url}`);
}

/** The error a failed connection or broken transfer carries (undici puts the system error in cause). */
export function errorCode(e: unknown): string | undefined {
  const err = e as { code?: string; cause?: { code?: string; cause?: { code?: string } } };
  return err?.cause?.code ?? err?.cause?.cause?.code ?? err?.code;
}

function causeText(e: unknown): string {
  const err = e as { message?: string; cause?: { message?: string } };
  return err?.cause?.message ?? err?.message ?? String(e);
}

/** A connection that could not be made, as one line. */
export function networkError(e: unknown, url: URL): PullError {
  const host = url.host;
  const hint = ' (no network? --offline uses only the cache)';
  switch (errorCode(e)) {
    case 'ECONNREFUSED':
      return new PullError(`cannot connect to ${host}: connection refused${hint}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new PullError(`cannot resolve ${url.hostname}: DNS lookup failed${hint}`);
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return new PullError(`cannot reach ${host}: network unreachable${hint}`);
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new PullError(`connecting to ${host} timed out${hint}`);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new PullError(`${host} did not answer in time`);
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return new PullError(`${host} closed the connection before answering`);
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return new PullError(`TLS certificate of ${host} not accepted: ${causeText(e)}`);
    default:
      return new PullError(`cannot reach ${host}: ${causeText(e)}${hint}`);
  }
}

export interface Target {
  /** what was asked for, as the message names it: "repository 'u/r'", "'f.gguf' in u/r", a URL */
  what: string;
  host: string;
  /** the hub (401/403 mean: set HF_TOKEN); false for another server */
  hub: boolean;
  /** the repository page, for gated repositories */
  repoUrl?: string;
  hasToken: boolean;
}

/** An HTTP status other than success, as one line (the hub's X-Error-Code says which 401/403/404 it is). */
export function statusError(status: number, headers: Headers, t: Target): PullError {
  const code = headers.get('x-error-code') ?? '';
  const tokenHint = t.hasToken ? 'HF_TOKEN is set but cannot read it' : 'set HF_TOKEN to a Hugging Face token that can read it';
  if (t.hub && code === 'GatedRepo')
    return new PullError(`${t.what} is gated: accept its conditions at ${t.repoUrl ?? t.host} with your account, then ${t.hasToken ? 'retry (HF_TOKEN must be that account\'s token)' : 'set HF_TOKEN to that account\'s token'} (${status})`);
  if (t.hub && code === 'RepoNotFound' && status !== 404)
    return new PullError(`${t.what} not found on ${t.host}, or it is private or gated: ${t.hasToken ? 'check the name (HF_TOKEN is set)' : 'check the name, or set HF_TOKEN to a token that can read it'} (${status})`);
  if (t.hub && code === 'RevisionNotFound') return new PullError(`${t.what} has no branch 'main' on ${t.host} (${status})`);
  switch (status) {
    case 401:
      return new PullError(
        t.hub
          ? t.hasToken
            ? `${t.host} rejected HF_TOKEN for ${t.what} (401 Unauthorized): the token is invalid or expired`
            : `${t.what} needs authentication (401): the repository is private or gated; ${tokenHint}`
          : `${t.what} needs authentication (401 from ${t.host})`,
      );
    case 403:
      return new PullError(
        t.hub ? `access to ${t.what} is forbidden (403): the repository is gated or private; ${tokenHint}` : `access to ${t.what} is forbidden (403 from ${t.host})`,
      );
    case 404:
      return new PullError(`${t.what} not found on ${t.host} (404)`);
    case 429:
      return new PullError(`${t.host} is rate-limiting requests (429): wait and retry${t.hub && !t.hasToken ? ', or set HF_TOKEN' : ''}`);
    default:
      return new PullError(`${t.host} answered ${status} for ${t.what}${status >= 500 ? ': the server failed, try again later' : ''}`);
  }
}
