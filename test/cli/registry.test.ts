/**
 * The option registry at the command line (issue 18): the same loss flags in export, attach and
 * eval, each listed with every preset in their --help; `attach --weight sample|element` (a graph
 * input, the standalone loss's numbers); and the messages about the label / class count naming the
 * option the user wrote (the flag on the CLI, the option in the API).
 */
import fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { buildLoss, LIKES, OPTIONS, normalizeOptions, optionsFromMetadata, optionsToMetadata } from '../../src/losses';
import { decodeModel } from '../../src/onnx';
import { COMMANDS } from '../../src/cli/main';
import { runCli, scratchDir } from '../helpers/cli';
import { npyFiles } from '../helpers/npy-files';
import { expectClose, runModel } from '../helpers/ort';

const dir = scratchDir('focal-cli-registry-');
const file = (name: string): string => path.join(dir(), name);
const npy = npyFiles(dir);
const NETWORKS = path.join(__dirname, '..', 'fixtures', 'networks');
const CNN = path.join(NETWORKS, 'cnn-dynamo.onnx');
const TAGGER = path.join(NETWORKS, 'tagger-dynamo.onnx');

describe('the loss flags, one table', () => {
  const flags = OPTIONS.filter((e) => e.flag !== undefined).map((e) => `--${e.flag}`);

  it.each(['export', 'attach', 'eval'])('%s takes every loss flag and its --help lists each, and every preset', async (name) => {
    const command = COMMANDS.find((c) => c.name === name);
    expect(Object.keys(command?.flags ?? {}).map((f) => `--${f}`)).toEqual(expect.arrayContaining(flags));
    const r = await runCli([name, '--help']);
    expect(r.code).toBe(0);
    const usage = r.stdout.split('\n\n')[0];
    for (const flag of flags) expect(usage).toContain(`[${flag}`);
    for (const like of LIKES) expect(usage).toContain(like);
  });

  it('every option of the API but mmdet\'s offset has a flag, and the flags are distinct', () => {
    expect(OPTIONS.filter((e) => e.flag === undefined).map((e) => e.name)).toEqual(['normalizeOffset']);
    expect(new Set(flags).size).toBe(flags.length);
  });
});

describe('normalizing is idempotent: a preset is data, applied once', () => {
  it.each([
    [{}],
    [{ like: 'mmdet', normalize: 37.5 }],
    [{ like: 'mmdet', reduction: 'none' }],
    [{ like: 'detectron2' }],
    [{ like: 'kornia', reduction: 'mean', classWeight: [1, 2, 3] }],
    [{ like: 'torchvision', alpha: -1 }],
    [{ like: 'keras', task: 'multilabel' }],
    [{ task: 'multiclass', alpha: [0.1, 0.2, 0.7], targetDtype: 'int32' }],
    [{ task: 'multilabel', posWeight: [1, 2], weight: 'element' }],
  ] as const)('%j', (given) => {
    const once = normalizeOptions(given);
    expect(normalizeOptions(once)).toEqual(once);
    expect(normalizeOptions({ ...once })).toEqual(once);
  });

  it('property: any preset under any options that normalize, normalizes to itself and comes back from its metadata', () => {
    const given = fc.record(
      {
        like: fc.constantFrom(...LIKES),
        task: fc.constantFrom('binary', 'multilabel', 'multiclass'),
        input: fc.constantFrom('probs', 'logits'),
        reduction: fc.constantFrom('mean', 'sum', 'none'),
        normalize: fc.oneof(fc.constantFrom('elements', 'positives'), fc.double({ min: 0.5, max: 1e4, noNaN: true })),
        ignoreIndex: fc.constantFrom(null, -1, -100, 255),
        countIgnored: fc.boolean(),
        alpha: fc.constantFrom(0.25, 'none', -1),
      },
      { requiredKeys: ['like'] },
    );
    let checked = 0;
    fc.assert(
      fc.property(given, (raw) => {
        let once;
        try {
          once = normalizeOptions(raw as Parameters<typeof normalizeOptions>[0]);
        } catch {
          return;
        }
        checked++;
        expect(normalizeOptions(once)).toEqual(once);
        expect(normalizeOptions({ ...once })).toEqual(once);
        expect(optionsFromMetadata(optionsToMetadata(once), once.opset)).toEqual(once);
      }),
      { numRuns: 400, seed: 18 },
    );
    expect(checked).toBeGreaterThan(50);
  });

  it("mmdet's float32 eps is added to avg_factor once, and a copy of the options does not add it again", () => {
    const o = normalizeOptions({ like: 'mmdet', normalize: 37.5 });
    expect(o.normalize).toBe(37.5 + 2 ** -23);
    expect(o.normalizeOffset).toBe(0);
    expect(normalizeOptions({ ...o, reduction: 'none' }).normalize).toBe(37.5 + 2 ** -23);
    expect(normalizeOptions({ like: 'mmdet', normalize: 37.5, normalizeOffset: 0 }).normalize).toBe(37.5);
  });
});

