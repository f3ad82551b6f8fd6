/**
 * Every feature on every path: on the real networks (test/fixtures/networks), weights and the
 * per-element losses (`out`, `losses`) through each source of the evaluator — the network with
 * the loss attached on the fly (`evaluateNetwork({ network })`, `eval --network … --weight`), an
 * attached model (`attachLoss`, then `evaluateNetwork({ model })` and `eval --model ATTACHED.onnx
 * --feed …`), and in-memory batches of the network's inputs (`createEvaluator({ model, output })`)
 * — each equal to the same loss computed from the network's outputs saved as `.npy`
 * (`evaluate({ pred })`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { attachLoss } from '../../src/attach';
import { NpyTypedArray, readNpy, writeNpy } from '../../src/io/npy';
import { LossOptions } from '../../src/losses';
import { evaluate } from '../../src/runtime/evaluate';
import { evaluateNetwork } from '../../src/runtime/evaluate-network';
import { BatchLosses, createEvaluator } from '../../src/runtime/evaluator';
import { createSession } from '../../src/runtime/session';
import { runCli, scratchDir } from '../helpers/cli';
import { NETWORKS_DIR, NetworkEntry, network } from '../helpers/networks';

const DIR = NETWORKS_DIR;
const dir = scratchDir('focal-every-path-');
const file = (name: string): string => path.join(dir(), name);

const byName = network;

const TIMES = 5;

/** The network's sample rows, each repeat scaled a little, its targets, and weights in [0, 2) (one per prediction or per row). */
function data(n: NetworkEntry, weight: 'sample' | 'element') {
  const rows = n.inputShape[0] * TIMES;
  const row = n.x.length / n.inputShape[0];
  const xs = new Float32Array(rows * row);
  for (let k = 0; k < TIMES; k++) for (let i = 0; i < n.x.length; i++) xs[k * n.x.length + i] = n.x[i] * (1 + 0.1 * k);
  const x = file(`${n.name}-x.npy`);
  writeNpy(x, 'float32', [rows, ...n.inputShape.slice(1)], xs);
  const flat = Array.from({ length: TIMES }, () => (n.target as unknown[]).flat(4) as number[]).flat();
  const t = file(`${n.name}-t.npy`);
  const target = n.targetDtype === 'int64' ? BigInt64Array.from(flat, (v) => BigInt(v)) : Float32Array.from(flat);
  writeNpy(t, n.targetDtype, n.targetDtype === 'int64' ? [rows] : [rows, ...n.outputShape.slice(1)], target);
  // Per element: shaped like the output; per row: the output without its last axis (binary [N, 1]: one per prediction).
  const outShape = [rows, ...n.outputShape.slice(1)];
  const wShape = weight === 'element' || n.loss.task === 'binary' ? outShape : outShape.slice(0, -1);
  const count = wShape.reduce((a, b) => a * b, 1);
  const weights = Float32Array.from({ length: count }, (_, i) => ((i * 7919) % 997) / 498.5);
  const w = file(`${n.name}-w-${weight}.npy`);
  writeNpy(w, 'float32', wShape, weights);
  return { rows, row, xs, x, t, target, w, weights, wShape, outShape };
}

/** The network's outputs for all the rows, saved as .npy: the predictions the reference loss is computed from. */
async function outputs(n: NetworkEntry, network: string, xs: Float32Array, rows: number, outShape: number[]): Promise<string> {
  const s = await createSession(network, { threads: 1 });
  try {
    const r = await s.run({ [n.input]: { dtype: 'float32', dims: [rows, ...n.inputShape.slice(1)], data: xs } }, [n.output]);
    const p = file(`${n.name}-pred.npy`);
    writeNpy(p, 'float32', outShape, r[n.output].data as Float32Array);
    return p;
  } finally {
    await s.release();
  }
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1e-6, Math.abs(b[i])));
  expect(worst).toBeLessThan(rtol);
}

const losses = (f: string): Float32Array => readNpy(f).data as Float32Array;

