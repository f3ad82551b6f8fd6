/**
 * `npm run bench` rows for what `eval --diagnostics` costs (issue 21): the bench's own files
 * evaluated with `--diagnostics` and the default sweep (γ 0, 0.5, 1, 2, 5: four more losses built
 * into the model, each summed, the γ sweep's per-element losses binned in JS with the evaluated
 * loss's), whole process and streaming (eval's own `seconds`), at 2 threads — beside bench.ts's
 * plain `eval` rows of the same files and threads. Plain eval builds the same graph as before
 * (no diagnostics: no extra output, no extra fetch).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataFiles, ROOT, RowSource, SourceContext, Task, fmtSize, lastJson, run } from './bench-rows';

const THREADS = 2;

/** A preload that writes the child's peak RSS (kB) to $FOCAL_BENCH_RSS at exit (as bench.ts's eval rows). */
function hook(dir: string): string {
  const file = path.join(dir, 'rss-hook-diagnostics.js');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, "'use strict';\nprocess.on('exit', () => { const f = process.env.FOCAL_BENCH_RSS; if (f) require('fs').writeFileSync(f, String(process.resourceUsage().maxRSS)); });\n");
  return file;
}

/** One repetition of `eval --diagnostics` for `task` and `size`. */
export async function measureDiagnostics(ctx: SourceContext, task: Task, size: number, files: DataFiles): Promise<void> {
  const preload = hook(ctx.options.data);
  ctx.progress(`eval --diagnostics, ${task} ${fmtSize(size)}`);
  const rss = path.join(ctx.options.data, `rss-diagnostics-${process.pid}.txt`);
  const args = ['-r', preload, path.join(ROOT, 'bin', 'focal-onnx.js'), 'eval', '--pred', files.pred, '--target', files.target, ...(task === 'multilabel' ? ['--task', 'multilabel'] : [])];
  const s = await run(process.execPath, [...args, '--diagnostics', '--json', '--threads', String(THREADS), '--no-progress'], { ...process.env, FOCAL_BENCH_RSS: rss });
  const out = lastJson<{ loss: number; seconds: number }>(s, 'eval --diagnostics');
  const peak = Number(fs.readFileSync(rss, 'utf8')) * 1024;
  fs.rmSync(rss, { force: true });
  const whole = ctx.row({ kind: 'diagnostics', task, size, threads: THREADS, whole: true, label: 'focal-onnx eval --diagnostics (default sweep), whole process' });
  whole.times.push(s.wall);
  whole.peaks.push(peak);
  whole.losses.push(out.loss);
  const streaming = ctx.row({ kind: 'diagnostics-inproc', task, size, threads: THREADS, label: 'focal-onnx eval --diagnostics (default sweep), streaming (in-process)' });
  streaming.times.push(out.seconds);
  streaming.peaks.push(peak);
  streaming.losses.push(out.loss);
}

export const diagnosticsRows: RowSource = {
  name: 'eval --diagnostics',
  measure: (ctx, task, size, files) => measureDiagnostics(ctx, task, size, files),
};
