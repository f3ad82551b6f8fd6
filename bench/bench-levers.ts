/**
 * `npm run bench:levers`: onnxruntime's in-process levers, each measured against the graph `eval`
 * runs as it is, in interleaved rounds — the record behind bench/README.md's "In-process levers".
 *
 * Every variant is a session (or a way to call one) over the same data in memory: float32
 * predictions uniform in [0, 1) (or their logits) and targets 1 with probability 0.3, `--elements`
 * of them cut into batches. Each round runs every variant once over all the elements, in a
 * shuffled order, so that a load from other processes falls on every variant alike; the report
 * gives each variant's median and best ns an element over the rounds and its median ratio to its
 * part's baseline in the same round (the number to trust on a loaded machine).
 *
 * Parts (--part, default all):
 * - kernels: one-node graphs on one thread, ns an element — which CPU kernels are vectorized
 *   (Log, Exp, Softplus, Sigmoid, LogSoftmax over a pair, Abs, Mul, Clip, Where, …);
 * - forms: log σ for logits as the graph has it (Exp → log1p) against Softplus-based and
 *   LogSoftmax-based forms; and the probabilities' eval graph against fewer-pass variants;
 * - session: session options on eval's graph — spinning, denormals as zero, memory pattern, arena,
 *   graph optimization level, execution mode, and pre-allocated outputs through `fetches`;
 * - batch: batch sizes for eval's graph, one one-thread session.
 *
 *     npm run bench:levers [-- --part kernels|forms|session|batch|all] [--rounds 15]
 *                          [--elements 4M] [--threads 1] [--json OUT.json]
 *
 * Wall-clock numbers on whatever else runs: compare only the variants of one run.
 */
import * as fs from 'fs';
import { performance } from 'perf_hooks';
import * as ort from 'onnxruntime-node';
import { Graph, Value, buildModel, op, serializeModel } from '../src/onnx';
import { buildLoss } from '../src/losses';
import { addEvalOutputs, blockShape } from '../src/runtime/eval-outputs';
import { scriptFlags } from './args';
import { EVAL_GRAPH_FETCHES, evalGraphBytes } from './eval-graph';
import { mulberry32 } from '../scripts/prng';

const PARTS = ['kernels', 'forms', 'session', 'batch', 'all'] as const;
type Part = (typeof PARTS)[number];

const FLAGS = {
  part: { type: 'enum', values: PARTS, description: 'which levers (default all)' },
  rounds: { type: 'number', integer: true, min: 3, max: 1000, description: 'interleaved rounds (default 15)' },
  elements: { type: 'string', description: 'elements a variant runs over each round (default 4M)' },
  threads: { type: 'number', integer: true, min: 1, max: 64, description: 'intra-op threads of each session (default 1)' },
  only: { type: 'string', description: "only the variants whose name matches this regular expression (and each part's baseline)" },
  json: { type: 'string', description: 'also write the numbers here' },
} as const;

const BATCH = 1 << 18;
const ALPHA = 0.25;

interface Variant {
  readonly part: Exclude<Part, 'all'>;
  readonly name: string;
  /** The part's reference (ratio 1). */
  readonly baseline?: boolean;
  readonly batch: number;
  /** Runs one batch of n elements starting at `offset` of the data. */
  prepare(): Promise<(offset: number, n: number) => Promise<number>>;
  release?(): Promise<void>;
}

interface Data {
  readonly p: Float32Array;
  readonly t: Float32Array;
  readonly x: Float32Array;
}

function makeData(n: number): Data {
  const rnd = mulberry32(0x1e7e45);
  const p = new Float32Array(n);
  const t = new Float32Array(n);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    p[i] = rnd();
    t[i] = rnd() < 0.3 ? 1 : 0;
    const q = Math.min(Math.max(p[i], 2 ** -24), 1 - 2 ** -24);
    x[i] = Math.log(q) - Math.log1p(-q);
  }
  return { p, t, x };
}

type SessionOpts = ort.InferenceSession.SessionOptions;

function baseOptions(threads: number): SessionOpts {
  return { graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 4, executionProviders: ['cpu'] };
}

const f32 = (data: Float32Array, n: number): ort.Tensor => new ort.Tensor('float32', data, [n]);

