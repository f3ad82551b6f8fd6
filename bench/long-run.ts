/**
 * The long run: an evaluation of a very large pair of `.npy` files streamed from disk, with flat
 * memory, whose result equals an independent float64 reference within 1e-6 (relative).
 *
 *     npm run build && node dist/bench/long-run.js [--elements 1e9] [--dir DIR] [--input probs|logits]
 *                                                    [--batch-size N] [--keep] [--json OUT.json]
 *
 * 1. Writes pred.npy (float32) and target.npy (float32, 0/1) of `--elements` elements into DIR (default
 *    a fresh directory under the system temp dir; 8 bytes an element in all: 8 GB for 10^9), in
 *    chunks of 2^20 elements through NpyWriter, deterministically (a counter-based hash of the
 *    element index, so any chunk can be regenerated alone). Existing files of the right size and
 *    header are reused (delete them to regenerate).
 * 2. Evaluates them through the public API (`evaluate` from src/runtime: the seed's binary loss,
 *    α = 0.25, γ = 2, eps = 1e-4, mean), sampling the process's RSS every 100 ms and after every
 *    batch.
 * 3. Streams the same files again in JS and computes the reference: the seed's formula per element
 *    in float64 (test/helpers/focal-reference.ts) on the float32 values the model saw, summed with
 *    compensation.
 * 4. Prints one JSON object (and writes it to --json): sizes, timings, throughput, RSS (peak and
 *    samples over the run's progress), both losses and their relative difference. Exits 1 when the
 *    difference exceeds 1e-6 or RSS grew during the run by more than 64 MB after the first 10%.
 *
 * For the benchmark (npm run bench); too long for the test suite.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { NpyReader, NpyWriter, readNpyHeader } from '../src/io/npy';
import { evaluate } from '../src/runtime';
import { CompensatedSum, RefOptions, focalElements } from '../test/helpers/focal-reference';
import { scriptFlags } from './args';

interface Args {
  elements: number;
  dir: string;
  input: 'probs' | 'logits';
  batchSize?: number;
  keep: boolean;
  json?: string;
}

const FLAGS = {
  elements: { type: 'number', integer: true, min: 1, description: 'elements of each file (default 1e9)' },
  dir: { type: 'string', description: 'where the files go (default a fresh temp directory)' },
  input: { type: 'enum', values: ['probs', 'logits'], description: 'what pred holds (default probs)' },
  'batch-size': { type: 'number', integer: true, min: 1, description: "eval's batch size" },
  keep: { type: 'boolean', description: 'keep the files' },
  json: { type: 'string', description: 'also write the report here' },
} as const;

function parse(argv: readonly string[]): Args {
  const f = scriptFlags('long-run', FLAGS, argv);
  return {
    elements: f.elements ?? 1e9,
    dir: f.dir ?? '',
    input: (f.input ?? 'probs') as Args['input'],
    batchSize: f['batch-size'],
    keep: f.keep ?? false,
    json: f.json,
  };
}

// ---- deterministic data -------------------------------------------------------------------------

/** A 32-bit hash of (index, stream): the same element every time, from any chunk. */
function hash32(index: number, stream: number): number {
  let h = (Math.imul(index >>> 0, 0x9e3779b1) ^ Math.imul(Math.floor(index / 2 ** 32) + stream * 0x85ebca6b, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Element i: target 1 with probability 0.1 (an imbalanced mix), and a prediction of a plausible
 * classifier — a logit of +1.5 (positives) or −2.5 (negatives) plus noise in [−3, 3] — as a
 * probability (sigmoid, float32) or the logit itself.
 */
function fill(start: number, pred: Float32Array, target: Float32Array, input: Args['input']): void {
  for (let k = 0; k < pred.length; k++) {
    const i = start + k;
    const t = hash32(i, 1) < 0.1 * 2 ** 32 ? 1 : 0;
    const noise = (hash32(i, 2) / 2 ** 32) * 6 - 3;
    const logit = (t ? 1.5 : -2.5) + noise;
    target[k] = t;
    pred[k] = input === 'logits' ? logit : 1 / (1 + Math.exp(-logit));
  }
}

const CHUNK = 1 << 20;

function reusable(file: string, count: number): boolean {
  try {
    const h = readNpyHeader(file);
    return h.dtype === 'float32' && h.count === count && h.shape.length === 1;
  } catch {
    return false;
  }
}

async function generate(dir: string, n: number, input: Args['input']): Promise<{ pred: string; target: string; seconds: number; reused: boolean }> {
  const pred = path.join(dir, `pred-${input}-${n}.npy`);
  const target = path.join(dir, `target-${n}.npy`);
  const t0 = performance.now();
  if (reusable(pred, n) && reusable(target, n)) return { pred, target, seconds: 0, reused: true };
  const pw = NpyWriter.create(pred, 'float32', [n]);
  const tw = NpyWriter.create(target, 'float32', [n]);
  try {
    const pb = new Float32Array(CHUNK);
    const tb = new Float32Array(CHUNK);
    for (let start = 0; start < n; start += CHUNK) {
      const len = Math.min(CHUNK, n - start);
      fill(start, pb.subarray(0, len), tb.subarray(0, len), input);
      pw.appendSync(pb.subarray(0, len));
      tw.appendSync(tb.subarray(0, len));
    }
    await pw.commit();
    await tw.commit();
  } finally {
    pw.abort();
    tw.abort();
  }
  return { pred, target, seconds: (performance.now() - t0) / 1000, reused: false };
}

// ---- the reference ------------------------------------------------------------------------------

async function reference(predFile: string, targetFile: string, o: RefOptions): Promise<{ loss: number; seconds: number }> {
  const t0 = performance.now();
  const pr = NpyReader.open(predFile, ['float32']);
  const tr = NpyReader.open(targetFile, ['float32']);
  const sum = new CompensatedSum();
  try {
    const pb = pr.batches(CHUNK);
    const tb = tr.batches(CHUNK);
    for (;;) {
      const [p, t] = await Promise.all([pb.next(), tb.next()]);
      if (p.done || t.done) break;
      // focalElements works on any ArrayLike: the float32 values exactly as the model saw them.
      for (const x of focalElements({ ...o, reduction: 'none' }, { pred: p.value.data, target: t.value.data })) sum.add(x);
    }
  } finally {
    pr.close();
    tr.close();
  }
  const s = sum.value;
  return { loss: o.reduction === 'sum' ? s : s / sum.count, seconds: (performance.now() - t0) / 1000 };
}

// ---- main ---------------------------------------------------------------------------------------

const MB = 2 ** 20;

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const dir = args.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'focal-long-run-'));
  fs.mkdirSync(dir, { recursive: true });
  const n = args.elements;
  const free = fs.statfsSync(dir);
  const need = 8 * n + 4096;
  if (free.bavail * free.bsize < need) throw new Error(`${dir}: needs ${(need / 1e9).toFixed(1)} GB free, has ${((free.bavail * free.bsize) / 1e9).toFixed(1)} GB`);

  const files = await generate(dir, n, args.input);
  const options = { task: 'binary', input: args.input, alpha: 0.25, gamma: 2, eps: 1e-4, reduction: 'mean' } as const;

  // RSS during the evaluation: a timer (100 ms) and one sample per batch, keyed by progress.
  const samples: { done: number; rss: number }[] = [];
  let done = 0;
  const timer = setInterval(() => samples.push({ done, rss: process.memoryUsage().rss }), 100);
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  let result;
  try {
    result = await evaluate({
      pred: files.pred,
      target: files.target,
      loss: options,
      batchSize: args.batchSize,
      onProgress: (p) => {
        done = p.done;
        samples.push({ done, rss: process.memoryUsage().rss });
      },
    });
  } finally {
    clearInterval(timer);
  }
  const evalSeconds = (performance.now() - t0) / 1000;
  const maxRssDuringEval = Math.max(...samples.map((s) => s.rss));
  // Flat: after the first 10% (session, buffers and page cache of the reads settled), RSS grows by
  // less than 64 MB however many batches follow.
  const settled = samples.filter((s) => s.done >= 0.1 * n);
  const growth = settled.length ? Math.max(...settled.map((s) => s.rss)) - settled[0].rss : 0;

  const ref = await reference(files.pred, files.target, options);
  const relDiff = Math.abs(result.loss - ref.loss) / Math.abs(ref.loss);

  // RSS at each tenth of the progress, for the report.
  const byTenth = Array.from({ length: 10 }, (_, k) => {
    const s = samples.find((x) => x.done >= ((k + 1) / 10) * n);
    return s ? Math.round(s.rss / MB) : null;
  });
  const report = {
    elements: n,
    input: args.input,
    options,
    bytesOnDisk: fs.statSync(files.pred).size + fs.statSync(files.target).size,
    generated: files.reused ? 'reused' : `${files.seconds.toFixed(1)} s`,
    evalSeconds: Number(evalSeconds.toFixed(2)),
    elementsPerSecond: Math.round(result.elementsPerSecond),
    batches: result.batches,
    batchRows: result.batchRows,
    rssBeforeEvalMB: Math.round(rssBefore / MB),
    rssPeakDuringEvalMB: Math.round(maxRssDuringEval / MB),
    rssGrowthAfter10PercentMB: Math.round(growth / MB),
    rssAtEachTenthMB: byTenth,
    processMaxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    loss: result.loss,
    referenceLoss: ref.loss,
    referenceSeconds: Number(ref.seconds.toFixed(1)),
    relDiff,
    ok: relDiff <= 1e-6 && growth <= 64 * MB,
  };
  const text = JSON.stringify(report, null, 2);
  process.stdout.write(`${text}\n`);
  if (args.json) fs.writeFileSync(args.json, `${text}\n`);
  if (!args.keep) {
    fs.rmSync(files.pred, { force: true });
    fs.rmSync(files.target, { force: true });
    if (!args.dir) fs.rmSync(dir, { recursive: true, force: true });
  }
  return report.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`long-run: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
