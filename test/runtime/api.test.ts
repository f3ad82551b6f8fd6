/**
 * The package's public API (src/index.ts): the names the issue promises, usable together.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as api from '../../src/index';
import { makeSamples } from '../../scripts/make-samples';

describe('the public API', () => {
  it('exports the evaluator, sessions, npy I/O, the builder, the losses and the CLI', () => {
    for (const name of [
      'evaluate',
      'createEvaluator',
      'createSession',
      'checkCudaPlacement',
      'readNpy',
      'writeNpy',
      'NpyReader',
      'NpyWriter',
      'buildLoss',
      'optionsFromMetadata',
      'decodeModel',
      'Graph',
      'op',
      'run',
      'UsageError',
      'DataError',
      'DEFAULT_BATCH_ELEMENTS',
      'f16BitsToF32',
    ]) {
      expect([name, typeof (api as Record<string, unknown>)[name]]).not.toEqual([name, 'undefined']);
    }
  });

  it('evaluates files written through it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-api-'));
    try {
      const { pred, target } = makeSamples(1000);
      api.writeNpy(path.join(dir, 'p.npy'), 'float32', [1000], pred);
      api.writeNpy(path.join(dir, 't.npy'), 'float32', [1000], target);
      const r = await api.evaluate({ pred: path.join(dir, 'p.npy'), target: path.join(dir, 't.npy'), loss: { gamma: 0, alpha: 'none' } });
      // γ = 0, no α: the mean binary cross-entropy (p_t clamped at 1e-4).
      let bce = 0;
      for (let i = 0; i < 1000; i++) bce -= Math.log(Math.max(1e-4, target[i] ? pred[i] : 1 - pred[i]));
      expect(Math.abs(r.loss / (bce / 1000) - 1)).toBeLessThan(1e-6);
      expect(api.readNpy(path.join(dir, 'p.npy')).header.shape).toEqual([1000]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the bundled samples', () => {
  const SAMPLES = path.join(__dirname, '..', '..', 'samples');

  it('are what scripts/make-samples.ts writes: 100,000 binary elements, about 10% positives', () => {
    const { pred, target } = makeSamples();
    const p = api.readNpy(path.join(SAMPLES, 'pred.npy'));
    const t = api.readNpy(path.join(SAMPLES, 'target.npy'));
    expect(p.header.dtype).toBe('float32');
    expect(Buffer.from((p.data as Float32Array).buffer).equals(Buffer.from(pred.buffer))).toBe(true);
    expect(Buffer.from((t.data as Float32Array).buffer).equals(Buffer.from(target.buffer))).toBe(true);
    const positives = target.reduce((a, b) => a + b, 0);
    expect(positives / target.length).toBeGreaterThan(0.09);
    expect(positives / target.length).toBeLessThan(0.11);
  });
});
