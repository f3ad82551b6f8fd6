/**
 * Small batches in process (issue 18): what `createEvaluator().add` costs a batch against a bare
 * `session.run` of the same loss graph (`buildLoss`'s model, straight on onnxruntime-node), at
 * 1,000, 10,000 and 100,000 elements a batch — the sizes a Node service that scores a batch per
 * request lives at. The goal: `add` within 1.3× of the bare run.
 *
 * Both in one process, on the same data (binary, float32 probabilities uniform in [0, 1), float32
 * 0/1 targets), with sessions of the same options (`threads` intra-op threads, one inter-op,
 * sequential, the runtime's default graph optimization). Each size: both warmed up (WARM_ROUNDS
 * uncounted rounds: add reaches its steady speed after some thousands of calls), then `rounds`
 * rounds; a round times a block of K calls of one side, then K of the other (which goes first
 * alternates by round), K chosen so the bare block takes ~`blockMs`. The figures are the medians
 * over rounds of the µs a call; the ratio is the median of each round's add / run. Both sides run
 * on this one thread (one intra-op thread), so the process's CPU time of each block is measured
 * too: on a shared machine it leaves out the time other processes took the core, which the wall
 * clock counts (`cpuRatio`; on a quiet machine the two agree). Only the public
 * API is used (createEvaluator from src/runtime, buildLoss from src/losses). The losses of both
 * sides are checked equal, so both compute the same thing.
 *
 *     npm run bench:small [-- --sizes 1000,10000,100000 --rounds 31 --threads 1 --json bench/small-batch.json]
 *
 * `npm run bench` runs it too (its "Small batches" section and `smallBatches` in results.json).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as ort from 'onnxruntime-node';
import { buildLoss } from '../src/losses';
import { DEFAULT_GRAPH_OPTIMIZATION, createEvaluator } from '../src/runtime';
import { mulberry32 } from '../scripts/prng';
import { scriptFlags } from './args';
import { ROOT } from './bench-rows';

export const SMALL_BATCH_SIZES = [1000, 10_000, 100_000] as const;
/** The goal: `add` within this factor of the bare run. */
export const SMALL_BATCH_GOAL = 1.3;

export interface SmallBatchOptions {
  /** Elements a batch (default 1,000, 10,000, 100,000). */
  sizes?: number[];
  /** Interleaved rounds a size (default 31). */
  rounds?: number;
  /** Intra-op threads of both sessions (default 1). */
  threads?: number;
  /** Milliseconds the bare run's block of calls takes, about (default 20). */
  blockMs?: number;
}

export interface SmallBatchRow {
  size: number;
  /** µs a `createEvaluator().add` (median over rounds). */
  addMicros: number;
  /** µs a bare `session.run` of the same graph (median over rounds). */
  runMicros: number;
  /** The median over rounds of add / run in the same round. */
  ratio: number;
  /** The same of CPU time (the process's, user + system): what other processes' load does not inflate. */
  cpuRatio: number;
}

export interface SmallBatchDetail extends SmallBatchRow {
  /** Calls a block. */
  calls: number;
  rounds: number;
  /** Each round's µs a call, add and run. */
  addRounds: number[];
  runRounds: number[];
  /** The loss of both sides (they agree within 1e-5 relative: the bare graph sums in float32). */
  loss: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Binary float32 probabilities and 0/1 targets (30% ones), deterministic. */
function data(n: number): { p: Float32Array; t: Float32Array } {
  const rnd = mulberry32(0x5eed5a11 ^ n);
  const p = new Float32Array(n);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    p[i] = rnd();
    t[i] = rnd() < 0.3 ? 1 : 0;
  }
  return { p, t };
}

/** Interleaved rounds run before the counted ones at each size (see measureSize). */
const WARM_ROUNDS = 10;

