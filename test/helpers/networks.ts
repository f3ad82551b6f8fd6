/**
 * The test networks (test/fixtures/networks/, made by scripts/make-networks.py) and what
 * networks.json records of each: its input and output, the loss options, a sample input with
 * PyTorch's forward pass and the reference loss, and its exported models.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { LossOptions } from '../../src/losses';

export const NETWORKS_DIR = path.join(__dirname, '..', 'fixtures', 'networks');

export interface NetworkEntry {
  name: string;
  input: string;
  inputShape: number[];
  output: string;
  outputShape: number[];
  loss: LossOptions;
  x: number[];
  forward: number[];
  target: unknown;
  targetDtype: 'int64' | 'float32';
  referenceLoss: number;
  models: { file: string; exporter: string; irVersion: number; opset: number; bytes: number }[];
}

export const NETWORKS: readonly NetworkEntry[] = (JSON.parse(fs.readFileSync(path.join(NETWORKS_DIR, 'networks.json'), 'utf8')) as { networks: NetworkEntry[] }).networks;

/** The network entry called `name` (cnn, tagger, binary, dense). */
export function network(name: string): NetworkEntry {
  const n = NETWORKS.find((x) => x.name === name);
  if (!n) throw new RangeError(`no network ${name} in networks.json`);
  return n;
}
