// `llama4 chat -m MODEL`: the interactive chat. On a terminal, the ink screen (src/chat/App.tsx); with
// stdin or stdout not a terminal, the plain mode (one turn per line, replies on stdout). `llama4 run -m
// MODEL` without a prompt on a terminal comes here too.
import { UsageError } from './io.js';
import { placementWarning } from '../engine/gpu.js';
import type { Command } from 'commander';
import { ConversationError } from '../engine/conversation.js';
import { runPlainChat } from '../chat/plain.js';
import { openSession, type OpenOptions } from '../chat/session.js';
import {
  addChatFlags,
  addContextFlags,
  addDepthFlags,
  addModelFlag,
  addRepackFlag,
  addSamplingFlags,
  contextOptions,
  contextWarning,
  placementOptions,
  depthOptions,
  intArg,
  samplingOptions,
  type ChatFlags,
  type ContextFlags,
  type DepthFlags,
  type RepackFlags,
  type SamplingFlags,
} from './flags.js';

export interface ChatCommandFlags extends ContextFlags, SamplingFlags, DepthFlags, RepackFlags, ChatFlags {
  model: string;
  nPredict: number;
}

export function openOptions(f: ChatCommandFlags): OpenOptions {
  if (f.chatTemplate && f.chatTemplateFile) throw new UsageError('give either --chat-template or --chat-template-file, not both');
  return {
    modelPath: f.model,
    repack: f.repack,
    context: contextOptions(f),
    sampling: samplingOptions(f),
    nPredict: f.nPredict,
    systemPrompt: f.systemPrompt,
    templateName: f.chatTemplate,
    templateFile: f.chatTemplateFile,
    jinja: f.jinja ?? false,
    depth: depthOptions(f),
  };
}

export async function runChat(f: ChatCommandFlags): Promise<void> {
  const options = openOptions(f);
  process.stderr.write(placementWarning(placementOptions(f)));
  if (process.stdin.isTTY && process.stdout.isTTY) {
    // ink renders only a final frame when CI is set (is-in-ci, read when ink loads); on a terminal the chat
    // is interactive whatever the environment says
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
    const { runInkChat } = await import('../chat/ink.js');
    process.exitCode = await runInkChat(options, { history: f.history });
    return;
  }
  const session = await openSession(options);
  process.stderr.write(contextWarning(session.conversation.nCtx, session.model.info.nCtxTrain));
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    // a closed pipe ends the chat quietly
    if (e.code === 'EPIPE') process.exit(0);
  });
  try {
    process.exitCode = await runPlainChat(session, {
      input: process.stdin,
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
    });
  } catch (e) {
    if (e instanceof ConversationError) throw new Error(e.message);
    throw e;
  }
}

export function registerChat(program: Command): void {
  const cmd = program.command('chat').description('chat with a model (interactive on a terminal; one turn per line when piped)');
  addModelFlag(cmd);
  addRepackFlag(cmd);
  cmd.option('-n, --n-predict <n>', 'tokens per reply (-1 = until the end of the turn)', intArg(-1), -1);
  addChatFlags(cmd);
  addContextFlags(cmd);
  addSamplingFlags(cmd);
  addDepthFlags(cmd);
  cmd.action(async (flags: ChatCommandFlags) => runChat(flags));
}
