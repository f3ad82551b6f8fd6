/**
 * The `focal-onnx` command line: dispatches to the subcommands, prints help, and turns errors into
 * exit codes — 2 and one line for a user's mistake (UsageError), 1 and the stack for our own bug.
 */
import { isUsageError } from '../errors';
import { installCleanupHandlers } from '../io/atomic';
import { ModelFormatError } from '../onnx';
import { VERSION } from '../version';
import { formatFlags } from './args';
import { CliIO, Command, write } from './command';
import { attachCommand } from './attach';
import { evalCommand } from './eval';
import { exportCommand } from './export';
import { inspectCommand } from './inspect';

export const COMMANDS: readonly Command[] = [attachCommand, evalCommand, exportCommand, inspectCommand];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    `focal-onnx ${VERSION} — focal-loss graphs as ONNX models, evaluated with ONNX Runtime`,
    '',
    'Usage: focal-onnx <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Flags:',
    formatFlags(GLOBAL_FLAGS),
    '',
    "Run 'focal-onnx <command> --help' for a command's flags.",
  ].join('\n');
}

/** Taken by every command too: `focal-onnx eval --version`. */
const GLOBAL_FLAGS = {
  help: { type: 'boolean', alias: 'h', description: 'show this help' },
  version: { type: 'boolean', alias: 'V', description: `print the version (${VERSION})` },
} as const;

export function commandHelp(c: Command): string {
  const flags = { ...c.flags, ...GLOBAL_FLAGS } as const;
  return [`Usage: ${c.usage}`, '', c.summary, '', 'Flags:', formatFlags(flags)].join('\n');
}

/** Runs the CLI with `argv` (without node and the script); resolves to the process exit code. */
export async function run(argv: readonly string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  installCleanupHandlers();
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      write(io.stdout, mainHelp());
      return name === undefined ? 2 : 0;
    }
    if (name === '--version' || name === '-V') {
      write(io.stdout, VERSION);
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) {
      write(io.stderr, `focal-onnx: unknown command '${name}'; expected one of ${COMMANDS.map((c) => c.name).join(', ')} (see 'focal-onnx --help')`);
      return 2;
    }
    const flags = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
    if (flags.includes('--help') || flags.includes('-h')) {
      write(io.stdout, commandHelp(command));
      return 0;
    }
    if (flags.includes('--version') || flags.includes('-V')) {
      write(io.stdout, VERSION);
      return 0;
    }
    return await command.run(rest, io);
  } catch (e) {
    if (isUsageError(e) || e instanceof ModelFormatError) {
      write(io.stderr, `focal-onnx: ${(e as Error).message}`);
      return 2;
    }
    write(io.stderr, `focal-onnx: internal error (a bug — please report it):\n${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}
