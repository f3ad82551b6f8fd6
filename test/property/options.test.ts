/**
 * Properties of option validation: any valid option set with exactly one field replaced by an
 * invalid value — NaN, ±∞, out of range, the wrong type, an unknown string, opset 12 or 22, a
 * list where one number is allowed — makes `buildLoss` (and `normalizeOptions`) throw a
 * `UsageError` whose single-line message names that option and echoes the value; valid options
 * never throw.
 */
import fc from 'fast-check';
import { UsageError } from '../../src/errors';
import { LossOptions, buildLoss, normalizeOptions } from '../../src/losses';
import { MAX_OPSET, MIN_OPSET } from '../../src/onnx';
import { ValidOptions, optionsArb } from './arbitraries';
import { fcParams } from './fc-config';

/** Values that are not numbers at all (JSON-like: each can be echoed in a message). */
const notANumber = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 3 }),
);

const nonFinite = fc.constantFrom(NaN, Infinity, -Infinity);

/** Any string that is not one of `allowed` (including near misses: case, spaces, the empty string). */
function otherString(allowed: readonly string[]): fc.Arbitrary<string> {
  const nearMisses = allowed.flatMap((a) => [a.toUpperCase(), ` ${a}`, `${a} `, a.slice(0, -1), `${a}s`]);
  return fc.oneof(fc.constantFrom('', 'None', 'auto', ...nearMisses), fc.string({ maxLength: 12 })).filter((s) => !allowed.includes(s));
}

const notAString = fc.oneof(fc.double({ noNaN: false }), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }));

type Field = keyof LossOptions;

