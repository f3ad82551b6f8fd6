/**
 * eval on the golden cases from the libraries' own source files (test/fixtures/source-cases.json):
 * the cases eval's files hold as they are ([N, C] or [N], labels last) give the library's loss
 * from .npy files, in one batch and in batches of 3 rows — MONAI's sum (the mean on [N, C]),
 * smp's per-class normalization (each label's Σ F over the whole file), mmdet, fvcore, kornia; the
 * channel-first cases are refused with one line naming --label-axis (eval reads labels last), and
 * torchvision's per-image RetinaNet loss with one naming --per-image (their graphs are checked in
 * test/losses/source-fixtures.test.ts).
 */
import { UsageError } from '../../src/errors';
import { LossOptions } from '../../src/losses';
import { evaluate } from '../../src/runtime';
import { runCli, scratchDir } from '../helpers/cli';
import { npyFiles } from '../helpers/npy-files';
import { SOURCE_CASES, SourceCase, indexTargets } from '../helpers/source-fixtures';

const dir = scratchDir();
const npy = npyFiles(dir, 'src');

const channelFirst = (c: SourceCase): boolean => c.options.labelAxis !== undefined && c.options.labelAxis !== -1 && c.predShape.length > 2;
const EVALUABLE = SOURCE_CASES.filter((c) => !channelFirst(c) && !c.options.perImage && typeof c.loss === 'number' && c.options.normalize !== 'input');

function files(c: SourceCase): { pred: string; target: string } {
  return { pred: npy('float64', c.predShape, c.pred), target: npy(indexTargets(c) ? 'int64' : 'float64', c.targetShape, c.target) };
}

describe('eval over files: the source cases eval reads as they are', () => {
  test.each(EVALUABLE.map((c) => [`${c.library}: ${c.name}`, c] as const))('%s', async (_n, c) => {
    const f = files(c);
    const row = c.predShape.length > 1 ? c.predShape[c.predShape.length - 1] : 1;
    for (const batchSize of [1 << 18, 3 * row]) {
      const r = await evaluate({ loss: c.options as LossOptions, pred: f.pred, target: f.target, batchSize, threads: 1 });
      const want = c.loss as number;
      expect(Math.abs(r.loss - want)).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(want)));
    }
  });

  it('covers MONAI sum and smp normalized label', () => {
    const names = EVALUABLE.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['monai sum [N, C]', 'smp multiclass normalized [N, C]', 'smp multiclass normalized ignore 255 [N, C]']));
  });

  it('the CLI: --like monai --reduction sum and --normalized label give the libraries\' numbers', async () => {
    const monai = SOURCE_CASES.find((c) => c.name === 'monai sum [N, C]') as SourceCase;
    const m = files(monai);
    const a = await runCli(['eval', '--like', 'monai', '--reduction', 'sum', '--pred', m.pred, '--target', m.target, '--json']);
    expect(a.code).toBe(0);
    expect(Math.abs(JSON.parse(a.stdout).loss - (monai.loss as number))).toBeLessThan(1e-10);
    const smp = SOURCE_CASES.find((c) => c.name === 'smp multiclass normalized [N, C]') as SourceCase;
    const s = files(smp);
    const b = await runCli(['eval', '--like', 'smp', '--task', 'multilabel', '--target-format', 'index', '--normalized', 'label', '--pred', s.pred, '--target', s.target, '--json']);
    expect(b.code).toBe(0);
    expect(Math.abs(JSON.parse(b.stdout).loss - (smp.loss as number))).toBeLessThan(1e-10);
  });
});

describe('perImage (torchvision RetinaNet): refused by eval, one line naming the flag', () => {
  const c = SOURCE_CASES.find((x) => x.options.perImage) as SourceCase;

  it('the CLI names --per-image and exits 2', async () => {
    const f = files(c);
    const r = await runCli(['eval', '--task', 'multilabel', '--input', 'logits', '--eps', '0', '--target-format', 'index', '--ignore-index', '-2', '--normalize', 'positives', '--per-image', '--pred', f.pred, '--target', f.target]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--per-image divides each image's sum by its own divisor/);
  });
});

describe('channel-first files: refused by eval, one line naming the flag', () => {
  const c = SOURCE_CASES.find((x) => x.name === 'monai sum [B, C, H, W]') as SourceCase;

  it('the API names labelAxis', async () => {
    const f = files(c);
    const run = evaluate({ loss: c.options as LossOptions, pred: f.pred, target: f.target });
    await expect(run).rejects.toThrow(UsageError);
    await expect(evaluate({ loss: c.options as LossOptions, pred: f.pred, target: f.target })).rejects.toThrow(/^labelAxis 1: eval reads the labels on the last axis of .* \(dims \[2, 3, 4, 5\]\)/);
  });

  it('the CLI names --label-axis and exits 2', async () => {
    const f = files(c);
    const r = await runCli(['eval', '--like', 'monai', '--reduction', 'sum', '--label-axis', '1', '--pred', f.pred, '--target', f.target]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--label-axis 1: eval reads the labels on the last axis/);
  });
});
