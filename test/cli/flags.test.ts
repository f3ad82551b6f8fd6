/**
 * Every flag of every command with a bad value — out of range, NaN, the wrong type, an unknown
 * value or flag, a missing value, a missing or unwritable path — on an otherwise good command
 * line: exit code 2, nothing on stdout, exactly one line on stderr that names the flag (or, for a
 * path, the path), says what is accepted, and echoes the value. Nothing is written.
 *
 * Run in-process through `run(argv, io)` (src/cli/main.ts), so a crash would surface as exit 1
 * with a stack, never hidden by a child process.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildLoss } from '../../src/losses';
import { Graph, buildModel, op, serializeModel } from '../../src/onnx';
import { writeNpy } from '../../src/io/npy';
import { COMMANDS } from '../../src/cli/main';
import { runCli, scratchDir } from '../helpers/cli';

const dir = scratchDir('focal-onnx-flags-');
const p = (name: string): string => path.join(dir(), name);

/** Files the good command lines use, made once. */
beforeAll(() => {
  writeNpy(p('pred.npy'), 'float32', [6], new Float32Array([0.1, 0.9, 0.5, 0.2, 0.7, 0.4]));
  writeNpy(p('target.npy'), 'float32', [6], new Float32Array([0, 1, 0, 1, 1, 0]));
  writeNpy(p('pred2.npy'), 'float32', [3, 2], new Float32Array([0.1, 0.9, 0.5, 0.2, 0.7, 0.4]));
  writeNpy(p('target2.npy'), 'float32', [3, 2], new Float32Array([0, 1, 0, 1, 1, 0]));
  writeNpy(p('classes.npy'), 'int64', [3], new BigInt64Array([0n, 1n, 1n]));
  writeNpy(p('weight4.npy'), 'float32', [4], new Float32Array([1, 2, 3, 4]));
  fs.writeFileSync(p('model.onnx'), buildLoss({}).bytes);
  fs.writeFileSync(p('model-none.onnx'), buildLoss({ reduction: 'none' }).bytes);
  const g = new Graph({ opset: 17 });
  g.output(op.sigmoid(g.input('x', 'float32', ['N'])), 'out');
  fs.writeFileSync(p('net.onnx'), serializeModel(buildModel(g)));
  fs.writeFileSync(p('a-file'), 'not a directory');
  fs.mkdirSync(p('a-dir'));
  fs.writeFileSync(p('existing.onnx'), 'old bytes');
  fs.writeFileSync(p('existing.npy'), 'old bytes');
});

interface Row {
  /** The command line (paths as names under the scratch directory: `@name`). */
  readonly argv: readonly string[];
  /** The flag (or path) the message must name. */
  readonly names: string;
  /** What the message must say is accepted (the range, the values, or the reason). */
  readonly accepts: string;
  /** The value as the message must echo it (null: no value was given). */
  readonly echoes: string | null;
}

const resolve = (argv: readonly string[]): string[] => argv.map((a) => (a.startsWith('@') ? p(a.slice(1)) : a));

/** Runs a row and checks the contract; returns the message. */
async function expectRefused(row: Row): Promise<string> {
  const before = new Set(fs.readdirSync(dir()));
  const r = await runCli(resolve(row.argv));
  const message = r.stderr;
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
  expect(message).toMatch(/^focal-onnx: [^\n]+\n$/);
  const names = row.names.startsWith('@') ? p(row.names.slice(1)) : row.names;
  expect(message).toContain(names);
  expect(message).toContain(row.accepts);
  if (row.echoes !== null) expect(message).toContain(row.echoes);
  // Nothing written: no new file (also no stray temporary file) in the scratch directory.
  expect(fs.readdirSync(dir()).filter((f) => !before.has(f))).toEqual([]);
  expect(fs.readFileSync(p('existing.onnx'), 'utf8')).toBe('old bytes');
  expect(fs.readFileSync(p('existing.npy'), 'utf8')).toBe('old bytes');
  return message;
}

const EXPORT = ['export', '-o', '@existing.onnx'];
const EVAL = ['eval', '--pred', '@pred.npy', '--target', '@target.npy'];
/** attach, on a focal-onnx model of reduction none (its output `loss` [N] is a binary prediction). */
const ATTACH = ['attach', '@model-none.onnx', '--output', 'loss', '-o', '@existing.onnx'];
const NETWORK = ['eval', '--network', '@net.onnx', '--output', 'out', '--target', '@target.npy'];
const TASKS = 'binary, multilabel, multiclass';

