/**
 * What `eval --diagnostics` costs beside plain `eval` (issue 21), interleaved on the same pair of
 * `.npy` files (binary float32, 32M elements by default: npm run bench's data):
 *
 * - whole process: `node DIR/bin/focal-onnx.js eval --pred P --target T --json [--diagnostics]`,
 *   spawn to exit;
 * - in process: a child node process per run that loads DIR/dist/src/index.js and times its own
 *   `evaluate({ pred, target[, diagnostics: true] })` (the default sweep, γ 0, 0.5, 1, 2, 5).
 *
 * Variants: this checkout's plain eval and its `--diagnostics`, and with `--base DIR` (another
 * checkout, its dist built) the base's `--diagnostics` and plain eval too: before / after in the same
 * rounds. A round runs every variant once in each mode, the order rotating by round; one warm-up
 * round is not counted. Reported: median / min / max seconds, and the median over rounds of each
 * variant / this checkout's plain eval. Every run must give plain eval's loss (1e-6 relative).
 *
 *     npm run bench:diagnostics -- [--base DIR] [--elements 32M] [--rounds 7] [--json bench/diagnostics-ab.json]
 */
import * as os from 'os';
import * as path from 'path';
import { MODES, Mode, Side, Stats, abMain, abMeta, commitOf } from './ab';
import { ROOT, dataFor, fmtSize, lastJson, run } from './bench-rows';
import { median } from './small-batch';

interface Variant {
  readonly side: Side;
  readonly diagnostics: boolean;
}

const key = (v: Variant): string => `${v.side.name} ${v.diagnostics ? 'eval --diagnostics' : 'eval'}`;

/** The in-process child: loads the side's library, times its evaluate() call, prints JSON. */
const INPROC = `
const { performance } = require('perf_hooks');
const [lib, pred, target, diag] = process.argv.slice(1);
const { evaluate } = require(lib);
(async () => {
  const t0 = performance.now();
  const r = await evaluate({ pred, target, ...(diag === '1' ? { diagnostics: true } : {}) });
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ seconds, loss: r.loss, elements: r.elements, sweep: r.diagnostics ? r.diagnostics.gammaSweep.length : 0 }) + '\\n');
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\\n'); process.exit(1); });
`;

async function once(v: Variant, mode: Mode, pred: string, target: string): Promise<{ seconds: number; loss: number; elements: number }> {
  if (mode === 'whole') {
    const s = await run(process.execPath, [path.join(v.side.dir, 'bin', 'focal-onnx.js'), 'eval', '--pred', pred, '--target', target, '--json', ...(v.diagnostics ? ['--diagnostics'] : [])]);
    const r = lastJson<{ loss: number; elements: number; diagnostics?: object }>(s, key(v));
    if (v.diagnostics !== (r.diagnostics !== undefined)) throw new Error(`${key(v)}: diagnostics ${r.diagnostics ? 'given' : 'missing'}`);
    return { seconds: s.wall, loss: r.loss, elements: r.elements };
  }
  const s = await run(process.execPath, ['-e', INPROC, path.join(v.side.dir, 'dist', 'src', 'index.js'), pred, target, v.diagnostics ? '1' : '0']);
  const r = lastJson<{ seconds: number; loss: number; elements: number; sweep: number }>(s, `${key(v)} evaluate()`);
  if (v.diagnostics !== r.sweep > 0) throw new Error(`${key(v)} evaluate(): diagnostics ${r.sweep ? 'given' : 'missing'}`);
  return r;
}

export interface DiagnosticsAb {
  readonly meta: Record<string, unknown>;
  readonly sides: Side[];
  readonly elements: number;
  readonly rounds: number;
  readonly loss: number;
  /** Per mode and variant (`this eval`, `this eval --diagnostics`, `base …`): seconds, and the median of each round's variant / this eval. */
  readonly modes: Record<Mode, Record<string, Stats & { ratio: number }>>;
}

