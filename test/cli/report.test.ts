/**
 * `eval --diagnostics` and `--report FILE.html` from the command line (the built CLI: the report
 * loads vega and vega-lite with a real import(), which jest's module sandbox does not run): the
 * JSON's `diagnostics`, the summary's lines, the flags' errors, and the page — self-contained (no
 * script, no external URL), every chart in it, and rendered by headless Chromium (Debian's
 * `chromium`; .ci/run installs it) to a screenshot that is not blank.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { runCli, scratchDir, spawnCli } from '../helpers/cli';
import { npyFiles } from '../helpers/npy-files';

const dir = scratchDir('focal-report-');
const write = npyFiles(dir, 'r');

/** Debian's chromium, if installed (required under CI). */
function chromium(): string | undefined {
  for (const c of ['chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  if (process.env.CI === 'true') throw new Error('CI: no chromium (apt-get install chromium)');
  return undefined;
}

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function runChromium(bin: string, args: string[]): { stdout: string; status: number | null } {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-chromium-'));
  try {
    const r = spawnSync(bin, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args], { encoding: 'utf8', timeout: 120000, maxBuffer: 64 << 20 });
    return { stdout: r.stdout, status: r.status };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** A PNG's pixels as RGBA (8-bit RGB or RGBA, non-interlaced: what Chromium writes). */
function decodePng(buf: Buffer): { width: number; height: number; rgba: Uint8Array } {
  expect(buf.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('ascii', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels).toBeGreaterThan(0);
      expect(data[12]).toBe(0);
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      cur[i] = (line[i] + pred) & 255;
    }
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 3; k++) out[(y * width + x) * 4 + k] = cur[x * channels + k];
      out[(y * width + x) * 4 + 3] = channels === 4 ? cur[x * channels + 3] : 255;
    }
    prev = cur;
  }
  return { width, height, rgba: out };
}

let pred = '';
let target = '';
beforeAll(() => {
  const n = 20000;
  const p: number[] = [];
  const t: number[] = [];
  let s = 7;
  const r = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < n * 4; i++) {
    const y = r() < 0.15 ? 1 : 0;
    t.push(y);
    p.push(r() < 0.8 ? (y ? 0.6 + 0.4 * r() : 0.4 * r()) : r());
  }
  pred = write('float32', [n, 4], p, 'pred.npy');
  target = write('float32', [n, 4], t, 'target.npy');
});

describe('eval --diagnostics', () => {
  it('adds diagnostics to --json and lines to the summary', async () => {
    const j = await runCli(['eval', '--task', 'multilabel', '--pred', pred, '--target', target, '--diagnostics', '--sweep-gamma', '0,1,2', '--sweep-alpha', '0.25,0.75', '--json']);
    expect(j.stderr).toBe('');
    expect(j.code).toBe(0);
    const d = JSON.parse(j.stdout).diagnostics;
    expect(d.perClass).toHaveLength(4);
    expect(d.gammaSweep.map((x: { gamma: number }) => x.gamma)).toEqual([0, 1, 2]);
    expect(d.alphaSweep.map((x: { alpha: number }) => x.alpha)).toEqual([0.25, 0.75]);
    expect(d.grid).toHaveLength(6);
    expect(d.cdf.negative.length).toBeGreaterThanOrEqual(50);
    expect(d.cdfByGamma).toHaveLength(3);
    const s = await runCli(['eval', '--task', 'multilabel', '--pred', pred, '--target', target, '--diagnostics']);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^split {5}positives \d+ Σ [\d.]+; negatives \d+ Σ [\d.]+$/m);
    expect(s.stdout).toMatch(/^hardest {3}20% of the negatives carry [\d.]+% of their loss \(γ=2\)$/m);
    expect(s.stdout).toMatch(/^γ sweep {3}γ=0: [\d.]+, γ=0\.5: [\d.]+, γ=1: [\d.]+, γ=2: [\d.]+, γ=5: [\d.]+$/m);
    // Without the flag: no diagnostics.
    const plain = await runCli(['eval', '--task', 'multilabel', '--pred', pred, '--target', target, '--json']);
    expect(JSON.parse(plain.stdout).diagnostics).toBeUndefined();
  });

  it.each([
    [['--sweep-gamma', '1,x'], "--sweep-gamma must be a comma-separated list of numbers >= 0, got 'x' in '1,x'"],
    [['--sweep-gamma', '-1'], "--sweep-gamma must be a comma-separated list of numbers >= 0, got '-1' in '-1'"],
    [['--sweep-alpha', '0.5,,1'], "--sweep-alpha must be a comma-separated list of numbers in [0, 1], got '' in '0.5,,1'"],
    [['--report', 'r.txt'], "--report must name an .html file, got 'r.txt'"],
  ])('%j: one line naming the flag, exit 2', async (flags, message) => {
    const r = await runCli(['eval', '--pred', pred, '--target', target, '--task', 'multilabel', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`focal-onnx: ${message}`]);
  });
});

