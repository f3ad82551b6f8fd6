/**
 * External data: how onnxruntime-node best opens a model whose weights lie in a side file when
 * the model's bytes are in hand (the evaluator adds outputs to the user's model, so it has bytes,
 * not the file). A model of one MatMul with a [N, N] float32 weight in `big.onnx.data` (N = 8192:
 * 256 MiB), opened in a fresh process each time, the three ways in turn, `--rounds` times:
 *
 * - `path`: `InferenceSession.create(file)` — onnxruntime reads the model and its side file (the reference);
 * - `folder`: `create(bytes, { extra: { session: { model_external_initializers_file_folder_path: dir } } })`
 *   — what createSession does (SessionOptions.externalDataDir);
 * - `externalData`: `create(bytes, { externalData: [{ path, data: <the side file's bytes> }] })`.
 *
 * Each: the time to create the session, and the process's peak RSS (after one run).
 *
 *     node dist/bench/external-data.js [--n 8192] [--rounds 5] [--dir /tmp/focal-external] [--json FILE]
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import type { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { serializeModel } from '../src/onnx';

const MODES = ['path', 'folder', 'externalData'] as const;
type Mode = (typeof MODES)[number];

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Writes big.onnx (x [B, N] · W) and big.onnx.data (W, deterministic values) into `dir`. */
function writeModel(dir: string, n: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const bytes = n * n * 4;
  const vi = (name: string): onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'B' }, { dimValue: n }] } } } });
  const model: onnx.IModelProto = {
    irVersion: 10,
    opsetImport: [{ domain: '', version: 18 }],
    graph: {
      name: 'big',
      node: [{ opType: 'MatMul', input: ['x', 'W'], output: ['y'] }],
      input: [vi('x')],
      output: [vi('y')],
      initializer: [
        {
          name: 'W',
          dims: [n, n],
          dataType: 1,
          dataLocation: 1,
          externalData: [
            { key: 'location', value: 'big.onnx.data' },
            { key: 'offset', value: '0' },
            { key: 'length', value: String(bytes) },
          ],
        },
      ],
    },
  };
  fs.writeFileSync(path.join(dir, 'big.onnx'), serializeModel(model));
  const w = new Float32Array(n * n);
  let s = 12345;
  for (let i = 0; i < w.length; i++) w[i] = ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.01;
  fs.writeFileSync(path.join(dir, 'big.onnx.data'), w);
}

/** One measurement, in this (fresh) process. */
async function child(mode: Mode, dir: string, n: number): Promise<void> {
  const file = path.join(dir, 'big.onnx');
  const base: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, interOpNumThreads: 1, logSeverityLevel: 4 };
  const t0 = performance.now();
  const session =
    mode === 'path'
      ? await ort.InferenceSession.create(file, base)
      : mode === 'folder'
        ? await ort.InferenceSession.create(fs.readFileSync(file), { ...base, extra: { session: { model_external_initializers_file_folder_path: dir } } })
        : await ort.InferenceSession.create(fs.readFileSync(file), { ...base, externalData: [{ path: 'big.onnx.data', data: fs.readFileSync(path.join(dir, 'big.onnx.data')) }] });
  const createMs = performance.now() - t0;
  const y = (await session.run({ x: new ort.Tensor('float32', new Float32Array(n).fill(1), [1, n]) })).y.data[0] as number;
  process.stdout.write(JSON.stringify({ mode, createMs, peakMiB: process.resourceUsage().maxRSS / 1024, y }));
}

async function main(): Promise<void> {
  const n = Number(flag('n', '8192'));
  const dir = path.resolve(flag('dir', '/tmp/focal-external'));
  const mode = flag('child', '');
  if (mode) return child(mode as Mode, dir, n);
  const rounds = Number(flag('rounds', '5'));
  writeModel(dir, n);
  const runs: Record<Mode, { createMs: number; peakMiB: number; y: number }[]> = { path: [], folder: [], externalData: [] };
  for (let r = 0; r < rounds; r++) {
    // The order turns each round, so no way always comes first.
    for (let k = 0; k < MODES.length; k++) {
      const m = MODES[(k + r) % MODES.length];
      runs[m].push(JSON.parse(execFileSync(process.execPath, [__filename, '--child', m, '--dir', dir, '--n', String(n)], { encoding: 'utf8' })));
    }
  }
  const rows = MODES.map((m) => ({ mode: m, createMs: median(runs[m].map((x) => x.createMs)), peakMiB: median(runs[m].map((x) => x.peakMiB)), same: runs[m].every((x) => x.y === runs.path[0].y) }));
  console.log(`weights ${(n * n * 4) / 2 ** 20} MiB, ${rounds} rounds (median):`);
  for (const r of rows) console.log(`  ${r.mode.padEnd(13)} create ${r.createMs.toFixed(0).padStart(5)} ms, peak RSS ${r.peakMiB.toFixed(0).padStart(5)} MiB${r.same ? '' : ' (a different output!)'}`);
  const json = flag('json', '');
  if (json) fs.writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), n, rounds, rows, runs }, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
