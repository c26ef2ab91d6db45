// /show: the parameters in force, the chat template and the model.
import { formatBytes } from '../../cli/format.js';
import { PARAMS } from './set.js';
import type { SlashCommand } from './types.js';

export const show: SlashCommand = {
  name: 'show',
  usage: '/show [params|template|model]',
  description: 'show parameters, chat template and model information',
  action({ session }, args) {
    const what = args.trim() || 'all';
    if (!['all', 'params', 'template', 'model'].includes(what)) return { error: 'usage: /show [params|template|model]' };
    const out: string[] = [];
    if (what === 'all' || what === 'params') {
      out.push('Parameters:');
      for (const [name, p] of Object.entries(PARAMS)) {
        const v = p.get(session.settings);
        if (name === 'depth-threshold' && !session.depthOn) continue;
        out.push(`  ${name.padEnd(18)} ${v === undefined ? '(calibrated)' : String(v)}`);
      }
    }
    if (what === 'all' || what === 'template') {
      const t = session.templateChoice;
      out.push(`Template: ${t.template.name} (${t.reason})`, `  ends a turn: ${t.template.endOfTurn.join(' ') || '(end of generation only)'}`);
      if (what === 'template') out.push(t.template.source);
    }
    if (what === 'all' || what === 'model') {
      const i = session.model.info;
      const st = session.ctx.state();
      out.push(
        `Model: ${session.model.path}`,
        `  ${i.description}; ${i.arch}, ${i.nLayer} layers, ${(i.nParams / 1e6).toFixed(1)}M parameters, ${formatBytes(i.weightBytes)}`,
        `  vocabulary ${i.nVocab}, context ${st.nCtx} of ${i.nCtxTrain} trained, ${st.nThreads} threads, KV ${st.typeK}/${st.typeV}` +
          (i.nExpert > 0 ? `, ${i.nExpertUsed} of ${i.nExpert} experts` : ''),
      );
    }
    return { output: out.join('\n') };
  },
};
