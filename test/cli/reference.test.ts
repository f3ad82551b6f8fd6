/**
 * docs/cli.md is generated (src/cli/reference.ts, `npm run docs:cli`): regenerated here in memory,
 * it must equal the file, and it lists every loss flag and every preset.
 */
import * as fs from 'fs';
import * as path from 'path';
import { cliReference } from '../../src/cli/reference';
import { LIKES, OPTIONS } from '../../src/losses';

describe('docs/cli.md', () => {
  const text = cliReference();

  it('is what `npm run docs:cli` writes from the registry and the commands (run it after changing a flag)', () => {
    expect(fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'cli.md'), 'utf8')).toBe(text);
  });

  it('names every loss flag in each of export, attach and eval, and every preset', () => {
    const sections = text.split('\n## ');
    for (const name of ['export', 'attach', 'eval']) {
      const section = sections.find((s) => s.startsWith(`${name}\n`)) ?? '';
      for (const e of OPTIONS) if (e.flag) expect(section).toContain(`| \`--${e.flag}\``);
      for (const like of LIKES) expect(section).toContain(like);
    }
  });
});