/** For each option: invalid values (given a valid base, since some depend on the task). */
const INVALID: Record<Exclude<Field, 'withGrad'> | 'withGrad', (base: ValidOptions) => fc.Arbitrary<unknown>> = {
  task: () => fc.oneof(otherString(['binary', 'multilabel', 'multiclass']), notAString),
  input: () => fc.oneof(otherString(['probs', 'logits']), notAString),
  reduction: () => fc.oneof(otherString(['mean', 'sum', 'none']), notAString),
  dtype: () => fc.oneof(otherString(['float32', 'float64', 'float16']), fc.constantFrom('int64', 'bfloat16', 'float'), notAString),
  form: () => fc.oneof(otherString(['arith', 'onehot']), notAString),
  alpha: (base) =>
    fc.oneof(
      nonFinite,
      fc.double({ min: 1, minExcluded: true, noNaN: true }),
      fc.double({ max: 0, maxExcluded: true, noNaN: true }).filter((x) => x < 0),
      fc.constant([] as number[]),
      fc.array(fc.oneof(fc.double({ min: 1, minExcluded: true, noNaN: true }), nonFinite), { minLength: 1, maxLength: 3 }),
      otherString(['none']),
      fc.boolean(),
      // A list of valid numbers is wrong only for the binary task.
      base.task === 'binary' ? fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 3 }) : nonFinite,
    ),
  gamma: () => fc.oneof(nonFinite, fc.double({ max: 0, maxExcluded: true, noNaN: true }).filter((x) => x < 0), notANumber),
  eps: () => fc.oneof(nonFinite, fc.double({ max: 0, maxExcluded: true, noNaN: true }).filter((x) => x < 0), fc.double({ min: 1, noNaN: true }), notANumber),
  opset: () =>
    fc.oneof(
      fc.constantFrom(MIN_OPSET - 1, MAX_OPSET + 1, 0, -1, 17.5, NaN, Infinity),
      fc.integer({ max: MIN_OPSET - 1 }),
      fc.integer({ min: MAX_OPSET + 1 }),
      fc.double({ min: MIN_OPSET, max: MAX_OPSET, noNaN: true }).filter((x) => !Number.isInteger(x)),
      fc.constant('17'),
      notANumber,
    ),
  targetDtype: (base) =>
    base.targets === 'soft'
      ? // Soft targets are float (the model's type, or 'float'); the dtype names are left out as above.
        fc.constantFrom('uint8', 'bool', 'int64', 'int32', 'int16', 'x')
      : base.task === 'multiclass'
      ? // Class indices must be int64 or int32. (The model's own float type name is left to a
        // known-bug test below: the message echoes it as 'float'.)
        fc.constantFrom('float', 'uint8', 'bool', 'float16', 'float32', 'float64', 'int16', 'x').filter((t) => t !== base.dtype)
      : fc.oneof(otherString(['float', 'int64', 'int32', 'uint8', 'bool', base.dtype]), notAString),
  asFunction: () => fc.oneof(fc.constantFrom('true', 'false', 0, 1, null), fc.string({ maxLength: 4 })),
  withGrad: () => fc.oneof(fc.constantFrom('true', 'false', 0, 1, null), fc.string({ maxLength: 4 })),
  labelMean: () => fc.oneof(fc.constantFrom('true', 'false', 0, 1, null), fc.string({ maxLength: 4 })),
  targets: () => fc.oneof(otherString(['hard', 'soft']), notAString),
  weight: () => fc.oneof(otherString(['none', 'sample', 'element']), notAString),
  labelSmoothing: () => fc.oneof(nonFinite, fc.double({ max: 0, maxExcluded: true, noNaN: true }).filter((x) => x < 0), fc.double({ min: 1, minExcluded: true, noNaN: true }), notANumber),
  // null is no preset (valid).
  like: () =>
    fc.oneof(otherString(['seed', 'torchvision', 'fvcore', 'optax', 'keras', 'mmdet', 'detectron2', 'smp', 'kornia', 'monai']), notAString.filter((v) => v !== null)),
  // The detection terms (src/losses/terms.ts); null is "none" for the nullable ones (valid).
  targetFormat: () => fc.oneof(otherString(['dense', 'index']), notAString.filter((v) => v !== null)),
  ignoreIndex: () => fc.oneof(fc.double({ noNaN: true, min: -1e6, max: 1e6 }).filter((x) => !Number.isInteger(x)), nonFinite, fc.constantFrom('255', true), fc.constant(2 ** 40)),
  normalize: () =>
    fc.oneof(
      otherString(['elements', 'positives', 'input']).filter((v) => Number.isNaN(Number(v))),
      fc.double({ max: 0, noNaN: true }),
      nonFinite,
      fc.boolean(),
    ),
  classWeight: () => fc.oneof(fc.constant([] as number[]), fc.array(fc.oneof(fc.double({ max: 0, maxExcluded: true, noNaN: true }).filter((x) => x < 0), nonFinite), { minLength: 1, maxLength: 3 }), fc.constantFrom('1,2', 3, true)),
  posWeight: () =>
    fc.oneof(fc.double({ max: 0, maxExcluded: true, noNaN: true }).filter((x) => x < 0), nonFinite, fc.constant([] as number[]), fc.constantFrom('2', true), fc.constant([-1])),
  variant: () => fc.oneof(otherString(['focal', 'star']), notAString),
  normalized: () => fc.oneof(fc.constantFrom('true', 'false', 0, 1, null), fc.string({ maxLength: 4 })),
  countIgnored: () => fc.oneof(fc.constantFrom('true', 'false', 0, 1, null), fc.string({ maxLength: 4 })),
  labelAxis: () => fc.oneof(fc.constantFrom(0, 1.5, -0.5, NaN, Infinity, 65, -65, '1', true), fc.double({ noNaN: true, min: -100, max: 100 }).filter((x) => !Number.isInteger(x))),
  accumulate: () => fc.oneof(otherString(['float64', 'float32']), notAString.filter((v) => v !== null)),
  perImage: () => fc.oneof(fc.constantFrom('true', 'false', 0, 1, null), fc.string({ maxLength: 4 })),
  spatialMean: () => fc.oneof(fc.constantFrom('true', 'false', 0, 1, null), fc.string({ maxLength: 4 })),
  reducedThreshold: () => fc.oneof(fc.constantFrom(0, -0.5, 1.5, NaN, Infinity), fc.double({ min: 1, minExcluded: true, noNaN: true }), fc.constantFrom('0.5', true)),
  // mmdet's eps on avg_factor (set by its preset): a finite number >= 0.
  normalizeOffset: () => fc.oneof(fc.double({ max: 0, maxExcluded: true, noNaN: true }).filter((x) => x < 0), nonFinite, fc.constantFrom('1e-7', true, null)),
};

