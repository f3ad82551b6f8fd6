/**
 * `npm run bench`: how fast focal-onnx computes the focal loss on this machine, side by side with
 * the seed's PyTorch code and with what a user would run instead (the peers), on the same
 * generated files.
 *
 * What runs, for each task (binary [N], multilabel [N/16, 16]) and size (1M, 16M, 64M elements of
 * float32 predictions and 0/1 float32 targets; 32M too for binary, the issue's goal size):
 *
 * - seed, whole process: `/usr/bin/python3 bench/bench-seed.py` — python starts, imports torch and
 *   the seed module, np.load's both files, runs the seed's FocalLoss / FocalLoss_MultiLabel once,
 *   prints. Timed from spawn to exit. (Skipped, and said so, when python3-torch is missing.)
 * - seed, in-process: the seed's forward call alone (files already in memory), threads 1 and 2.
 * - TypeScript loop: the formula in a plain loop over the streamed batches (one thread).
 * - graph arith / onehot: the loss model (reduction sum) run by onnxruntime-node over the files,
 *   streamed in batches with the next batch read while the current one runs (`NpyReader.batches`),
 *   threads 1 and 2, and batch sizes 64K / 256K / 1M at 16M elements.
 * - eval graph from memory: the graph `eval` runs (reduction none, checked inputs, the block sums
 *   and data checks of eval-outputs.ts) on the first batch of the files, over and over in memory
 *   (as many elements as the files hold), one session of one thread and two side by side in worker
 *   threads: the graph's own cost, without reading, for the README's account of the ceiling.
 * - eval, whole process: `node bin/focal-onnx.js eval --pred … --target … --json`, timed from spawn
 *   to exit (node start, module load, model build, session, streaming, checks, printing).
 * - eval, in-process: the same run's own streaming time (`seconds` in its JSON: reading, checks,
 *   running and accumulating, without process start and session load).
 * - eval on logits (binary): `eval --input logits --eps 0` on the logits of the same probabilities
 *   (torchvision's and optax's loss), whole process, and its graph from memory in two sessions:
 *   what the logits peers are compared with.
 * - peers (binary; bench/bench-peers.ts, run by bench/bench-peers.py in the venv that
 *   scripts/setup-python.sh makes): PyTorch 2 eager and torch.compile with the seed's formula and
 *   with torchvision's sigmoid_focal_loss, jax.jit of optax's sigmoid_focal_loss, NumPy — whole
 *   process (start, load the files, compute, print) and in process (best of several calls on the
 *   data in memory), 2 threads; each one's loss is checked against eval's (a peer that disagrees
 *   is marked in the table and the bench exits 1). Without a venv they are left out, and said so.
 * - rows from other files: the RowSources in SOURCES (bench/bench-rows.ts says how to add one).
 * - small batches in process (bench/small-batch.ts, `npm run bench:small` alone; --no-small to
 *   skip): `createEvaluator().add` against a bare `session.run` of the same graph at 1,000, 10,000
 *   and 100,000 elements a batch, interleaved, in a child process of its own.
 * - with `--ab-base DIR`, the A/B of file eval at 32M elements against that checkout
 *   (bench/ab.ts, `npm run bench:ab -- --base DIR` alone): whole process and in process, interleaved.
 *
 * Every in-process row runs in its own child process, so its peak memory (max RSS, from
 * `process.resourceUsage()` or python's getrusage) is its own; for eval a preloaded hook reports it.
 * Each row runs `--reps` times, interleaved; the table shows the best, results.json every run.
 * "× seed" compares whole-process rows with the seed's whole process and in-process rows with the
 * seed's best in-process forward, at the same task and size.
 *
 * Writes bench/results.json (raw numbers), bench/throughput.svg (Vega-Lite, rendered headless) and
 * bench/README.md (the tables; its hand-written part, between the `hand-written` markers, is kept
 * as it is). Data files go to $FOCAL_BENCH_DATA or <tmp>/focal-onnx-bench and are reused by later
 * runs; they never go into the repository.
 *
 * On 2 cores the whole run takes ~12 minutes (the peers ~6 of them); torch.compile's first run on
 * a machine compiles each size cold (~25 s each, two functions), later runs find inductor's cache.
 *
 *     npm run bench [-- --sizes 1M,16M,32M,64M] [--tasks all|binary|multilabel] [--reps 3] [--no-seed]
 *                   [--no-peers] [--no-levers] [--no-small] [--ab-base DIR] [--out bench] [--data DIR]
 *     npm run bench -- --quick     # 1M and 4M, two runs each, results under the data directory
 *
 * Quiet machine wanted: the numbers are wall-clock. The load average before and after is recorded.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { MessagePort, Worker, isMainThread, parentPort, workerData } from 'worker_threads';
import { NpyReader, alignedTypedArrayFor } from '../src/io/npy';
import { buildLoss } from '../src/losses';
import { blockShape } from '../src/runtime/eval-outputs';
import { createSession } from '../src/runtime/session';
import { scriptFlags } from './args';
import { detectionRows } from './bench-detection';
import { evaluatorRows } from './bench-evaluator';
import { PEERS, checkPeers, peerRows, peerVersions, peersSkipped } from './bench-peers';
import { networkRows } from './bench-network';
import { softRows } from './bench-soft';
import { diagnosticsRows } from './bench-diagnostics';
import { BenchOptions, DataFiles, LABELS, ROOT, Row, RowKey, RowSource, SourceContext, Task, dataFor, fmtSize, lastJson, readFirstBatch, run } from './bench-rows';
import { EVAL_GRAPH_FETCHES, evalGraphBytes } from './eval-graph';
import { AbResult, abTable, checkBase, parseSize } from './ab';
import { SMALL_BATCH_GOAL, SmallBatchRow, smallBatchTable } from './small-batch';

const ALPHA = 0.25;
const GAMMA = 2;
const EPS = 1e-4;
const DEFAULT_BATCH = 1 << 18;
const SWEEP_BATCHES = [1 << 16, 1 << 18, 1 << 20];
const PYTHON = '/usr/bin/python3';

/**
 * bench.ts's own kinds of row (Row.kind; a RowSource may add its own). `eval-logits` and
 * `eval-graph-logits` are eval on the binary files' logits with eps 0 (torchvision's and optax's
 * function), the rows the logits peers compare with; `peer` / `peer-inproc` are bench/bench-peers.ts's.
 */
type Kind = 'seed' | 'seed-fwd' | 'ts' | 'graph' | 'eval-graph' | 'eval-graph-logits' | 'eval' | 'eval-logits' | 'eval-inproc' | 'peer' | 'peer-inproc';

/**
 * The rows measured in other files (bench/bench-<topic>.ts, each exporting a RowSource; see
 * bench/bench-rows.ts): each source's `measure` runs for every task, size and repetition, after
 * bench.ts's own rows. To add one: import it and list it here.
 */
