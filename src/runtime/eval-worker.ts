/**
 * A worker thread of the evaluator's pool (pool.ts): one CPU session (of one thread, unless there
 * are more threads than MAX_WORKERS) of the spec's graph, its own file handles and batch buffers.
 * It waits for its 'setup'; then it loads the session, opens the files and posts 'ready'. It reads
 * the batches it is told to by index (file-batches.ts; synchronously: this thread has nothing else
 * to do meanwhile, and the other sessions keep the other cores busy), runs them through a
 * `BatchRunner` — the evaluator's own per-batch code — and posts each outcome back for the caller's
 * core to accumulate in batch order; see pool.ts for the messages.
 */
import { parentPort } from 'worker_threads';
import { BatchRunner, openSession } from './batch';
import { FileBatchReader } from './file-batches';
import { FromWorker, ToWorker, WorkerSetup, errorToData } from './pool';
import { Session, loadRuntime } from './session';

/** What a set-up worker holds. */
interface Loaded {
  readonly session: Session;
  readonly files: FileBatchReader;
  readonly runner: BatchRunner;
}

/** The session and files for `setup`; everything opened so far is closed again on a failure. */
async function load(setup: WorkerSetup): Promise<Loaded> {
  const spec = setup.spec;
  let session: Session | undefined;
  try {
    session = await openSession(spec, spec.graph, { ...setup.session, ep: 'cpu' });
    return { session, files: FileBatchReader.open(setup.batches), runner: new BatchRunner(spec, session) };
  } catch (e) {
    await session?.release();
    throw e;
  }
}

function main(): void {
  // The native binding now, while the caller builds the graph the setup will bring.
  loadRuntime();
  const port = parentPort;
  if (!port) throw new Error('eval-worker: not started as a worker thread');
  const post = (m: FromWorker): void => port.postMessage(m);

  // One listener for the worker's whole life (a message to a port with no listener is lost), and
  // everything in order on `queue`: the loading, the batches (they share the runner's buffers),
  // the close. A close before any setup finds nothing loaded.
  let queue: Promise<Loaded | undefined> = Promise.resolve(undefined);
  let closing = false;
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'setup':
        queue = queue.then(() =>
          load(m.setup).then(
            (loaded) => {
              if (!closing) post({ type: 'ready' });
              return loaded;
            },
            (e: unknown) => {
              post({ type: 'failed', k: -1, error: errorToData(e) });
              return undefined;
            },
          ),
        );
        return;
      case 'run':
        // Only sent after 'ready'.
        queue = queue.then(async (loaded) => {
          // Asked to stop: the batches still queued are not wanted.
          if (!loaded || closing) return loaded;
          try {
            post({ type: 'done', k: m.k, outcome: await loaded.runner.run(loaded.files.read(m.k)) });
          } catch (e) {
            post({ type: 'failed', k: m.k, error: errorToData(e) });
          }
          return loaded;
        });
        return;
      case 'close':
        // After the batch running now (or the loading); then the thread ends by itself (never
        // terminated from outside while onnxruntime runs: see pool.ts).
        closing = true;
        void queue.then(async (loaded) => {
          if (loaded) {
            loaded.files.close();
            await loaded.session.release();
          }
          port.close();
        });
    }
  });
}

try {
  main();
} catch (e) {
  parentPort?.postMessage({ type: 'failed', k: -1, error: errorToData(e) } satisfies FromWorker);
}
