/**
 * A static CUDA placement check: would every node of a model run on onnxruntime's CUDA execution
 * provider, or would some leave the GPU (a CPU fallback with copies around it, or a load error
 * when the fallback is disabled, as `--ep cuda` does)?
 *
 * No onnxruntime here and no GPU needed: the element types of every value are propagated through
 * the decoded model (`decodeModel`), and each node's types are compared with the CUDA kernels that
 * onnxruntime 1.2x–1.30 registers (docs/OperatorKernels.md, summarized in
 * shared/design/ONNX-FACTS.md). Type propagation:
 *
 * - graph inputs and initializers: their declared types;
 * - `Constant`: the type of its tensor (`value_float(s)` → float32, `value_int(s)` → int64);
 *   onnxruntime turns constants into initializers, so they need no kernel;
 * - `Cast`: its `to`; comparisons and logic (`Equal`, `Greater`, `And`, …) → bool;
 *   `Shape`, `Size`, `ArgMax`, `ArgMin`, `NonZero` → int64; `OneHot` → its values' type;
 *   `Where` → the type of X; anything else → the type of its first input;
 * - a node of a custom domain that calls a model-local function: checked through the function's
 *   body (onnxruntime inlines it when it loads the model), its outputs typed by the body's.
 *
 * A node can also leave the GPU although it has a CUDA kernel: the CUDA provider hands small
 * computations on host-side tensors to the CPU (`GetCpuPreferredNodes`,
 * onnxruntime/core/framework/fallback_cpu_capability.cc). `Shape` and `Size` write their result
 * to host memory; a node that reads such a tensor, where its kernel does not declare that input a
 * CPU input, and whose other inputs are small initializers (<= 100 elements) or graph inputs, none
 * float16, is placed on the CPU, and its outputs count as host tensors in turn. E.g. `OneHot`'s
 * depth from `Gather(Shape(x), 1)`: the Gather runs on the CPU.
 *
 * The table covers the operators this project emits and their neighbours, and the layers of common
 * networks a loss is attached to (Conv, Gemm, pooling, normalization, activations); an operator
 * not in it is reported as unknown (not as fine). It states the kernels of the default ONNX domain for
 * opsets 13 and later, plus the older Clip (opset 11: float32 only) and OneHot (none before 11).
 */
import { ModelInfo, NodeInfo, decodeModel } from './model';
import { codeName } from './dtype';

/** What the check says of one node. */
export interface NodePlacement {
  /** The node's name, or `#<index>` when it has none; body nodes are `<function>/<name>`. */
  readonly node: string;
  readonly opType: string;
  readonly domain: string;
  /** Element types of the inputs ('' for an omitted optional input, 'unknown' when not inferred). */
  readonly inputTypes: readonly string[];
  readonly outputTypes: readonly string[];
  /**
   * `cuda`: a CUDA kernel takes these types. `cpu`: none does, so the node would leave the GPU.
   * `unknown`: the operator (or a type) is not in the table. `initializer`: a Constant.
   * `function`: a call to a model-local function (its body's nodes are listed separately).
   */
  readonly placement: 'cuda' | 'cpu' | 'unknown' | 'initializer' | 'function';
  /** Why, for `cpu` and `unknown`: e.g. `no CUDA kernel for Clip on int32 (CUDA: float16, float32, …)`. */
  readonly reason?: string;
}

export interface PlacementReport {
  /** True when every node runs on CUDA (no `cpu` or `unknown` nodes). */
  readonly ok: boolean;
  /** Every node checked, in graph order, function bodies after the node that calls them. */
  readonly nodes: readonly NodePlacement[];
  /** The nodes that would leave the GPU or could not be judged. */
  readonly offGpu: readonly NodePlacement[];
}

// ---- the CUDA kernel table ----------------------------------------------------------------------

const F = ['float16', 'float32', 'float64'] as const;
const BF = 'bfloat16';
const INTS8_64 = ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64'] as const;
/** Every numeric type and bool (the data movement ops). */
const ALL = [...F, BF, ...INTS8_64, 'bool'] as const;

type Check = (types: readonly string[], opset: number) => string | undefined;

