/**
 * The project's Python venv (scripts/setup-python.sh: torch, torchvision's focal_loss.py, Keras on
 * JAX, optax, onnx 1.23, onnxruntime), for tests that run the libraries' own code or the ONNX
 * toolchain's checks.
 *
 * `.ci/run` makes the venv and exports `FOCAL_PYTHON`; locally `.venv/bin/python` is used when it
 * exists. Where neither is there, `venvPython()` is undefined and `describePython` skips its tests
 * (global-setup.ts says so in one line) — except under CI (`CI=true`), where a missing venv is an error, so CI never passes
 * by skipping them.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');

export function venvPython(): string | undefined {
  const fromEnv = process.env.FOCAL_PYTHON;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`FOCAL_PYTHON=${fromEnv} does not exist`);
    return fromEnv;
  }
  const local = path.join(ROOT, '.venv', 'bin', 'python');
  if (fs.existsSync(local)) return local;
  if (process.env.CI === 'true') throw new Error('CI: no Python venv (run scripts/setup-python.sh and export FOCAL_PYTHON)');
  return undefined;
}

/**
 * `describe`, or `describe.skip` when there is no venv (never under CI); the run's one note about
 * it is printed once, before the suites (test/helpers/global-setup.ts).
 */
export function describePython(name: string, fn: (python: string) => void): void {
  const python = venvPython();
  if (python === undefined) {
    describe.skip(name, () => fn(''));
    return;
  }
  describe(name, () => fn(python));
}

/** Runs `python script args…` in the repository root; throws with its stderr when it fails. */
export function runPython(python: string, args: readonly string[], input?: string, timeoutMs = 300_000): string {
  const r = spawnSync(python, args, {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 << 20,
    env: { ...process.env, KERAS_BACKEND: 'jax', JAX_PLATFORMS: 'cpu', PYTHONHASHSEED: '0' },
  });
  if (r.status !== 0) throw new Error(`${python} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return r.stdout;
}
