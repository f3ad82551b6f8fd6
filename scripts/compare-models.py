"""Compares ONNX models field for field with onnx 1.23 (the protobuf messages, not their bytes).

    .venv/bin/python scripts/compare-models.py A.onnx B.onnx [C.onnx D.onnx …]

For each pair, prints one JSON line: {"a", "b", "equal", "differences": [field paths, at most 20]}.
External data is not loaded (the references themselves are compared). Used by the round-trip test
(test/onnx/schema.test.ts) and the attach tests.
"""
import json
import sys

import onnx
from google.protobuf.message import Message


def diff(a, b, path, out):
    if len(out) >= 20:
        return
    if isinstance(a, Message):
        fields = {f.name for f, _ in a.ListFields()} | {f.name for f, _ in b.ListFields()}
        for name in sorted(fields):
            fd = a.DESCRIPTOR.fields_by_name[name]
            va, vb = getattr(a, name), getattr(b, name)
            if fd.is_repeated:
                if len(va) != len(vb):
                    out.append(f"{path}.{name}: {len(va)} entries vs {len(vb)}")
                    continue
                for i, (x, y) in enumerate(zip(va, vb)):
                    diff(x, y, f"{path}.{name}[{i}]", out)
            elif fd.has_presence and a.HasField(name) != b.HasField(name):
                out.append(f"{path}.{name}: set in {'a' if a.HasField(name) else 'b'} only")
            else:
                diff(va, vb, f"{path}.{name}", out)
    elif a != b:
        out.append(f"{path}: {a!r:.60} vs {b!r:.60}")


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit("usage: compare-models.py A.onnx B.onnx [C.onnx D.onnx …]")
    for a_file, b_file in zip(args[0::2], args[1::2]):
        a = onnx.load(a_file, load_external_data=False)
        b = onnx.load(b_file, load_external_data=False)
        out = []
        diff(a, b, "model", out)
        print(json.dumps({"a": a_file, "b": b_file, "equal": a == b and not out, "differences": out}))


if __name__ == "__main__":
    main()