/** A Map from an object literal: lookups by a model's op type never reach Object.prototype. */
function entries<T>(o: Record<string, T>): ReadonlyMap<string, T> {
  return new Map(Object.entries(o));
}

/** Input 0 (and every other listed input) in `allowed`. */
function same(allowed: readonly string[], inputs: readonly number[] = [0]): Check {
  return (types) => {
    for (const i of inputs) {
      const t = types[i];
      if (t && t !== 'unknown' && !allowed.includes(t)) return `${t} (CUDA: ${allowed.join(', ')})`;
    }
    return undefined;
  };
}

/** A check that depends on the opset: the first entry whose `since` <= opset applies. */
function byOpset(...entries: [since: number, check: Check | 'none'][]): Check {
  return (types, opset) => {
    for (let i = 0; i < entries.length; i++) {
      const [since, check] = entries[i];
      if (opset < since) continue;
      return check === 'none' ? `opset ${opset} (CUDA: opset ${entries[i - 1]?.[0] ?? since} and later)` : check(types, opset);
    }
    return `no CUDA kernel for opset ${opset}`;
  };
}

const ARITH_14 = [...F, BF, ...INTS8_64];
const ARITH_13 = [...F, BF, 'int32', 'int64', 'uint32', 'uint64'];
const COMPARE = [...F, 'int32', 'int64', 'uint32', 'uint64'];

/** OneHot (indices, depth, values) combinations registered on CUDA (onehot.cc). */
const ONEHOT_COMBOS = ['int64,int64,int64', 'int64,int64,float32', 'int32,int32,float32', 'int64,int64,float16', 'int32,int32,float16'];

