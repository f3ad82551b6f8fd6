/**
 * The benchmark's peers (bench/bench-peers.py, run by `npm run bench` in the venv): each computes
 * the loss focal-onnx eval computes on the same files — the seed's formula on probabilities
 * (eps 1e-4), torchvision's and optax's function on their logits (eps 0) — within the tolerance
 * the bench asserts; a bad command line is refused. Timings are not checked (the benchmark's
 * business). The torch.compile peers compile once each, 30–70 s on a cold inductor cache: they run
 * under CI (CI=true) or with FOCAL_TEST_COMPILE=1, and are skipped with a note otherwise (every
 * `npm run bench` checks them too, bench/bench-peers.ts's checkPeers).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NpyWriter } from '../../src/io/npy';
import { evaluate } from '../../src/runtime';
import { PEERS, PEER_TOLERANCE } from '../../bench/bench-peers';
import { mulberry32 } from '../../scripts/prng';
import { describePython } from '../helpers/python';

const SCRIPT = path.resolve(__dirname, '../../bench/bench-peers.py');
const N = 20_000;
const COMPILE = process.env.CI === 'true' || process.env.FOCAL_TEST_COMPILE === '1';

async function write(file: string, data: Float32Array): Promise<void> {
  const w = NpyWriter.create(file, 'float32', [data.length]);
  await w.append(data);
  await w.commit();
}

describePython('bench peers (bench/bench-peers.py)', (python) => {
  let dir: string;
  const files = { pred: '', target: '', logits: '' };
  const want = { probs: 0, logits: 0 };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-peers-'));
    const rnd = mulberry32(0x9ee25);
    const p = new Float32Array(N);
    const t = new Float32Array(N);
    const x = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      p[i] = rnd();
      t[i] = rnd() < 0.3 ? 1 : 0;
      const q = Math.min(Math.max(p[i], 2 ** -24), 1 - 2 ** -24);
      x[i] = Math.log(q) - Math.log1p(-q);
    }
    Object.assign(files, { pred: path.join(dir, 'p.npy'), target: path.join(dir, 't.npy'), logits: path.join(dir, 'x.npy') });
    await write(files.pred, p);
    await write(files.target, t);
    await write(files.logits, x);
    want.probs = (await evaluate({ loss: { task: 'binary', alpha: 0.25, gamma: 2 }, pred: files.pred, target: files.target, threads: 1 })).loss;
    want.logits = (await evaluate({ loss: { task: 'binary', input: 'logits', eps: 0, alpha: 0.25, gamma: 2 }, pred: files.logits, target: files.target, threads: 1 }))
      .loss;
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const peer = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(python, [SCRIPT, files.pred, files.target, '--logits', files.logits, '--threads', '2', ...args], { encoding: 'utf8' });

  const slow = PEERS.filter((p) => p.id.startsWith('torch-compile'));
  if (!COMPILE) {
    // One line, no stack trace (console.warn in jest prints where it was called).
    process.stderr.write(`test/bench/bench-peers.test.ts: skipped ${slow.map((p) => p.id).join(', ')}: they compile (30–70 s); CI runs them, or FOCAL_TEST_COMPILE=1\n`);
  }
  const peers = PEERS.filter((p) => COMPILE || !slow.includes(p));
  it.each(peers.map((p) => [p.id, p.logits] as const))(
    '%s computes focal-onnx eval’s loss, and reports its phases',
    (id, logits) => {
      const r = peer('--peer', id, '--repeat', '2');
      expect(r.stderr.split('\n').filter((l) => /Error|Traceback/.test(l))).toEqual([]);
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
      expect(out.peer).toBe(id);
      expect(out.n).toBe(N);
      expect(out.threads).toBe(2);
      const expected = logits ? want.logits : want.probs;
      expect(Math.abs((out.loss as number) - expected) / expected).toBeLessThanOrEqual(PEER_TOLERANCE);
      for (const k of ['import_s', 'load_s', 'first_s', 'max_rss_kb']) expect(out[k]).toBeGreaterThan(0);
      expect(out.times_s).toHaveLength(2);
    },
    240_000,
  );

  it('the logits peers need --logits; an unknown peer is refused', () => {
    const noLogits = spawnSync(python, [SCRIPT, files.pred, files.target, '--peer', 'jax-optax'], { encoding: 'utf8' });
    expect(noLogits.status).toBe(2);
    expect(noLogits.stderr).toMatch(/--peer jax-optax needs --logits/);
    const unknown = peer('--peer', 'tensorflow');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/invalid choice: 'tensorflow'/);
  });
});