/** [name, row]: `it.each` tables. */
function table(rows: Record<string, Row>): [string, Row][] {
  return Object.entries(rows);
}

// The loss flags, shared by export and eval.
function lossFlagRows(base: readonly string[]): Record<string, Row> {
  const r = (extra: string[], names: string, accepts: string, echoes: string | null): Row => ({ argv: [...base, ...extra], names, accepts, echoes });
  return {
    '--task unknown': r(['--task', 'focal'], '--task', TASKS, "'focal'"),
    '--task wrong case': r(['--task', 'Binary'], '--task', TASKS, "'Binary'"),
    '--task empty': r(['--task='], '--task', TASKS, "''"),
    '--input unknown': r(['--input', 'logit'], '--input', 'probs, logits', "'logit'"),
    '--alpha above 1': r(['--alpha', '1.5'], '--alpha', '[0, 1]', '1.5'),
    '--alpha negative': r(['--alpha', '-0.25'], '--alpha', '[0, 1]', '-0.25'),
    '--alpha NaN': r(['--alpha', 'NaN'], '--alpha', '[0, 1]', 'NaN'),
    '--alpha Infinity': r(['--alpha', 'Infinity'], '--alpha', '[0, 1]', 'Infinity'),
    '--alpha not a number': r(['--alpha', 'quarter'], '--alpha', '[0, 1]', "'quarter'"),
    '--alpha list with a bad entry': r(['--task', 'multilabel', '--alpha', '0.2,x'], '--alpha', '[0, 1]', "'0.2,x'"),
    '--alpha list with an empty entry': r(['--task', 'multilabel', '--alpha', '0.2,,0.3'], '--alpha', '[0, 1]', "'0.2,,0.3'"),
    '--alpha list out of range': r(['--task', 'multilabel', '--alpha', '0.5,2'], '--alpha', '[0, 1]', '2'),
    '--alpha list for binary': r(['--alpha', '0.1,0.2'], '--alpha', 'for task binary', '[0.1, 0.2]'),
    '--gamma negative': r(['--gamma', '-1'], '--gamma', '>= 0', "'-1'"),
    '--gamma NaN': r(['--gamma', 'NaN'], '--gamma', '>= 0', "'NaN'"),
    '--gamma Infinity': r(['--gamma', 'Infinity'], '--gamma', '>= 0', "'Infinity'"),
    '--gamma overflowing': r(['--gamma', '1e400'], '--gamma', '>= 0', "'1e400'"),
    '--gamma not a number': r(['--gamma', 'two'], '--gamma', '>= 0', "'two'"),
    '--gamma empty': r(['--gamma='], '--gamma', '>= 0', "''"),
    '--gamma hex-like': r(['--gamma', '2x'], '--gamma', '>= 0', "'2x'"),
    '--gamma missing its value': r(['--gamma'], '--gamma', 'a number >= 0', null),
    '--gamma given twice': r(['--gamma', '1', '--gamma', '2'], '--gamma', 'more than once', null),
    '--eps 1': r(['--eps', '1'], '--eps', '[0, 1)', '1'),
    '--eps 2.5': r(['--eps', '2.5'], '--eps', '[0, 1)', '2.5'),
    '--eps NaN': r(['--eps', 'NaN'], '--eps', 'a number', "'NaN'"),
    '--eps not a number': r(['--eps', 'tiny'], '--eps', 'a number', "'tiny'"),
    '--reduction unknown': r(['--reduction', 'avg'], '--reduction', 'mean, sum, none', "'avg'"),
    '--dtype unknown': r(['--dtype', 'bfloat16'], '--dtype', 'float32, float64, float16', "'bfloat16'"),
    '--target-dtype unknown': r(['--target-dtype', 'float32'], '--target-dtype', 'float, int64, int32, uint8, bool', "'float32'"),
    '--target-dtype float for multiclass': r(['--task', 'multiclass', '--target-dtype', 'float'], '--target-dtype', 'int64 or int32', "'float'"),
    '--opset 12': r(['--opset', '12'], '--opset', '[13, 21]', "'12'"),
    '--opset 22': r(['--opset', '22'], '--opset', '[13, 21]', "'22'"),
    '--opset fractional': r(['--opset', '17.5'], '--opset', 'an integer in [13, 21]', "'17.5'"),
    '--opset not a number': r(['--opset', 'latest'], '--opset', '[13, 21]', "'latest'"),
    '--form unknown': r(['--form', 'seed'], '--form', 'arith, onehot', "'seed'"),
    '--targets unknown': r(['--targets', 'fuzzy'], '--targets', 'hard, soft', "'fuzzy'"),
    '--targets soft with --form onehot': r(['--targets', 'soft', '--form', 'onehot'], '--form', 'needs form arith', 'soft'),
    '--targets soft with an integer target dtype': r(['--targets', 'soft', '--target-dtype', 'uint8'], '--target-dtype', 'float', 'uint8'),
    '--label-smoothing above 1': r(['--label-smoothing', '1.5'], '--label-smoothing', '[0, 1]', '1.5'),
    '--label-smoothing not a number': r(['--label-smoothing', 'some'], '--label-smoothing', 'a number', "'some'"),
    '--label-mean with a value': r(['--label-mean=2'], '--label-mean', '=true / =false', "'2'"),
    '--like unknown': r(['--like', 'pytorch'], '--like', 'seed, torchvision, fvcore, optax, keras', "'pytorch'"),
    '--alpha -1 without --like torchvision': r(['--alpha', '-1'], '--alpha', '[0, 1]', '-1'),
    '--reduction weighted-mean without weights': r(['--reduction', 'weighted-mean'], '--reduction', 'needs --weight', 'weighted-mean'),
    'unknown flag': r(['--gama', '2'], '--gama', '--help', null),
    'unknown short flag': r(['-x'], '-x', '--help', null),
    'an underscore spelling': r(['--target_dtype', 'int64'], '--target_dtype', '--help', null),
    ...detectionFlagRows(base),
  };
}

