/**
 * `npm run export-models`: writes the default model set into models/ and models/README.md.
 *
 * The set: binary, multilabel and multiclass × probs and logits (opset 17, float32, the seed's
 * α = 0.25, γ = 2, mean, eps = 1e-4, the arith form), the onehot form of binary and multilabel,
 * and (when asked for by `MODEL_SET`, see below) their function and gradient forms. The bytes are
 * deterministic: a test rebuilds every file and compares.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../src/io/atomic';
import { DEFAULT_MODELS, modelsReadme } from '../src/models';
import { buildLoss } from '../src/losses';

function main(): void {
  const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'models'));
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of DEFAULT_MODELS) {
    const m = buildLoss(entry.options);
    writeFileAtomic(path.join(dir, entry.file), m.bytes);
    process.stdout.write(`${entry.file.padEnd(36)} ${String(m.bytes.length).padStart(6)} bytes\n`);
  }
  writeFileAtomic(path.join(dir, 'README.md'), Buffer.from(modelsReadme(), 'utf8'));
  process.stdout.write(`wrote ${DEFAULT_MODELS.length} models and README.md to ${dir}\n`);
}

main();