describe.each([
  { name: 'cnn', weight: 'sample' as const, reduction: 'mean' as const },
  { name: 'tagger', weight: 'element' as const, reduction: 'weighted-mean' as const },
  { name: 'binary', weight: 'sample' as const, reduction: 'sum' as const },
  { name: 'dense', weight: 'sample' as const, reduction: 'mean' as const },
])('$name: weights ($weight) and per-element losses on every path', ({ name, weight, reduction }) => {
  const n = byName(name);
  const network = path.join(DIR, `${name}-dynamo.onnx`);
  const loss: LossOptions = { ...n.loss, weight, reduction };
  let d: ReturnType<typeof data>;
  let reference: { loss: number; out: Float32Array };
  const batchSize = 3 * n.inputShape.slice(1).reduce((a, b) => a * b, 1); // 3 rows a batch: several batches, the last shorter

  beforeAll(async () => {
    d = data(n, weight);
    const pred = await outputs(n, network, d.xs, d.rows, d.outShape);
    const out = file(`${name}-ref-losses.npy`);
    const r = await evaluate({ pred, target: d.t, weight: d.w, loss, out, threads: 1 });
    expect(r.options.weight).toBe(weight);
    reference = { loss: r.loss, out: losses(out) };
    expect(reference.loss).toBeGreaterThan(0);
  });

  it('eval --network with --weight and --out (evaluateNetwork, the loss attached on the fly)', async () => {
    const out = file(`${name}-net-losses.npy`);
    const r = await evaluateNetwork({ network, output: n.output, feeds: { [n.input]: d.x }, target: d.t, weight: d.w, out, loss, batchSize, threads: 1 });
    expect(r.batches).toBe(Math.ceil(d.rows / 3));
    expect(r.options.weight).toBe(weight);
    expect(Math.abs(r.loss - reference.loss)).toBeLessThan(1e-6 * reference.loss);
    expectClose(losses(out), reference.out, 1e-5);
    // The same from the command line, where the weight file's shape decides the weight kind.
    const cliOut = file(`${name}-cli-losses.npy`);
    const flags = ['--task', String(n.loss.task), '--input', String(n.loss.input), '--alpha', String(n.loss.alpha), '--gamma', String(n.loss.gamma), '--reduction', reduction];
    const cli = await runCli(['eval', '--network', network, '--output', n.output, '--feed', `${n.input}=${d.x}`, '--target', d.t, '--weight', d.w, '--out', cliOut, '--threads', '1', '--json', ...flags]);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const j = JSON.parse(cli.stdout) as { loss: number; options: { weight: string }; weight: string; out: string };
    expect(j.options.weight).toBe(weight);
    expect(j).toMatchObject({ weight: d.w, out: cliOut });
    expect(Math.abs(j.loss - reference.loss)).toBeLessThan(1e-6 * reference.loss);
    expectClose(losses(cliOut), reference.out, 1e-5);
  });

  it('an attached model: evaluateNetwork({ model }) and eval --model ATTACHED.onnx --feed … --weight', async () => {
    const attached = attachLoss(fs.readFileSync(network), { ...loss, output: n.output, reduction: 'none' });
    const model = file(`${name}-attached.onnx`);
    fs.writeFileSync(model, attached.bytes);
    const out = file(`${name}-attached-losses.npy`);
    const r = await evaluateNetwork({ model, feeds: { [n.input]: d.x }, target: d.t, weight: d.w, out, batchSize, threads: 1 });
    expect(r.output).toBe(n.output);
    // The attached model's reduction is none: its report is the mean of the per-element (weighted) losses.
    const mean = reference.out.reduce((a, b) => a + b, 0) / reference.out.length;
    expect(Math.abs(r.loss - mean)).toBeLessThan(1e-6 * mean);
    expectClose(losses(out), reference.out, 1e-5);
    const cli = await runCli(['eval', '--model', model, '--feed', `${n.input}=${d.x}`, '--target', d.t, '--weight', d.w, '--json', '--threads', '1']);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(Math.abs((JSON.parse(cli.stdout) as { loss: number }).loss - mean)).toBeLessThan(1e-6 * mean);
  });

  it('createEvaluator({ model, output, losses: true }): batches of the network inputs', async () => {
    const attached = attachLoss(fs.readFileSync(network), { ...loss, output: n.output, reduction: 'none' });
    // The output defaults to the one the attached model's metadata names.
    const ev = await createEvaluator({ model: attached.bytes, ...(name === 'cnn' ? {} : { output: n.output }), losses: true, threads: 1 });
    const got: number[] = [];
    try {
      const perRow = (a: { length: number }): number => a.length / d.rows;
      for (let start = 0; start < d.rows; start += 3) {
        const end = Math.min(d.rows, start + 3);
        const slice = <T extends NpyTypedArray>(a: T): T => a.subarray(start * perRow(a), end * perRow(a)) as T;
        const b = (await ev.add({
          inputs: { [n.input]: { type: 'float32', dims: [end - start, ...n.inputShape.slice(1)], data: slice(d.xs) } },
          target: slice(d.target),
          weight: slice(d.weights),
          dims: [end - start, ...n.outputShape.slice(1)],
        })) as BatchLosses;
        got.push(...(b.data as Float32Array));
      }
      const mean = reference.out.reduce((a, b) => a + b, 0) / reference.out.length;
      expect(Math.abs(ev.result().loss - mean)).toBeLessThan(1e-6 * mean);
      expectClose(got, reference.out, 1e-5);
    } finally {
      await ev.close();
    }
  });
});