const SOURCES: readonly RowSource[] = [peerRows, softRows, detectionRows, evaluatorRows, networkRows, diagnosticsRows];

// ---- options ------------------------------------------------------------------------------------

interface Options extends BenchOptions {
  sizes: number[];
  tasks: Task[];
  seed: boolean;
  levers: boolean;
  small: boolean;
  abBase?: string;
  out: string;
}

const FLAGS = {
  sizes: { type: 'string', placeholder: '1M,16M,…', description: 'element counts, comma-separated (default 1M,16M,32M,64M)' },
  reps: { type: 'number', integer: true, min: 1, description: 'runs of each row (default 3)' },
  tasks: { type: 'enum', values: ['all', 'binary', 'multilabel'], description: 'which files (default all: binary at every size, multilabel at every size but 32M)' },
  seed: { type: 'boolean', description: "run the seed's PyTorch code (default; --no-seed to skip it)" },
  peers: { type: 'boolean', description: 'run the peers: PyTorch, torch.compile, JAX, NumPy in the venv (default; --no-peers to skip them)' },
  levers: { type: 'boolean', description: "measure onnxruntime's in-process levers (bench/bench-levers.ts; default, not with --quick; --no-levers to skip)" },
  small: { type: 'boolean', description: 'measure small batches in process, createEvaluator().add against a bare session.run (bench/small-batch.ts; default; --no-small to skip)' },
  'ab-base': { type: 'string', description: "A/B file eval at 32M elements against this other checkout, its dist built (bench/ab.ts; default: not run)" },
  out: { type: 'string', description: 'where results.json, throughput.svg and README.md go (default bench/)' },
  data: { type: 'string', description: 'where the generated data files go' },
  quick: { type: 'boolean', description: '1M and 4M, two runs each, results under the data directory' },
} as const;

function parseOptions(argv: readonly string[]): Options {
  const f = scriptFlags('bench', FLAGS, argv);
  const quick = f.quick ?? false;
  let sizes = [1 << 20, 16 << 20, 32 << 20, 64 << 20];
  if (f.sizes !== undefined) {
    try {
      sizes = f.sizes.split(',').map(parseSize);
    } catch (e) {
      process.stderr.write(`bench: --sizes: ${(e as Error).message}\n`);
      process.exit(2);
    }
  } else if (quick) sizes = [1 << 20, 4 << 20];
  const data = f.data !== undefined ? path.resolve(f.data) : (process.env.FOCAL_BENCH_DATA ?? path.join(os.tmpdir(), 'focal-onnx-bench'));
  return {
    sizes,
    reps: f.reps ?? (quick ? 2 : 3),
    seed: f.seed ?? true,
    peers: f.peers ?? true,
    tasks: f.tasks === undefined || f.tasks === 'all' ? ['binary', 'multilabel'] : [f.tasks as Task],
    levers: f.levers ?? !quick,
    small: f.small ?? true,
    abBase: f['ab-base'] === undefined ? undefined : path.resolve(f['ab-base']),
    // A quick run (a smoke test) never replaces the committed results.
    out: f.out !== undefined ? path.resolve(f.out) : quick ? path.join(data, 'quick') : path.join(ROOT, 'bench'),
    data,
    quick,
  };
}


// ---- data ---------------------------------------------------------------------------------------

// ---- child processes ----------------------------------------------------------------------------

interface ChildSpec {
  /** graph: the exported loss model over the files; eval-graph: eval's graph on one batch, in memory. */
  readonly kind: 'ts' | 'graph' | 'eval-graph';
  readonly task: Task;
  readonly pred: string;
  readonly target: string;
  /** Intra-op threads of each session. */
  readonly threads: number;
  readonly batch: number;
  readonly form?: 'arith' | 'onehot';
  /** Graph only: this many worker threads, each with its own one-thread session and every W-th batch. */
  readonly workers?: number;
  /** `logits`: `pred` holds logits, the loss is the stable form (eps 0) of torchvision and optax. */
  readonly input?: 'logits';
}

interface ChildResult {
  readonly seconds: number;
  readonly loss: number;
  readonly maxRssKB: number;
}

/** The batches of both files, read one ahead (the reuse contract of NpyReader.batches). */
async function stream(spec: ChildSpec, rowLength: number, compute: (p: Float32Array, t: Float32Array) => Promise<void> | void): Promise<void> {
  const pr = NpyReader.open(spec.pred, ['float32']);
  const tr = NpyReader.open(spec.target, ['float32']);
  const n = Math.max(rowLength, Math.floor(spec.batch / rowLength) * rowLength);
  const pi = pr.batches(n);
  const ti = tr.batches(n);
  try {
    let cur = await Promise.all([pi.next(), ti.next()]);
    while (!cur[0].done && !cur[1].done) {
      const next = Promise.all([pi.next(), ti.next()]);
      await compute(cur[0].value.data as Float32Array, cur[1].value.data as Float32Array);
      cur = await next;
    }
  } finally {
    pr.close();
    tr.close();
  }
}

/**
 * Batches `index`, `index + stride`, … of both files into two pairs of page-aligned buffers,
 * reading batch k + stride while batch k is computed.
 */
async function stripe(spec: ChildSpec, rowLength: number, index: number, stride: number, compute: (p: Float32Array, t: Float32Array) => Promise<void>): Promise<void> {
  const pr = NpyReader.open(spec.pred, ['float32']);
  const tr = NpyReader.open(spec.target, ['float32']);
  const count = pr.header.count;
  const n = Math.max(rowLength, Math.floor(spec.batch / rowLength) * rowLength);
  const bufs = [0, 1].map(() => [alignedTypedArrayFor('float32', Math.min(n, count)), alignedTypedArrayFor('float32', Math.min(n, count))]);
  const read = async (b: number, k: number): Promise<[Float32Array, Float32Array] | undefined> => {
    const start = b * n;
    if (start >= count) return undefined;
    const len = Math.min(n, count - start);
    const [p, t] = bufs[k];
    await Promise.all([pr.readInto(p, start, len), tr.readInto(t, start, len)]);
    return [p.subarray(0, len), t.subarray(0, len)];
  };
  try {
    let k = 0;
    let cur = await read(index, k);
    for (let b = index; cur; b += stride) {
      const next = read(b + stride, k ^ 1);
      await compute(cur[0], cur[1]);
      cur = await next;
      k ^= 1;
    }
  } finally {
    pr.close();
    tr.close();
  }
}

/**
 * A loss session for the spec, warmed up, and its batch function (the batch's loss sum): the
 * exported model (reduction sum), or for `eval-graph` the graph `eval` builds (reduction none,
 * checked inputs, block sums and data checks), fed its block shape.
 */
