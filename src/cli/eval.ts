/**
 * `focal-onnx eval`: the focal loss of a prediction file against a target file (`.npy`), streamed
 * in batches (see runtime/evaluate.ts), with a model file or one built from the loss flags.
 * Prints a readable summary, or one JSON object with `--json`; `--out` writes the per-element
 * losses. A progress bar goes to stderr when it is a terminal.
 */
import * as fs from 'fs';
import { UsageError, quote } from '../errors';
import { LossOptions, WEIGHTS } from '../losses';
import { DEFAULT_BATCH_ELEMENTS, EXECUTION_PROVIDERS, EvaluateOptions, EvaluateResult, GRAPH_OPTIMIZATION_LEVELS, evaluate } from '../runtime';
import { EvaluateNetworkResult, evaluateNetwork } from '../runtime/evaluate-network';
import { ExecutionProviderChoice, GraphOptimizationLevel } from '../runtime/session';
import { FlagSpecs, ParsedFlags, parseArgs } from './args';
import { CliIO, Command, write } from './command';
import { describeOptions, formatLoss } from './format';
import { LOSS_FLAGS, flagLabel, flagTokens, givenLossFlags, lossOptionsFromFlags } from './loss-flags';
import { ProgressBar, compact } from './progress';
import { DEFAULT_SWEEP_GAMMA, Diagnostics, DiagnosticsOptions } from '../diagnostics/accumulate';
import { curveAt, renderReport } from '../diagnostics/report';
import { createTempFile, discardTempFile, writeFileAtomic } from '../io/atomic';
import type { EvaluatorResult } from '../runtime/evaluator';

/** `--sweep-gamma 0,0.5,1`: the list, or a UsageError naming the flag. */
function numberList(flag: string, text: string, ok: (x: number) => boolean, what: string): number[] {
  const parts = text.split(',').map((x) => x.trim());
  const xs = parts.map((x) => (x === '' ? NaN : Number(x)));
  const bad = xs.findIndex((x) => !ok(x));
  if (bad >= 0) throw new UsageError(`--${flag} must be a comma-separated list of ${what}, got ${quote(parts[bad])} in ${quote(text)}`);
  return xs;
}

/** The diagnostics the flags ask for: --diagnostics, --report, or a sweep list (each implies them). */
function diagnosticsFromFlags(flags: Flags): DiagnosticsOptions | undefined {
  const g = flags['sweep-gamma'];
  const a = flags['sweep-alpha'];
  if (!flags.diagnostics && flags.report === undefined && g === undefined && a === undefined) return undefined;
  if (flags.report !== undefined && !flags.report.toLowerCase().endsWith('.html') && !flags.report.toLowerCase().endsWith('.htm')) {
    throw new UsageError(`--report must name an .html file, got ${quote(flags.report)}`);
  }
  if (flags.report !== undefined) {
    // Where it goes is checked before the evaluation (a missing directory, a directory in the way).
    discardTempFile(createTempFile(flags.report));
  }
  return {
    ...(g !== undefined ? { sweepGamma: numberList('sweep-gamma', g, (x) => Number.isFinite(x) && x >= 0, 'numbers >= 0') } : {}),
    ...(a !== undefined ? { sweepAlpha: numberList('sweep-alpha', a, (x) => x >= 0 && x <= 1, 'numbers in [0, 1]') } : {}),
  };
}

/** The diagnostics in the summary: a few lines. */
function diagnosticsSummary(d: Diagnostics): [string, string][] {
  const rows: [string, string][] = [];
  const top = d.perClass.slice().sort((x, y) => y.sum - x.sum).slice(0, 5);
  rows.push(['per class', `${d.perClass.length} (Σ loss, largest first: ${top.map((c) => `${c.index}: ${formatLoss(c.sum)}`).join(', ')})`]);
  if (d.positive && d.negative) {
    rows.push(['split', `positives ${d.positive.count} Σ ${formatLoss(d.positive.sum)}; negatives ${d.negative.count} Σ ${formatLoss(d.negative.sum)}`]);
    rows.push(['hardest', `20% of the negatives carry ${(100 * (1 - curveAt(d.cdf.negative ?? [], 0.8))).toFixed(1)}% of their loss (γ=${d.gamma})`]);
  } else rows.push(['hardest', `20% of the elements carry ${(100 * (1 - curveAt(d.cdf.all ?? [], 0.8))).toFixed(1)}% of the loss (γ=${d.gamma})`]);
  rows.push(['γ sweep', d.gammaSweep.map((x) => `γ=${x.gamma}: ${formatLoss(x.loss)}`).join(', ')]);
  if (d.alphaSweep) rows.push(['α sweep', d.alphaSweep.map((x) => `α=${x.alpha}: ${formatLoss(x.loss)}`).join(', ')]);
  return rows;
}