describe('attach --weight', () => {
  it('attach --reduction weighted-mean --weight sample: the model takes weight and gives the standalone loss of the network\'s logits', async () => {
    const out = file('cnn-weighted.onnx');
    const loss = ['--task', 'multiclass', '--input', 'logits', '--alpha', 'none', '--reduction', 'weighted-mean', '--weight', 'sample'];
    const r = await runCli(['attach', CNN, '--output', 'logits', ...loss, '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = decodeModel(fs.readFileSync(out));
    expect(m.graph.inputs.map((i) => i.name)).toEqual(['images', 'target', 'weight']);
    const net = JSON.parse(fs.readFileSync(path.join(NETWORKS, 'networks.json'), 'utf8')).networks.find((n: { name: string }) => n.name === 'cnn');
    const [b, c] = net.outputShape as number[];
    const weight = Array.from({ length: b }, (_, i) => 0.5 + i);
    const attached = await runModel(fs.readFileSync(out), {
      images: { dtype: 'float32', dims: net.inputShape, data: net.x },
      target: { dtype: 'int64', dims: [b], data: net.target },
      weight: { dtype: 'float32', dims: [b], data: weight },
    });
    const standalone = buildLoss({ task: 'multiclass', input: 'logits', alpha: 'none', reduction: 'weighted-mean', weight: 'sample' });
    const direct = await runModel(standalone.bytes, {
      pred: { dtype: 'float32', dims: [b, c], data: attached.logits.data },
      target: { dtype: 'int64', dims: [b], data: net.target },
      weight: { dtype: 'float32', dims: [b], data: weight },
    });
    expectClose(attached.loss.data, direct.loss.data);
    expect(attached.loss.data[0]).not.toBe(0);
  });

  it('attach --weight element: one weight per loss element', async () => {
    const out = file('tagger-element.onnx');
    const r = await runCli(['attach', TAGGER, '--output', 'logits', '--task', 'multilabel', '--input', 'logits', '--weight', 'element', '--json', '-o', out]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const weight = j.inputs.find((i: { name: string }) => i.name === 'weight');
    expect(weight.shape).toEqual(j.outputs.find((o: { name: string }) => o.name === 'logits').shape);
  });
});

describe('a label / class count is named by the option that fixed it', () => {
  it('eval --class-weight on other labels names --class-weight, not --alpha', async () => {
    const pred = npy('float32', [2, 5], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.5]);
    const target = npy('float32', [2, 5], [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    const r = await runCli(['eval', '--task', 'multilabel', '--class-weight', '1,2,3', '--pred', pred, '--target', target]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`focal-onnx: ${pred}: has 5 labels (shape [2, 5]), but --class-weight lists 3 values, one per label\n`);
  });

  it('eval --task multiclass --alpha on other classes: one per class', async () => {
    const pred = npy('float32', [2, 4], [0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.25, 0.25]);
    const target = npy('int64', [2], [0, 3]);
    const r = await runCli(['eval', '--task', 'multiclass', '--alpha', '0.2,0.3,0.5', '--pred', pred, '--target', target]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`focal-onnx: ${pred}: has 4 classes (shape [2, 4]), but --alpha lists 3 values, one per class\n`);
  });

  it('one value is one value: --class-weight 2 on 6 labels', async () => {
    const r = await runCli(['attach', TAGGER, '--output', 'logits', '--task', 'multilabel', '--input', 'logits', '--class-weight', '2', '-o', file('one.onnx')]);
    expect(r.stderr).toMatch(/^focal-onnx: --class-weight lists 1 value, one per label, but .* has 6 labels/);
  });

  it('attach --pos-weight on other labels names --pos-weight and the network output', async () => {
    const r = await runCli(['attach', TAGGER, '--output', 'logits', '--task', 'multilabel', '--input', 'logits', '--pos-weight', '1,2', '-o', file('x.onnx')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^focal-onnx: --pos-weight lists 2 values, one per label, but .* has 6 labels \(shape \[.*, 6\]\)\n$/);
    expect(fs.existsSync(file('x.onnx'))).toBe(false);
  });

  it('the API names the option: predShape with classWeight', () => {
    expect(() => buildLoss({ task: 'multilabel', classWeight: [1, 2, 3] }, { predShape: ['B', 5] })).toThrow(
      'predShape [B, 5] has 5 labels on its last axis, but classWeight lists 3 values, one per label',
    );
  });
});
