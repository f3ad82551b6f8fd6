/**
 * Our own bugs: anything but a UsageError from a command exits 1 with the stack trace, asking
 * for a report (the evaluator is replaced by one that throws a TypeError).
 */
import { runCli } from '../helpers/cli';

jest.mock('../../src/runtime/evaluate', () => ({
  ...jest.requireActual('../../src/runtime/evaluate'),
  evaluate: async () => {
    throw new TypeError('something we did not expect');
  },
}));

it('exits 1 and prints the stack for an internal error', async () => {
  const r = await runCli(['eval', '--pred', 'p.npy', '--target', 't.npy']);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^focal-onnx: internal error \(a bug — please report it\):\nTypeError: something we did not expect\n\s+at /);
});