/** The detection flags (issue 13): each with a bad value, on the default binary task. */
function detectionFlagRows(base: readonly string[]): Record<string, Row> {
  const r = (extra: string[], names: string, accepts: string, echoes: string | null): Row => ({ argv: [...base, ...extra], names, accepts, echoes });
  return {
    '--target-format unknown': r(['--target-format', 'onehot'], '--target-format', 'dense, index', "'onehot'"),
    '--target-format index for binary': r(['--target-format', 'index'], '--target-format', 'task multilabel', 'binary'),
    '--ignore-index fractional': r(['--ignore-index', '0.5'], '--ignore-index', 'an integer', "'0.5'"),
    '--ignore-index a label': r(['--ignore-index', '1'], '--ignore-index', 'must not be 0 or 1', '1'),
    '--normalize unknown': r(['--normalize', 'rows'], '--normalize', 'elements, positives, input or a number > 0', "'rows'"),
    '--normalize with sum': r(['--normalize', 'positives', '--reduction', 'sum'], '--normalize', 'divisor of reduction mean', 'sum'),
    '--class-weight for binary': r(['--class-weight', '1,2'], '--class-weight', 'task multilabel or multiclass', '[1, 2]'),
    '--class-weight not numbers': r(['--class-weight', '1,x'], '--class-weight', 'numbers >= 0', "'1,x'"),
    '--pos-weight negative': r(['--pos-weight', '-2'], '--pos-weight', 'a number >= 0', '-2'),
    '--variant unknown': r(['--variant', 'fl*'], '--variant', 'focal, star', "'fl*'"),
    '--variant star on probabilities': r(['--variant', 'star'], '--variant', '--input logits', 'star'),
    '--normalized with a value': r(['--normalized=yes'], '--normalized', '=true / =false', "'yes'"),
    '--reduced-threshold 0': r(['--reduced-threshold', '0'], '--reduced-threshold', '(0, 1]', '0'),
    '--reduced-threshold not a number': r(['--reduced-threshold', 'half'], '--reduced-threshold', 'a number', "'half'"),
    '--count-ignored with a value': r(['--count-ignored=1'], '--count-ignored', '=true / =false', "'1'"),
    '--normalized label for binary': r(['--normalized', 'label'], '--normalized', 'task multilabel', 'binary'),
    '--spatial-mean with a value': r(['--spatial-mean=1'], '--spatial-mean', '=true / =false', "'1'"),
    '--spatial-mean for multiclass': r(['--spatial-mean', '--reduction', 'sum', '--task', 'multiclass'], '--spatial-mean', 'task binary or multilabel', 'multiclass'),
    '--accumulate unknown': r(['--accumulate', 'float16'], '--accumulate', 'float64, float32', "'float16'"),
    '--per-image with reduction sum': r(['--per-image', '--reduction', 'sum'], '--per-image', 'reduction mean', 'sum'),
    '--per-image with a value': r(['--per-image=2'], '--per-image', '=true / =false', "'2'"),
    '--label-axis 0': r(['--label-axis', '0'], '--label-axis', 'a non-zero integer', '0'),
    '--label-axis not an integer': r(['--label-axis', '1.5'], '--label-axis', 'an integer', "'1.5'"),
    '--label-axis for binary': r(['--label-axis', '1'], '--label-axis', 'task multilabel or multiclass', '1'),
    '--like a detection preset for the wrong task': r(['--like', 'detectron2', '--task', 'binary'], '--like', '--task multilabel', 'binary'),
  };
}