/** One session over a graph of inputs pred/target (or x only), fed per batch; returns the first output's first value. */
function sessionVariant(
  part: Variant['part'],
  name: string,
  bytes: Uint8Array,
  opts: SessionOpts,
  data: Data,
  feed: (offset: number, n: number) => Record<string, ort.Tensor>,
  fetches: string[] | ((n: number) => Record<string, ort.Tensor | null>),
  batch = BATCH,
  baseline = false,
): Variant {
  let session: ort.InferenceSession | undefined;
  return {
    part,
    name,
    batch,
    baseline,
    async prepare() {
      session = await ort.InferenceSession.create(bytes, opts);
      const s = session;
      const preset = new Map<number, Record<string, ort.Tensor | null>>();
      const run = async (offset: number, n: number): Promise<number> => {
        let f: string[] | Record<string, ort.Tensor | null>;
        if (typeof fetches === 'function') {
          let got = preset.get(n);
          if (!got) preset.set(n, (got = fetches(n)));
          f = got;
        } else f = fetches;
        const out = await s.run(feed(offset, n), f as string[]);
        const first = out[Object.keys(out)[0]].data as Float32Array | Float64Array;
        return Number(first[0]);
      };
      await run(0, Math.min(batch, data.p.length));
      return run;
    },
    async release() {
      await session?.release();
    },
  };
}

// ---- the variants -------------------------------------------------------------------------------

function oneNode(build: (x: Value) => Value, shape: number[] = [-1]): Uint8Array {
  const g = new Graph({ opset: 17, name: 'lever' });
  const x = g.input('x', 'float32', shape.map((d, i) => (d < 0 ? `n${i}` : d)));
  g.output(build(x), 'y');
  return serializeModel(buildModel(g));
}

function kernels(data: Data, threads: number): Variant[] {
  const xs = (offset: number, n: number): Record<string, ort.Tensor> => ({ x: f32(data.p.subarray(offset, offset + n), n) });
  const lx = (offset: number, n: number): Record<string, ort.Tensor> => ({ x: f32(data.x.subarray(offset, offset + n), n) });
  const pair = (offset: number, n: number): Record<string, ort.Tensor> => ({ x: new ort.Tensor('float32', data.x.subarray(offset, offset + n), [n / 2, 2]) });
  const opts = baseOptions(threads);
  const k = (name: string, build: (x: Value) => Value, feed = xs, baseline = false): Variant =>
    sessionVariant('kernels', name, oneNode(build), opts, data, feed, ['y'], BATCH, baseline);
  return [
    k('Neg', (x) => op.neg(x), xs, true),
    k('Abs', (x) => op.abs(x)),
    k('Mul x·x', (x) => op.mul(x, x)),
    k('Sub 1 − x', (x) => op.sub(1, x)),
    k('Clip', (x) => op.clip(x, 1e-4, 1)),
    k('Min (x, 0)', (x) => op.min(x, 0), lx),
    k('Where (x == 0)', (x) => op.where(op.equal(x, 0), x, 1)),
    k('Log', (x) => op.log(x)),
    k('Exp', (x) => op.exp(x), lx),
    k('Softplus', (x) => op.softplus(x), lx),
    k('Sigmoid', (x) => op.sigmoid(x), lx),
    k('Pow x^2', (x) => op.pow(x, 2)),
    k('ReduceSum (all)', (x) => op.reduceSum(x, { keepdims: false })),
    sessionVariant('kernels', 'LogSoftmax over [n/2, 2] (a pair per 2 elements)', oneNode((x) => op.logSoftmax(x, 1), [-1, 2]), opts, data, pair, ['y']),
  ];
}

