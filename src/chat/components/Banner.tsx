// The start banner: model, architecture, size, type, context, threads, template, depth gates.
import { Box, Text } from 'ink';
import { basename } from 'node:path';

export interface BannerInfo {
  file: string;
  arch: string;
  layers: number;
  params: number;
  type: string;
  ctx: number;
  threads: number;
  template: string;
  templateReason: string;
  depth: string;
  experts?: string;
}

export function bannerInfo(s: {
  model: { path: string; info: { arch: string; nLayer: number; nParams: number; description: string; nExpert: number; nExpertUsed: number } };
  ctx: { state(): { nCtx: number; nThreads: number } };
  templateChoice: { template: { name: string }; reason: string };
  depthDescription: string;
}): BannerInfo {
  const i = s.model.info;
  const st = s.ctx.state();
  return {
    file: basename(s.model.path),
    arch: i.arch,
    layers: i.nLayer,
    params: i.nParams,
    type: i.description.split(' ').pop() ?? '',
    ctx: st.nCtx,
    threads: st.nThreads,
    template: s.templateChoice.template.name,
    templateReason: s.templateChoice.reason,
    depth: s.depthDescription,
    experts: i.nExpert > 0 ? `${i.nExpertUsed} of ${i.nExpert} experts` : undefined,
  };
}

const params = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${(n / 1e6).toFixed(1)}M`);

export function Banner({ info }: { info: BannerInfo }) {
  return (
    <Box flexDirection="column" marginBottom={1}>
      <Text bold color="cyan">
        llama4 chat · {info.file}
      </Text>
      <Text>
        {info.arch} · {info.layers} layers · {params(info.params)} params · {info.type}
        {info.experts ? ` · ${info.experts}` : ''} · ctx {info.ctx} · {info.threads} threads
      </Text>
      <Text>
        template: {info.template} ({info.templateReason}) · depth gates: {info.depth}
      </Text>
      <Text dimColor>/help for commands · Ctrl-C stops a reply · Ctrl-D quits</Text>
    </Box>
  );
}