const EXPORT_ROWS = table({
  ...lossFlagRows(EXPORT),
  '--as-function with a value': { argv: [...EXPORT, '--as-function=yes'], names: '--as-function', accepts: '=true / =false', echoes: "'yes'" },
  '--weight unknown': { argv: [...EXPORT, '--weight', 'W.npy'], names: '--weight', accepts: 'sample, element', echoes: "'W.npy'" },
  '--with-grad with a value': { argv: [...EXPORT, '--with-grad=1'], names: '--with-grad', accepts: '=true / =false', echoes: "'1'" },
  '--json with a value': { argv: [...EXPORT, '--json=no'], names: '--json', accepts: '=true / =false', echoes: "'no'" },
  '--out missing': { argv: ['export', '--gamma', '1'], names: '--out (-o)', accepts: 'required', echoes: null },
  '--out missing its value': { argv: ['export', '-o'], names: '--out', accepts: 'FILE.onnx', echoes: null },
  '--out given twice': { argv: [...EXPORT, '--out', '@other.onnx'], names: '--out', accepts: 'more than once', echoes: null },
  // --output: the flag's earlier name, an alias of --out.
  '--output missing its value': { argv: ['export', '--output'], names: '--output', accepts: 'FILE.onnx', echoes: null },
  '--output with --out': { argv: [...EXPORT, '--output', '@other.onnx'], names: '--out and --output', accepts: 'give one', echoes: null },
  '--out in a missing directory': { argv: ['export', '-o', '@missing/m.onnx'], names: '@missing/m.onnx', accepts: 'does not exist', echoes: null },
  '--out under a regular file': { argv: ['export', '-o', '@a-file/m.onnx'], names: '@a-file/m.onnx', accepts: 'not a directory', echoes: null },
  '--output (the alias) a directory': { argv: ['export', '--output', '@a-dir'], names: '@a-dir', accepts: 'is a directory', echoes: null },
  'a positional argument': { argv: [...EXPORT, 'model.onnx'], names: 'positional', accepts: 'no positional', echoes: "'model.onnx'" },
});

