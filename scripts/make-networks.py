"""Real networks to attach the loss to, exported here with torch.onnx (both exporters).

Deterministic: random weights from a fixed seed (nothing downloaded), fixed sample inputs. Writes,
for each network and exporter, `test/fixtures/networks/<name>-<exporter>.onnx` (each < 1 MB), and
`test/fixtures/networks/networks.json`: per network its input, output, task and the loss options
the tests use, and per model the sample input, PyTorch's own forward pass on it, the target, and
the reference loss (the seed's formula (shared/reference/seed_focal_loss.py), computed here in
float64 by PyTorch from PyTorch's forward output; Sigmoid / Softmax first for logits) — so the tests check onnxruntime's run of the
exported network (+ the attached loss) against PyTorch, not against itself.

- cnn: a small CNN classifier, images [B, 3, 16, 16] → logits [B, 10] (multiclass, logits)
- tagger: a multi-label tagger, features [B, 32] → logits [B, 6] (multilabel, logits)
- binary: a binary head ending in a Sigmoid, features [B, 16] → probabilities [B, 1] (binary, probs)
- dense: a dense detection head, feature map [B, 8, 4, 4] → logits [B, K=16 anchors·cells, C=5]
  (multilabel, logits, labels on the last axis)

Also `cnn-images.npy` (64 images) and `cnn-labels.npy` (their class indices), a validation set for
the README's `eval --network` example, with its reference loss under `samples` in networks.json.

Exporters: `dynamo` (torch.onnx.export(dynamo=True): IR 10, opset 18) and `torchscript`
(dynamo=False: IR 8, opset 17). The batch axis is dynamic in both.

Run: .venv/bin/python scripts/make-networks.py [OUT_DIR]   (the output is committed; a test reruns it
into a temporary directory and compares the bytes)
"""
import io
import json
import os
import sys
import warnings

import numpy as np
import onnx
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test", "fixtures", "networks")
SEED_EPS = 1e-4


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(16, 10)

    def forward(self, images):
        return self.head(torch.flatten(self.features(images), 1))


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.LayerNorm(64), nn.Linear(64, 6))

    def forward(self, features):
        return self.net(features)


class BinaryHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 24), nn.Tanh(), nn.Linear(24, 1), nn.Sigmoid())

    def forward(self, features):
        return self.net(features)


class DenseHead(nn.Module):
    """RetinaNet-style classification subnet: conv tower, then C logits per cell, flattened to [B, K, C]."""

    def __init__(self, classes=5, cells=16):
        super().__init__()
        self.classes = classes
        self.cells = cells
        self.tower = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.cls = nn.Conv2d(8, classes, 3, padding=1)

    def forward(self, fmap):
        x = self.cls(self.tower(fmap))  # [B, C, H, W]
        # A constant target shape (-1 for the batch): reading B through Shape → Gather, as the
        # TorchScript exporter does for x.shape[0], would put that small computation on the CPU
        # under onnxruntime's CUDA provider.
        return x.permute(0, 2, 3, 1).reshape(-1, self.cells, self.classes)  # [B, H·W, C]


NETWORKS = [
    # name, module, input name, input shape (batch first), output name, loss options, batch
    ("cnn", Cnn, "images", (3, 16, 16), "logits", {"task": "multiclass", "input": "logits", "alpha": "none", "gamma": 2}, 4),
    ("tagger", Tagger, "features", (32,), "logits", {"task": "multilabel", "input": "logits", "alpha": 0.25, "gamma": 2}, 5),
    ("binary", BinaryHead, "features", (16,), "prob", {"task": "binary", "input": "probs", "alpha": 0.25, "gamma": 2}, 6),
    ("dense", DenseHead, "fmap", (8, 4, 4), "cls_logits", {"task": "multilabel", "input": "logits", "alpha": 0.25, "gamma": 2}, 2),
]


def seed_elements(p, t, alpha, gamma, eps=SEED_EPS):
    """The seed's per-element binary focal loss (float64): -α_t (1 - clamp(p_t))^γ log clamp(p_t)."""
    pt = torch.where(t == 1, p, 1 - p).clamp(min=eps, max=1.0)
    at = torch.ones_like(p) if alpha == "none" else torch.where(t == 1, torch.full_like(p, alpha), torch.full_like(p, 1 - alpha))
    return -at * (1 - pt) ** gamma * pt.log()


