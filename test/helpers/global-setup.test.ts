/**
 * `npm test` without the Python venv: one line, before the suites, saying what is skipped and how
 * to get it (the venv script); nothing when there is a venv.
 */
import { venvNote } from './global-setup';

describe("npm test's note about the Python venv", () => {
  it('without a venv: one line naming what is skipped and the script that makes the venv', () => {
    const note = venvNote(undefined) as string;
    expect(note.split('\n')).toHaveLength(1);
    expect(note).toContain('skipped');
    expect(note).toContain('bash scripts/setup-python.sh');
    expect(note).toContain('FOCAL_PYTHON');
  });

  it('with a venv: nothing', () => {
    expect(venvNote('/some/venv/bin/python')).toBeUndefined();
  });
});
