// A model file truncated under a read of its mapping: the kernel raises SIGBUS, which ends the process.
// The addon's SIGBUS handler (native/src/runtime/mmap_file.cpp) first names the file on stderr, then lets
// the signal take its previous course (here the default action: the process ends with SIGBUS, as without
// the handler, but explained). Forward passes never get there (they check the file first, see
// model-file.test.ts), so the deterministic way in is another read of a loaded model's mapping that has no
// such check: loadDepthGates('') reads gate tensors stored in the model file itself. The child process
// loads such a model, truncates it to 0 bytes, then asks for its gates: the read faults every time.
//
// A SIGBUS that is not about our mappings (one sent with kill) must behave as if the handler were absent:
// the process ends with SIGBUS and no message.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModel, TINY } from '../gguf/tiny-model.js';

const dir = mkdtempSync(join(tmpdir(), 'llama4-faults-sigbus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ADDON = ['Release', 'Debug'].map((c) => join(process.cwd(), 'build', c, 'llama4.node')).find((p) => existsSync(p))!;

/** Runs an ES module in a child node with the addon as `a` and the arguments as `args`. */
function child(body: string, args: string[]) {
  const script = `import { createRequire } from 'node:module';
import { truncateSync } from 'node:fs';
const a = createRequire(import.meta.url)(${JSON.stringify(ADDON)});
const args = process.argv.slice(1);
${body}`;
  // SIGBUS's default action dumps core: none (ulimit -c 0), and in the temporary directory if one is made
  return spawnSync('/bin/sh', ['-c', 'ulimit -c 0; exec "$0" --input-type=module -e "$@"', process.execPath, script, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: dir,
  });
}

describe('SIGBUS from a truncated mapping', () => {
  it('names the truncated file, then ends the process with SIGBUS as before', async () => {
    const p = join(dir, 'gated.gguf');
    await tinyModel({ extra: { 'blk.0.depth_gate.weight': [TINY.embd], 'blk.0.depth_gate.bias': [1] } }).write(p);
    // the same steps without the truncation work: the model and its gates load
    const ok = child(`const m = await a.loadModel(args[0], { repack: false });
const g = await a.loadDepthGates(m, '');
console.log('gates', g.info().layers.map((l) => l.present).join());`, [p]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe('gates true,false\n');

    const r = child(`const m = await a.loadModel(args[0], { repack: false });
truncateSync(args[0], 0);
console.log('truncated');
await a.loadDepthGates(m, '');
console.log('not reached');`, [p]);
    expect(r.stdout).toBe('truncated\n');
    expect(r.signal).toBe('SIGBUS');
    expect(r.stderr).toBe(`llama4: the model file '${p}' was truncated while in use (bus error reading its mapped weights)\n`);
  });

  it('a SIGBUS about something else passes through untouched (no message)', async () => {
    const p = join(dir, 'plain.gguf');
    await tinyModel().write(p);
    const r = child(`const m = await a.loadModel(args[0], {});
console.log('loaded');
process.kill(process.pid, 'SIGBUS');
await new Promise((r) => setTimeout(r, 2000));
console.log('not reached');`, [p]);
    expect(r.stdout).toBe('loaded\n');
    expect(r.signal).toBe('SIGBUS');
    expect(r.stderr).toBe('');
  });
});
