/**
 * The command lines the documentation shows are ones the CLI takes: every `npx focal-onnx …` line
 * of a code block in README.md and docs/ (docs/cli.md is generated and checked apart) parses with
 * its command's flags, and its loss flags pass the loss's checks; so does every flag set of the
 * README's library table (its placeholders read as numbers). A flag renamed or a value no longer
 * taken fails here instead of in a user's terminal.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from '../../src/cli/args';
import { lossOptionsFromFlags } from '../../src/cli/loss-flags';
import { COMMANDS } from '../../src/cli/main';
import { exportCommand } from '../../src/cli/export';

const ROOT = path.join(__dirname, '..', '..');
const PAGES = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'cli.md').map((f) => `docs/${f}`)];

/** The `npx focal-onnx …` lines of a page's code blocks (continuation lines joined, `# comments` dropped), as argv. */
function commandLines(page: string): { line: string; argv: string[] }[] {
  const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
  const out: { line: string; argv: string[] }[] = [];
  for (const block of text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    const joined = block[1].replace(/\\\n\s*/g, ' ');
    for (const raw of joined.split('\n')) {
      const line = raw.replace(/^\$ /, '').replace(/\s{2,}#.*$/, '').trim();
      if (line.startsWith('npx focal-onnx ')) out.push({ line, argv: line.split(/\s+/).slice(2) });
    }
  }
  return out;
}

/** Parses `argv` as its command does, and checks its loss flags as export, attach and eval do. */
function accepts(argv: string[]): void {
  const command = COMMANDS.find((c) => c.name === argv[0]);
  if (!command) throw new Error(`no command ${argv[0]}`);
  const { flags } = parseArgs(`focal-onnx ${command.name}`, command.flags, argv.slice(1));
  if (command.name === 'inspect' || flags.model !== undefined) return;
  // eval's --weight is a file (the loss then takes weights), its --dtype and --target-dtype the files'.
  const { weight, dtype: _d, 'target-dtype': _t, ...loss } = flags as Record<string, unknown>;
  const kind = weight === undefined ? undefined : command.name === 'eval' ? 'sample' : weight;
  lossOptionsFromFlags({ ...loss, ...(kind !== undefined ? { weight: kind } : {}) });
}

describe('the documentation shows command lines the CLI takes', () => {
  const lines = PAGES.flatMap((page) => commandLines(page).map((c) => [page, c.line, c.argv] as const));

  it('finds them (the README tour and the guide have several each)', () => {
    expect(lines.filter(([p]) => p === 'README.md').length).toBeGreaterThanOrEqual(4);
    expect(lines.filter(([p]) => p === 'docs/guide.md').length).toBeGreaterThanOrEqual(8);
  });

  it.each(lines)('%s: %s', (_page, _line, argv) => {
    expect(() => accepts([...argv])).not.toThrow();
  });
});

describe("the README's library table", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Library call → focal-onnx flags'), readme.indexOf('## Using an exported model elsewhere'));
  // Placeholders the table writes for the user's own numbers.
  const PLACEHOLDERS: Record<string, string> = { num_pos: '7', P: '2', '1−a,a,…,a': '0.75,0.25,0.25', a: '0.25', A: '0.25', g: '2', r: 'mean', X: '0.1' };
  const sets = [...table.matchAll(/^\|.*\| (.*) \|$/gm)]
    .map((m) => m[1])
    // (A row that adds flags to the others': those are checked with the rows they go with.)
    .filter((cell) => !cell.startsWith('the same flags plus'))
    .flatMap((cell) => [...cell.matchAll(/`(--[^`]*)`/g)].map((x) => x[1]));

  it('has its rows (a dozen libraries and more)', () => {
    expect(sets.length).toBeGreaterThanOrEqual(12);
  });

  it.each(sets)('%s', (set) => {
    const argv = set.split(/\s+/).map((w) => PLACEHOLDERS[w] ?? w);
    const { flags } = parseArgs('focal-onnx export', exportCommand.flags, [...argv, '-o', 'x.onnx']);
    expect(() => lossOptionsFromFlags(flags)).not.toThrow();
  });
});
