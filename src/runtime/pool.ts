/**
 * The evaluator's sessions side by side on the CPU, for a file source (evaluate.ts's
 * `streamFiles`): W worker threads' (eval-worker.ts) and the caller's own one-thread session, every
 * one reading its own whole batches by index from the same files (file-batches.ts: its own file
 * handles and buffers, nothing copied or shared) and running them with the same spec's graph,
 * while the caller consumes the outcomes in batch order.
 *
 * Why: the focal-loss graphs are chains of cheap element-wise passes around one Log. Split across
 * onnxruntime's intra-op threads, each pass pays a barrier and the small reductions run on one
 * thread; measured on 2 cores over 32M float32 binary elements, one session of two threads runs a
 * 256K-element batch in ~1.6 ms, two one-thread sessions side by side one each in ~1.0–1.2 ms
 * (bench/README.md). Each session reads its batch while the other computes, so reading still
 * overlaps computing, on another core. When the pool is used at all is streamFiles' call
 * (poolWorkers in evaluate.ts).
 *
 * Messages: the pool posts 'setup' (the batch spec, with the graph's bytes, the files' batches and
 * the session options) at the start; the worker posts 'ready' (its session loaded and files open)
 * or 'failed' with k = -1; the pool posts 'run' k (at most DEPTH outstanding per worker, and never
 * more than `window` batches ahead of the one the caller waits for, which bounds the memory of
 * outcomes waiting in order); the worker answers 'done' k with the outcome (plain data) or 'failed'
 * k with the error as data; 'close' ends it after the batch it is running (the ones queued are
 * dropped). A failure of batch k is raised when the caller reaches k, after every earlier batch, so
 * the error is the first bad element in file order, as with one session.
 *
 * Workers are never terminated from outside while they may be running: onnxruntime-node aborts the
 * whole process (std::terminate on a Napi::Error) when its thread is torn down in the middle of a
 * run. So the pool closes them with a message and waits for them to exit, on success and on
 * failure alike; and the pool is not used with `out`, whose interruption handler exits the process
 * at once while the output is being written (io/atomic.ts; once no write is in progress it stands
 * aside) — a plain Ctrl-C kills the process before any JS runs, which is safe.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { DataError, UsageError } from '../errors';
import type { BatchOutcome, BatchSpec } from './batch';
import type { FileBatches } from './file-batches';
import type { SessionOptions } from './session';

/** An error as plain data, to cross from a worker: the user's (usage, data) keep their kind and message. */
export interface ErrorData {
  readonly kind: 'usage' | 'data' | 'bug';
  readonly message: string;
  readonly stack?: string;
}

export function errorToData(e: unknown): ErrorData {
  if (e instanceof DataError) return { kind: 'data', message: e.message };
  if (e instanceof UsageError) return { kind: 'usage', message: e.message };
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: 'bug', message: err.message, stack: err.stack };
}

export function errorFromData(d: ErrorData): Error {
  if (d.kind === 'data') return new DataError(d.message);
  if (d.kind === 'usage') return new UsageError(d.message);
  const err = new Error(d.message);
  if (d.stack) err.stack = d.stack;
  return err;
}

/** The session options a worker's session takes (plain data: no callbacks). */
export type WorkerSessionOptions = Pick<SessionOptions, 'threads' | 'graphOptimization' | 'spinning' | 'externalDataDir' | 'modelName'>;

/** What a worker is set up with (the 'setup' message). */
export interface WorkerSetup {
  readonly spec: BatchSpec;
  /** The files and how they split into batches. */
  readonly batches: FileBatches;
  /** Its session's (CPU; `threads`: 1 unless there are more threads than workers). */
  readonly session: WorkerSessionOptions;
}

export type ToWorker =
  | { readonly type: 'setup'; readonly setup: WorkerSetup }
  | { readonly type: 'run'; readonly k: number }
  | { readonly type: 'close' };

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

/** What a batch's wait ends with: a worker's message, or the caller's own runner's outcome or throw. */
type Settled = FromWorker | { readonly type: 'thrown'; readonly k: number; readonly error: unknown };

interface Deferred {
  promise: Promise<Settled>;
  resolve: (m: Settled) => void;
}

function deferred(): Deferred {
  let resolve!: (m: Settled) => void;
  const promise = new Promise<Settled>((r) => (resolve = r));
  return { promise, resolve };
}

/** Runs batch k (reading it) in the caller's own thread. */
export type LocalRunner = (k: number) => Promise<BatchOutcome>;

export class EvalPool {
  private readonly results = new Map<number, Deferred>();
  private readonly outstanding: number[];
  private readonly ready: boolean[];
  private localBusy = false;
  /** The caller's runner's last batch, settled when it has finished (close awaits it). */
  private localRun: Promise<void> = Promise.resolve();
  private closing = false;
  private next = 0;
  private waitingFor = 0;
  private failure: Error | undefined;
  private readonly window: number;
  private readonly exited: Promise<void>[];

  private local: LocalRunner | undefined;

  private constructor(
    private readonly workers: Worker[],
    private readonly batches: number,
  ) {
    this.outstanding = workers.map(() => 0);
    this.ready = workers.map(() => false);
    this.window = Math.max(2 * DEPTH * (workers.length + 1), 4);
    this.exited = workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
  }

