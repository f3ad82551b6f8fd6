/**
 * Runs once before the suites (jest.config.js `globalSetup`): without the project's Python venv,
 * says in one line, before any result, which tests will be skipped and how to get them — instead
 * of a note with a stack trace from each suite. Under CI (CI=true) a missing venv is an error
 * (test/helpers/python.ts), so CI never passes by skipping them.
 */
import { venvPython } from './python';

/** The line `npm test` prints when there is no venv (`python` undefined); nothing otherwise. */
export function venvNote(python: string | undefined): string | undefined {
  if (python !== undefined) return undefined;
  return (
    'focal-onnx tests: no Python venv, so the suites that run PyTorch, torchvision, Keras, optax and onnx 1.23 ' +
    '(fixtures regenerated, networks exported, the ONNX checker, the bench peers) are skipped; ' +
    'make it with `bash scripts/setup-python.sh` (or set FOCAL_PYTHON) to run them'
  );
}

export default function globalSetup(): void {
  const note = venvNote(venvPython());
  if (note !== undefined) process.stderr.write(`\n${note}\n`);
}