/** Writes `--report` (atomically) for a result with diagnostics. */
async function writeReport(file: string, r: EvaluatorResult, lossText: string, source: string): Promise<void> {
  const html = await renderReport({
    loss: r.loss,
    lossText,
    optionsText: describeOptions(r.options),
    options: r.options,
    source,
    task: r.options.task,
    diagnostics: r.diagnostics as Diagnostics,
  });
  writeFileAtomic(file, Buffer.from(html, 'utf8'));
}

/** The provider, and the sessions that ran side by side when there were several (a file source's pool). */
function providerText(r: EvaluatorResult): string {
  return r.sessions > 1 ? `${r.ep}, ${r.sessions} sessions side by side (this thread and ${r.sessions - 1} worker${r.sessions > 2 ? 's' : ''})` : r.ep;
}

const FLAGS = {
  model: { type: 'string', placeholder: 'FILE.onnx', description: 'a model written by focal-onnx export (instead of the loss flags), or by focal-onnx attach (with --feed)' },
  network: { type: 'string', placeholder: 'NETWORK.onnx', description: 'a network: evaluate the loss of its --output on the --feed files (instead of --pred)' },
  output: { type: 'string', placeholder: 'NAME', description: 'with --network: the output the loss takes as its prediction (an attached --model: the one it names)' },
  feed: { type: 'list', placeholder: 'INPUT=FILE.npy', description: 'with --network or an attached --model: the .npy file for a network input, split along its first axis (one --feed per input)' },
  ...LOSS_FLAGS,
  dtype: { ...LOSS_FLAGS.dtype, description: 'element type of pred and loss (default: the prediction file’s)' },
  'target-dtype': { ...LOSS_FLAGS['target-dtype'], description: 'element type of target (default: the target file’s)' },
  weight: {
    type: 'string',
    placeholder: 'W.npy',
    description: 'weights (.npy, float, >= 0): one per row (sample) or one per prediction (element); its shape decides',
  },
  pred: { type: 'string', placeholder: 'P.npy', description: 'predictions: float16/32/64 .npy, C order (required)' },
  target: { type: 'string', placeholder: 'T.npy', description: 'targets: float, uint8, bool, int32 or int64 .npy (required)' },
  ep: { type: 'enum', values: EXECUTION_PROVIDERS, description: 'execution provider: cpu, cuda (GPU only), auto (CUDA if it loads) (default cpu)' },
  'batch-size': { type: 'number', integer: true, min: 1, placeholder: 'N', description: `prediction elements per batch, whole rows (default ${DEFAULT_BATCH_ELEMENTS})` },
  threads: { type: 'number', integer: true, min: 1, max: 1024, placeholder: 'N', description: 'CPU threads (default: every core; from 64 batches of files, one-thread sessions side by side)' },
  'graph-optimization': { type: 'enum', values: GRAPH_OPTIMIZATION_LEVELS, description: "onnxruntime's graph optimizations (default all)" },
  out: { type: 'string', alias: 'o', placeholder: 'LOSSES.npy', description: 'write the per-element losses here (.npy)' },
  json: { type: 'boolean', description: 'print one JSON object' },
  diagnostics: { type: 'boolean', description: 'where the loss comes from: per class, positives against negatives, the loss CDF (Lin et al., Figure 4), a γ / α sweep' },
  'sweep-gamma': { type: 'string', placeholder: 'LIST', description: `with --diagnostics: the γ values to sweep, comma-separated (default ${DEFAULT_SWEEP_GAMMA.join(',')})` },
  'sweep-alpha': { type: 'string', placeholder: 'LIST', description: 'with --diagnostics: the α values to sweep, comma-separated (adds the γ × α grid)' },
  report: { type: 'string', placeholder: 'FILE.html', description: 'write the diagnostics as one self-contained HTML report (implies --diagnostics)' },
  progress: { type: 'boolean', description: 'progress bar on stderr (default: when stderr is a terminal; --no-progress for none)' },
} as const satisfies FlagSpecs;