const EVAL_ROWS = table({
  ...lossFlagRows(EVAL),
  // eval reads the target type from the file: a float file is refused before the flag is looked at.
  '--target-dtype float for multiclass': {
    argv: ['eval', '--pred', '@pred2.npy', '--target', '@classes.npy', '--task', 'multiclass', '--target-dtype', 'float'],
    names: '--target-dtype',
    accepts: 'the target file decides',
    echoes: 'float',
  },
  '--target-dtype other than the file': { argv: [...EVAL, '--target-dtype', 'int64'], names: '--target-dtype', accepts: 'the target file decides', echoes: 'int64' },
  '--ep unknown': { argv: [...EVAL, '--ep', 'gpu'], names: '--ep', accepts: 'cpu, cuda, auto', echoes: "'gpu'" },
  '--ep wrong case': { argv: [...EVAL, '--ep', 'CPU'], names: '--ep', accepts: 'cpu, cuda, auto', echoes: "'CPU'" },
  '--batch-size 0': { argv: [...EVAL, '--batch-size', '0'], names: '--batch-size', accepts: 'an integer >= 1', echoes: "'0'" },
  '--batch-size negative': { argv: [...EVAL, '--batch-size', '-4'], names: '--batch-size', accepts: 'an integer >= 1', echoes: "'-4'" },
  '--batch-size fractional': { argv: [...EVAL, '--batch-size', '2.5'], names: '--batch-size', accepts: 'an integer >= 1', echoes: "'2.5'" },
  '--batch-size past 2^53': { argv: [...EVAL, '--batch-size', '1e300'], names: '--batch-size', accepts: 'an integer >= 1', echoes: "'1e300'" },
  '--batch-size NaN': { argv: [...EVAL, '--batch-size', 'NaN'], names: '--batch-size', accepts: 'an integer >= 1', echoes: "'NaN'" },
  '--batch-size with a unit': { argv: [...EVAL, '--batch-size', '64k'], names: '--batch-size', accepts: 'an integer >= 1', echoes: "'64k'" },
  '--threads 0': { argv: [...EVAL, '--threads', '0'], names: '--threads', accepts: 'an integer in [1, 1024]', echoes: "'0'" },
  '--threads 1025': { argv: [...EVAL, '--threads', '1025'], names: '--threads', accepts: 'an integer in [1, 1024]', echoes: "'1025'" },
  '--threads not a number': { argv: [...EVAL, '--threads', 'all'], names: '--threads', accepts: 'an integer in [1, 1024]', echoes: "'all'" },
  '--graph-optimization unknown': { argv: [...EVAL, '--graph-optimization', 'max'], names: '--graph-optimization', accepts: 'disabled, basic, extended, all', echoes: "'max'" },
  '--as-function with a value': { argv: [...EVAL, '--as-function=yes'], names: '--as-function', accepts: '=true / =false', echoes: "'yes'" },
  '--with-grad with a value': { argv: [...EVAL, '--with-grad=1'], names: '--with-grad', accepts: '=true / =false', echoes: "'1'" },
  '--json with a value': { argv: [...EVAL, '--json=1'], names: '--json', accepts: '=true / =false', echoes: "'1'" },
  '--progress with a value': { argv: [...EVAL, '--progress=on'], names: '--progress', accepts: '=true / =false', echoes: "'on'" },
  '--no-progress with a value': { argv: [...EVAL, '--no-progress=yes'], names: '--no-progress', accepts: 'no value', echoes: "'yes'" },
  '--progress and --no-progress': { argv: [...EVAL, '--progress', '--no-progress'], names: '--progress', accepts: 'more than once', echoes: null },
  '--no- on a flag that takes a value': { argv: [...EVAL, '--no-threads'], names: '--no-threads', accepts: '--help', echoes: null },
  '--pred missing': { argv: ['eval', '--target', '@target.npy'], names: '--pred', accepts: 'required', echoes: null },
  '--target missing': { argv: ['eval', '--pred', '@pred.npy'], names: '--target', accepts: 'required', echoes: null },
  '--pred missing its value': { argv: ['eval', '--target', '@target.npy', '--pred'], names: '--pred', accepts: 'P.npy', echoes: null },
  '--pred a missing file': { argv: ['eval', '--pred', '@nope.npy', '--target', '@target.npy'], names: '@nope.npy', accepts: 'does not exist', echoes: null },
  '--pred a directory': { argv: ['eval', '--pred', '@a-dir', '--target', '@target.npy'], names: '@a-dir', accepts: 'is a directory', echoes: null },
  '--pred not an .npy file': { argv: ['eval', '--pred', '@model.onnx', '--target', '@target.npy'], names: '@model.onnx', accepts: 'not a .npy file', echoes: null },
  '--target a missing file': { argv: ['eval', '--pred', '@pred.npy', '--target', '@nope.npy'], names: '@nope.npy', accepts: 'does not exist', echoes: null },
  '--target of another size': { argv: ['eval', '--pred', '@pred.npy', '--target', '@target2.npy', '--task', 'multilabel'], names: '@pred.npy', accepts: '[N, L]', echoes: null },
  '--dtype other than the file': { argv: [...EVAL, '--dtype', 'float64'], names: '--dtype', accepts: 'the prediction file decides', echoes: 'float64' },
  '--alpha list of the wrong length': { argv: ['eval', '--pred', '@pred2.npy', '--target', '@target2.npy', '--task', 'multilabel', '--alpha', '0.1,0.2,0.3'], names: '--alpha', accepts: '2 labels', echoes: '3 values' },
  '--model a missing file': { argv: [...EVAL, '--model', '@nope.onnx'], names: '@nope.onnx', accepts: 'does not exist', echoes: null },
  '--model not a model': { argv: [...EVAL, '--model', '@pred.npy'], names: '@pred.npy', accepts: 'not an ONNX model', echoes: null },
  '--model a directory': { argv: [...EVAL, '--model', '@a-dir'], names: '@a-dir', accepts: 'is a directory', echoes: null },
  '--model with loss flags': { argv: [...EVAL, '--model', '@model.onnx', '--gamma', '1'], names: '--model', accepts: 'drop --gamma', echoes: null },
  '--out with a reducing model': { argv: [...EVAL, '--model', '@model.onnx', '--out', '@losses.npy'], names: '--out', accepts: 'reduction none', echoes: 'mean' },
  '--out in a missing directory': { argv: [...EVAL, '--reduction', 'none', '--out', '@missing/l.npy'], names: '@missing/l.npy', accepts: 'does not exist', echoes: null },
  '--out under a regular file': { argv: [...EVAL, '--reduction', 'none', '--out', '@a-file/l.npy'], names: '@a-file/l.npy', accepts: 'not a directory', echoes: null },
  '--out a directory': { argv: [...EVAL, '--reduction', 'none', '--out', '@a-dir'], names: '@a-dir', accepts: 'is a directory', echoes: null },
  '--out the prediction file': { argv: [...EVAL, '--out', '@pred.npy'], names: '@pred.npy', accepts: 'is also the predictions file', echoes: null },
  '--out the target file': { argv: [...EVAL, '--out', '@target.npy'], names: '@target.npy', accepts: 'is also the targets file', echoes: null },
  '--out missing its value': { argv: [...EVAL, '--out'], names: '--out', accepts: 'LOSSES.npy', echoes: null },
  '--weight a missing file': { argv: [...EVAL, '--weight', '@nope.npy'], names: '@nope.npy', accepts: 'does not exist', echoes: null },
  '--weight of another size': { argv: [...EVAL, '--weight', '@weight4.npy'], names: '@weight4.npy', accepts: 'one weight per prediction (6)', echoes: '4 elements' },
  '--weight with a model that takes none': { argv: [...EVAL, '--model', '@model.onnx', '--weight', '@target.npy'], names: '@target.npy', accepts: 'takes none', echoes: null },
  'a positional argument': { argv: [...EVAL, 'extra.npy'], names: 'positional', accepts: '--pred and --target', echoes: "'extra.npy'" },
  '--network a missing file': { argv: ['eval', '--network', '@nope.onnx', '--output', 'loss', '--feed', 'pred=p.npy', '--target', '@target.npy'], names: '@nope.onnx', accepts: 'does not exist', echoes: null },
  '--network with --pred': { argv: [...EVAL, '--network', '@model-none.onnx', '--output', 'loss', '--feed', 'pred=p.npy'], names: '--network', accepts: 'drop --pred', echoes: null },
  '--network without --output': { argv: ['eval', '--network', '@model-none.onnx', '--feed', 'pred=p.npy', '--target', '@target.npy'], names: '--output', accepts: 'required with --network', echoes: null },
  '--output not an output of the network': { argv: ['eval', '--network', '@model-none.onnx', '--output', 'logits', '--feed', 'pred=p.npy', '--target', '@target.npy'], names: '--output', accepts: 'is not an output', echoes: "'logits'" },
  '--output without --network': { argv: [...EVAL, '--output', 'logits'], names: '--output', accepts: 'goes with --network', echoes: null },
  '--feed without =': { argv: [...NETWORK, '--feed', 'pred'], names: '--feed', accepts: 'INPUT=FILE.npy', echoes: "'pred'" },
  '--feed for an input the network lacks': { argv: [...NETWORK, '--feed', 'images=x.npy'], names: '--feed images', accepts: 'has no input', echoes: "'images'" },
  '--feed missing with --network': { argv: NETWORK, names: '--feed', accepts: 'required with --network', echoes: null },
  '--diagnostics with a value': { argv: [...EVAL, '--diagnostics=yes'], names: '--diagnostics', accepts: '=true / =false', echoes: "'yes'" },
  '--sweep-gamma not a list of numbers': { argv: [...EVAL, '--sweep-gamma', '0,two'], names: '--sweep-gamma', accepts: 'numbers >= 0', echoes: "'two'" },
  '--sweep-gamma negative': { argv: [...EVAL, '--sweep-gamma', '-1'], names: '--sweep-gamma', accepts: 'numbers >= 0', echoes: "'-1'" },
  '--sweep-alpha above 1': { argv: [...EVAL, '--sweep-alpha', '0.25,1.5'], names: '--sweep-alpha', accepts: 'numbers in [0, 1]', echoes: "'1.5'" },
  '--report not an .html file': { argv: [...EVAL, '--report', 'r.png'], names: '--report', accepts: '.html file', echoes: "'r.png'" },
  '--report in a missing directory': { argv: [...EVAL, '--report', '@missing/r.html'], names: '@missing/r.html', accepts: 'does not exist', echoes: null },
  '--diagnostics with a reducing model': { argv: [...EVAL, '--model', '@model.onnx', '--diagnostics'], names: '@model.onnx', accepts: 'reduction none', echoes: 'mean' },
});

