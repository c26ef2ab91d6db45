// `llama4 serve -m MODEL`: the OpenAI-compatible HTTP server (src/server) with llama-server's flags. It
// listens at once (/health answers 503 while the model loads), then loads the model into -np slots that
// share -c. SIGINT / SIGTERM stop the running replies (streams end with their last chunk), close the
// server and exit 0.
import { placementWarning } from '../engine/gpu.js';
import { UsageError } from './io.js';
import type { Command } from 'commander';
import type { CacheType } from '../native/addon.js';
import { basename } from 'node:path';
import { loadChatModel } from '../engine/chat-model.js';
import { SlotPool } from '../engine/slots.js';
import { buildApp } from '../server/app.js';
import { newState } from '../server/state.js';
import {
  addCacheTypeFlags,
  addDepthFlags,
  addModelFlag,
  addRepackFlag,
  addSamplingFlags,
  addTemplateFlags,
  contextWarning,
  addPlacementFlags,
  placementOptions,
  type PlacementFlags,
  defaultThreads,
  depthOptions,
  intArg,
  samplingOptions,
  type DepthFlags,
  type RepackFlags,
  type SamplingFlags,
  type TemplateFlags,
} from './flags.js';

export interface ServeFlags extends SamplingFlags, DepthFlags, RepackFlags, TemplateFlags, PlacementFlags {
  model: string;
  host: string;
  port: number;
  parallel: number;
  ctxSize: number;
  batchSize: number;
  threads?: number;
  cacheTypeK: CacheType;
  cacheTypeV: CacheType;
  nPredict: number;
  apiKey?: string;
  alias?: string;
  maxQueue: number;
  shutdownTimeout: number;
}

export async function runServe(f: ServeFlags, log: (s: string) => void = (s) => process.stderr.write(s)): Promise<void> {
  if (f.chatTemplate && f.chatTemplateFile) throw new UsageError('give either --chat-template or --chat-template-file, not both');
  const srv = newState(f.alias ?? basename(f.model), f.apiKey ?? process.env.LLAMA_API_KEY);
  const app = buildApp(srv);
  const address = await app.listen({ host: f.host, port: f.port });
  log(`llama4: listening on ${address} (loading ${f.model})\n`);
  // SIGTERM drains: no new connections or requests (fastify answers 503 while closing), the accepted
  // requests, running and queued, finish, and the process exits 0; past --shutdown-timeout the running
  // replies are stopped as by SIGINT. SIGINT (Ctrl-C) stops the running replies at once (streams end with
  // their last chunk) and exits 0. A second signal during a drain stops the replies too.
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) {
      if (!srv.closing.signal.aborted) log(`llama4: ${sig}: stopping the running replies\n`);
      srv.closing.abort();
      return;
    }
    stopping = true;
    let timer: NodeJS.Timeout | undefined;
    if (sig === 'SIGTERM') {
      const busy = srv.pool ? srv.pool.busyCount + srv.pool.queueDepth : 0;
      log(`llama4: SIGTERM: stopping: draining ${busy} request(s), accepting none (at most ${f.shutdownTimeout} s)\n`);
      srv.draining = true;
      timer = setTimeout(() => {
        log(`llama4: the drain took over ${f.shutdownTimeout} s: stopping the running replies\n`);
        srv.closing.abort();
      }, f.shutdownTimeout * 1000);
    } else {
      log(`llama4: ${sig}: stopping\n`);
      srv.closing.abort();
    }
    await app.close();
    clearTimeout(timer);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    const { model, template, depth } = await loadChatModel({
      modelPath: f.model,
      repack: f.repack,
      templateName: f.chatTemplate,
      templateFile: f.chatTemplateFile,
      jinja: f.jinja ?? false,
      depth: depthOptions(f),
    });
    srv.model = model;
    srv.template = template;
    srv.pool = new SlotPool(model, {
      nSlots: f.parallel,
      nCtx: f.ctxSize,
      context: { nBatch: f.batchSize, nThreads: f.threads ?? defaultThreads(), typeK: f.cacheTypeK, typeV: f.cacheTypeV },
      template: template.template,
      sampling: samplingOptions(f),
      nPredict: f.nPredict,
      queueLimit: f.maxQueue,
      depth: depth.policy,
    });
    log(contextWarning(srv.pool.slotContext, model.info.nCtxTrain));
    log(placementWarning(placementOptions(f)));
    log(
      `llama4: ready: ${model.info.description}, ${f.parallel} slot(s) of ${srv.pool.slotContext} tokens, template ${template.template.name} (${template.reason})` +
        `${srv.apiKey ? ', API key required' : ''}\n`,
    );
  } catch (e) {
    await app.close();
    throw e;
  }
}

export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('an OpenAI-compatible HTTP server (llama-server\'s routes and flags)');
  addModelFlag(cmd);
  addRepackFlag(cmd);
  cmd
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on', intArg(0, 65535), 8080)
    .option('--parallel <n>', 'slots: requests answered at once (-np)', intArg(1, 256), 1)
    .option('-c, --ctx-size <n>', 'total context in tokens, split across the slots', intArg(16, 1 << 24), 4096)
    .option('-b, --batch-size <n>', 'tokens per forward pass when processing a prompt', intArg(1, 65536), 512)
    .option('-t, --threads <n>', `threads (default: ${defaultThreads()})`, intArg(1, 512))
    .option('-n, --n-predict <n>', 'default reply length (-1 = until the end of the turn or the slot\'s context)', intArg(-1), -1)
    .option('--api-key <key>', 'require this key (Authorization: Bearer KEY); LLAMA_API_KEY also sets it')
    .option('-a, --alias <name>', 'the model\'s name in /v1/models (default: the file name)')
    .option('--max-queue <n>', 'requests that may wait for a slot; past it 503 with Retry-After', intArg(0, 1 << 20), 16)
    .option('--shutdown-timeout <s>', 'SIGTERM: seconds the accepted requests may take to finish before they are stopped', intArg(0, 86400), 30);
  addTemplateFlags(cmd);
  addCacheTypeFlags(cmd);
  addPlacementFlags(cmd);
  addSamplingFlags(cmd);
  addDepthFlags(cmd);
  cmd.action(async (flags: ServeFlags) => runServe(flags));
}
