/**
 * The evaluator's sessions side by side on the CPU: W worker threads' (eval-worker.ts, each
 * taking batches once it has loaded, ~0.05 s after it was started) and the caller's own one-thread
 * session (a `LocalRunner`, from when the caller has built the graph and loaded it, ~0.04 s), every
 * one reading and running whole batches, while the caller consumes the outcomes in batch order.
 *
 * Why: the focal-loss graphs are chains of cheap element-wise passes (~0.2 ns an element each on
 * one core) around one Log (~2 ns). Split across onnxruntime's intra-op threads, each pass pays a
 * barrier, OneHot and the small reductions run on one thread, and the page-cache read (~0.6 ns an
 * element) preempts a pool thread; measured on 2 cores over 32M float32 binary elements, one
 * session of two threads streamed 200–260 M elements/s, two one-thread sessions side by side
 * 300–390 once started (the onehot form: ~115 against ~185). Each session reads its batch while
 * the other computes, so reading still overlaps computing, on another core. When the pool is
 * worth starting at all is the evaluator's call (MIN_POOL_BATCHES in evaluate.ts).
 *
 * Messages: the pool posts 'setup' (the batch spec, with the graph's bytes) once the caller has
 * built the graph — the workers are started before that, so that their ~40 ms of starting (a V8
 * isolate, onnxruntime's binding, the batch code) overlaps the caller's building and loading; the
 * worker posts 'ready' (its session loaded and files open) or 'failed' with k = -1; the pool posts
 * 'run' k (at most DEPTH outstanding per worker, and never more than WINDOW
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
 * exits the process at once while the output is being written (io/atomic.ts; once no write is in
 * progress it stands aside) — a plain Ctrl-C kills the process before any JS runs, which is safe.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { BatchOutcome, BatchSpec, ErrorData, errorFromData } from './batch';
import type { FileLayout } from './file-batches';
import { GraphOptimizationLevel } from './session';

/** What a worker is set up with (the 'setup' message). */
export interface WorkerSetup {
  readonly spec: BatchSpec;
  /** The files and how they split into batches. */
  readonly layout: FileLayout;
  readonly graphOptimization?: GraphOptimizationLevel;
  /** onnxruntime intra-op threads of each worker's session (1 unless there are more threads than workers). */
  readonly threads: number;
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
      });
    });
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
    await this.localIdle();
  }

  private localIdle(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.localBusy) setImmediate(check);
        else resolve();
      };
      check();
    });
  }
}

const CLOSE_GRACE_MS = 30_000;
