/**
 * A small typed flag parser: each command declares its flags once (type, range, help text) and
 * gets back validated values, or a UsageError naming the flag, the accepted range and the value.
 *
 * Accepted syntax: `--name value`, `--name=value`, a short alias (`-o value`), booleans as bare
 * `--name` and `--no-name` (or `--name=true|false`), positionals anywhere, and `--` to end the
 * flags. A flag is given at most once, except a `list` flag (`--feed a=x.npy --feed b=y.npy`),
 * whose values come back in order as an array.
 */
import { UsageError, quote } from '../errors';

export type FlagSpec =
  | { readonly type: 'string'; readonly description: string; readonly placeholder?: string; readonly alias?: string }
  | { readonly type: 'list'; readonly description: string; readonly placeholder?: string; readonly alias?: string }
  /** `values`: words the flag may also take (`--normalized label`, `--normalized=label`); bare it is true. */
  | { readonly type: 'boolean'; readonly description: string; readonly alias?: string; readonly values?: readonly string[] }
  | {
      readonly type: 'number';
      readonly description: string;
      readonly placeholder?: string;
      readonly alias?: string;
      /** Inclusive bounds; `integer` requires a whole number. */
      readonly min?: number;
      readonly max?: number;
      readonly integer?: boolean;
      /** Exclusive lower bound (e.g. > 0). */
      readonly minExclusive?: boolean;
    }
  | { readonly type: 'enum'; readonly description: string; readonly values: readonly string[]; readonly alias?: string };

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<S extends FlagSpec> = S extends { type: 'boolean'; values: readonly string[] } ? boolean | string : S extends { type: 'boolean' } ? boolean : S extends { type: 'number' } ? number : S extends { type: 'list' } ? string[] : string;

export type ParsedFlags<F extends FlagSpecs> = { -readonly [K in keyof F]?: ValueOf<F[K]> };

export interface Parsed<F extends FlagSpecs> {
  readonly flags: ParsedFlags<F>;
  readonly positionals: string[];
}

function range(spec: Extract<FlagSpec, { type: 'number' }>): string {
  const kind = spec.integer ? 'an integer' : 'a number';
  if (spec.min !== undefined && spec.max !== undefined && !spec.minExclusive) return `${kind} in [${spec.min}, ${spec.max}]`;
  const bounds: string[] = [];
  if (spec.min !== undefined) bounds.push(`${spec.minExclusive ? '>' : '>='} ${spec.min}`);
  if (spec.max !== undefined) bounds.push(`<= ${spec.max}`);
  return [kind, bounds.join(' and ')].filter(Boolean).join(' ');
}

/** Parses a number flag's text, or throws naming the flag, its range and the text. */
export function parseNumberFlag(name: string, spec: Extract<FlagSpec, { type: 'number' }>, text: string): number {
  const trimmed = text.trim();
  const x = trimmed === '' ? NaN : Number(trimmed);
  const ok =
    Number.isFinite(x) &&
    (!spec.integer || Number.isSafeInteger(x)) &&
    (spec.min === undefined || (spec.minExclusive ? x > spec.min : x >= spec.min)) &&
    (spec.max === undefined || x <= spec.max);
  if (!ok) throw new UsageError(`--${name} must be ${range(spec)}, got ${quote(text)}`);
  return x;
}

/** Parses `argv` against `specs`. `command` names the command in messages ('focal-onnx eval'). */
export function parseArgs<F extends FlagSpecs>(command: string, specs: F, argv: readonly string[]): Parsed<F> {
  const flags: Record<string, string | number | boolean | string[]> = {};
  const positionals: string[] = [];
  const aliases = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.alias) aliases.set(spec.alias, name);

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const raw = eq >= 0 ? arg.slice(0, eq) : arg;
    let name = raw.startsWith('--') ? raw.slice(2) : aliases.get(raw.slice(1));
    let spec = name === undefined ? undefined : specs[name];
    // --no-name: a boolean's false.
    const negated = spec === undefined && raw.startsWith('--no-') && specs[raw.slice(5)]?.type === 'boolean';
    if (negated) {
      name = raw.slice(5);
      spec = specs[name];
    }
    if (name === undefined || spec === undefined) {
      throw new UsageError(`unknown flag ${quote(raw)} for '${command}' (see '${command} --help')`);
    }
    if (name in flags && spec.type !== 'list') throw new UsageError(`--${name} is given more than once`);
    let text: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (negated) {
      if (text !== undefined) throw new UsageError(`${raw} takes no value, got ${quote(text)}`);
      flags[name] = false;
      continue;
    }
    if (spec.type === 'boolean') {
      const words = spec.values ?? [];
      // A word the flag takes may also follow it as the next argument.
      if (text === undefined && i + 1 < argv.length && words.includes(argv[i + 1])) text = argv[++i];
      if (text === undefined || text === 'true') flags[name] = true;
      else if (text === 'false') flags[name] = false;
      else if (words.includes(text)) flags[name] = text;
      else throw new UsageError(`--${name} takes no value (or =true / =false${words.map((w) => ` / ${w}`).join('')}), got ${quote(text)}`);
      continue;
    }
    if (text === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value: ${describeValue(spec)}`);
      text = argv[++i];
    }
    switch (spec.type) {
      case 'string':
        if (text === '') throw new UsageError(`--${name} needs a value: ${describeValue(spec)}, got ''`);
        flags[name] = text;
        break;
      case 'list':
        if (text === '') throw new UsageError(`--${name} needs a value: ${describeValue(spec)}, got ''`);
        flags[name] = [...((flags[name] as string[] | undefined) ?? []), text];
        break;
      case 'number':
        flags[name] = parseNumberFlag(name, spec, text);
        break;
      case 'enum':
        if (!spec.values.includes(text)) throw new UsageError(`--${name} must be one of ${spec.values.join(', ')}, got ${quote(text)}`);
        flags[name] = text;
        break;
    }
  }
  return { flags: flags as ParsedFlags<F>, positionals };
}

function describeValue(spec: FlagSpec): string {
  switch (spec.type) {
    case 'number':
      return range(spec);
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'string':
    case 'list':
      return spec.placeholder ?? 'a value';
    case 'boolean':
      return 'nothing';
  }
}

/** The flags section of a command's help text. */
export function formatFlags(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const alias = spec.alias ? `-${spec.alias}, ` : '';
    const arg =
      spec.type === 'boolean'
        ? spec.values ? ` [${spec.values.join('|')}]` : ''
        : spec.type === 'enum'
          ? ` ${spec.values.join('|')}`
          : ` ${(spec as { placeholder?: string }).placeholder ?? (spec.type === 'number' ? 'N' : 'VALUE')}`;
    return [`  ${alias}--${name}${arg}`, spec.description] as const;
  });
  const width = Math.min(40, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.map(([l, d]) => (l.length + 2 > width ? `${l}\n${' '.repeat(width)}${d}` : `${l.padEnd(width)}${d}`)).join('\n');
}
