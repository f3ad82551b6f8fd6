/**
 * ONNX Runtime sessions on the CPU or CUDA — the one module that imports onnxruntime-node.
 *
 * `createSession(model, { ep })`:
 * - `cpu`: the CPU execution provider.
 * - `cuda`: the CUDA provider alone, with `session.disable_cpu_ep_fallback = 1`, so a node with no
 *   CUDA kernel is a load error (listing the nodes the static check finds, src/onnx/placement.ts), never a
 *   silent copy to the CPU. When the CUDA provider libraries are not installed (the npm package
 *   ships the CPU runtime only; `npm run setup:cuda` fetches the rest) or no GPU is usable, a
 *   one-line `UsageError` says so and what to do.
 * - `auto`: CUDA as above when it loads; otherwise the CPU, after a one-line notice through
 *   `onNotice`.
 *
 * Tensors cross the boundary as `HostTensor`s ({ dtype, dims, data }) whose typed arrays are
 * wrapped without copying (int64 in BigInt64Array, float16 as raw bits in Uint16Array, bool as
 * bytes in Uint8Array); in Node every input and output passes through host memory.
 */
import * as os from 'os';
import * as path from 'path';
import type * as ort from 'onnxruntime-node';
import { UsageError, quote } from '../errors';
import { readModelFile } from '../io/files';
import type { Label } from '../losses/vocabulary';

export type ExecutionProvider = 'cpu' | 'cuda';
export type ExecutionProviderChoice = ExecutionProvider | 'auto';
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'auto'] as const;

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';
export const GRAPH_OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

/** Element types of the tensors the runtime passes (the ONNX names onnxruntime-node uses). */
export const TENSOR_DTYPES = ['float16', 'float32', 'float64', 'int8', 'int32', 'int64', 'uint8', 'bool'] as const;
export type TensorDType = (typeof TENSOR_DTYPES)[number];

