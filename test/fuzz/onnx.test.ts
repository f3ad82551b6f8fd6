/**
 * Fuzzing the model reader with broken `.onnx` files: valid models with random byte mutations,
 * random bytes, and structure-aware mutations (a decoded model with one field changed: its
 * focal.* metadata, opsets, IR version, shapes, element types, node inputs), fed to
 * `decodeModel` and to the CLI's `inspect` (`run(['inspect', file])`, plain and `--json`).
 *
 * Never a crash: `decodeModel` returns or throws a one-line `ModelFormatError`; `inspect` exits 0
 * (with output on stdout only) or 2 with exactly one line on stderr and nothing on stdout — never
 * 1 (our bug), never a throw out of `run`. Bounded: a fixed number of iterations (seeded, see
 * test/property/fc-config.ts), each on an input of at most a few KB.
 */
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { onnx } from 'onnx-proto';
import { buildLoss, LossOptions } from '../../src/losses';
import { ModelFormatError, decodeModel, decodeModelProto, serializeModel } from '../../src/onnx';
import { writeNpy } from '../../src/io/npy';
import { runCli, scratchDir } from '../helpers/cli';
import { fcParams } from '../property/fc-config';
import { mutate, mutationsArb } from './mutate';

const dir = scratchDir('focal-onnx-fuzz-onnx-');

const BASES: readonly LossOptions[] = [
  {},
  { task: 'multiclass', input: 'logits', alpha: [0.1, 0.2, 0.7], asFunction: true },
  { task: 'multilabel', alpha: [0.25, 0.5], form: 'onehot', dtype: 'float16', reduction: 'none' },
  { task: 'binary', input: 'logits', eps: 0, dtype: 'float64', targetDtype: 'int64', opset: 13 },
];
const bases = BASES.map((o) => buildLoss(o).bytes);
const baseArb = fc.integer({ min: 0, max: bases.length - 1 });

/** Asserts the decodeModel contract for `bytes`. */
function decodeOrRefuse(bytes: Uint8Array): void {
  const before = process.memoryUsage().arrayBuffers;
  try {
    decodeModel(bytes);
  } catch (e) {
    if (!(e instanceof ModelFormatError)) throw new Error(`decodeModel threw ${(e as Error)?.name}: ${(e as Error)?.stack ?? String(e)}`);
    if (e.message.includes('\n') || e.message.length === 0) throw new Error(`not a one-line message: ${JSON.stringify(e.message)}`);
  } finally {
    // A length or count field claiming gigabytes must not be allocated (the input is a few KB).
    const grown = process.memoryUsage().arrayBuffers - before;
    if (grown > 64 * 2 ** 20) throw new Error(`decodeModel: ArrayBuffer memory grew by ${(grown / 2 ** 20).toFixed(0)} MB`);
  }
}

let fileCounter = 0;

/**
 * Crashes this fuzz has found and that are fixed (each has a regression test at the end of this
 * file). While a new one awaits its fix, list its signature here so an exit 1 matching it is
 * counted instead of failing the fuzz (and the fuzz keeps exploring); keep the list empty otherwise.
 */
const KNOWN_CRASHES: readonly { readonly id: string; readonly matches: (stderr: string) => boolean }[] = [];
const knownCrashCounts = new Map<string, number>();

