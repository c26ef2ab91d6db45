// Model loading reports its progress (bytes of weights copied / in all) through a shared Float64Array, which
// the chat's progress bar polls; a bad progress argument is a clear error.
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/engine/model.js';
import { addon } from '../../src/native/addon.js';
import { model } from '../helpers/shared.js';

describe('loadModel progress', () => {
  it('ends at the total number of weight bytes copied', async () => {
    const p = new Float64Array(2);
    const m = await Model.load(model('real/SmolLM2-135M-Instruct.Q4_1.gguf'), { progress: p });
    expect(p[1]).toBeGreaterThan(50e6);
    expect(p[0]).toBe(p[1]);
    expect(p[1]).toBeLessThanOrEqual(m.info.weightBytes);
  });

  it('rejects a progress argument that is not a Float64Array(2)', async () => {
    const path = model('stories260K.gguf');
    expect(() => addon().loadModel(path, { progress: new Float32Array(2) as never })).toThrow(/Float64Array/);
    expect(() => addon().loadModel(path, { progress: new Float64Array(1) })).toThrow(/Float64Array/);
  });
});