def reference_loss(task, inp, alpha, gamma, out, target):
    x = out.double()
    if task == "multiclass":
        p = torch.softmax(x, dim=1) if inp == "logits" else x
        pt = p.gather(1, target.long().view(-1, 1)).view(-1).clamp(min=SEED_EPS, max=1.0)
        at = 1.0 if alpha == "none" else alpha
        return float((-at * (1 - pt) ** gamma * pt.log()).mean())
    p = torch.sigmoid(x) if inp == "logits" else x
    return float(seed_elements(p, target.double(), alpha, gamma).mean())


def export(module, example, input_name, output_name, dynamo):
    f = io.BytesIO()
    batch = torch.export.Dim("batch", min=1) if dynamo else None
    kwargs = dict(input_names=[input_name], output_names=[output_name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            prog = torch.onnx.export(module, (example,), dynamo=True, opset_version=18, dynamic_shapes=({0: batch},), verbose=False, **kwargs)
            prog.optimize()
            model = prog.model_proto
        else:
            torch.onnx.export(module, (example,), f, dynamo=False, opset_version=17, dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}}, **kwargs)
            model = onnx.load_from_string(f.getvalue())
    # The dynamo exporter records each node's Python stack trace in its metadata_props (an IR 10
    # field, kept: the round trip must keep it); the paths are made relative to the repository so
    # the bytes do not depend on where it is checked out.
    root = os.path.realpath(ROOT) + os.sep
    for node in model.graph.node:
        for p in node.metadata_props:
            if root in p.value:
                p.value = p.value.replace(root, "")
    return model


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    info = {"generator": "scripts/make-networks.py", "torch": torch.__version__, "onnx": onnx.__version__, "networks": []}
    for name, cls, input_name, shape, output_name, loss, batch in NETWORKS:
        torch.manual_seed(sum(map(ord, name)))
        module = cls().eval()
        # Non-trivial BatchNorm statistics, so the exported graph has them to keep.
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
        gen = torch.Generator().manual_seed(1000 + sum(map(ord, name)))
        x = torch.randn((batch, *shape), generator=gen)
        with torch.no_grad():
            y = module(x)
        if loss["task"] == "multiclass":
            target = torch.randint(0, y.shape[1], (y.shape[0],), generator=gen)
            target_list = target.tolist()
        else:
            target = (torch.rand(y.shape, generator=gen) < 0.3).to(torch.float32)
            target_list = target.tolist()
        entry = {
            "name": name,
            "input": input_name,
            "inputShape": [batch, *shape],
            "output": output_name,
            "outputShape": list(y.shape),
            "loss": loss,
            "x": x.flatten().tolist(),
            "forward": y.flatten().tolist(),
            "target": target_list,
            "targetDtype": "int64" if loss["task"] == "multiclass" else "float32",
            "referenceLoss": reference_loss(loss["task"], loss["input"], loss["alpha"], loss["gamma"], y, target),
            "models": [],
        }
        for exporter in ("dynamo", "torchscript"):
            model = export(module, x, input_name, output_name, exporter == "dynamo")
            model.producer_version = torch.__version__
            file = f"{name}-{exporter}.onnx"
            data = model.SerializeToString(deterministic=True)
            if len(data) >= 1 << 20:
                sys.exit(f"{file}: {len(data)} bytes, over 1 MB")
            onnx.checker.check_model(model, full_check=True)
            with open(os.path.join(OUT, file), "wb") as fh:
                fh.write(data)
            opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
            entry["models"].append({"file": file, "exporter": exporter, "irVersion": model.ir_version, "opset": opset, "bytes": len(data)})
        if name == "cnn":
            # A small validation set for the README's `eval --network` example and its test.
            g2 = torch.Generator().manual_seed(4242)
            images = torch.randn((64, *shape), generator=g2)
            with torch.no_grad():
                logits = module(images)
            labels = torch.randint(0, 10, (64,), generator=g2)
            np.save(os.path.join(OUT, "cnn-images.npy"), images.numpy().astype(np.float32))
            np.save(os.path.join(OUT, "cnn-labels.npy"), labels.numpy().astype(np.int64))
            entry["samples"] = {
                "images": "cnn-images.npy",
                "labels": "cnn-labels.npy",
                "referenceLoss": reference_loss(loss["task"], loss["input"], loss["alpha"], loss["gamma"], logits, labels),
            }
        info["networks"].append(entry)
    with open(os.path.join(OUT, "networks.json"), "w") as fh:
        json.dump(info, fh, indent=1)
        fh.write("\n")
    for n in info["networks"]:
        for m in n["models"]:
            print(f"{m['file']}: IR {m['irVersion']}, opset {m['opset']}, {m['bytes']} bytes")


if __name__ == "__main__":
    main()
