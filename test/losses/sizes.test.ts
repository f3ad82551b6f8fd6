/**
 * Sizes known only at run time are counted on the device (Shape → ConstantOfShape → ReduceSum), so
 * graphs with a symbolic N, L or C still run wholly on CUDA: the counts are right for any shape.
 */
import { Graph, buildModel, classCount, elementCount, serializeModel } from '../../src/onnx';
import { runModel } from '../helpers/ort';
import { recordModel } from '../helpers/record-model';

describe.each([13, 17, 21])('opset %i', (opset) => {
  it.each([
    [[5], 5],
    [[3, 4], 12],
    [[1, 1], 1],
  ])('elementCount of a %j tensor with symbolic dims is %i', async (dims, count) => {
    const g = new Graph({ opset });
    const x = g.input('x', 'float32', dims.map((_, i) => `d${i}`));
    const n = elementCount(x, 'float64');
    expect(typeof n).not.toBe('number');
    g.output(n as never, 'n');
    const bytes = serializeModel(buildModel(g));
    recordModel(`sizes-element-count-${opset}-${dims.join('x')}`, bytes);
    const out = await runModel(bytes, { x: { dtype: 'float32', dims, data: new Array(count).fill(NaN) } });
    expect(out.n).toMatchObject({ dtype: 'float64', dims: [], data: [count] });
  });

  it('elementCount of a fully known shape is a number, with no node', () => {
    const g = new Graph({ opset });
    const x = g.input('x', 'float32', [2, 3]);
    expect(elementCount(x, 'float32')).toBe(6);
    expect(g.nodes).toHaveLength(0);
  });

  it.each([1, 2, 7])('classCount of [N, C] with C = %i from the data, as int64', async (c) => {
    const g = new Graph({ opset });
    const x = g.input('x', 'float32', ['N', 'C']);
    g.output(classCount(x), 'c');
    const bytes = serializeModel(buildModel(g));
    recordModel(`sizes-class-count-${opset}-${c}`, bytes);
    const out = await runModel(bytes, { x: { dtype: 'float32', dims: [3, c], data: new Array(3 * c).fill(0.5) } });
    expect(out.c).toMatchObject({ dtype: 'int64', dims: [], data: [c] });
  });
});
