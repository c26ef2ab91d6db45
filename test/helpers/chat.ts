// Options for a chat session on the real SmolLM2 (greedy, small context), shared by the chat tests.
import type { OpenOptions } from '../../src/chat/session.js';
import { model } from './shared.js';

export const SMOL_CHAT: OpenOptions = {
  modelPath: model('real/SmolLM2-135M-Instruct.Q4_1.gguf'),
  context: { nThreads: 2, nCtx: 1024 },
  sampling: { temp: 0 },
  nPredict: 16,
  depth: {},
};