/** How a value must appear in the message: each number, string and boolean in it, as written. */
function echoes(message: string, value: unknown): boolean {
  if (Array.isArray(value)) return value.every((v) => echoes(message, v));
  if (typeof value === 'string') return message.includes(value);
  return message.includes(String(value));
}

const invalidCase = optionsArb.chain(({ options }) =>
  fc.constantFrom(...(Object.keys(INVALID) as Field[])).chain((field) =>
    INVALID[field](options).map((value) => ({ options, field, value })),
  ),
);

describe('property: invalid options are refused with a UsageError naming the option and the value', () => {
  it('one invalid field in otherwise valid options', () => {
    fc.assert(
      fc.property(invalidCase, ({ options, field, value }) => {
        const raw = { ...options, [field]: value } as LossOptions;
        let error: unknown;
        try {
          buildLoss(raw);
        } catch (e) {
          error = e;
        }
        if (!(error instanceof UsageError)) throw new Error(`expected a UsageError for ${field} = ${String(value)}, got ${String(error)}`);
        const msg = error.message;
        if (!msg.startsWith(`${field} `)) throw new Error(`message does not start with the option '${field}': ${msg}`);
        if (!echoes(msg, value)) throw new Error(`message does not echo the value ${JSON.stringify(value)}: ${msg}`);
        if (msg.includes('\n')) throw new Error(`message is not one line: ${JSON.stringify(msg)}`);
        // normalizeOptions is the same gate.
        expect(() => normalizeOptions(raw)).toThrow(msg);
      }),
      fcParams(400),
    );
  });

  it('unknown option names', () => {
    const known = new Set(['task', 'input', 'alpha', 'gamma', 'reduction', 'eps', 'dtype', 'targetDtype', 'opset', 'form', 'asFunction', 'withGrad']);
    fc.assert(
      fc.property(
        optionsArb,
        fc.oneof(fc.constantFrom('size_average', 'Gamma', 'alpha ', 'target_dtype', 'as_function', 'epsilon'), fc.string({ minLength: 1, maxLength: 10 })),
        ({ options }, key) => {
          fc.pre(!known.has(key) && !(key in Object.prototype));
          const raw = { ...options, [key]: 1 } as LossOptions;
          expect(() => buildLoss(raw)).toThrow(UsageError);
          expect(() => buildLoss(raw)).toThrow(`unknown option '${key}'`);
        },
      ),
      fcParams(150),
    );
  });

  it('objects are refused as a UsageError too (the message names the option)', () => {
    for (const field of ['task', 'alpha', 'gamma', 'eps', 'opset', 'targetDtype', 'asFunction'] as const) {
      expect(() => buildLoss({ [field]: { value: 1 } } as unknown as LossOptions)).toThrow(UsageError);
      expect(() => buildLoss({ [field]: { value: 1 } } as unknown as LossOptions)).toThrow(new RegExp(`^${field} `));
    }
  });

  it('valid options never throw, and their normalized form is a fixed point', () => {
    fc.assert(
      fc.property(optionsArb, ({ options }) => {
        const o = normalizeOptions(options as LossOptions);
        expect(normalizeOptions(o)).toEqual(o);
      }),
      fcParams(300),
    );
  });
});

/** Former bugs in option messages, fixed: kept as regression tests. */
describe('option messages at the edges', () => {
  it('a value with a line break is echoed on one line', () => {
    for (const raw of [{ task: 'bin\nary' }, { gamma: 'a\nb' }, { ['x\ny']: 1 }] as unknown as LossOptions[]) {
      expect(() => buildLoss(raw)).toThrow(/^[^\n]*$/);
    }
  });

  it("multiclass targetDtype = the dtype's own name is echoed as given", () => {
    expect(() => buildLoss({ task: 'multiclass', dtype: 'float16', targetDtype: 'float16' })).toThrow("got 'float16'");
  });
});

