// Export a focal loss as an .onnx file that any ONNX runtime runs: multi-label, one α per label,
// with its gradient as a second output. ESM; the builder alone (focal-onnx/build loads no
// onnxruntime). Run: node export.mjs
import { writeFileSync } from 'node:fs';
import { buildLoss } from 'focal-onnx/build';

const model = buildLoss({ task: 'multilabel', alpha: [0.25, 0.5, 0.75], withGrad: true });
writeFileSync('focal-multilabel.onnx', model.bytes);

const signature = (tensors) => tensors.map((t) => `${t.name} ${t.dtype}[${t.shape.join(', ')}]`).join(', ');
console.log(`wrote focal-multilabel.onnx (${model.bytes.length} bytes)`);
console.log(`inputs  ${signature(model.inputs)}`);
console.log(`outputs ${signature(model.outputs)}`);
