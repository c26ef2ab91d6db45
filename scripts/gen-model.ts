// Random-weight GGUF generator (llama, llama + experts, llama4).
//   npx tsx scripts/gen-model.ts --preset tiny-llama4 -o /tmp/tiny-llama4.gguf
//   npx tsx scripts/gen-model.ts --preset tinyllama -o tinyllama-f16.gguf
//   npx tsx scripts/gen-model.ts --preset llama4-moe -o llama4-moe-f16.gguf
//   npx tsx scripts/gen-model.ts --arch llama --embd 256 --layers 4 --heads 8 --kv-heads 2 --ff 512 \
//        --experts 8 --experts-used 2 --vocab smollm2 --type f16 --seed 1 -o mixtral-ish.gguf
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { PRESETS, VOCABS, generateModel, resolveSpec, type Arch, type ModelSpec, type WeightType } from './lib/model-gen.js';

export { generateModel, resolveSpec, planTensors, PRESETS, VOCABS } from './lib/model-gen.js';

const USAGE = `usage: npx tsx scripts/gen-model.ts [--preset NAME] [options] -o OUT.gguf

  --preset      ${Object.keys(PRESETS).join(' | ')}
  --arch        llama | llama4                      (default llama)
  --embd N      embedding width                     --layers N      blocks
  --heads N     attention heads                     --kv-heads N    KV heads (GQA; default = heads)
  --head-dim N  default embd/heads                  --ctx N         context_length (default 4096)
  --ff N        dense FFN width (llama + experts: the expert width)
  --ff-exp N    llama4 expert / shared-expert width  --experts N     expert count (0 = dense llama)
  --experts-used N  top-k                           --moe-step N    llama4 interleave_moe_layer_step
  --vocab V     GGUF to copy tokenizer.* from, or one of: ${Object.keys(VOCABS).join(', ')}
  --type        f32 | f16 (norms, rope_freqs and router stay F32)
  --tied        no output.weight (tied to token_embd)
  --rope-freqs / --no-rope-freqs   llama3-style rope_freqs.weight (llama4 presets: on)
  --rope-theta F  (default 10000 llama, 500000 llama4)   --rms-eps F (default 1e-5)
  --seed N      (default 42)                        --name S        general.name
  -o OUT        output path`;

export function specFromArgs(argv: string[]): { spec: ModelSpec; out: string } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      preset: { type: 'string' }, arch: { type: 'string' }, name: { type: 'string' },
      embd: { type: 'string' }, layers: { type: 'string' }, heads: { type: 'string' },
      'kv-heads': { type: 'string' }, 'head-dim': { type: 'string' }, ff: { type: 'string' },
      'ff-exp': { type: 'string' }, experts: { type: 'string' }, 'experts-used': { type: 'string' },
      'moe-step': { type: 'string' }, vocab: { type: 'string' }, ctx: { type: 'string' },
      type: { type: 'string' }, seed: { type: 'string' }, tied: { type: 'boolean' },
      'rope-freqs': { type: 'boolean' }, 'no-rope-freqs': { type: 'boolean' },
      'rope-theta': { type: 'string' }, 'rms-eps': { type: 'string' },
      output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.output) throw new Error(`-o OUT is required\n${USAGE}`);
  const num = (k: keyof typeof values): number | undefined => {
    const v = values[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${k} expects a number, got '${v}'`);
    return n;
  };
  const spec = resolveSpec({
    preset: values.preset,
    arch: values.arch as Arch | undefined,
    name: values.name,
    embd: num('embd'), layers: num('layers'), heads: num('heads'), kvHeads: num('kv-heads'), headDim: num('head-dim'),
    ff: num('ff'), ffExp: num('ff-exp'), experts: num('experts'), expertsUsed: num('experts-used'),
    moeStep: num('moe-step'), ctx: num('ctx'), vocab: values.vocab, type: values.type as WeightType | undefined,
    seed: num('seed'), tied: values.tied, ropeTheta: num('rope-theta'), rmsEps: num('rms-eps'),
    ropeFreqs: values['no-rope-freqs'] ? false : values['rope-freqs'],
  });
  return { spec, out: values.output };
}

async function main() {
  const { spec, out } = specFromArgs(process.argv.slice(2));
  await generateModel(spec, out, { log: (m) => console.error(m) });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(`gen-model: ${(e as Error).message}`);
    process.exit(1);
  });
}
