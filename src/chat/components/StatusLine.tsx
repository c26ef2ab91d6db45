// The status line: context used/total, time to first token, prompt and generation speed of the last reply,
// and, when depth gates or experts are active, blocks and experts per token.
import { Text } from 'ink';

export interface StatusInfo {
  used: number;
  total: number;
  ttftMs?: number;
  promptTps?: number;
  genTps?: number;
  blocksPerToken?: number;
  nLayer?: number;
  expertsPerToken?: number;
}

export function statusText(s: StatusInfo): string {
  const parts = [`ctx ${s.used}/${s.total}`];
  if (s.ttftMs !== undefined) parts.push(`TTFT ${s.ttftMs < 1000 ? `${s.ttftMs.toFixed(0)} ms` : `${(s.ttftMs / 1000).toFixed(2)} s`}`);
  if (s.promptTps !== undefined) parts.push(`prompt ${s.promptTps.toFixed(0)} t/s`);
  if (s.genTps !== undefined) parts.push(`gen ${s.genTps.toFixed(1)} t/s`);
  if (s.blocksPerToken !== undefined) parts.push(`${s.blocksPerToken.toFixed(1)}/${s.nLayer ?? '?'} blocks/tok`);
  if (s.expertsPerToken !== undefined) parts.push(`${s.expertsPerToken.toFixed(1)} experts/tok`);
  return parts.join(' · ');
}

export function StatusLine(s: StatusInfo) {
  return <Text dimColor>{statusText(s)}</Text>;
}
