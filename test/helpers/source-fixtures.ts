/**
 * The golden cases computed by the libraries' own source files (scripts/make-source-fixtures.py
 * --sources DIR → test/fixtures/source-cases.json): MONAI, smp, mmdet and fvcore at the commits
 * each case names, float64, torch autograd. Inputs for buildLoss graphs, flat and as a function.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LossDType, LossOptions, buildLoss } from '../../src/losses';
import { HostTensor } from './ort';

export interface SourceCase {
  readonly name: string;
  readonly library: string;
  readonly file: string;
  readonly commit: string;
  readonly call: string;
  readonly options: LossOptions;
  readonly pred: number[];
  readonly predShape: number[];
  readonly target: number[];
  readonly targetShape: number[];
  readonly loss: number | number[];
  readonly grad: number[];
}

export const SOURCE_CASES: readonly SourceCase[] = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'source-cases.json'), 'utf8')) as { cases: SourceCase[] }
).cases;

/** Whether the case's targets are class indices (int64). */
export const indexTargets = (c: SourceCase): boolean => c.options.targetFormat === 'index' || c.options.like === 'mmdet' || (c.options.task === 'multiclass' && c.options.targets !== 'soft');

/** The case's model in `dtype`, with its gradient, shaped as the case's predictions. */
export function sourceModel(c: SourceCase, dtype: LossDType, extra: LossOptions = {}): ReturnType<typeof buildLoss> {
  return buildLoss({ ...c.options, dtype, withGrad: true, ...extra }, { predShape: c.predShape });
}

/** The graph inputs of case `c` in `dtype`. */
export function sourceInputs(c: SourceCase, dtype: LossDType): Record<string, HostTensor> {
  return {
    pred: { dtype, dims: c.predShape, data: c.pred },
    target: { dtype: indexTargets(c) ? 'int64' : dtype, dims: c.targetShape, data: c.target },
  };
}