describe('eval --report', () => {
  let html = '';
  let file = '';
  beforeAll(() => {
    file = path.join(dir(), 'report.html');
    const r = spawnCli(['eval', '--task', 'multilabel', '--pred', pred, '--target', target, '--sweep-alpha', '0.1,0.25,0.5', '--report', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).report).toBe(file);
    html = fs.readFileSync(file, 'utf8');
  });

  it('is one self-contained page: every chart inline SVG, no script, no external URL', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/https?:|(src|href)\s*=|url\((?!#)|@import|\/\/[a-z]/i);
    // (url(#clipN): the charts' clip paths, in the page; their ids are unique in it.)
    const clips = [...html.matchAll(/<clipPath id="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(clips).size).toBe(clips.length);
    for (const id of ['headline', 'per-class', 'split', 'cdf', 'sweep', 'data']) expect(html).toContain(`<section id="${id}">`);
    // Per class, the split, the CDF at γ, the CDF at each γ, the γ sweep, the γ × α grid.
    expect(html.match(/<svg/g)?.length).toBe(6);
    for (const title of ['Loss per label', 'Positives against negatives', 'Loss CDF at γ = 2', 'loss CDF at each γ', 'Loss at each γ', 'Loss over γ × α']) expect(html).toContain(title);
    expect(fs.readdirSync(dir()).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('works from --network too', () => {
    const net = path.join(__dirname, '..', 'fixtures', 'networks');
    const out = path.join(dir(), 'network.html');
    const r = spawnCli(['eval', '--network', path.join(net, 'cnn-dynamo.onnx'), '--output', 'logits', '--feed', `images=${path.join(net, 'cnn-images.npy')}`, '--target', path.join(net, 'cnn-labels.npy'), '--task', 'multiclass', '--input', 'logits', '--report', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const page = fs.readFileSync(out, 'utf8');
    expect(page).toContain('All elements: loss CDF at each γ');
    expect(page.match(/<svg/g)?.length).toBe(4); // no split, no grid
  });

  const browser = chromium();
  (browser ? it : it.skip)('opens in headless Chromium: the DOM has every chart, the screenshot is not blank', () => {
    const dom = runChromium(browser as string, ['--dump-dom', `file://${file}`]);
    expect(dom.status).toBe(0);
    expect(dom.stdout.match(/<svg/g)?.length).toBe(6);
    expect(dom.stdout).toContain('Where the focal loss comes from');
    const png = path.join(dir(), 'report.png');
    const shot = runChromium(browser as string, ['--window-size=1200,2000', `--screenshot=${png}`, `file://${file}`]);
    expect(shot.status).toBe(0);
    const { width, height, rgba } = decodePng(fs.readFileSync(png));
    expect([width, height]).toEqual([1200, 2000]);
    // Not blank: many pixels away from the white page, in several colours (the charts' marks).
    let ink = 0;
    const colours = new Set<number>();
    for (let i = 0; i < rgba.length; i += 4) {
      if (rgba[i] + rgba[i + 1] + rgba[i + 2] < 600) ink++;
      colours.add((rgba[i] >> 4) * 256 + (rgba[i + 1] >> 4) * 16 + (rgba[i + 2] >> 4));
    }
    expect(ink / (width * height)).toBeGreaterThan(0.02);
    expect(colours.size).toBeGreaterThan(50);
  });
});
