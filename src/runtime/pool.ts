/**
 * The evaluator's pool of worker threads for the CPU: W sessions of one thread each, every one
 * reading and running whole batches (eval-worker.ts), while the caller consumes the outcomes in
 * batch order.
 *
 * Why: the focal-loss graphs are chains of cheap element-wise passes (~0.2 ns an element each on
 * one core) around one Log (~2 ns). Split across onnxruntime's intra-op threads, each pass pays a
 * barrier, OneHot and the small reductions run on one thread, and the page-cache read (~0.6 ns an
 * element) preempts a pool thread; measured on 2 cores over 32M float32 binary elements, one
 * session of two threads streamed 200–260 M elements/s, two one-thread sessions in two workers
 * 300–390 (the onehot form: ~115 against ~200). Each worker reads its batch while the other
 * computes, so reading still overlaps computing, on another core.
 *
 * Messages: the worker posts 'ready' (its session loaded and files open) or 'failed' with k = -1;
 * the pool posts 'run' k (at most DEPTH outstanding per worker, and never more than WINDOW
 * batches ahead of the one the caller waits for, which bounds the memory of outcomes waiting in
 * order); the worker answers 'done' k with the outcome or 'failed' k with the error as data
 * (batch.ts); 'close' ends it after the batch it is running (the ones queued are dropped). A failure
 * of batch k is raised when the caller reaches k, after every earlier batch, so the error is the
 * first bad element in file order, as with one session.
 *
 * Workers are never terminated from outside while they may be running: onnxruntime-node aborts the
 * whole process (std::terminate on a Napi::Error) when its thread is torn down in the middle of a
 * run. So the pool closes them with a message and waits for them to exit, on success and on
 * failure alike; and the evaluator does not use the pool with `out`, whose interruption handler
 * exits the process at once (io/atomic.ts) — a plain Ctrl-C without `out` kills the process
 * before any JS runs, which is safe.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { BatchOutcome, BatchSpec, ErrorData, errorFromData } from './batch';
import { GraphOptimizationLevel } from './session';

/** What a worker is started with (workerData). */
export interface WorkerSetup {
  readonly spec: BatchSpec;
  readonly graphOptimization?: GraphOptimizationLevel;
  /** onnxruntime intra-op threads of each worker's session (1 unless there are more threads than workers). */
  readonly threads: number;
}

export type ToWorker = { readonly type: 'run'; readonly k: number } | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly k: number; readonly outcome: BatchOutcome }
  | { readonly type: 'failed'; readonly k: number; readonly error: ErrorData };

/** Batches asked of one worker at a time: the next one is queued there while it runs one. */
const DEPTH = 2;

/**
 * The compiled worker script. From the TypeScript sources (jest runs them), the build's copy:
 * `npm test` builds first.
 */
function workerScript(): string {
  const here = path.join(__dirname, 'eval-worker.js');
  if (fs.existsSync(here)) return here;
  const built = path.resolve(__dirname, '../../dist/src/runtime/eval-worker.js');
  if (fs.existsSync(built)) return built;
  throw new Error(`eval-worker.js not found next to ${__filename} nor at ${built}: run 'npm run build'`);
}

interface Deferred {
  promise: Promise<FromWorker>;
  resolve: (m: FromWorker) => void;
}

function deferred(): Deferred {
  let resolve!: (m: FromWorker) => void;
  const promise = new Promise<FromWorker>((r) => (resolve = r));
  return { promise, resolve };
}

export class EvalPool {
  private readonly results = new Map<number, Deferred>();
  private readonly outstanding: number[];
  private next = 0;
  private waitingFor = 0;
  private failure: Error | undefined;
  private readonly window: number;
  private readonly exited: Promise<void>[];

  private constructor(
    private readonly workers: Worker[],
    private readonly batches: number,
  ) {
    this.outstanding = workers.map(() => 0);
    this.window = Math.max(2 * DEPTH * workers.length, 4);
    this.exited = workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
  }

