/**
 * Batches of `.npy` files for the evaluator: how the prediction, target (and weight) files split
 * into batches of whole rows, and the reading of batch k into a reader's own page-aligned buffers.
 * Shared by `evaluate()` in this thread and its worker threads (eval-worker.ts), so it is plain
 * data and loads no protobuf code.
 *
 * A row is what a batch holds whole: one element of a binary file (flattened, as the seed does),
 * else one item of the files' first axis ([L] labels, [K, L] boxes of labels, [C] classes).
 */
import { NpyHeader, NpyReader, NpyTypedArray, alignedTypedArrayFor } from '../io/npy';
import { BatchData } from './batch';

/** One file of a batch: its header, and its elements per row. */
export interface FileStream {
  readonly header: NpyHeader;
  readonly rowElements: number;
}

/** How the files map to batches and per-element losses. */
export interface FileLayout {
  /** Rows in the files (the elements, for binary). */
  readonly rows: number;
  /** Rows per batch (the last may have fewer). */
  readonly batchRows: number;
  /** The dims of one row of predictions: [] (a binary element) or the file's shape after the first axis. */
  readonly rowDims: readonly number[];
  /** Per-element losses per row. */
  readonly lossRow: number;
  /** Shape of the per-element losses (`out`). */
  readonly outShape: readonly number[];
  readonly pred: FileStream;
  readonly target: FileStream;
  readonly weight?: FileStream;
}

export type FileName = 'pred' | 'target' | 'weight';

/** The batch of `rows` rows from row `start`, whose arrays are `data`. */
export function fileBatch(layout: FileLayout, start: number, rows: number, data: Readonly<Record<FileName, NpyTypedArray | undefined>>, into?: NpyTypedArray): BatchData {
  const array = (s: FileStream, d: NpyTypedArray) => ({
    dtype: s.header.dtype,
    data: d,
    place: { file: s.header.path, start: start * s.rowElements, shape: s.header.shape },
  });
  return {
    dims: [rows, ...layout.rowDims],
    pred: array(layout.pred, data.pred as NpyTypedArray),
    target: array(layout.target, data.target as NpyTypedArray),
    weight: layout.weight && data.weight ? array(layout.weight, data.weight) : undefined,
    into,
  };
}

/** The files' streams by name. */
export function fileStreams(layout: FileLayout): [FileName, FileStream][] {
  const out: [FileName, FileStream][] = [
    ['pred', layout.pred],
    ['target', layout.target],
  ];
  if (layout.weight) out.push(['weight', layout.weight]);
  return out;
}

/**
 * Reads batch k (rows k·batchRows …) synchronously into buffers of its own: for a caller that
 * reads and runs batches in turn (the evaluator's pool, where another session computes meanwhile).
 */
export class FileBatchReader {
  private buffers: Map<FileName, NpyTypedArray> | undefined;

  constructor(
    private readonly layout: FileLayout,
    private readonly readers: Readonly<Partial<Record<FileName, NpyReader>>>,
  ) {}

  /** Opens the layout's files (closed again on a failure). */
  static open(layout: FileLayout): FileBatchReader {
    const readers: Partial<Record<FileName, NpyReader>> = {};
    try {
      for (const [name, s] of fileStreams(layout)) readers[name] = NpyReader.open(s.header.path);
    } catch (e) {
      for (const r of Object.values(readers)) r?.close();
      throw e;
    }
    return new FileBatchReader(layout, readers);
  }

  read(k: number): BatchData {
    const { layout } = this;
    const first = Math.min(layout.batchRows, layout.rows);
    this.buffers ??= new Map(fileStreams(layout).map(([name, s]) => [name, alignedTypedArrayFor(s.header.dtype, first * s.rowElements)]));
    const start = k * layout.batchRows;
    const rows = Math.min(layout.batchRows, layout.rows - start);
    const data: Partial<Record<FileName, NpyTypedArray>> = {};
    for (const [name, s] of fileStreams(layout)) {
      const d = (this.buffers.get(name) as NpyTypedArray).subarray(0, rows * s.rowElements) as NpyTypedArray;
      (this.readers[name] as NpyReader).readIntoSync(d, start * s.rowElements);
      data[name] = d;
    }
    return fileBatch(layout, start, rows, data as Record<FileName, NpyTypedArray>);
  }

  close(): void {
    for (const r of Object.values(this.readers)) r?.close();
  }
}