async function graphRunner(spec: ChildSpec, threads: number): Promise<{ run: (p: Float32Array, t: Float32Array) => Promise<number>; release: () => Promise<void> }> {
  const rowLength = spec.task === 'multilabel' ? LABELS : 1;
  const evalGraph = spec.kind === 'eval-graph';
  const options = { task: spec.task, form: spec.form, alpha: ALPHA, gamma: GAMMA, eps: spec.input === 'logits' ? 0 : EPS, input: spec.input ?? 'probs' } as const;
  const bytes = evalGraph ? evalGraphBytes(options) : buildLoss({ ...options, reduction: 'sum' }).bytes;
  const session = await createSession(bytes, { threads });
  const dims = (n: number): number[] => (spec.task === 'binary' ? [n] : [n / LABELS, LABELS]);
  const run = async (p: Float32Array, t: Float32Array): Promise<number> => {
    const feeds: Parameters<typeof session.run>[0] = { pred: { dtype: 'float32', dims: dims(p.length), data: p }, target: { dtype: 'float32', dims: dims(t.length), data: t } };
    if (!evalGraph) return ((await session.run(feeds, ['loss'])).loss.data as Float32Array)[0];
    const blocks = blockShape(p.length / rowLength, spec.task === 'multilabel' ? LABELS : undefined);
    const out = await session.run(
      { ...feeds, focal_eval_blocks: { dtype: 'int64', dims: [blocks.length], data: BigInt64Array.from(blocks, BigInt) } },
      [...EVAL_GRAPH_FETCHES],
    );
    return (out.loss_sum.data as Float64Array)[0];
  };
  // One warm-up run (first-run allocations) before anything is timed.
  const count = NpyReader.open(spec.pred).header.count;
  const warm = new Float32Array(Math.min(spec.batch, count) - (Math.min(spec.batch, count) % rowLength));
  await run(warm.fill(0.5), new Float32Array(warm.length));
  return { run, release: () => session.release() };
}

interface WorkerData {
  readonly spec: ChildSpec;
  readonly index: number;
}

/** In a worker thread: a one-thread session over every W-th batch; posts 'ready', waits for 'go', posts the sum. */
/**
 * The eval-graph rows' input: the files' first batch, read once, computed over as batches
 * `index`, `index + stride`, … of the files' length (the last one shorter), all from memory.
 */
async function fromMemory(spec: ChildSpec, rowLength: number, index: number, stride: number, compute: (p: Float32Array, t: Float32Array) => Promise<void>): Promise<void> {
  const { p, t, count } = readFirstBatch(spec.pred, spec.target, spec.batch, rowLength);
  const n = p.length;
  for (let b = index; b * n < count; b += stride) {
    const len = Math.min(n, count - b * n);
    await compute(p.subarray(0, len), t.subarray(0, len));
  }
}

async function workerMain(data: WorkerData): Promise<void> {
  const port = parentPort as MessagePort;
  const { spec, index } = data;
  const rowLength = spec.task === 'multilabel' ? LABELS : 1;
  const g = await graphRunner(spec, 1);
  port.postMessage('ready');
  await new Promise((resolve) => port.once('message', resolve));
  let sum = 0;
  await (spec.kind === 'eval-graph' ? fromMemory : stripe)(spec, rowLength, index, spec.workers ?? 1, async (p, t) => {
    sum += await g.run(p, t);
  });
  await g.release();
  port.postMessage(sum);
}

/** W workers (graphRunner each), timed from 'go' to the last sum. */
async function runWorkers(spec: ChildSpec): Promise<{ seconds: number; sum: number }> {
  const W = spec.workers ?? 1;
  const workers = Array.from({ length: W }, (_, index) => new Worker(__filename, { workerData: { spec, index } satisfies WorkerData }));
  try {
    const first = (w: Worker): Promise<unknown> =>
      new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    await Promise.all(workers.map(first));
    const started = performance.now();
    const sums = workers.map(first);
    for (const w of workers) w.postMessage('go');
    const sum = (await Promise.all(sums)).reduce<number>((a, b) => a + (b as number), 0);
    return { seconds: (performance.now() - started) / 1000, sum };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** The seed's loss in a plain loop (float64 arithmetic on the float32 inputs), summed. */
function tsLoopSum(p: Float32Array, t: Float32Array): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const x = p[i];
    const y = t[i];
    let pt = y * x + (1 - y) * (1 - x);
    pt = pt < EPS ? EPS : pt > 1 ? 1 : pt;
    const m = 1 - pt;
    const a = y * ALPHA + (1 - y) * (1 - ALPHA);
    s -= a * m * m * Math.log(pt);
  }
  return s;
}

async function runChild(spec: ChildSpec): Promise<ChildResult> {
  const rowLength = spec.task === 'multilabel' ? LABELS : 1;
  const count = NpyReader.open(spec.pred).header.count;
  let sum = 0;
  let started = 0;
  if (spec.kind === 'ts') {
    started = performance.now();
    await stream(spec, rowLength, (p, t) => {
      sum += tsLoopSum(p, t);
    });
  } else if ((spec.workers ?? 1) > 1) {
    const r = await runWorkers(spec);
    return { seconds: r.seconds, loss: r.sum / count, maxRssKB: process.resourceUsage().maxRSS };
  } else {
    const g = await graphRunner(spec, spec.threads);
    started = performance.now();
    const compute = async (p: Float32Array, t: Float32Array): Promise<void> => {
      sum += await g.run(p, t);
    };
    if (spec.kind === 'eval-graph') await fromMemory(spec, rowLength, 0, 1, compute);
    else await stream(spec, rowLength, compute);
    await g.release();
  }
  const seconds = (performance.now() - started) / 1000;
  return { seconds, loss: sum / count, maxRssKB: process.resourceUsage().maxRSS };
}

/** A preload for the eval child: writes its peak RSS (kB) to $FOCAL_BENCH_RSS when it exits. */
function rssHook(dir: string): string {
  const file = path.join(dir, 'rss-hook.js');
  fs.writeFileSync(
    file,
    "'use strict';\nprocess.on('exit', () => { const f = process.env.FOCAL_BENCH_RSS; if (f) require('fs').writeFileSync(f, String(process.resourceUsage().maxRSS)); });\n",
  );
  return file;
}

// ---- the plan -----------------------------------------------------------------------------------

interface Context {
  readonly o: Options;
  readonly hook: string;
  readonly torch: string | undefined;
  readonly rows: Row[];
  /** Lines for the README: what did not run, and why. */
  readonly notes: string[];
}