  /**
   * Starts `count` workers for `batches` batches and returns at once. They start while the caller
   * builds the graph; `setUp` hands them the batch spec, and each takes batches as soon as it has
   * loaded its session (~0.05 s after the start in all), the caller's own runner from when it is
   * given (`runHereToo`). A worker that cannot start fails the run with its error; a pool closed
   * before `setUp` (the caller's planning failed) stops its workers without a session.
   */
  static start(count: number, batches: number): EvalPool {
    const script = workerScript();
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < count; i++) workers.push(new Worker(script));
    } catch (e) {
      // Those already started are stopped the safe way (close), not left to keep the process alive.
      void new EvalPool(workers, batches).close();
      throw e;
    }
    const pool = new EvalPool(workers, batches);
    workers.forEach((w, i) => pool.watch(w, i));
    return pool;
  }

  /** Sends every worker its setup: from now on they load their sessions. Once. */
  setUp(setup: WorkerSetup): void {
    if (this.closing) return;
    for (const w of this.workers) w.postMessage({ type: 'setup', setup } satisfies ToWorker);
  }

  /** The caller's own runner joins: it takes batches from now on. */
  runHereToo(local: LocalRunner): void {
    this.local = local;
    this.dispatch();
  }

  private watch(w: Worker, i: number): void {
    const onError = (e: Error): void => this.fail(e);
    const onExit = (code: number): void => this.fail(new Error(`evaluator worker ${i} exited (code ${code}) before its batches were done`));
    w.once('message', (m: FromWorker) => {
      if (m.type === 'ready') {
        this.ready[i] = true;
        w.on('message', (x: FromWorker) => this.onMessage(i, x));
        this.dispatch();
      } else if (m.type === 'failed') this.fail(errorFromData(m.error));
      else this.fail(new Error(`evaluator worker ${i}: unexpected first message '${m.type}'`));
    });
    w.on('error', onError);
    w.on('exit', onExit);
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

  /** A worker could not start or died (our bug, or the machine's, not the data's): every wait ends with it. */
  private fail(e: Error): void {
    if (this.done()) return;
    this.failure ??= e;
    for (const [, d] of this.results) d.resolve({ type: 'thrown', k: -1, error: this.failure });
  }

  private done(): boolean {
    return this.waitingFor >= this.batches;
  }

  /** Hands out batches to the caller's runner and the ready workers with room, within the window. */
  private dispatch(): void {
    for (;;) {
      if (this.failure || this.closing || this.next >= this.batches || this.next >= this.waitingFor + this.window) return;
      if (this.local && !this.localBusy) {
        this.runLocal(this.next++);
        continue;
      }
      let best = -1;
      for (let i = 0; i < this.workers.length; i++) {
        if (this.ready[i] && this.outstanding[i] < DEPTH && (best < 0 || this.outstanding[i] < this.outstanding[best])) best = i;
      }
      if (best < 0) return;
      this.outstanding[best]++;
      this.workers[best].postMessage({ type: 'run', k: this.next++ } satisfies ToWorker);
    }
  }

  /**
   * Batch k on the caller's runner, after the events waiting now (the workers' messages). Not
   * once the pool is closing (the caller has stopped, and may close the files next).
   */
  private runLocal(k: number): void {
    const local = this.local as LocalRunner;
    this.localBusy = true;
    this.localRun = new Promise((finished) =>
      setImmediate(() => {
        const run: Promise<Settled> = this.closing
          ? Promise.resolve({ type: 'thrown', k, error: new Error('evaluator pool: closed') })
          : Promise.resolve()
              .then(() => local(k))
              .then(
                (outcome): Settled => ({ type: 'done', k, outcome }),
                (error: unknown): Settled => ({ type: 'thrown', k, error }),
              );
        void run.then((m) => {
          this.localBusy = false;
          this.slot(k).resolve(m);
          this.dispatch();
          finished();
        });
      }),
    );
  }

  /** The outcomes of batches 0, 1, … in order; throws the first failure in that order. */
  async *outcomes(): AsyncGenerator<BatchOutcome, void, undefined> {
    this.dispatch();
    while (this.waitingFor < this.batches) {
      const k = this.waitingFor;
      if (this.failure) throw this.failure;
      const m = await this.slot(k).promise;
      this.results.delete(k);
      if (m.type === 'thrown') throw m.error;
      if (m.type === 'failed') throw errorFromData(m.error);
      if (m.type !== 'done') throw new Error(`evaluator pool: unexpected message '${m.type}' for batch ${k}`);
      this.waitingFor++;
      this.dispatch();
      yield m.outcome;
    }
  }

  /**
   * Stops every worker: each finishes the batch it is running, drops the rest, releases its session
   * and exits (one still starting does so once started); resolves when all have exited and the
   * caller's runner has finished a batch it was running (its session may then be released). A
   * worker that has not exited after CLOSE_GRACE_MS, which would be a hang in it, is terminated.
   */
  async close(): Promise<void> {
    this.closing = true;
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
    // The local runner's last batch, if one was started and not awaited (an earlier batch failed).
    await this.localRun;
  }
}

const CLOSE_GRACE_MS = 30_000;
