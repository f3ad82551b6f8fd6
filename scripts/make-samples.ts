/**
 * Writes the bundled sample data, `samples/pred.npy` and `samples/target.npy`, that `npm start`
 * evaluates: a binary task of 100,000 elements with about 10% positives (an imbalanced mix, the
 * case focal loss is for), and the float32 probabilities of a plausible, imperfect classifier —
 * logit = +1.5 (positives) or −2.5 (negatives) plus Gaussian noise of standard deviation 1.5,
 * through a sigmoid. Deterministic: a fixed seed and a small PRNG (mulberry32), so the files are
 * the same on every run.
 *
 *     npm run build && node dist/scripts/make-samples.js [DIR]
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeNpy } from '../src/io/npy';
import { mulberry32 } from './prng';

export const SAMPLE_COUNT = 100_000;
export const POSITIVE_RATE = 0.1;
const SEED = 0x5eed_f0ca;


/** The sample predictions and targets (float32 both). */
export function makeSamples(count = SAMPLE_COUNT): { pred: Float32Array; target: Float32Array } {
  const random = mulberry32(SEED);
  const gaussian = (): number => {
    // Box–Muller; 1 - u keeps the logarithm's argument in (0, 1].
    const u = 1 - random();
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const pred = new Float32Array(count);
  const target = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const positive = random() < POSITIVE_RATE;
    const logit = (positive ? 1.5 : -2.5) + 1.5 * gaussian();
    target[i] = positive ? 1 : 0;
    pred[i] = 1 / (1 + Math.exp(-logit));
  }
  return { pred, target };
}

function main(): void {
  const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'samples'));
  fs.mkdirSync(dir, { recursive: true });
  const { pred, target } = makeSamples();
  writeNpy(path.join(dir, 'pred.npy'), 'float32', [pred.length], pred);
  writeNpy(path.join(dir, 'target.npy'), 'float32', [target.length], target);
  const positives = target.reduce((a, b) => a + b, 0);
  process.stdout.write(`wrote ${dir}/pred.npy and target.npy: ${pred.length} elements, ${positives} positives\n`);
}

if (require.main === module) main();
