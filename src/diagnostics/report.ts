/**
 * The diagnostics report (`eval --report FILE.html`): one self-contained HTML file that a person
 * reads in any browser without network access — the headline loss and options, the per-class table
 * and bar chart, the positive / negative split, the loss CDF curves of Lin et al.'s Figure 4 (the
 * user's γ, and the negatives' at each swept γ), the γ × α grid as a heat map, and the data it came
 * from (as JSON, in the page). The charts are inline SVG rendered here with Vega-Lite (as the
 * bench's chart is): the page has no script and no external URL.
 *
 * vega and vega-lite are ES modules, loaded with a real `import()` (resolved from this file, as
 * `require` would be) only when a report is asked for; where they are not installed `--report` says
 * in one line to install them (an install made with `--omit` or by hand). They are dependencies
 * (~26 MB with theirs), so the report works from an installed focal-onnx as it is
 * (test/package/pack.test.ts checks it).
 */
import type { CdfCurve, Diagnostics } from './accumulate';
import { UsageError } from '../errors';

/** What the report shows besides the diagnostics. */
export interface ReportInput {
  /** The headline loss, and how it is reduced (`mean over 100000 elements`). */
  readonly loss: number;
  readonly lossText: string;
  /** The options, described in one line, and as they are. */
  readonly optionsText: string;
  readonly options: object;
  /** Where the data came from (`pred.npy, target.npy: 100000 elements`). */
  readonly source: string;
  readonly task: 'binary' | 'multilabel' | 'multiclass';
  readonly diagnostics: Diagnostics;
}

type VegaLite = { compile(spec: object): { spec: object } };
type Vega = { View: new (runtime: unknown, o: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void }; parse(spec: object): unknown };

/** vega and vega-lite, loaded once. */
async function loadVega(): Promise<{ vega: Vega; vl: VegaLite }> {
  const load = new Function('m', 'return import(m)') as (m: string) => Promise<unknown>;
  try {
    const [vega, vl] = await Promise.all([load('vega'), load('vega-lite')]);
    return { vega: vega as Vega, vl: vl as VegaLite };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
    throw new UsageError('--report renders its charts with the packages vega and vega-lite, which are not installed here: npm install vega vega-lite');
  }
}

