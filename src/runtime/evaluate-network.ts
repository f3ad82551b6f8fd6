/**
 * `evaluateNetwork`: the focal loss of a user's network on a validation set, from `.npy` files —
 * the network's inputs (one file per input, `feeds`), the targets, and weights — streamed in
 * batches of whole rows (split along the first axis) through one session of the network with the
 * loss attached, so the predictions never leave onnxruntime. The network comes either as it is
 * (`network`: the loss is attached here, `attachLoss(network, { output, ...loss, reduction:
 * 'none' })`), or with the loss already attached (`model`: a `focal-onnx attach` output, whose
 * options and output its `focal.*` metadata gives).
 *
 * A source of the evaluator (evaluator.ts), as `evaluate()` is for prediction files, through the
 * same stream and sink (evaluate.ts's streamFiles): the network's output is checked as
 * predictions are (a bad element named in JS: `net.onnx: output 'prob' element 5 is NaN`); the
 * user's reduction decides the reported loss.
 *
 * Checked here, before anything runs: each feed's dtype and trailing dims against the network
 * input (the first axis is the batch), every file's rows against the first's, and the targets and
 * weights per row against the output's under the task's rules (src/data/rules.ts). Each refusal is one
 * UsageError / DataError naming the file or flag. Limitation: a network that already uses the
 * names `target` or `loss` is refused (the evaluator's graph additions read those names);
 * `focal-onnx attach` prefixes them instead.
 */
import { attachLoss } from '../attach';
import { DataError, UsageError, quote } from '../errors';
import { NpyHeader } from '../io/npy';
import { Label, LossOptions, normalizeOptions, plain } from '../losses';
import { EvaluateProgress, FileSourceOptions, FileSourceResult, lossFromFiles, streamFiles } from './evaluate';
import { ModelPlan, planFromModel, positiveCount } from './evaluator';
import { checkExternalData } from '../io/external-data';
import { externalTensors } from '../onnx';
import { readModelFile } from '../io/files';
import { checkModelExternalData, loadModelFile, modelFolder } from './model-file';
import { checkData, filePart, product } from '../data/rules';
import { shapeText } from '../losses/shapes';

/** Default batch: about this many elements of the largest input per batch (whole rows, at least one). */
export const DEFAULT_NETWORK_BATCH_ELEMENTS = 1 << 18;

/** As EvaluateProgress, `done` and `total` counting rows (first-axis entries of the feeds). */
export type EvaluateNetworkProgress = EvaluateProgress;

export interface EvaluateNetworkOptions extends FileSourceOptions {
  /** The network (.onnx file), to attach the loss to … */
  readonly network?: string;
  /** … or a network with the loss attached (`focal-onnx attach`), its options from its metadata. */
  readonly model?: string;
  /** The network output the loss takes as its prediction (with `model`, default: the one its metadata names). */
  readonly output?: string;
  /** One `.npy` file per network input, by input name; the targets (`target`) shaped like the output per row (binary, multilabel), or one class index per row (multiclass). */
  readonly feeds: Readonly<Record<string, string>>;
  /** Loss options (with `network`); `dtype` is the output's, `opset` the network's, `targetDtype` the target file's. */
  readonly loss?: LossOptions;
  /** Elements of the largest input per batch, rounded down to whole rows (default DEFAULT_NETWORK_BATCH_ELEMENTS). */
  readonly batchSize?: number;
  readonly onProgress?: (progress: EvaluateNetworkProgress) => void;
}

/** The evaluator's result (evaluator.ts) of the network's output, with what was fed. */
export interface EvaluateNetworkResult extends FileSourceResult {
  /** Entries of the inputs' first axis fed (e.g. images); `rows` is the evaluator's (all the output's axes but the last). */
  readonly inputRows: number;
  /** Rows (first-axis entries, e.g. images) per second of streaming. */
  readonly rowsPerSecond: number;
  /** The network (or the attached model) file, and the output the loss takes. */
  readonly network: string;
  readonly output: string;
  readonly feeds: Readonly<Record<string, string>>;
}