/** log σ(z) and 1 − p_t for logits, the pieces the logits form needs, in three ways. */
function logitForms(data: Data, threads: number): Variant[] {
  const opts = baseOptions(threads);
  const feed = (offset: number, n: number): Record<string, ort.Tensor> => ({ x: f32(data.x.subarray(offset, offset + n), n) });
  const two = (build: (x: Value) => [Value, Value]): Uint8Array => {
    const g = new Graph({ opset: 17, name: 'lever' });
    const x = g.input('x', 'float32', ['n']);
    const [a, b] = build(x);
    g.output(op.reduceSum(op.mul(a, b), { keepdims: false }), 'y');
    return serializeModel(buildModel(g));
  };
  const v = (name: string, build: (x: Value) => [Value, Value], baseline = false): Variant =>
    sessionVariant('forms', name, two(build), opts, data, feed, ['y'], BATCH, baseline);
  return [
    v(
      'logits: log σ(z), σ(−z) as the graph has them (Exp, log1p by Goldberg, Exp)',
      (z) => {
        const l = goldbergLog1p(op.exp(op.neg(op.abs(z))));
        const pos = op.sub(op.min(z, 0), l);
        const neg = op.sub(op.min(op.neg(z), 0), l);
        return [pos, op.exp(neg)];
      },
      true,
    ),
    v('logits: the same, log1p by its correction term (no Where), log σ(−z) = log σ(z) − z', (z) => {
      const e = op.exp(op.neg(op.abs(z)));
      const w = op.add(e, 1);
      const l = op.sub(op.log(w), op.div(op.sub(op.sub(w, 1), e), w));
      const pos = op.sub(op.min(z, 0), l);
      return [pos, op.exp(op.sub(pos, z))];
    }),
    v('logits: the same bits, two passes fewer: min(−z, 0) = min(z, 0) − z, −|z| = their sum', (z) => {
      const mz = op.min(z, 0);
      const nz = op.sub(mz, z);
      const l = goldbergLog1p(op.exp(op.add(mz, nz)));
      return [op.sub(mz, l), op.exp(op.sub(nz, l))];
    }),
    v('logits: the same, log1p by its correction term (no Where)', (z) => {
      const e = op.exp(op.neg(op.abs(z)));
      const w = op.add(e, 1);
      const l = op.sub(op.log(w), op.div(op.sub(op.sub(w, 1), e), w));
      const pos = op.sub(op.min(z, 0), l);
      const neg = op.sub(op.min(op.neg(z), 0), l);
      return [pos, op.exp(neg)];
    }),
    v('logits: −Softplus(−z), exp(−Softplus(z))', (z) => {
      const pos = op.neg(op.softplus(op.neg(z)));
      return [pos, op.exp(op.sub(pos, z))];
    }),
    v('logits: LogSoftmax of [0, z] (a pair per element)', (z) => {
      const pairs = op.concat([op.unsqueeze(op.mul(z, 0), [1]), op.unsqueeze(z, [1])], 1);
      const ls = op.logSoftmax(pairs, 1);
      const pos = op.reshapeLike(op.gather(ls, ls.graph.constant(1, 'int64'), 1), z);
      return [pos, op.exp(op.sub(pos, z))];
    }),
    v('logits: Sigmoid, Log (the fast, inexact one)', (z) => {
      const s = op.sigmoid(z);
      return [op.log(s), op.sub(1, s)];
    }),
  ];
}

function goldbergLog1p(u: Value): Value {
  const w = op.add(u, 1);
  const d = op.sub(w, 1);
  return op.where(op.equal(d, 0), u, op.mul(u, op.div(op.log(w), d)));
}

/** eval's graph for probabilities as it is, and with fewer passes. */
function probForms(data: Data, threads: number): Variant[] {
  const opts = baseOptions(threads);
  const o = { task: 'binary', alpha: ALPHA, gamma: 2, eps: 1e-4 } as const;
  const feeds = evalFeeds(data);
  const fewer = (): Uint8Array => {
    // −α_t·m²·log c, c = clip(|x − u|), summed as Σ(α−1)·w + Σ(1 − 2α)·t·w with w = m²·log c:
    // the −α_t pass pair (t·k + c) and its product become one product t·w and one more block sum.
    const g = new Graph({ opset: 17, name: 'lever' });
    const x = g.input('pred', 'float32', ['N']);
    const t = g.input('target', 'float32', ['N']);
    g.input('focal_eval_blocks', 'int64', [2]); // fed as to eval's graph; blocks of 256 here (full batches)
    const u = op.sub(1, t);
    const c = op.clip(op.abs(op.sub(x, u)), 1e-4, 1);
    const m = op.sub(1, c);
    const w = op.mul(op.mul(m, m), op.log(c));
    const sumBlocks = (v: Value): Value =>
      op.reduceSum(op.cast(op.reduceSum(op.reshape(v, [-1, 256]), { axes: [1], keepdims: false }), 'float64'), { keepdims: false });
    const total = op.add(op.mul(sumBlocks(w), ALPHA - 1), op.mul(sumBlocks(op.mul(t, w)), 1 - 2 * ALPHA));
    g.output(total, 'loss_sum');
    g.output(op.reduceMin(x, { keepdims: false }), 'check_pred_min');
    g.output(op.reduceMax(x, { keepdims: false }), 'check_pred_max');
    g.output(op.reduceL1(op.mul(t, u), { keepdims: false }), 'check_target');
    return serializeModel(buildModel(g));
  };
  const noChecks = addEvalOutputs(buildLoss({ ...o, reduction: 'none' }, { validInputs: true }).bytes, { sums: 'total', checkPred: false, checkTarget: false });
  return [
    sessionVariant('forms', "probs: eval's graph (baseline)", evalGraphBytes(o), opts, data, feeds, [...EVAL_GRAPH_FETCHES], BATCH, true),
    sessionVariant('forms', "probs: α_t folded into two block sums (one pass fewer)", fewer(), opts, data, feeds, [...EVAL_GRAPH_FETCHES]),
    sessionVariant('forms', 'probs: without the data checks (for the record: eval needs them)', noChecks, opts, data, feeds, ['loss_sum']),
  ];
}

