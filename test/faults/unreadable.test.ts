// Model paths that cannot be read as a model: a directory, a FIFO, a character device, a dangling symbolic
// link, a file that vanished, a file without read permission, an empty file. Each is one clear error from
// Model.load, loadDepthGates (an adapter) and quantize (its input), never a crash and never a hang: a FIFO
// is refused before it is opened (opening one for reading would wait for a writer forever).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/engine/model.js';
import { quantizeModel } from '../../src/engine/quantize.js';
import { model } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'llama4-faults-unreadable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const ADDON = ['Release', 'Debug'].map((c) => join(process.cwd(), 'build', c, 'llama4.node')).find((p) => existsSync(p))!;

/** Settles within `ms` or fails the test (a hang would otherwise only show as the test's timeout). */
function soon<T>(p: Promise<T>, ms = 15_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms (hung)`)), ms))]);
}

const subdir = join(dir, 'a-directory.gguf');
mkdirSync(subdir);
const fifo = join(dir, 'a-fifo.gguf');
spawnSync('mkfifo', [fifo]);
const dangling = join(dir, 'dangling.gguf');
symlinkSync(join(dir, 'no-such-target.gguf'), dangling);
const empty = join(dir, 'empty.gguf');
writeFileSync(empty, '');

/** [what, path, the message] for every unreadable kind. */
function cases(): [string, string, RegExp][] {
  const out: [string, string, RegExp][] = [
    ['a directory', subdir, new RegExp(`'${esc(subdir)}' is not a regular file \\(it is a directory\\)`)],
    ['a character device', '/dev/zero', /'\/dev\/zero' is not a regular file \(it is a character device\)/],
    ['a dangling symbolic link', dangling, new RegExp(`cannot open '${esc(dangling)}': No such file or directory \\(it is a symbolic link to '${esc(join(dir, 'no-such-target.gguf'))}', which does not exist\\)`)],
    ['a missing file', join(dir, 'vanished.gguf'), new RegExp(`cannot open '${esc(join(dir, 'vanished.gguf'))}': No such file or directory`)],
    ['an empty file', empty, /file truncated: shorter than the 4-byte magic/],
  ];
  if (existsSync(fifo)) out.push(['a FIFO', fifo, new RegExp(`'${esc(fifo)}' is not a regular file \\(it is a FIFO\\)`)]);
  else console.warn('unreadable.test: mkfifo is not available here; the FIFO cases did not run');
  return out;
}

describe('an unreadable model path is one clear error', () => {
  // Model.load reads the tokenizer alongside the weights: for a path that names nothing its own check
  // answers first, "model file not found: PATH" (src/tokenizer/tokenizer.ts); either message is clear
  const notFound = (path: string, message: RegExp) => new RegExp(`^model file not found: ${esc(path)}$|${message.source}`);
  for (const [what, path, message] of cases()) {
    it(`Model.load: ${what}`, async () => {
      const missing = what === 'a dangling symbolic link' || what === 'a missing file';
      await expect(soon(Model.load(path))).rejects.toThrow(missing ? notFound(path, message) : message);
    });
  }

  it('a file that vanished between choosing it and loading it', async () => {
    const p = join(dir, 'soon-gone.gguf');
    copyFileSync(model('stories260K.gguf'), p);
    const m = await Model.load(p); // loads while it is there
    unlinkSync(p);
    await expect(Model.load(p)).rejects.toThrow(notFound(p, new RegExp(`cannot open '${esc(p)}': No such file or directory`)));
    // the loaded one keeps working: its mapping holds the deleted file
    expect((await m.createContext({ nCtx: 8 }).evaluate([1])).length).toBe(512);
  });

  it('a file without read permission', async () => {
    const p = join(dir, 'no-read.gguf');
    copyFileSync(model('stories260K.gguf'), p);
    chmodSync(p, 0o000);
    const message = new RegExp(`cannot open '${esc(p)}': Permission denied`);
    if (process.getuid?.() !== 0) {
      await expect(Model.load(p)).rejects.toThrow(message);
      return;
    }
    // root reads anything: try as nobody in a child process (the addon's load is what is checked)
    const r = spawnSync(
      process.execPath,
      ['-e', 'require(process.argv[1]).loadModel(process.argv[2], {}).then(() => console.log("loaded"), (e) => console.log(e.message))', ADDON, p],
      { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 60_000 },
    );
    if (r.error || r.status !== 0) {
      console.warn(`unreadable.test: could not run a child as uid 65534 (${r.error?.message ?? r.stderr.trim()}); the permission case did not run`);
      return;
    }
    expect(r.stdout.trim()).toMatch(message);
  });

  it('an adapter (--depth-gates) path', async () => {
    const m = await Model.load(model('stories260K.gguf'));
    for (const [, path, message] of cases()) await expect(soon(m.loadDepthGates(path))).rejects.toThrow(message);
  });

  it("quantize's input: the error, and nothing written", async () => {
    const out = join(dir, 'out.gguf');
    for (const [, path, message] of cases()) {
      const e = await soon(quantizeModel(path, out, 'Q8_0')).then(() => undefined, (x: Error) => x);
      expect(e?.message).toMatch(new RegExp(`^cannot read '${esc(path)}': .*${message.source}`));
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('out.gguf'))).toEqual([]);
  });

  it('the CLI answers a FIFO at once (no hang) with the message and exit code 1', () => {
    if (!existsSync(fifo)) return;
    const r = spawnSync(process.execPath, [join(process.cwd(), 'bin', 'llama4.js'), 'run', '-m', fifo, '-p', 'hi'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`llama4: '${fifo}' is not a regular file (it is a FIFO)\n`);
  });
});
