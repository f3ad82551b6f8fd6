/**
 * The detection and segmentation golden cases (scripts/make-detection-fixtures.py --sources DIR →
 * test/fixtures/detection-cases.json): the libraries' own source files and focal-onnx's formula,
 * float64 autograd.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LossOptions } from '../../src/losses';

export interface DetectionCase {
  readonly name: string;
  readonly options: LossOptions;
  readonly source: 'library' | 'formula';
  /** source 'library': the library, its file and the commit it ran, and the call. */
  readonly library?: string;
  readonly file?: string;
  readonly commit?: string;
  readonly call?: string;
  readonly pred: number[];
  readonly predShape: number[];
  readonly target: number[];
  readonly targetShape: number[];
  readonly loss: number | number[];
  readonly grad: number[];
  readonly normalizer?: number;
  /** A sample weight per row (the `weight` input), where the case has one. */
  readonly weight?: number[];
  readonly positives: number;
  readonly ignored: number;
}

export const DETECTION_CASES: readonly DetectionCase[] = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'detection-cases.json'), 'utf8')) as { cases: DetectionCase[] }
).cases;