function row(ctx: Context, r: RowKey): Row {
  const found = ctx.rows.find(
    (x) =>
      x.kind === r.kind &&
      x.task === r.task &&
      x.size === r.size &&
      x.threads === r.threads &&
      x.batch === r.batch &&
      x.form === r.form &&
      x.workers === r.workers &&
      x.peer === r.peer &&
      x.label === r.label,
  );
  if (found) return found;
  const made: Row = { ...r, times: [], peaks: [], losses: [] };
  ctx.rows.push(made);
  return made;
}

interface SeedOutput {
  loss: number;
  import_s: number;
  load_s: number;
  forward_s: Record<string, number[]>;
  max_rss_kb: number;
}

interface EvalOutput {
  loss: number;
  seconds: number;
  elementsPerSecond: number;
}

/** One repetition of every row of a task and size. */
/** What a RowSource sees of the run, for one task, size and repetition. */
function sourceContext(ctx: Context, progress: (what: string) => void): SourceContext {
  return { options: ctx.o, row: (key) => row(ctx, key), progress, notes: ctx.notes };
}

async function measure(ctx: Context, task: Task, size: number, files: DataFiles, rep: number): Promise<void> {
  const { o } = ctx;
  const taskFlags = task === 'multilabel' ? ['--task', 'multilabel'] : [];
  const progress = (what: string): void => {
    process.stderr.write(`\r  ${task} ${fmtSize(size)} rep ${rep + 1}/${o.reps}: ${what}`.padEnd(78));
  };

  // eval on the logits with eps 0 (torchvision's and optax's loss): what the logits peers compute
  if (files.logits !== undefined) {
    progress('eval, logits');
    const rssFile = path.join(o.data, `rss-${process.pid}.txt`);
    const s = await run(
      process.execPath,
      ['-r', ctx.hook, path.join(ROOT, 'bin', 'focal-onnx.js'), 'eval', '--pred', files.logits, '--target', files.target, '--input', 'logits', '--eps', '0', '--json', '--threads', '2'],
      { ...process.env, FOCAL_BENCH_RSS: rssFile },
    );
    const r = lastJson<EvalOutput>(s, 'focal-onnx eval --input logits');
    const whole = row(ctx, { kind: 'eval-logits', task, size, threads: 2, whole: true, label: 'focal-onnx eval, logits, eps 0, whole process' });
    whole.times.push(s.wall);
    whole.peaks.push(Number(fs.readFileSync(rssFile, 'utf8')) * 1024);
    whole.losses.push(r.loss);
  }

  // eval, whole process and in-process, threads 1 and 2
  for (const threads of [1, 2]) {
    progress(`eval, ${threads} thread${threads > 1 ? 's' : ''}`);
    const rssFile = path.join(o.data, `rss-${process.pid}.txt`);
    const s = await run(
      process.execPath,
      ['-r', ctx.hook, path.join(ROOT, 'bin', 'focal-onnx.js'), 'eval', '--pred', files.pred, '--target', files.target, '--json', '--threads', String(threads), ...taskFlags],
      { ...process.env, FOCAL_BENCH_RSS: rssFile },
    );
    const r = lastJson<EvalOutput>(s, 'focal-onnx eval');
    const peak = Number(fs.readFileSync(rssFile, 'utf8')) * 1024;
    const whole = row(ctx, { kind: 'eval', task, size, threads, whole: true, label: 'focal-onnx eval, whole process' });
    whole.times.push(s.wall);
    whole.peaks.push(peak);
    whole.losses.push(r.loss);
    const inproc = row(ctx, { kind: 'eval-inproc', task, size, threads, label: 'focal-onnx eval, streaming (in-process)' });
    inproc.times.push(r.seconds);
    inproc.peaks.push(peak);
    inproc.losses.push(r.loss);
  }

  // the graph forms and the TypeScript loop, each in a child
  const specs: ChildSpec[] = [{ kind: 'ts', task, pred: files.pred, target: files.target, threads: 1, batch: DEFAULT_BATCH }];
  const batches = size === 16 << 20 && !o.quick ? SWEEP_BATCHES : [DEFAULT_BATCH];
  for (const form of ['arith', 'onehot'] as const) {
    for (const threads of [1, 2]) {
      for (const batch of batches) specs.push({ kind: 'graph', task, pred: files.pred, target: files.target, threads, batch, form });
    }
    specs.push({ kind: 'graph', task, pred: files.pred, target: files.target, threads: 1, batch: DEFAULT_BATCH, form, workers: 2 });
  }
  specs.push({ kind: 'eval-graph', task, pred: files.pred, target: files.target, threads: 1, batch: DEFAULT_BATCH, form: 'arith' });
  specs.push({ kind: 'eval-graph', task, pred: files.pred, target: files.target, threads: 1, batch: DEFAULT_BATCH, form: 'arith', workers: 2 });
  if (files.logits !== undefined) {
    specs.push({ kind: 'eval-graph', task, pred: files.logits, target: files.target, threads: 1, batch: DEFAULT_BATCH, form: 'arith', workers: 2, input: 'logits' });
  }
  for (const spec of specs) {
    const how = spec.workers ? `${spec.workers} workers` : `${spec.threads} thread(s)`;
    progress(spec.kind === 'ts' ? 'TypeScript loop' : `${spec.kind === 'eval-graph' ? 'eval graph from memory' : 'graph'} ${spec.form}, ${how}, batch ${fmtSize(spec.batch)}`);
    const s = await run(process.execPath, [__filename, '--child', JSON.stringify(spec)]);
    const r = lastJson<ChildResult>(s, `${spec.kind} child`);
    const what = spec.kind === 'eval-graph' ? `eval graph ${spec.form}${spec.input === 'logits' ? ', logits, eps 0' : ''}, from memory` : `graph ${spec.form}`;
    const label =
      spec.kind === 'ts'
        ? 'TypeScript loop (streamed)'
        : spec.workers
          ? `${what}, ${spec.workers} worker threads × 1-thread session`
          : spec.kind === 'eval-graph'
            ? `${what} (1-thread session)`
            : `${what} (onnxruntime-node, streamed)`;
    const target = row(ctx, {
      kind: spec.input === 'logits' ? 'eval-graph-logits' : spec.kind,
      task,
      size,
      label,
      threads: spec.workers ? spec.workers : spec.threads,
      batch: spec.kind === 'ts' ? undefined : spec.batch,
      form: spec.form,
      workers: spec.workers,
    });
    target.times.push(r.seconds);
    target.peaks.push(r.maxRssKB * 1024);
    target.losses.push(r.loss);
  }

  // the seed
  if (ctx.torch !== undefined) {
    const seedArgs = [path.join(ROOT, 'bench', 'bench-seed.py'), files.pred, files.target, '--task', task];
    progress('seed, whole process');
    const s = await run(PYTHON, seedArgs);
    const r = lastJson<SeedOutput>(s, 'bench-seed.py');
    const whole = row(ctx, { kind: 'seed', task, size, label: `seed (PyTorch ${ctx.torch}), whole process` });
    whole.times.push(s.wall);
    whole.peaks.push(r.max_rss_kb * 1024);
    whole.losses.push(r.loss);
    if (rep === 0) {
      // In-process forward times, threads 1 and 2, repeated inside one process.
      progress('seed, in-process forward');
      const f = lastJson<SeedOutput>(await run(PYTHON, [...seedArgs, '--threads', '1,2', '--repeat', String(o.reps)]), 'bench-seed.py');
      for (const [threads, times] of Object.entries(f.forward_s)) {
        const fwd = row(ctx, { kind: 'seed-fwd', task, size, threads: Number(threads), label: 'seed forward (in-process)' });
        fwd.times.push(...times);
        fwd.peaks.push(...times.map(() => f.max_rss_kb * 1024));
        fwd.losses.push(...times.map(() => f.loss));
      }
    }
  }

  // the rows of other files (SOURCES)
  for (const source of SOURCES) await source.measure(sourceContext(ctx, progress), task, size, files, rep);
}