type Flags = ParsedFlags<typeof FLAGS>;

/** The loss flags as eval words them (--weight: a file). */
const EVAL_LOSS = Object.fromEntries(Object.keys(LOSS_FLAGS).map((k) => [k, (FLAGS as FlagSpecs)[k]]));

/** The loss options from the flags; `dtype` and `targetDtype` only when given (the files decide). */
function lossFromFlags(flags: Flags): LossOptions {
  const { dtype, 'target-dtype': targetDtype, weight, ...rest } = flags;
  // With a weight file the loss takes a weight input; which kind, its shape decides (evaluate).
  const normalized = lossOptionsFromFlags(rest, weight !== undefined ? { weight: 'sample' } : {});
  const { dtype: _d, targetDtype: _t, weight: _w, ...options } = normalized;
  const loss: LossOptions = { ...options };
  if (dtype !== undefined) loss.dtype = dtype as LossOptions['dtype'];
  if (targetDtype !== undefined) loss.targetDtype = targetDtype as LossOptions['targetDtype'];
  return loss;
}

/** weighted-mean with every weight 0: the loss is 0 (as Keras gives), not 0/0 — said beside it. */
const ZERO_WEIGHTS = 'every weight is 0 (Σ w = 0): the loss is 0, as Keras gives, not 0/0';
function zeroWeights(r: { weightSum?: number }): string {
  return r.weightSum === 0 ? `; ${ZERO_WEIGHTS}` : '';
}
const weightJson = (r: { weightSum?: number }): Record<string, unknown> => (r.weightSum === undefined ? {} : { weightSum: r.weightSum, ...(r.weightSum === 0 ? { note: ZERO_WEIGHTS } : {}) });

/** What the loss is of the per-element losses (MONAI's sum: the spatial axes averaged first, then summed). */
function reductionText(r: EvaluateResult | EvaluateNetworkResult): string {
  if (r.reduction === 'sum') return r.options.spatialMean ? "MONAI's sum, the spatial axes averaged first," : 'sum';
  return r.reduction === 'none' ? 'mean of the per-element losses' : r.reduction === 'weighted-mean' ? 'Σ w·l / Σ w' : 'mean';
}

/** perImage's loss: the mean over the images of each image's sum over its own divisor. */
function perImageText(images: number, norm: EvaluateResult['options']['normalize']): string {
  const divisor = norm === 'positives' ? 'max(1, its positives)' : typeof norm === 'number' ? String(norm) : 'its elements';
  return `over ${images} images, each image's sum over ${divisor}`;
}

