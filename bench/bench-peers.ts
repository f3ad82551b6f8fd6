/**
 * The benchmark's peers: what a user would run instead of focal-onnx, on the same files, sizes and
 * thread count (2) as the project's own rows — PyTorch eager and torch.compile (the seed's formula,
 * and torchvision's sigmoid_focal_loss on logits), jax.jit of optax's sigmoid_focal_loss, NumPy —
 * each measured as a whole process (python starts, imports, np.load's both files, computes once,
 * prints; timed from spawn to exit) and in process (best of several calls on the data in memory,
 * after a first call that for torch.compile and jax.jit compiles). bench/bench-peers.py runs them.
 *
 * They run in the project's venv: `prepare` calls scripts/setup-python.sh (which makes it from the
 * machine's wheel index, or finds it made); when none can be made, or it lacks the libraries, the
 * peers are left out and the bench says so (stderr, its README, the peers table). Binary only: the
 * peers' functions are element-wise, so the multilabel files would measure the same kernels.
 *
 * The in-process run of a size goes first (rep 0), so torch.compile's cache is warm for that
 * shape before any whole-process run is timed: the whole-process figure is a warm-cache start, as
 * a user's second run. `checkPeers` (bench.ts, after the run) asserts every peer's loss agrees with
 * focal-onnx eval's on the same files (probabilities with eps 1e-4, or logits with eps 0).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ROOT, Row, RowSource, SourceContext, lastJson, run } from './bench-rows';

interface PeerDef {
  readonly id: string;
  readonly label: string;
  readonly logits: boolean;
  readonly compiled: boolean;
}

export const PEERS: readonly PeerDef[] = [
  { id: 'torch-seed', label: 'PyTorch eager, seed formula', logits: false, compiled: false },
  { id: 'torch-compile-seed', label: 'torch.compile, seed formula', logits: false, compiled: true },
  { id: 'torch-tv', label: 'PyTorch eager, torchvision sigmoid_focal_loss (logits)', logits: true, compiled: false },
  { id: 'torch-compile-tv', label: 'torch.compile, torchvision sigmoid_focal_loss (logits)', logits: true, compiled: true },
  { id: 'jax-optax', label: 'jax.jit, optax sigmoid_focal_loss (logits)', logits: true, compiled: true },
  { id: 'numpy', label: 'NumPy, seed formula', logits: false, compiled: false },
];

/** Relative agreement asked of every peer's loss with focal-onnx eval's (float32 data, float32 peers). */
export const PEER_TOLERANCE = 1e-5;
const THREADS = 2;

interface PeerOutput {
  loss: number;
  versions: Record<string, string>;
  import_s: number;
  load_s: number;
  first_s: number;
  times_s: number[];
  max_rss_kb: number;
}

let python: string | undefined;
/** Library versions, for the README's header (null when the peers did not run). */
export let peerVersions: Record<string, string> | null = null;

/** Why the peers are not run, or undefined when they are. */
export let peersSkipped: string | undefined;

function findPython(): { python?: string; why?: string } {
  const made = spawnSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { cwd: ROOT, encoding: 'utf8' });
  const last = (made.stdout ?? '').trim().split('\n').pop() ?? '';
  if (made.status !== 0 || !last) {
    const why = (made.stderr ?? '').trim().split('\n').filter(Boolean).slice(-1)[0] ?? `exit ${made.status}`;
    return { why: `scripts/setup-python.sh could not make the venv (${why})` };
  }
  const py = path.resolve(ROOT, last);
  const probe = spawnSync(py, ['-c', 'import json, numpy, torch, jax, optax; print(json.dumps({"torch": torch.__version__, "jax": jax.__version__, "optax": optax.__version__, "numpy": numpy.__version__}))'], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) return { why: `${py} lacks the peers' libraries (${(probe.stderr ?? '').trim().split('\n').slice(-1)[0]})` };
  peerVersions = JSON.parse(probe.stdout.trim().split('\n').pop() as string) as Record<string, string>;
  return { python: py };
}

export const peerRows: RowSource = {
  name: 'peers',
  async prepare(ctx: SourceContext) {
    if (!ctx.options.peers) peersSkipped = 'peers not run (--no-peers)';
    else {
      const found = findPython();
      python = found.python;
      if (!python) peersSkipped = `peers not run: ${found.why}`;
    }
    if (peersSkipped) {
      process.stderr.write(`note: ${peersSkipped}\n`);
      ctx.notes.push(peersSkipped);
    }
  },
  async measure(ctx, task, size, files, rep) {
    if (!python || task !== 'binary' || !files.logits) return;
    const args = (p: PeerDef): string[] => [
      path.join(ROOT, 'bench', 'bench-peers.py'),
      files.pred,
      files.target,
      '--logits',
      files.logits as string,
      '--peer',
      p.id,
      '--threads',
      String(THREADS),
    ];
    if (rep === 0) {
      // In process first: it compiles (torch.compile's cache is then warm for this shape).
      const repeat = ctx.options.quick ? 3 : 5;
      for (const p of PEERS) {
        ctx.progress(`${p.id}, in process`);
        const r = lastJson<PeerOutput>(await run(python, [...args(p), '--repeat', String(repeat)]), `bench-peers.py --peer ${p.id}`);
        const inproc = ctx.row({ kind: 'peer-inproc', task, size, peer: p.id, threads: THREADS, label: `${p.label}, in process` });
        inproc.times.push(...r.times_s);
        inproc.peaks.push(...r.times_s.map(() => r.max_rss_kb * 1024));
        inproc.losses.push(...r.times_s.map(() => r.loss));
        inproc.note = `first call ${r.first_s.toFixed(2)} s${p.compiled ? ', compiling' : ''}`;
      }
    }
    for (const p of PEERS) {
      ctx.progress(`${p.id}, whole process`);
      const s = await run(python, args(p));
      const r = lastJson<PeerOutput>(s, `bench-peers.py --peer ${p.id}`);
      const whole = ctx.row({ kind: 'peer', task, size, peer: p.id, threads: THREADS, whole: true, label: `${p.label}, whole process` });
      whole.times.push(s.wall);
      whole.peaks.push(r.max_rss_kb * 1024);
      whole.losses.push(r.loss);
    }
  },
};

/**
 * Each peer row's loss against focal-onnx eval's on the same files: `eval` (probabilities, eps
 * 1e-4) for the seed-formula peers, `eval-logits` (logits, eps 0) for the logits peers. Marks a
 * row that disagrees and returns one line for it.
 */
export function checkPeers(rows: readonly Row[]): string[] {
  const bad: string[] = [];
  for (const r of rows) {
    if (r.kind !== 'peer' && r.kind !== 'peer-inproc') continue;
    const def = PEERS.find((p) => p.id === r.peer);
    const refKind = def?.logits ? 'eval-logits' : 'eval';
    const ref = rows.find((x) => x.kind === refKind && x.task === r.task && x.size === r.size && x.losses.length);
    if (!ref) continue;
    const want = ref.losses[0];
    const worst = Math.max(...r.losses.map((l) => Math.abs(l - want) / Math.abs(want)));
    if (!(worst <= PEER_TOLERANCE)) {
      r.note = `${r.note ? `${r.note}; ` : ''}DISAGREES with focal-onnx eval (${want.toPrecision(9)}): relative ${worst.toExponential(1)}`;
      bad.push(`${r.task} ${r.size}: ${r.label}: loss ${r.losses[0]} vs focal-onnx eval ${want} (relative ${worst.toExponential(2)} > ${PEER_TOLERANCE})`);
    }
  }
  return bad;
}
