/**
 * The options of issue 12 at the edges: the presets by library name (each the library's own
 * defaults, any option given overriding them, the name recorded in the metadata), the new
 * options' validation and metadata, the default models' bytes (unchanged by the new options'
 * defaults), and the soft form equal to the hard one for 0/1 targets.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UsageError } from '../../src/errors';
import { LIKES, LossOptions, PRESETS, buildLoss, normalizeOptions, optionsFromMetadata } from '../../src/losses';
import { decodeModel } from '../../src/onnx';
import { runCli } from '../helpers/cli';
import { expectNear } from '../helpers/fixtures';
import { runModel } from '../helpers/ort';

describe('presets (like)', () => {
  it.each<[string, Partial<ReturnType<typeof normalizeOptions>>]>([
    ['seed', { input: 'probs', targets: 'hard', alpha: 0.25, gamma: 2, eps: 1e-4, reduction: 'mean' }],
    ['torchvision', { input: 'logits', targets: 'soft', alpha: 0.25, gamma: 2, eps: 0, reduction: 'none' }],
    ['fvcore', { input: 'logits', targets: 'soft', alpha: null, gamma: 2, eps: 0, reduction: 'none' }],
    ['optax', { input: 'logits', targets: 'soft', alpha: null, gamma: 2, eps: 0, reduction: 'none' }],
    ['keras', { input: 'probs', targets: 'soft', alpha: null, gamma: 2, eps: 1e-7, reduction: 'mean' }],
  ])('%s sets its library defaults', (like, expected) => {
    expect(normalizeOptions({ like: like as LossOptions['like'] })).toMatchObject({ ...expected, like });
  });

  it('keras averages multilabel rows over their labels; the other tasks have one loss a row already', () => {
    expect(normalizeOptions({ like: 'keras', task: 'multilabel' }).labelMean).toBe(true);
    expect(normalizeOptions({ like: 'keras', task: 'binary' }).labelMean).toBe(false);
    expect(normalizeOptions({ like: 'keras', task: 'multilabel', labelMean: false }).labelMean).toBe(false);
  });

  it('options given override the preset, and normalizing is a fixed point', () => {
    const o = normalizeOptions({ like: 'torchvision', alpha: 0.5, reduction: 'mean', eps: 1e-6 });
    expect(o).toMatchObject({ like: 'torchvision', alpha: 0.5, reduction: 'mean', eps: 1e-6, input: 'logits', targets: 'soft' });
    expect(normalizeOptions(o)).toEqual(o);
  });

  it("α = −1 is none under torchvision and fvcore (their 'ignore'), and an error elsewhere", () => {
    expect(normalizeOptions({ like: 'torchvision', alpha: -1 }).alpha).toBeNull();
    expect(normalizeOptions({ like: 'fvcore', alpha: -1 }).alpha).toBeNull();
    expect(() => normalizeOptions({ like: 'keras', alpha: -1 })).toThrow(/^alpha must be a number in \[0, 1\]/);
    expect(() => normalizeOptions({ alpha: -1 })).toThrow(UsageError);
  });

  it('an unknown library is refused, naming the option and the known ones', () => {
    expect(() => normalizeOptions({ like: 'mmdet-v1' as LossOptions['like'] })).toThrow(`like must be one of ${LIKES.join(', ')}, got 'mmdet-v1'`);
  });

  it('every preset builds, passes its metadata round trip, and is named in doc_string', () => {
    for (const like of Object.keys(PRESETS) as (keyof typeof PRESETS)[]) {
      for (const task of ['binary', 'multilabel', 'multiclass'] as const) {
        const m = buildLoss({ like, task, withGrad: true });
        const d = decodeModel(m.bytes);
        expect(d.metadata['focal.like']).toBe(like);
        expect(optionsFromMetadata(d.metadata, d.opsets[''])).toEqual(m.options);
        expect(d.docString).toContain(`like ${like}`);
      }
    }
  });
});

describe('the new options', () => {
  it.each<[string, LossOptions, RegExp]>([
    ['label smoothing above 1', { labelSmoothing: 1.5 }, /^labelSmoothing must be a number in \[0, 1\], got 1\.5$/],
    ['soft targets with the onehot form', { targets: 'soft', form: 'onehot' }, /^form onehot builds the seed's class mask of hard targets; targets soft needs form arith$/],
    ['label smoothing with the onehot form', { labelSmoothing: 0.1, form: 'onehot' }, /needs form arith/],
    ['soft targets of an integer type', { targets: 'soft', targetDtype: 'int64' }, /^targetDtype must be float \(the prediction's type\) with soft targets, got 'int64'$/],
    ['weighted-mean without weights', { reduction: 'weighted-mean' }, /^reduction weighted-mean is Σ w·l \/ Σ w and needs weight sample or element$/],
    ['an unknown weight kind', { weight: 'row' as LossOptions['weight'] }, /^weight must be one of none, sample, element, got 'row'$/],
  ])('%s is refused', (_what, options, message) => {
    expect(() => buildLoss(options)).toThrow(UsageError);
    expect(() => buildLoss(options)).toThrow(message);
  });

  it('soft multiclass targets are float rows [N, C]; weights are one per row or shaped like the per-element loss', () => {
    const sig = (o: LossOptions): string[] => buildLoss(o).inputs.map((i) => `${i.name} ${i.dtype}[${i.shape.join(', ')}]`);
    expect(sig({ task: 'multiclass', targets: 'soft' })).toEqual(['pred float32[N, C]', 'target float32[N, C]']);
    expect(sig({ task: 'multiclass', labelSmoothing: 0.1 })).toEqual(['pred float32[N, C]', 'target int64[N]']);
    expect(sig({ task: 'multilabel', weight: 'sample' })).toEqual(['pred float32[N, L]', 'target float32[N, L]', 'weight float32[N]']);
    expect(sig({ task: 'multilabel', weight: 'element' })).toEqual(['pred float32[N, L]', 'target float32[N, L]', 'weight float32[N, L]']);
    expect(sig({ task: 'multilabel', weight: 'element', labelMean: true })).toEqual(['pred float32[N, L]', 'target float32[N, L]', 'weight float32[N]']);
    expect(buildLoss({ task: 'multilabel', labelMean: true, reduction: 'none' }).outputs[0].shape).toEqual(['N']);
  });

  it('the function form carries them as attributes of its node', () => {
    const m = buildLoss({ task: 'multilabel', targets: 'soft', labelSmoothing: 0.1, weight: 'sample', labelMean: true, asFunction: true });
    const node = decodeModel(m.bytes).graph.nodes[0];
    expect(node.inputs).toEqual(['pred', 'target', 'weight']);
    const fn = decodeModel(m.bytes).functions[0];
    expect(fn.attributes).toEqual(expect.arrayContaining(['targets', 'label_smoothing', 'weight', 'label_mean']));
  });

  it("the defaults, given explicitly, build the seed's model byte for byte (models/ stays as it is)", () => {
    const explicit: LossOptions = { targets: 'hard', labelSmoothing: 0, weight: 'none', labelMean: false, like: null };
    for (const base of [{}, { task: 'multilabel', withGrad: true }, { task: 'multiclass', input: 'logits', asFunction: true }] as LossOptions[]) {
      expect(Buffer.from(buildLoss({ ...base, ...explicit }).bytes).equals(Buffer.from(buildLoss(base).bytes))).toBe(true);
      const meta = decodeModel(buildLoss(base).bytes).metadata;
      expect(Object.keys(meta).filter((k) => /targets|smoothing|weight|label_mean|like/.test(k))).toEqual([]);
    }
  });
});

describe('soft targets that are 0 or 1: the hard loss', () => {
  it.each(['binary', 'multilabel'] as const)('%s, logits, eps 0 (the stable forms): equal within float64 rounding, loss and grad', async (task) => {
    const pred = [-3, -0.5, 0, 0.7, 2.5, 9];
    const target = [0, 1, 1, 0, 1, 0];
    const dims = task === 'binary' ? [6] : [3, 2];
    const run = async (targets: 'hard' | 'soft'): Promise<Record<string, { data: number[] }>> => {
      const m = buildLoss({ task, input: 'logits', eps: 0, alpha: 0.3, gamma: 1.5, targets, dtype: 'float64', withGrad: true, reduction: 'none' });
      return runModel(m.bytes, { pred: { dtype: 'float64', dims, data: pred }, target: { dtype: 'float64', dims, data: target } });
    };
    const [hard, soft] = await Promise.all([run('hard'), run('soft')]);
    expectNear(soft.loss.data, hard.loss.data, 1e-14, 'soft vs hard loss');
    expectNear(soft.grad.data, hard.grad.data, 1e-13, 'soft vs hard grad');
  });
});

describe('CLI: export and inspect say what the options are', () => {
  it('export --like keras --task multilabel --weight sample --reduction weighted-mean', async () => {
    const r = await runCli(['export', '--like', 'keras', '--task', 'multilabel', '--weight', 'sample', '--reduction', 'weighted-mean', '-o', '/dev/null', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.options).toMatchObject({ like: 'keras', targets: 'soft', labelMean: true, weight: 'sample', reduction: 'weighted-mean', eps: 1e-7, alpha: null });
    expect(out.inputs.map((i: { name: string }) => i.name)).toEqual(['pred', 'target', 'weight']);
  });

  it('inspect reads them back from the metadata and says the model runs wholly on CUDA', async () => {
    const file = path.join(os.tmpdir(), `focal-presets-${process.pid}.onnx`);
    try {
      expect((await runCli(['export', '--like', 'keras', '--task', 'multiclass', '--alpha', '0.25', '--weight', 'sample', '--as-function', '--with-grad', '-o', file])).code).toBe(0);
      const r = await runCli(['inspect', file, '--ep', 'cuda']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/inputs +pred float32\[N, C\], target float32\[N, C\], weight float32\[N\]/);
      expect(r.stdout).toMatch(/loss +multiclass probs α=0\.25 γ=2 mean eps=1e-7 float32 opset 17 arith soft targets, sample weight, like keras \(as function, with grad\)/);
      expect(r.stdout).toMatch(/CUDA +runs wholly on CUDA/);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('the summary line names the new options', async () => {
    const r = await runCli(['export', '--like', 'torchvision', '--label-smoothing', '0.1', '-o', '/dev/null']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('binary logits α=0.25 γ=2 none eps=0 float32 opset 17 arith soft targets, label smoothing 0.1, like torchvision');
  });
});
