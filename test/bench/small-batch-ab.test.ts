/**
 * `npm run bench:small` (bench/small-batch.ts) and `npm run bench:ab` (bench/ab.ts), the build's
 * copies (`npm test` builds first), at tiny sizes. What they report is checked, not how fast:
 * small-batch gives a row a size with both sides' µs and their ratio, after checking that both
 * sides computed the same loss; the A/B of this checkout against itself gives every mode's runs
 * and the same loss on both sides. Bad flags: one line naming the flag, exit 2.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'bench');

function node(script: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(DIST, script), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-small-ab-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('npm run bench:small', () => {
  it('a row a size: createEvaluator().add and the bare run, µs a call, and their ratio; the table and the JSON', () => {
    const json = path.join(dir, 'small.json');
    const r = node('small-batch.js', '--sizes', '1000,4096', '--rounds', '3', '--json', json);
    expect(r.stderr).toMatch(/wrote .*small\.json\n$/);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('| elements a batch | createEvaluator().add, µs | bare session.run, µs | add / run (median of rounds) | the same in CPU time | within 1.3× |');
    expect(lines.slice(2).map((l) => l.split('|')[1].trim())).toEqual(['1,000', '4,096']);
    const saved = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      meta: { threads: number };
      rows: { size: number; addMicros: number; runMicros: number; ratio: number; cpuRatio: number; rounds: number; addRounds: number[]; runRounds: number[]; calls: number; loss: number }[];
    };
    expect(saved.meta.threads).toBe(1);
    expect(saved.rows.map((x) => x.size)).toEqual([1000, 4096]);
    for (const x of saved.rows) {
      expect(x.rounds).toBe(3);
      expect(x.addRounds).toHaveLength(3);
      expect(x.runRounds).toHaveLength(3);
      expect(x.calls).toBeGreaterThanOrEqual(1);
      expect(Number.isFinite(x.cpuRatio) && x.cpuRatio > 0).toBe(true);
      // The medians are of the rounds' figures; the loss is the seed's binary focal loss, a mean (about 0.36 on this data).
      expect(x.addMicros).toBe([...x.addRounds].sort((a, b) => a - b)[1]);
      expect(x.runMicros).toBe([...x.runRounds].sort((a, b) => a - b)[1]);
      expect(x.loss).toBeGreaterThan(0);
      expect(x.loss).toBeLessThan(1);
    }
  }, 120_000);

  it('a bad flag: one line naming it, exit 2', () => {
    const r = node('small-batch.js', '--sizes', '1000,many');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("small-batch: --sizes must be positive integers, comma-separated, got '1000,many'\n");
    const z = node('small-batch.js', '--rounds', '0');
    expect(z.status).toBe(2);
    expect(z.stderr.trim().split('\n')).toHaveLength(1);
    expect(z.stderr).toMatch(/^small-batch: --rounds/);
  });
});

describe('npm run bench:ab', () => {
  it('this checkout against itself: both modes, every round counted, the same loss on both sides', () => {
    const json = path.join(dir, 'ab.json');
    const r = node('ab.js', '--base', ROOT, '--elements', '64K', '--rounds', '2', '--data', path.join(dir, 'data'), '--json', json);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\| eval, whole process \| [\d.]+ \([\d.]+–[\d.]+\) \| [\d.]+ \([\d.]+–[\d.]+\) \| [\d.]+ \/ [\d.]+ \| [\d.]+ \|/);
    expect(r.stdout).toMatch(/\| evaluate\(\), in process \| /);
    const saved = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      base: { dir: string };
      this: { dir: string };
      elements: number;
      rounds: number;
      loss: number;
      modes: Record<string, { base: { runs: number[]; median: number; min: number; max: number }; this: { runs: number[] }; ratio: number }>;
    };
    expect(saved.base.dir).toBe(ROOT);
    expect(saved.this.dir).toBe(ROOT);
    expect(saved.elements).toBe(65536);
    expect(saved.rounds).toBe(2);
    expect(saved.loss).toBeGreaterThan(0);
    expect(Object.keys(saved.modes).sort()).toEqual(['inproc', 'whole']);
    for (const m of Object.values(saved.modes)) {
      expect(m.base.runs).toHaveLength(2);
      expect(m.this.runs).toHaveLength(2);
      expect(m.base.min).toBe(Math.min(...m.base.runs));
      expect(m.base.max).toBe(Math.max(...m.base.runs));
      expect(m.ratio).toBeGreaterThan(0);
    }
  }, 180_000);

  it('--base missing, or not a built checkout: one line naming --base, exit 2', () => {
    const none = node('ab.js');
    expect(none.status).toBe(2);
    expect(none.stderr).toBe('ab: --base is required: the checkout to compare with (its dist built)\n');
    const bad = node('ab.js', '--base', dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`ab: --base: expected a focal-onnx checkout with its dist built, found no bin/focal-onnx.js in ${dir} (run 'npm run build' there)\n`);
  });
});