/** One Vega-Lite chart as inline SVG (no xmlns URL: the HTML parser puts <svg> in its namespace). */
async function svg(v: { vega: Vega; vl: VegaLite }, spec: object): Promise<string> {
  const view = new v.vega.View(v.vega.parse(v.vl.compile(spec).spec), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out.replace(/\s+xmlns(:xlink)?="[^"]*"/g, '');
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
const num = (x: number): string => (Number.isFinite(x) ? Number(x.toPrecision(6)).toString() : String(x));
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** y of a curve at x (the points are on a grid; linear between them). */
export function curveAt(c: CdfCurve, x: number): number {
  for (let i = 1; i < c.length; i++) {
    if (c[i][0] >= x) {
      const [x0, y0] = c[i - 1];
      const [x1, y1] = c[i];
      return x1 === x0 ? y1 : y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  return c.length ? c[c.length - 1][1] : NaN;
}

const FONT = { config: { font: 'sans-serif', view: { stroke: null } } };

/** The report's charts (Vega-Lite specs) for `r`, by section. */
export function reportCharts(r: ReportInput): Record<string, object> {
  const d = r.diagnostics;
  const charts: Record<string, object> = {};
  const what = r.task === 'multilabel' ? 'label' : r.task === 'multiclass' ? 'class' : 'class';
  charts.perClass = {
    ...FONT,
    width: Math.min(720, Math.max(200, d.perClass.length * 24)),
    height: 220,
    title: `Loss per ${what}: Σ of its per-element losses`,
    data: { values: d.perClass.map((c) => ({ index: String(c.index), sum: c.sum, mean: c.count ? c.sum / c.count : 0, count: c.count, positives: c.positives })) },
    mark: 'bar',
    encoding: {
      x: { field: 'index', type: 'ordinal', title: what, sort: null },
      y: { field: 'sum', type: 'quantitative', title: 'Σ loss' },
      tooltip: [{ field: 'index' }, { field: 'sum' }, { field: 'mean' }, { field: 'count' }, { field: 'positives' }],
    },
  };
  if (d.positive && d.negative) {
    const total = d.positive.sum + d.negative.sum;
    const n = d.positive.count + d.negative.count;
    charts.split = {
      ...FONT,
      width: 420,
      height: 90,
      title: 'Positives against negatives: share of the elements and of the loss',
      data: {
        values: [
          { what: 'elements', part: 'positive', share: d.positive.count / Math.max(1, n) },
          { what: 'elements', part: 'negative', share: d.negative.count / Math.max(1, n) },
          { what: 'loss', part: 'positive', share: total > 0 ? d.positive.sum / total : 0 },
          { what: 'loss', part: 'negative', share: total > 0 ? d.negative.sum / total : 0 },
        ],
      },
      mark: 'bar',
      encoding: {
        y: { field: 'what', type: 'nominal', title: null },
        x: { field: 'share', type: 'quantitative', title: 'share', axis: { format: '%' }, scale: { domain: [0, 1] } },
        color: { field: 'part', type: 'nominal', title: null, scale: { domain: ['positive', 'negative'], range: ['#d62728', '#1f77b4'] } },
      },
    };
  }
  const curve = (c: CdfCurve, series: string) => c.map(([x, y]) => ({ x, y, series }));
  const own = d.cdf.all ? curve(d.cdf.all, 'all') : [...curve(d.cdf.positive ?? [], 'positive'), ...curve(d.cdf.negative ?? [], 'negative')];
  const cdfSpec = (values: object[], title: string, legend: string) => ({
    ...FONT,
    width: 300,
    height: 260,
    title,
    data: { values },
    mark: { type: 'line', clip: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: 'fraction of elements (increasing loss)', scale: { domain: [0, 1] } },
      y: { field: 'y', type: 'quantitative', title: 'cumulative fraction of the loss', scale: { domain: [0, 1] } },
      color: { field: 'series', type: 'nominal', title: legend, sort: null },
    },
  });
  charts.cdf = cdfSpec(own, `Loss CDF at γ = ${d.gamma}`, null as unknown as string);
  charts.cdfByGamma = cdfSpec(
    d.cdfByGamma.flatMap((g) => curve(g.curve, `γ = ${g.gamma}`)),
    `${d.cdf.all ? 'All elements' : 'Negatives'}: loss CDF at each γ (Lin et al., Figure 4)`,
    'γ',
  );
  charts.gammaSweep = {
    ...FONT,
    width: 300,
    height: 200,
    title: 'Loss at each γ',
    data: { values: d.gammaSweep },
    mark: { type: 'line', point: true },
    encoding: { x: { field: 'gamma', type: 'quantitative', title: 'γ' }, y: { field: 'loss', type: 'quantitative', title: 'loss' } },
  };
  if (d.grid) {
    charts.grid = {
      ...FONT,
      width: Math.max(160, 48 * (d.alphaSweep?.length ?? 1)),
      height: Math.max(120, 32 * d.gammaSweep.length),
      title: 'Loss over γ × α',
      data: { values: d.grid },
      encoding: {
        x: { field: 'alpha', type: 'ordinal', title: 'α' },
        y: { field: 'gamma', type: 'ordinal', title: 'γ', sort: 'descending' },
      },
      layer: [
        { mark: 'rect', encoding: { color: { field: 'loss', type: 'quantitative', title: 'loss', scale: { scheme: 'viridis' } } } },
        { mark: { type: 'text', fontSize: 10 }, encoding: { text: { field: 'loss', type: 'quantitative', format: '.4g' }, color: { value: 'white' } } },
      ],
    };
  }
  return charts;
}

/** One of the report's charts (`reportCharts`' keys) as a standalone SVG file's text. */
export async function renderReportChart(r: ReportInput, name: string): Promise<string> {
  const spec = reportCharts(r)[name];
  if (!spec) throw new UsageError(`no chart ${name}; the report's charts: ${Object.keys(reportCharts(r)).join(', ')}`);
  return (await svg(await loadVega(), spec)).replace('<svg', '<svg xmlns="http://www.w3.org/2000/svg"');
}

/** The whole page, with every chart rendered to inline SVG. */
export async function renderReport(r: ReportInput): Promise<string> {
  const v = await loadVega();
  const charts = reportCharts(r);
  const rendered: Record<string, string> = {};
  for (const [k, spec] of Object.entries(charts)) rendered[k] = await svg(v, spec);
  const d = r.diagnostics;
  const rows = d.perClass
    .map((c) => `<tr><td>${c.index}</td><td>${num(c.sum)}</td><td>${c.count}</td><td>${c.positives}</td><td>${num(c.count ? c.sum / c.count : NaN)}</td></tr>`)
    .join('\n');
  const splitText =
    d.positive && d.negative
      ? `<p>Positives: ${d.positive.count} elements, Σ loss ${num(d.positive.sum)}; negatives: ${d.negative.count} elements, Σ loss ${num(d.negative.sum)}. ` +
        `The hardest 20 % of the negatives carry ${pct(1 - curveAt(d.cdf.negative ?? [], 0.8))} of the negatives' loss at γ = ${d.gamma}.</p>`
      : `<p>The hardest 20 % of the elements carry ${pct(1 - curveAt(d.cdf.all ?? [], 0.8))} of the loss at γ = ${d.gamma}.</p>`;
  const sweepRows = d.gammaSweep.map((g) => `<tr><td>${g.gamma}</td><td>${num(g.loss)}</td></tr>`).join('');
  const alphaRows = d.alphaSweep ? d.alphaSweep.map((a) => `<tr><td>${a.alpha}</td><td>${num(a.loss)}</td></tr>`).join('') : '';
  const data = JSON.stringify({ loss: r.loss, options: r.options, source: r.source, diagnostics: d });
  const section = (id: string, title: string, body: string) => `<section id="${id}"><h2>${esc(title)}</h2>\n${body}\n</section>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>focal-onnx diagnostics: loss ${esc(num(r.loss))}</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
pre { background: #f6f6f6; padding: 0.5em; overflow: auto; max-height: 24em; }
</style>
</head>
<body>
<h1>Where the focal loss comes from</h1>
${section('headline', 'Loss', `<p><strong>${esc(num(r.loss))}</strong> (${esc(r.lossText)})</p><p>Options: <code>${esc(r.optionsText)}</code></p><p>Data: ${esc(r.source)}</p>`)}
${section('per-class', r.task === 'multilabel' ? 'Per label' : 'Per class', `<div class="charts"><div>${rendered.perClass}</div><table><tr><th>${r.task === 'multilabel' ? 'label' : 'class'}</th><th>Σ loss</th><th>count</th><th>positives</th><th>mean</th></tr>\n${rows}\n</table></div>`)}
${section('split', d.positive ? 'Positives and negatives' : 'All elements', `${splitText}${rendered.split ? `<div>${rendered.split}</div>` : ''}`)}
${section('cdf', 'Loss CDF (Lin et al. 2017, Figure 4)', `<div class="charts"><div>${rendered.cdf}</div><div>${rendered.cdfByGamma}</div></div>`)}
${section('sweep', 'γ and α sweep', `<div class="charts"><div>${rendered.gammaSweep}</div><table><tr><th>γ</th><th>loss</th></tr>${sweepRows}</table>${alphaRows ? `<table><tr><th>α</th><th>loss</th></tr>${alphaRows}</table>` : ''}${rendered.grid ? `<div>${rendered.grid}</div>` : ''}</div>`)}
${section('data', 'The data', `<details><summary>JSON of this report</summary><pre>${esc(JSON.stringify(JSON.parse(data), null, 1))}</pre></details>`)}
</body>
</html>
`;
}
