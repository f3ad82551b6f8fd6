/**
 * Exact sums (issue 19): what a float32 model's float64 accumulation (`accumulate: 'float64'`, the
 * default: a Cast of the elements, then ReduceSum / ReduceMean in float64) costs against onnxruntime's
 * float32 ReduceSum (`accumulate: 'float32'`), and how far each is from the float64 model, at
 * 10^6 elements a run (binary probabilities, multilabel logits sum, the normalized loss).
 *
 * Both sides in one process on the same data, one intra-op thread, sessions of the runtime's default
 * graph optimization; each round runs one side then the other (alternating which goes first),
 * `rounds` rounds; the figures are medians of ms a run. The relative error is |loss − loss64| / loss64
 * with loss64 the float64 model on the same (float32-rounded) inputs.
 *
 *     npm run bench:accumulate [-- --rounds 21 --json bench/accumulate.json]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as ort from 'onnxruntime-node';
import { LossOptions, buildLoss } from '../src/losses';
import { DEFAULT_GRAPH_OPTIMIZATION } from '../src/runtime';
import { mulberry32 } from '../scripts/prng';
import { scriptFlags } from './args';
import { ROOT } from './bench-rows';

const N = 1_000_000;
const CASES: [string, LossOptions, number[]][] = [
  ['binary probs mean', { task: 'binary' }, [N]],
  ['multilabel probs mean [N/4, 4]', { task: 'multilabel' }, [N / 4, 4]],
  ['multilabel logits sum [N/4, 4]', { task: 'multilabel', input: 'logits', eps: 0, reduction: 'sum' }, [N / 4, 4]],
  ['binary logits normalized mean', { task: 'binary', input: 'logits', eps: 0, normalized: true }, [N]],
];

async function main(): Promise<void> {
  const flags = scriptFlags('accumulate', { rounds: { type: 'number', description: 'rounds (default 21)', integer: true, min: 1 }, json: { type: 'string', description: 'write the rows here' } } as const, process.argv.slice(2));
  const rounds = (flags.rounds as number | undefined) ?? 21;
  const rnd = mulberry32(19);
  const rows: Record<string, unknown>[] = [];
  const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: DEFAULT_GRAPH_OPTIMIZATION };
  for (const [name, options, shape] of CASES) {
    const logits = options.input === 'logits';
    const p32 = new Float32Array(N);
    const t32 = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      p32[i] = logits ? 8 * rnd() - 4 : rnd();
      t32[i] = rnd() < 0.3 ? 1 : 0;
    }
    const feeds32 = { pred: new ort.Tensor('float32', p32, shape), target: new ort.Tensor('float32', t32, shape) };
    const s64 = await ort.InferenceSession.create(buildLoss({ ...options, dtype: 'float64' }, { predShape: shape }).bytes, opts);
    const ref = Number((await s64.run({ pred: new ort.Tensor('float64', Float64Array.from(p32), shape), target: new ort.Tensor('float64', Float64Array.from(t32), shape) })).loss.data[0]);
    const sides = await Promise.all(
      (['float64', 'float32'] as const).map(async (accumulate) => {
        const s = await ort.InferenceSession.create(buildLoss({ ...options, dtype: 'float32', accumulate }, { predShape: shape }).bytes, opts);
        const loss = Number((await s.run(feeds32)).loss.data[0]);
        return { accumulate, s, loss, ms: [] as number[] };
      }),
    );
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 ? [...sides].reverse() : sides) {
        const t0 = performance.now();
        await side.s.run(feeds32);
        side.ms.push(performance.now() - t0);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const [f64, f32] = sides;
    rows.push({
      case: name,
      elements: N,
      float64: { ms: +median(f64.ms).toFixed(2), rel: Math.abs(f64.loss - ref) / Math.abs(ref) },
      float32: { ms: +median(f32.ms).toFixed(2), rel: Math.abs(f32.loss - ref) / Math.abs(ref) },
      ratio: +(median(f64.ms) / median(f32.ms)).toFixed(3),
    });
  }
  const out = { when: new Date().toISOString(), cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`, node: process.version, rounds, loadavg: os.loadavg(), rows };
  for (const r of rows) console.log(JSON.stringify(r));
  if (flags.json) fs.writeFileSync(path.resolve(ROOT, flags.json as string), JSON.stringify(out, null, 1) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
