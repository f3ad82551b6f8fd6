// The focal loss of batches a program already holds in memory: one evaluator (one onnxruntime
// session), batches of any size added in turn, the loss accumulated in float64. CommonJS.
// Run: node evaluate.cjs
const { createEvaluator } = require('focal-onnx');

async function main() {
  const ev = await createEvaluator({ loss: { task: 'multilabel', alpha: [0.25, 0.5, 0.75] } });
  await ev.add({ pred: Float32Array.from([0.9, 0.2, 0.6, 0.1, 0.7, 0.3]), target: Uint8Array.from([1, 0, 1, 0, 1, 1]), dims: [2, 3] });
  await ev.add({ pred: Float32Array.from([0.4, 0.8, 0.5]), target: Uint8Array.from([0, 1, 1]), dims: [1, 3] });
  const { loss, count, perLabel } = ev.result();
  await ev.close();
  console.log(`loss ${loss.toFixed(7)} over ${count} elements`);
  console.log(`per label ${perLabel.map((x) => x.toFixed(4)).join(' ')}`);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
