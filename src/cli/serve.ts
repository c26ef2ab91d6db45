// `llama4 serve -m MODEL`: the OpenAI-compatible HTTP server (src/server) with llama-server's flags. It
// listens at once (/health answers 503 while the model loads), then loads the model into -np slots that
// share -c. SIGINT / SIGTERM stop the running replies (streams end with their last chunk), close the
// server and exit 0.
import type { Command } from 'commander';
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
  defaultThreads,
  depthOptions,
  intArg,
  samplingOptions,
  type DepthFlags,
  type RepackFlags,
  type SamplingFlags,
  type TemplateFlags,
} from './flags.js';

export interface ServeFlags extends SamplingFlags, DepthFlags, RepackFlags, TemplateFlags {
  model: string;
  host: string;
  port: number;
  parallel: number;
  ctxSize: number;
  batchSize: number;
  threads?: number;
  cacheTypeK: 'f16' | 'f32';
  cacheTypeV: 'f16' | 'f32';
  nPredict: number;
  apiKey?: string;
  alias?: string;
  maxQueue: number;
}

export async function runServe(f: ServeFlags, log: (s: string) => void = (s) => process.stderr.write(s)): Promise<void> {
  if (f.chatTemplate && f.chatTemplateFile) throw new Error('give either --chat-template or --chat-template-file, not both');
  const srv = newState(f.alias ?? basename(f.model), f.apiKey ?? process.env.LLAMA_API_KEY);
  const app = buildApp(srv);
  const address = await app.listen({ host: f.host, port: f.port });
  log(`llama4: listening on ${address} (loading ${f.model})\n`);
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`llama4: ${sig}: stopping\n`);
    srv.closing.abort();
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
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
    .option('--max-queue <n>', 'requests that may wait for a slot; past it 503 with Retry-After', intArg(0, 1 << 20), 16);
  addTemplateFlags(cmd);
  addCacheTypeFlags(cmd);
  addSamplingFlags(cmd);
  addDepthFlags(cmd);
  cmd.action(async (flags: ServeFlags) => runServe(flags));
}
