/**
 * `focal-onnx attach` in-process (src/cli/attach.ts through `run`): the summary and `--json`, the
 * file it writes (the network plus the loss, as attachLoss makes it), and the exit code 2 with one
 * line on stderr and no output file for the user's mistakes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { attachLoss } from '../../src/attach';
import { decodeModel, decodeModelProto, serializeModel } from '../../src/onnx';
import { runCli, scratchDir, spawnCli } from '../helpers/cli';

const dir = scratchDir('focal-cli-attach-');
const file = (name: string): string => path.join(dir(), name);
const CNN = path.join(__dirname, '..', 'fixtures', 'networks', 'cnn-dynamo.onnx');
const DENSE = path.join(__dirname, '..', 'fixtures', 'networks', 'dense-torchscript.onnx');

describe('focal-onnx attach', () => {
  it('writes the network with the loss on its output and says what it wrote', async () => {
    const out = file('cnn-loss.onnx');
    const r = await runCli(['attach', CNN, '--output', 'logits', '--task', 'multiclass', '--input', 'logits', '--alpha', 'none', '--with-grad', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*cnn-loss\.onnx \(\d+ bytes, IR 10, opset 18\): .*cnn-dynamo\.onnx \+ multiclass logits α=none γ=2 mean .* on 'logits': images float32\[batch, 3, 16, 16\], target int64\[batch\] → logits float32\[batch, 10\], loss float32\[\], grad float32\[batch, 10\]\n$/);
    const expected = attachLoss(fs.readFileSync(CNN), { output: 'logits', task: 'multiclass', input: 'logits', alpha: 'none', withGrad: true });
    expect(Buffer.from(fs.readFileSync(out)).equals(Buffer.from(expected.bytes))).toBe(true);
    expect(decodeModel(fs.readFileSync(out)).metadata['focal.output']).toBe('logits');
  });

  it('--json, --as-function and a dense [B, K, C] head (multilabel, labels last)', async () => {
    const out = file('dense-loss.onnx');
    const r = await runCli(['attach', DENSE, '--output=cls_logits', '--task', 'multilabel', '--input', 'logits', '--as-function', '--out', out, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ file: out, output: 'cls_logits', irVersion: 8, opset: 17, names: { target: 'target', loss: 'loss' } });
    expect(j.inputs.map((i: { name: string }) => i.name)).toEqual(['fmap', 'target']);
    // The TorchScript exporter names the reshaped dims symbolically.
    expect(j.outputs.map((o: { name: string; shape: unknown[] }) => [o.name, o.shape.length, o.shape[0]])).toEqual([
      ['cls_logits', 3, 'batch'],
      ['loss', 0, undefined],
    ]);
    expect(decodeModel(fs.readFileSync(out)).graph.nodes.at(-1)?.domain).toBe('ai.focal');
  });

  it('as a process: the bin runs attach', () => {
    const out = file('bin.onnx');
    const r = spawnCli(['attach', CNN, '--output', 'logits', '--task', 'multiclass', '--input', 'logits', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.existsSync(out)).toBe(true);
  });

  const old = (): string => {
    const f = file('opset12.onnx');
    const m = decodeModelProto(fs.readFileSync(CNN));
    m.opsetImport = [{ domain: '', version: 12 }];
    fs.writeFileSync(f, serializeModel(m));
    return f;
  };

  it.each([
    ['no network', () => ['attach', '--output', 'logits', '-o', file('x.onnx')], /attach needs the network/],
    ['no --output', () => ['attach', CNN, '-o', file('x.onnx')], /--output is required/],
    ['no -o', () => ['attach', CNN, '--output', 'logits'], /--out \(-o\) is required/],
    ['a missing network file', () => ['attach', file('none.onnx'), '--output', 'logits', '-o', file('x.onnx')], /none\.onnx: .*does not exist/],
    ['an unknown output', () => ['attach', CNN, '--output', 'probs', '-o', file('x.onnx')], /--output 'probs' is not an output of .*cnn-dynamo\.onnx; its outputs: 'logits'/],
    ['opset 12', () => ['attach', old(), '--output', 'logits', '-o', file('x.onnx')], /opset12\.onnx: uses opset 12; attach supports networks of opset 13–21/],
    ['a bad loss flag', () => ['attach', CNN, '--output', 'logits', '--gamma', '-2', '-o', file('x.onnx')], /--gamma/],
    ['--opset other than the network’s', () => ['attach', CNN, '--output', 'logits', '--task', 'multiclass', '--opset', '17', '-o', file('x.onnx')], /--opset 17 does not match .*which uses opset 18/],
    ['the network as the output', () => ['attach', CNN, '--output', 'logits', '-o', CNN], /is the network itself/],
  ] as const)('refuses %s: exit 2, one line, no file', async (_what, args, pattern) => {
    const r = await runCli(args());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(file('x.onnx'))).toBe(false);
  });

  it('--help lists its flags', async () => {
    const r = await runCli(['attach', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--output NAME', '--task', '--as-function', '--with-grad', '-o, --out OUT.onnx']) expect(r.stdout).toContain(flag);
  });
});

describe("the README's attach and eval --network examples", () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  /** The `npx focal-onnx …` command starting with `start`, backslash continuations joined, split into arguments. */
  const command = (start: string): string[] => {
    const i = readme.indexOf(`npx focal-onnx ${start}`);
    expect(i).toBeGreaterThanOrEqual(0);
    const text = readme.slice(i).split('\n');
    const lines: string[] = [];
    for (const l of text) {
      lines.push(l.replace(/\\$/, '').replace(/#.*$/, ''));
      if (!l.trimEnd().endsWith('\\')) break;
    }
    return lines.join(' ').trim().split(/\s+/).slice(2);
  };

  it('attach prints what the README shows', async () => {
    const argv = command('attach');
    const out = file('readme-cnn-loss.onnx');
    const r = await runCli(argv.map((a) => (a === 'cnn-loss.onnx' ? out : a)));
    expect(r.code).toBe(0);
    const shown = /^wrote cnn-loss\.onnx .*$/m.exec(readme)?.[0];
    expect(r.stdout.trim()).toBe(shown?.replace('cnn-loss.onnx', out));
  });

  it('eval --network prints the loss the README shows, which is the reference loss', async () => {
    const r = await runCli(command('eval --network'));
    expect(r.code).toBe(0);
    const shown = /^(loss +[\d.]+ \(mean over 64 rows\))$/m.exec(readme)?.[1];
    expect(r.stdout.split('\n')[0]).toBe(shown);
    const ref = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'networks', 'networks.json'), 'utf8')) as { networks: { name: string; samples?: { referenceLoss: number } }[] }).networks.find(
      (n) => n.name === 'cnn',
    )?.samples?.referenceLoss as number;
    expect(Math.abs(Number(/loss +([\d.]+)/.exec(r.stdout)?.[1]) - ref)).toBeLessThan(1e-6);
  });
});
