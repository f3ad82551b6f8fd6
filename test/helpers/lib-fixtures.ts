/**
 * The golden cases from torchvision, optax and Keras (scripts/make-lib-fixtures.py →
 * test/fixtures/lib-cases.json), as inputs for buildLoss graphs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LossDType, LossOptions } from '../../src/losses';
import { HostTensor } from './ort';

export interface LibCase {
  readonly name: string;
  readonly library: 'torchvision' | 'optax' | 'keras';
  readonly call: string;
  readonly options: LossOptions;
  readonly pred: unknown;
  readonly predShape: number[];
  readonly target: unknown;
  readonly targetShape: number[];
  readonly weight?: unknown;
  readonly weightShape?: number[];
  readonly loss: number | unknown[];
  readonly grad: unknown[];
}

export interface LibFixtures {
  readonly versions: Record<string, string>;
  readonly cases: LibCase[];
}

export const LIB_FIXTURES: LibFixtures = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'lib-cases.json'), 'utf8'));

export const flat = (x: unknown): number[] => [x].flat(4) as number[];

/** The graph inputs for case `c` in `dtype` (hard multiclass targets as int64 indices). */
export function libInputs(c: LibCase, dtype: LossDType): Record<string, HostTensor> {
  const classIndices = c.options.task === 'multiclass' && c.options.targets === 'hard';
  const inputs: Record<string, HostTensor> = {
    pred: { dtype, dims: c.predShape, data: flat(c.pred) },
    target: { dtype: classIndices ? 'int64' : dtype, dims: c.targetShape, data: flat(c.target) },
  };
  if (c.weight !== undefined) inputs.weight = { dtype, dims: c.weightShape ?? [], data: flat(c.weight) };
  return inputs;
}

/**
 * Tolerances relative to the largest magnitude of each output. Keras on JAX computes its float64
 * loss with ~1e-8 relative error of its own (measured against the same formula in NumPy float64:
 * 1.4e-8), so its cases get 1e-7; torchvision and optax agree with float64 graphs to ~1e-15.
 */
export function libTolerance(c: LibCase, dtype: LossDType): number {
  if (dtype === 'float32') return 2e-5;
  return c.library === 'keras' ? 1e-7 : 1e-9;
}
