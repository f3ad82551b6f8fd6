/**
 * A/B of file `eval` (issue 18): another checkout (`--base`, e.g. the main of before a change,
 * its dist built) against this one, on the same pair of `.npy` files (binary float32, 32M elements
 * by default: the bench's generated data, shared with `npm run bench`), interleaved.
 *
 * - whole process: `node DIR/bin/focal-onnx.js eval --pred P --target T --json`, spawn to exit;
 * - in process: a child node process per run that loads DIR/dist/src/index.js, then times its own
 *   `evaluate({ pred, target })` call (the API's defaults, as eval's).
 *
 * A round runs each side once in each mode; which side goes first alternates by round, and one
 * warm-up round (page cache, disk) is not counted. Reported: median / min / max seconds of each
 * side and mode, and the median over rounds of this / base (below 1: this checkout is faster).
 * Both sides must give the same loss (1e-6 relative), or the A/B stops.
 *
 *     npm run bench:ab -- --base /path/to/other/checkout [--elements 32M] [--rounds 15] [--json bench/ab.json]
 *
 * Quiet machine wanted: the figures are wall-clock; the load average before and after is recorded.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { scriptFlags } from './args';
import { ROOT, Spawned, dataFor, fmtSize, lastJson, run } from './bench-rows';
import { median } from './small-batch';

export type Mode = 'whole' | 'inproc';
export const MODES: readonly Mode[] = ['whole', 'inproc'];

export interface Side {
  /** 'base' or 'this'. */
  readonly name: 'base' | 'this';
  /** The checkout's root (its bin/ and dist/src/). */
  readonly dir: string;
  /** Its git commit, when it is a git checkout. */
  readonly commit: string | null;
}

export interface Stats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Every counted run, seconds, in round order. */
  readonly runs: number[];
}

export interface AbResult {
  readonly meta: Record<string, unknown>;
  readonly base: Side;
  readonly this: Side;
  readonly elements: number;
  readonly rounds: number;
  readonly loss: number;
  /** Per mode: each side's seconds, and the median of each round's this / base. */
  readonly modes: Record<Mode, { base: Stats; this: Stats; ratio: number }>;
}

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}' (e.g. 1M, 32M, 65536)`);
  const unit = m[2].toLowerCase() === 'm' ? 1 << 20 : m[2].toLowerCase() === 'k' ? 1 << 10 : 1;
  return Math.round(Number(m[1]) * unit);
}

export function commitOf(dir: string): string | null {
  const r = spawnSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const dirty = spawnSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' });
  return r.stdout.trim() + (dirty.status === 0 && dirty.stdout.trim() !== '' ? ' (with uncommitted changes)' : '');
}

/** The in-process child: loads the side's library, times its evaluate() call, prints JSON. */
const INPROC = `
const { performance } = require('perf_hooks');
const [lib, pred, target] = process.argv.slice(1);
const { evaluate } = require(lib);
(async () => {
  const t0 = performance.now();
  const r = await evaluate({ pred, target });
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ seconds, loss: r.loss, elements: r.elements }) + '\\n');
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\\n'); process.exit(1); });
`;

/** One run of `side` in `mode`: its seconds and loss. */
async function once(side: Side, mode: Mode, pred: string, target: string): Promise<{ seconds: number; loss: number; elements: number }> {
  if (mode === 'whole') {
    const s: Spawned = await run(process.execPath, [path.join(side.dir, 'bin', 'focal-onnx.js'), 'eval', '--pred', pred, '--target', target, '--json']);
    const r = lastJson<{ loss: number; elements: number }>(s, `${side.name} eval`);
    return { seconds: s.wall, loss: r.loss, elements: r.elements };
  }
  const s = await run(process.execPath, ['-e', INPROC, path.join(side.dir, 'dist', 'src', 'index.js'), pred, target]);
  return lastJson<{ seconds: number; loss: number; elements: number }>(s, `${side.name} evaluate()`);
}

const stats = (runs: number[]): Stats => ({ median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs });

export interface AbOptions {
  readonly base: string;
  readonly elements?: number;
  readonly rounds?: number;
  /** Where the data files go (default $FOCAL_BENCH_DATA or <tmp>/focal-onnx-bench, shared with npm run bench). */
  readonly data?: string;
  readonly progress?: (what: string) => void;
}

/** Checks that `dir` is a checkout with a built dist; the message names --base. */
export function checkBase(dir: string): string | undefined {
  for (const f of [path.join('bin', 'focal-onnx.js'), path.join('dist', 'src', 'index.js'), path.join('dist', 'src', 'cli', 'main.js')]) {
    if (!fs.existsSync(path.join(dir, f))) return `--base: expected a focal-onnx checkout with its dist built, found no ${f} in ${dir} (run 'npm run build' there)`;
  }
  return undefined;
}

