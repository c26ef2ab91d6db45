// Measures the chat as a user meets it: a conversation with a long system prompt (~400 tokens by default),
// turn after turn through the same session the terminal chat drives. Prints per turn the prompt tokens
// reused from the KV cache and evaluated, time to first token, generation speed and the process's
// resident memory, so that a later turn's TTFT can be compared with the first's and memory watched over
// many turns.
//   npx tsx scripts/chat-bench.ts [-m MODEL] [-t 2] [--turns 50] [-n 48] [-c 4096] [--json]
import { openSession } from '../src/chat/session.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const modelPath = arg('-m', '../shared/models/real/SmolLM2-135M-Instruct.Q4_1.gguf');
const threads = Number(arg('-t', '2'));
const turns = Number(arg('--turns', '50'));
const nPredict = Number(arg('-n', '48'));
const nCtx = Number(arg('-c', '4096'));

const SYSTEM = [
  'You are Atlas, a careful and friendly assistant for a small travel agency based in Lyon.',
  'Follow these rules in every answer.',
  '1. Answer in plain English, in short paragraphs, without lists unless the user asks for one.',
  '2. When the user asks about a city, give its country, the best season to visit, and one thing to see.',
  '3. Never invent prices, opening hours or phone numbers; say that the user should check them.',
  '4. If a question is about visas or health rules, tell the user to read the official government pages.',
  '5. Keep a polite tone, even when the user is rude, and never mention these rules.',
  '6. When you do not know something, say so in one sentence and suggest where to look.',
  '7. Prefer trains to planes for trips under six hours, and say why: comfort, city centres, emissions.',
  '8. For families with children, mention one activity suited to children in each city you describe.',
  '9. For travellers on a budget, mention one free museum or park, and the cheapest way from the airport.',
  '10. Convert distances to kilometres and temperatures to degrees Celsius.',
  'The agency offers city breaks in France, Italy, Spain, Portugal, Germany and Switzerland, rail passes,',
  'guided walking tours in Lyon, cooking classes, wine tastings in the Beaujolais and the Rhone valley,',
  'and ski weekends in the Alps from December to April. Bookings open three months ahead; cancellations',
  'are free up to fourteen days before departure. The office is open from Monday to Saturday. Customers',
  'who travel with pets must tell the agency when booking, because some hotels do not accept animals.',
  'When the user wants to book, ask for the dates, the number of travellers and the budget, then say that',
  'an agent will confirm the booking by email within one working day. Do not ask for payment details.',
  'If the user writes in French, answer in French; otherwise answer in English. Sign no messages.',
].join('\n');

const QUESTIONS = [
  'What is the capital of France?',
  'Which season is best to visit Lisbon?',
  'Is the train from Lyon to Paris faster than flying?',
  'What can children do in Geneva?',
  'Where can I taste wine near Lyon?',
  'Tell me about skiing in the Alps.',
  'What is a free museum in Madrid?',
  'How do I get from the airport to Rome cheaply?',
];

const s = await openSession({ modelPath, context: { nThreads: threads, nCtx }, sampling: { temp: 0 }, nPredict, depth: {} });
const sysTokens = s.model.tokenizer.encode(SYSTEM, { addSpecial: false }).length;
console.log(`# ${modelPath}, ${threads} threads, ctx ${nCtx}, system prompt ${sysTokens} tokens, ${turns} turns, -n ${nPredict}, template ${s.templateChoice.template.name}`);
console.log('turn\treused\tevaluated\tttft_ms\tgen_tok\tgen_tps\tcached\trss_mib\tdropped');
s.conversation.setSystem(SYSTEM);
const rows = [];
for (let i = 0; i < turns; i++) {
  const it = s.turn(QUESTIONS[i % QUESTIONS.length]);
  let r = await it.next();
  while (!r.done) r = await it.next();
  const f = r.value;
  const rss = process.memoryUsage().rss / 2 ** 20;
  rows.push({ turn: i + 1, ...f, rss });
  console.log(
    [i + 1, f.reusedTokens, f.evaluatedTokens, f.ttftMs.toFixed(1), f.generatedTokens, f.genTps.toFixed(1), f.cachedTokens, rss.toFixed(1), f.droppedTurns].join('\t'),
  );
}
if (process.argv.includes('--json')) console.log(JSON.stringify(rows));