/** The model: the network with the loss attached here, or an attached model file; and the inputs fed from files. */
function networkPlan(options: EvaluateNetworkOptions, bytes: Uint8Array | undefined, target: NpyHeader, weight: NpyHeader | undefined, label: Label): { plan: ModelPlan; source: string; output: string; initializers: readonly string[] } {
  if ((options.network === undefined) === (options.model === undefined)) throw new UsageError('give a network (to attach the loss to) or an attached model, one of them');
  if (options.model !== undefined) {
    if (options.loss !== undefined) throw new UsageError(`${options.model}: takes its loss options from the file; drop the loss options`);
    const m = loadModelFile(options.model);
    checkModelExternalData(m);
    const output = options.output ?? m.info.metadata['focal.output'];
    if (output === undefined) throw new UsageError(`${options.model}: says no output the loss is attached to (no focal.output metadata); give ${label('output')}`);
    const plan = planFromModel(m.bytes, m.info.graph, m.options, options.model, output, label);
    return { plan, source: options.model, output, initializers: m.info.graph.initializers.map((t) => t.name) };
  }
  const network = options.network as string;
  if (options.output === undefined) throw new UsageError(`${label('output')} is required with ${label('network')}: the output of ${network} the loss takes as its prediction`);
  const loss = options.loss ?? {};
  // The target and weight files decide the target type and the weight kind (as for prediction files).
  const perLabel = target.shape.length > 1 ? target.shape[target.shape.length - 1] : 1;
  const resolved = lossFromFiles(loss, target, weight, label, () => ({ predictions: target.count, perRow: target.count / perLabel }));
  // The loss per element (sums in the graph, float64 here); the options' reduction decides the
  // report. perImage: also each loss over its image's divisor (loss_image_scaled), summed instead.
  // (What reduction none drops, the core applies over the whole input: MONAI's spatial mean,
  // perImage, and the normalized loss's division by the whole input's Σ F, an output.)
  const { perImage, spatialMean, normalized } = normalizeOptions({ ...resolved, asFunction: false, withGrad: false }, label);
  const attached = attachLoss(
    bytes as Uint8Array,
    { ...resolved, output: options.output, reduction: 'none', perImage: false, normalized: false, asFunction: false, withGrad: false },
    { source: network, label, outputLabel: label('output'), extras: { imageScaled: perImage, focalSum: normalized } },
  );
  checkExternalData(externalTensors(attached.model), modelFolder(network), network);
  for (const name of ['target', 'loss', 'weight']) {
    if (attached.names[name] !== undefined && attached.names[name] !== name) {
      throw new UsageError(`${network}: already uses the name ${quote(name)}, which ${label('network')} needs for the loss's ${name}; attach the loss yourself (focal-onnx attach, attachLoss: it renames the loss's names) and run that model in your own program`);
    }
  }
  const base = planFromModel(attached.bytes, attached, attached.options, network, options.output, label);
  const plan: ModelPlan = { ...base, options: { ...attached.options, reduction: loss.reduction ?? 'mean', perImage, spatialMean, normalized }, graphReduction: 'none' };
  const initializers = (attached.model.graph?.initializer ?? []).map((t) => t.name ?? '');
  return { plan, source: network, output: options.output, initializers };
}

