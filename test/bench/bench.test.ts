/**
 * `npm run bench` and `npm run bench:levers` (the build's copies: `npm test` builds first), at a
 * tiny size: the bench writes its JSON, README and chart with every row kind it measures (the
 * peers left out here: test/bench/bench-peers.test.ts runs them), says in its tables that the
 * peers did not run, and keeps the README's hand-written part; the levers print a row a variant,
 * each with its ratio to its baseline. Bad flags: one line, exit 2. Timings are not checked.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const DIST = path.resolve(__dirname, '../../dist/bench');

function node(script: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return nodeEnv(process.env, script, ...args);
}

function nodeEnv(env: NodeJS.ProcessEnv, script: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(DIST, script), ...args], { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run bench', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-bench-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a tiny run: every kind of row, the peers said to be left out when no venv can be made, the hand-written part kept', () => {
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const kept = '<!-- hand-written:start (npm run bench keeps this part as it is) -->\nlevers, by hand\n<!-- hand-written:end -->';
    fs.writeFileSync(path.join(out, 'README.md'), `# old\n\n${kept}\n\nold table\n`);
    // A venv that cannot be made (its python fails): the bench says so and goes on.
    const env = { ...process.env, FOCAL_VENV: path.join(dir, 'no-venv'), PYTHON: '/bin/false' };
    const r = nodeEnv(env, 'bench.js', '--sizes', '64K', '--tasks', 'binary', '--reps', '1', '--no-seed', '--no-levers', '--out', out, '--data', path.join(dir, 'data'));
    expect(r.status).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      meta: { peers: unknown };
      rows: { kind: string; task: string; losses: number[] }[];
      levers: unknown[];
      smallBatches: { rounds: number; rows: { size: number; addMicros: number; runMicros: number; ratio: number }[] };
      ab: unknown;
    };
    const kinds = new Set(results.rows.map((x) => `${x.task} ${x.kind}`));
    for (const k of ['eval', 'eval-logits', 'eval-inproc', 'ts', 'graph', 'eval-graph', 'eval-graph-logits', 'diagnostics', 'diagnostics-inproc']) expect(kinds).toContain(`binary ${k}`);
    expect([...kinds].filter((k) => k.startsWith('multilabel'))).toEqual([]);
    expect(results.meta.peers).toBeNull();
    expect(results.levers).toEqual([]);
    // Small batches (bench/small-batch.ts) in every run; the A/B only with --ab-base.
    expect(results.smallBatches.rows.map((x) => x.size)).toEqual([1000, 10000, 100000]);
    for (const x of results.smallBatches.rows) expect([x.addMicros > 0, x.runMicros > 0, Number.isFinite(x.ratio) && x.ratio > 0]).toEqual([true, true, true]);
    expect(results.ab).toBeNull();
    // eval on the probabilities and on their logits: two different losses, each the same in every row of its kind.
    const loss = (kind: string): number => results.rows.find((x) => x.task === 'binary' && x.kind === kind)?.losses[0] as number;
    expect(Math.abs(loss('eval-graph-logits') - loss('eval-logits')) / loss('eval-logits')).toBeLessThan(1e-6);
    // eval --diagnostics: the same loss as plain eval.
    expect(loss('diagnostics')).toBe(loss('eval'));
    const readme = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(readme).toContain(kept);
    expect(readme).not.toContain('old table');
    expect(readme).toMatch(/## Small batches in process, this run\n[\s\S]*\| 1,000 \| [\d.]+ \| [\d.]+ \| [\d.]+× \| [\d.]+× \| (yes|no) \|\n\| 10,000 \|[\s\S]*\| 100,000 \|/);
    expect(readme).not.toContain('## A/B of file eval');
    expect(readme).toMatch(/## Against the alternatives[\s\S]*\| focal-onnx eval, logits, eps 0 \| [\d.]+ \/ [\d.]+ \|/);
    const why = 'peers not run: scripts/setup-python.sh could not make the venv (exit 1)';
    expect(readme).toContain(`_${why}._`);
    expect(readme).toContain(`- ${why}`);
    expect(fs.readFileSync(path.join(out, 'throughput.svg'), 'utf8')).toMatch(/^<svg/);
    expect(r.stderr).toContain(`note: ${why}\n`);
    expect(fs.existsSync(path.join(dir, 'no-venv'))).toBe(false);
  }, 180_000);

  it('a bad flag: one line naming it, exit 2', () => {
    const r = node('bench.js', '--reps', '0');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^bench: --reps/);
    const ab = node('bench.js', '--ab-base', dir, '--out', path.join(dir, 'never'));
    expect(ab.status).toBe(2);
    expect(ab.stderr).toBe(`bench: --ab-base: expected a focal-onnx checkout with its dist built, found no bin/focal-onnx.js in ${dir} (run 'npm run build' there)\n`);
    expect(fs.existsSync(path.join(dir, 'never'))).toBe(false);
  });
});

describe('npm run bench:levers', () => {
  it('one row a variant, with its ratio to its baseline, and the JSON', () => {
    const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'focal-levers-')), 'levers.json');
    const r = node('bench-levers.js', '--part', 'all', '--only', 'Log$|Softplus\\(|allow_spinning|pre-allocated|batch 64K|correction term \\(no Where\\)$', '--rounds', '3', '--elements', '256K', '--json', json);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^part\s+variant\s+median ns\/elem\s+best ns\/elem\s+median ratio to baseline$/);
    const names = lines.slice(2).map((l) => l.split(/\s{2,}/)[1]);
    expect(names).toEqual(
      expect.arrayContaining([
        'Neg',
        'Log',
        "probs: eval's graph (baseline)",
        'logits: −Softplus(−z), exp(−Softplus(z))',
        'session: as eval has it (baseline)',
        'session: intra_op.allow_spinning = 0',
        'fetches: pre-allocated output tensors',
        'batch 64K elements',
        'batch 256K elements',
      ]),
    );
    // A baseline's ratio to itself is 1 in every round.
    for (const l of lines.filter((x) => /\(baseline\)/.test(x) || /^kernels\s+Neg\s/.test(x))) expect(l).toMatch(/1\.000$/);
    const saved = JSON.parse(fs.readFileSync(json, 'utf8')) as { rounds: number; results: { ns: number[] }[] };
    expect(saved.rounds).toBe(3);
    for (const x of saved.results) expect(x.ns).toHaveLength(3);
  }, 120_000);

  it('a bad flag: one line naming it, exit 2', () => {
    const r = node('bench-levers.js', '--part', 'everything');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("bench-levers: --part must be one of kernels, forms, session, batch, all, got 'everything'\n");
    const e = node('bench-levers.js', '--elements', 'many');
    expect(e.status).toBe(2);
    expect(e.stderr).toBe("bench-levers: --elements: expected a count such as 4M or 65536, got 'many'\n");
  });
});