function summary(r: EvaluateResult & { report?: string }): string {
  const rows: [string, string][] = [];
  const what = reductionText(r);
  const unit = r.options.task === 'multiclass' || r.options.labelMean ? 'rows' : 'elements';
  const norm = r.options.normalize;
  const over = r.images !== undefined ? perImageText(r.images, norm) : r.reduction === 'sum' ? `over ${r.count} ${unit}` : norm === 'positives' ? `over max(1, ${r.positives}) positives, ${r.count} ${unit}` : typeof norm === 'number' ? `over ${norm}, ${r.count} ${unit}` : `over ${r.count} ${unit}`;
  rows.push(['loss', `${formatLoss(r.loss)} (${what} ${over})${zeroWeights(r)}`]);
  if (r.perLabel) rows.push(['per label', r.perLabel.map(formatLoss).join(' ')]);
  if (r.positives !== undefined) {
    rows.push(['targets', `${r.positives} positive, ${r.ignored ?? 0} ignored`]);
  }
  if (r.diagnostics) rows.push(...diagnosticsSummary(r.diagnostics));
  rows.push(['model', `${r.model ?? 'built from the flags'}: ${describeOptions(r.options)}`]);
  const size =
    r.options.task === 'binary'
      ? `${r.elements} elements`
      : `${r.rows} rows × ${r.elements / Math.max(1, r.rows)} ${r.options.task === 'multilabel' ? 'labels' : 'classes'}`;
  rows.push(['data', `${r.pred}, ${r.target}: ${size}`]);
  rows.push([
    'time',
    `${r.seconds.toFixed(3)} s, ${compact(r.elementsPerSecond)} elements/s (${r.batches} batch${r.batches === 1 ? '' : 'es'} of up to ${r.batchRows} rows); session load ${r.loadSeconds.toFixed(3)} s`,
  ]);
  rows.push(['provider', providerText(r)]);
  if (r.out) rows.push(['wrote', `${r.out} (per-element losses)`]);
  if (r.report) rows.push(['report', r.report]);
  return rows.map(([k, v]) => `${k.padEnd(10)}${v}`).join('\n');
}

function jsonResult(r: EvaluateResult & { report?: string }): string {
  return JSON.stringify({
    loss: r.loss,
    reduction: r.reduction,
    ...weightJson(r),
    mean: r.mean,
    sum: r.sum,
    count: r.count,
    ...(r.positives !== undefined ? { positives: r.positives, ignored: r.ignored } : {}),
    ...(r.perLabel ? { perLabel: r.perLabel } : {}),
    ...(r.images !== undefined ? { images: r.images } : {}),
    elements: r.elements,
    rows: r.rows,
    batches: r.batches,
    batchRows: r.batchRows,
    ep: r.ep,
    sessions: r.sessions,
    seconds: r.seconds,
    loadSeconds: r.loadSeconds,
    elementsPerSecond: r.elementsPerSecond,
    model: r.model ?? null,
    options: r.options,
    pred: r.pred,
    target: r.target,
    out: r.out ?? null,
    ...(r.diagnostics ? { diagnostics: r.diagnostics } : {}),
    ...(r.report ? { report: r.report } : {}),
  });
}

/** `--feed INPUT=FILE.npy` flags as a map from input to file. */
export function parseFeeds(feeds: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of feeds) {
    const eq = f.indexOf('=');
    if (eq <= 0 || eq === f.length - 1) throw new UsageError(`--feed must be INPUT=FILE.npy (a network input and its file), got ${quote(f)}`);
    const name = f.slice(0, eq);
    if (name in out) throw new UsageError(`--feed ${name}=… is given more than once`);
    out[name] = f.slice(eq + 1);
  }
  return out;
}

function networkSummary(r: EvaluateNetworkResult & { report?: string }): string {
  const rows: [string, string][] = [];
  const what = reductionText(r);
  const over = r.images !== undefined ? perImageText(r.images, r.options.normalize) : `over ${r.count} ${r.options.task === 'multiclass' ? 'rows' : 'elements'}`;
  rows.push(['loss', `${formatLoss(r.loss)} (${what} ${over})${zeroWeights(r)}`]);
  if (r.perLabel) rows.push(['per label', r.perLabel.map(formatLoss).join(' ')]);
  if (r.diagnostics) rows.push(...diagnosticsSummary(r.diagnostics));
  rows.push(['model', `${r.network} + the loss on '${r.output}': ${describeOptions(r.options)}`]);
  rows.push(['data', `${Object.entries(r.feeds).map(([k, v]) => `${k}=${v}`).join(', ')}, ${r.target}${r.weight ? `, weights ${r.weight}` : ''}: ${r.inputRows} rows`]);
  rows.push([
    'time',
    `${r.seconds.toFixed(3)} s, ${compact(r.rowsPerSecond)} rows/s, ${compact(r.elementsPerSecond)} predictions/s (${r.batches} batch${r.batches === 1 ? '' : 'es'} of up to ${r.batchRows} rows); session load ${r.loadSeconds.toFixed(3)} s`,
  ]);
  rows.push(['provider', providerText(r)]);
  if (r.out) rows.push(['wrote', `${r.out} (per-element losses)`]);
  if (r.report) rows.push(['report', r.report]);
  return rows.map(([k, v]) => `${k.padEnd(10)}${v}`).join('\n');
}

