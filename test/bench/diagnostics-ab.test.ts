/**
 * `npm run bench:diagnostics` (bench/diagnostics-ab.ts), the build's copy (`npm test` builds
 * first), at a tiny size: plain eval and eval --diagnostics of this checkout (and with --base, of
 * the base), both modes, every round counted, every run the same loss; the table and the JSON.
 * What it reports is checked, not how fast. A bad --base: one line naming it, exit 2.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'dist', 'bench', 'diagnostics-ab.js');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-diag-ab-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('npm run bench:diagnostics', () => {
  it('this checkout with itself as the base: four variants, both modes, the same loss in every run', () => {
    const json = path.join(dir, 'diag.json');
    const r = spawnSync(process.execPath, [SCRIPT, '--base', ROOT, '--elements', '64K', '--rounds', '1', '--data', path.join(dir, 'data'), '--json', json], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\| this eval --diagnostics \| in process \| [\d.]+ \([\d.]+–[\d.]+\) \| [\d.]+ \|/);
    expect(r.stdout).toMatch(/\| base eval \| whole process \| /);
    const saved = JSON.parse(fs.readFileSync(json, 'utf8')) as { elements: number; rounds: number; loss: number; modes: Record<string, Record<string, { runs: number[]; ratio: number }>> };
    expect([saved.elements, saved.rounds]).toEqual([65536, 1]);
    expect(saved.loss).toBeGreaterThan(0);
    expect(Object.keys(saved.modes).sort()).toEqual(['inproc', 'whole']);
    for (const m of Object.values(saved.modes)) {
      expect(Object.keys(m).sort()).toEqual(['base eval', 'base eval --diagnostics', 'this eval', 'this eval --diagnostics']);
      expect(m['this eval'].ratio).toBe(1);
      for (const v of Object.values(m)) expect(v.runs).toHaveLength(1);
    }
  }, 180_000);

  it('--base not a built checkout: one line naming --base, exit 2', () => {
    const bad = spawnSync(process.execPath, [SCRIPT, '--base', dir], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`diagnostics-ab: --base: expected a focal-onnx checkout with its dist built, found no bin/focal-onnx.js in ${dir} (run 'npm run build' there)\n`);
  });
});