const ATTACH_ROWS = table({
  ...lossFlagRows(ATTACH),
  '--as-function with a value': { argv: [...ATTACH, '--as-function=yes'], names: '--as-function', accepts: '=true / =false', echoes: "'yes'" },
  '--with-grad with a value': { argv: [...ATTACH, '--with-grad=1'], names: '--with-grad', accepts: '=true / =false', echoes: "'1'" },
  '--weight unknown': { argv: [...ATTACH, '--weight', 'W.npy'], names: '--weight', accepts: 'sample, element', echoes: "'W.npy'" },
  '--json with a value': { argv: [...ATTACH, '--json=no'], names: '--json', accepts: '=true / =false', echoes: "'no'" },
  '--external-data unknown': { argv: [...ATTACH, '--external-data', 'move'], names: '--external-data', accepts: 'inline, copy, keep', echoes: "'move'" },
  '--output missing': { argv: ['attach', '@model-none.onnx', '-o', '@existing.onnx'], names: '--output', accepts: 'required', echoes: null },
  '--output not an output': { argv: ['attach', '@model-none.onnx', '--output', 'logits', '-o', '@existing.onnx'], names: '--output', accepts: 'is not an output', echoes: "'logits'" },
  '--output missing its value': { argv: ['attach', '@model-none.onnx', '-o', '@existing.onnx', '--output'], names: '--output', accepts: 'NAME', echoes: null },
  '--out missing': { argv: ['attach', '@model-none.onnx', '--output', 'loss'], names: '--out', accepts: 'required', echoes: null },
  '--out missing its value': { argv: ['attach', '@model-none.onnx', '--output', 'loss', '-o'], names: '--out', accepts: 'OUT.onnx', echoes: null },
  '--out in a missing directory': { argv: ['attach', '@model-none.onnx', '--output', 'loss', '-o', '@missing/m.onnx'], names: '@missing/m.onnx', accepts: 'does not exist', echoes: null },
  '--out a directory': { argv: ['attach', '@model-none.onnx', '--output', 'loss', '-o', '@a-dir'], names: '@a-dir', accepts: 'is a directory', echoes: null },
  '--dtype other than the output': { argv: [...ATTACH, '--dtype', 'float64'], names: '--dtype', accepts: 'the network decides', echoes: 'float64' },
  '--opset other than the network': { argv: [...ATTACH, '--opset', '18'], names: '--opset', accepts: 'which uses opset 17', echoes: '18' },
  'no network': { argv: ['attach', '--output', 'loss', '-o', '@existing.onnx'], names: 'attach', accepts: 'NETWORK.onnx', echoes: null },
  'two networks': { argv: [...ATTACH, '@model.onnx'], names: 'attach', accepts: 'one network', echoes: 'model.onnx' },
  'a missing network': { argv: ['attach', '@nope.onnx', '--output', 'loss', '-o', '@existing.onnx'], names: '@nope.onnx', accepts: 'does not exist', echoes: null },
  'a network that is not a model': { argv: ['attach', '@pred.npy', '--output', 'loss', '-o', '@existing.onnx'], names: '@pred.npy', accepts: 'not an ONNX model', echoes: null },
});

