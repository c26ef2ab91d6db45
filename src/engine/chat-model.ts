// Loading a model for conversation (the chat and the server): the chat template is chosen (and a bad
// choice fails) before the weights load, then the weights, the template against the loaded vocabulary,
// and the depth policy.
import { addon } from '../native/addon.js';
import { resolveDepth, type DepthOptions, type ResolvedDepth } from './depth/policy.js';
import { Model } from './model.js';
import { builtinTemplate, chooseTemplate, templateFromFile, type TemplateChoice } from './templates/index.js';

export interface ChatModelOptions {
  modelPath: string;
  repack?: boolean;
  templateName?: string;
  templateFile?: string;
  /** render the model's own template even where a built-in of its family exists (--jinja) */
  jinja?: boolean;
  depth: DepthOptions;
  /** [bytes of weights copied, bytes in all] while the model loads (for a progress bar) */
  progress?: Float64Array;
}

export interface ChatModel {
  model: Model;
  template: TemplateChoice;
  depth: ResolvedDepth;
}

export async function loadChatModel(o: ChatModelOptions): Promise<ChatModel> {
  const header = await addon().readGguf(o.modelPath, { arrayLimit: 0 });
  const meta = new Map(header.metadata.map((kv) => [kv.key, kv.value]));
  const modelTemplate = meta.get('tokenizer.chat_template');
  if (o.templateFile) templateFromFile(o.templateFile);
  else if (o.templateName) builtinTemplate(o.templateName);
  const model = await Model.load(o.modelPath, { repack: o.repack ?? true, progress: o.progress });
  const tok = model.tokenizer;
  const template = chooseTemplate({
    file: o.templateFile,
    name: o.templateName,
    modelTemplate: typeof modelTemplate === 'string' ? modelTemplate : undefined,
    arch: String(meta.get('general.architecture') ?? ''),
    hasToken: (t) => tok.tokenId(t) >= 0,
    tokenizerModel: String(meta.get('tokenizer.ggml.model') ?? ''),
    jinja: o.jinja ?? false,
  });
  const depth = await resolveDepth(model, o.depth);
  return { model, template, depth };
}
