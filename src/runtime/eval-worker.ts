/**
 * A worker thread of the evaluator's pool (pool.ts): one CPU session (of one thread, unless there
 * are more threads than MAX_WORKERS), its own file handles and batch buffers. It reads the batches
 * it is told to (synchronously: this thread has nothing else to do meanwhile, and the other
 * workers keep the other cores busy), runs them through a `BatchRunner` and posts each outcome
 * back; see pool.ts for the messages.
 */
import { parentPort, workerData } from 'worker_threads';
import { NpyReader } from '../io/npy';
import { BatchRunner, BatchSpec, asFileError, errorToData } from './batch';
import type { FromWorker, ToWorker, WorkerSetup } from './pool';
import { Session, createSession } from './session';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('eval-worker: not started as a worker thread');
  const setup = workerData as WorkerSetup;
  const spec: BatchSpec = setup.spec;
  const post = (m: FromWorker): void => port.postMessage(m);
  let session: Session | undefined;
  let predReader: NpyReader | undefined;
  let targetReader: NpyReader | undefined;
  try {
    session = await asFileError(spec.modelFile, 'onnxruntime cannot load it', () =>
      createSession(spec.graph.bytes, { ep: 'cpu', threads: setup.threads, graphOptimization: setup.graphOptimization, modelName: spec.modelFile }),
    );
    predReader = NpyReader.open(spec.pred.path);
    targetReader = NpyReader.open(spec.target.path);
  } catch (e) {
    predReader?.close();
    await session?.release();
    post({ type: 'failed', k: -1, error: errorToData(e) });
    return;
  }
  const runner = new BatchRunner(spec, session);
  const pr = predReader;
  const tr = targetReader;
  const s = session;
  post({ type: 'ready' });

  // Batches run one after the other (they share the runner's buffers), in the order asked.
  let queue: Promise<void> = Promise.resolve();
  let closing = false;
  const runBatch = async (k: number): Promise<void> => {
    if (closing) return; // asked to stop: the batches still queued are not wanted
    try {
      const out = await runner.runAt(k, pr, tr);
      post({ type: 'done', k, outcome: out });
    } catch (e) {
      post({ type: 'failed', k, error: errorToData(e) });
    }
  };
  port.on('message', (m: ToWorker) => {
    if (m.type === 'run') {
      queue = queue.then(() => runBatch(m.k));
      return;
    }
    // 'close': after the batch running now; then the thread ends by itself (never terminated from
    // outside while onnxruntime runs: see pool.ts).
    closing = true;
    void queue.then(async () => {
      pr.close();
      tr.close();
      await s.release();
      port.close();
    });
  });
}

main().catch((e: unknown) => {
  parentPort?.postMessage({ type: 'failed', k: -1, error: errorToData(e) } satisfies FromWorker);
});
