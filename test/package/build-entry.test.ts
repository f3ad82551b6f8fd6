/**
 * The build-only entry (src/build.ts, `focal-onnx/build`): the builder API without the runtime.
 *
 * Loaded in a fresh node process from the build (`npm test` builds first), it loads no module of
 * src/runtime or src/cli, nothing of onnxruntime (no module under its package, no native shared
 * object: process.report lists the ones the process has loaded), and still builds a loss and
 * attaches one to a network. The main entry, loaded the same way, loads onnxruntime's binding at
 * its first session (src/runtime/session.ts's loadRuntime; opened here): the same check sees it
 * there, so its silence on the build entry means something.
 *
 * Its names are the main entry's (the same objects) minus the runtime's and the CLI's (`run`,
 * `CliIO`), its types included (read from the declarations the build wrote): a name added to one
 * and not the other fails here. test/package/pack.test.ts uses it from the packed tarball
 * (`import … from 'focal-onnx/build'`, ESM, CommonJS and TypeScript).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'src');
const NETWORK = path.join(ROOT, 'test', 'fixtures', 'networks', 'cnn-dynamo.onnx');

interface Loaded {
  /** require.cache's keys, relative to the repository root where under it. */
  modules: string[];
  /** Shared objects of the process whose path names onnxruntime. */
  native: string[];
  exports: string[];
  lossBytes: number;
  attachedOutputs: string[];
}

/** Loads one entry of the build in a child node process and reports what came with it. */
function load(entry: string): Loaded {
  const script = `
const fs = require('fs');
const m = require(${JSON.stringify(path.join(DIST, entry))});
const loss = m.buildLoss({ task: 'binary' });
const attached = m.attachLoss(fs.readFileSync(${JSON.stringify(NETWORK)}), { task: 'multiclass', input: 'logits', output: 'logits' });
const root = ${JSON.stringify(ROOT + path.sep)};
(async () => {
if (m.createSession) await (await m.createSession(loss.bytes)).release();
process.stdout.write(JSON.stringify({
  modules: Object.keys(require.cache).map((k) => (k.startsWith(root) ? k.slice(root.length) : k)),
  native: process.report.getReport().sharedObjects.filter((s) => /onnxruntime/i.test(s)),
  exports: Object.keys(m),
  lossBytes: loss.bytes.length,
  attachedOutputs: attached.model.graph.output.map((o) => o.name),
}));
})();
`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node failed loading ${entry}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Loaded;
}

describe('focal-onnx/build (src/build.ts)', () => {
  let build: Loaded;
  let main: Loaded;

  beforeAll(() => {
    build = load('build.js');
    main = load('index.js');
  });

  it('loads no runtime, CLI or onnxruntime module and no native code, and still builds and attaches', () => {
    const ours = build.modules.filter((m) => m.startsWith('dist/'));
    expect(ours).toContain('dist/src/build.js');
    expect(ours).toContain('dist/src/losses/build.js');
    expect(ours).toContain('dist/src/attach/attach.js');
    expect(ours.filter((m) => /^dist\/src\/(runtime|cli)\//.test(m))).toEqual([]);
    expect(build.modules.filter((m) => /onnxruntime/i.test(m))).toEqual([]);
    expect(build.native).toEqual([]);
    expect(build.lossBytes).toBeGreaterThan(100);
    expect(build.attachedOutputs).toEqual(['logits', 'loss']);
  });

  it('the same check sees onnxruntime and its binding in the main entry, once it has opened a session', () => {
    expect(main.modules.some((m) => /node_modules[\\/]onnxruntime-node[\\/]/.test(m))).toBe(true);
    expect(main.modules).toContain('dist/src/runtime/session.js');
    expect(main.native.some((s) => /onnxruntime_binding\.node$/.test(s))).toBe(true);
    expect(main.lossBytes).toBe(build.lossBytes);
  });

  it("exports the main entry's names minus the runtime's and run, as the same objects", () => {
    const index = require(path.join(DIST, 'index.js')) as Record<string, unknown>;
    const runtime = require(path.join(DIST, 'runtime', 'index.js')) as Record<string, unknown>;
    const entry = require(path.join(DIST, 'build.js')) as Record<string, unknown>;
    const expected = Object.keys(index)
      .filter((k) => !(k in runtime) && k !== 'run')
      .sort();
    expect(Object.keys(entry).sort()).toEqual(expected);
    expect(build.exports.sort()).toEqual(expected);
    for (const k of expected) expect([k, entry[k] === index[k]]).toEqual([k, true]);
    expect(expected).toEqual(expect.arrayContaining(['buildLoss', 'attachLoss', 'normalizeOptions', 'PRESETS', 'Graph', 'op', 'writeNpy', 'UsageError', 'VERSION', 'checkCudaPlacement', 'formatPlacement', 'CUDA_KNOWN_OPS']));
  });

  it("declares the main entry's names, types included, minus the runtime's and the CLI's", () => {
    const files = ['index.d.ts', 'build.d.ts', path.join('runtime', 'index.d.ts')].map((f) => path.join(DIST, f));
    const program = ts.createProgram(files, { skipLibCheck: true, types: [] });
    const checker = program.getTypeChecker();
    const names = (file: string): string[] => {
      const module = checker.getSymbolAtLocation(program.getSourceFile(file) as ts.SourceFile) as ts.Symbol;
      return checker
        .getExportsOfModule(module)
        .map((x) => x.name)
        .sort();
    };
    const [index, entry, runtime] = files.map(names);
    const expected = index.filter((k) => !runtime.includes(k) && k !== 'run' && k !== 'CliIO');
    expect(entry).toEqual(expected);
    expect(expected).toEqual(expect.arrayContaining(['LossOptions', 'AttachOptions', 'NpyDType', 'DType', 'Preset', 'buildLoss', 'PlacementReport', 'NodePlacement']));
  });
});
