/**
 * `evaluateNetwork`: the focal loss of a user's network on a validation set, from `.npy` files —
 * the network's inputs (one file per input, `feeds`) and the targets — streamed in batches of
 * whole rows (split along the first axis) through one session of the network with the loss
 * attached (src/attach), so the predictions never leave onnxruntime.
 *
 * The model is `attachLoss(network, { output, ...loss, reduction: 'none' })` with the evaluator's
 * graph additions (eval-outputs.ts): `loss_sum`, the per-element losses summed in blocks in the
 * loss type and the block sums in float64 (per label for multi-label: `loss_label_sums`), and
 * `check_target` for float targets; plus, for probabilities, `check_pred_min` / `check_pred_max`
 * of the network's output (a network whose output is not a probability, asked for as one, is a
 * one-line error, not a silent number). Per batch only those few numbers leave the session; the
 * batches' sums are added in float64, mean = total / count as in `evaluate()`.
 *
 * Checks: each feed's dtype and trailing dims against the network input (the first axis is the
 * batch), every file's rows against the first's, the targets per row against the output's
 * (binary / multi-label: as many as the output has per row; multi-class: one class index per
 * row), targets 0 or 1 / class indices in [0, C) (in JS for integer and bool targets, in the
 * graph for float ones), and a NaN or infinite loss (a NaN or infinite input) naming the batch's
 * rows. Each is a one-line UsageError / DataError naming the file or flag.
 */
import { performance } from 'perf_hooks';
import { onnx } from 'onnx-proto';
import { attachLoss } from '../attach';
import { DataError, UsageError, quote } from '../errors';
import { NpyBatch, NpyReader } from '../io/npy';
import { FocalOptions, Label, LossOptions, Reduction } from '../losses';
import { decodeModelProto, serializeModel } from '../onnx';
import { DTYPES } from '../onnx/dtype';
import { BatchPlace, checkBinaryTargets, checkClassIndices } from './checks';
import { EVAL_INPUTS, EVAL_OUTPUTS, addEvalOutputs, blockShape } from './eval-outputs';
import { readModelFile } from './model-bytes';
import { ExecutionProvider, HostTensor, Session, SessionOptions, TensorDType, createSession } from './session';

/** Default batch: about this many elements of the largest input per batch (whole rows, at least one). */
export const DEFAULT_NETWORK_BATCH_ELEMENTS = 1 << 18;

export interface EvaluateNetworkProgress {
  /** Rows done, and in all. */
  readonly done: number;
  readonly total: number;
  readonly seconds: number;
}

export interface EvaluateNetworkOptions extends SessionOptions {
  /** The network (.onnx file). */
  readonly network: string;
  /** The network output the loss takes as its prediction. */
  readonly output: string;
  /** One `.npy` file per network input, by input name. */
  readonly feeds: Readonly<Record<string, string>>;
  /** The targets (`.npy`): shaped like the output per row (binary, multilabel), or one class index per row (multiclass). */
  readonly target: string;
  /** Loss options; `dtype` is the output's, `opset` the network's, `targetDtype` the target file's. */
  readonly loss?: LossOptions;
  /** Elements of the largest input per batch, rounded down to whole rows (default DEFAULT_NETWORK_BATCH_ELEMENTS). */
  readonly batchSize?: number;
  readonly onProgress?: (progress: EvaluateNetworkProgress) => void;
  /** Names options in messages (the CLI passes its flag names). */
  readonly label?: Label;
}

export interface EvaluateNetworkResult {
  /** The loss under the options' reduction: the mean (also for `none`) or the sum. */
  readonly loss: number;
  readonly reduction: Reduction;
  readonly mean: number;
  readonly sum: number;
  /** Number of per-element losses. */
  readonly count: number;
  /** Multi-label: each label's mean over the rows (all axes of the output but the last; its sum for reduction sum). */
  readonly perLabel?: number[];
  /** Output elements (predictions) the loss was taken of, and the rows (first-axis entries) fed. */
  readonly elements: number;
  readonly rows: number;
  readonly batches: number;
  readonly batchRows: number;
  readonly ep: ExecutionProvider;
  readonly sessions: 1;
  readonly seconds: number;
  readonly loadSeconds: number;
  /** Prediction (output) elements per second, and rows (e.g. images) per second. */
  readonly elementsPerSecond: number;
  readonly rowsPerSecond: number;
  readonly options: FocalOptions;
  readonly network: string;
  readonly output: string;
  readonly feeds: Readonly<Record<string, string>>;
  readonly target: string;
}