/** Asserts the inspect contract for `bytes` written to a file, plain and --json. */
async function inspectOrRefuse(bytes: Uint8Array): Promise<void> {
  const file = path.join(dir(), `m${fileCounter++}.onnx`);
  fs.writeFileSync(file, bytes);
  try {
    for (const extra of [[], ['--json']]) {
      let r;
      try {
        r = await runCli(['inspect', file, ...extra]);
      } catch (e) {
        throw new Error(`run() threw instead of returning an exit code: ${(e as Error)?.stack ?? String(e)}`);
      }
      const where = `inspect ${extra.join(' ')} → ${r.code}; stderr ${JSON.stringify(r.stderr.slice(0, 600))}`;
      if (r.code === 0) {
        if (r.stderr !== '' || r.stdout === '') throw new Error(`${where}: exit 0 must print on stdout only`);
        if (extra.length) JSON.parse(r.stdout);
      } else if (r.code === 2) {
        if (r.stdout !== '') throw new Error(`${where}: exit 2 with output on stdout`);
        if (!/^focal-onnx: [^\n]+\n$/.test(r.stderr)) throw new Error(`${where}: not exactly one line`);
        if (!r.stderr.includes(file)) throw new Error(`${where}: the message does not name the file`);
      } else {
        const known = r.code === 1 ? KNOWN_CRASHES.find((k) => k.matches(r.stderr)) : undefined;
        if (!known) throw new Error(where);
        knownCrashCounts.set(known.id, (knownCrashCounts.get(known.id) ?? 0) + 1);
      }
    }
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** The `eval --model FILE` contract for `bytes` (small valid data files; exit 0 or 2, one line). */
async function evalOrRefuse(bytes: Uint8Array): Promise<void> {
  const file = path.join(dir(), `e${fileCounter++}.onnx`);
  fs.writeFileSync(file, bytes);
  try {
    let r;
    try {
      r = await runCli(['eval', '--model', file, '--pred', path.join(dir(), 'pred.npy'), '--target', path.join(dir(), 'target.npy'), '--json']);
    } catch (e) {
      throw new Error(`run() threw instead of returning an exit code: ${(e as Error)?.stack ?? String(e)}`);
    }
    const where = `eval --model → ${r.code}; stderr ${JSON.stringify(r.stderr.slice(0, 600))}`;
    if (r.code === 0) {
      JSON.parse(r.stdout);
    } else if (r.code === 2) {
      if (r.stdout !== '' || !/^focal-onnx: [^\n]+\n$/.test(r.stderr)) throw new Error(`${where}: not exactly one line on stderr`);
    } else {
      const known = r.code === 1 ? KNOWN_CRASHES.find((k) => k.matches(r.stderr)) : undefined;
      if (!known) throw new Error(where);
      knownCrashCounts.set(known.id, (knownCrashCounts.get(known.id) ?? 0) + 1);
    }
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Structure-aware mutations: one field of a decoded model replaced. */
const weirdString = fc.oneof(
  fc.constantFrom('', '[', '[0.1,', '[1e999]', '["a"]', '[{}]', '[[0.5]]', '[]', 'NaN', '-1', '1e400', 'none', 'true', '{}', '__proto__', 'float32', 'int64', '0x10'),
  fc.string({ maxLength: 12 }),
);
const METADATA_KEYS = ['task', 'input', 'alpha', 'gamma', 'reduction', 'eps', 'dtype', 'target_dtype', 'form', 'as_function', 'with_grad'];

/** One field of a decoded model to replace (plain data, so a failing case prints readably). */
type Edit =
  | { readonly kind: 'metadata'; readonly key: string; readonly value: string }
  | { readonly kind: 'drop-metadata'; readonly key: string }
  | { readonly kind: 'opset'; readonly version: number }
  | { readonly kind: 'no-opsets' }
  | { readonly kind: 'ir'; readonly version: number }
  | { readonly kind: 'elem-type'; readonly code: number; readonly input: boolean }
  | { readonly kind: 'dim'; readonly value: number }
  | { readonly kind: 'no-type' }
  | { readonly kind: 'no-output-type' }
  | { readonly kind: 'node-input'; readonly node: number; readonly name: string }
  | { readonly kind: 'op-type'; readonly node: number; readonly op: string }
  | { readonly kind: 'no-nodes' }
  | { readonly kind: 'no-functions' }
  | { readonly kind: 'constant-dims'; readonly dims: readonly number[] };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('metadata' as const), key: fc.constantFrom(...METADATA_KEYS), value: weirdString }),
  fc.record({ kind: fc.constant('drop-metadata' as const), key: fc.constantFrom(...METADATA_KEYS) }),
  fc.record({ kind: fc.constant('opset' as const), version: fc.integer({ min: -5, max: 40 }) }),
  fc.constant({ kind: 'no-opsets' as const }),
  fc.record({ kind: fc.constant('ir' as const), version: fc.integer({ min: -3, max: 20 }) }),
  fc.record({ kind: fc.constant('elem-type' as const), code: fc.integer({ min: 0, max: 40 }), input: fc.boolean() }),
  fc.record({ kind: fc.constant('dim' as const), value: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(2 ** 31, 2 ** 53, -(2 ** 40))) }),
  fc.constant({ kind: 'no-type' as const }),
  fc.constant({ kind: 'no-output-type' as const }),
  fc.record({ kind: fc.constant('node-input' as const), node: fc.nat(), name: weirdString }),
  fc.record({ kind: fc.constant('op-type' as const), node: fc.nat(), op: weirdString }),
  fc.constant({ kind: 'no-nodes' as const }),
  fc.constant({ kind: 'no-functions' as const }),
  fc.record({ kind: fc.constant('constant-dims' as const), dims: fc.array(fc.integer({ min: -4, max: 1 << 20 }), { maxLength: 4 }) }),
);

