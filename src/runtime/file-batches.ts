/**
 * How a file source's `.npy` files split into batches, as plain data (`FileBatches`): the files,
 * the rows and rows per batch, and which file is which array of a batch (`evaluate()`: predictions,
 * targets, weights; `evaluateNetwork()`: the network's inputs, targets, weights); and the two ways
 * they are read. One function makes batch k's `BatchData` from the files' arrays (`fileBatch`),
 * wherever they were read: by the caller's read-ahead stream (`readAhead`: the files in lockstep,
 * batch k+1 read on libuv's thread pool, into the other of each reader's two reused page-aligned
 * buffers (NpyReader.batches), while the caller computes on batch k), or by index, synchronously
 * (`FileBatchReader`), by each session of the pool (pool.ts, eval-worker.ts), which opens the same
 * files itself. Loads no protobuf or onnxruntime code.
 */
import { NpyDType, NpyReader, NpyTypedArray, alignedTypedArrayFor } from '../io/npy';
import type { BatchArray, BatchData } from './batch';
import type { HostTensor, TensorDType } from './session';

/** One file of the batches: its path, element type and shape (for messages), and its elements per row. */
export interface BatchFile {
  readonly path: string;
  readonly dtype: NpyDType;
  readonly shape: readonly number[];
  readonly rowElements: number;
}

/** See the top of this file. Indices (`pred`, `target`, …) are into `files`. */
export interface FileBatches {
  readonly files: readonly BatchFile[];
  /** Rows in the files, and per batch (the last may have fewer). */
  readonly rows: number;
  readonly batchRows: number;
  /** A batch of n rows has dims [n, ...rowDims] (its predictions', or the network output's). */
  readonly rowDims: readonly number[];
  readonly pred?: number;
  readonly target: number;
  readonly weight?: number;
  /** Binary files read flat: the file's shape (BatchData.inputDims). */
  readonly inputDims?: readonly number[];
  /** A network's inputs: each fed whole rows of its file, [n, ...the file's shape after the first axis]. */
  readonly feeds?: readonly { readonly name: string; readonly file: number }[];
  /** A network's output, as messages name its elements (BatchData.predPlace): elements per row, and the whole output's shape. */
  readonly output?: { readonly file: string; readonly element: string; readonly rowElements: number; readonly shape: readonly number[] };
}

/** One file of a stream: its reader, and its elements per row. */
export interface StreamPart {
  readonly reader: NpyReader;
  readonly rowElements: number;
}

/** The parts' batches of `batchRows` rows, in lockstep, batch k+1 read while k is used; readAhead above. */
export async function* readAhead(parts: readonly StreamPart[], batchRows: number): AsyncGenerator<NpyTypedArray[], void, undefined> {
  const iterators = parts.map((p) => p.reader.batches(batchRows * Math.max(1, p.rowElements)));
  const next = (): Promise<IteratorResult<{ data: NpyTypedArray }>>[] => {
    const all = iterators.map((it) => it.next());
    for (const x of all) x.catch(() => undefined); // awaited below; never left unhandled
    return all;
  };
  let pending: ReturnType<typeof next> | undefined = next();
  try {
    for (;;) {
      const got = await Promise.all(pending);
      pending = undefined;
      if (got.some((g) => g.done)) {
        if (!got.every((g) => g.done)) throw new Error("the files' batches are out of step");
        return;
      }
      pending = next(); // batch k+1 into the other buffers while batch k runs
      yield got.map((g) => (g.value as { data: NpyTypedArray }).data);
    }
  } finally {
    if (pending) await Promise.allSettled(pending);
    await Promise.allSettled(iterators.map((it) => it.return(undefined)));
  }
}

/** The number of batches. */
export function batchCount(l: FileBatches): number {
  return Math.ceil(l.rows / l.batchRows);
}

/** The rows of batch k. */
export function batchRowsOf(l: FileBatches, k: number): number {
  return Math.min(l.batchRows, l.rows - k * l.batchRows);
}

/** The batch of `n` rows from row `start`, its arrays `data` in the files' order, its per-element losses `into`. */
export function fileBatch(l: FileBatches, data: readonly NpyTypedArray[], start: number, n: number, into?: NpyTypedArray): BatchData {
  const array = (i: number): BatchArray => {
    const f = l.files[i];
    return { dtype: f.dtype, data: data[i], place: { file: f.path, start: start * f.rowElements, shape: f.shape } };
  };
  let feeds: Record<string, HostTensor> | undefined;
  if (l.feeds) {
    feeds = {};
    for (const { name, file } of l.feeds) {
      const f = l.files[file];
      feeds[name] = { dtype: f.dtype as TensorDType, dims: [n, ...f.shape.slice(1)], data: data[file] } as HostTensor;
    }
  }
  const out = l.output;
  return {
    dims: [n, ...l.rowDims],
    ...(l.pred !== undefined ? { pred: array(l.pred) } : {}),
    ...(feeds ? { feeds } : {}),
    ...(out ? { predPlace: { file: out.file, element: out.element, start: start * out.rowElements, shape: out.shape } } : {}),
    target: array(l.target),
    ...(l.weight !== undefined ? { weight: array(l.weight) } : {}),
    ...(l.inputDims ? { inputDims: l.inputDims } : {}),
    ...(into ? { into } : {}),
  };
}

/**
 * Reads batch k synchronously into buffers of its own, from its own handles on the files: for a
 * pool's session, which reads and runs its batches in turn while the other sessions compute.
 */
export class FileBatchReader {
  private buffers: NpyTypedArray[] | undefined;

  /** Over readers of the files already open (in `l.files`' order), which stay the caller's to close. */
  constructor(
    private readonly l: FileBatches,
    private readonly readers: readonly NpyReader[],
  ) {}

  /** Opens the files (closed again on a failure). */
  static open(l: FileBatches): FileBatchReader {
    const readers: NpyReader[] = [];
    try {
      for (const f of l.files) readers.push(NpyReader.open(f.path));
    } catch (e) {
      for (const r of readers) r.close();
      throw e;
    }
    return new FileBatchReader(l, readers);
  }

  read(k: number): BatchData {
    const l = this.l;
    const first = Math.min(l.batchRows, l.rows);
    this.buffers ??= l.files.map((f) => alignedTypedArrayFor(f.dtype, first * f.rowElements));
    const start = k * l.batchRows;
    const n = batchRowsOf(l, k);
    const data = l.files.map((f, i) => {
      const d = (this.buffers as NpyTypedArray[])[i].subarray(0, n * f.rowElements) as NpyTypedArray;
      this.readers[i].readIntoSync(d, start * f.rowElements);
      return d;
    });
    return fileBatch(l, data, start, n);
  }

  close(): void {
    for (const r of this.readers) r.close();
  }
}
