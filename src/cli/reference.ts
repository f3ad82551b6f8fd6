/**
 * The command-line reference (docs/cli.md), made from the commands' flag tables and the option
 * registry: `npm run docs:cli` writes it, and a test fails when the file differs.
 */
import { DEFAULT_VALUES, OPTIONS } from '../losses/registry';
import { FlagSpec } from './args';
import { commandHelp, COMMANDS } from './main';

const cell = (text: string): string => text.replace(/\|/g, '\\|');

function valueOf(spec: FlagSpec): string {
  if (spec.type === 'boolean') return spec.values ? `[\`${spec.values.join('|')}\`]` : '';
  if (spec.type === 'enum') return `\`${spec.values.join('|')}\``;
  return `\`${spec.placeholder ?? (spec.type === 'number' ? 'N' : 'VALUE')}\``;
}

function shown(value: unknown): string {
  if (value === null) return 'none';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** docs/cli.md's text. */
export function cliReference(): string {
  const out: string[] = [
    '# focal-onnx command line',
    '',
    '<!-- Generated from src/losses/registry.ts and the commands\' flags by `npm run docs:cli`; do not edit (test/cli/reference.test.ts compares). -->',
    '',
    '`export`, `attach` and `eval` take the same loss flags (one table, src/losses/registry.ts); `--help` after',
    'any command prints its section below. `-o` / `--out` is the output file of every command that writes one',
    "(`export --output` is still accepted, its earlier name; `--output` elsewhere is the network's output). Every command,",
    'and `focal-onnx` alone, also takes `-h` / `--help` (its help) and `-V` / `--version` (prints the version).',
    '',
  ];
  for (const c of COMMANDS) {
    out.push(`## ${c.name}`, '', c.summary, '', '```', commandHelp(c).split('\n\nFlags:')[0].split('\n\n')[0], '```', '');
    out.push('| flag | value | meaning |', '| --- | --- | --- |');
    for (const [name, spec] of Object.entries(c.flags)) {
      const alias = spec.alias ? ` (\`-${spec.alias}\`)` : '';
      out.push(`| \`--${name}\`${alias} | ${cell(valueOf(spec))} | ${cell(spec.description)} |`);
    }
    out.push('');
  }
  out.push(
    '## Loss options',
    '',
    'Each loss option by its name in the API (`buildLoss`, `attachLoss`, `createEvaluator`), its flag, its default, its',
    "key in a model's metadata (`focal.KEY`; * = written only when not the default) and its attribute on the `ai.focal`",
    'node of `--as-function` (* = only when not the default).',
    '',
    '| option | flag | default | metadata | attribute | meaning |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const e of OPTIONS) {
    const meta = e.meta ? `\`${e.meta.key}\`${e.meta.always ? '' : ' *'}` : '';
    const attr = e.attr ? `\`${e.attr.name}\`${e.attr.always ? '' : ' *'}` : '';
    out.push(`| \`${e.name}\` | ${e.flag ? `\`--${e.flag}\`` : '(API only)'} | ${cell(shown(DEFAULT_VALUES[e.name as keyof typeof DEFAULT_VALUES]))} | ${meta} | ${attr} | ${cell(e.doc ?? e.help)} |`);
  }
  out.push('');
  return out.join('\n');
}
