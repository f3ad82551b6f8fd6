/**
 * evaluateNetwork and `focal-onnx eval --network` on the real networks (test/fixtures/networks):
 * the loss over many batches equals the reference loss (PyTorch's forward pass, the seed's
 * formula), per-label sums for multi-label outputs of rank 2 and 3, reduction sum, integer
 * targets, and every refusal as one line naming the file or flag.
 */
import * as path from 'path';
import { DataError, UsageError } from '../../src/errors';
import { writeNpy } from '../../src/io/npy';
import { evaluateNetwork } from '../../src/runtime/evaluate-network';
import { runCli, scratchDir } from '../helpers/cli';
import { NETWORKS, NETWORKS_DIR, NetworkEntry, network } from '../helpers/networks';

const DIR = NETWORKS_DIR;
const dir = scratchDir('focal-eval-network-');
const file = (name: string): string => path.join(dir(), name);

const byName = network;

/** The network's sample rows repeated `times` times: the mean loss stays the reference's. */
function files(n: NetworkEntry, times: number, targetType: 'float32' | 'int64' | 'uint8' | 'int32' = n.targetDtype): { x: string; t: string } {
  const x = file(`${n.name}-x${times}.npy`);
  const rowsX = n.x.length;
  const xs = new Float32Array(rowsX * times);
  for (let k = 0; k < times; k++) xs.set(n.x, k * rowsX);
  writeNpy(x, 'float32', [n.inputShape[0] * times, ...n.inputShape.slice(1)], xs);
  const flat = (n.target as unknown[]).flat(4) as number[];
  const tShape = n.targetDtype === 'int64' ? [n.outputShape[0] * times] : [n.outputShape[0] * times, ...n.outputShape.slice(1)];
  const all = Array.from({ length: times }, () => flat).flat();
  const t = file(`${n.name}-t${times}-${targetType}.npy`);
  const data =
    targetType === 'int64' ? BigInt64Array.from(all, (v) => BigInt(v)) : targetType === 'uint8' ? Uint8Array.from(all) : targetType === 'int32' ? Int32Array.from(all) : Float32Array.from(all);
  writeNpy(t, targetType, tShape, data);
  return { x, t };
}

