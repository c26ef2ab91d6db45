// /set PARAM VALUE: change a sampling parameter, the reply length, the seed or the depth threshold for the
// next replies. Names and ranges follow the command-line flags (llama.cpp's).
import type { SessionSettings } from '../session.js';
import type { SlashCommand } from './types.js';

type Sampling = SessionSettings['sampling'];
interface Param {
  kind: 'int' | 'float' | 'bool';
  min?: number;
  max?: number;
  get(s: SessionSettings): number | boolean | undefined;
  set(s: SessionSettings, v: number | boolean): void;
}
const sampling = (key: keyof Sampling, kind: 'int' | 'float' | 'bool', min?: number, max?: number): Param => ({
  kind,
  min,
  max,
  get: (s) => s.sampling[key] as number | boolean,
  set: (s, v) => ((s.sampling as unknown as Record<string, unknown>)[key] = v),
});

export const PARAMS: Record<string, Param> = {
  temp: sampling('temp', 'float'),
  'top-k': sampling('topK', 'int', -(2 ** 30), 2 ** 30),
  'top-p': sampling('topP', 'float', 0, 1),
  'min-p': sampling('minP', 'float', 0, 1),
  'repeat-penalty': sampling('repeatPenalty', 'float', 0),
  'repeat-last-n': sampling('repeatLastN', 'int', -1),
  'presence-penalty': sampling('presencePenalty', 'float'),
  'frequency-penalty': sampling('frequencyPenalty', 'float'),
  seed: sampling('seed', 'int', 0, 0xffffffff),
  'ignore-eos': sampling('ignoreEos', 'bool'),
  'n-predict': { kind: 'int', min: -1, get: (s) => s.nPredict, set: (s, v) => (s.nPredict = v as number) },
  'depth-threshold': { kind: 'float', min: 0, max: 1, get: (s) => s.depthThreshold, set: (s, v) => (s.depthThreshold = v as number) },
};

function parse(p: Param, v: string): number | boolean {
  if (p.kind === 'bool') {
    if (/^(1|true|on|yes)$/i.test(v)) return true;
    if (/^(0|false|off|no)$/i.test(v)) return false;
    throw new Error('expected on or off');
  }
  const n = Number(v);
  if (v === '' || !Number.isFinite(n)) throw new Error('not a number');
  if (p.kind === 'int' && !Number.isInteger(n)) throw new Error('not an integer');
  if ((p.min !== undefined && n < p.min) || (p.max !== undefined && n > p.max))
    throw new Error(`must be between ${p.min ?? '-inf'} and ${p.max ?? 'inf'}`);
  return n;
}

export const set: SlashCommand = {
  name: 'set',
  usage: '/set PARAM VALUE',
  description: `change a parameter: ${Object.keys(PARAMS).join(', ')}`,
  action({ session }, args) {
    const [name, value, ...rest] = args.trim().split(/\s+/).filter(Boolean);
    if (!name) return { error: `usage: /set PARAM VALUE; parameters: ${Object.keys(PARAMS).join(', ')}` };
    const key = name.replace(/_/g, '-');
    const p = Object.hasOwn(PARAMS, key) ? PARAMS[key] : undefined;
    if (!p) return { error: `unknown parameter '${name}'; parameters: ${Object.keys(PARAMS).join(', ')}` };
    if (value === undefined || rest.length) return { error: `usage: /set ${key} VALUE` };
    if (key === 'depth-threshold' && !session.depthOn) return { error: 'depth-threshold needs depth gates (start the chat with --depth-gates)' };
    let v: number | boolean;
    try {
      v = parse(p, value);
    } catch (e) {
      return { error: `/set ${key}: ${(e as Error).message}` };
    }
    p.set(session.settings, v);
    session.applySettings();
    return { output: `${key} = ${String(v)}` };
  },
};
