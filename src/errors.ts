/**
 * The two kinds of failure the tool reports.
 *
 * - `UsageError`: the user's mistake (a bad flag, option value, file or datum). The CLI prints its
 *   one-line message and exits with code 2, no stack trace.
 * - Anything else is our bug: the CLI prints the stack and exits with code 1.
 *
 * Messages name the argument or file, what was expected and what was found, e.g.
 * `--gamma must be a finite number >= 0, got -1` or
 * `pred.npy: element 17 is NaN; predictions must be finite`.
 */
export class UsageError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A problem with the contents of a user's data file (a kind of usage error). */
export class DataError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

export function isUsageError(e: unknown): e is UsageError {
  return e instanceof UsageError;
}

/**
 * A user's value for a one-line message: in single quotes, with control characters (line breaks,
 * tabs, escape sequences) escaped as JSON does, so a message never spans lines or garbles a terminal.
 */
export function quote(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `'${value.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1))}'`;
}