const CUDA: ReadonlyMap<string, Check> = entries({
  Abs: same([...F, BF, ...INTS8_64]),
  Neg: same([...F, BF, 'int8', 'int16', 'int32', 'int64']),
  Sign: same([...F, BF, ...INTS8_64]),
  Add: byOpset([14, same(ARITH_14, [0, 1])], [13, same(ARITH_13, [0, 1])]),
  Sub: byOpset([14, same(ARITH_14, [0, 1])], [13, same(ARITH_13, [0, 1])]),
  Mul: byOpset([14, same(ARITH_14, [0, 1])], [13, same(ARITH_13, [0, 1])]),
  Div: byOpset([14, same(ARITH_14, [0, 1])], [13, same(ARITH_13, [0, 1])]),
  Pow: byOpset(
    [15, same([...F, BF, 'int32', 'int64'], [0, 1])],
    [13, (t, o) => same([...F, BF, 'int32', 'int64'])(t, o) ?? same([...F, 'int32', 'int64'], [1])(t, o)],
  ),
  Sigmoid: same([...F, BF]),
  Exp: same([...F, BF]),
  Log: same(F),
  Sqrt: same([...F, BF]),
  Reciprocal: same(F),
  Softplus: same(F),
  Tanh: same([...F, BF]),
  Relu: same([...F, BF]),
  Softmax: same([...F, BF]),
  LogSoftmax: same(F),
  Clip: byOpset([12, same([...F, 'int64', 'int8', 'uint64', 'uint8'], [0, 1, 2])], [11, same(['float32'], [0, 1, 2])], [6, same(['float32'])]),
  Min: same([...F, BF, 'int32', 'int64', 'uint32', 'uint64'], [0, 1, 2, 3]),
  Max: same([...F, BF, 'int32', 'int64', 'uint32', 'uint64'], [0, 1, 2, 3]),
  Sum: same([...F, BF]),
  Where: byOpset([16, same([...F, BF, 'int32', 'int64', 'uint8'], [1, 2])], [9, same([...F, 'int32', 'int64', 'uint8'], [1, 2])]),
  Equal: same([...F, 'bool', 'int32', 'int64', 'uint32', 'uint64'], [0, 1]),
  Greater: same(COMPARE, [0, 1]),
  Less: same(COMPARE, [0, 1]),
  GreaterOrEqual: same(COMPARE, [0, 1]),
  LessOrEqual: same(COMPARE, [0, 1]),
  And: same(['bool'], [0, 1]),
  Or: same(['bool'], [0, 1]),
  Xor: same(['bool'], [0, 1]),
  Not: same(['bool']),
  IsNaN: same([...F, BF]),
  Cast: (types) => (types[0] === 'string' ? 'string (CUDA: numeric and bool)' : undefined),
  Identity: same(ALL),
  Concat: same(ALL, [0, 1, 2, 3, 4, 5, 6, 7]),
  Reshape: same(ALL),
  Squeeze: same(ALL),
  Unsqueeze: same(ALL),
  Flatten: same(ALL),
  Expand: same(ALL),
  Transpose: same(ALL),
  Slice: same(ALL),
  Shape: same(ALL),
  ConstantOfShape: same(['int64']),
  Size: same(ALL),
  Gather: (t, o) => same(ALL)(t, o) ?? same(['int32', 'int64'], [1])(t, o),
  GatherElements: (t, o) => same(ALL)(t, o) ?? same(['int32', 'int64'], [1])(t, o),
  Tile: same([...F, BF, 'int32', 'int64']),
  OneHot: byOpset(
    [
      11,
      (types) => {
        const combo = types.slice(0, 3).join(',');
        return ONEHOT_COMBOS.includes(combo) ? undefined : `(indices, depth, values) = (${combo.replace(/,/g, ', ')}) (CUDA: ${ONEHOT_COMBOS.map((c) => `(${c.replace(/,/g, ', ')})`).join(' ')})`;
      },
    ],
    [1, 'none'],
  ),
  MatMul: same([...F, BF], [0, 1]),
  ReduceSum: same([...F, BF, 'int32', 'int64']),
  ReduceMean: same([...F, 'int32']),
  ReduceMax: same([...F, 'int32', 'int64']),
  ReduceMin: same([...F, 'int32', 'int64', 'int8', 'uint8']),
  ReduceL1: same([...F, 'int32']),
  ReduceProd: same([...F, 'int32']),
  ArgMax: same(F),
  ArgMin: same(F),
  // Network layers (attach): OperatorKernels.md, CUDAExecutionProvider.
  Conv: byOpset([22, same([...F, BF], [0, 1, 2])], [1, same(F, [0, 1, 2])]),
  ConvTranspose: same(F, [0, 1, 2]),
  Gemm: byOpset([13, same([...F, BF], [0, 1, 2])], [7, same(F, [0, 1, 2])]),
  MaxPool: byOpset([12, same([...F, 'int8', 'uint8'])], [1, same(F)]),
  GlobalAveragePool: same(F),
  GlobalMaxPool: same(F),
  Erf: byOpset([13, same([...F, BF])], [9, same(F)]),
  Gelu: byOpset([20, same([...F, BF])], [1, 'none']),
  LayerNormalization: byOpset([17, same([...F, BF], [0, 1, 2])], [1, 'none']),
  InstanceNormalization: same(F, [0, 1, 2]),
  LeakyRelu: same(F),
  PRelu: same(F, [0, 1]),
  Elu: same(F),
  HardSigmoid: same(F),
  HardSwish: byOpset([14, same(F)], [1, 'none']),
  Dropout: byOpset([13, same([...F, BF])], [7, same(F)]),
});

/** Inputs that a CUDA kernel takes in host memory (its KernelDef's InputMemoryType CPU). */
const CPU_INPUTS: ReadonlyMap<string, readonly number[]> = entries({
  Clip: [1, 2],
  OneHot: [1, 2],
  Reshape: [1],
  Squeeze: [1],
  Unsqueeze: [1],
  Expand: [1],
  ConstantOfShape: [0],
  Tile: [1],
  Slice: [1, 2, 3, 4],
  ReduceSum: [1],
  ReduceMean: [1],
  ReduceMax: [1],
  ReduceMin: [1],
  ReduceL1: [1],
  ReduceProd: [1],
});

/** Operators whose CUDA kernel writes its output to host memory. */
const CPU_OUTPUTS = new Set(['Shape', 'Size']);

/** An initializer this small may be read on the CPU (kSmallInitializerThreshold). */
const SMALL_INITIALIZER = 100;

