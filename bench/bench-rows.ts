/**
 * What `npm run bench` (bench/bench.ts) records, and how a row measured in another file plugs in.
 *
 * A row is one measured configuration: its times (one a repetition), the peak memory of the
 * process that ran it, and the loss it printed. bench.ts measures its own rows; a `RowSource` (a
 * `bench/bench-<topic>.ts` file exporting one, listed in bench.ts's `SOURCES`) measures more:
 *
 *     export const softTargetRows: RowSource = {
 *       name: 'soft targets',
 *       async measure(ctx, task, size, files, rep) {
 *         const s = await run(process.execPath, [...]);           // a child process, timed
 *         const r = ctx.row({ kind: 'soft', task, size, label: 'eval, soft targets, whole process', whole: true });
 *         r.times.push(s.wall); r.peaks.push(...); r.losses.push(...);
 *       },
 *     };
 *
 * `measure` runs once a repetition for every task and size, after bench.ts's own rows, with the
 * size's data files. Rows of a kind bench.ts does not know appear in the every-row table, the JSON
 * and the chart (`chart` names the line, or leave it out) after its own; `whole: true` marks a
 * whole-process row (its "× seed" is against the seed's whole process).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { NpyReader, NpyWriter, alignedTypedArrayFor } from '../src/io/npy';
import { mulberry32 } from '../scripts/prng';

export const ROOT = path.resolve(__dirname, '..', '..');

export type Task = 'binary' | 'multilabel';

/** Labels per row of the multilabel files. */
export const LABELS = 16;

/** One measured configuration. */
export interface Row {
  /** bench.ts's kinds (seed, eval, graph, peer, …) or a source's own. */
  readonly kind: string;
  readonly task: Task;
  readonly size: number;
  readonly label: string;
  readonly threads?: number;
  readonly batch?: number;
  readonly form?: 'arith' | 'onehot';
  /** Graph rows: worker threads, each with a one-thread session. */
  readonly workers?: number;
  /** Peer rows: which peer (bench/bench-peers.py's --peer). */
  readonly peer?: string;
  /** A whole-process row (compared with the seed's whole process). */
  readonly whole?: boolean;
  /** The chart's line for this row; none when absent (bench.ts names its own). */
  readonly chart?: string;
  /** Seconds of every repetition. */
  readonly times: number[];
  /** Peak resident memory of each repetition's process, bytes. */
  readonly peaks: number[];
  /** The loss each repetition printed (a cross-check that every row computes the same thing). */
  readonly losses: number[];
  note?: string;
}

export type RowKey = Omit<Row, 'times' | 'peaks' | 'losses' | 'note'>;

/** The data of one task and size: float32 probabilities, 0/1 targets, and (binary) their logits. */
export interface DataFiles {
  readonly pred: string;
  readonly target: string;
  /** log(p / (1 − p)) of `pred` (p clipped to [2^−24, 1 − 2^−24]), float32; binary only. */
  readonly logits?: string;
}

export interface BenchOptions {
  readonly sizes: readonly number[];
  readonly reps: number;
  readonly quick: boolean;
  /** Run the peers (bench/bench-peers.ts); --no-peers leaves them out. */
  readonly peers: boolean;
  /** Where data files (and scratch files) go. */
  readonly data: string;
}

export interface SourceContext {
  readonly options: BenchOptions;
  /** The row with these keys, made empty on first use. */
  row(key: RowKey): Row;
  /** One progress line on stderr. */
  progress(what: string): void;
  /** Notes for the bench README (what did not run, and why), one line each. */
  readonly notes: string[];
}

export interface RowSource {
  readonly name: string;
  /** Once before anything is measured (e.g. find a Python); a thrown error stops the bench. */
  prepare?(ctx: SourceContext): Promise<void>;
  measure(ctx: SourceContext, task: Task, size: number, files: DataFiles, rep: number): Promise<void>;
}

export interface Spawned {
  readonly wall: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/** Runs a command from the repository root; `wall` is spawn to exit, in seconds. */
export function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ wall: (performance.now() - t0) / 1000, stdout, stderr, code }));
  });
}

