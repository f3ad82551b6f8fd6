/**
 * Every message names what the user wrote: the flag on the command line, the option in the API —
 * the loss options (src/losses/registry.ts) and the sources' own (`model`, `network`, `output`,
 * `feeds`, `out`, `ep`: vocabulary.ts's SourceOption), through one `Label`. Each case runs the same
 * mistake both ways; then random loss-flag combinations through export, attach and eval, none of
 * whose messages may name an option the way the API spells it.
 */
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { writeNpy } from '../../src/io/npy';
import { OPTIONS, buildLoss } from '../../src/losses';
import { createSession, evaluate, evaluateNetwork } from '../../src/runtime';
import { runCli, scratchDir } from '../helpers/cli';
import { NETWORKS_DIR } from '../helpers/networks';

const dir = scratchDir('focal-names-');
const file = (name: string): string => path.join(dir(), name);
function npy(name: string, dtype: 'float32' | 'int64', shape: number[], values: number[]): string {
  writeNpy(file(name), dtype, shape, dtype === 'int64' ? BigInt64Array.from(values, (v) => BigInt(v)) : Float32Array.from(values));
  return file(name);
}
async function apiMessage(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}
async function cliMessage(argv: string[]): Promise<string> {
  const r = await runCli(argv);
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr;
}

