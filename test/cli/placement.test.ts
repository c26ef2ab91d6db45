// Placement from the command line (issue 25 item 2): llama.cpp's flags on every model command, `info`'s plan
// for the GPU present or one given with --vram, and what a build without a usable GPU says.
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/native/addon.js';
import { runInfo } from '../../src/cli/info.js';
import { cli } from '../helpers/cli.js';
import { model } from '../helpers/shared.js';

const MiB = 1024 ** 2;
const smol = model('real/SmolLM2-135M-Instruct.Q4_1.gguf');
const moe = model('synthetic/tiny-llama4-q4_0.synthetic.gguf');
const cuda = addon().systemInfo().backends.find((b) => b.name === 'cuda')!;

describe('placement flags', () => {
  it('--version names the backends this build has and whether each is usable', () => {
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^llama4 \d+\.\d+\.\d+\n/);
    expect(r.stdout).toMatch(/^ {2}cpu: kernels (avx512|avx2|scalar)/m);
    expect(r.stdout).toMatch(cuda.compiled ? /^ {2}cuda: .*sm_\d+/m : /^ {2}cuda: not compiled/m);
    if (cuda.compiled && !cuda.available) expect(r.stdout).toMatch(/cuda: .*not usable here: /);
  });

  it('info plans for a GPU given with --vram: SmolLM2 all on it with 4 GiB free, the embedding in system memory', async () => {
    const j = JSON.parse(await runInfo(smol, { json: true, vram: 4 * 1024 * MiB }));
    expect(j.placement.gpu).toEqual({ name: 'CUDA0', freeBytes: 4 * 1024 * MiB, totalBytes: 4 * 1024 * MiB });
    expect(j.placement.mode).toBe('auto');
    expect(j.placement.gpuLayers).toBe(31);
    expect(j.placement.llamaCppFlags).toBe('-ngl 31');
    expect(j.placement.devices['token_embd.weight']).toBe('CPU');
    expect(j.placement.devices['blk.0.attn_q.weight']).toBe('CUDA0');
    // f16 KV for 4096 cells x 30 layers x 3 heads x 64 x 2
    expect(j.placement.vram.kv).toBe(4096 * 30 * 3 * 64 * 2 * 2);
  });

  it('info: a GPU with little free memory gets the last layers only (the 1 GiB margin first)', async () => {
    const j = JSON.parse(await runInfo(smol, { json: true, vram: 1100 * MiB }));
    expect(j.placement.gpuLayers).toBeGreaterThan(0);
    expect(j.placement.gpuLayers).toBeLessThan(31);
    expect(j.placement.vram.total).toBeLessThanOrEqual(1100 * MiB - 1024 * MiB);
    expect(j.placement.devices['blk.29.attn_q.weight']).toBe('CUDA0');
    expect(j.placement.devices['blk.0.attn_q.weight']).toBe('CPU');
  });

  it('info from the CLI: -ngl, --n-cpu-moe and -ot spelled as llama.cpp does, with the group table', () => {
    const r = cli(['info', moe, '--vram', '8G', '-ngl', 'all', '-ncmoe', '2', '-ot', 'attn_q=CPU']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^gpu: +CUDA0, 8\.00 GiB free \(assumed: --vram\)/m);
    expect(r.stdout).toMatch(/^placement: +flags: 5 layers on CUDA0/m);
    expect(r.stdout).toMatch(/^ {2}routed experts +\S+ \S+ +\S+ \S+$/m); // both columns: layer 1's in system memory (the MoE layers are 1 and 3)
    expect(r.stdout).toContain("as llama.cpp flags: -ngl 5 -ot 'attn_q=CPU' -ot 'blk\\.0\\.ffn_(up|down|gate|gate_up)_(ch|)exps=CPU' -ot 'blk\\.1\\.ffn_(up|down|gate|gate_up)_(ch|)exps=CPU'");
    const j = JSON.parse(cli(['info', moe, '--json', '--vram', '8G', '-cmoe']).stdout);
    for (const [name, dev] of Object.entries(j.placement.devices as Record<string, string>)) {
      if (/_exps\./.test(name) || name === 'token_embd.weight') expect(dev, name).toBe('CPU');
      else expect(dev, name).toBe('CUDA0');
    }
  });

  it('info without a usable GPU and without --vram: everything in system memory, and why', async () => {
    if (cuda.available) {
      console.log('placement: a CUDA device is present; the no-GPU text is not checked here');
      return;
    }
    const text = await runInfo(smol, {});
    expect(text).toMatch(/^gpu: +none usable \(cuda: /m);
    expect(text).toMatch(/^placement: +all weights and the KV cache in system memory$/m);
  });

  it('bad values are usage errors (exit 2) with the reason', () => {
    const bad: [string[], RegExp][] = [
      [['-ot', 'exps'], /REGEX=DEVICE/],
      [['-ot', 'exps=GPU1'], /unknown device 'GPU1'/],
      [['-ot', 'blk\\.(=CPU'], /not a valid regular expression/],
      [['-ngl', 'many'], /not an integer/],
      [['-ncmoe', '-1'], /must be between 0/],
      [['--vram', 'lots'], /expected a size/],
    ];
    for (const [flags, msg] of bad) {
      const r = cli(['info', smol, ...flags]);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });

  it('run, bench and serve take the flags; without a usable GPU they say the flags are ignored and run on the CPU', () => {
    if (cuda.available) {
      console.log('placement: a CUDA device is present; the no-GPU warning is not checked here');
      return;
    }
    const r = cli(['run', '-m', model('stories260K.gguf'), '-p', 'Once', '-n', '4', '-ngl', '99', '--temp', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: (no usable GPU|this build has no CUDA backend).*placement flags \(-ngl, --cpu-moe, --n-cpu-moe, -ot\) are ignored/);
    const plain = cli(['run', '-m', model('stories260K.gguf'), '-p', 'Once', '-n', '4', '--temp', '0']);
    expect(plain.stderr).not.toMatch(/placement flags/);
    expect(plain.stdout).toBe(r.stdout);
    const b = cli(['bench', '-m', model('stories260K.gguf'), '-p', '8', '-n', '4', '-r', '1', '-t', '1', '--bw', 'off', '-cmoe']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/placement flags .* are ignored/);
    expect(b.stdout).toMatch(/^placement: all weights and the KV cache in system memory \(cuda: /m);
  });
});