const INSPECT_ROWS = table({
  '--ep unknown': { argv: ['inspect', '@model.onnx', '--ep', 'cpu'], names: '--ep', accepts: 'cuda', echoes: "'cpu'" },
  '--json with a value': { argv: ['inspect', '@model.onnx', '--json=yes'], names: '--json', accepts: '=true / =false', echoes: "'yes'" },
  'no model file': { argv: ['inspect'], names: 'inspect', accepts: 'FILE.onnx', echoes: null },
  'two model files': { argv: ['inspect', '@model.onnx', '@model-none.onnx'], names: 'inspect', accepts: 'one model file', echoes: '2' },
  'a missing file': { argv: ['inspect', '@nope.onnx'], names: '@nope.onnx', accepts: 'does not exist', echoes: null },
  'a directory': { argv: ['inspect', '@a-dir'], names: '@a-dir', accepts: 'is a directory', echoes: null },
  'not a model': { argv: ['inspect', '@pred.npy'], names: '@pred.npy', accepts: 'not an ONNX model', echoes: null },
  'unknown flag': { argv: ['inspect', '@model.onnx', '--verbose'], names: '--verbose', accepts: '--help', echoes: null },
});

describe('export: every flag with a bad value', () => {
  it.each(EXPORT_ROWS)('%s', async (_name, row) => {
    await expectRefused(row);
  });
});

describe('eval: every flag with a bad value', () => {
  it.each(EVAL_ROWS)('%s', async (_name, row) => {
    await expectRefused(row);
  });
});

describe('attach: every flag with a bad value', () => {
  it.each(ATTACH_ROWS)('%s', async (_name, row) => {
    await expectRefused(row);
  });
});

