/**
 * focal-onnx as a dependency: `npm pack` ships only what users need (the compiled library and its
 * types, the bin, the exported models — no tests, scripts, sources or source maps), and the packed
 * tarball, installed into a fresh project by npm, works from ESM, CommonJS and TypeScript (whose
 * types resolve: a wrong option is a compile error) and through its bin. So does its build-only
 * entry, `focal-onnx/build` (the subpath export; its types by `exports` and, for TypeScript's
 * classic node resolution, `typesVersions`), which loads nothing of onnxruntime: no module of its
 * package, no native shared object (process.report's list).
 *
 * Offline: the fresh project's node_modules first gets links to this project's own copies of
 * focal-onnx's dependencies (onnxruntime-node, onnx-proto, protobufjs and theirs, exactly the
 * versions the lockfile installed), so `npm install --offline ./focal-onnx-0.1.0.tgz` finds every
 * dependency satisfied and only unpacks the tarball (it keeps the links of the direct
 * dependencies, whose own resolve where they live); nothing is written outside the scratch
 * directory. focal-onnx itself is a real copy from the tarball, resolved by Node and TypeScript
 * from the fresh project. Needs the build (`npm test` runs it first).
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { scratchDir } from '../helpers/cli';

const ROOT = path.join(__dirname, '..', '..');
const dir = scratchDir('focal-pack-');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };

/** focal-onnx's runtime dependencies and theirs, by name, as installed in this project (its lockfile's tree). */
function dependencyClosure(modules: string): string[] {
  const seen = new Set<string>();
  const queue = Object.keys(pkg.dependencies);
  while (queue.length) {
    const name = queue.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    const manifest = JSON.parse(fs.readFileSync(path.join(modules, name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    queue.push(...Object.keys(manifest.dependencies ?? {}));
  }
  return [...seen].sort();
}

function run(cmd: string, args: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('npm pack, installed into a fresh project', () => {
  let files: string[];
  let tarball: string;
  let project: string;

  beforeAll(() => {
    const out = dir();
    // The build is npm test's pretest; --ignore-scripts keeps pack from building again.
    const packed = JSON.parse(execFileSync(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', out], { cwd: ROOT, encoding: 'utf8' })) as {
      filename: string;
      files: { path: string }[];
    }[];
    files = packed[0].files.map((f) => f.path).sort();
    tarball = path.join(out, packed[0].filename);

    project = path.join(out, 'consumer');
    const modules = path.join(project, 'node_modules');
    fs.mkdirSync(modules, { recursive: true });
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
    const ours = fs.realpathSync(path.join(ROOT, 'node_modules'));
    for (const name of dependencyClosure(ours)) {
      fs.mkdirSync(path.dirname(path.join(modules, name)), { recursive: true });
      fs.symlinkSync(path.join(ours, name), path.join(modules, name), 'dir');
    }
    const r = run(NPM, ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], project);
    if (r.code !== 0) throw new Error(`npm install of the tarball failed:\n${r.stderr}`);
    // npm keeps focal-onnx's direct dependencies (links whose own dependencies resolve where they
    // live); a TypeScript project brings its own Node types: ours.
    fs.mkdirSync(path.join(modules, '@types'), { recursive: true });
    if (!fs.existsSync(path.join(modules, '@types', 'node'))) fs.symlinkSync(path.join(ours, '@types', 'node'), path.join(modules, '@types', 'node'), 'dir');
  }, 180_000);

  it('ships the library, its types, the bin and the models, and nothing else', () => {
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    expect(files).toContain('bin/focal-onnx.js');
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/src/index.d.ts');
    expect(files).toContain('dist/src/runtime/eval-worker.js');
    expect(files).toContain('dist/src/build.js');
    expect(files).toContain('dist/src/build.d.ts');
    expect(files).toContain('models/binary-probs.onnx');
    const unexpected = files.filter(
      (f) => !(f === 'package.json' || f === 'README.md' || f === 'LICENSE' || f.startsWith('bin/') || /^dist\/src\/.*\.(js|d\.ts)$/.test(f) || /^models\/[^/]+\.(onnx|md)$/.test(f)),
    );
    expect(unexpected).toEqual([]);
    expect(files.filter((f) => /^dist\/(test|scripts|bench)\//.test(f) || f.endsWith('.map') || /^src\//.test(f))).toEqual([]);
  });

  it('installs as a package of its own (not a link to this checkout)', () => {
    const installed = path.join(project, 'node_modules', pkg.name);
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')).version).toBe(pkg.version);
    expect(fs.existsSync(path.join(installed, 'dist', 'test'))).toBe(false);
    // Its exports map: the two entries, its package.json and the shipped models resolve by name.
    const r = run(process.execPath, ['-p', "['focal-onnx', 'focal-onnx/build', 'focal-onnx/package.json', 'focal-onnx/models/binary-probs.onnx'].map((m) => require.resolve(m)).join('\\n')"], project);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n').map((f) => path.relative(installed, f))).toEqual([
      path.join('dist', 'src', 'index.js'),
      path.join('dist', 'src', 'build.js'),
      'package.json',
      path.join('models', 'binary-probs.onnx'),
    ]);
  });

  // One program per module system: build a loss, evaluate a batch in memory and two files (the
  // files in 100 batches on 2 sessions side by side: the worker script is in the package), print
  // the losses.
  const program = (imports: string): string => `${imports}
const fs = require_fs;
const path = require_path;
(async () => {
  const { bytes } = buildLoss({ task: 'multilabel', alpha: [0.2, 0.8] });
  const ev = await createEvaluator({ loss: { reduction: 'sum' }, threads: 1 });
  await ev.add({ pred: Float32Array.from([0.9, 0.2, 0.6]), target: Uint8Array.from([1, 0, 1]) });
  const mem = ev.result().loss;
  await ev.close();
  const dir = fs.mkdtempSync(path.join(require_os.tmpdir(), 'focal-consumer-'));
  const p = Float32Array.from({ length: 1000 }, (_, i) => ((i * 37) % 100) / 100);
  const t = Float32Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  writeNpy(path.join(dir, 'p.npy'), 'float32', [1000], p);
  writeNpy(path.join(dir, 't.npy'), 'float32', [1000], t);
  const r = await evaluate({ pred: path.join(dir, 'p.npy'), target: path.join(dir, 't.npy'), batchSize: 10, threads: 2 });
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ version: VERSION, modelBytes: bytes.length, mem, file: r.loss, batches: r.batches, sessions: r.sessions }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

  function expectOutput(stdout: string): void {
    const o = JSON.parse(stdout) as { version: string; modelBytes: number; mem: number; file: number; batches: number; sessions: number };
    expect(o.version).toBe(pkg.version);
    expect(o.modelBytes).toBeGreaterThan(100);
    // Σ −α_t (1 − p_t)² log p_t over (0.9, 1), (0.2, 0), (0.6, 1), α = 0.25.
    const expected = -0.25 * 0.1 ** 2 * Math.log(0.9) - 0.75 * 0.2 ** 2 * Math.log(0.8) - 0.25 * 0.4 ** 2 * Math.log(0.6);
    expect(Math.abs(o.mem / expected - 1)).toBeLessThan(1e-6);
    expect(o.file).toBeGreaterThan(0);
    expect(o.batches).toBe(100);
    expect(o.sessions).toBe(2);
  }

  it('works from ESM (import)', () => {
    const file = path.join(project, 'esm.mjs');
    fs.writeFileSync(
      file,
      program(
        "import { buildLoss, createEvaluator, evaluate, writeNpy, VERSION } from 'focal-onnx';\nimport * as require_fs from 'fs';\nimport * as require_path from 'path';\nimport * as require_os from 'os';",
      ),
    );
    const r = run(process.execPath, [file], project);
    expect(r.stderr).toBe('');
    expectOutput(r.stdout);
  });

  it('works from CommonJS (require)', () => {
    const file = path.join(project, 'cjs.cjs');
    fs.writeFileSync(
      file,
      program("const { buildLoss, createEvaluator, evaluate, writeNpy, VERSION } = require('focal-onnx');\nconst require_fs = require('fs');\nconst require_path = require('path');\nconst require_os = require('os');"),
    );
    const r = run(process.execPath, [file], project);
    expect(r.stderr).toBe('');
    expectOutput(r.stdout);
  });

  it('works from TypeScript: the types resolve, and a wrong option does not compile', () => {
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    // skipLibCheck as `tsc --init` sets it: onnx-proto's own .d.ts needs @types/long's global `Long`.
    const config = { compilerOptions: { strict: true, module: 'commonjs', target: 'ES2022', lib: ['ES2022'], types: ['node'], noEmit: true, skipLibCheck: true } };
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ ...config, files: ['ok.ts'] }));
    fs.writeFileSync(
      path.join(project, 'ok.ts'),
      [
        "import { createEvaluator, evaluate, buildLoss, EvaluatorResult, EvaluateResult, LossOptions, UsageError } from 'focal-onnx';",
        "const options: LossOptions = { task: 'multiclass', input: 'logits', alpha: [0.2, 0.3, 0.5], gamma: 2 };",
        'const inputs: readonly { name: string }[] = buildLoss(options).inputs;',
        'async function main(): Promise<number> {',
        "  const ev = await createEvaluator({ loss: options, ep: 'cpu' });",
        '  await ev.add({ pred: new Float32Array(6), target: new BigInt64Array(2), dims: [2, 3] });',
        '  const r: EvaluatorResult = ev.result();',
        "  const f: EvaluateResult = await evaluate({ pred: 'p.npy', target: 't.npy' });",
        '  await ev.close();',
        '  return r.loss + f.count + inputs.length + (new UsageError("x").exitCode);',
        '}',
        'void main;',
      ].join('\n'),
    );
    const ok = run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.code).toBe(0);

    fs.writeFileSync(path.join(project, 'tsconfig.bad.json'), JSON.stringify({ ...config, files: ['bad.ts'] }));
    fs.writeFileSync(path.join(project, 'bad.ts'), "import { createEvaluator } from 'focal-onnx';\nvoid createEvaluator({ loss: { gamma: 'two' } });\n");
    const bad = run(process.execPath, [tsc, '-p', 'tsconfig.bad.json'], project);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/bad\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
  });

  // The build-only entry: build a loss and attach one to a network, then report what the process
  // loaded: no onnxruntime module (require.cache, shared by ESM's loader for these CommonJS files)
  // and no onnxruntime shared object. Then the main entry and a session of it, whose binding the
  // same check sees.
  const NETWORK = path.join(ROOT, 'test', 'fixtures', 'networks', 'cnn-dynamo.onnx');
  const buildProgram = (imports: string): string => `${imports}
const loss = buildLoss({ task: 'multilabel', alpha: [0.2, 0.8] });
const attached = attachLoss(readFileSync(${JSON.stringify(NETWORK)}), { task: 'multiclass', input: 'logits', output: 'logits' });
const loaded = () => ({
  modules: Object.keys(cache).filter((k) => /onnxruntime/i.test(k)).length,
  native: process.report.getReport().sharedObjects.filter((s) => /onnxruntime/i.test(s)).length,
});
const before = loaded();
(async () => {
  await loadMain();
  console.log(JSON.stringify({ version: VERSION, modelBytes: loss.bytes.length, outputs: attached.model.graph.output.map((o) => o.name), before, after: loaded() }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

  function expectBuildOutput(stdout: string): void {
    const o = JSON.parse(stdout) as { version: string; modelBytes: number; outputs: string[]; before: { modules: number; native: number }; after: { modules: number; native: number } };
    expect(o.version).toBe(pkg.version);
    expect(o.modelBytes).toBeGreaterThan(100);
    expect(o.outputs).toEqual(['logits', 'loss']);
    expect(o.before).toEqual({ modules: 0, native: 0 });
    expect(o.after.modules).toBeGreaterThan(0);
    expect(o.after.native).toBeGreaterThan(0);
  }

  it('focal-onnx/build works from ESM (import) and loads no onnxruntime', () => {
    const file = path.join(project, 'build-esm.mjs');
    fs.writeFileSync(
      file,
      buildProgram(
        "import { buildLoss, attachLoss, VERSION } from 'focal-onnx/build';\nimport { readFileSync } from 'fs';\nimport { createRequire } from 'module';\nconst cache = createRequire(import.meta.url).cache;\nconst loadMain = async () => (await (await import('focal-onnx')).createSession(loss.bytes)).release();",
      ),
    );
    const r = run(process.execPath, [file], project);
    expect(r.stderr).toBe('');
    expectBuildOutput(r.stdout);
  });

  it('focal-onnx/build works from CommonJS (require) and loads no onnxruntime', () => {
    const file = path.join(project, 'build-cjs.cjs');
    fs.writeFileSync(
      file,
      buildProgram(
        "const { buildLoss, attachLoss, VERSION } = require('focal-onnx/build');\nconst { readFileSync } = require('fs');\nconst cache = require.cache;\nconst loadMain = async () => (await require('focal-onnx').createSession(loss.bytes)).release();",
      ),
    );
    const r = run(process.execPath, [file], project);
    expect(r.stderr).toBe('');
    expectBuildOutput(r.stdout);
  });

  it('focal-onnx/build from TypeScript: its types resolve (classic node, node16 and bundler resolution), and a wrong option does not compile', () => {
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const base = { strict: true, target: 'ES2022', lib: ['ES2022'], types: ['node'], noEmit: true, skipLibCheck: true };
    fs.writeFileSync(
      path.join(project, 'build-ok.ts'),
      [
        "import { buildLoss, attachLoss, AttachedModel, LossModel, LossOptions, PRESETS, UsageError } from 'focal-onnx/build';",
        "const options: LossOptions = { task: 'multiclass', input: 'logits', alpha: [0.2, 0.3, 0.5], gamma: 2 };",
        'const m: LossModel = buildLoss(options);',
        "const a: AttachedModel = attachLoss(m.bytes, { ...options, output: 'logits' });",
        'export const n: number = m.inputs.length + a.bytes.length + Object.keys(PRESETS).length + new UsageError("x").exitCode;',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(project, 'build-bad.ts'), "import { buildLoss } from 'focal-onnx/build';\nvoid buildLoss({ gamma: 'two' });\n");
    for (const [name, resolution] of [
      ['node10', { module: 'commonjs', moduleResolution: 'node10' }],
      ['node16', { module: 'node16', moduleResolution: 'node16' }],
      ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
    ] as const) {
      const ok = path.join(project, `tsconfig.build-${name}.json`);
      fs.writeFileSync(ok, JSON.stringify({ compilerOptions: { ...base, ...resolution }, files: ['build-ok.ts'] }));
      const r = run(process.execPath, [tsc, '-p', ok], project);
      expect([name, r.stdout + r.stderr]).toEqual([name, '']);
      expect(r.code).toBe(0);
      const bad = path.join(project, `tsconfig.build-bad-${name}.json`);
      fs.writeFileSync(bad, JSON.stringify({ compilerOptions: { ...base, ...resolution }, files: ['build-bad.ts'] }));
      const b = run(process.execPath, [tsc, '-p', bad], project);
      expect(b.code).not.toBe(0);
      expect(b.stdout).toMatch(/build-bad\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
    }
  }, 180_000);

  it('runs its bin (npx focal-onnx), exit codes included', () => {
    const bin = path.join(project, 'node_modules', '.bin', 'focal-onnx');
    expect(fs.existsSync(bin)).toBe(true);
    const help = run(bin, ['--help'], project);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/export/);
    const exported = run(bin, ['export', '--task', 'multilabel', '-o', 'ml.onnx'], project);
    expect(exported.code).toBe(0);
    const inspect = run(bin, ['inspect', 'ml.onnx'], project);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toMatch(/^inputs {4}pred float32\[N, L\], target float32\[N, L\]$/m);
    const bad = run(bin, ['eval', '--pred', 'missing.npy', '--target', 'missing.npy'], project);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^focal-onnx: missing\.npy: .*\n$/);
  });
  // --report renders with vega and vega-lite, runtime dependencies: they come with the install and
  // the report is written by the installed bin.
  it('eval --report from the installed package writes the report (vega and vega-lite are dependencies)', () => {
    expect(pkg.dependencies).toEqual(expect.objectContaining({ vega: expect.any(String), 'vega-lite': expect.any(String) }));
    const bin = path.join(project, 'node_modules', '.bin', 'focal-onnx');
    const npy = (name: string, values: number[]): string => {
      const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${values.length},), }`;
      const padded = header + ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
      const head = Buffer.alloc(10);
      head.write('\x93NUMPY', 0, 'latin1');
      head.writeUInt8(1, 6);
      head.writeUInt16LE(padded.length, 8);
      const file = path.join(project, name);
      fs.writeFileSync(file, Buffer.concat([head, Buffer.from(padded, 'latin1'), Buffer.from(Float32Array.from(values).buffer)]));
      return file;
    };
    const pred = npy('report-p.npy', Array.from({ length: 200 }, (_, i) => ((i * 37) % 100) / 100));
    const target = npy('report-t.npy', Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 1 : 0)));
    const out = path.join(project, 'report.html');
    const r = run(bin, ['eval', '--pred', pred, '--target', target, '--report', out], project);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const html = fs.readFileSync(out, 'utf8');
    expect(html).toMatch(/<svg/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });

  // examples/, copied into the fresh project and run there as a user would: each prints what it
  // says, with the numbers of the formula.
  it('ships LICENSE, and no install-time build (prepack, not prepare)', () => {
    expect(files).toContain('LICENSE');
    const installed = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', pkg.name, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    expect(installed.scripts?.prepare).toBeUndefined();
    expect(installed.scripts?.install).toBeUndefined();
    expect(installed.scripts?.postinstall).toBeUndefined();
  });

  describe('examples/, run from the fresh project', () => {
    const examples = path.join(ROOT, 'examples');
    let home: string;
    beforeAll(() => {
      home = path.join(project, 'examples');
      fs.cpSync(examples, home, { recursive: true });
    });

    it('has an ESM, a CommonJS and a TypeScript program, and the browser page', () => {
      const names = fs.readdirSync(examples).sort();
      expect(names.filter((n) => n.endsWith('.mjs')).length).toBeGreaterThan(0);
      expect(names.filter((n) => n.endsWith('.cjs')).length).toBeGreaterThan(0);
      expect(names.filter((n) => n.endsWith('.ts')).length).toBeGreaterThan(0);
      expect(fs.existsSync(path.join(examples, 'browser', 'index.html'))).toBe(true);
    });

    it('export.mjs writes the multi-label loss with its gradient', () => {
      const r = run(process.execPath, ['export.mjs'], home);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const written = fs.readFileSync(path.join(home, 'focal-multilabel.onnx'));
      expect(r.stdout).toBe(
        [`wrote focal-multilabel.onnx (${written.length} bytes)`, 'inputs  pred float32[N, 3], target float32[N, 3]', 'outputs loss float32[], grad float32[N, 3]', ''].join('\n'),
      );
    });

    it('evaluate.cjs evaluates two batches from memory: the seed formula over the 9 elements', () => {
      const r = run(process.execPath, ['evaluate.cjs'], home);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      // −α_t (1 − p_t)² log p_t, α per label 0.25, 0.5, 0.75, on the float32 inputs.
      const p = [0.9, 0.2, 0.6, 0.1, 0.7, 0.3, 0.4, 0.8, 0.5].map(Math.fround);
      const t = [1, 0, 1, 0, 1, 1, 0, 1, 1];
      const el = p.map((x, i) => {
        const a = [0.25, 0.5, 0.75][i % 3];
        const pt = t[i] ? x : 1 - x;
        return -(t[i] ? a : 1 - a) * (1 - pt) ** 2 * Math.log(pt);
      });
      const perLabel = [0, 1, 2].map((l) => (el[l] + el[l + 3] + el[l + 6]) / 3);
      expect(r.stdout).toBe(`loss ${(el.reduce((x, y) => x + y) / 9).toFixed(7)} over 9 elements\nper label ${perLabel.map((x) => x.toFixed(4)).join(' ')}\n`);
    });

    it('attach.ts compiles (strict) and evaluates its tiny network with the loss attached', () => {
      const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const c = run(process.execPath, [tsc, '--strict', '--module', 'commonjs', '--target', 'ES2022', '--lib', 'ES2022', '--types', 'node', '--skipLibCheck', 'attach.ts'], home);
      expect(c.stdout + c.stderr).toBe('');
      const r = run(process.execPath, ['attach.js'], home);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      // The same network and loss in float64: softmax focal loss, α none, γ 2, eps 1e-4, mean.
      const W = [0.5, -1.0, 0.25, 1.5, 0.5, -0.5, -1.0, 0.75, 1.0, 0.25, -0.25, 0.5];
      const b = [0.1, 0.0, -0.1];
      const X = [[1, 0, 0, 1], [0, 1, 1, 0], [0.5, 0.5, -1, 2], [1, 1, 1, 1], [-1, 0, 0.5, 0.25]];
      const target = [1, 2, 0, 1, 2];
      const losses = X.map((x, n) => {
        const z = [0, 1, 2].map((c) => b[c] + x.reduce((s, v, k) => s + v * W[k * 3 + c], 0));
        const e = z.map((v) => Math.exp(v - Math.max(...z)));
        const pt = Math.min(Math.max(e[target[n]] / e.reduce((s, v) => s + v), 1e-4), 1);
        return -((1 - pt) ** 2) * Math.log(pt);
      });
      expect(r.stdout).toBe(
        'attached: x float32[N, 4], target int64[N] → logits float32[N, 3], loss float32[], grad float32[N, 3]\n' +
          `loss ${(losses.reduce((s, v) => s + v) / 5).toFixed(6)} (mean over 5 rows)\n`,
      );
    }, 120_000);
  });

  it("--ep cuda without the CUDA provider names what to run in a dependent project (not this repository's script)", () => {
    const bin = path.join(project, 'node_modules', '.bin', 'focal-onnx');
    fs.writeFileSync(path.join(project, 'p.npy'), Buffer.from(fs.readFileSync(path.join(ROOT, 'samples', 'pred.npy'))));
    fs.writeFileSync(path.join(project, 't.npy'), Buffer.from(fs.readFileSync(path.join(ROOT, 'samples', 'target.npy'))));
    const r = run(bin, ['eval', '--pred', 'p.npy', '--target', 't.npy', '--ep', 'cuda'], project);
    if (r.code === 0) {
      // A machine with the CUDA provider installed and a GPU: it ran there.
      expect(r.stdout).toMatch(/^provider +cuda/m);
      return;
    }
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^focal-onnx: --ep cuda: .*'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node' in your project.*\n$/);
    expect(r.stderr).not.toContain('setup:cuda');
  });
});