function networkJson(r: EvaluateNetworkResult & { report?: string }): string {
  return JSON.stringify({
    loss: r.loss,
    reduction: r.reduction,
    ...weightJson(r),
    mean: r.mean,
    sum: r.sum,
    count: r.count,
    ...(r.perLabel ? { perLabel: r.perLabel } : {}),
    ...(r.images !== undefined ? { images: r.images } : {}),
    elements: r.elements,
    rows: r.rows,
    inputRows: r.inputRows,
    batches: r.batches,
    batchRows: r.batchRows,
    ep: r.ep,
    sessions: r.sessions,
    seconds: r.seconds,
    loadSeconds: r.loadSeconds,
    elementsPerSecond: r.elementsPerSecond,
    rowsPerSecond: r.rowsPerSecond,
    network: r.network,
    output: r.output,
    feeds: r.feeds,
    options: r.options,
    target: r.target,
    weight: r.weight ?? null,
    out: r.out ?? null,
    ...(r.diagnostics ? { diagnostics: r.diagnostics } : {}),
    ...(r.report ? { report: r.report } : {}),
  });
}

type SharedRunOptions = Pick<EvaluateOptions, 'batchSize' | 'ep' | 'threads' | 'graphOptimization' | 'label' | 'onNotice' | 'onProgress'>;

/**
 * The run options both forms of eval share (batch size, provider, threads, optimization level,
 * the flags' names in messages, notices and the progress bar on stderr), and the bar cleared
 * however the run ends.
 */
async function withProgress<R>(flags: Flags, io: CliIO, run: (options: SharedRunOptions) => Promise<R>): Promise<R> {
  const bar = (flags.progress ?? io.stderr.isTTY === true) ? new ProgressBar(io.stderr) : undefined;
  try {
    return await run({
      batchSize: flags['batch-size'],
      ep: flags.ep as ExecutionProviderChoice | undefined,
      threads: flags.threads,
      graphOptimization: flags['graph-optimization'] as GraphOptimizationLevel | undefined,
      label: flagLabel,
      onNotice: (line) => {
        bar?.clear();
        write(io.stderr, `focal-onnx: ${line}`);
      },
      onProgress: bar ? (p) => bar.update(p.done, p.total, p.seconds) : undefined,
    });
  } finally {
    bar?.clear();
  }
}

/** `eval --network` (or `--model ATTACHED.onnx --feed …`): the network's flags checked, then evaluateNetwork. */
async function runNetwork(flags: Flags, io: CliIO): Promise<number> {
  const attached = flags.network === undefined;
  const what = attached ? '--model with --feed' : '--network';
  if (flags.pred !== undefined) throw new UsageError(`${what} takes the predictions from the network: drop --pred`);
  if (!attached && flags.model !== undefined) throw new UsageError('--network takes the predictions from the network: drop --model (or evaluate an attached model with --model and --feed, without --network)');
  if (!attached && flags.output === undefined) throw new UsageError(`--output is required with --network: the output of ${flags.network} the loss takes as its prediction`);
  if (flags.feed === undefined) throw new UsageError(`--feed INPUT=FILE.npy is required with --network, one per input of ${flags.network}`);
  if (flags.target === undefined) throw new UsageError('--target is required: the targets (.npy)');
  const feeds = parseFeeds(flags.feed);
  const diagnostics = diagnosticsFromFlags(flags);
  let loss: LossOptions | undefined;
  if (attached) refuseLossFlags(flags);
  else {
    // The opset is the network's unless given (attachLoss checks a given one).
    const { opset } = flags as Flags & { opset?: number };
    const { opset: _o, ...options } = lossFromFlags(flags);
    loss = opset !== undefined ? { ...options, opset } : options;
  }
  const result = await withProgress(flags, io, (run) =>
    evaluateNetwork({ network: flags.network, model: flags.model, output: flags.output, feeds, target: flags.target as string, weight: flags.weight, out: flags.out, loss, diagnostics, ...run }),
  );
  if (flags.report !== undefined) {
    const lossText = `${result.reduction} over ${result.count} ${result.options.task === 'multiclass' ? 'rows' : 'elements'}`;
    await writeReport(flags.report, result, lossText, `${flags.network ?? flags.model}: ${Object.entries(result.feeds).map(([k, v]) => `${k}=${v}`).join(', ')}, ${result.target}: ${result.inputRows} rows`);
  }
  const shown = { ...result, ...(flags.report !== undefined ? { report: flags.report } : {}) };
  write(io.stdout, flags.json ? networkJson(shown) : networkSummary(shown));
  return 0;
}

