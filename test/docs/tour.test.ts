/**
 * The README's five-minute tour, run as a user runs it: each `$ ` command of its console blocks
 * (`npx focal-onnx …` as the built bin, `node examples/…` as it is) in a scratch directory that
 * sees the clone's samples/, test/ and examples/, and what it prints compared line for line with
 * the lines the README shows under it — except a line the README elides with `…` (timings), whose
 * text before the `…` must match. The README's createEvaluator code is examples/evaluate.cjs's.
 * Needs the build (`npm test` runs it first).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { scratchDir } from '../helpers/cli';

const ROOT = path.join(__dirname, '..', '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const TOUR = README.slice(README.indexOf('## A five-minute tour'), README.indexOf('\n## ', README.indexOf('## A five-minute tour') + 5));
const BIN = path.join(ROOT, 'bin', 'focal-onnx.js');
const dir = scratchDir('focal-tour-');

interface Step {
  readonly command: string;
  readonly shown: string[];
}

/** The `$ command` lines of the tour's console blocks, each with the lines shown under it. */
function steps(): Step[] {
  const out: Step[] = [];
  for (const m of TOUR.matchAll(/```console\n([\s\S]*?)```/g)) {
    for (const line of m[1].split('\n').filter((l) => l !== '')) {
      if (line.startsWith('$ ')) out.push({ command: line.slice(2), shown: [] });
      else out[out.length - 1].shown.push(line);
    }
  }
  return out;
}

function argv(command: string): string[] {
  const words = command.trim().split(/\s+/);
  if (words[0] === 'npx' && words[1] === 'focal-onnx') return [BIN, ...words.slice(2)];
  if (words[0] === 'node' && /^examples\/[\w-]+\.(c|m)?js$/.test(words[1])) return words.slice(1);
  throw new Error(`the tour runs only 'npx focal-onnx …' and 'node examples/…', got: ${command}`);
}

describe("the README's tour", () => {
  const all = steps();
  let cwd: string;
  beforeAll(() => {
    cwd = dir();
    for (const d of ['samples', 'test', 'examples']) fs.symlinkSync(path.join(ROOT, d), path.join(cwd, d), 'dir');
  });

  it('has the commands the issue asks for: export, eval, attach and createEvaluator', () => {
    const commands = all.map((s) => s.command);
    for (const start of ['npx focal-onnx export', 'npx focal-onnx eval --pred', 'npx focal-onnx attach', 'npx focal-onnx eval --network', 'node examples/evaluate.cjs']) {
      expect([start, commands.some((c) => c.startsWith(start))]).toEqual([start, true]);
    }
    for (const s of all) expect([s.command, s.shown.length > 0]).toEqual([s.command, true]);
  });

  it.each(steps().map((s) => [s.command, s] as const))('$ %s prints what the README shows', (_command, step) => {
    const r = spawnSync(process.execPath, argv(step.command), { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, FORCE_COLOR: '0' } });
    expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const printed = r.stdout.replace(/\n$/, '').split('\n');
    expect(printed).toHaveLength(step.shown.length);
    step.shown.forEach((want, i) => {
      if (want.endsWith('…')) expect(printed[i].startsWith(want.slice(0, -1))).toBe(true);
      else expect(printed[i]).toBe(want);
    });
  });

  it("the createEvaluator code shown is examples/evaluate.cjs's, line for line and in order", () => {
    const shown = /```js\n([\s\S]*?)```/.exec(TOUR);
    expect(shown).not.toBeNull();
    const file = fs.readFileSync(path.join(ROOT, 'examples', 'evaluate.cjs'), 'utf8').split('\n');
    let from = 0;
    for (const line of (shown as RegExpExecArray)[1].split('\n').filter(Boolean)) {
      const i = file.indexOf(line, from);
      expect([line, i >= 0]).toEqual([line, true]);
      from = i + 1;
    }
  });
});