describe('evaluateNetwork', () => {
  describe.each(NETWORKS.flatMap((n) => n.models.map((m) => ({ n, m }))))('$m.file', ({ n, m }) => {
    it('the loss over many batches is the reference loss', async () => {
      const { x, t } = files(n, 25);
      const r = await evaluateNetwork({ network: path.join(DIR, m.file), output: n.output, feeds: { [n.input]: x }, target: t, loss: n.loss, batchSize: 7 * n.inputShape.slice(1).reduce((a, b) => a * b, 1) });
      expect(r.inputRows).toBe(n.inputShape[0] * 25);
      expect(r.batchRows).toBe(7);
      expect(r.batches).toBe(Math.ceil(r.inputRows / 7));
      expect(Math.abs(r.loss - n.referenceLoss)).toBeLessThan(2e-6 * n.referenceLoss);
      const perRow = n.outputShape.slice(1).reduce((a, b) => a * b, 1);
      expect(r.count).toBe(n.loss.task === 'multiclass' ? r.inputRows : r.inputRows * perRow);
      if (n.loss.task === 'multilabel') {
        expect(r.perLabel).toHaveLength(n.outputShape[n.outputShape.length - 1]);
        const avg = (r.perLabel as number[]).reduce((a, b) => a + b, 0) / (r.perLabel as number[]).length;
        expect(Math.abs(avg - r.loss)).toBeLessThan(1e-9);
      }
    });
  });

  it('reduction sum, and uint8 / int32 targets (checked in JS)', async () => {
    const n = byName('tagger');
    const { x, t } = files(n, 3, 'uint8');
    const r = await evaluateNetwork({ network: path.join(DIR, 'tagger-dynamo.onnx'), output: n.output, feeds: { [n.input]: x }, target: t, loss: { ...n.loss, reduction: 'sum' } });
    expect(r.reduction).toBe('sum');
    expect(Math.abs(r.loss - n.referenceLoss * r.count)).toBeLessThan(2e-6 * r.loss);
    expect(r.options.targetDtype).toBe('uint8');
    const c = byName('cnn');
    const f = files(c, 2, 'int32');
    const rc = await evaluateNetwork({ network: path.join(DIR, 'cnn-dynamo.onnx'), output: c.output, feeds: { [c.input]: f.x }, target: f.t, loss: c.loss });
    expect(Math.abs(rc.loss - c.referenceLoss)).toBeLessThan(2e-6 * c.referenceLoss);
  });

  async function refusal(args: Partial<Parameters<typeof evaluateNetwork>[0]>, name = 'cnn', kind: typeof UsageError = UsageError): Promise<string> {
    const n = byName(name);
    const { x, t } = files(n, 1);
    let err: unknown;
    try {
      await evaluateNetwork({ network: path.join(DIR, `${name}-dynamo.onnx`), output: n.output, feeds: { [n.input]: x }, target: t, loss: n.loss, ...args });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(kind);
    expect((err as Error).message).not.toMatch(/\n/);
    return (err as Error).message;
  }

  it('refuses feeds that do not fit the network', async () => {
    expect(await refusal({ feeds: {} })).toMatch(/cnn-dynamo\.onnx takes the input 'images': give it with feeds images=FILE\.npy/);
    expect(await refusal({ feeds: { images: files(byName('cnn'), 1).x, extra: 'e.npy' } })).toMatch(/^feeds extra=…: .* has no input 'extra'; its inputs: 'images'/);
    const wrongType = file('x64.npy');
    writeNpy(wrongType, 'float64', [4, 3, 16, 16], new Float64Array(4 * 768));
    expect(await refusal({ feeds: { images: wrongType } }, 'cnn', DataError)).toMatch(/x64\.npy: dtype float64, but .*input 'images' takes float32/);
    const wrongShape = file('x-shape.npy');
    writeNpy(wrongShape, 'float32', [4, 3, 8, 32], new Float32Array(4 * 768));
    expect(await refusal({ feeds: { images: wrongShape } }, 'cnn', DataError)).toMatch(/x-shape\.npy: shape \[4, 3, 8, 32\], but .*'images' is \[batch, 3, 16, 16\]: axis 2 must be 16/);
    const fewRows = file('t3.npy');
    writeNpy(fewRows, 'int64', [3], BigInt64Array.from([1n, 2n, 3n]));
    expect(await refusal({ target: fewRows }, 'cnn', DataError)).toMatch(/t3\.npy: has 3 rows .* but .* has 4; the targets need one row per example/);
  });

  it('refuses bad targets, naming the file and the element', async () => {
    const bad = file('t-bad.npy');
    writeNpy(bad, 'int64', [4], BigInt64Array.from([1n, 12n, 0n, 3n]));
    expect(await refusal({ target: bad }, 'cnn', DataError)).toMatch(/t-bad\.npy: element 1 is 12; class indices must be in \[0, 10\)/);
    const n = byName('tagger');
    const half = file('t-half.npy');
    const vals = ((n.target as unknown[]).flat(2) as number[]).map((v, i) => (i === 7 ? 0.5 : v));
    writeNpy(half, 'float32', n.outputShape, Float32Array.from(vals));
    expect(await refusal({ target: half }, 'tagger', DataError)).toMatch(/t-half\.npy: element 7 \(row 1, column 1\) is 0\.5; multilabel targets must be 0 or 1/);
  });

  it('refuses probabilities that are not (a logits output read as probs), and a NaN input', async () => {
    expect(await refusal({ loss: { task: 'multilabel' } }, 'tagger', DataError)).toMatch(/tagger-dynamo\.onnx: output 'logits' element 0 \(row 0, column 0\) is -0\.55\d*; probabilities must be in \[0, 1\]/);
    const n = byName('binary');
    const nan = file('x-nan.npy');
    const xs = Float32Array.from(n.x);
    xs[20] = NaN;
    writeNpy(nan, 'float32', n.inputShape, xs);
    expect(await refusal({ feeds: { features: nan } }, 'binary', DataError)).toMatch(/binary-dynamo\.onnx: output 'prob' element 1 .*is NaN/);
  });
});

describe('focal-onnx eval --network', () => {
  const cnn = byName('cnn');
  const args = (): string[] => {
    const { x, t } = files(cnn, 10);
    return ['eval', '--network', path.join(DIR, 'cnn-torchscript.onnx'), '--output', 'logits', '--feed', `images=${x}`, '--target', t, '--task', 'multiclass', '--input', 'logits', '--alpha', 'none'];
  };

  it('prints the eval report: loss, model, data, time (rows/s), provider', async () => {
    const r = await runCli([...args(), '--batch-size', '3072']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const loss = Number(/^loss +([\d.]+) \(mean over 40 rows\)$/m.exec(r.stdout)?.[1]);
    expect(Math.abs(loss - cnn.referenceLoss)).toBeLessThan(1e-6);
    expect(r.stdout).toMatch(/^model +.*cnn-torchscript\.onnx \+ the loss on 'logits': multiclass logits α=none γ=2 mean/m);
    expect(r.stdout).toMatch(/^data +images=.*: 40 rows$/m);
    expect(r.stdout).toMatch(/^time +[\d.]+ s, .* rows\/s, .* \(10 batches of up to 4 rows\)/m);
    expect(r.stdout).toMatch(/^provider +cpu$/m);
  });

  it('--json, and a progress bar on request', async () => {
    const r = await runCli([...args(), '--json', '--progress']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ rows: 40, inputRows: 40, count: 40, ep: 'cpu', output: 'logits', reduction: 'mean' });
    expect(Math.abs(j.loss - cnn.referenceLoss)).toBeLessThan(1e-6);
    expect(j.rowsPerSecond).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/40/);
  });

  it('--ep cuda without the CUDA provider: exit 2 and the one line naming npm run setup:cuda', async () => {
    const r = await runCli([...args(), '--ep', 'cuda']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^focal-onnx: --ep cuda: .*npm run setup:cuda.*\n$/);
  });

  it.each([
    ['--pred with --network', ['--pred', 'p.npy'], /--network takes the predictions from the network: drop --pred/],
    ['--model with --network', ['--model', 'm.onnx'], /--network takes the predictions from the network: drop --model/],
    ['a --weight file that does not exist', ['--weight', 'w.npy'], /w\.npy: .*does not exist/],
    ['a --feed without =', ['--feed', 'images'], /--feed must be INPUT=FILE\.npy/],
    ['the same input twice', ['--feed', 'images=a.npy'], /--feed images=… is given more than once/],
    ['an opset other than the network’s', ['--opset', '13'], /--opset 13 does not match .*which uses opset 17/],
  ])('refuses %s: exit 2, one line', async (_what, extra, pattern) => {
    const r = await runCli([...args(), ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses --output or --feed without --network', async () => {
    const r = await runCli(['eval', '--pred', 'p.npy', '--target', 't.npy', '--output', 'logits']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--output goes with --network/);
  });
});
