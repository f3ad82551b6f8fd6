/**
 * The bench's in-memory evaluator rows, a RowSource of `npm run bench` (bench/bench-rows.ts): what a Node
 * program that already holds its predictions gets from `createEvaluator().add`, batch after batch —
 * the evaluator's checks, the graph with its block sums and in-graph checks, and the float64
 * accumulation, without reading files. Like the bench's "eval graph from memory" rows, the files'
 * first batch is read once and added over and over, as many elements as the files hold (the last
 * batch shorter); the difference between the two rows is the evaluator's own per-batch cost.
 *
 * Each measurement runs in a child process of its own (this file), so its peak memory is its own:
 *
 *     node dist/bench/bench-evaluator.js '{"task":"binary","pred":"p.npy","target":"t.npy","threads":1,"batch":262144}'
 */
import { spawn } from 'child_process';
import { performance } from 'perf_hooks';
import { NpyReader } from '../src/io/npy';
import { DEFAULT_BATCH_ELEMENTS } from '../src/runtime/evaluate';
import { createEvaluator } from '../src/runtime/evaluator';
import { DataFiles, RowSource, SourceContext, Task, readFirstBatch } from './bench-rows';

/** The bench's loss: the seed's, as every other row computes it. */
const LOSS = { alpha: 0.25, gamma: 2, eps: 1e-4 } as const;

/** Session threads the bench measures the evaluator with. */
export const EVALUATOR_THREADS = [1, 2] as const;

export interface EvaluatorSpec {
  readonly task: 'binary' | 'multilabel';
  readonly pred: string;
  readonly target: string;
  /** The session's intra-op threads. */
  readonly threads: number;
  /** Prediction elements per `add` (whole rows). */
  readonly batch: number;
}

export interface EvaluatorMeasurement {
  readonly label: string;
  /** Seconds from the first `add` to the last one's end. */
  readonly seconds: number;
  /** The evaluator's loss (the mean). */
  readonly loss: number;
  readonly peakBytes: number;
}

/** In this process: the measurement of `spec`. */
export async function runEvaluator(spec: EvaluatorSpec): Promise<{ seconds: number; loss: number; batches: number }> {
  const header = NpyReader.open(spec.pred, ['float32']);
  const shape = header.header.shape;
  header.close();
  const row = spec.task === 'multilabel' ? shape[shape.length - 1] : 1;
  const { p, t, count } = readFirstBatch(spec.pred, spec.target, spec.batch, row);
  const n = p.length;
  const dims = (len: number): number[] => (spec.task === 'binary' ? [len] : [len / row, row]);
  // One warm-up batch (first-run allocations) on an evaluator of its own, then the timed one.
  const warm = await createEvaluator({ loss: { ...LOSS, task: spec.task }, threads: spec.threads });
  await warm.add({ pred: p, target: t, dims: dims(n) });
  await warm.close();
  const ev = await createEvaluator({ loss: { ...LOSS, task: spec.task }, threads: spec.threads });
  try {
    const started = performance.now();
    for (let done = 0; done < count; done += n) {
      const len = Math.min(n, count - done);
      await ev.add({ pred: p.subarray(0, len), target: t.subarray(0, len), dims: dims(len) });
    }
    const seconds = (performance.now() - started) / 1000;
    const r = ev.result();
    if (r.elements !== count) throw new Error(`bench-evaluator: ${r.elements} elements evaluated, expected ${count}`);
    return { seconds, loss: r.loss, batches: r.batches };
  } finally {
    await ev.close();
  }
}

/** `spec` measured in a child process (its own peak memory). */
export function measureEvaluator(spec: EvaluatorSpec): Promise<EvaluatorMeasurement> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`bench-evaluator child failed (exit ${code}): ${stderr.trim() || stdout.trim()}`));
        return;
      }
      const r = JSON.parse(line) as { seconds: number; loss: number; maxRssKB: number };
      resolve({ label: `createEvaluator().add, from memory (${spec.threads}-thread session)`, seconds: r.seconds, loss: r.loss, peakBytes: r.maxRssKB * 1024 });
    });
  });
}

/** The rows: `createEvaluator().add` from memory, sessions of 1 and 2 threads, at eval's default batch. */
export const evaluatorRows: RowSource = {
  name: 'createEvaluator',
  async measure(ctx: SourceContext, task: Task, size: number, files: DataFiles): Promise<void> {
    for (const threads of EVALUATOR_THREADS) {
      ctx.progress(`createEvaluator from memory, ${threads} thread${threads > 1 ? 's' : ''}`);
      const r = await measureEvaluator({ task, pred: files.pred, target: files.target, threads, batch: DEFAULT_BATCH_ELEMENTS });
      const row = ctx.row({ kind: 'evaluator', task, size, threads, batch: DEFAULT_BATCH_ELEMENTS, label: r.label, chart: `createEvaluator, ${threads} thread${threads > 1 ? 's' : ''}` });
      row.times.push(r.seconds);
      row.peaks.push(r.peakBytes);
      row.losses.push(r.loss);
    }
  },
};

if (require.main === module) {
  runEvaluator(JSON.parse(process.argv[2]) as EvaluatorSpec).then(
    (r) => process.stdout.write(`${JSON.stringify({ ...r, maxRssKB: process.resourceUsage().maxRSS })}\n`),
    (e: unknown) => {
      process.stderr.write(`bench-evaluator: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
