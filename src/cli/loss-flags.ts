/**
 * The loss-option flags of `export`, `attach` and `eval` — the same in all three — made from the
 * option table (src/losses/registry.ts), their translation into `LossOptions` (validated by
 * `normalizeOptions`, whose messages then name the flag), and the usage lines that list them.
 */
import { FocalOptions, Label, LossOptions, OPTIONS, flagOf, helpLine, normalizeOptions } from '../losses';
import { FlagSpec, FlagSpecs } from './args';

const FLAGGED = OPTIONS.filter((e) => e.flag !== undefined);

/** Every loss flag, by its name on the command line, in the table's order. */
export const LOSS_FLAGS: FlagSpecs = Object.fromEntries(FLAGGED.map((e) => [e.flag as string, { ...e.cli, description: helpLine(e) } as FlagSpec]));

/** Names an option by its flag in messages. */
export const flagLabel: Label = flagOf;

/** Loss options from parsed flags (over `extra`), validated; messages name the flags. */
export function lossOptionsFromFlags(flags: Readonly<Record<string, unknown>>, extra: LossOptions = {}): FocalOptions {
  return normalizeOptions({ ...extra, ...rawLossOptions(flags) }, flagLabel);
}

/** The options the loss flags give, read (a string flag's text parsed), not yet validated. */
export function rawLossOptions(flags: Readonly<Record<string, unknown>>): LossOptions {
  const raw: Record<string, unknown> = {};
  for (const e of FLAGGED) {
    const value = flags[e.flag as string];
    if (value !== undefined) raw[e.name] = e.parse ? e.parse(value as string, `--${e.flag}`) : value;
  }
  return raw as LossOptions;
}

/** The loss flags given (eval: options vs --model), but those in `except`. */
export function givenLossFlags(flags: Readonly<Record<string, unknown>>, except: readonly string[] = []): string[] {
  return FLAGGED.map((e) => e.flag as string).filter((f) => flags[f] !== undefined && !except.includes(f));
}

/** `[--name VALUE]` for each flag of `specs`, wrapped into lines of at most `width` columns after `indent`. */
export function flagTokens(specs: FlagSpecs, indent: string, width = 100): string {
  const tokens = Object.entries(specs).map(([name, s]) => {
    const value = s.type === 'boolean' ? (s.values ? ` [${s.values.join('|')}]` : '') : s.type === 'enum' ? ` ${s.values.join('|')}` : ` ${s.placeholder ?? (s.type === 'number' ? 'N' : 'VALUE')}`;
    return `[--${name}${value}]`;
  });
  const lines: string[] = [];
  let line = '';
  for (const t of tokens) {
    if (line && indent.length + line.length + 1 + t.length > width) {
      lines.push(line);
      line = t;
    } else line = line ? `${line} ${t}` : t;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l)).join('\n');
}
