/**
 * The browser page (examples/browser/index.html), as a user runs it: the repository root served by
 * `python3 -m http.server` (on 127.0.0.1 only), the page opened in headless Chromium (Debian's
 * `chromium`), its DOM dumped once the page has run. It loads onnxruntime-web from node_modules
 * through its import map, runs models/binary-probs-grad.onnx on the README's four values, and
 * must show the README's loss and gradient. The README's browser snippet must be the page's code.
 *
 * Without chromium this file says so in one line and skips; under CI (CI=true) that is a failure
 * (.ci/run installs it), so CI never passes by skipping it.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const PAGE = path.join(ROOT, 'examples', 'browser', 'index.html');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

const chromium = findChromium();
if (chromium === undefined && process.env.CI !== 'true') {
  process.stderr.write('test/web/browser.test.ts: skipped the browser page: no chromium on PATH (apt-get install -y chromium; CI installs it)\n');
}
const describeBrowser = chromium === undefined && process.env.CI !== 'true' ? describe.skip : describe;

/** The fenced block of README.md that follows `marker` (a line of text just above it). */
function readmeBlock(marker: string): string {
  const at = README.indexOf(marker);
  expect(at).toBeGreaterThanOrEqual(0);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(README.slice(at));
  expect(m).not.toBeNull();
  return (m as RegExpExecArray)[1];
}

describe("the README's browser snippet", () => {
  it("is the page's own code, line for line and in order", () => {
    const page = fs.readFileSync(PAGE, 'utf8').split('\n').map((l) => l.trim());
    let from = 0;
    for (const line of readmeBlock('examples/browser/index.html').split('\n').map((l) => l.trim()).filter(Boolean)) {
      const i = page.indexOf(line, from);
      expect([line, i >= 0]).toEqual([line, true]);
      from = i + 1;
    }
  });
});

describeBrowser('examples/browser/index.html in headless Chromium', () => {
  let server: ChildProcess;
  let port = 0;

  beforeAll(async () => {
    if (chromium === undefined) throw new Error('CI: no chromium on PATH (.ci/run installs Debian\'s chromium)');
    server = spawn('python3', ['-m', 'http.server', '0', '--bind', '127.0.0.1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    port = await new Promise<number>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`python3 -m http.server did not start: ${text}`)), 20_000);
      const read = (chunk: Buffer): void => {
        text += chunk.toString();
        const m = /port (\d+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      server.stdout?.on('data', read);
      server.stderr?.on('data', read);
      server.on('exit', (code) => reject(new Error(`python3 -m http.server exited (${code}): ${text}`)));
    });
  }, 30_000);

  afterAll(() => {
    server?.kill();
  });

  it("shows the README's loss and gradient", () => {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-chromium-'));
    try {
      const r = spawnSync(
        chromium as string,
        [
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
          // Virtual time runs until the page is idle (the module fetched, the wasm compiled, the model run).
          '--virtual-time-budget=30000', '--dump-dom', `http://127.0.0.1:${port}/examples/browser/`,
        ],
        { encoding: 'utf8', timeout: 90_000 },
      );
      const m = /<pre id="result">([\s\S]*?)<\/pre>/.exec(r.stdout);
      expect([r.status, m !== null]).toEqual([0, true]);
      const shown = (m as RegExpExecArray)[1].trim();
      expect(shown).toBe(readmeBlock('The page shows').trim());
      expect(shown).toMatch(/^loss 0\.1758257\ngrad \[-0\.00201145 0\.02611077 -0\.04220794 -1\.4838681\]$/);
    } finally {
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
