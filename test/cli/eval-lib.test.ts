/**
 * `focal-onnx eval` gives the libraries' numbers: every torchvision / optax / Keras golden case
 * (test/fixtures/lib-cases.json) written as float64 `.npy` files — soft targets, soft multiclass
 * rows [N, C], class indices with label smoothing, and `--weight W.npy` (its shape deciding per
 * sample or per element) — evaluated from the flags the case names, in batches of a few rows (so
 * the float64 accumulation and Σ w of weighted-mean run across batches). Reduction none reports
 * the mean of the per-element losses, and `--out` writes them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readNpy } from '../../src/io/npy';
import { LibCase, LIB_FIXTURES, flat, libTolerance } from '../helpers/lib-fixtures';
import { expectNear } from '../helpers/fixtures';
import { runCli, scratchDir } from '../helpers/cli';
import { npyFiles } from '../helpers/npy-files';

const dir = scratchDir('focal-eval-lib-');
const npy = npyFiles(dir, 'lib');

function flagsFor(c: LibCase): string[] {
  const o = c.options;
  const f: string[] = [];
  const add = (name: string, v: unknown): void => {
    if (v !== undefined) f.push(`--${name}`, Array.isArray(v) ? v.join(',') : String(v));
  };
  add('like', o.like);
  add('task', o.task);
  add('input', o.input);
  add('alpha', o.alpha);
  add('gamma', o.gamma);
  add('reduction', o.reduction);
  add('targets', o.targets);
  add('label-smoothing', o.labelSmoothing);
  return f;
}

function files(c: LibCase): string[] {
  const classIndices = c.options.task === 'multiclass' && c.options.targets === 'hard';
  const f = ['--pred', npy('float64', c.predShape, flat(c.pred)), '--target', npy(classIndices ? 'int64' : 'float64', c.targetShape, flat(c.target))];
  if (c.weight !== undefined) f.push('--weight', npy('float64', c.weightShape ?? [], flat(c.weight)));
  return f;
}

it.each(LIB_FIXTURES.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
  const r = await runCli(['eval', ...flagsFor(c), ...files(c), '--batch-size', String(3 * (c.predShape[1] ?? 1)), '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  const expected = flat(c.loss);
  const want = c.options.reduction === 'none' ? expected.reduce((a, b) => a + b, 0) / expected.length : expected[0];
  expectNear([out.loss], [want], libTolerance(c, 'float64'), `${c.name}: eval`);
  expect(out.batches).toBeGreaterThan(1);
  // Binary and multiclass: one weight per row is one per loss element, and eval calls it sample.
  if (c.weight !== undefined) expect(out.options.weight).toBe(c.options.task === 'multilabel' ? c.options.weight : 'sample');
});

it('--out writes the per-element losses of a soft, weighted, label-mean case (Keras reduction None)', async () => {
  const c = LIB_FIXTURES.cases.find((x) => x.library === 'keras' && x.options.task === 'multilabel' && x.options.reduction === 'none' && x.weight !== undefined);
  if (!c) throw new Error('no such fixture');
  const out = path.join(dir(), 'losses.npy');
  const r = await runCli(['eval', ...flagsFor(c), ...files(c), '--out', out, '--batch-size', '6']);
  expect(r.code).toBe(0);
  const written = readNpy(out);
  expect(written.header.shape).toEqual([c.predShape[0]]);
  expectNear(Array.from(written.data as Float64Array), flat(c.loss), libTolerance(c, 'float64'), 'eval --out');
  fs.rmSync(out);
});

describe('data checks with soft targets and weights: one line naming the file and element', () => {
  it.each<[string, string[], RegExp]>([
    ['a soft target above 1', ['--targets', 'soft'], /t\d+\.npy: element 2 is 1\.5; soft targets must be in \[0, 1\]/],
    ['a soft target a hair below 0 (the check in the graph sees it)', ['--targets', 'soft', '--tiny'], /t\d+\.npy: element 1 is -1e-30; soft targets must be in \[0, 1\]/],
    ['a NaN soft target', ['--targets', 'soft', '--nan'], /t\d+\.npy: element 0 is NaN/],
    ['a soft multiclass row entry below 0', ['--task', 'multiclass', '--targets', 'soft'], /soft targets must be in \[0, 1\]/],
    ['a negative weight', ['--weight-bad'], /w\d+\.npy: element 1 is -1; weights must be finite and >= 0/],
    ['weighted-mean without weights', ['--reduction', 'weighted-mean'], /--reduction weighted-mean is Σ w·l \/ Σ w and needs --weight sample or element/],
  ])('%s', async (_what, extra, message) => {
    const w = npyFiles(dir, 'w');
    const t = npyFiles(dir, 't');
    const multiclass = extra.includes('multiclass');
    const pred = multiclass ? npy('float32', [2, 2], [0.3, 0.7, 0.5, 0.5]) : npy('float32', [3], [0.2, 0.5, 0.9]);
    const softValues = extra.includes('--tiny') ? [0.5, -1e-30, 1] : extra.includes('--nan') ? [NaN, 0.5, 1] : [0, 0.5, 1.5];
    const target = multiclass ? t('float32', [2, 2], [1, 0, -0.25, 1.25]) : t('float32', [3], extra.includes('--targets') ? softValues : [0, 0, 1]);
    const args = ['eval', '--pred', pred, '--target', target, ...extra.filter((x) => !['--weight-bad', '--tiny', '--nan'].includes(x))];
    if (extra.includes('--weight-bad')) args.push('--weight', w('float32', [3], [1, -1, 2]));
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});