function applyEdit(m: onnx.ModelProto, e: Edit): void {
  const g = m.graph as onnx.GraphProto;
  switch (e.kind) {
    case 'metadata': {
      const p = m.metadataProps.find((x) => x.key === `focal.${e.key}`);
      if (p) p.value = e.value;
      else m.metadataProps.push(onnx.StringStringEntryProto.create({ key: `focal.${e.key}`, value: e.value }));
      break;
    }
    case 'drop-metadata':
      m.metadataProps = m.metadataProps.filter((x) => x.key !== `focal.${e.key}`);
      break;
    case 'opset':
      if (m.opsetImport[0]) m.opsetImport[0].version = e.version;
      break;
    case 'no-opsets':
      m.opsetImport = [];
      break;
    case 'ir':
      m.irVersion = e.version;
      break;
    case 'elem-type': {
      const vi = e.input ? g.input[0] : g.output[0];
      if (vi?.type?.tensorType) vi.type.tensorType.elemType = e.code;
      break;
    }
    case 'dim': {
      const dims = g.input[0]?.type?.tensorType?.shape?.dim;
      if (dims?.length) dims[0] = onnx.TensorShapeProto.Dimension.create({ dimValue: e.value });
      break;
    }
    case 'no-type':
      if (g.input[0]) g.input[0].type = null;
      break;
    case 'no-output-type':
      if (g.output[0]) g.output[0].type = null;
      break;
    case 'node-input':
      if (g.node.length) g.node[e.node % g.node.length].input = [e.name];
      break;
    case 'op-type':
      if (g.node.length) g.node[e.node % g.node.length].opType = e.op;
      break;
    case 'no-nodes':
      g.node = [];
      break;
    case 'no-functions':
      m.functions = [];
      break;
    case 'constant-dims': {
      // A Constant whose tensor claims other dims than its data holds.
      const t = g.node.find((n) => n.opType === 'Constant')?.attribute?.[0]?.t;
      if (t) t.dims = [...e.dims];
      break;
    }
  }
}

describe('fuzz: broken .onnx files are refused cleanly', () => {
  it('the valid bases decode and inspect (sanity)', async () => {
    for (const b of bases) {
      expect(() => decodeModel(b)).not.toThrow();
      await inspectOrRefuse(b);
    }
  });

  it('decodeModel on byte-mutated models (3000 inputs)', () => {
    fc.assert(
      fc.property(baseArb, mutationsArb, (i, ms) => decodeOrRefuse(mutate(bases[i], ms))),
      fcParams(3000),
    );
  });

  it('decodeModel on random bytes (2000 inputs, up to 512 bytes)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => decodeOrRefuse(b)),
      fcParams(2000),
    );
  });

  it('inspect on byte-mutated models (300 files)', async () => {
    await fc.assert(
      fc.asyncProperty(baseArb, mutationsArb, (i, ms) => inspectOrRefuse(mutate(bases[i], ms))),
      fcParams(300),
    );
  });

  it('inspect on random bytes (100 files)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), (b) => inspectOrRefuse(b)),
      fcParams(100),
    );
  });

  it('inspect on structurally edited models (400 files)', async () => {
    await fc.assert(
      fc.asyncProperty(baseArb, fc.array(editArb, { minLength: 1, maxLength: 3 }), async (i, edits) => {
        const m = decodeModelProto(bases[i]);
        for (const e of edits) applyEdit(m, e);
        const bytes = serializeModel(m);
        decodeOrRefuse(bytes);
        await inspectOrRefuse(bytes);
      }),
      fcParams(400),
    );
  });

  it('eval --model on byte-mutated (150) and structurally edited (150) models', async () => {
    writeNpy(path.join(dir(), 'pred.npy'), 'float32', [6], new Float32Array([0.1, 0.9, 0.5, 0.2, 0.7, 0.4]));
    writeNpy(path.join(dir(), 'target.npy'), 'float32', [6], new Float32Array([0, 1, 0, 1, 1, 0]));
    await fc.assert(
      fc.asyncProperty(baseArb, mutationsArb, (i, ms) => evalOrRefuse(mutate(bases[i], ms))),
      fcParams(150),
    );
    await fc.assert(
      fc.asyncProperty(baseArb, fc.array(editArb, { minLength: 1, maxLength: 3 }), async (i, edits) => {
        const m = decodeModelProto(bases[i]);
        for (const e of edits) applyEdit(m, e);
        await evalOrRefuse(serializeModel(m));
      }),
      fcParams(150),
    );
  });

  it('inspect on an empty file, a directory and a missing file', async () => {
    await inspectOrRefuse(new Uint8Array(0));
    for (const target of [dir(), path.join(dir(), 'missing.onnx')]) {
      const r = await runCli(['inspect', target]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^focal-onnx: [^\n]+\n$/);
      expect(r.stderr).toContain(target);
    }
  });
});