/** One size: both sides set up, warmed up and timed in interleaved rounds. */
async function measureSize(size: number, rounds: number, threads: number, blockMs: number): Promise<SmallBatchDetail> {
  const loss = { task: 'binary' } as const;
  const { p, t } = data(size);
  const ev = await createEvaluator({ loss, threads });
  const session = await ort.InferenceSession.create(buildLoss(loss).bytes, {
    graphOptimizationLevel: DEFAULT_GRAPH_OPTIMIZATION,
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 4,
  });
  try {
    const feeds = { pred: new ort.Tensor('float32', p, [size]), target: new ort.Tensor('float32', t, [size]) };
    const batch = { pred: p, target: t, dims: [size] };
    let bare = 0;
    const run = async (): Promise<void> => {
      bare = ((await session.run(feeds)).loss.data as Float32Array)[0];
    };
    const add = async (): Promise<void> => {
      await ev.add(batch);
    };
    // Warm-up: first-run allocations on both, then an estimate of the bare run's cost for K.
    for (let i = 0; i < 20; i++) {
      await run();
      await add();
    }
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) await run();
    const estimate = (performance.now() - t0) / 20;
    const calls = Math.max(1, Math.round(blockMs / Math.max(estimate, 1e-3)));
    /** µs a call of `f`, wall clock and CPU time. */
    const block = async (f: () => Promise<void>): Promise<[number, number]> => {
      const c = process.cpuUsage();
      const s = performance.now();
      for (let i = 0; i < calls; i++) await f();
      const wall = ((performance.now() - s) * 1000) / calls;
      const cpu = process.cpuUsage(c);
      return [wall, (cpu.user + cpu.system) / calls];
    };
    const addRounds: number[] = [];
    const runRounds: number[] = [];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    // WARM_ROUNDS rounds first, not counted: add's JavaScript reaches its steady speed only after
    // some thousands of calls (measured at 1,000 elements: rounds 1-9 fall from ~80 to ~38 µs a call,
    // the bare run's from the start), and a service that scores a batch a request runs steadily.
    for (let r = -WARM_ROUNDS; r < rounds; r++) {
      let a: [number, number];
      let b: [number, number];
      if (r % 2 === 0) {
        a = await block(add);
        b = await block(run);
      } else {
        b = await block(run);
        a = await block(add);
      }
      if (r < 0) continue;
      addRounds.push(a[0]);
      runRounds.push(b[0]);
      ratios.push(a[0] / b[0]);
      cpuRatios.push(a[1] / b[1]);
    }
    const mean = ev.result().loss;
    if (!(Math.abs(mean - bare) <= 1e-5 * Math.abs(bare))) throw new Error(`small-batch: at ${size} elements createEvaluator's loss ${mean} is not the bare graph's ${bare}`);
    return { size, addMicros: median(addRounds), runMicros: median(runRounds), ratio: median(ratios), cpuRatio: median(cpuRatios), calls, rounds, addRounds, runRounds, loss: bare };
  } finally {
    await ev.close();
    await session.release();
  }
}

/** Every size, with each round's figures. */
export async function measureSmallBatchDetails(opts: SmallBatchOptions = {}): Promise<SmallBatchDetail[]> {
  const sizes = opts.sizes ?? [...SMALL_BATCH_SIZES];
  const rounds = opts.rounds ?? 31;
  const threads = opts.threads ?? 1;
  const blockMs = opts.blockMs ?? 20;
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a positive integer, got ${rounds}`);
  const out: SmallBatchDetail[] = [];
  for (const size of sizes) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`sizes must be positive integers, got ${size}`);
    out.push(await measureSize(size, rounds, threads, blockMs));
  }
  return out;
}

/** `createEvaluator().add` against a bare `session.run` of the same graph, a row a size. */
export async function measureSmallBatches(opts: SmallBatchOptions = {}): Promise<SmallBatchRow[]> {
  return (await measureSmallBatchDetails(opts)).map(({ size, addMicros, runMicros, ratio, cpuRatio }) => ({ size, addMicros, runMicros, ratio, cpuRatio }));
}

const fmtMicros = (x: number): string => (x < 10 ? x.toFixed(1) : x.toFixed(0));

/** The Markdown table of the rows. */
export function smallBatchTable(rows: readonly SmallBatchRow[]): string {
  return [
    '| elements a batch | createEvaluator().add, µs | bare session.run, µs | add / run (median of rounds) | the same in CPU time | within 1.3× |',
    '| ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.size.toLocaleString('en-US')} | ${fmtMicros(r.addMicros)} | ${fmtMicros(r.runMicros)} | ${r.ratio.toFixed(2)}× | ${r.cpuRatio.toFixed(2)}× | ${r.ratio <= SMALL_BATCH_GOAL ? 'yes' : 'no'} |`,
    ),
  ].join('\n');
}

const FLAGS = {
  sizes: { type: 'string', placeholder: '1000,10000,100000', description: 'elements a batch, comma-separated (default 1000,10000,100000)' },
  rounds: { type: 'number', integer: true, min: 1, description: 'interleaved rounds a size (default 31)' },
  threads: { type: 'number', integer: true, min: 1, description: 'intra-op threads of both sessions (default 1)' },
  json: { type: 'string', description: 'where the JSON goes (default bench/small-batch.json)' },
} as const;

async function main(argv: readonly string[]): Promise<void> {
  const f = scriptFlags('small-batch', FLAGS, argv);
  const sizes = f.sizes === undefined ? undefined : f.sizes.split(',').map((s) => Number(s.trim()));
  if (sizes?.some((s) => !Number.isSafeInteger(s) || s < 1)) {
    process.stderr.write(`small-batch: --sizes must be positive integers, comma-separated, got '${f.sizes}'\n`);
    process.exit(2);
  }
  const threads = f.threads ?? 1;
  const rows = await measureSmallBatchDetails({ sizes, rounds: f.rounds, threads });
  process.stdout.write(`${smallBatchTable(rows)}\n`);
  const file = path.resolve(f.json ?? path.join(ROOT, 'bench', 'small-batch.json'));
  const meta = {
    date: new Date().toISOString(),
    cpu: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    node: process.version,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    threads,
    loadavg: os.loadavg(),
  };
  fs.writeFileSync(file, `${JSON.stringify({ meta, rows }, null, 1)}\n`);
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`small-batch: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
