#!/usr/bin/python3
"""Checks ONNX models with the official ONNX checker.

Usage: /usr/bin/python3 scripts/check-models.py DIR [DIR...]

Every *.onnx under each DIR (recursively) is loaded and, when its default-domain opset is one this
ONNX knows (Debian's python3-onnx is ONNX 1.12: opsets <= 17, IR <= 8), checked with
`onnx.checker.check_model(model, full_check=True)`: the structural checks, then (that is what
`full_check` does) `onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)`,
which checks every node's types against its schema, the declared input/output types and shapes
against the inferred ones, and the bodies of model-local functions at their call sites. Models of
a newer opset are counted as skipped: the jest tests load and run those in onnxruntime-node.

Prints one summary line, `check-models: N checked, M skipped (opset > 17), K failed`, after the
failures (file and the checker's message). Exits 1 when any model fails or none was checked, and
2 on a usage error.
"""

import os
import sys

import onnx
import onnx.checker

# The newest default-domain opset the installed checker knows (17 for ONNX 1.12).
MAX_CHECKED_OPSET = 17


def default_opset(model):
    """The model's default-domain ('' or 'ai.onnx') opset version, or None when it imports none."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    return None


def onnx_files(directory):
    """Every *.onnx file under `directory`, sorted, so the report is stable."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".onnx"))
    return found


def check(path):
    """Returns 'checked' or 'skipped', or raises with the checker's message."""
    model = onnx.load(path)
    opset = default_opset(model)
    if opset is None:
        raise ValueError("the model imports no default-domain opset")
    if opset > MAX_CHECKED_OPSET:
        return "skipped"
    onnx.checker.check_model(model, full_check=True)
    return "checked"


def main(argv):
    if not argv or any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for directory in argv:
        if not os.path.isdir(directory):
            print(f"check-models: {directory}: not a directory", file=sys.stderr)
            return 2

    counts = {"checked": 0, "skipped": 0}
    failures = []
    for directory in argv:
        for path in onnx_files(directory):
            try:
                counts[check(path)] += 1
            except Exception as e:  # the checker raises several exception types
                message = str(e).strip() or type(e).__name__
                failures.append((path, f"{type(e).__name__}: {message}"))

    for path, message in failures:
        print(f"FAIL {path}\n    {message}")
    print(
        f"check-models: {counts['checked']} checked, {counts['skipped']} skipped "
        f"(opset > {MAX_CHECKED_OPSET}), {len(failures)} failed"
    )
    if counts["checked"] == 0:
        print("check-models: no model was checked", file=sys.stderr)
    return 1 if failures or counts["checked"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