/** `--model` takes its loss options from the file: loss flags beside it are refused. */
function refuseLossFlags(flags: Flags): void {
  // --weight is the weight file here, taken with --model too.
  const given = givenLossFlags(flags, ['weight']);
  if (given.length === 0) return;
  throw new UsageError(`--model takes its loss options from the file; drop ${given.map((k) => `--${k}`).join(', ')} or drop --model`);
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate the focal loss of predictions against targets (.npy files of any size)',
  usage:
    'focal-onnx eval (--model FILE.onnx | [loss flags]) --pred P.npy --target T.npy [--weight W.npy] [--ep cpu|cuda|auto]\n' +
    '                [--batch-size N] [--threads N] [--out LOSSES.npy] [--json]\n' +
    '                [--diagnostics] [--sweep-gamma LIST] [--sweep-alpha LIST] [--report FILE.html]\n' +
    '       focal-onnx eval (--network NETWORK.onnx --output NAME [loss flags] | --model ATTACHED.onnx [--output NAME])\n' +
    '                --feed INPUT=FILE.npy [--feed …] --target T.npy [--weight W.npy] [--ep cpu|cuda|auto]\n' +
    '                [--batch-size N] [--threads N] [--out LOSSES.npy] [--json]\n' +
    `  loss flags: ${flagTokens(EVAL_LOSS, ' '.repeat(14))}`,
  flags: FLAGS,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseArgs('focal-onnx eval', FLAGS, argv);
    if (positionals.length) throw new UsageError(`eval takes no positional arguments, got ${quote(positionals[0])} (use --pred and --target)`);
    // export's and attach's --weight names a kind; eval's, the weights' file (whose shape says the kind).
    if (flags.weight !== undefined && (WEIGHTS as readonly string[]).includes(flags.weight) && !fs.existsSync(flags.weight)) {
      throw new UsageError(`--weight ${flags.weight}: eval takes the weights' .npy file, whose shape says sample or element; ${quote(flags.weight)} is no file`);
    }
    if (flags.network !== undefined || (flags.model !== undefined && flags.feed !== undefined)) return runNetwork(flags, io);
    for (const f of ['output', 'feed'] as const) if (flags[f] !== undefined) throw new UsageError(`--${f} goes with --network NETWORK.onnx (or --model ATTACHED.onnx --feed …)`);
    if (flags.pred === undefined) throw new UsageError('--pred is required: the predictions (.npy)');
    if (flags.target === undefined) throw new UsageError('--target is required: the targets (.npy)');
    const diagnostics = diagnosticsFromFlags(flags);
    let loss: LossOptions | undefined;
    if (flags.model !== undefined) refuseLossFlags(flags);
    else loss = lossFromFlags(flags);

    const result = await withProgress(flags, io, (run) =>
      evaluate({ pred: flags.pred as string, target: flags.target as string, weight: flags.weight, model: flags.model, loss, out: flags.out, diagnostics, ...run }),
    );
    if (flags.report !== undefined) {
      const unit = result.options.task === 'multiclass' || result.options.labelMean ? 'rows' : 'elements';
      await writeReport(flags.report, result, `${result.reduction} over ${result.count} ${unit}`, `${result.pred}, ${result.target}: ${result.elements} elements, ${result.rows} rows`);
    }
    const shown = { ...result, ...(flags.report !== undefined ? { report: flags.report } : {}) };
    write(io.stdout, flags.json ? jsonResult(shown) : summary(shown));
    return 0;
  },
};