  /**
   * Starts `count` workers for `batches` batches and waits until every one has loaded its session;
   * a worker that cannot (a model file onnxruntime refuses, a file gone) fails the start with its
   * error, and every worker is stopped.
   */
  static async start(setup: WorkerSetup, count: number, batches: number): Promise<EvalPool> {
    const script = workerScript();
    const workers = Array.from({ length: count }, () => new Worker(script, { workerData: setup }));
    const pool = new EvalPool(workers, batches);
    try {
      await Promise.all(workers.map((w, i) => pool.whenReady(w, i)));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  private whenReady(w: Worker, i: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const first = (m: FromWorker): void => {
        w.off('error', onError);
        w.off('exit', onExit);
        if (m.type === 'ready') {
          w.on('message', (x: FromWorker) => this.onMessage(i, x));
          w.on('error', (e) => this.fail(e));
          w.on('exit', (code) => this.fail(new Error(`evaluator worker ${i} exited (code ${code}) before its batches were done`)));
          resolve();
        } else if (m.type === 'failed') reject(errorFromData(m.error));
        else reject(new Error(`evaluator worker ${i}: unexpected first message '${m.type}'`));
      };
      const onError = (e: Error): void => reject(e);
      const onExit = (code: number): void => reject(new Error(`evaluator worker ${i} exited (code ${code}) while starting`));
      w.once('message', first);
      w.once('error', onError);
      w.once('exit', onExit);
    });
  }

  private slot(k: number): Deferred {
    let d = this.results.get(k);
    if (!d) {
      d = deferred();
      this.results.set(k, d);
    }
    return d;
  }

  private onMessage(i: number, m: FromWorker): void {
    if (m.type !== 'done' && m.type !== 'failed') return;
    this.outstanding[i]--;
    this.slot(m.k).resolve(m);
    this.dispatch();
  }

  /** A worker died (our bug: a crash, not a data error): every wait ends with it. */
  private fail(e: Error): void {
    if (this.done()) return;
    this.failure ??= e;
    for (const [k, d] of this.results) d.resolve({ type: 'failed', k, error: { kind: 'bug', message: e.message, stack: e.stack } });
  }

  private done(): boolean {
    return this.waitingFor >= this.batches;
  }

  /** Hands out batches to workers with room, within the window ahead of the caller. */
  private dispatch(): void {
    for (;;) {
      if (this.next >= this.batches || this.next >= this.waitingFor + this.window) return;
      let best = -1;
      for (let i = 0; i < this.workers.length; i++) if (this.outstanding[i] < DEPTH && (best < 0 || this.outstanding[i] < this.outstanding[best])) best = i;
      if (best < 0) return;
      this.outstanding[best]++;
      this.workers[best].postMessage({ type: 'run', k: this.next++ } satisfies ToWorker);
    }
  }

  /** The outcomes of batches 0, 1, … in order; throws the first failure in that order. */
  async *outcomes(): AsyncGenerator<BatchOutcome, void, undefined> {
    this.dispatch();
    while (this.waitingFor < this.batches) {
      const k = this.waitingFor;
      if (this.failure) throw this.failure;
      const m = await this.slot(k).promise;
      this.results.delete(k);
      if (m.type === 'failed') throw errorFromData(m.error);
      if (m.type !== 'done') throw new Error(`evaluator pool: unexpected message '${m.type}' for batch ${k}`);
      this.waitingFor++;
      this.dispatch();
      yield m.outcome;
    }
  }

  /**
   * Stops every worker: each finishes the batch it is running, drops the rest, releases its session
   * and exits; resolves when all have exited. (A worker that has not exited after CLOSE_GRACE_MS,
   * which would be a hang in it, is terminated.)
   */
  async close(): Promise<void> {
    for (const w of this.workers) {
      try {
        w.postMessage({ type: 'close' } satisfies ToWorker);
      } catch {
        // Already gone.
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)));
    const all = Promise.all(this.exited).then(() => 'exited' as const);
    if ((await Promise.race([all, grace])) === 'late') await Promise.allSettled(this.workers.map((w) => w.terminate()));
    clearTimeout(timer);
  }
}

const CLOSE_GRACE_MS = 30_000;
