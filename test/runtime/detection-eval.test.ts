/**
 * eval with the detection terms: index targets from int files, ignored targets, the positives and
 * ignored counted over the whole file and the mean normalized by the file's totals — the same
 * number as the library references give on the whole data (test/fixtures/detection-cases.json),
 * in one batch or many; and the data checks that name the element.
 */
import * as path from 'path';
import { DataError, UsageError } from '../../src/errors';
import { LossOptions } from '../../src/losses';
import { createEvaluator, evaluate } from '../../src/runtime';
import { runCli, scratchDir } from '../helpers/cli';
import { DETECTION_CASES, DetectionCase } from '../helpers/detection-fixtures';
import { npyFiles } from '../helpers/npy-files';

const dir = scratchDir();
const npy = npyFiles(dir, 'det');

const byName = (name: string): DetectionCase => {
  const c = DETECTION_CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no fixture ${name}`);
  return c;
};

/** Cases whose loss is a reduction eval can give (mean over the file's divisor, or sum). */
const EVALUABLE = DETECTION_CASES.filter(
  (c) => c.options.normalize !== 'input' && (c.options.dtype ?? 'float64') === 'float64' && typeof c.loss === 'number' && c.options.form !== 'onehot',
);

function files(c: DetectionCase): { pred: string; target: string; intTarget: boolean; weight?: string } {
  const o = c.options;
  const intTarget = o.task === 'multiclass' || o.targetFormat === 'index' || o.like === 'mmdet' || o.like === 'detectron2';
  const weight = c.weight ? npy('float64', [c.weight.length], c.weight) : undefined;
  return { pred: npy('float64', c.predShape, c.pred), target: npy(intTarget ? 'int64' : 'float64', c.targetShape, c.target), intTarget, weight };
}

const lossOf = (c: DetectionCase): LossOptions => {
  const { dtype: _d, form: _f, ...rest } = c.options;
  return rest;
};

describe('eval over files: the fixtures whole, in one batch and in batches of 3 rows', () => {
  test.each(EVALUABLE.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const f = files(c);
    const row = c.predShape.length > 1 ? c.predShape[c.predShape.length - 1] : 1;
    for (const batchSize of [1 << 18, 3 * row]) {
      const r = await evaluate({ loss: lossOf(c), pred: f.pred, target: f.target, weight: f.weight, batchSize, threads: 1 });
      const want = c.loss as number;
      expect(Math.abs(r.loss - want)).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(want)));
      if (r.positives !== undefined) {
        expect(r.positives).toBe(c.positives);
        expect(r.ignored).toBe(c.ignored);
      }
    }
  });

  it('detectron2: positives and ignored over the file; the report names them', async () => {
    const c = byName('detectron2 retinanet 20x5');
    const f = files(c);
    const r = await evaluate({ loss: { like: 'detectron2' }, pred: f.pred, target: f.target, batchSize: 4 * 5 });
    expect(r.positives).toBe(c.positives);
    expect(r.ignored).toBe(c.ignored);
    expect(r.count).toBe((20 - c.ignored) * 5);
    const cli = await runCli(['eval', '--like', 'detectron2', '--pred', f.pred, '--target', f.target, '--json']);
    expect(cli.code).toBe(0);
    const j = JSON.parse(cli.stdout);
    expect(j.positives).toBe(c.positives);
    expect(j.ignored).toBe(c.ignored);
    expect(Math.abs(j.loss - (c.loss as number))).toBeLessThan(1e-10);
    const text = await runCli(['eval', '--task', 'multilabel', '--input', 'logits', '--eps', '0', '--target-format', 'index', '--ignore-index', '-1', '--normalize', 'positives', '--pred', f.pred, '--target', f.target]);
    expect(text.stdout).toMatch(new RegExp(`targets +${c.positives} positive, ${c.ignored} ignored`));
  });

  it('an index target outside [0, L] other than the ignore value: a one-line error naming the element', async () => {
    const pred = npy('float32', [4, 3], new Array(12).fill(0.5));
    const target = npy('int64', [4], [0, 3, 7, -1]);
    await expect(evaluate({ loss: { like: 'detectron2' }, pred, target })).rejects.toThrow(DataError);
    await expect(evaluate({ loss: { like: 'detectron2' }, pred, target })).rejects.toThrow(/element 2 is 7; index targets must be class indices in \[0, 3\] \(3 the background\) or the ignore value -1/);
    const cli = await runCli(['eval', '--like', 'mmdet', '--pred', pred, '--target', target]);
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/element 2 is 7/);
  });

  it('dense targets with an ignore value: 0, 1 or the value; others named', async () => {
    const pred = npy('float32', [5], [0.1, 0.2, 0.3, 0.4, 0.5]);
    const target = npy('float32', [5], [0, 1, 255, 1, 0.5]);
    await expect(evaluate({ loss: { ignoreIndex: 255 }, pred, target })).rejects.toThrow(/element 4 is 0.5; binary targets must be 0 or 1 or the ignore value 255/);
  });

  it('an ignore value survives the conversion of a float16 target file to the model type', async () => {
    const c = byName('smp binary ignore 255');
    const pred = npy('float32', c.predShape, c.pred);
    const t16 = npy('float16', c.targetShape, c.target);
    const t32 = npy('float32', c.targetShape, c.target);
    const a = await evaluate({ loss: { like: 'smp', ignoreIndex: 255 }, pred, target: t16 });
    const b = await evaluate({ loss: { like: 'smp', ignoreIndex: 255 }, pred, target: t32 });
    expect(a.ignored).toBe(c.ignored);
    expect(a.loss).toBe(b.loss);
    expect(Math.abs(a.loss - (c.loss as number))).toBeLessThan(1e-5 * (c.loss as number));
  });

  it('refuses what eval cannot give: a normalizer input; --out with the normalized loss; a normalized model file', async () => {
    const pred = npy('float32', [2], [0.1, 0.2]);
    const target = npy('float32', [2], [0, 1]);
    await expect(evaluate({ loss: { normalize: 'input' }, pred, target })).rejects.toThrow(UsageError);
    await expect(evaluate({ loss: { normalized: true, input: 'logits', reduction: 'none' }, pred, target, out: path.join(dir(), 'l.npy') })).rejects.toThrow(/^normalized divides .*; out would write the losses before that division/);
    const cli = await runCli(['export', '--like', 'smp', '--normalized', '-o', path.join(dir(), 'n.onnx')]);
    expect(cli.code).toBe(0);
    await expect(evaluate({ model: path.join(dir(), 'n.onnx'), pred, target })).rejects.toThrow(/normalized/);
  });

  it('createEvaluator takes index targets [N] for pred [N, L]', async () => {
    const c = byName('detectron2 retinanet 16x4');
    const ev = await createEvaluator({ loss: { like: 'detectron2', dtype: 'float64' } });
    const L = c.predShape[1];
    for (let r = 0; r < c.predShape[0]; r += 5) {
      const rows = Math.min(5, c.predShape[0] - r);
      await ev.add({ pred: Float64Array.from(c.pred.slice(r * L, (r + rows) * L)), target: BigInt64Array.from(c.target.slice(r, r + rows), BigInt), dims: [rows, L] });
    }
    const res = ev.result();
    await ev.close();
    expect(Math.abs(res.loss - (c.loss as number))).toBeLessThan(1e-10);
    expect(res.positives).toBe(c.positives);
  });
});
