/**
 * scripts/check-models.py (what CI runs over every model the tests record) on a sweep of exports at
 * every opset 13–21 — the seed's defaults and the new options (soft targets, label smoothing,
 * weights, weighted-mean, the presets; flat and function, with grad; float32, float64, float16):
 * onnx 1.23's checker with full_check, strict shape inference, and ReferenceEvaluator equal to
 * onnxruntime. And it fails, naming the file, on a model the checker refuses.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LossOptions, buildLoss } from '../../src/losses';
import { MAX_OPSET, MIN_OPSET, decodeModelProto, serializeModel } from '../../src/onnx';
import { describePython, runPython } from '../helpers/python';

const SWEEP: LossOptions[] = [
  {},
  { task: 'multilabel', like: 'keras', labelSmoothing: 0.1, weight: 'sample', reduction: 'weighted-mean', withGrad: true },
  { task: 'binary', like: 'torchvision', reduction: 'mean', withGrad: true, asFunction: true },
  { task: 'multiclass', targets: 'soft', input: 'logits', alpha: [0.2, 0.3, 0.5], weight: 'element', withGrad: true, dtype: 'float64' },
  { task: 'multiclass', labelSmoothing: 0.2, like: 'keras', weight: 'sample', reduction: 'weighted-mean', asFunction: true, withGrad: true, dtype: 'float16' },
  { task: 'multilabel', like: 'optax', alpha: 0.25, gamma: 1.5, reduction: 'sum', withGrad: true },
];

describePython('scripts/check-models.py (onnx 1.23: checker, strict shape inference, ReferenceEvaluator)', (python) => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-check-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`passes every sweep model at every opset ${MIN_OPSET}-${MAX_OPSET}`, () => {
    let n = 0;
    for (let opset = MIN_OPSET; opset <= MAX_OPSET; opset++) {
      SWEEP.forEach((o, i) => {
        fs.writeFileSync(path.join(dir, `m${opset}-${i}.onnx`), buildLoss({ ...o, opset }).bytes);
        n++;
      });
    }
    const out = runPython(python, ['scripts/check-models.py', dir]);
    expect(out).toContain(`check-models: ${n} checked, opsets ${MIN_OPSET}-${MAX_OPSET} (${n} run in ReferenceEvaluator and onnxruntime), 0 failed`);
  });

  it('fails on a model the checker refuses, naming the file', () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-check-bad-'));
    try {
      // The graph output renamed to a value no node produces.
      const model = decodeModelProto(buildLoss({}).bytes);
      model.graph!.output![0].name = 'lozz';
      fs.writeFileSync(path.join(bad, 'broken.onnx'), serializeModel(model));
      const r = spawnSync(python, ['scripts/check-models.py', bad], { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/FAIL .*broken\.onnx/);
      expect(r.stdout).toContain('1 failed');
    } finally {
      fs.rmSync(bad, { recursive: true, force: true });
    }
  });
});