/** The operators the table knows (default ONNX domain). */
export const CUDA_KNOWN_OPS: readonly string[] = [...CUDA.keys(), 'Constant'].sort();

// ---- type propagation ---------------------------------------------------------------------------

const BOOL_OUT = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const INT64_OUT = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero']);

function constantType(node: NodeInfo): string {
  for (const [name, value] of Object.entries(node.attributes)) {
    if (name === 'value' && value && typeof value === 'object' && 'tensor' in value) return value.tensor.dtype;
    if (name === 'value_float' || name === 'value_floats') return 'float32';
    if (name === 'value_int' || name === 'value_ints') return 'int64';
    if (name === 'value_string' || name === 'value_strings') return 'string';
  }
  return 'unknown';
}

function outputType(node: NodeInfo, inputs: readonly string[]): string {
  if (node.opType === 'Constant') return constantType(node);
  if (node.opType === 'ConstantOfShape') {
    const v = node.attributes.value;
    return v && typeof v === 'object' && 'tensor' in v ? v.tensor.dtype : 'float32';
  }
  if (node.opType === 'Cast') return typeof node.attributes.to === 'number' ? codeName(node.attributes.to) : 'unknown';
  if (BOOL_OUT.has(node.opType)) return 'bool';
  if (INT64_OUT.has(node.opType)) return 'int64';
  if (node.opType === 'OneHot') return inputs[2] || 'unknown';
  if (node.opType === 'Where') return inputs[1] || 'unknown';
  return inputs[0] || 'unknown';
}

interface Scope {
  readonly model: ModelInfo;
  readonly opset: number;
  readonly prefix: string;
  readonly types: Map<string, string>;
  /** Values in host memory (outputs of Shape / Size and of nodes placed on the CPU). */
  readonly host: Set<string>;
  /** Values the CPU may read for free: small initializers (constants) and graph inputs. */
  readonly free: Set<string>;
  readonly out: NodePlacement[];
  /** Functions being expanded (guards against recursion). */
  readonly stack: readonly string[];
}

function constantSize(node: NodeInfo): number {
  const v = node.attributes.value;
  if (v && typeof v === 'object' && 'tensor' in v) return v.tensor.dims.reduce((a, b) => a * b, 1);
  const list = node.attributes.value_floats ?? node.attributes.value_ints;
  return Array.isArray(list) ? list.length : 1;
}

/**
 * Whether the CUDA provider hands this node (which has a CUDA kernel) to the CPU: it reads a host
 * tensor, and every input is free or a host tensor its kernel does not take as a CPU input.
 */
function cpuPreferred(node: NodeInfo, types: readonly string[], scope: Scope): boolean {
  if (!node.inputs.some((i) => i !== '' && scope.host.has(i))) return false;
  const cpuInputs = CPU_INPUTS.get(node.opType) ?? [];
  return node.inputs.every((input, i) => {
    if (input === '') return true;
    if (types[i] === 'float16' || types[i] === 'bfloat16') return false;
    if (scope.free.has(input)) return true;
    return scope.host.has(input) && !cpuInputs.includes(i);
  });
}

