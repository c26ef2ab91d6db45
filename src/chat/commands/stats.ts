// /stats: what the KV cache holds and saved, and the speed of the recent replies.
import type { SlashCommand } from './types.js';

export const stats: SlashCommand = {
  name: 'stats',
  usage: '/stats',
  description: 'tokens cached, evaluated and reused; per-reply speed',
  action({ session }) {
    const c = session.conversation;
    const t = c.totals;
    const { used, total } = session.contextUse();
    const out = [
      `Context: ${used} of ${total} tokens cached`,
      `Turns: ${t.turns}; tokens evaluated ${t.evaluated}, reused from the cache ${t.reused}, generated ${t.generated}`,
    ];
    const recent = session.replies.slice(-10);
    if (recent.length) out.push('Replies (last 10): turn, prompt tokens reused/evaluated, TTFT, prompt t/s, generated, t/s');
    const first = session.replies.length - recent.length;
    recent.forEach((r, i) =>
      out.push(
        `  #${first + i + 1}: ${r.reusedTokens}/${r.evaluatedTokens}, ${r.ttftMs.toFixed(0)} ms, ${r.promptTps.toFixed(1)} t/s, ${r.generatedTokens} tokens, ${r.genTps.toFixed(1)} t/s` +
          (r.blocksPerToken !== undefined ? `, ${r.blocksPerToken.toFixed(2)} blocks/token` : '') +
          (r.stop !== 'eog' ? ` (${r.stop})` : ''),
      ),
    );
    return { output: out.join('\n') };
  },
};
