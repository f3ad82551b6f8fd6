/**
 * The detection flags (--target-format, --ignore-index, --normalize, --class-weight, --pos-weight,
 * --variant, --normalized, --reduced-threshold, --count-ignored, --like mmdet | detectron2 | smp |
 * kornia | monai) through `export` and `inspect`: good lines write a model whose metadata and
 * summary name the terms; bad ones exit 2 with one line naming the flag and echoing the value, and
 * write nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { optionsFromMetadata } from '../../src/losses';
import { decodeModel } from '../../src/onnx';
import { runCli, scratchDir } from '../helpers/cli';

const dir = scratchDir('focal-onnx-detection-flags-');
const out = (name: string): string => path.join(dir(), name);

describe('export with the detection flags', () => {
  it('--like detectron2: the summary, the metadata and inspect name index targets, ignore -1, positives', async () => {
    const file = out('d2.onnx');
    const r = await runCli(['export', '--like', 'detectron2', '--with-grad', '-o', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('multilabel logits α=0.25 γ=2 mean eps=0 float32 opset 17 arith index targets ignore=-1 normalize=positives, like detectron2');
    expect(r.stdout).toContain('target int64[N]');
    const info = decodeModel(fs.readFileSync(file));
    const o = optionsFromMetadata(info.metadata, 17);
    expect(o).toMatchObject({ like: 'detectron2', targetFormat: 'index', ignoreIndex: -1, normalize: 'positives', task: 'multilabel', input: 'logits', eps: 0 });
    const ins = await runCli(['inspect', file, '--ep', 'cuda']);
    expect(ins.code).toBe(0);
    expect(ins.stdout).toMatch(/loss +multilabel logits .*index targets ignore=-1 normalize=positives, like detectron2/);
    expect(ins.stdout).toContain('runs wholly on CUDA');
  });

  it('mmdet avg_factor: the number plus float32 eps, kept through the metadata', async () => {
    const file = out('mmdet.onnx');
    expect((await runCli(['export', '--like', 'mmdet', '--normalize', '37.5', '-o', file])).code).toBe(0);
    const o = optionsFromMetadata(decodeModel(fs.readFileSync(file)).metadata, 17);
    expect(o?.normalize).toBe(37.5 + 2 ** -23);
  });

  it('every term at once, as a function: its attributes', async () => {
    const file = out('fn.onnx');
    const r = await runCli([
      'export', '--task', 'multilabel', '--input', 'logits', '--target-format', 'index', '--ignore-index', '255', '--normalize', 'input',
      '--class-weight', '1,2,0.5', '--pos-weight', '2', '--reduced-threshold', '0.4', '--count-ignored', '--as-function', '--with-grad', '-o', file,
    ]);
    expect(r.code).toBe(0);
    const info = decodeModel(fs.readFileSync(file));
    expect(info.graph.inputs.map((i) => i.name)).toEqual(['pred', 'target', 'normalizer']);
    const ins = await runCli(['inspect', file]);
    expect(ins.stdout).toContain('ai.focal.MultiLabelFocalLoss(pred, target, normalizer)');
  });

  it.each([
    [['--ignore-index', '0.5'], '--ignore-index', '0.5'],
    [['--task', 'binary', '--ignore-index', '1'], '--ignore-index', '1'],
    [['--normalize', 'rows'], '--normalize', 'rows'],
    [['--normalize', '-2'], '--normalize', '-2'],
    [['--normalize', 'positives', '--reduction', 'sum'], '--normalize', 'sum'],
    [['--task', 'multilabel', '--class-weight', '1,x'], '--class-weight', '1,x'],
    [['--task', 'multilabel', '--class-weight', '1,-2'], '--class-weight', '-2'],
    [['--task', 'multilabel', '--alpha', '0.1,0.2', '--class-weight', '1,2,3'], '--class-weight', '3 entries'],
    [['--task', 'multiclass', '--pos-weight', '2'], '--pos-weight', '2'],
    [['--task', 'binary', '--pos-weight', '1,2'], '--pos-weight', '1, 2'],
    [['--variant', 'star'], '--variant', '--input logits'],
    [['--variant', 'fl*'], '--variant', 'fl*'],
    [['--input', 'logits', '--variant', 'star', '--normalized'], '--variant', '--normalized'],
    [['--reduced-threshold', '0'], '--reduced-threshold', '0'],
    [['--reduced-threshold', '1.5'], '--reduced-threshold', '1.5'],
    [['--target-format', 'index'], '--target-format', 'binary'],
    [['--target-format', 'index', '--task', 'multilabel', '--target-dtype', 'float'], '--target-dtype', 'index'],
    [['--like', 'mmdet', '--task', 'binary'], '--like', 'binary'],
    [['--like', 'smp', '--task', 'multiclass'], '--like', '--target-format index'],
    [['--like', 'yolo'], '--like', 'yolo'],
    [['--ignore-index', '300', '--target-dtype', 'uint8'], '--ignore-index', '300'],
    [['--targets', 'soft', '--ignore-index', '255', '--reduced-threshold', '0.5'], '--ignore-index', '--targets soft'],
  ])('%j: exit 2, one line naming %s', async (args, flag, echo) => {
    const file = out(`bad-${Math.random().toString(36).slice(2)}.onnx`);
    const r = await runCli(['export', ...(args as string[]), '-o', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(flag as string);
    expect(lines[0]).toContain(echo as string);
    expect(fs.existsSync(file)).toBe(false);
  });
});
