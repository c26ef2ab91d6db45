// What the routes share: the slot pool once the model is loaded, names, the API key, and the counters
// /metrics reports.
import type { SlotPool } from '../engine/slots.js';
import type { Model } from '../engine/model.js';
import type { TemplateChoice } from '../engine/templates/index.js';

export interface ServerMetrics {
  requests: number;
  promptTokens: number;
  promptMs: number;
  generatedTokens: number;
  generateMs: number;
  errors: number;
}

export interface ServerState {
  /** undefined while the model loads (/health answers 503) */
  pool?: SlotPool;
  model?: Model;
  template?: TemplateChoice;
  /** the model's name in /v1/models (-a/--alias, else the file name) */
  modelName: string;
  apiKey?: string;
  /** set while the server shuts down: running replies are stopped */
  closing: AbortController;
  /** set by SIGTERM: no new requests, the accepted ones (running and queued) finish */
  draining: boolean;
  metrics: ServerMetrics;
  created: number;
}

export function newState(modelName: string, apiKey?: string): ServerState {
  return {
    modelName,
    apiKey,
    closing: new AbortController(),
    draining: false,
    metrics: { requests: 0, promptTokens: 0, promptMs: 0, generatedTokens: 0, generateMs: 0, errors: 0 },
    created: Math.floor(Date.now() / 1000),
  };
}