describe('the same mistake, named both ways', () => {
  const pred = (): string => npy('p.npy', 'float32', [6], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
  const target = (): string => npy('t.npy', 'float32', [6], [0, 1, 0, 1, 0, 1]);
  const model = (name: string, reduction: 'mean' | 'none'): string => {
    fs.writeFileSync(file(name), buildLoss({ reduction }).bytes);
    return file(name);
  };

  it('the per-element losses of a model that reduces: out / --out, and the way out', async () => {
    const [p, t, m] = [pred(), target(), model('mean.onnx', 'mean')];
    expect(await apiMessage(() => evaluate({ pred: p, target: t, model: m, out: file('l.npy') }))).toMatch(/^out needs the per-element losses, .*; use a model exported with reduction none, or loss options instead of model$/);
    expect(await cliMessage(['eval', '--pred', p, '--target', t, '--model', m, '--out', file('l.npy')])).toMatch(/^focal-onnx: --out needs the per-element losses, .*; use a model exported with --reduction none, or loss options instead of --model\n$/);
  });

  it('targets of another type than the model takes: targetDtype / --target-dtype', async () => {
    const [p, m] = [pred(), model('none.onnx', 'none')];
    const t = npy('t64.npy', 'int64', [6], [0, 1, 0, 1, 0, 1]);
    expect(await apiMessage(() => evaluate({ pred: p, target: t, model: m }))).toMatch(/takes float32 targets; convert the file or use a model made with targetDtype int64$/);
    expect(await cliMessage(['eval', '--pred', p, '--target', t, '--model', m])).toMatch(/takes float32 targets; convert the file or use a model made with --target-dtype int64\n$/);
  });

  it("a network's output and inputs: output / --output, network / --network, feeds / --feed", async () => {
    const net = path.join(NETWORKS_DIR, 'cnn-dynamo.onnx');
    const t = npy('tn.npy', 'int64', [2], [0, 1]);
    expect(await apiMessage(() => evaluateNetwork({ network: net, feeds: {}, target: t }))).toBe(`output is required with network: the output of ${net} the loss takes as its prediction`);
    expect(await cliMessage(['eval', '--network', net, '--target', t])).toMatch(/^focal-onnx: --output is required with --network: /);
    const x = file('x.npy');
    expect(await apiMessage(() => evaluateNetwork({ network: net, output: 'logits', feeds: { images: x, extra: x }, loss: { task: 'multiclass', input: 'logits' }, target: t }))).toMatch(/^feeds extra=…: .*cnn-dynamo\.onnx has no input 'extra'; its inputs: 'images'$/);
    expect(await cliMessage(['eval', '--network', net, '--output', 'logits', '--task', 'multiclass', '--input', 'logits', '--feed', `images=${x}`, '--feed', `extra=${x}`, '--target', t])).toMatch(/^focal-onnx: --feed extra=…: .*cnn-dynamo\.onnx has no input 'extra'; its inputs: 'images'\n$/);
  });

  it('probabilities out of [0, 1]: input / --input', async () => {
    const p = npy('p2.npy', 'float32', [2], [0.5, 2]);
    const t = npy('t2.npy', 'float32', [2], [0, 1]);
    expect(await apiMessage(() => evaluate({ pred: p, target: t }))).toMatch(/element 1 is 2; probabilities must be in \[0, 1\] \(for scores or logits, use input logits\)$/);
    expect(await cliMessage(['eval', '--pred', p, '--target', t])).toMatch(/element 1 is 2; probabilities must be in \[0, 1\] \(for scores or logits, use --input logits\)\n$/);
  });

  it('the execution provider: ep / --ep', async () => {
    expect(await apiMessage(() => createSession(buildLoss().bytes, { ep: 'gpu' as never }))).toBe("ep must be one of cpu, cuda, auto, got 'gpu'");
    expect(await cliMessage(['eval', '--pred', pred(), '--target', target(), '--ep', 'gpu'])).toMatch(/^focal-onnx: --ep must be one of cpu, cuda, auto, got 'gpu'\n$/);
  });
});

describe('random loss-flag combinations: the CLI never names an option as the API spells it', () => {
  const flagged = OPTIONS.filter((e) => e.flag !== undefined);
  // The options whose API name differs from the flag (camelCase), and the builder's predShape.
  const apiNames = [...flagged.map((e) => e.name).filter((n) => /[A-Z]/.test(n)), 'predShape'];
  const valueOf = (e: (typeof flagged)[number]): fc.Arbitrary<string[]> => {
    const k = e.cli;
    if (k.type === 'boolean') return fc.constant([`--${e.flag}`]);
    const values = k.type === 'enum' ? fc.constantFrom(...k.values) : fc.constantFrom('0', '0.25', '1', '2', '-1', '3', '255', '0.25,0.75', '1,2,3', '0.1,0.2,0.3,0.4,0.5', 'positives');
    return values.map((v) => [`--${e.flag}`, v]);
  };
  const task = fc.constantFrom('binary', 'multilabel', 'multiclass').map((t) => ['--task', t]);
  const flags = fc.tuple(task, fc.array(fc.constantFrom(...flagged).chain(valueOf), { minLength: 1, maxLength: 3 })).map(([t, a]) => [...t, ...a.flat()]);

  it('export, attach and eval: exit 0, or exit 2 with one line in the flags\' words', async () => {
    const p = npy('rp.npy', 'float32', [2, 3, 5], Array.from({ length: 30 }, (_, i) => (i + 1) / 31));
    const t = npy('rt.npy', 'float32', [2, 3, 5], Array.from({ length: 30 }, (_, i) => i % 2));
    const net = path.join(NETWORKS_DIR, 'tagger-dynamo.onnx');
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('export', 'attach', 'eval'), flags, async (command, argv) => {
        const full =
          command === 'export' ? ['export', ...argv, '-o', file('r.onnx')] : command === 'attach' ? ['attach', net, '--output', 'logits', ...argv, '-o', file('r.onnx')] : ['eval', '--pred', p, '--target', t, ...argv];
        const r = await runCli(full);
        expect([0, 2]).toContain(r.code);
        if (r.code === 2) {
          refused++;
          expect(r.stderr.trim().split('\n')).toHaveLength(1);
          expect(apiNames.filter((n) => new RegExp(`(^|[^-\\w.])${n}\\b`).test(r.stderr))).toEqual([]);
        }
      }),
      { numRuns: 400, seed: 18 },
    );
    // The combinations reach refusals, not only good command lines.
    expect(refused).toBeGreaterThan(100);
  });
});