export async function abDiagnostics(o: { base?: string; elements?: number; rounds?: number; data?: string; progress?: (w: string) => void }): Promise<DiagnosticsAb> {
  const elements = o.elements ?? 32 << 20;
  const rounds = o.rounds ?? 7;
  const data = o.data ?? process.env.FOCAL_BENCH_DATA ?? path.join(os.tmpdir(), 'focal-onnx-bench');
  const progress = o.progress ?? (() => undefined);
  const sides: Side[] = [{ name: 'this', dir: ROOT, commit: commitOf(ROOT) }];
  if (o.base) sides.push({ name: 'base', dir: path.resolve(o.base), commit: commitOf(o.base) });
  const variants: Variant[] = sides.flatMap((side) => [false, true].map((diagnostics) => ({ side, diagnostics })));
  const files = await dataFor(data, 'binary', elements);
  const times: Record<Mode, Record<string, number[]>> = { whole: {}, inproc: {} };
  const ratios: Record<Mode, Record<string, number[]>> = { whole: {}, inproc: {} };
  let loss: number | undefined;
  const loadBefore = os.loadavg();
  for (let r = -1; r < rounds; r++) {
    const shift = ((r % variants.length) + variants.length) % variants.length;
    const order = [...variants.slice(shift), ...variants.slice(0, shift)];
    for (const mode of MODES) {
      const got: Record<string, number> = {};
      for (const v of order) {
        progress(`round ${r < 0 ? 'warm-up' : r + 1}/${rounds}: ${mode}, ${key(v)}`);
        const x = await once(v, mode, files.pred, files.target);
        if (x.elements !== elements) throw new Error(`${key(v)} ${mode}: ${x.elements} elements evaluated, expected ${elements}`);
        loss ??= x.loss;
        if (!(Math.abs(x.loss - loss) <= 1e-6 * Math.abs(loss))) throw new Error(`${key(v)} ${mode}: loss ${x.loss}, but ${loss} before`);
        got[key(v)] = x.seconds;
      }
      if (r < 0) continue;
      for (const v of variants) {
        (times[mode][key(v)] ??= []).push(got[key(v)]);
        (ratios[mode][key(v)] ??= []).push(got[key(v)] / got['this eval']);
      }
    }
  }
  const modes = Object.fromEntries(
    MODES.map((m) => [m, Object.fromEntries(variants.map((v) => { const t = times[m][key(v)]; return [key(v), { median: median(t), min: Math.min(...t), max: Math.max(...t), runs: t, ratio: median(ratios[m][key(v)]) }]; }))]),
  ) as DiagnosticsAb['modes'];
  return {
    meta: abMeta(loadBefore, elements),
    sides,
    elements,
    rounds,
    loss: loss as number,
    modes,
  };
}

/** The Markdown table of an A/B. */
export function diagnosticsTable(r: DiagnosticsAb): string {
  const rows: string[] = [`| ${fmtSize(r.elements)} elements, binary | mode | s, median (min–max) | / this eval (median of rounds) |`, '| --- | --- | ---: | ---: |'];
  for (const m of MODES) {
    for (const [k, s] of Object.entries(r.modes[m])) rows.push(`| ${k} | ${m === 'whole' ? 'whole process' : 'in process'} | ${s.median.toFixed(3)} (${s.min.toFixed(3)}–${s.max.toFixed(3)}) | ${s.ratio.toFixed(2)} |`);
  }
  return rows.join('\n');
}

if (require.main === module) {
  abMain<DiagnosticsAb>('diagnostics-ab', {
    base: { help: 'another checkout (its dist built) whose eval and eval --diagnostics run in the same rounds', required: false },
    rounds: 7,
    run: abDiagnostics,
    text: (r) => `${r.sides.map((s) => `${s.name} ${s.dir} (${s.commit ?? 'not a git checkout'})`).join(', ')}; ${r.rounds} rounds; loss ${r.loss}; load ${r.meta.load ? JSON.stringify(r.meta.load) : ''}\n\n${diagnosticsTable(r)}`,
  }, process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`diagnostics-ab: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