/** The last stdout line as JSON; an error with the last stderr lines when the command failed. */
export function lastJson<T>(s: Spawned, what: string): T {
  const line = s.stdout.trim().split('\n').pop() ?? '';
  if (s.code !== 0 || !line.startsWith('{')) throw new Error(`${what} failed (exit ${s.code}): ${s.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(line) as T;
}

export const fmtSize = (n: number): string => (n >= 1 << 20 && n % (1 << 20) === 0 ? `${n >> 20}M` : n >= 1024 && n % 1024 === 0 ? `${n >> 10}K` : String(n));

/**
 * The first batch of a float32 prediction file and its target file, read once into page-aligned
 * buffers: `batch` elements rounded down to whole rows of `rowLength` (at least one row, at most
 * the file). The in-memory rows compute over it again and again.
 */
export function readFirstBatch(pred: string, target: string, batch: number, rowLength: number): { p: Float32Array; t: Float32Array; count: number } {
  const pr = NpyReader.open(pred, ['float32']);
  const tr = NpyReader.open(target, ['float32']);
  const count = pr.header.count;
  const n = Math.min(count, Math.max(rowLength, Math.floor(batch / rowLength) * rowLength));
  const p = alignedTypedArrayFor('float32', n) as Float32Array;
  const t = alignedTypedArrayFor('float32', n) as Float32Array;
  try {
    pr.readIntoSync(p, 0, n);
    tr.readIntoSync(t, 0, n);
  } finally {
    pr.close();
    tr.close();
  }
  return { p, t, count };
}

/**
 * Predictions uniform in [0, 1) and targets 1 with probability 0.3 (float32 both), deterministic per
 * task and size, and for binary the predictions' logits (float32 of log(p / (1 − p)) in float64,
 * p clipped to [2^−24, 1 − 2^−24]: a float32 p may round to 1); kept in `dir` and reused when a
 * file of the expected header and size is there.
 */
export async function dataFor(dir: string, task: Task, size: number): Promise<DataFiles> {
  fs.mkdirSync(dir, { recursive: true });
  const shape = task === 'binary' ? [size] : [size / LABELS, LABELS];
  const base = path.join(dir, `${task}-${fmtSize(size)}-v1`);
  const files = { pred: `${base}-pred.npy`, target: `${base}-target.npy`, logits: task === 'binary' ? `${base}-logits.npy` : undefined };
  const ok = (f: string): boolean => {
    try {
      const r = NpyReader.open(f, ['float32']);
      const good = r.header.shape.join(',') === shape.join(',');
      r.close();
      return good;
    } catch {
      return false;
    }
  };
  if (ok(files.pred) && ok(files.target) && (files.logits === undefined || ok(files.logits))) return files;
  const rnd = mulberry32(task === 'binary' ? 0x5eed0001 : 0x5eed0002);
  const chunk = 1 << 20;
  const p = NpyWriter.create(files.pred, 'float32', shape);
  const t = NpyWriter.create(files.target, 'float32', shape);
  const x = files.logits === undefined ? undefined : NpyWriter.create(files.logits, 'float32', shape);
  const pb = new Float32Array(chunk);
  const tb = new Float32Array(chunk);
  const xb = new Float32Array(chunk);
  const lo = 2 ** -24;
  for (let done = 0; done < size; done += chunk) {
    const n = Math.min(chunk, size - done);
    for (let i = 0; i < n; i++) {
      pb[i] = rnd();
      tb[i] = rnd() < 0.3 ? 1 : 0;
      const q = Math.min(Math.max(pb[i], lo), 1 - lo);
      xb[i] = Math.log(q) - Math.log1p(-q);
    }
    await p.append(pb.subarray(0, n));
    await t.append(tb.subarray(0, n));
    if (x) await x.append(xb.subarray(0, n));
  }
  await p.commit();
  await t.commit();
  if (x) await x.commit();
  return files;
}
