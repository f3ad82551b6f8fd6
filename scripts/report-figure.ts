/**
 * The README's chart of the diagnostics report (docs/report-cdf.svg): the negatives' loss CDF at
 * each γ of the default sweep (Lin et al.'s Figure 4, right) for the bundled sample data — the
 * same chart `focal-onnx eval --pred samples/pred.npy --target samples/target.npy --report r.html`
 * draws.
 *
 *     npm run build && node dist/scripts/report-figure.js [OUT.svg]
 */
import * as path from 'path';
import { writeFileAtomic } from '../src/io/atomic';
import { renderReportChart } from '../src/diagnostics/report';
import { Diagnostics } from '../src/diagnostics/accumulate';
import { evaluate } from '../src/runtime/evaluate';
import { describeOptions } from '../src/cli/format';

const ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const out = process.argv[2] ?? path.join(ROOT, 'docs', 'report-cdf.svg');
  const r = await evaluate({ pred: path.join(ROOT, 'samples', 'pred.npy'), target: path.join(ROOT, 'samples', 'target.npy'), diagnostics: true, threads: 1 });
  const svg = await renderReportChart(
    { loss: r.loss, lossText: 'mean', optionsText: describeOptions(r.options), options: r.options, source: 'samples/', task: 'binary', diagnostics: r.diagnostics as Diagnostics },
    'cdfByGamma',
  );
  writeFileAtomic(out, Buffer.from(`${svg}\n`, 'utf8'));
  process.stdout.write(`${out}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
