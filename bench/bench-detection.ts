/**
 * The RetinaNet-shaped bench rows (issue 13), a RowSource of `npm run bench` (bench/bench-rows.ts):
 * one image's classification loss — about 100K anchors × 80 classes of float32 logits — with index
 * targets (int64 [A]: a class in [0, 80), the background 80, −1 for an ignored anchor), normalized
 * by the positive anchors (`--like detectron2`), against the dense multi-label loss on the same
 * logits with the one-hot float32 targets [A, 80] that a caller would otherwise write
 * (`--task multilabel --input logits --eps 0`: every anchor, no ignore).
 *
 * The labels follow a RetinaNet image's mix: ~1% positive anchors, ~10% ignored, the rest
 * background. Each row is `focal-onnx eval --json --threads 2` as a whole process (spawn to exit,
 * peak memory from a preloaded hook) and its streaming time in process (`seconds`). Runs once a
 * repetition, with the multilabel task at the smallest size; `--quick` (or FOCAL_BENCH_ANCHORS)
 * takes fewer anchors.
 *
 *     npx ts-node bench/bench-detection.ts [--anchors 100000] [--reps 1] [--data DIR]   # alone
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeNpy } from '../src/io/npy';
import { DataFiles, ROOT, RowSource, SourceContext, Task, lastJson, run } from './bench-rows';
import { mulberry32 } from '../scripts/prng';

export const CLASSES = 80;
export const DEFAULT_ANCHORS = 100_000;
const QUICK_ANCHORS = 10_000;

interface DetectionFiles {
  readonly logits: string;
  readonly index: string;
  readonly dense: string;
  readonly anchors: number;
}

/** The data of one image (reused when present): logits, index labels, and their dense one-hot. */
export function detectionData(dir: string, anchors: number): DetectionFiles {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `retinanet-${anchors}x${CLASSES}`);
  const files = { logits: `${base}-logits.npy`, index: `${base}-labels.npy`, dense: `${base}-onehot.npy`, anchors };
  if (fs.existsSync(files.logits) && fs.existsSync(files.index) && fs.existsSync(files.dense)) return files;
  const rand = mulberry32(20170807 + anchors);
  const logits = new Float32Array(anchors * CLASSES);
  // A detector's logits: most far below 0 (its prior of 0.01 is a bias of −4.6), spread.
  for (let i = 0; i < logits.length; i++) logits[i] = -4.6 + 3 * (rand() + rand() + rand() - 1.5);
  const labels = new BigInt64Array(anchors);
  const onehot = new Float32Array(anchors * CLASSES);
  for (let a = 0; a < anchors; a++) {
    const r = rand();
    const label = r < 0.01 ? Math.floor(rand() * CLASSES) : r < 0.11 ? -1 : CLASSES;
    labels[a] = BigInt(label);
    if (label >= 0 && label < CLASSES) onehot[a * CLASSES + label] = 1;
  }
  writeNpy(files.logits, 'float32', [anchors, CLASSES], logits);
  writeNpy(files.index, 'int64', [anchors], labels);
  writeNpy(files.dense, 'float32', [anchors, CLASSES], onehot);
  return files;
}

/** A preloaded hook that writes the process's peak RSS (KB) to $FOCAL_BENCH_RSS at exit. */
function rssHook(dir: string): string {
  const file = path.join(dir, 'rss-hook-detection.js');
  fs.writeFileSync(file, "'use strict';\nprocess.on('exit', () => { const f = process.env.FOCAL_BENCH_RSS; if (f) require('fs').writeFileSync(f, String(process.resourceUsage().maxRSS)); });\n");
  return file;
}

export interface DetectionRun {
  readonly variant: 'index' | 'dense';
  readonly wall: number;
  readonly seconds: number;
  readonly loss: number;
  readonly peakBytes: number;
  readonly positives?: number;
  readonly ignored?: number;
}