// ---- reporting ----------------------------------------------------------------------------------

const best = (xs: readonly number[]): number => Math.min(...xs);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mps = (r: Row): number => r.size / best(r.times) / 1e6;
/** M elements/s as the tables print it: 3 digits at most, 2 significant below 1 (a Python start at 64K is 0.013). */
const fmtRate = (x: number): string => (x < 1 ? x.toPrecision(2) : x.toFixed(x < 100 ? 1 : 0));
const isWhole = (r: Row): boolean => r.kind === 'seed' || r.whole === true;

/** The seed's throughput to compare `r` with: its whole process, or its best in-process forward. */
function seedFor(rows: readonly Row[], r: Row): number | undefined {
  const same = rows.filter((x) => x.task === r.task && x.size === r.size);
  if (isWhole(r)) {
    const s = same.find((x) => x.kind === 'seed');
    return s ? mps(s) : undefined;
  }
  const f = same.filter((x) => x.kind === 'seed-fwd');
  return f.length ? Math.max(...f.map(mps)) : undefined;
}

const ORDER: Kind[] = ['seed', 'eval', 'eval-logits', 'peer', 'seed-fwd', 'ts', 'graph', 'eval-graph', 'eval-graph-logits', 'eval-inproc', 'peer-inproc'];
/** bench.ts's kinds in their order, then the sources' kinds in the order first seen. */
const kindOrder = (k: string): number => (ORDER as string[]).indexOf(k) >>> 0;
const peerOrder = (p: string | undefined): number => PEERS.findIndex((x) => x.id === p);

function sortedRows(rows: readonly Row[]): Row[] {
  return [...rows].sort(
    (a, b) =>
      (a.task === b.task ? 0 : a.task === 'binary' ? -1 : 1) ||
      a.size - b.size ||
      kindOrder(a.kind) - kindOrder(b.kind) ||
      (kindOrder(a.kind) === 2 ** 32 - 1 ? a.kind.localeCompare(b.kind) : 0) ||
      peerOrder(a.peer) - peerOrder(b.peer) ||
      (a.form ?? '').localeCompare(b.form ?? '') ||
      (a.workers ?? 0) - (b.workers ?? 0) ||
      (a.threads ?? 0) - (b.threads ?? 0) ||
      (a.batch ?? 0) - (b.batch ?? 0),
  );
}

