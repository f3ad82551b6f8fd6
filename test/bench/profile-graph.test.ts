/**
 * `npm run profile` (bench/profile-graph.ts, the build's copy: `npm test` builds first): it
 * profiles the graph eval runs and prints one row a node, with the totals; a bad flag is one line
 * and exit 2. Its numbers are timings and are not checked here.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

const SCRIPT = path.resolve(__dirname, '../../dist/bench/profile-graph.js');

function profile(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run profile', () => {
  it.each([
    ['binary', 'arith', ['Log', 'Abs', 'ReduceL1', 'ReduceMin', 'ReduceMax']],
    ['multilabel', 'onehot', ['Log', 'OneHot', 'Concat', 'MatMul']],
  ])('%s %s: a row for each node of eval’s graph, and the totals', (task, form, ops) => {
    const r = profile('--task', task, '--form', form, '--batch', '4096', '--runs', '10');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^eval's graph, ${task} ${form}, 4096 elements a batch`));
    const opsSeen = lines.slice(3, -3).map((l) => l.split(/\s+/)[0]);
    for (const op of ops) expect(opsSeen).toContain(op);
    // The evaluator's own nodes are there: the block sums and the float64 total.
    expect(r.stdout).toMatch(/focal_eval_block_sums/);
    for (const total of ['all nodes', 'whole run (onnxruntime)', 'whole run, no profiler']) {
      expect(lines.some((l) => l.startsWith(total) && /\d+\s+\d+\.\d{3}$/.test(l))).toBe(true);
    }
  });

  it('a bad flag: one line naming it, exit 2', () => {
    const r = profile('--form', 'dense');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("profile-graph: --form must be one of arith, onehot, got 'dense'\n");
  });
});
