#!/usr/bin/env python3
"""Checks ONNX models with the ONNX toolchain's own tools (onnx 1.23, the project's venv).

Usage: .venv/bin/python scripts/check-models.py [--no-run] DIR [DIR...]

Every *.onnx under each DIR (recursively), at any opset 13-21, goes through three checks:

1. `onnx.checker.check_model(model, full_check=True)`: the structural checks, then strict shape
   inference (`infer_shapes(check_type=True, strict_mode=True)`), which checks every node's types
   against its schema, the declared input/output types and shapes against the inferred ones, and
   the bodies of model-local functions at their call sites.
2. `onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)`
   once more, with data propagation, so a shape computed in the graph is checked too.
3. A run in `onnx.reference.ReferenceEvaluator` (onnx's own NumPy implementation of every
   operator: a third runtime, independent of onnxruntime's kernels) and in onnxruntime's CPU
   provider, on inputs made for the model's focal.* options (probabilities or logits, 0/1 or soft
   or class-index targets, positive weights; N = 5 and 3 labels / classes where a dimension is
   symbolic): every output equal within the dtype's tolerance, relative to its largest magnitude
   (float64 1e-9, float32 1e-5, float16 4e-3). A model without focal.* metadata, or with an input
   this script cannot fill (the evaluator's own inputs), is checked by 1 and 2 only and counted as
   `not run`.

Prints the failures (file and message) and one summary line,
`check-models: N checked (R run in ReferenceEvaluator and onnxruntime), K failed`.
Exits 1 when any model fails or none was checked, and 2 on a usage error.
"""

import os
import sys
import warnings

import numpy as np
import onnx
import onnx.checker
import onnx.shape_inference
from onnx import numpy_helper  # noqa: F401  (onnx's helpers load with it)

TOLERANCE = {np.float64: 1e-9, np.float32: 1e-5, np.float16: 4e-3}
ELEM = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32,
    onnx.TensorProto.UINT8: np.uint8,
    onnx.TensorProto.BOOL: np.bool_,
}


def onnx_files(directory):
    """Every *.onnx file under `directory`, sorted, so the report is stable."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".onnx"))
    return found


def dims_of(value_info, sizes):
    out = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(d.dim_value)
        else:
            out.append(sizes.get(d.dim_param, 3))
    return out


def make_inputs(model, rng):
    """Inputs for the model's focal.* options, or None when it has none or an input we cannot fill."""
    meta = {p.key: p.value for p in model.metadata_props}
    if "focal.task" not in meta:
        return None
    task, kind = meta["focal.task"], meta.get("focal.input", "probs")
    soft = meta.get("focal.targets") == "soft"
    sizes = {"N": 5, "L": 3, "C": 3}
    feeds = {}
    graph_inputs = {i.name: i for i in model.graph.input}
    for name, vi in graph_inputs.items():
        dtype = ELEM.get(vi.type.tensor_type.elem_type)
        if dtype is None:
            return None
        shape = dims_of(vi, sizes)
        if name == "pred":
            if kind == "logits":
                x = rng.normal(size=shape) * 2
            elif task == "multiclass":
                x = rng.dirichlet(np.ones(shape[1]), size=shape[0])
            else:
                x = rng.uniform(0.02, 0.98, size=shape)
            feeds[name] = x.astype(dtype)
        elif name == "target" and meta.get("focal.target_format") == "index":
            # Index targets (issue 13): [N] in [0, L], L the background.
            labels = dims_of(graph_inputs["pred"], sizes)[-1]
            feeds[name] = rng.integers(0, labels + 1, size=shape).astype(dtype)
        elif name == "target":
            if task == "multiclass" and not soft:
                classes = dims_of(graph_inputs["pred"], sizes)[1]
                feeds[name] = rng.integers(0, classes, size=shape).astype(dtype)
            elif soft:
                feeds[name] = rng.uniform(0, 1, size=shape).astype(dtype)
            else:
                feeds[name] = (rng.uniform(size=shape) < 0.3).astype(dtype)
        elif name == "weight":
            feeds[name] = rng.uniform(0.1, 2, size=shape).astype(dtype)
        elif name == "normalizer":
            feeds[name] = np.asarray(rng.uniform(1, 10), dtype=dtype)
        else:
            return None
    if "focal.ignore_index" in meta and "target" in feeds:
        # Ignored targets (issue 13): about one in four set to the ignore value.
        t = feeds["target"]
        ignored = rng.uniform(size=t.shape) < 0.25
        feeds["target"] = np.where(ignored, np.asarray(int(meta["focal.ignore_index"])).astype(t.dtype), t)
    return feeds


def compare(path, model, rng):
    """Runs the model in both runtimes; raises when an output differs. Returns False when not run."""
    feeds = make_inputs(model, rng)
    if feeds is None:
        return False
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator

    names = [o.name for o in model.graph.output]
    ref = ReferenceEvaluator(model).run(names, feeds)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(names, feeds)
    for name, a, b in zip(names, ref, got):
        a = np.asarray(a)
        b = np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ValueError(f"output {name}: ReferenceEvaluator gives {a.dtype}{list(a.shape)}, onnxruntime {b.dtype}{list(b.shape)}")
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        if not (np.all(np.isfinite(a64)) and np.all(np.isfinite(b64))):
            if not np.array_equal(a64, b64, equal_nan=True):
                raise ValueError(f"output {name}: non-finite values differ")
            continue
        scale = max(1e-30, float(np.max(np.abs(a64))) if a64.size else 1.0)
        diff = float(np.max(np.abs(a64 - b64))) if a64.size else 0.0
        tol = TOLERANCE.get(a.dtype.type, 1e-5)
        if diff > tol * scale:
            raise ValueError(f"output {name}: ReferenceEvaluator and onnxruntime differ by {diff:.3g} (tolerance {tol * scale:.3g})")
    return True


def check(path, run, rng):
    """Returns True when the model was also run in both runtimes, or raises with the message."""
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    return compare(path, model, rng) if run else False


def main(argv):
    # log(0) = -inf where a clamp-free graph meets p = 0 is the intended value, not a problem.
    warnings.simplefilter("ignore", RuntimeWarning)
    run = True
    if argv and argv[0] == "--no-run":
        run, argv = False, argv[1:]
    if not argv or any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for directory in argv:
        if not os.path.isdir(directory):
            print(f"check-models: {directory}: not a directory", file=sys.stderr)
            return 2

    checked = ran = 0
    opsets = set()
    failures = []
    rng = np.random.default_rng(0)
    for directory in argv:
        for path in onnx_files(directory):
            try:
                ran += bool(check(path, run, rng))
                checked += 1
                opsets.update(e.version for e in onnx.load(path, load_external_data=False).opset_import if e.domain in ("", "ai.onnx"))
            except Exception as e:  # the checker and the runtimes raise several exception types
                message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                failures.append((path, f"{type(e).__name__}: {message}"))

    for path, message in failures:
        print(f"FAIL {path}\n    {message}")
    span = f", opsets {min(opsets)}-{max(opsets)}" if opsets else ""
    print(f"check-models: {checked} checked{span} ({ran} run in ReferenceEvaluator and onnxruntime), {len(failures)} failed (onnx {onnx.__version__})")
    if checked == 0 and not failures:
        print("check-models: no model was checked", file=sys.stderr)
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