/** Typed array per element type. */
export interface TensorDataMap {
  float16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

/** A tensor in host memory. */
export interface HostTensor<D extends TensorDType = TensorDType> {
  readonly dtype: D;
  readonly dims: readonly number[];
  readonly data: TensorDataMap[D];
}

export interface SessionOptions {
  /** Execution provider (default 'cpu'). */
  readonly ep?: ExecutionProviderChoice;
  /** CUDA device (default 0). */
  readonly deviceId?: number;
  /** Threads for one operator (default: every core, `os.availableParallelism()`). */
  readonly threads?: number;
  /** Graph optimization level (default 'all'). */
  readonly graphOptimization?: GraphOptimizationLevel;
  /**
   * Whether the intra-op threads spin while they wait for work (default true: the lowest latency
   * for small runs). `evaluate()` and `evaluateNetwork()` turn it off for their large batches:
   * measured at 32M elements on a shared 2-core machine, 0.70× the CPU time and 0.66× the wall
   * time (median of 11 pairs, bench/README.md).
   */
  readonly spinning?: boolean;
  /**
   * The folder a model's external data (side files of weights) is found in: the model file's
   * folder, from any working directory. Default: the folder of a model given as a path; for bytes,
   * the working directory (onnxruntime's own default). Passed to onnxruntime as the session
   * option `session.model_external_initializers_file_folder_path`, so it reads the side files
   * itself, as for a model opened by its path (bench/external-data.md: the same load time and
   * memory as `InferenceSession.create(path)`; its `externalData` option, which in Node takes the
   * files' bytes, about 3× the load time and a second copy of the weights).
   */
  readonly externalDataDir?: string;
  /** Receives one-line notices (the `auto` fallback). */
  readonly onNotice?: (message: string) => void;
  /** Names options in messages (the CLI passes its flag names: `--ep`). */
  readonly label?: Label;
  /**
   * Where the model came from, for messages (a file name). A model given as a path is named by it;
   * a load failure of a named model is the user's (`UsageError`), of an unnamed one our bug.
   */
  readonly modelName?: string;
}

/**
 * Every core: on a 2-core CPU two threads evaluate 16M elements ~15% faster than one (at 256K
 * elements per batch, see DEFAULT_BATCH_ELEMENTS), unless other processes keep the cores busy.
 */
export const DEFAULT_THREADS = (): number => (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
export const DEFAULT_GRAPH_OPTIMIZATION: GraphOptimizationLevel = 'all';

export interface Session {
  /** The provider the session runs on. */
  readonly ep: ExecutionProvider;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * Runs the model; resolves to every output, or to those named in `fetches`. `fetches` may also
   * map output names to pre-allocated tensors of the exact output shape: onnxruntime then writes
   * into their arrays (no allocation, no copy), and the results carry those same arrays; a `null`
   * entry fetches that output into a new array.
   */
  run(
    feeds: Readonly<Record<string, HostTensor>>,
    fetches?: readonly string[] | Readonly<Record<string, HostTensor | null>>,
  ): Promise<Record<string, HostTensor>>;
  /** Frees the native session. Idempotent. */
  release(): Promise<void>;
}

/** The provider libraries are missing (the CPU-only npm install). */
const NOT_INSTALLED = /Failed to load (shared )?librar|providers_cuda|providers_shared|cannot open shared object|LoadLibrary failed|libcudart|libcublas|libcudnn/i;
/** Installed, but no usable GPU or driver. */
const NO_DEVICE = /no CUDA-capable device|cudaErrorNoDevice|CUDA driver version is insufficient|cudaErrorInsufficientDriver|CUDA failure 100|CUDA failure 35|cudaGetDeviceCount/i;
const FALLBACK_REFUSED = /assigned to the default CPU EP/i;

function baseOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  const threads = options.threads ?? DEFAULT_THREADS();
  if (!Number.isSafeInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  const level = options.graphOptimization ?? DEFAULT_GRAPH_OPTIMIZATION;
  if (!GRAPH_OPTIMIZATION_LEVELS.includes(level)) {
    throw new RangeError(`graphOptimization must be one of ${GRAPH_OPTIMIZATION_LEVELS.join(', ')}, got ${String(level)}`);
  }
  return {
    graphOptimizationLevel: level,
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 4,
    extra: { session: sessionConfig(options) },
  };
}

/** The session's config entries (`session.*`): spinning, the external data's folder, and `more`. */
function sessionConfig(options: SessionOptions, more: Record<string, string> = {}): Record<string, unknown> {
  return {
    ...more,
    ...(options.spinning === false ? { intra_op: { allow_spinning: '0' } } : {}),
    ...(options.externalDataDir !== undefined ? { model_external_initializers_file_folder_path: options.externalDataDir } : {}),
  };
}

/** How messages name the execution provider option: `ep`, or as `label` says (`--ep` on the CLI). */
const epName = (label?: Label): string => (label ? label('ep') : 'ep');

/**
 * Why CUDA could not be used (`why`) and what to do (`hint`), or undefined when a session error
 * is something else. The hint names what to run where focal-onnx runs: in this repository its
 * script, in a project that installed focal-onnx (this file under node_modules) npm's rebuild of
 * onnxruntime-node with its CUDA download asked for.
 */
export function describeCudaFailure(message: string, label?: Label): { why: string; hint: string } | undefined {
  const ep = epName(label);
  if (NOT_INSTALLED.test(message)) {
    const dependency = __dirname.split(/[\\/]/).includes('node_modules');
    const setup = dependency ? "'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node' in your project" : "'npm run setup:cuda'";
    const hint = `run ${setup} on a machine with CUDA 12 that can reach onnxruntime's NuGet feed, or use ${ep} cpu`;
    return { why: 'the CUDA execution provider is not installed (libonnxruntime_providers_cuda.so could not be loaded)', hint };
  }
  if (NO_DEVICE.test(message)) return { why: `no usable CUDA device (${firstLine(message)})`, hint: `use ${ep} cpu` };
  return undefined;
}

/** A UsageError that says why `ep` cuda cannot be used (`label`: how ep is named, `--ep` on the CLI); `why` feeds the `auto` notice. */
export class CudaUnavailableError extends UsageError {
  constructor(
    readonly why: string,
    hint: string,
    label?: Label,
  ) {
    super(`${epName(label)} cuda: ${why}; ${hint}`);
    this.name = 'CudaUnavailableError';
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}

let binding: typeof ort | undefined;
/**
 * onnxruntime-node, loaded at the first session (or `loadRuntime`), not with this module: what
 * only builds or exports graphs, or reads a model (the CLI's export, attach and inspect, the
 * evaluator's planning), loads no native code (~20 ms to load, and it may not load at all on a platform
 * onnxruntime-node has no binary for).
 */
export function loadRuntime(): typeof ort {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (binding ??= require('onnxruntime-node') as typeof ort);
}

function toOrt(t: HostTensor): ort.Tensor {
  return new (loadRuntime().Tensor)(t.dtype, t.data as ort.Tensor.DataTypeMap[typeof t.dtype], t.dims);
}

function isNameList(x: readonly string[] | Readonly<Record<string, HostTensor | null>>): x is readonly string[] {
  return Array.isArray(x);
}

function wrap(session: ort.InferenceSession, ep: ExecutionProvider): Session {
  let released = false;
  return {
    ep,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    // Not async, and no object more than needed: a small batch's run is ~30 µs, of which this is part.
    run(feeds, fetches) {
      let given: Readonly<Record<string, HostTensor | null>> | undefined;
      let running: Promise<ort.InferenceSession.ReturnType>;
      try {
        const ortFeeds: Record<string, ort.Tensor> = {};
        for (const name in feeds) ortFeeds[name] = toOrt(feeds[name]);
        if (fetches === undefined) running = session.run(ortFeeds);
        else if (isNameList(fetches)) running = session.run(ortFeeds, [...fetches]);
        else {
          given = fetches;
          const ortFetches: Record<string, ort.Tensor | null> = {};
          for (const name in fetches) {
            const t = fetches[name];
            ortFetches[name] = t ? toOrt(t) : null;
          }
          running = session.run(ortFeeds, ortFetches);
        }
      } catch (e) {
        return Promise.reject(e); // a tensor onnxruntime refuses: a rejection, as from the run
      }
      return running.then((result) => {
        const out: Record<string, HostTensor> = {};
        for (const name in result) {
          const t = result[name];
          out[name] = given?.[name] ?? { dtype: t.type as TensorDType, dims: t.dims, data: t.data as TensorDataMap[TensorDType] };
        }
        return out;
      });
    },
    async release() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}

async function load(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions, name: string | undefined): Promise<ort.InferenceSession> {
  // onnxruntime prints its own errors to stderr in color (a failed provider load prints three
  // lines); the messages reach us through the exceptions anyway, so the native log is silenced to
  // fatal errors (before the process's first session).
  const runtime = loadRuntime();
  runtime.env.logLevel = 'fatal';
  try {
    return await runtime.InferenceSession.create(bytes, options);
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    if (name !== undefined && describeCudaFailure(message) === undefined && !FALLBACK_REFUSED.test(message)) {
      throw new UsageError(`${name}: onnxruntime cannot load the model: ${firstLine(message)}`);
    }
    throw e;
  }
}

async function createCuda(bytes: Uint8Array, options: SessionOptions): Promise<Session> {
  const deviceId = options.deviceId ?? 0;
  const session = await load(
    bytes,
    {
      ...baseOptions(options),
      executionProviders: [{ name: 'cuda', deviceId }],
      extra: { session: sessionConfig(options, { disable_cpu_ep_fallback: '1' }) },
    },
    options.modelName,
  );
  return wrap(session, 'cuda');
}

/**
 * Turns a CUDA session failure into the user's one-line error, when it is one. The placement check
 * (which decodes the model) is loaded only here: this module stays free of the protobuf code, so
 * a session's module loads ~20 ms sooner.
 */
async function cudaError(e: unknown, bytes: Uint8Array, options: SessionOptions): Promise<unknown> {
  const message = (e as Error)?.message ?? String(e);
  const ep = epName(options.label);
  const failure = describeCudaFailure(message, options.label);
  if (failure) return new CudaUnavailableError(failure.why, failure.hint, options.label);
  if (FALLBACK_REFUSED.test(message)) {
    let nodes: string[] = [];
    try {
      const { checkCudaPlacement, formatPlacement } = await import('../onnx/placement');
      nodes = formatPlacement(checkCudaPlacement(bytes));
    } catch {
      // Not decodable here: the runtime's own message has to do.
    }
    const list = nodes.length ? `: ${nodes.slice(0, 3).join('; ')}${nodes.length > 3 ? `; and ${nodes.length - 3} more` : ''}` : '';
    const what = options.modelName ?? 'the model';
    return new CudaUnavailableError(`${what} has nodes with no CUDA kernel, which would run on the CPU${list}`, `use ${ep} auto or ${ep} cpu`, options.label);
  }
  return e;
}

/**
 * A session for `model` (bytes, or the path of an .onnx file) on the chosen provider; see the top
 * of this file. Throws `UsageError`s for what the user can fix (CUDA missing, a model file
 * onnxruntime refuses), anything else as it comes.
 */
export async function createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
  let bytes: Uint8Array;
  let named = options;
  if (typeof model === 'string') {
    bytes = readModelFile(model);
    named = { ...options, modelName: options.modelName ?? model, externalDataDir: options.externalDataDir ?? path.dirname(path.resolve(model)) };
  } else {
    bytes = model;
  }
  const ep = options.ep ?? 'cpu';
  const cpu = async (): Promise<Session> => wrap(await load(bytes, { ...baseOptions(named), executionProviders: ['cpu'] }, named.modelName), 'cpu');
  switch (ep) {
    case 'cpu':
      return cpu();
    case 'cuda':
      try {
        return await createCuda(bytes, named);
      } catch (e) {
        throw await cudaError(e, bytes, named);
      }
    case 'auto':
      try {
        return await createCuda(bytes, named);
      } catch (e) {
        const err = await cudaError(e, bytes, named);
        if (!(err instanceof CudaUnavailableError)) throw err;
        named.onNotice?.(`${epName(named.label)} auto: ${err.why}; using the CPU`);
        return cpu();
      }
    default:
      throw new UsageError(`${epName(named.label)} must be one of ${EXECUTION_PROVIDERS.join(', ')}, got ${quote(String(ep))}`);
  }
}