function checkNodes(nodes: readonly NodeInfo[], scope: Scope): void {
  nodes.forEach((node, index) => {
    const name = `${scope.prefix}${node.name || `#${index}`}`;
    const inputTypes = node.inputs.map((i) => (i === '' ? '' : (scope.types.get(i) ?? 'unknown')));
    const base = { node: name, opType: node.opType, domain: node.domain, inputTypes };
    const isDefault = node.domain === '' || node.domain === 'ai.onnx';
    const fn = isDefault ? undefined : scope.model.functions.find((f) => f.domain === node.domain && f.name === node.opType);

    if (fn) {
      const key = `${fn.domain}.${fn.name}`;
      if (scope.stack.includes(key)) {
        scope.out.push({ ...base, outputTypes: node.outputs.map(() => 'unknown'), placement: 'unknown', reason: `recursive call of ${key}` });
        return;
      }
      // The body sees the caller's values under its formal names (onnxruntime inlines it).
      const inner = new Map<string, string>();
      const host = new Set<string>();
      const free = new Set<string>();
      fn.inputs.forEach((formal, i) => {
        inner.set(formal, inputTypes[i] || 'unknown');
        if (scope.host.has(node.inputs[i])) host.add(formal);
        if (scope.free.has(node.inputs[i])) free.add(formal);
      });
      const at = scope.out.length;
      const sub: Scope = { ...scope, opset: fn.opsets[''] ?? scope.opset, prefix: `${name}/`, types: inner, host, free, stack: [...scope.stack, key] };
      scope.out.push({ ...base, outputTypes: [], placement: 'function' });
      checkNodes(fn.nodes, sub);
      const outputTypes = fn.outputs.map((o) => inner.get(o) ?? 'unknown');
      scope.out[at] = { ...base, outputTypes, placement: 'function' };
      node.outputs.forEach((o, i) => {
        scope.types.set(o, outputTypes[i] ?? 'unknown');
        if (host.has(fn.outputs[i])) scope.host.add(o);
      });
      return;
    }

    const type = outputType(node, inputTypes);
    const outputTypes = node.outputs.map(() => type);
    node.outputs.forEach((o) => scope.types.set(o, type));
    const offGpu = (placement: 'cpu' | 'unknown', reason: string): void => {
      scope.out.push({ ...base, outputTypes, placement, reason });
      for (const o of node.outputs) scope.host.add(o);
    };
    if (!isDefault) return offGpu('unknown', `custom operator ${node.domain}.${node.opType} with no model-local function`);
    if (node.opType === 'Constant') {
      scope.out.push({ ...base, outputTypes, placement: 'initializer' });
      if (constantSize(node) <= SMALL_INITIALIZER) for (const o of node.outputs) scope.free.add(o);
      return;
    }
    const check = CUDA.get(node.opType);
    if (!check) return offGpu('unknown', `${node.opType} is not in focal-onnx's CUDA kernel table`);
    if (inputTypes.some((t) => t === 'unknown')) return offGpu('unknown', `the type of an input of ${node.opType} could not be inferred`);
    const why = check(inputTypes, scope.opset);
    if (why !== undefined) return offGpu('cpu', `no CUDA kernel for ${node.opType} on ${why}`);
    if (cpuPreferred(node, inputTypes, scope)) {
      return offGpu('cpu', `onnxruntime's CUDA provider leaves this small computation on a host tensor (from Shape or Size) to the CPU`);
    }
    scope.out.push({ ...base, outputTypes, placement: 'cuda' });
    if (CPU_OUTPUTS.has(node.opType)) for (const o of node.outputs) scope.host.add(o);
  });
}

/** Checks every node of a model (bytes, or already decoded) against the CUDA kernel table. */
export function checkCudaPlacement(model: Uint8Array | ModelInfo): PlacementReport {
  const info = model instanceof Uint8Array ? decodeModel(model) : model;
  const types = new Map<string, string>();
  const free = new Set<string>();
  for (const t of [...info.graph.inputs, ...info.graph.initializers]) types.set(t.name, t.dtype);
  for (const t of info.graph.inputs) free.add(t.name);
  for (const t of info.graph.initializers) {
    const size = (t.shape ?? []).reduce<number>((a, b) => a * (typeof b === 'number' ? b : 1), 1);
    if (size <= SMALL_INITIALIZER) free.add(t.name);
  }
  const out: NodePlacement[] = [];
  const opset = info.opsets[''] ?? info.opsets['ai.onnx'] ?? 1;
  checkNodes(info.graph.nodes, { model: info, opset, prefix: '', types, host: new Set(), free, out, stack: [] });
  const offGpu = out.filter((n) => n.placement === 'cpu' || n.placement === 'unknown');
  return { ok: offGpu.length === 0, nodes: out, offGpu };
}

/** One line per node that would leave the GPU: `Clip 'n3' (int32, int32, int32): no CUDA kernel …`. */
export function formatPlacement(report: PlacementReport): string[] {
  return report.offGpu.map((n) => `${n.domain ? `${n.domain}.` : ''}${n.opType} '${n.node}' (${n.inputTypes.map((t) => t || '-').join(', ')}): ${n.reason ?? n.placement}`);
}