export async function abEval(o: AbOptions): Promise<AbResult> {
  const elements = o.elements ?? 32 << 20;
  const rounds = o.rounds ?? 15;
  const data = o.data ?? process.env.FOCAL_BENCH_DATA ?? path.join(os.tmpdir(), 'focal-onnx-bench');
  const progress = o.progress ?? (() => undefined);
  const sides: [Side, Side] = [
    { name: 'base', dir: path.resolve(o.base), commit: commitOf(o.base) },
    { name: 'this', dir: ROOT, commit: commitOf(ROOT) },
  ];
  progress(`data: binary ${fmtSize(elements)} in ${data}`);
  const files = await dataFor(data, 'binary', elements);
  const times: Record<Mode, Record<'base' | 'this', number[]>> = { whole: { base: [], this: [] }, inproc: { base: [], this: [] } };
  const ratios: Record<Mode, number[]> = { whole: [], inproc: [] };
  let loss: number | undefined;
  const loadBefore = os.loadavg();
  for (let r = -1; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : ([sides[1], sides[0]] as const);
    for (const mode of MODES) {
      const got: Partial<Record<'base' | 'this', number>> = {};
      for (const side of order) {
        progress(`round ${r < 0 ? 'warm-up' : r + 1}/${rounds}: ${mode}, ${side.name}`);
        const x = await once(side, mode, files.pred, files.target);
        if (x.elements !== elements) throw new Error(`${side.name} ${mode}: ${x.elements} elements evaluated, expected ${elements}`);
        loss ??= x.loss;
        if (!(Math.abs(x.loss - loss) <= 1e-6 * Math.abs(loss))) throw new Error(`${side.name} ${mode}: loss ${x.loss}, but ${loss} before: the two sides do not compute the same loss`);
        got[side.name] = x.seconds;
      }
      if (r < 0) continue;
      times[mode].base.push(got.base as number);
      times[mode].this.push(got.this as number);
      ratios[mode].push((got.this as number) / (got.base as number));
    }
  }
  const modes = Object.fromEntries(MODES.map((m) => [m, { base: stats(times[m].base), this: stats(times[m].this), ratio: median(ratios[m]) }])) as AbResult['modes'];
  return {
    meta: abMeta(loadBefore, elements),
    base: sides[0],
    this: sides[1],
    elements,
    rounds,
    loss: loss as number,
    modes,
  };
}

const LABEL: Record<Mode, string> = { whole: 'eval, whole process', inproc: 'evaluate(), in process' };

/** The Markdown table of an A/B. */
export function abTable(r: AbResult): string {
  const f = (s: Stats): string => `${s.median.toFixed(3)} (${s.min.toFixed(3)}–${s.max.toFixed(3)})`;
  const mps = (s: Stats): string => ((x) => (x < 100 ? x.toFixed(1) : x.toFixed(0)))(r.elements / s.median / 1e6);
  return [
    `| ${fmtSize(r.elements)} elements, binary | base: s, median (min–max) | this: s, median (min–max) | base / this, M el/s | this / base (median of rounds) |`,
    '| --- | ---: | ---: | ---: | ---: |',
    ...MODES.map((m) => `| ${LABEL[m]} | ${f(r.modes[m].base)} | ${f(r.modes[m].this)} | ${mps(r.modes[m].base)} / ${mps(r.modes[m].this)} | ${r.modes[m].ratio.toFixed(3)} |`),
  ].join('\n');
}

/** What an A/B ran on: the date, CPU, node, the load average before and after, the data. */
export function abMeta(loadBefore: number[], elements: number): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    cpu: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    node: process.version,
    load: { before: loadBefore, after: os.loadavg() },
    data: `binary float32 probabilities uniform in [0, 1), float32 0/1 targets (30% ones): npm run bench's files (${fmtSize(elements)})`,
  };
}

/** What an A/B script (this one, diagnostics-ab.ts) runs: its options from the shared flags, its text. */
export interface AbScript<R> {
  /** --base's help; `required`: the script needs it. */
  readonly base: { help: string; required: boolean };
  /** Interleaved rounds by default. */
  readonly rounds: number;
  readonly run: (o: { base?: string; elements?: number; rounds?: number; data?: string; progress: (w: string) => void }) => Promise<R>;
  /** The lines printed above the table, and the table. */
  readonly text: (r: R) => string;
}

/** The command line the A/B scripts share: --base (checked), --elements, --rounds, --data, --json; runs, prints, writes the JSON (default bench/SCRIPT.json). */
export async function abMain<R>(script: string, how: AbScript<R>, argv: readonly string[]): Promise<void> {
  const f = scriptFlags(script, {
    base: { type: 'string', description: how.base.help },
    elements: { type: 'string', placeholder: '32M', description: 'elements of the binary files (default 32M)' },
    rounds: { type: 'number', integer: true, min: 1, description: `interleaved rounds (default ${how.rounds}), after one warm-up round` },
    data: { type: 'string', description: "where the data files go (default npm run bench's)" },
    json: { type: 'string', description: `where the JSON goes (default bench/${script}.json)` },
  } as const, argv);
  const fail = (message: string): never => {
    process.stderr.write(`${script}: ${message}\n`);
    process.exit(2);
  };
  if (how.base.required && f.base === undefined) fail('--base is required: the checkout to compare with (its dist built)');
  const base = f.base === undefined ? undefined : path.resolve(f.base);
  const bad = base && checkBase(base);
  if (bad) fail(bad);
  let elements: number | undefined;
  if (f.elements !== undefined) {
    try {
      elements = parseSize(f.elements);
    } catch (e) {
      fail(`--elements: ${(e as Error).message}`);
    }
  }
  const r = await how.run({ base, elements, rounds: f.rounds, data: f.data === undefined ? undefined : path.resolve(f.data), progress: (w) => process.stderr.write(`\r  ${w}`.padEnd(78)) });
  process.stderr.write('\n');
  process.stdout.write(`${how.text(r)}\n`);
  const file = path.resolve(f.json ?? path.join(ROOT, 'bench', `${script}.json`));
  fs.writeFileSync(file, `${JSON.stringify(r, null, 1)}\n`);
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

if (require.main === module) {
  abMain<AbResult>('ab', {
    base: { help: 'the other checkout (its dist built): what this one is compared with', required: true },
    rounds: 15,
    run: (o) => abEval({ ...o, base: o.base as string }),
    text: (r) => `base ${r.base.dir} (${r.base.commit ?? 'not a git checkout'}), this ${r.this.dir} (${r.this.commit ?? 'not a git checkout'}); ${r.rounds} rounds; loss ${r.loss}\n\n${abTable(r)}`,
  }, process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`ab: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
