"""A network whose weights lie in a side file, as torch 2.13 and onnx write them today.

`torch.onnx.export(..., dynamo=True)` given a file name writes the weights to NAME.onnx.data
beside it by default, even for a small network; `onnx.save_model(..., save_as_external_data=True)`
does the same with a location of its own. Writes, into OUT_DIR (default test/fixtures/external):

- `tagger.onnx` + `tagger.onnx.data`: a multi-label tagger (features [B, 32] → logits [B, 6]),
  exported by torch's dynamo exporter straight to the file (its side file as torch writes it; the
  model's node metadata has the absolute paths of torch's stack traces, made relative to the
  repository so the bytes do not depend on where it runs — the side file is untouched);
- `saved.onnx` + `saved-weights.data`: the same model, every tensor over 0 bytes moved to one side
  file by `onnx.save_model(..., save_as_external_data=True, location='saved-weights.data')`;
- `x.npy` (16 rows of features), `target.npy` (0/1 float32 [16, 6]) and `logits.npy` (PyTorch's own
  forward pass on x, float32): the tests evaluate the loss of the exported network on x against
  the loss of these logits.

Run: .venv/bin/python scripts/make-external-networks.py [OUT_DIR]
"""
import os
import sys
import warnings

import numpy as np
import onnx
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test", "fixtures", "external")


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 6))

    def forward(self, features):
        return self.net(features)


def strip_paths(file):
    """The dynamo exporter's node metadata holds stack traces with absolute paths: made relative."""
    model = onnx.load(file, load_external_data=False)
    root = os.path.realpath(ROOT) + os.sep
    for node in model.graph.node:
        for p in node.metadata_props:
            p.value = p.value.replace(root, "")
    with open(file, "wb") as fh:
        fh.write(model.SerializeToString(deterministic=True))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(19)
    module = Tagger().eval()
    gen = torch.Generator().manual_seed(1919)
    x = torch.randn((16, 32), generator=gen)
    target = (torch.rand((16, 6), generator=gen) < 0.3).to(torch.float32)
    with torch.no_grad():
        logits = module(x)
    tagger = os.path.join(OUT, "tagger.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), tagger, dynamo=True, input_names=["features"], output_names=["logits"],
                          dynamic_shapes=({0: torch.export.Dim("batch", min=1)},), verbose=False)
    if not os.path.exists(tagger + ".data"):
        sys.exit("torch.onnx.export(dynamo=True) wrote no side file")
    strip_paths(tagger)
    full = onnx.load(tagger)  # the weights read back from the side file
    # onnx.save_model appends to an existing side file: start from none, so a rerun writes the same bytes.
    if os.path.exists(os.path.join(OUT, "saved-weights.data")):
        os.remove(os.path.join(OUT, "saved-weights.data"))
    onnx.save_model(full, os.path.join(OUT, "saved.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="saved-weights.data", size_threshold=0)
    np.save(os.path.join(OUT, "x.npy"), x.numpy())
    np.save(os.path.join(OUT, "target.npy"), target.numpy())
    np.save(os.path.join(OUT, "logits.npy"), logits.numpy())


if __name__ == "__main__":
    main()
