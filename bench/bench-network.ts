/**
 * The benchmark's `eval --network` rows: the loss evaluated on a user's network, here the test
 * CNN (test/fixtures/networks/cnn-dynamo.onnx: images [B, 3, 16, 16] → 10 logits, multiclass
 * focal loss on logits), over a generated validation set of `images` random images and labels.
 *
 * - `network`: `focal-onnx eval --network … --json` as a whole process (spawn to exit);
 * - `network-inproc`: the same streaming in process (`evaluateNetwork`), its images per second;
 *
 * - `network-loss`: the loss's share of the time, per batch of eval --network's size: the loss graph
 *   alone on the CNN's logits, over the network with the loss attached, and the CNN alone — medians
 *   of interleaved runs on one batch (the difference of two streamed totals is within the noise of
 *   a shared machine: the loss is a few percent of the CNN). Its times are the loss alone per
 *   batch, scaled to the whole set.
 *
 * A row's `size` is the number of images. Measured once a repetition, with the first task and size
 * of the run (the CNN's files are its own).
 *
 * Also runnable alone, to show it works: `node dist/bench/bench-network.js --images 2048 --reps 2`
 * prints the rows as JSON.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { NpyReader, writeNpy } from '../src/io/npy';
import { attachLoss } from '../src/attach';
import { buildLoss } from '../src/losses';
import { DEFAULT_NETWORK_BATCH_ELEMENTS, evaluateNetwork } from '../src/runtime/evaluate-network';
import { createSession, HostTensor } from '../src/runtime/session';
import { ROOT, Row, RowKey, RowSource, SourceContext, lastJson, run } from './bench-rows';
import { mulberry32 } from '../scripts/prng';
import { scriptFlags } from './args';

export const NETWORK = path.join(ROOT, 'test', 'fixtures', 'networks', 'cnn-dynamo.onnx');
const IMAGE: readonly number[] = [3, 16, 16];
const CLASSES = 10;
const LOSS_FLAGS = ['--task', 'multiclass', '--input', 'logits', '--alpha', 'none'];
const THREADS = 2;

/** Writes `images` random images (standard normal, float32) and labels (int64) into `dir`, once. */
export function networkData(dir: string, images: number): { x: string; t: string } {
  const x = path.join(dir, `cnn-images-${images}.npy`);
  const t = path.join(dir, `cnn-labels-${images}.npy`);
  if (fs.existsSync(x) && fs.existsSync(t)) return { x, t };
  const rand = mulberry32(20261201);
  const per = IMAGE.reduce((a, b) => a * b, 1);
  const data = new Float32Array(images * per);
  for (let i = 0; i < data.length; i += 2) {
    // Box–Muller: two standard normals from two uniforms.
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const a = 2 * Math.PI * rand();
    data[i] = r * Math.cos(a);
    if (i + 1 < data.length) data[i + 1] = r * Math.sin(a);
  }
  writeNpy(x, 'float32', [images, ...IMAGE], data);
  writeNpy(t, 'int64', [images], BigInt64Array.from({ length: images }, () => BigInt(Math.floor(rand() * CLASSES))));
  return { x, t };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Per batch (eval --network's batch of images): the seconds of the loss graph alone on the CNN's
 * logits and of the CNN with the loss attached, medians of `runs` interleaved runs.
 */
async function lossShare(x: string, threads: number, runs: number): Promise<{ loss: number; combined: number; alone: number; batchRows: number }> {
  const per = IMAGE.reduce((a, b) => a * b, 1);
  const batchRows = Math.max(1, Math.floor(DEFAULT_NETWORK_BATCH_ELEMENTS / per));
  const reader = NpyReader.open(x);
  const images = new Float32Array(batchRows * per);
  reader.readIntoSync(images as never, 0, Math.min(images.length, reader.header.count));
  reader.close();
  const target = BigInt64Array.from({ length: batchRows }, (_, i) => BigInt(i % CLASSES));
  const options = { task: 'multiclass', input: 'logits', alpha: 'none' } as const;
  const combined = await createSession(attachLoss(fs.readFileSync(NETWORK), { ...options, output: 'logits', reduction: 'none' }).bytes, { threads });
  const alone = await createSession(NETWORK, { threads });
  const loss = await createSession(buildLoss({ ...options, opset: 18, reduction: 'none' }, { predShape: ['N', CLASSES] }).bytes, { threads });
  try {
    const feed = { images: { dtype: 'float32', dims: [batchRows, ...IMAGE], data: images } as HostTensor };
    const t = { dtype: 'int64', dims: [batchRows], data: target } as HostTensor;
    const logits = (await alone.run(feed, ['logits'])).logits;
    const a: number[] = [];
    const b: number[] = [];
    const c: number[] = [];
    const time = async (f: () => Promise<unknown>): Promise<number> => {
      const t0 = performance.now();
      await f();
      return (performance.now() - t0) / 1000;
    };
    for (let i = 0; i < runs + 2; i++) {
      const dl = await time(() => loss.run({ pred: logits, target: t }, ['loss']));
      const dc = await time(() => combined.run({ ...feed, target: t }, ['loss']));
      const da = await time(() => alone.run(feed, ['logits']));
      if (i >= 2) {
        a.push(dl);
        b.push(dc);
        c.push(da);
      }
    }
    return { loss: median(a), combined: median(b), alone: median(c), batchRows };
  } finally {
    await Promise.all([combined.release(), alone.release(), loss.release()]);
  }
}

interface EvalJson {
  loss: number;
  seconds: number;
  rowsPerSecond: number;
}

/** One repetition of the three rows (see the top of this file). */
export async function measureNetwork(row: (key: RowKey) => Row, dir: string, images: number, progress: (what: string) => void = () => undefined): Promise<void> {
  const { x, t } = networkData(dir, images);
  const task = 'binary' as const; // a Row's task; the network's loss is multiclass (its label says so)
  progress('eval --network, whole process');
  const s = await run(process.execPath, [
    path.join(ROOT, 'bin', 'focal-onnx.js'),
    'eval',
    '--network',
    NETWORK,
    '--output',
    'logits',
    '--feed',
    `images=${x}`,
    '--target',
    t,
    ...LOSS_FLAGS,
    '--threads',
    String(THREADS),
    '--json',
  ]);
  const j = lastJson<EvalJson>(s, 'focal-onnx eval --network');
  const whole = row({ kind: 'network', task, size: images, threads: THREADS, whole: true, label: 'eval --network, CNN (images/s), whole process' });
  whole.times.push(s.wall);
  whole.peaks.push(0);
  whole.losses.push(j.loss);

  progress('eval --network, in process');
  const r = await evaluateNetwork({ network: NETWORK, output: 'logits', feeds: { images: x }, target: t, loss: { task: 'multiclass', input: 'logits', alpha: 'none' }, threads: THREADS });
  const inproc = row({ kind: 'network-inproc', task, size: images, threads: THREADS, label: 'eval --network, CNN (images/s), streaming in process' });
  inproc.times.push(r.seconds);
  inproc.peaks.push(process.memoryUsage().rss);
  inproc.losses.push(r.loss);

  progress('the loss alone and the CNN with the loss, per batch');
  // One thread each: with several sessions of two threads interleaved, each one's spinning thread
  // pool takes the cores from the next (measured: 5× slower batches).
  const share = await lossShare(x, 1, 40);
  const lossRow = row({ kind: 'network-loss', task, size: images, threads: 1, label: "the loss alone on the CNN's logits (its share of eval --network's time)" });
  lossRow.times.push((share.loss * images) / share.batchRows);
  lossRow.peaks.push(process.memoryUsage().rss);
  lossRow.losses.push(NaN);
  lossRow.note =
    `${(100 * (share.loss / share.combined)).toFixed(1)}% of the time of the CNN with the loss: ${(share.loss * 1e3).toFixed(3)} of ${(share.combined * 1e3).toFixed(2)} ms ` +
    `a batch of ${share.batchRows} images on one thread (the CNN alone ${(share.alone * 1e3).toFixed(2)} ms; medians of 40 interleaved runs)`;

  const best = (xs: number[]): number => Math.min(...xs);
  inproc.note = `${Math.round(images / best(inproc.times))} images/s`;
  whole.note = `${Math.round(images / best(whole.times))} images/s, process start and session load included`;
}

/** The RowSource bench.ts lists: the CNN rows once a repetition, with the run's first task and size. */
export const networkRows: RowSource = {
  name: 'eval --network',
  async measure(ctx: SourceContext, task, size, _files, _rep) {
    if (task !== 'binary' || size !== ctx.options.sizes[0]) return;
    const images = ctx.options.quick ? 4096 : 32768;
    await measureNetwork((k) => ctx.row(k), ctx.options.data, images, (w) => ctx.progress(w));
  },
};

async function main(): Promise<void> {
  const flags = scriptFlags(
    'bench-network',
    {
      images: { type: 'number', integer: true, min: 1, description: 'images in the generated validation set (default 2048)' },
      reps: { type: 'number', integer: true, min: 1, description: 'repetitions (default 2)' },
    },
    process.argv.slice(2),
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-bench-network-'));
  const rows: Row[] = [];
  const row = (key: RowKey): Row => {
    const found = rows.find((r) => r.kind === key.kind && r.size === key.size);
    if (found) return found;
    const made: Row = { ...key, times: [], peaks: [], losses: [] };
    rows.push(made);
    return made;
  };
  try {
    for (let rep = 0; rep < (flags.reps ?? 2); rep++) await measureNetwork(row, dir, flags.images ?? 2048, (w) => process.stderr.write(`${w}\n`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(rows, null, 1)}\n`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
