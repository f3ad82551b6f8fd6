/**
 * `evaluateNetwork`: the focal loss of a user's network on a validation set, from `.npy` files —
 * the network's inputs (one file per input, `feeds`) and the targets — streamed in batches of
 * whole rows (split along the first axis) through one session of the network with the loss
 * attached (src/attach), so the predictions never leave onnxruntime.
 *
 * A reader that feeds the evaluator (evaluator.ts), as `evaluate()` is for prediction files: the
 * model is `attachLoss(network, { output, ...loss, reduction: 'none' })`, planned as a network and
 * its loss (`planFromModel(…, output)`), with the evaluator's graph additions — the per-element
 * losses summed in blocks in the graph and in float64 between them, the network's output checked
 * as predictions are (in the graph; a bad element named in JS: `net.onnx: output 'prob' element 5
 * is NaN`), float targets checked in the graph and others in JS (`labels.npy: element 17 is 12`)
 * — and the same float64 accumulation and result; the user's reduction decides the reported loss.
 *
 * Checked here, before anything runs: each feed's dtype and trailing dims against the network
 * input (the first axis is the batch), every file's rows against the first's, and the targets per
 * row against the output's (binary / multi-label: as many as the output has per row; multi-class:
 * one class index per row). Each refusal is one UsageError / DataError naming the file or flag.
 * Limitation: a network that already uses the names `target` or `loss` is refused (the
 * evaluator's graph additions read those names); `focal-onnx attach` prefixes them instead.
 */
import { performance } from 'perf_hooks';
import { onnx } from 'onnx-proto';
import { attachLoss } from '../attach';
import { DataError, UsageError, quote } from '../errors';
import { NpyBatch, NpyReader } from '../io/npy';
import { FocalOptions, Label, LossOptions } from '../losses';
import { decodeModel, decodeModelProto } from '../onnx';
import { DTYPES } from '../onnx/dtype';
import { BatchData, asFileError } from './batch';
import { EvalCore, EvaluatorResult, ModelPlan, evalSpec, planFromModel } from './evaluator';
import { readModelFile } from './model-bytes';
import { HostTensor, SessionOptions, TensorDType } from './session';

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

/** The evaluator's result (evaluator.ts) of the network's output, with what was fed. */
export interface EvaluateNetworkResult extends EvaluatorResult {
  /** Entries of the inputs' first axis fed (e.g. images); `rows` is the evaluator's (all the output's axes but the last). */
  readonly inputRows: number;
  /** Input rows per batch. */
  readonly batchRows: number;
  /** Rows (first-axis entries, e.g. images) per second of streaming. */
  readonly rowsPerSecond: number;
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
  let core: EvalCore | undefined;
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
    // The output's dims after the batch axis (where the network fixes them), and the loss's target
    // input (its shape follows the options: like the output, one class index per row, …).
    const outTail = outDims.slice(1);
    const tInfo = (g.input ?? []).find((v) => v.name === 'target') as onnx.IValueInfoProto;
    const tTail = (dimsOf(tInfo) ?? []).slice(1);
    const fixed = (d: Dims): d is number[] => d.every((x) => typeof x === 'number');
    const sameAsOutput = JSON.stringify(tTail) === JSON.stringify(outTail);
    const targetRowDims = fixed(tTail) ? tTail : th.shape.slice(1);
    const targetRow = product(th.shape.slice(1));
    if (th.shape.length !== tTail.length + 1 || targetRow !== product(targetRowDims) || (fixed(tTail) && th.shape.slice(1).some((d, k) => d !== tTail[k]))) {
      throw new DataError(
        `${th.path}: shape ${shapeText(th.shape)}; the targets must be [N${tTail.map((d) => `, ${d ?? '?'}`).join('')}] for the output ${quote(options.output)} ${shapeText(outDims)}` +
          (task === 'multiclass' ? ', one class index per row' : ''),
      );
    }
    const outRowDims = fixed(outTail) ? outTail : sameAsOutput ? targetRowDims : undefined;
    if (!outRowDims) {
      throw new UsageError(`${options.network}: output ${quote(options.output)} has shape ${shapeText(outDims)}; eval --network needs its dims after the first fixed, or targets shaped like it`);
    }

    // ---- the evaluator: the model with its graph additions, one session ----
    // The evaluator's own mechanism (evaluator.ts): the loss per element summed in the graph in
    // blocks (float64 between them), the network's output checked as predictions are (in the
    // graph, then in JS to name the element), targets checked; the report's reduction is the
    // user's, the graph's none.
    const info = decodeModel(attached.bytes);
    const base = planFromModel(attached.bytes, info, attached.options, options.network, options.output);
    const plan: ModelPlan = { ...base, options: o, graphReduction: 'none' };
    const spec = await asFileError(options.network, 'cannot be evaluated', async () => evalSpec(plan, th.dtype));
    core = await EvalCore.open(spec, { ...options, modelName: options.network });

    const widest = Math.max(1, ...feeds.map((f) => f.row));
    const batchRows = Math.max(1, Math.min(rows, Math.floor(batchSize / widest)));
    const outShape = [rows, ...outRowDims];
    const outRow = product(outRowDims);
    const streams = [...feeds.map((f) => f.reader.batches(batchRows * Math.max(1, f.row))), targetReader.batches(batchRows * Math.max(1, targetRow))];
    let done = 0;
    const started = performance.now();
    let pending: Promise<IteratorResult<NpyBatch>[]> | undefined;
    const next = (): Promise<IteratorResult<NpyBatch>[]> => {
      const p = Promise.all(streams.map((st) => st.next()));
      p.catch(() => undefined); // awaited below; never left unhandled
      return p;
    };
    try {
      pending = next();
      for (;;) {
        const parts = await pending;
        pending = undefined;
        if (parts.some((part) => part.done)) break;
        pending = next(); // reads batch k+1 while batch k runs
        const n = (parts[0].value as NpyBatch).data.length / Math.max(1, feeds[0].row);
        const runFeeds: Record<string, HostTensor> = {};
        feeds.forEach((f, i) => {
          runFeeds[f.name] = { dtype: f.dtype, dims: [n, ...f.rowDims], data: (parts[i].value as NpyBatch).data } as HostTensor;
        });
        const t = parts[feeds.length].value as NpyBatch;
        const batch: BatchData = {
          dims: [n, ...outRowDims],
          feeds: runFeeds,
          predPlace: { file: `${options.network}`, element: `output '${options.output}' element`, start: done * outRow, shape: outShape },
          target: { dtype: th.dtype, data: t.data, place: { file: th.path, start: t.start, shape: th.shape } },
        };
        core.accept(await core.run(batch));
        done += n;
        options.onProgress?.({ done, total: rows, seconds: (performance.now() - started) / 1000 });
      }
    } finally {
      if (pending) await Promise.allSettled([pending]);
      await Promise.allSettled(streams.map((st) => st.return()));
    }
    const seconds = (performance.now() - started) / 1000;
    const r = core.result({ seconds });
    return {
      ...r,
      inputRows: done,
      batchRows,
      sessions: 1,
      rowsPerSecond: seconds > 0 ? done / seconds : Infinity,
      network: options.network,
      output: options.output,
      feeds: options.feeds,
      target: options.target,
    };
  } finally {
    for (const r of readers) r.close();
    await core?.release();
  }
}