function evalFeeds(data: Data): (offset: number, n: number) => Record<string, ort.Tensor> {
  return (offset, n) => {
    const b = blockShape(n, undefined);
    return {
      pred: f32(data.p.subarray(offset, offset + n), n),
      target: f32(data.t.subarray(offset, offset + n), n),
      focal_eval_blocks: new ort.Tensor('int64', BigInt64Array.from(b, BigInt), [b.length]),
    };
  };
}

function sessionLevers(data: Data, threads: number): Variant[] {
  const o = { task: 'binary', alpha: ALPHA, gamma: 2, eps: 1e-4 } as const;
  const bytes = evalGraphBytes(o);
  const feeds = evalFeeds(data);
  const base = baseOptions(threads);
  const s = (name: string, opts: SessionOpts, baseline = false): Variant => sessionVariant('session', name, bytes, opts, data, feeds, [...EVAL_GRAPH_FETCHES], BATCH, baseline);
  const cfg = (entries: Record<string, string>): SessionOpts => ({ ...base, extra: { session: entries } });
  const prealloc = (n: number): Record<string, ort.Tensor | null> => {
    void n;
    return {
      loss_sum: new ort.Tensor('float64', new Float64Array(1), []),
      check_pred_min: new ort.Tensor('float32', new Float32Array(1), []),
      check_pred_max: new ort.Tensor('float32', new Float32Array(1), []),
      check_target: new ort.Tensor('float32', new Float32Array(1), []),
    };
  };
  return [
    s('session: as eval has it (baseline)', base, true),
    s('session: intra_op.allow_spinning = 0', cfg({ 'intra_op.allow_spinning': '0' })),
    s('session: set_denormal_as_zero = 1', cfg({ set_denormal_as_zero: '1' })),
    s('session: enableMemPattern = false', { ...base, enableMemPattern: false }),
    s('session: enableCpuMemArena = false', { ...base, enableCpuMemArena: false }),
    s('session: graphOptimizationLevel = basic', { ...base, graphOptimizationLevel: 'basic' }),
    s('session: graphOptimizationLevel = disabled', { ...base, graphOptimizationLevel: 'disabled' }),
    s('session: executionMode = parallel', { ...base, executionMode: 'parallel', interOpNumThreads: 2 }),
    sessionVariant('session', 'fetches: pre-allocated output tensors', bytes, base, data, feeds, prealloc, BATCH),
  ];
}

function batchLevers(data: Data, threads: number): Variant[] {
  const o = { task: 'binary', alpha: ALPHA, gamma: 2, eps: 1e-4 } as const;
  const bytes = evalGraphBytes(o);
  const feeds = evalFeeds(data);
  return [1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20].map((b) =>
    sessionVariant('batch', `batch ${b >> 10}K elements`, bytes, baseOptions(threads), data, feeds, [...EVAL_GRAPH_FETCHES], b, b === BATCH),
  );
}

/** The memory pattern off at the batch sizes that came out near the best. */
function memPatternBatches(data: Data, threads: number): Variant[] {
  const bytes = evalGraphBytes({ task: 'binary', alpha: ALPHA, gamma: 2, eps: 1e-4 });
  const feeds = evalFeeds(data);
  return [1 << 16, 1 << 17, 1 << 18].map((b) =>
    sessionVariant('batch', `batch ${b >> 10}K elements, enableMemPattern = false`, bytes, { ...baseOptions(threads), enableMemPattern: false }, data, feeds, [...EVAL_GRAPH_FETCHES], b),
  );
}

/** Pre-allocated per-element outputs (reduction none's `loss`), where `fetches` could matter most. */
function noneOutputLevers(data: Data, threads: number): Variant[] {
  const bytes = buildLoss({ task: 'binary', alpha: ALPHA, gamma: 2, eps: 1e-4, reduction: 'none' }).bytes;
  const feed = (offset: number, n: number): Record<string, ort.Tensor> => ({ pred: f32(data.p.subarray(offset, offset + n), n), target: f32(data.t.subarray(offset, offset + n), n) });
  const out = new Float32Array(BATCH);
  return [
    sessionVariant('session', 'reduction none: output allocated by onnxruntime (baseline for the next)', bytes, baseOptions(threads), data, feed, ['loss'], BATCH, true),
    sessionVariant('session', 'reduction none: pre-allocated `loss` through fetches', bytes, baseOptions(threads), data, feed, (n) => ({ loss: new ort.Tensor('float32', n === BATCH ? out : new Float32Array(n), [n]) })),
  ];
}

