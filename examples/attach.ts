// A loss attached to a network, and evaluated with it: a tiny classifier (x [N, 4] → logits
// [N, 3], one linear layer) built here with the graph builder, the multi-class focal loss
// attached to its output 'logits' (one model: the network's outputs plus loss and grad), then
// batches of the network's inputs streamed through that one model. TypeScript.
// Run: npx tsc (see the README) and node attach.js
import { attachLoss, buildModel, Graph, op, serializeModel, TensorSig } from 'focal-onnx/build';
import { createEvaluator } from 'focal-onnx';

// The network: logits = x · W + b.
const W = [0.5, -1.0, 0.25, 1.5, 0.5, -0.5, -1.0, 0.75, 1.0, 0.25, -0.25, 0.5];
const b = [0.1, 0.0, -0.1];
const g = new Graph({ opset: 17 });
const x = g.input('x', 'float32', ['N', 4]);
g.output(op.add(op.matMul(x, g.constant(W, 'float32', [4, 3])), g.constant(b, 'float32', [3])), 'logits');
const network: Uint8Array = serializeModel(buildModel(g));

const attached = attachLoss(network, { output: 'logits', task: 'multiclass', input: 'logits', alpha: 'none', withGrad: true });
const signature = (ts: readonly TensorSig[]): string => ts.map((t) => `${t.name} ${t.dtype}[${t.shape?.join(', ') ?? '?'}]`).join(', ');
console.log(`attached: ${signature(attached.inputs)} → ${signature(attached.outputs)}`);

async function main(): Promise<void> {
  const ev = await createEvaluator({ model: attached.bytes, output: 'logits' });
  const batches = [
    { x: [1, 0, 0, 1, 0, 1, 1, 0], target: [1n, 2n] },
    { x: [0.5, 0.5, -1, 2, 1, 1, 1, 1, -1, 0, 0.5, 0.25], target: [0n, 1n, 2n] },
  ];
  for (const batch of batches) {
    const rows = batch.target.length;
    await ev.add({ inputs: { x: { type: 'float32', dims: [rows, 4], data: Float32Array.from(batch.x) } }, target: BigInt64Array.from(batch.target), dims: [rows, 3] });
  }
  const { loss, rows } = ev.result();
  await ev.close();
  console.log(`loss ${loss.toFixed(6)} (mean over ${rows} rows)`);
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