/** Evaluates the focal loss of the network's output on the given files; see the top of this file. */
export async function evaluateNetwork(options: EvaluateNetworkOptions): Promise<EvaluateNetworkResult> {
  const label = options.label ?? plain;
  const batchSize = positiveCount('batch size', options.batchSize ?? DEFAULT_NETWORK_BATCH_ELEMENTS);
  let fed: { source: string; output: string; rows: number } | undefined;
  const result = await streamFiles(options, Object.values(options.feeds).map((f) => [f, 'input'] as const), async (open) => {
    const networkBytes = options.network !== undefined ? readModelFile(options.network) : undefined; // a missing network is named before its files
    const targetReader = open(options.target);
    const th = targetReader.header;
    const weightReader = options.weight !== undefined ? open(options.weight) : undefined;
    const wh = weightReader?.header;
    const { plan, source, output, initializers } = networkPlan(options, networkBytes, th, wh, label);
    const o = plan.options;
    const io = plan.build().io;
    const netInputs = io.inputs.filter((v) => (plan.feedNames ?? []).includes(v.name) && !initializers.includes(v.name));
    const outDims = io.outputs.find((v) => v.name === output)?.shape ?? [];

    // ---- the feeds: every input of the network, of its type and trailing dims, one row per example ----
    for (const name of Object.keys(options.feeds)) {
      if (!netInputs.some((v) => v.name === name)) throw new UsageError(`${label('feeds')} ${name}=…: ${source} has no input ${quote(name)}; its inputs: ${netInputs.map((v) => quote(v.name)).join(', ')}`);
    }
    for (const v of netInputs) {
      if (!(v.name in options.feeds)) throw new UsageError(`${source} takes the input ${quote(v.name)}: give it with ${label('feeds')} ${v.name}=FILE.npy`);
    }
    const feeds = netInputs.map((v) => {
      const file = options.feeds[v.name];
      const reader = open(file);
      const h = reader.header;
      if (h.dtype !== v.dtype) throw new DataError(`${file}: dtype ${h.dtype}, but ${source}'s input ${quote(v.name)} takes ${v.dtype}`);
      if (h.shape.length === 0) throw new DataError(`${file}: is a scalar; ${label('feeds')} files are split along their first axis into batches`);
      const dims = v.shape;
      if (dims && dims.length !== h.shape.length) throw new DataError(`${file}: shape ${shapeText(h.shape)}, but ${source}'s input ${quote(v.name)} is ${shapeText(dims)} (rank ${dims.length})`);
      dims?.forEach((d, k) => {
        if (k > 0 && typeof d === 'number' && d !== h.shape[k]) throw new DataError(`${file}: shape ${shapeText(h.shape)}, but ${source}'s input ${quote(v.name)} is ${shapeText(dims)}: axis ${k} must be ${d}`);
      });
      return { name: v.name, file, reader, rowElements: product(h.shape.slice(1)) };
    });
    const rows = feeds[0].reader.header.shape[0];
    if (rows === 0) throw new DataError(`${feeds[0].file}: holds no rows (shape ${shapeText(feeds[0].reader.header.shape)}); nothing to evaluate`);
    const rowed: [NpyHeader, string][] = [...feeds.map((f): [NpyHeader, string] => [f.reader.header, `every ${label('feeds')} file needs`]), [th, 'the targets need'], ...(wh ? [[wh, 'the weights need'] as [NpyHeader, string]] : [])];
    for (const [h, what] of rowed) {
      if (h.shape[0] !== rows) throw new DataError(`${h.path}: has ${h.shape.length ? h.shape[0] : 0} rows (shape ${shapeText(h.shape)}), but ${feeds[0].file} has ${rows}; ${what} one row per example`);
    }

    // ---- the targets and weights: per row of the output, under the task's rules ----
    // The output's dims after the batch axis: fixed by the network, or those of targets shaped like it.
    const outTail = outDims.slice(1);
    const fixedTail = outTail.every((d): d is number => typeof d === 'number');
    const tTail = (io.inputs.find((v) => v.name === 'target')?.shape ?? []).slice(1);
    const outRowDims = fixedTail ? (outTail as number[]) : JSON.stringify(tTail) === JSON.stringify(outTail) ? th.shape.slice(1) : undefined;
    if (!outRowDims) throw new UsageError(`${source}: output ${quote(output)} has shape ${shapeText(outDims)}; ${label('network')} needs its dims after the first fixed, or targets shaped like it`);
    const whole = checkData(o, { pred: { where: source, what: `output ${quote(output)} ` }, dims: [rows, ...outRowDims], target: { ...filePart(th), shaped: true }, ...(wh ? { weight: filePart(wh) } : {}), label });

    // ---- the evaluator: the model with its graph additions, one session, the stream ----
    fed = { source, output, rows };
    const batchRows = Math.max(1, Math.min(rows, Math.floor(batchSize / Math.max(1, ...feeds.map((f) => f.rowElements)))));
    // The files in the stream's order: the feeds, the targets, the weights.
    const files = [...feeds.map((f) => f.reader), targetReader, ...(weightReader ? [weightReader] : [])];
    return {
      plan,
      targetType: th.dtype,
      outHint: `attach the loss with ${label('reduction')} none`,
      outShape: whole.lossDims,
      lossRow: whole.count / rows,
      batches: {
        rows,
        batchRows,
        rowDims: outRowDims,
        feeds: feeds.map((f, i) => ({ name: f.name, file: i })),
        output: { file: source, element: `output '${output}' element`, rowElements: product(outRowDims), shape: [rows, ...outRowDims] },
        target: feeds.length,
        ...(weightReader ? { weight: feeds.length + 1 } : {}),
      },
      readers: files,
      progress: (done, seconds) => options.onProgress?.({ done, total: rows, seconds }),
    };
  });
  // Every row streamed (each file holds `rows`), in the sink's seconds.
  const { source, output, rows } = fed as { source: string; output: string; rows: number };
  return { ...result, inputRows: rows, rowsPerSecond: result.seconds > 0 ? rows / result.seconds : Infinity, network: source, output, feeds: options.feeds };
}