describe('inspect: every flag with a bad value', () => {
  it.each(INSPECT_ROWS)('%s', async (_name, row) => {
    await expectRefused(row);
  });
});

describe('coverage of the tables', () => {
  it.each([
    ['export', EXPORT_ROWS],
    ['eval', EVAL_ROWS],
    ['inspect', INSPECT_ROWS],
    ['attach', ATTACH_ROWS],
  ] as const)('every flag of %s has a bad-value row (a new flag needs one)', (name, rows) => {
    const command = COMMANDS.find((c) => c.name === name)!;
    const used = new Set(rows.flatMap(([, row]) => row.argv.map((a) => a.split('=')[0])));
    const missing = Object.entries(command.flags).filter(([flag, spec]) => !used.has(`--${flag}`) && !(spec.alias && used.has(`-${spec.alias}`)));
    expect(missing.map(([flag]) => flag)).toEqual([]);
    expect(COMMANDS.map((c) => c.name).sort()).toEqual(['attach', 'eval', 'export', 'inspect']);
  });
});

describe('the command itself', () => {
  it.each<[string, string[], string]>([
    ['an unknown command', ['evaluate'], "'evaluate'"],
    ['a misspelt command', ['exprot', '-o', 'x.onnx'], "'exprot'"],
  ])('%s', async (_name, argv, echoes) => {
    const r = await runCli(argv);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^focal-onnx: [^\n]+\n$/);
    expect(r.stderr).toContain(echoes);
    expect(r.stderr).toContain('eval, export, inspect');
  });

  it('the good command lines the tables start from succeed', async () => {
    for (const argv of [
      ['export', '-o', '@good.onnx'],
      [...EVAL, '--json'],
      ['inspect', '@model.onnx'],
    ]) {
      const r = await runCli(resolve(argv));
      expect({ argv, code: r.code, stderr: r.stderr }).toEqual({ argv, code: 0, stderr: '' });
    }
    fs.rmSync(p('good.onnx'));
  });
});

/** One vocabulary: -o / --out is the output file in every command that writes one; --version everywhere. */
describe('-o, --out and --version in every command', () => {
  const net = ['attach', '@model-none.onnx', '--output', 'loss'];
  const evalNone = ['eval', '--pred', '@pred.npy', '--target', '@target.npy', '--reduction', 'none'];
  it.each<[string, string[], string]>([
    ['export', ['export'], 'out.onnx'],
    ['attach', net, 'out.onnx'],
    ['eval', evalNone, 'out.npy'],
  ])('%s writes its output with -o and with --out, the same bytes', async (_name, argv, file) => {
    const written: Buffer[] = [];
    for (const flag of ['-o', '--out']) {
      const r = await runCli(resolve([...argv, flag, `@${file}`]));
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toContain(p(file));
      written.push(fs.readFileSync(p(file)));
      fs.rmSync(p(file));
    }
    expect(written[1].equals(written[0])).toBe(true);
  });

  it("export --output (the flag's earlier name) still writes the file", async () => {
    const r = await runCli(resolve(['export', '--output', '@old.onnx']));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(fs.readFileSync(p('old.onnx')).equals(Buffer.from(buildLoss({}).bytes))).toBe(true);
    fs.rmSync(p('old.onnx'));
  });

  it.each([[[] as string[]], ...COMMANDS.map((c) => [[c.name]])])('%j --version and -V print the version; --help lists them', async (argv) => {
    const { VERSION } = await import('../../src/version');
    for (const flag of ['--version', '-V']) {
      const r = await runCli([...argv, flag]);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    }
    const help = await runCli([...argv, '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}-V, --version +print the version/m);
    if (argv.length && argv[0] !== 'inspect') expect(help.stdout).toMatch(/^ {2}-o, --out /m);
  });
});

/** Former gaps in flag messages, fixed: kept as regression tests. */
describe('flag messages at the edges', () => {
  it('--eps negative names the whole range [0, 1)', async () => {
    await expectRefused({ argv: [...EXPORT, '--eps', '-0.1'], names: '--eps', accepts: '[0, 1)', echoes: '-0.1' });
  });

  it('an empty string value says what the flag accepts', async () => {
    await expectRefused({ argv: [...EXPORT, '--alpha='], names: '--alpha', accepts: 'A|A1,A2,…|none', echoes: null });
  });

  it('a value with a line break is echoed on one line', async () => {
    await expectRefused({ argv: [...EXPORT, '--task', 'bin\nary'], names: '--task', accepts: TASKS, echoes: 'bin' });
  });
});