describe('the per-element losses of createEvaluator (losses: true)', () => {
  it('equal those evaluate() writes with out, small and large batches alike', async () => {
    const count = 10000;
    const p = Float32Array.from({ length: count }, (_, i) => 0.01 + 0.98 * (((i * 7919) % 1000) / 1000));
    const t = Float32Array.from({ length: count }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const pf = file('l-p.npy');
    const tf = file('l-t.npy');
    const of = file('l-out.npy');
    writeNpy(pf, 'float32', [count], p);
    writeNpy(tf, 'float32', [count], t);
    const r = await evaluate({ pred: pf, target: tf, out: of, threads: 1 });
    const ev = await createEvaluator({ losses: true, threads: 1 });
    const small = (await ev.add({ pred: p.subarray(0, 1000), target: t.subarray(0, 1000) })) as BatchLosses;
    const large = (await ev.add({ pred: p.subarray(1000), target: t.subarray(1000) })) as BatchLosses;
    await ev.close();
    expect(small.dims).toEqual([1000]);
    expect(large.dims).toEqual([9000]);
    expect(Array.from(small.data)).toEqual(Array.from(losses(of).subarray(0, 1000)));
    expect(Array.from(large.data)).toEqual(Array.from(losses(of).subarray(1000)));
    // Small batches sum in float64, the files' batches in float32 blocks of 256: within ~1e-7 of each other.
    expect(Math.abs(ev.result().loss - r.loss)).toBeLessThan(1e-7 * r.loss);
  });

  it('are refused for a model that reduces each batch, naming the option', async () => {
    const { buildLoss } = await import('../../src/losses');
    await expect(createEvaluator({ model: buildLoss({}).bytes, losses: true })).rejects.toThrow(/^losses: needs the per-element losses, but the model has reduction mean/);
  });
});

describe('a per-label option of the wrong length is named as the user gave it', () => {
  const p = (): string => {
    const f = file('p5.npy');
    writeNpy(f, 'float32', [2, 5], Float32Array.from({ length: 10 }, (_, i) => i / 10 - 0.5));
    return f;
  };
  it.each([
    ['--class-weight', ['--task', 'multiclass', '--class-weight', '1,2,3'], 'int64', /^focal-onnx: .*p5\.npy: has 5 classes \(shape \[2, 5\]\), but --class-weight lists 3 values, one per class\n$/],
    ['--pos-weight', ['--task', 'multilabel', '--pos-weight', '1,2'], 'float32', /^focal-onnx: .*p5\.npy: has 5 labels \(shape \[2, 5\]\), but --pos-weight lists 2 values, one per label\n$/],
  ])('eval %s', async (_flag, flags, targetType, pattern) => {
    const t = file(`t5-${targetType}.npy`);
    if (targetType === 'int64') writeNpy(t, 'int64', [2], BigInt64Array.from([1n, 3n]));
    else writeNpy(t, 'float32', [2, 5], new Float32Array(10));
    const r = await runCli(['eval', '--pred', p(), '--target', t, '--input', 'logits', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
  });

  it('createEvaluator names the option (classWeight) in its batch error', async () => {
    const ev = await createEvaluator({ loss: { task: 'multiclass', input: 'logits', classWeight: [1, 2, 3] } });
    try {
      await expect(ev.add({ pred: new Float32Array(10), target: BigInt64Array.from([1n, 2n]), dims: [2, 5] })).rejects.toThrow(
        /^batch 0: pred has 5 classes \(dims \[2, 5\]\), but classWeight lists 3 values, one per class$/,
      );
    } finally {
      await ev.close();
    }
  });
});