function tableText(rows: readonly Row[], markdown: boolean): string {
  const head = ['task', 'elements', 'what', 'threads', 'batch', 'M elements/s', '× seed', 'peak MB', 'loss'];
  const body: string[][] = sortedRows(rows).map((r) => {
    const s = seedFor(rows, r);
    const ratio = s === undefined ? (r.kind === 'seed' || r.kind === 'seed-fwd' ? '1' : 'n/a') : (mps(r) / s).toFixed(r.kind.startsWith('seed') ? 2 : 1);
    return [
      r.task,
      fmtSize(r.size),
      r.label + (r.note ? ` (${r.note})` : ''),
      r.workers ? `${r.workers}×1` : r.threads === undefined ? '' : String(r.threads),
      r.batch === undefined ? '' : fmtSize(r.batch),
      fmtRate(mps(r)),
      ratio,
      (Math.max(...r.peaks) / 2 ** 20).toFixed(0),
      r.losses.length ? r.losses[0].toPrecision(7) : '',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const right = new Set([1, 3, 4, 5, 6, 7, 8]);
  const cell = (s: string, i: number): string => (right.has(i) ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  if (markdown) {
    const line = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
    const rule = `|${widths.map((w, i) => (right.has(i) ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
    return [line(head), rule, ...body.map(line)].join('\n');
  }
  return [head.map(cell).join('  '), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map((b) => b.map(cell).join('  '))].join('\n');
}

/**
 * One line per task and size: the seed against focal-onnx, whole process and in-process, and the
 * graph forms at their best batch size (M elements/s; "×": eval's whole process over the seed's).
 */
function summaryText(rows: readonly Row[]): string {
  const find = (task: Task, size: number, kind: Kind, pick: (r: Row) => boolean = () => true): Row[] =>
    rows.filter((r) => r.task === task && r.size === size && r.kind === kind && pick(r));
  const top = (rs: Row[]): number | undefined => (rs.length ? Math.max(...rs.map(mps)) : undefined);
  const f = (x: number | undefined): string => (x === undefined ? 'n/a' : fmtRate(x));
  const head = [
    'task',
    'elements',
    'seed, whole process',
    'eval, whole process',
    '×',
    'seed, in-process (best threads)',
    'TS loop',
    'arith: 1 thread / 2 threads / 2 workers',
    'onehot: 1 thread / 2 threads / 2 workers',
    'eval graph from memory: 1 / 2 sessions',
    'eval streaming, 2 threads',
    'eval peak MB',
  ];
  // Only the sizes bench.ts's own rows measured: a RowSource's sizes (a detection image, the
  // evaluator's small batches) have their own tables in bench/README.md.
  const own: readonly string[] = ['seed', 'seed-fwd', 'ts', 'graph', 'eval-graph', 'eval', 'eval-inproc'];
  const keys = [...new Set(rows.filter((r) => own.includes(r.kind)).map((r) => `${r.task}|${r.size}`))];
  const body = sortedRows(rows)
    .filter((r, i, all) => all.findIndex((x) => x.task === r.task && x.size === r.size) === i)
    .filter((r) => keys.includes(`${r.task}|${r.size}`))
    .map(({ task, size }) => {
      const seed = top(find(task, size, 'seed'));
      const ev = top(find(task, size, 'eval'));
      const graph = (form: string, threads: number, workers?: number): string =>
        f(top(find(task, size, 'graph', (r) => r.form === form && r.threads === threads && r.workers === workers)));
      const peak = find(task, size, 'eval').flatMap((r) => r.peaks);
      return [
        task,
        fmtSize(size),
        f(seed),
        f(ev),
        seed && ev ? `${(ev / seed).toFixed(1)}×` : 'n/a',
        f(top(find(task, size, 'seed-fwd'))),
        f(top(find(task, size, 'ts'))),
        `${graph('arith', 1)} / ${graph('arith', 2)} / ${graph('arith', 2, 2)}`,
        `${graph('onehot', 1)} / ${graph('onehot', 2)} / ${graph('onehot', 2, 2)}`,
        `${f(top(find(task, size, 'eval-graph', (r) => r.workers === undefined)))} / ${f(top(find(task, size, 'eval-graph', (r) => r.workers === 2)))}`,
        f(top(find(task, size, 'eval-inproc', (r) => r.threads === 2))),
        peak.length ? (Math.max(...peak) / 2 ** 20).toFixed(0) : 'n/a',
      ];
    });
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), `|${head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map(line)].join('\n');
}

/**
 * focal-onnx against the peers (binary): per size, the whole process and in process (M elements/s,
 * best of the runs), and each peer's first in-process call at the largest size (torch.compile and
 * jax.jit compile in it). focal-onnx in process is eval's graph from memory, two one-thread
 * sessions side by side; the peers in process are their function on the arrays in memory.
 */
function peersText(rows: readonly Row[]): string {
  const bin = rows.filter((r) => r.task === 'binary');
  const sizes = [...new Set(bin.filter((r) => r.kind === 'eval' || r.kind === 'peer').map((r) => r.size))].sort((a, b) => a - b);
  const f = (x: number | undefined): string => (x === undefined ? 'n/a' : fmtRate(x));
  const top = (pick: (r: Row) => boolean, size: number): number | undefined => {
    const rs = bin.filter((r) => r.size === size && pick(r));
    return rs.length ? Math.max(...rs.map(mps)) : undefined;
  };
  const lines: { what: string; whole: (r: Row) => boolean; inproc: (r: Row) => boolean; first?: (r: Row) => boolean }[] = [
    { what: 'focal-onnx eval, probabilities, eps 1e-4', whole: (r) => r.kind === 'eval' && r.threads === 2, inproc: (r) => r.kind === 'eval-graph' && r.workers === 2 },
    { what: 'focal-onnx eval, logits, eps 0', whole: (r) => r.kind === 'eval-logits', inproc: (r) => r.kind === 'eval-graph-logits' },
    ...PEERS.map((p) => ({
      what: p.label,
      whole: (r: Row) => r.kind === 'peer' && r.peer === p.id,
      inproc: (r: Row) => r.kind === 'peer-inproc' && r.peer === p.id,
      first: (r: Row) => r.kind === 'peer-inproc' && r.peer === p.id,
    })),
  ];
  const largest = sizes[sizes.length - 1];
  const head = ['binary, 2 threads', ...sizes.map((n) => `${fmtSize(n)}: whole process / in process`), `first call at ${largest === undefined ? '–' : fmtSize(largest)}, s`];
  const body = lines.map((l) => {
    const first = l.first ? bin.find((r) => r.size === largest && l.first?.(r))?.note?.match(/first call ([\d.]+) s/)?.[1] : undefined;
    return [l.what, ...sizes.map((n) => `${f(top(l.whole, n))} / ${f(top(l.inproc, n))}`), first ?? ''];
  });
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const table = [line(head), `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map(line)].join('\n');
  return peersSkipped ? `${table}\n\n_${peersSkipped}._` : table;
}

/** One variant of bench/bench-levers.ts's JSON. */
interface LeverResult {
  part: string;
  name: string;
  batch: number;
  ns: number[];
  ratio: number[];
}

interface LeverRun {
  threads: number;
  rounds: number;
  elements: number;
  results: LeverResult[];
}

/**
 * The levers, each run's variants in interleaved rounds (bench/bench-levers.ts): one session of
 * one thread (as each of eval's sessions side by side) for every part, and the session options
 * again with two threads (eval's one-session path, where spinning matters).
 */
async function measureLevers(o: Options): Promise<LeverRun[]> {
  const runs: LeverRun[] = [];
  for (const [part, threads] of [['all', 1], ['session', 2]] as const) {
    process.stderr.write(`\r  levers: ${part}, ${threads} thread(s)`.padEnd(78));
    const file = path.join(o.data, `levers-${part}-${threads}.json`);
    const args = [path.join(__dirname, 'bench-levers.js'), '--part', part, '--threads', String(threads), '--rounds', String(o.quick ? 5 : 15), '--elements', '4M', '--json', file];
    const s = await run(process.execPath, args);
    if (s.code !== 0) throw new Error(`bench-levers failed (exit ${s.code}): ${s.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    runs.push(JSON.parse(fs.readFileSync(file, 'utf8')) as LeverRun);
  }
  process.stderr.write('\n');
  return runs;
}

function leversText(runs: readonly LeverRun[]): string {
  const head = ['part', 'threads', 'variant', 'ns an element (median / best)', 'ratio to the part\'s baseline (median of rounds)'];
  const body = runs.flatMap((r) =>
    r.results.map((x) => [x.part, String(r.threads), x.name, `${median(x.ns).toFixed(2)} / ${Math.min(...x.ns).toFixed(2)}`, median(x.ratio).toFixed(2)]),
  );
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), `|${head.map((_, i) => (i < 3 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map(line)].join('\n');
}

/** Small batches in process (bench/small-batch.ts), in a child process of its own. */
async function measureSmall(o: Options): Promise<{ rounds: number; threads: number; rows: SmallBatchRow[] }> {
  process.stderr.write('\r  small batches: createEvaluator().add against a bare session.run'.padEnd(78));
  const file = path.join(o.data, 'small-batch.json');
  const rounds = o.quick ? 11 : 31;
  const s = await run(process.execPath, [path.join(__dirname, 'small-batch.js'), '--rounds', String(rounds), '--json', file]);
  if (s.code !== 0) throw new Error(`small-batch failed (exit ${s.code}): ${s.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  process.stderr.write('\n');
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as { meta: { threads: number }; rows: SmallBatchRow[] };
  return { rounds, threads: r.meta.threads, rows: r.rows };
}

/** The A/B of file eval against --ab-base (bench/ab.ts), in a child process of its own. */
async function measureAb(o: Options, base: string): Promise<AbResult> {
  const file = path.join(o.data, 'ab.json');
  const s = await run(process.execPath, [path.join(__dirname, 'ab.js'), '--base', base, '--data', o.data, '--json', file]);
  if (s.code !== 0) throw new Error(`ab failed (exit ${s.code}): ${s.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  process.stderr.write(`  A/B against ${base}: done\n`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as AbResult;
}

/** Replaces the text between the bench markers of docs/performance.md, when it has them. */
function updateRootReadme(summary: string, meta: { date: string; cpu: string; cores: number }): void {
  const file = path.join(ROOT, 'docs', 'performance.md');
  if (!fs.existsSync(file)) return;
  const text = fs.readFileSync(file, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  const block = `${start}\n_Last \`npm run bench\`: ${meta.date.slice(0, 10)}, ${meta.cores} × ${meta.cpu}; M elements/s, float32; details in [bench/README.md](../bench/README.md)._\n\n${summary}\n${end}`;
  fs.writeFileSync(file, text.slice(0, a) + block + text.slice(b + end.length));
}

/** The chart: throughput against size, one line per variant, one panel per task (Vega-Lite → SVG). */
async function chart(rows: readonly Row[]): Promise<string> {
  // vega and vega-lite are ES modules; load them with a real import() from this CommonJS file.
  const load = new Function('m', 'return import(m)') as (m: string) => Promise<unknown>;
  const vega = (await load('vega')) as typeof import('vega');
  // (vega-lite's types resolve only under moduleResolution node16+; its one call is typed here.)
  const vl = (await load('vega-lite')) as { compile(spec: object): { spec: Parameters<typeof vega.parse>[0] } };
  const pick = (r: Row): string | undefined => {
    const th = r.threads ? `, ${r.threads} thr` : '';
    switch (r.kind) {
      case 'seed':
        return 'seed (PyTorch), whole process';
      case 'seed-fwd':
        return r.threads === 1 ? 'seed forward, in-process' : undefined;
      case 'ts':
        return 'TypeScript loop';
      case 'graph':
        if (r.batch !== DEFAULT_BATCH) return undefined;
        return r.workers ? `graph ${r.form}, ${r.workers} workers` : `graph ${r.form}${th}`;
      case 'eval-graph':
        return r.workers ? `eval graph, from memory, ${r.workers} sessions` : undefined;
      case 'eval':
        return r.threads === 2 ? 'eval, whole process, 2 thr' : undefined;
      case 'eval-inproc':
        return r.threads === 2 ? 'eval, streaming, 2 thr' : undefined;
      case 'eval-logits':
        return 'eval, logits, whole process, 2 thr';
      case 'eval-graph-logits':
        return 'eval graph, logits, from memory, 2 sessions';
      case 'peer':
      case 'peer-inproc':
        // One colour a peer; the dash tells whole process from in process.
        return (PEERS.find((p) => p.id === r.peer)?.label ?? r.label).replace(' sigmoid_focal_loss', '');
      default:
        return r.chart;
    }
  };
  const values = rows.flatMap((r) => {
    const variant = pick(r);
    const mode = isWhole(r) ? 'whole process' : 'in process';
    return variant ? [{ task: r.task, elements: r.size, variant, mode, mps: Math.round(mps(r) * 10) / 10 }] : [];
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Focal loss throughput, float32, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'CPU'})`,
    data: { values },
    facet: { column: { field: 'task', type: 'nominal', title: null } },
    spec: {
      width: 360,
      height: 300,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'elements', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'elements', axis: { values: [...new Set(values.map((v) => v.elements))], labelExpr: "datum.value >= 1048576 ? datum.value / 1048576 + 'M' : datum.value" } },
        y: { field: 'mps', type: 'quantitative', scale: { type: 'log' }, title: 'million elements / s (best of runs)' },
        color: { field: 'variant', type: 'nominal', title: null, scale: { scheme: 'category20' }, legend: { orient: 'bottom', columns: 3, labelLimit: 480 } },
        strokeDash: { field: 'mode', type: 'nominal', title: null, legend: { orient: 'bottom' } },
        tooltip: [{ field: 'variant' }, { field: 'elements' }, { field: 'mps' }],
      },
    },
  };
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const NOTES_START = '<!-- hand-written:start (npm run bench keeps this part as it is) -->';
const NOTES_END = '<!-- hand-written:end -->';

/** The hand-written part of an existing bench README (markers included), or an empty one. */
function handWritten(file: string): string {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const a = text.indexOf(NOTES_START);
  const b = text.indexOf(NOTES_END);
  return a >= 0 && b > a ? text.slice(a, b + NOTES_END.length) : `${NOTES_START}\n${NOTES_END}`;
}

interface Extras {
  readonly small: { rounds: number; threads: number; rows: SmallBatchRow[] } | null;
  readonly ab: AbResult | null;
}

function readme(rows: readonly Row[], meta: Record<string, unknown>, notes: readonly string[], kept: string, levers: readonly LeverRun[], extras: Extras): string {
  const m = meta as { date: string; cpu: string; cores: number; node: string; ort: string; torch: string | null; peers: Record<string, string> | null; load: { before: number[]; after: number[] } };
  const seedNote = m.torch ? `PyTorch ${m.torch} (Debian python3-torch)` : 'not run: /usr/bin/python3 with torch and numpy was not found (apt-get install python3-torch python3-numpy)';
  const peersNote = m.peers ? Object.entries(m.peers).map(([k, v]) => `${k} ${v}`).join(', ') + ' (the venv of scripts/setup-python.sh)' : (peersSkipped ?? 'not run');
  return [
    '# Benchmark',
    '',
    'Written by `npm run bench` (bench/bench.ts); the raw numbers are in `results.json`, the chart is `throughput.svg`.',
    '',
    `Last run: ${m.date} on ${m.cores} × ${m.cpu}, Node ${m.node}, onnxruntime-node ${m.ort}, seed: ${seedNote}; peers: ${peersNote}.`,
    `Load average before / after: ${m.load.before.map((x) => x.toFixed(2)).join(' ')} / ${m.load.after.map((x) => x.toFixed(2)).join(' ')}.`,
    '',
    'Data: float32 predictions uniform in [0, 1), float32 targets 0/1 (30% ones); multilabel files are [N/16, 16].',
    'Loss: the seed\'s defaults (α = 0.25, γ = 2, eps = 1e-4, mean). Best of the runs; "× seed" compares a',
    'whole-process row with the seed\'s whole process, an in-process row with the seed\'s best in-process forward.',
    '',
    '![throughput](throughput.svg)',
    '',
    '## Summary',
    '',
    summaryText(rows),
    '',
    '## Against the alternatives',
    '',
    'The same binary files in each (the logits peers and rows read the logits of the same probabilities), 2 threads;',
    'M elements/s, best of the runs. In process, focal-onnx is eval\'s graph from memory in two one-thread sessions side by side;',
    'a peer is its function called on the arrays in memory after a first call (which compiles, for torch.compile and jax.jit).',
    'Every peer\'s loss agrees with focal-onnx eval\'s on the same files (relative 1e-5; see the loss column below).',
    '',
    peersText(rows),
    '',
    ...(notes.length ? [...notes.map((n) => `- ${n}`), ''] : []),
    kept,
    '',
    ...(levers.length
      ? [
          '## In-process levers, this run',
          '',
          `\`npm run bench:levers\` (bench/bench-levers.ts): each variant over the same ${levers[0].elements} elements in memory, ${levers[0].rounds} interleaved rounds; the ratio is to its part's baseline (eval's graph as eval runs it, or the first variant) in the same round.`,
          '',
          leversText(levers),
          '',
        ]
      : []),
    ...(extras.small
      ? [
          '## Small batches in process, this run',
          '',
          `\`npm run bench:small\` (bench/small-batch.ts): binary float32, one process, sessions of ${extras.small.threads} thread(s); \`createEvaluator().add\` against a bare \`session.run\` of \`buildLoss\`'s graph for the same loss on the same batch, ${extras.small.rounds} interleaved rounds (a block of calls of each, which goes first alternating); µs a call, median of rounds; the goal is add within ${SMALL_BATCH_GOAL}× of the bare run.`,
          '',
          smallBatchTable(extras.small.rows),
          '',
        ]
      : []),
    ...(extras.ab
      ? [
          '## A/B of file eval, this run',
          '',
          `\`npm run bench:ab -- --base ${extras.ab.base.dir}\` (bench/ab.ts): base ${extras.ab.base.commit ?? '(not a git checkout)'} against this checkout ${extras.ab.this.commit ?? ''}, ${extras.ab.rounds} interleaved rounds after a warm-up; whole process is \`focal-onnx eval --json\` spawn to exit, in process each side's \`evaluate()\` timed in its own child process. Below 1: this checkout is faster.`,
          '',
          abTable(extras.ab),
          '',
        ]
      : []),
    '## Every row',
    '',
    tableText(rows, true),
    '',
  ].join('\n');
}

// ---- main ---------------------------------------------------------------------------------------

function packageVersion(name: string): string {
  const file = path.join(ROOT, 'node_modules', name, 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

function torchVersion(): string | undefined {
  if (!fs.existsSync(PYTHON)) return undefined;
  const r = spawnSync(PYTHON, ['-c', 'import numpy, torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') {
    process.stdout.write(`${JSON.stringify(await runChild(JSON.parse(argv[1]) as ChildSpec))}\n`);
    return;
  }
  const o = parseOptions(argv);
  const badBase = o.abBase === undefined ? undefined : checkBase(o.abBase);
  if (badBase) {
    process.stderr.write(`bench: ${badBase.replace(/^--base/, '--ab-base')}\n`);
    process.exit(2);
  }
  const torch = o.seed ? torchVersion() : undefined;
  if (o.seed && torch === undefined) {
    process.stderr.write(`note: the seed is not run: ${PYTHON} with torch and numpy was not found (apt-get install python3-torch python3-numpy)\n`);
  }
  fs.mkdirSync(o.data, { recursive: true });
  const ctx: Context = { o, hook: rssHook(o.data), torch, rows: [], notes: [] };
  for (const source of SOURCES) await source.prepare?.(sourceContext(ctx, (what) => process.stderr.write(`\r  ${source.name}: ${what}`.padEnd(78))));
  const loadBefore = os.loadavg();
  const started = performance.now();
  const plan: [Task, number][] = [];
  if (o.tasks.includes('binary')) for (const size of o.sizes) plan.push(['binary', size]);
  // Multilabel at every size but the binary-only goal size of 32M.
  if (o.tasks.includes('multilabel')) for (const size of o.sizes) if (size !== 32 << 20 || o.sizes.length === 1) plan.push(['multilabel', size]);
  for (const [task, size] of plan) {
    process.stderr.write(`${task} ${fmtSize(size)}: data in ${o.data}\n`);
    const files = await dataFor(o.data, task, size);
    for (let rep = 0; rep < o.reps; rep++) await measure(ctx, task, size, files, rep);
    process.stderr.write('\n');
  }
  const levers = o.levers ? await measureLevers(o) : [];
  const small = o.small ? await measureSmall(o) : null;
  const ab = o.abBase !== undefined ? await measureAb(o, o.abBase) : null;
  const meta = {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    ort: packageVersion('onnxruntime-node'),
    torch: torch ?? null,
    peers: peerVersions,
    load: { before: loadBefore, after: os.loadavg() },
    seconds: (performance.now() - started) / 1000,
    config: { alpha: ALPHA, gamma: GAMMA, eps: EPS, labels: LABELS, reps: o.reps, sizes: o.sizes, defaultBatch: DEFAULT_BATCH, sweepBatches: SWEEP_BATCHES },
  };
  const disagree = checkPeers(ctx.rows);
  const table = tableText(ctx.rows, false);
  process.stdout.write(`\n${table}\n\n${summaryText(ctx.rows)}\n\n${peersText(ctx.rows)}\n\n`);
  fs.mkdirSync(o.out, { recursive: true });
  const results = {
    meta,
    rows: sortedRows(ctx.rows).map((r) => ({
      ...r,
      bestSeconds: best(r.times),
      medianSeconds: median(r.times),
      millionElementsPerSecond: mps(r),
      ratioToSeed: ((s) => (s === undefined ? null : mps(r) / s))(seedFor(ctx.rows, r)),
      peakBytes: Math.max(...r.peaks),
    })),
    levers,
    smallBatches: small,
    ab,
  };
  fs.writeFileSync(path.join(o.out, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  const kept = handWritten(path.join(o.out, 'README.md'));
  fs.writeFileSync(path.join(o.out, 'README.md'), readme(ctx.rows, meta, ctx.notes, kept, levers, { small, ab }));
  if (!o.quick && path.resolve(o.out) === path.join(ROOT, 'bench')) {
    updateRootReadme(`${summaryText(ctx.rows)}\n\nAgainst the alternatives (binary; M elements/s, whole process / in process; see bench/README.md):\n\n${peersText(ctx.rows)}`, meta);
  }
  try {
    fs.writeFileSync(path.join(o.out, 'throughput.svg'), await chart(ctx.rows));
  } catch (e) {
    process.stderr.write(`chart not drawn: ${(e as Error).message}\n`);
  }
  process.stderr.write(`wrote ${path.relative(process.cwd(), o.out) || '.'}/results.json, throughput.svg, README.md (${meta.seconds.toFixed(0)} s)\n`);
  if (disagree.length) {
    process.stderr.write(`bench: peers that do not compute focal-onnx's loss:\n${disagree.map((d) => `  ${d}\n`).join('')}`);
    process.exitCode = 1;
  }
}

if (!isMainThread) {
  workerMain(workerData as WorkerData).catch((e: unknown) => {
    throw e;
  });
} else main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
