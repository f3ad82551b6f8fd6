/**
 * What every subcommand provides, and the streams it writes to (injected, so tests run commands
 * in-process and read what they print).
 */
import { FlagSpecs } from './args';

export interface CliIO {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage lines, without the flags table (which comes from `flags`). */
  readonly usage: string;
  readonly flags: FlagSpecs;
  /** Runs with the raw arguments after the command name; resolves to the exit code. */
  run(argv: readonly string[], io: CliIO): Promise<number>;
}

export function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}