const plain: Label = (o) => o;
const shapeText = (s: readonly (number | string | null)[]): string => `[${s.map((d) => d ?? '?').join(', ')}]`;
const product = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);

type Dims = readonly (number | string | null)[];

function dimsOf(v: onnx.IValueInfoProto): Dims | null {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) return null;
  return dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : null));
}

const P = 'focal_eval_';

/** Adds ReduceMin / ReduceMax of the network's output (a probability must lie in [0, 1]). */
function addOutputRange(bytes: Uint8Array, output: string, elemType: number): Uint8Array {
  const model = decodeModelProto(bytes);
  const g = model.graph as onnx.IGraphProto;
  const keepdims0 = { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 };
  g.node = [
    ...(g.node ?? []),
    { opType: 'ReduceMin', input: [output], output: [EVAL_OUTPUTS.predMin], name: `${P}pred_min`, attribute: [keepdims0] },
    { opType: 'ReduceMax', input: [output], output: [EVAL_OUTPUTS.predMax], name: `${P}pred_max`, attribute: [keepdims0] },
  ];
  const scalar = (name: string): onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType, shape: { dim: [] } } } });
  g.output = [...(g.output ?? []), scalar(EVAL_OUTPUTS.predMin), scalar(EVAL_OUTPUTS.predMax)];
  return serializeModel(model);
}

interface Feed {
  readonly name: string;
  readonly file: string;
  readonly reader: NpyReader;
  readonly dtype: TensorDType;
  /** Elements per row (the product of the file's dims after the first). */
  readonly row: number;
  readonly rowDims: readonly number[];
}

const FLOATS: readonly string[] = ['float16', 'float32', 'float64'];