// ---- the rounds ---------------------------------------------------------------------------------

interface Result {
  readonly part: string;
  readonly name: string;
  readonly batch: number;
  /** ns an element, one per round. */
  readonly ns: number[];
  /** The ratio to the part's baseline in the same round. */
  readonly ratio: number[];
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(variants: Variant[], data: Data, rounds: number): Promise<Result[]> {
  const runs = [];
  for (const v of variants) runs.push(await v.prepare());
  const total = data.p.length;
  const ns = variants.map(() => [] as number[]);
  const rnd = mulberry32(7);
  for (let r = 0; r < rounds; r++) {
    for (const i of shuffle([...variants.keys()], rnd)) {
      const v = variants[i];
      const t0 = performance.now();
      let sink = 0;
      for (let off = 0; off < total; off += v.batch) sink += await runs[i](off, Math.min(v.batch, total - off));
      const dt = performance.now() - t0;
      if (Number.isNaN(sink) && v.part !== 'kernels') throw new Error(`${v.name}: NaN`);
      ns[i].push((dt * 1e6) / total);
    }
    process.stderr.write(`\r  round ${r + 1}/${rounds}`);
  }
  process.stderr.write('\n');
  for (const v of variants) await v.release?.();
  return variants.map((v, i) => {
    const base = variants.findIndex((b) => b.part === v.part && b.baseline && group(b) === group(v));
    return { part: v.part, name: v.name, batch: v.batch, ns: ns[i], ratio: ns[i].map((x, r) => x / ns[base][r]) };
  });
}

/** Variants are compared with the baseline of their part and group (the name up to its colon, for forms and `reduction none`). */
const group = (v: Variant): string => (v.part === 'forms' || v.name.startsWith('reduction none') ? v.name.split(':')[0] : '');

async function main(argv: readonly string[]): Promise<void> {
  const f = scriptFlags('bench-levers', FLAGS, argv);
  const part = (f.part ?? 'all') as Part;
  const rounds = f.rounds ?? 15;
  const threads = f.threads ?? 1;
  const m = /^(\d+)([kKmM]?)$/.exec(f.elements ?? '4M');
  if (!m) {
    process.stderr.write(`bench-levers: --elements: expected a count such as 4M or 65536, got '${f.elements}'\n`);
    process.exit(2);
  }
  const elements = Number(m[1]) * (m[2].toLowerCase() === 'm' ? 1 << 20 : m[2].toLowerCase() === 'k' ? 1 << 10 : 1);
  ort.env.logLevel = 'fatal';
  const data = makeData(elements);
  const want = (p: Exclude<Part, 'all'>): boolean => part === 'all' || part === p;
  const results: Result[] = [];
  const groups: Variant[][] = [];
  if (want('kernels')) groups.push(kernels(data, threads));
  if (want('forms')) groups.push([...logitForms(data, threads), ...probForms(data, threads)]);
  if (want('session')) groups.push([...sessionLevers(data, threads), ...noneOutputLevers(data, threads)]);
  if (want('batch')) groups.push([...batchLevers(data, threads), ...memPatternBatches(data, threads)]);
  const only = f.only === undefined ? undefined : new RegExp(f.only);
  for (const all of groups) {
    const g = only ? all.filter((v) => v.baseline || only.test(v.name)) : all;
    process.stderr.write(`${g[0].part}: ${g.length} variants, ${rounds} rounds over ${elements} elements, ${threads} thread(s)\n`);
    results.push(...(await measure(g, data, rounds)));
  }
  const rows = results.map((r) => [r.part, r.name, median(r.ns).toFixed(3), Math.min(...r.ns).toFixed(3), median(r.ratio).toFixed(3)]);
  const head = ['part', 'variant', 'median ns/elem', 'best ns/elem', 'median ratio to baseline'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  process.stdout.write(`${[head, w.map((x) => '-'.repeat(x)), ...rows].map((r) => r.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n')}\n`);
  if (f.json) fs.writeFileSync(f.json, `${JSON.stringify({ date: new Date().toISOString(), elements, rounds, threads, results }, null, 1)}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench-levers: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
