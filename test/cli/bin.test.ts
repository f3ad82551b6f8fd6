/**
 * The real executable (`node bin/focal-onnx.js`, built by `npm test`'s pretest): exit codes,
 * one line and no stack trace for a user's mistake, no `--out` file left after a failure, and the
 * bundled sample data that `npm start` evaluates.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { writeNpy } from '../../src/io/npy';
import { BIN, scratchDir, spawnCli } from '../helpers/cli';

const dir = scratchDir('focal-cli-bin-');
const ROOT = path.join(__dirname, '..', '..');
const built = fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'));
const itBuilt = built ? it : it.skip;

describe('bin/focal-onnx.js', () => {
  it('is built (npm test runs the build first)', () => {
    if (!built) console.warn(`SKIPPED the process tests: ${BIN} needs 'npm run build'`);
    expect(fs.existsSync(BIN)).toBe(true);
  });

  itBuilt('exits 0 and prints the summary for the bundled samples (npm start)', () => {
    if (!fs.existsSync(path.join(ROOT, 'models', 'binary-probs.onnx'))) return; // models/ is made by npm run export-models
    const r = spawnCli(['eval', '--model', 'models/binary-probs.onnx', '--pred', 'samples/pred.npy', '--target', 'samples/target.npy'], ROOT);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^loss {6}0\.0258\d* \(mean over 100000 elements\)$/m);
    expect(r.stdout).toMatch(/^provider  cpu$/m);
  });

  itBuilt('exits 2 with one line and no stack trace for bad data, leaving no --out file', () => {
    const p = path.join(dir(), 'p.npy');
    const t = path.join(dir(), 't.npy');
    writeNpy(p, 'float32', [6], Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]));
    writeNpy(t, 'float32', [6], Float32Array.from([0, 1, 0, 1, 0.5, 1]));
    const out = path.join(dir(), 'losses.npy');
    const r = spawnCli(['eval', '--pred', p, '--target', t, '--out', out, '--batch-size', '2']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`focal-onnx: ${t}: element 4 is 0.5; binary targets must be 0 or 1\n`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readdirSync(dir()).sort()).toEqual(['p.npy', 't.npy']);
  });

  itBuilt('exits 2 for a usage mistake and for CUDA missing, 0 for help', () => {
    const usage = spawnCli(['eval', '--pred', 'x.npy']);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split('\n')).toHaveLength(1);
    expect(spawnCli(['--help']).code).toBe(0);
    expect(spawnCli([]).code).toBe(2);
    const cuda = spawnCli(['eval', '--pred', 'samples/pred.npy', '--target', 'samples/target.npy', '--ep', 'cuda'], ROOT);
    if (cuda.code !== 0) {
      expect(cuda.code).toBe(2);
      expect(cuda.stderr).toMatch(/^focal-onnx: --ep cuda: .*npm run setup:cuda.*\n$/);
    }
  });

  itBuilt('writes --out atomically on success', () => {
    const out = path.join(dir(), 'ok.npy');
    const r = spawnCli(['eval', '--pred', 'samples/pred.npy', '--target', 'samples/target.npy', '--out', out, '--json'], ROOT);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 100000, out });
    expect(fs.statSync(out).size).toBe(128 + 4 * 100000);
    fs.unlinkSync(out);
  });
});

describe('what the commands load', () => {
  // The build's CLI in a fresh process: a command that builds, attaches or reads a model loads no
  // native code (onnxruntime-node comes with the first session: eval), so export, attach and inspect
  // work where its binary cannot load.
  const loaded = (argv: string[]): { code: number; native: boolean } => {
    const main = path.resolve(__dirname, '../../dist/src/cli/main.js');
    const quiet = '{ write: () => true }';
    const out = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(main)}).run(${JSON.stringify(argv)}, { stdout: ${quiet}, stderr: ${quiet} }).then((code) => console.log(JSON.stringify({ code, native: Object.keys(require.cache).some((f) => f.includes('onnxruntime-node')) })))`], { encoding: 'utf8' });
    return JSON.parse(out) as { code: number; native: boolean };
  };
  it('export, attach and inspect: no onnxruntime-node; eval: loaded', () => {
    const model = path.join(dir(), 'loads.onnx');
    expect(loaded(['export', '-o', model])).toEqual({ code: 0, native: false });
    expect(loaded(['inspect', model])).toEqual({ code: 0, native: false });
    const net = path.resolve(__dirname, '../fixtures/networks/tagger-dynamo.onnx');
    expect(loaded(['attach', net, '--output', 'logits', '--task', 'multilabel', '--input', 'logits', '-o', path.join(dir(), 'loads-attached.onnx')])).toEqual({ code: 0, native: false });
    const p = path.join(dir(), 'loads-p.npy');
    const t = path.join(dir(), 'loads-t.npy');
    writeNpy(p, 'float32', [4], Float32Array.from([0.1, 0.2, 0.3, 0.4]));
    writeNpy(t, 'float32', [4], Float32Array.from([0, 1, 0, 1]));
    expect(loaded(['eval', '--pred', p, '--target', t])).toEqual({ code: 0, native: true });
  });
});
