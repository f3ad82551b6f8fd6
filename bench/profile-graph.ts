/**
 * `npm run profile`: where the graph `focal-onnx eval` runs spends its time, node by node, from
 * onnxruntime's own profiler — the account behind the README's ceiling for `eval`.
 *
 * The graph is the one `eval` builds for loss options (bench/eval-graph.ts: the per-element loss
 * over checked inputs, the block sums, the data checks), on one batch of generated float32 data in
 * memory (predictions uniform in [0, 1), targets 1 with probability `--positives`: OneHot's cost
 * depends on how predictable the targets are), in one session of one thread (as each of eval's
 * sessions side by side). It runs `--runs` times; the first tenth is left out as warm-up, and each
 * node's kernel time is the median of the rest. Prints one row a node, most costly first (µs a run
 * and ns an element), then the sum of the nodes, the median whole run as onnxruntime profiled it,
 * and the median run timed from JavaScript in a session without the profiler (which adds a little
 * to every node), onnxruntime-node's own overhead included: what each of eval's sessions pays.
 *
 *     npm run profile [-- --task binary|multilabel] [--form arith|onehot] [--batch 262144]
 *                     [--runs 60] [--positives 0.3] [--json OUT.json]
 *
 * Numbers are wall-clock on a shared machine: run it on a quiet one.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { blockShape } from '../src/runtime/eval-outputs';
import { scriptFlags } from './args';
import { EVAL_GRAPH_FETCHES, evalGraphBytes } from './eval-graph';
import { mulberry32 } from '../scripts/prng';

const LABELS = 16;

const FLAGS = {
  task: { type: 'enum', values: ['binary', 'multilabel'], description: 'the task (default binary)' },
  form: { type: 'enum', values: ['arith', 'onehot'], description: 'the graph form (default arith)' },
  batch: { type: 'number', integer: true, min: LABELS, max: 1 << 24, description: 'elements a batch (default 262144)' },
  runs: { type: 'number', integer: true, min: 10, max: 100_000, description: 'runs (default 60)' },
  positives: { type: 'number', min: 0, max: 1, description: 'the share of targets that are 1 (default 0.3)' },
  json: { type: 'string', description: 'also write the numbers here' },
} as const;

interface Args {
  task: 'binary' | 'multilabel';
  form: 'arith' | 'onehot';
  batch: number;
  runs: number;
  positives: number;
  json?: string;
}

function parse(argv: readonly string[]): Args {
  const f = scriptFlags('profile-graph', FLAGS, argv);
  return {
    task: (f.task ?? 'binary') as Args['task'],
    form: (f.form ?? 'arith') as Args['form'],
    batch: f.batch ?? 1 << 18,
    runs: f.runs ?? 60,
    positives: f.positives ?? 0.3,
    json: f.json,
  };
}

interface ProfileEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly dur?: number;
  readonly args?: { readonly op_name?: string };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const labels = a.task === 'multilabel' ? LABELS : undefined;
  const n = labels ? a.batch - (a.batch % labels) : a.batch;
  const rows = labels ? n / labels : n;
  const dims = labels ? [rows, labels] : [n];

  const r = mulberry32(42);
  const pred = new Float32Array(n);
  const target = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    pred[i] = r();
    target[i] = r() < a.positives ? 1 : 0;
  }
  const blocks = blockShape(rows, labels);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-profile-'));
  try {
    const bytes = evalGraphBytes({ task: a.task, form: a.form, alpha: 0.25, gamma: 2, eps: 1e-4 });
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 4,
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'profile'),
    });
    const feeds = {
      pred: new ort.Tensor('float32', pred, dims),
      target: new ort.Tensor('float32', target, dims),
      focal_eval_blocks: new ort.Tensor('int64', BigInt64Array.from(blocks, BigInt), [blocks.length]),
    };
    for (let k = 0; k < a.runs; k++) await session.run(feeds, [...EVAL_GRAPH_FETCHES]);
    session.endProfiling();
    await session.release();

    // The same runs timed from JavaScript without the profiler (which adds a little to each node).
    const plain = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 4 });
    const timed: number[] = [];
    for (let k = 0; k < a.runs; k++) {
      const t0 = process.hrtime.bigint();
      await plain.run(feeds, [...EVAL_GRAPH_FETCHES]);
      timed.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    await plain.release();

    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`onnxruntime wrote no profile into ${dir}`);
    const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as ProfileEvent[];
    const skip = Math.floor(a.runs / 10);
    const perNode = new Map<string, { op: string; times: number[] }>();
    const runs: number[] = [];
    for (const e of events) {
      if (e.dur === undefined || e.name === undefined) continue;
      if (e.cat === 'Session' && e.name === 'model_run') runs.push(e.dur);
      if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
        const node = e.name.slice(0, -'_kernel_time'.length);
        const entry = perNode.get(node) ?? { op: e.args?.op_name ?? '?', times: [] };
        entry.times.push(e.dur);
        perNode.set(node, entry);
      }
    }
    const nodes = [...perNode].map(([node, { op, times }]) => ({ node, op, us: median(times.slice(skip)) })).sort((x, y) => y.us - x.us);
    const sum = nodes.reduce((s, x) => s + x.us, 0);
    const run = median(runs.slice(skip));
    const nsPer = (us: number): string => ((us * 1000) / n).toFixed(3);

    const out: string[] = [];
    out.push(
      `eval's graph, ${a.task} ${a.form}, ${n} elements a batch (${a.positives * 100}% positives), 1 thread, median of ${a.runs - skip} runs; onnxruntime-node ${ort.env.versions.common ?? ''}`.trim(),
      '',
      `${'op'.padEnd(12)} ${'node'.padEnd(32)} ${'µs a run'.padStart(9)} ${'ns/element'.padStart(10)}`,
    );
    for (const x of nodes) out.push(`${x.op.padEnd(12)} ${x.node.slice(0, 32).padEnd(32)} ${x.us.toFixed(0).padStart(9)} ${nsPer(x.us).padStart(10)}`);
    out.push(`${'all nodes'.padEnd(45)} ${sum.toFixed(0).padStart(9)} ${nsPer(sum).padStart(10)}`);
    out.push(`${'whole run (onnxruntime)'.padEnd(45)} ${run.toFixed(0).padStart(9)} ${nsPer(run).padStart(10)}`);
    const plainUs = median(timed.slice(skip));
    out.push(`${'whole run, no profiler (onnxruntime-node)'.padEnd(45)} ${plainUs.toFixed(0).padStart(9)} ${nsPer(plainUs).padStart(10)}`);
    process.stdout.write(`${out.join('\n')}\n`);
    if (a.json) {
      const report = { ...a, elements: n, nodes: nodes.map((x) => ({ ...x, nsPerElement: Number(nsPer(x.us)) })), nodesUs: sum, runUs: run, plainRunUs: plainUs };
      fs.writeFileSync(a.json, `${JSON.stringify(report, null, 2)}\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`profile-graph: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
