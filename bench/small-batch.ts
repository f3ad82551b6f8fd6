/**
 * Small batches: what `createEvaluator().add` costs against a bare `session.run` of the same loss
 * graph (`buildLoss` with the same options, reduction mean, onnxruntime-node's InferenceSession),
 * at 1,000, 10,000 and 100,000 elements a batch — binary float32, the same data, one process,
 * interleaved: each round times a stretch of bare runs and a stretch of `add`s (in alternating
 * order), and the table gives each one's median µs a call over the rounds and their ratio.
 *
 *     node dist/bench/small-batch.js [--rounds 15] [--threads 1] [--json bench/small-batch.json]
 *
 * `add` does more than the bare run by design: it checks every batch (in the graph or in JS), sums
 * the per-element losses in blocks with float64 between them, and accumulates; the goal is that
 * this costs at most 1.3× the bare run at each size.
 */
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import { performance } from 'perf_hooks';
import { buildLoss } from '../src/losses';
import { createEvaluator } from '../src/runtime/evaluator';

const SIZES = [1_000, 10_000, 100_000] as const;
const LOSS = { alpha: 0.25, gamma: 2 } as const;

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** A deterministic stream of numbers in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Row {
  readonly elements: number;
  readonly bareMicros: number;
  readonly addMicros: number;
  readonly ratio: number;
  readonly callsPerRound: number;
  readonly rounds: number;
}

async function main(): Promise<void> {
  const rounds = Number(flag('rounds', '15'));
  const threads = Number(flag('threads', '1'));
  const jsonFile = flag('json', 'bench/small-batch.json');
  const bytes = buildLoss({ ...LOSS }).bytes;
  const rows: Row[] = [];
  for (const n of SIZES) {
    const rand = lcg(n);
    const pred = Float32Array.from({ length: n }, () => 0.01 + 0.98 * rand());
    const target = Float32Array.from({ length: n }, () => (rand() < 0.3 ? 1 : 0));
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    const ev = await createEvaluator({ loss: { ...LOSS }, threads });
    const bare = async (): Promise<void> => {
      await session.run({ pred: new ort.Tensor('float32', pred, [n]), target: new ort.Tensor('float32', target, [n]) });
    };
    const add = (): Promise<unknown> => ev.add({ pred, target });
    // About 50 ms of work a stretch.
    const calls = Math.max(20, Math.round(50_000 / (0.02 * n + 30)));
    for (let i = 0; i < calls; i++) {
      await bare();
      await add();
    }
    const times = { bare: [] as number[], add: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? (['add', 'bare'] as const) : (['bare', 'add'] as const);
      for (const which of order) {
        const f = which === 'bare' ? bare : add;
        const t0 = performance.now();
        for (let i = 0; i < calls; i++) await f();
        times[which].push(((performance.now() - t0) * 1000) / calls);
      }
    }
    const mean = ev.result().loss;
    const check = (await session.run({ pred: new ort.Tensor('float32', pred, [n]), target: new ort.Tensor('float32', target, [n]) })).loss.data[0] as number;
    if (Math.abs(mean - check) > 1e-5 * Math.abs(check)) throw new Error(`the evaluator's loss ${mean} differs from the bare graph's ${check}`);
    await ev.close();
    await session.release();
    const b = median(times.bare);
    const a = median(times.add);
    rows.push({ elements: n, bareMicros: b, addMicros: a, ratio: a / b, callsPerRound: calls, rounds });
  }
  const lines = ['elements  bare session.run µs  createEvaluator().add µs  ratio', ...rows.map((r) => `${String(r.elements).padStart(8)}  ${r.bareMicros.toFixed(1).padStart(19)}  ${r.addMicros.toFixed(1).padStart(24)}  ${r.ratio.toFixed(2).padStart(5)}`)];
  process.stdout.write(`${lines.join('\n')}\n`);
  const result = { bench: 'small-batch', node: process.version, threads, loss: LOSS, date: new Date().toISOString(), rows };
  fs.writeFileSync(jsonFile, `${JSON.stringify(result, null, 1)}\n`);
  process.stdout.write(`wrote ${jsonFile}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
