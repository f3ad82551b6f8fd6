/**
 * `npm run bench` rows for what the losses people train with cost (issue 12): `focal-onnx eval`
 * on the bench's own files with the soft form — soft targets (the 0/1 targets are valid soft
 * targets, so the loss is the hard one's), label smoothing of the hard targets, and for binary
 * torchvision's call (`--like torchvision --reduction mean` on the logits file) — whole process
 * and streaming (eval's own `seconds`), at 2 threads, beside bench.ts's hard-target eval rows of
 * the same files. The hard-target paths themselves are unchanged: the default graphs are the same
 * bytes as before (test/losses/presets.test.ts, models/).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataFiles, ROOT, RowSource, SourceContext, Task, fmtSize, lastJson, run } from './bench-rows';

interface Variant {
  readonly name: string;
  readonly flags: readonly string[];
  /** Runs on the logits file (binary only). */
  readonly logits?: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'soft targets', flags: ['--targets', 'soft'] },
  { name: 'label smoothing 0.1', flags: ['--label-smoothing', '0.1'] },
  { name: 'like torchvision (logits, soft, mean)', flags: ['--like', 'torchvision', '--reduction', 'mean'], logits: true },
];

const THREADS = 2;

/** A preload that writes the child's peak RSS (kB) to $FOCAL_BENCH_RSS at exit (as bench.ts's eval rows). */
function hook(dir: string): string {
  const file = path.join(dir, 'rss-hook-soft.js');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, "'use strict';\nprocess.on('exit', () => { const f = process.env.FOCAL_BENCH_RSS; if (f) require('fs').writeFileSync(f, String(process.resourceUsage().maxRSS)); });\n");
  return file;
}

/** Measures one repetition of every variant for `task` and `size`: the rows it filled. */
export async function measureSoft(ctx: SourceContext, task: Task, size: number, files: DataFiles): Promise<void> {
  const preload = hook(ctx.options.data);
  for (const v of VARIANTS) {
    const pred = v.logits ? files.logits : files.pred;
    if (pred === undefined) continue;
    ctx.progress(`eval, ${v.name}, ${task} ${fmtSize(size)}`);
    const rss = path.join(ctx.options.data, `rss-soft-${process.pid}.txt`);
    const args = ['-r', preload, path.join(ROOT, 'bin', 'focal-onnx.js'), 'eval', '--pred', pred, '--target', files.target, ...(task === 'multilabel' ? ['--task', 'multilabel'] : []), ...v.flags];
    const s = await run(process.execPath, [...args, '--json', '--threads', String(THREADS), '--no-progress'], { ...process.env, FOCAL_BENCH_RSS: rss });
    const out = lastJson<{ loss: number; seconds: number }>(s, `eval ${v.flags.join(' ')}`);
    const peak = Number(fs.readFileSync(rss, 'utf8')) * 1024;
    fs.rmSync(rss, { force: true });
    const whole = ctx.row({ kind: 'soft', task, size, threads: THREADS, whole: true, label: `focal-onnx eval, ${v.name}, whole process` });
    whole.times.push(s.wall);
    whole.peaks.push(peak);
    whole.losses.push(out.loss);
    const streaming = ctx.row({ kind: 'soft-inproc', task, size, threads: THREADS, label: `focal-onnx eval, ${v.name}, streaming (in-process)` });
    streaming.times.push(out.seconds);
    streaming.peaks.push(peak);
    streaming.losses.push(out.loss);
  }
}

export const softRows: RowSource = {
  name: 'soft targets',
  measure: (ctx, task, size, files) => measureSoft(ctx, task, size, files),
};