describe('regressions: the crashes this fuzz found', () => {
  function model(edit: (m: onnx.ModelProto) => void): string {
    const m = decodeModelProto(bases[0]);
    edit(m);
    const file = path.join(dir(), `known-${fileCounter++}.onnx`);
    fs.writeFileSync(file, serializeModel(m));
    return file;
  }

  // A focal.alpha that starts with '[' but is not JSON (JSON.parse in optionsFromMetadata): the
  // model file loader (src/runtime/model-file.ts) turns the SyntaxError into a one-line error.
  it("a focal.alpha of '[0.1,' is a one-line error with exit 2", async () => {
    const file = model((m) => {
      m.metadataProps.find((p) => p.key === 'focal.alpha')!.value = '[0.1,';
    });
    const r = await runCli(['inspect', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^focal-onnx: [^\n]*focal\.\* metadata[^\n]*\n$/);
  });

  // The CUDA kernel table is a Map, so op types such as '__proto__' or 'constructor' are just
  // unknown names (src/onnx/placement.ts).
  it("a node with op type '__proto__' or 'constructor' is reported as unknown, not a crash", async () => {
    for (const op of ['__proto__', 'constructor', 'toString']) {
      const file = model((m) => {
        (m.graph as onnx.GraphProto).node[0].opType = op;
      });
      const r = await runCli(['inspect', file, '--json']);
      expect(r.code).toBe(0);
      const placed = (JSON.parse(r.stdout) as { cuda: { offGpu: { opType: string; placement: string }[] } }).cuda.offGpu;
      expect(placed.find((n) => n.opType === op)?.placement).toBe('unknown');
    }
  });
});

/** Malformed model files that once crashed eval (exit 1): now exit 2 with one line naming the file. */
describe('eval --model on broken model files', () => {
  it('eval --model with an untyped loss output: exit 2, one line naming the file', async () => {
    writeNpy(path.join(dir(), 'pred.npy'), 'float32', [6], new Float32Array([0.1, 0.9, 0.5, 0.2, 0.7, 0.4]));
    writeNpy(path.join(dir(), 'target.npy'), 'float32', [6], new Float32Array([0, 1, 0, 1, 1, 0]));
    const m = decodeModelProto(buildLoss({ reduction: 'none' }).bytes);
    (m.graph as onnx.GraphProto).output[0].type = null;
    const file = path.join(dir(), 'untyped-loss.onnx');
    fs.writeFileSync(file, serializeModel(m));
    const r = await runCli(['eval', '--model', file, '--pred', path.join(dir(), 'pred.npy'), '--target', path.join(dir(), 'target.npy')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^focal-onnx: [^\n]+\n$/);
    expect(r.stderr).toContain(file);
  });

  it('eval --model whose pred input has a fixed N: exit 2, one line naming the file', async () => {
    writeNpy(path.join(dir(), 'pred.npy'), 'float32', [6], new Float32Array([0.1, 0.9, 0.5, 0.2, 0.7, 0.4]));
    writeNpy(path.join(dir(), 'target.npy'), 'float32', [6], new Float32Array([0, 1, 0, 1, 1, 0]));
    const m = decodeModelProto(buildLoss({}).bytes);
    (m.graph as onnx.GraphProto).input[0].type!.tensorType!.shape!.dim![0] = onnx.TensorShapeProto.Dimension.create({ dimValue: 2 });
    const file = path.join(dir(), 'fixed-n.onnx');
    fs.writeFileSync(file, serializeModel(m));
    const r = await runCli(['eval', '--model', file, '--pred', path.join(dir(), 'pred.npy'), '--target', path.join(dir(), 'target.npy')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^focal-onnx: [^\n]+\n$/);
    expect(r.stderr).toContain(file);
  });
});
