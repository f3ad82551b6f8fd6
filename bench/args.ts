/**
 * The benchmarks' command lines, through the CLI's flag parser (src/cli/args.ts): the same syntax
 * (`--name value`, `--name=value`, `--no-name` for a boolean), the same one-line messages, and a
 * `--help` listing the flags. A bad command line prints `<script>: <message>` and exits 2.
 */
import { FlagSpecs, ParsedFlags, formatFlags, parseArgs } from '../src/cli/args';
import { UsageError, quote } from '../src/errors';

const HELP = { help: { type: 'boolean', alias: 'h', description: 'show this help' } } as const;

export function scriptFlags<F extends FlagSpecs>(script: string, specs: F, argv: readonly string[]): ParsedFlags<F> {
  const all = { ...specs, ...HELP };
  try {
    const { flags, positionals } = parseArgs(script, all, argv);
    if (flags.help) {
      process.stdout.write(`Usage: ${script} [flags] (more at the top of bench/${script}.ts)\n\nFlags:\n${formatFlags(all)}\n`);
      process.exit(0);
    }
    if (positionals.length) throw new UsageError(`unexpected argument ${quote(positionals[0])} (see '${script} --help')`);
    return flags as ParsedFlags<F>;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${script}: ${e.message}\n`);
    process.exit(2);
  }
}