/** One eval of each variant on the image's data. */
export async function measureDetection(dataDir: string, anchors: number): Promise<DetectionRun[]> {
  const d = detectionData(dataDir, anchors);
  const hook = rssHook(dataDir);
  const variants: [DetectionRun['variant'], string[]][] = [
    ['index', ['--like', 'detectron2', '--target', d.index]],
    ['dense', ['--task', 'multilabel', '--input', 'logits', '--eps', '0', '--target', d.dense]],
  ];
  const out: DetectionRun[] = [];
  for (const [variant, flags] of variants) {
    const rssFile = path.join(dataDir, `rss-detection-${process.pid}.txt`);
    const s = await run(process.execPath, ['-r', hook, path.join(ROOT, 'bin', 'focal-onnx.js'), 'eval', '--pred', d.logits, ...flags, '--json', '--threads', '2'], {
      ...process.env,
      FOCAL_BENCH_RSS: rssFile,
    });
    const r = lastJson<{ loss: number; seconds: number; positives?: number; ignored?: number }>(s, `focal-onnx eval (${variant})`);
    out.push({ variant, wall: s.wall, seconds: r.seconds, loss: r.loss, peakBytes: Number(fs.readFileSync(rssFile, 'utf8')) * 1024, positives: r.positives, ignored: r.ignored });
  }
  return out;
}

const LABELS: Record<DetectionRun['variant'], string> = {
  index: 'RetinaNet image: index targets, ignore −1, / positives (--like detectron2)',
  dense: 'RetinaNet image: dense one-hot float32 targets (--task multilabel --input logits --eps 0)',
};

export const detectionRows: RowSource = {
  name: 'detection (RetinaNet-shaped)',
  async measure(ctx: SourceContext, task: Task, size: number, _files: DataFiles, _rep: number): Promise<void> {
    if (task !== 'multilabel' || size !== Math.min(...ctx.options.sizes)) return;
    const anchors = Number(process.env.FOCAL_BENCH_ANCHORS) || (ctx.options.quick ? QUICK_ANCHORS : DEFAULT_ANCHORS);
    ctx.progress(`RetinaNet-shaped image, ${anchors} anchors × ${CLASSES}`);
    for (const r of await measureDetection(ctx.options.data, anchors)) {
      const elements = anchors * CLASSES;
      const whole = ctx.row({ kind: `detection-${r.variant}`, task, size: elements, threads: 2, whole: true, label: `${LABELS[r.variant]}, whole process` });
      whole.times.push(r.wall);
      whole.peaks.push(r.peakBytes);
      whole.losses.push(r.loss);
      const inproc = ctx.row({ kind: `detection-${r.variant}-inproc`, task, size: elements, threads: 2, label: `${LABELS[r.variant]}, streaming (in-process)` });
      inproc.times.push(r.seconds);
      inproc.peaks.push(r.peakBytes);
      inproc.losses.push(r.loss);
      if (r.positives !== undefined) whole.note = `${r.positives} positive anchors, ${r.ignored} ignored`;
    }
  },
};

// ---- alone ----------------------------------------------------------------------------------------

if (require.main === module) {
  const args = process.argv.slice(2);
  const get = (flag: string, fallback: string): string => {
    const i = args.indexOf(flag);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  const anchors = Number(get('--anchors', String(DEFAULT_ANCHORS)));
  const reps = Number(get('--reps', '1'));
  const data = get('--data', path.join(require('os').tmpdir(), 'focal-onnx-bench'));
  (async () => {
    for (let rep = 0; rep < reps; rep++) {
      for (const r of await measureDetection(data, anchors)) {
        const mps = (anchors * CLASSES) / r.seconds / 1e6;
        process.stdout.write(
          `${r.variant.padEnd(6)} loss ${r.loss.toPrecision(7)}  whole ${r.wall.toFixed(3)} s  streaming ${r.seconds.toFixed(3)} s (${mps.toFixed(1)} M elements/s)  peak ${(r.peakBytes / 2 ** 20).toFixed(0)} MB` +
            `${r.positives !== undefined ? `  positives ${r.positives}, ignored ${r.ignored}` : ''}\n`,
        );
      }
    }
  })().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