/** Evaluates the focal loss of `options.network`'s output on the given files; see the top of this file. */
export async function evaluateNetwork(options: EvaluateNetworkOptions): Promise<EvaluateNetworkResult> {
  const label = options.label ?? plain;
  const batchSize = options.batchSize ?? DEFAULT_NETWORK_BATCH_ELEMENTS;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new UsageError(`batch size must be a positive integer, got ${batchSize}`);
  const loss = options.loss ?? {};
  const networkBytes = readModelFile(options.network);
  // The target file decides the loss's target type (float: the output's own; checked below).
  const th = NpyReader.open(options.target).header;
  const fileTarget = FLOATS.includes(th.dtype) ? 'float' : th.dtype;
  if (loss.targetDtype !== undefined && loss.targetDtype !== fileTarget && !(FLOATS.includes(loss.targetDtype) && fileTarget === 'float')) {
    throw new UsageError(`${label('targetDtype')} ${loss.targetDtype} does not match ${th.path}, which holds ${th.dtype}; drop ${label('targetDtype')} (the target file decides)`);
  }
  const targetDtype = (loss.task === 'multiclass' && fileTarget !== 'int64' && fileTarget !== 'int32' ? undefined : fileTarget) as LossOptions['targetDtype'];
  // The loss per element (sums in the graph, float64 here); the options' reduction decides the report.
  const attached = attachLoss(networkBytes, { ...loss, targetDtype, output: options.output, reduction: 'none', asFunction: false, withGrad: false }, {
    source: options.network,
    label,
    outputLabel: '--output',
  });
  const o: FocalOptions = { ...attached.options, reduction: loss.reduction ?? 'mean' };
  for (const [what, name] of [
    ['target', 'target'],
    ['loss', 'loss'],
  ] as const) {
    if (attached.names[name] !== name) {
      throw new UsageError(`${options.network}: already uses the name ${quote(name)}, which eval --network needs for the loss's ${what}; use 'focal-onnx attach' and evaluate the result in your own program`);
    }
  }
  const model = decodeModelProto(attached.bytes);
  const g = model.graph as onnx.IGraphProto;
  const lossInputs = new Set(Object.values(attached.names));
  const netInputs = (g.input ?? []).filter((v) => !lossInputs.has(v.name ?? '') && !(g.initializer ?? []).some((t) => t.name === v.name));
  const outInfo = (g.output ?? []).find((v) => v.name === options.output) as onnx.IValueInfoProto;
  const outDims = dimsOf(outInfo) ?? [];
  const targetInfo = (g.input ?? []).find((v) => v.name === 'target') as onnx.IValueInfoProto;

  // ---- the files ----
  const given = Object.keys(options.feeds);
  for (const name of given) {
    if (!netInputs.some((v) => v.name === name)) {
      throw new UsageError(`--feed ${name}=…: ${options.network} has no input ${quote(name)}; its inputs: ${netInputs.map((v) => quote(v.name ?? '')).join(', ')}`);
    }
  }
  for (const v of netInputs) {
    if (!(v.name! in options.feeds)) throw new UsageError(`${options.network} takes the input ${quote(v.name ?? '')}: give it with --feed ${v.name}=FILE.npy`);
  }
  const readers: NpyReader[] = [];
  let session: Session | undefined;
  try {
    const feeds: Feed[] = [];
    for (const v of netInputs) {
      const file = options.feeds[v.name as string];
      const reader = NpyReader.open(file);
      readers.push(reader);
      const h = reader.header;
      const want = DTYPES[h.dtype as keyof typeof DTYPES]?.code;
      const elem = v.type?.tensorType?.elemType ?? 0;
      if (want !== elem) {
        const wanted = Object.entries(DTYPES).find(([, d]) => d.code === elem)?.[0] ?? `type ${elem}`;
        throw new DataError(`${file}: dtype ${h.dtype}, but ${options.network}'s input ${quote(v.name ?? '')} takes ${wanted}`);
      }
      const dims = dimsOf(v);
      if (h.shape.length === 0) throw new DataError(`${file}: is a scalar; --feed files are split along their first axis into batches`);
      if (dims && dims.length !== h.shape.length) {
        throw new DataError(`${file}: shape ${shapeText(h.shape)}, but ${options.network}'s input ${quote(v.name ?? '')} is ${shapeText(dims)} (rank ${dims.length})`);
      }
      if (dims) {
        dims.forEach((d, k) => {
          if (k > 0 && typeof d === 'number' && d !== h.shape[k]) {
            throw new DataError(`${file}: shape ${shapeText(h.shape)}, but ${options.network}'s input ${quote(v.name ?? '')} is ${shapeText(dims)}: axis ${k} must be ${d}`);
          }
        });
      }
      feeds.push({ name: v.name as string, file, reader, dtype: h.dtype as TensorDType, row: product(h.shape.slice(1)), rowDims: h.shape.slice(1) });
    }
    const rows = feeds[0].reader.header.shape[0];
    for (const f of feeds) {
      if (f.reader.header.shape[0] !== rows) {
        throw new DataError(`${f.file}: has ${f.reader.header.shape[0]} rows (shape ${shapeText(f.reader.header.shape)}), but ${feeds[0].file} has ${rows}; every --feed file needs one row per example`);
      }
    }
    if (rows === 0) throw new DataError(`${feeds[0].file}: holds no rows (shape ${shapeText(feeds[0].reader.header.shape)}); nothing to evaluate`);

    const targetReader = NpyReader.open(options.target);
    readers.push(targetReader);
    const targetType = Object.entries(DTYPES).find(([, d]) => d.code === targetInfo.type?.tensorType?.elemType)?.[0] as TensorDType;
    const task = o.task;
    if (task === 'multiclass') {
      if (th.dtype !== 'int64' && th.dtype !== 'int32') throw new DataError(`${th.path}: dtype ${th.descr} (${th.dtype}); multiclass targets are class indices: save them as int64 or int32`);
    } else if (FLOATS.includes(th.dtype) ? th.dtype !== o.dtype : !['uint8', 'bool', 'int32', 'int64'].includes(th.dtype)) {
      throw new DataError(
        `${th.path}: dtype ${th.descr} (${th.dtype}); ${task} targets for ${options.network}'s ${o.dtype} output must be ${o.dtype}, uint8, bool, int32 or int64`,
      );
    }
    if (th.shape[0] !== rows) {
      throw new DataError(`${th.path}: has ${th.shape.length ? th.shape[0] : 0} rows (shape ${shapeText(th.shape)}), but ${feeds[0].file} has ${rows}; the targets need one row per example`);
    }
    // The output's dims after the batch axis, where the network fixes them.
    const outRow = outDims.slice(1);
    const fixedRow = outRow.every((d): d is number => typeof d === 'number') ? outRow : undefined;
    const targetRowDims = task === 'multiclass' ? [] : (fixedRow ?? th.shape.slice(1));
    const targetRow = product(th.shape.slice(1));
    if (task === 'multiclass' ? th.shape.length !== 1 : targetRow !== product(targetRowDims)) {
      const want = task === 'multiclass' ? `[N] = [${rows}], one class index per row` : `${product(targetRowDims)} per row, as the output ${quote(options.output)} ${shapeText(outDims)} has`;
      throw new DataError(`${th.path}: shape ${shapeText(th.shape)}; the targets must be ${want}`);
    }
    const classes = task === 'multiclass' && typeof outDims[1] === 'number' ? outDims[1] : undefined;

    // ---- the model and the session ----
    const targetInGraph = task !== 'multiclass' && (th.dtype === 'float32' || th.dtype === 'float64') && th.dtype === targetType;
    let bytes = addEvalOutputs(attached.bytes, { sums: task === 'multilabel' ? 'labels' : 'total', checkPred: false, checkTarget: targetInGraph });
    const probs = o.input === 'probs';
    if (probs) bytes = addOutputRange(bytes, options.output, outInfo.type?.tensorType?.elemType ?? 0);
    const fetches: string[] = [EVAL_OUTPUTS.sum];
    if (task === 'multilabel') fetches.push(EVAL_OUTPUTS.labelSums);
    if (probs) fetches.push(EVAL_OUTPUTS.predMin, EVAL_OUTPUTS.predMax);
    if (targetInGraph) fetches.push(EVAL_OUTPUTS.target);

    const t0 = performance.now();
    session = await createSession(bytes, { ...options, modelName: options.network });
    const loadSeconds = (performance.now() - t0) / 1000;

    const widest = Math.max(1, ...feeds.map((f) => f.row));
    const batchRows = Math.max(1, Math.min(rows, Math.floor(batchSize / widest)));
    const streams = [...feeds.map((f) => f.reader.batches(batchRows * Math.max(1, f.row))), targetReader.batches(batchRows * Math.max(1, targetRow))];
    let total = 0;
    let labelSums: Float64Array | undefined;
    let count = 0;
    let elements = 0;
    let done = 0;
    let batches = 0;
    const started = performance.now();
    let pending: Promise<IteratorResult<NpyBatch>[]> | undefined;
    const next = (): Promise<IteratorResult<NpyBatch>[]> => {
      const p = Promise.all(streams.map((s) => s.next()));
      p.catch(() => undefined); // awaited below; never left unhandled
      return p;
    };
    try {
      pending = next();
      for (;;) {
        const parts = await pending;
        pending = undefined;
        if (parts.some((p) => p.done)) break;
        pending = next(); // reads batch k+1 while batch k runs
        const n = (parts[0].value as NpyBatch).data.length / Math.max(1, feeds[0].row);
        const first = done;
        const runFeeds: Record<string, HostTensor> = {};
        feeds.forEach((f, i) => {
          runFeeds[f.name] = { dtype: f.dtype, dims: [n, ...f.rowDims], data: (parts[i].value as NpyBatch).data } as HostTensor;
        });
        const t = parts[feeds.length].value as NpyBatch;
        const place: BatchPlace = { file: th.path, start: t.start, shape: th.shape };
        if (task === 'multiclass') {
          if (classes !== undefined) checkClassIndices(place, th.dtype, t.data, classes);
        } else if (!targetInGraph) checkBinaryTargets(place, th.dtype, t.data, task);
        runFeeds.target = { dtype: targetType, dims: [n, ...targetRowDims], data: t.data } as HostTensor;
        const perRow = task === 'multiclass' ? 1 : product(targetRowDims);
        const lossRows = task === 'multilabel' ? (n * perRow) / (targetRowDims[targetRowDims.length - 1] ?? 1) : n * perRow;
        runFeeds[EVAL_INPUTS.blocks] = {
          dtype: 'int64',
          dims: [task === 'multilabel' ? 3 : 2],
          data: BigInt64Array.from(blockShape(lossRows, task === 'multilabel' ? (targetRowDims[targetRowDims.length - 1] as number) : undefined), BigInt),
        };
        let r: Record<string, HostTensor>;
        try {
          r = await session.run(runFeeds, fetches);
        } catch (e) {
          const message = ((e as Error)?.message ?? String(e)).split('\n')[0];
          throw new DataError(`${options.network}: onnxruntime cannot run rows ${first}–${first + n - 1} of ${feeds[0].file}: ${message}`);
        }
        const rowsText = `rows ${first}–${first + n - 1}`;
        if (probs) {
          const lo = Number(r[EVAL_OUTPUTS.predMin].data[0]);
          const hi = Number(r[EVAL_OUTPUTS.predMax].data[0]);
          if (!(lo >= 0 && hi <= 1)) {
            throw new DataError(
              `${options.network}: output ${quote(options.output)} ranges over [${lo}, ${hi}] on ${rowsText}; ${label('input')} probs needs probabilities in [0, 1] (use ${label('input')} logits for scores)`,
            );
          }
        }
        if (targetInGraph && Number(r[EVAL_OUTPUTS.target].data[0]) !== 0) checkBinaryTargets(place, th.dtype, t.data, task as 'binary' | 'multilabel');
        const s = Number(r[EVAL_OUTPUTS.sum].data[0]);
        if (!Number.isFinite(s)) throw new DataError(`${options.network}: the loss is ${s} on ${rowsText} of ${feeds.map((f) => f.file).join(', ')}; an input is NaN or infinite there`);
        total += s;
        if (task === 'multilabel') {
          const ls = r[EVAL_OUTPUTS.labelSums].data as Float64Array;
          labelSums ??= new Float64Array(ls.length);
          for (let l = 0; l < ls.length; l++) labelSums[l] += ls[l];
        }
        const c = task === 'multiclass' ? n : n * perRow;
        count += c;
        elements += task === 'multiclass' ? n * (classes ?? 1) : c;
        done += n;
        batches++;
        options.onProgress?.({ done, total: rows, seconds: (performance.now() - started) / 1000 });
      }
    } finally {
      if (pending) await Promise.allSettled([pending]);
      await Promise.allSettled(streams.map((s) => s.return()));
    }
    const seconds = (performance.now() - started) / 1000;
    const mean = total / count;
    const labelRows = labelSums ? count / labelSums.length : 0;
    return {
      loss: o.reduction === 'sum' ? total : mean,
      reduction: o.reduction,
      mean,
      sum: total,
      count,
      perLabel: labelSums ? Array.from(labelSums, (x) => (o.reduction === 'sum' ? x : x / labelRows)) : undefined,
      elements,
      rows: done,
      batches,
      batchRows,
      ep: session.ep,
      sessions: 1,
      seconds,
      loadSeconds,
      elementsPerSecond: seconds > 0 ? elements / seconds : Infinity,
      rowsPerSecond: seconds > 0 ? done / seconds : Infinity,
      options: o,
      network: options.network,
      output: options.output,
      feeds: options.feeds,
      target: options.target,
    };
  } finally {
    for (const r of readers) r.close();
    await session?.release();
  }
}
