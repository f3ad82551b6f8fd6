#!/usr/bin/env python3
"""Make test/fixtures/source-cases.json: golden cases computed by the libraries' own focal-loss
source files, run from a directory outside the repository.

What it does
    Loads each library's file from `--sources DIR` (DIR/<lib>/..., each with its COMMIT; the layout
    and the stand-ins in scripts/library_sources.py) — MONAI monai/losses/focal_loss.py, smp (its
    main branch) losses/focal.py + _functional.py + constants.py, mmdet 2.x's py_sigmoid_focal_loss +
    weight_reduce_loss (d898526f, no eps on avg_factor), fvcore nn/focal_loss.py, kornia
    losses/focal.py — and torchvision's installed RetinaNet (retinanet_resnet50_fpn(weights=None,
    weights_backbone=None), its classification head's compute_loss; `torchvision::nms` / `::qnms`
    are defined with torch.library before the import, as its compiled ops do not load with this
    torch). The stand-ins (our own code) replace the package imports those files make
    (`monai.networks.one_hot`, `monai.utils.LossReduction`, smp's package for its relative imports,
    kornia's checks, one_hot and mask_ignore_pixels). Nothing of those files is copied into this
    repository: only the numbers they compute are written, each case naming the library, the file
    and the commit it ran. scripts/make-detection-fixtures.py runs the same loader on mmdet 3.x,
    detectron2, fvcore, smp 0.5.0 and kornia for test/fixtures/detection-cases.json.

    Each case: focal-onnx's options (as `buildLoss` takes them, with `predShape`), float64 inputs from
    a fixed torch.Generator seed, the library's loss and d(loss)/d(pred) by torch autograd (of the sum
    for reduction none). MONAI casts its input with `Tensor.float()`; while its forward runs,
    `.float()` keeps float64 tensors float64, so its numbers are its formula in float64 (noted in
    each MONAI case).

How to run (the output is committed; rerun only when the cases change)
    .venv/bin/python scripts/make-source-fixtures.py --sources DIR
    (DIR: the libraries' files, fetched from their repositories at the commits the cases record,
    laid out as scripts/library_sources.py says; never committed here)
Deterministic: two runs give byte-identical JSON.
"""
import argparse
import json
import os

import torch

import library_sources as ls
from library_sources import in_float64

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

F64 = torch.float64
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "test", "fixtures", "source-cases.json")


# ---- the cases ------------------------------------------------------------------------------------------

CASES = []


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def case(name, lib, options, x, t, run, call):
    """Runs `run(x, t)` (the library) with autograd on x; records the options, data and numbers."""
    x = x.clone().requires_grad_(True)
    loss = run(x, t)
    (loss.sum() if loss.ndim > 0 else loss).backward()
    c = {
        "name": name,
        "library": lib["name"],
        "file": lib["file"],
        "commit": lib["commit"],
        "call": call,
        "options": options,
        "pred": flat(x),
        "predShape": list(x.shape),
        "target": flat(t) if t.is_floating_point() else [int(v) for v in t.reshape(-1).tolist()],
        "targetShape": list(t.shape),
        "loss": flat(loss) if loss.ndim > 0 else float(loss.detach()),
        "grad": flat(x.grad),
    }
    if lib.get("note"):
        c["note"] = lib["note"]
    CASES.append(c)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", required=True, help="the directory holding <lib>/<file> and <lib>/COMMIT (scripts/library_sources.py)")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    src = os.path.abspath(args.sources)
    g = torch.Generator().manual_seed(1919)

    def randn(*shape, scale=2.0):
        return torch.randn(*shape, generator=g, dtype=F64) * scale

    def bits(*shape, p=0.3):
        return (torch.rand(*shape, generator=g, dtype=F64) < p).to(F64)

    def ints(high, *shape):
        return torch.randint(0, high, shape, generator=g)

    # ---- MONAI ----
    monai, lib = ls.load_monai(src)

    def monai_run(**kw):
        return in_float64(monai.FocalLoss(**kw))

    for red in ("sum", "mean"):
        x, t = randn(6, 4), bits(6, 4)
        case(f"monai {red} [N, C]", lib, {"like": "monai", "reduction": red}, x, t, monai_run(reduction=red), f"FocalLoss(reduction='{red}')")
        x, t = randn(2, 3, 4, 5), bits(2, 3, 4, 5)
        case(f"monai {red} [B, C, H, W]", lib, {"like": "monai", "reduction": red, "labelAxis": 1}, x, t, monai_run(reduction=red),
             f"FocalLoss(reduction='{red}')")
    x, t = randn(2, 3, 4, 4), bits(2, 3, 4, 4)
    # MONAI holds its weight as a float32 tensor (torch.as_tensor of the list): weights exact in float32, so float64 graphs agree to rounding.
    w = [0.25, 1.0, 3.0]
    case("monai sum alpha weight [B, C, H, W]", lib, {"like": "monai", "reduction": "sum", "alpha": 0.75, "classWeight": w, "labelAxis": 1}, x, t,
         monai_run(reduction="sum", alpha=0.75, weight=w), f"FocalLoss(alpha=0.75, weight={w}, reduction='sum')")
    x, t = randn(2, 4, 3, 5), ints(4, 2, 3, 5)
    case("monai to_onehot_y sum [B, C, H, W]", lib, {"like": "monai", "reduction": "sum", "targetFormat": "index", "labelAxis": 1}, x, t,
         lambda x, t: monai_run(reduction="sum", to_onehot_y=True)(x, t.unsqueeze(1)), "FocalLoss(to_onehot_y=True, reduction='sum'), target [B, 1, H, W]")
    x, t = randn(5, 3), bits(5, 3)
    case("monai sum gamma 0.5 [N, C]", lib, {"like": "monai", "reduction": "sum", "gamma": 0.5}, x, t, monai_run(reduction="sum", gamma=0.5),
         "FocalLoss(gamma=0.5, reduction='sum')")
    x, t = randn(10, 3), ints(3, 10)
    case("monai to_onehot_y mean [N, C]", lib, {"like": "monai", "targetFormat": "index"}, x, t,
         lambda x, t: monai_run(to_onehot_y=True)(x, t.unsqueeze(1)), "FocalLoss(to_onehot_y=True), target [N, 1]")
    x, t = randn(6, 3), bits(6, 3)
    case("monai alpha weight mean [N, C]", lib, {"like": "monai", "alpha": 0.75, "classWeight": w}, x, t,
         monai_run(alpha=0.75, weight=w), f"FocalLoss(alpha=0.75, weight={w})")
    # One channel, [B, 1, H, W]: MONAI's sum averages H·W (axis 1 the channel), as focal-onnx's task binary on that shape.
    # (Its own generator, so that the cases after it keep their numbers.)
    g1 = torch.Generator().manual_seed(1920)
    x, t = torch.randn(2, 1, 4, 5, generator=g1, dtype=F64) * 2.0, (torch.rand(2, 1, 4, 5, generator=g1, dtype=F64) < 0.3).to(F64)
    case("monai sum binary [B, 1, H, W]", lib, {"like": "monai", "task": "binary", "reduction": "sum"}, x, t, monai_run(reduction="sum"),
         "FocalLoss(reduction='sum'), one channel")

    # ---- smp ----
    smp, lib = ls.load_smp(src, "smp")
    smp_multiclass = {"like": "smp", "task": "multilabel", "targetFormat": "index"}
    x, t = randn(12, 4), ints(4, 12)
    case("smp multiclass normalized [N, C]", lib, {**smp_multiclass, "normalized": "label"}, x, t,
         lambda x, t: smp.FocalLoss("multiclass", normalized=True)(x, t), "FocalLoss('multiclass', normalized=True)")
    x, t = randn(2, 3, 4, 5), ints(3, 2, 4, 5)
    case("smp multiclass normalized [B, C, H, W]", lib, {**smp_multiclass, "normalized": "label", "labelAxis": 1}, x, t,
         lambda x, t: smp.FocalLoss("multiclass", normalized=True)(x, t), "FocalLoss('multiclass', normalized=True), target [B, H, W]")
    x, t = randn(10, 3), ints(3, 10)
    t[[1, 6]] = 255
    case("smp multiclass normalized ignore 255 [N, C]", lib, {**smp_multiclass, "normalized": "label", "ignoreIndex": 255}, x, t,
         lambda x, t: smp.FocalLoss("multiclass", normalized=True, ignore_index=255)(x, t), "FocalLoss('multiclass', normalized=True, ignore_index=255)")
    x, t = randn(8, 3), ints(3, 8)
    case("smp multiclass [N, C]", lib, smp_multiclass, x, t, lambda x, t: smp.FocalLoss("multiclass")(x, t), "FocalLoss('multiclass')")
    x, t = randn(6, 4), bits(6, 4)
    case("smp multilabel normalized [N, C]", lib, {"like": "smp", "task": "multilabel", "normalized": "label"}, x, t,
         lambda x, t: smp.FocalLoss("multilabel", normalized=True)(x, t), "FocalLoss('multilabel', normalized=True)")
    x, t = randn(2, 3, 4, 4), bits(2, 3, 4, 4)
    case("smp multilabel normalized [B, C, H, W]", lib, {"like": "smp", "task": "multilabel", "normalized": "label", "labelAxis": 1}, x, t,
         lambda x, t: smp.FocalLoss("multilabel", normalized=True)(x, t), "FocalLoss('multilabel', normalized=True)")
    x, t = randn(20), bits(20)
    case("smp binary normalized", lib, {"like": "smp", "normalized": True}, x, t,
         lambda x, t: smp.FocalLoss("binary", normalized=True)(x, t), "FocalLoss('binary', normalized=True)")

    # ---- kornia ----
    kornia, lib = ls.load_kornia(src)
    x, t = randn(2, 4, 3, 5), ints(4, 2, 3, 5)
    case("kornia focal_loss sum [B, C, H, W]", lib,
         {"task": "multiclass", "input": "logits", "eps": 0, "alpha": [0.75, 0.25, 0.25, 0.25], "reduction": "sum", "labelAxis": 1}, x, t,
         lambda x, t: kornia.focal_loss(x, t, alpha=0.25, reduction="sum"), "focal_loss(pred, target, alpha=0.25, reduction='sum'), target [B, H, W]")
    x, t = randn(2, 3, 4, 4), ints(3, 2, 4, 4)
    case("kornia focal_loss none gamma 1.5 [B, C, H, W]", lib,
         {"task": "multiclass", "input": "logits", "eps": 0, "alpha": [0.5, 0.5, 0.5], "gamma": 1.5, "reduction": "none", "labelAxis": 1}, x, t,
         lambda x, t: kornia.focal_loss(x, t, alpha=0.5, gamma=1.5, reduction="none").sum(1), "focal_loss(pred, target, alpha=0.5, gamma=1.5, reduction='none').sum(1)")
    x, t = randn(4, 3, 5), bits(4, 3, 5)
    case("kornia binary_focal_loss_with_logits mean [B, C, L]", lib, {"like": "kornia", "reduction": "mean", "labelAxis": 1}, x, t,
         lambda x, t: kornia.binary_focal_loss_with_logits(x, t, alpha=0.25, reduction="mean"), "binary_focal_loss_with_logits(pred, target, alpha=0.25, reduction='mean')")

    # ---- mmdet ----
    mmdet, lib = ls.load_mmdet(src, "mmdet")
    x, t = randn(10, 4), ints(5, 10)
    case("mmdet cpu path", lib, {"like": "mmdet"}, x, t, lambda x, t: mmdet.focal_loss_forward_cpu(x, t), "FocalLoss(use_sigmoid=True)(pred, target) on CPU")
    x, t = randn(10, 4), ints(5, 10)
    # utils.py at 030b5682 (2.x, before mmdetection PR #7449) divides by avg_factor itself, no float32 eps (the preset follows 3.x, which adds it): normalizeOffset 0.
    case("mmdet avg_factor 7", lib, {"like": "mmdet", "normalize": 7, "normalizeOffset": 0}, x, t,
         lambda x, t: mmdet.focal_loss_forward_cpu(x, t, avg_factor=7), "FocalLoss(use_sigmoid=True)(pred, target, avg_factor=7)")

    # ---- fvcore ----
    fv, lib = ls.load_fvcore(src)
    x, t = randn(6, 3), bits(6, 3)
    case("fvcore sigmoid_focal_loss sum", lib, {"like": "fvcore", "task": "multilabel", "reduction": "sum"}, x, t,
         lambda x, t: in_float64(fv.sigmoid_focal_loss)(x, t, reduction="sum"), "sigmoid_focal_loss(x, t, reduction='sum')")
    x, t = randn(6, 3), bits(6, 3)
    case("fvcore star mean", lib, {"task": "multilabel", "input": "logits", "variant": "star", "alpha": 0.25, "gamma": 1, "reduction": "mean"}, x, t,
         lambda x, t: in_float64(fv.sigmoid_focal_loss_star)(x, t, alpha=0.25, gamma=1, reduction="mean"), "sigmoid_focal_loss_star(x, t, alpha=0.25, gamma=1, reduction='mean')")

    # ---- torchvision RetinaNet (installed; its compiled ops do not load with this torch: the two ops defined first) ----
    lib_def = torch.library.Library("torchvision", "DEF")
    lib_def.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib_def.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision
    from torchvision.models.detection import retinanet_resnet50_fpn

    torch.manual_seed(0)  # the model's initialisation (its weights take no part in compute_loss)
    C = 5
    model = retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=C)
    head = model.head.classification_head
    lib = {"name": "torchvision", "file": "torchvision/models/detection/retinanet.py (RetinaNetClassificationHead.compute_loss)",
           "commit": f"torchvision {torchvision.__version__.split('+')[0]} (installed)"}
    for B, K, G in ((3, 30, 4), (2, 24, 3)):
        x = randn(B, K, C)
        targets, matched, t = [], [], torch.empty(B, K, dtype=torch.long)
        for b in range(B):
            labels = ints(C, G)
            # The matcher's output: a gt index (foreground), -1 background, -2 between thresholds; the last image has no foreground.
            m = torch.randint(-2, G, (K,), generator=g) if b < B - 1 else torch.randint(-2, 0, (K,), generator=g)
            targets.append({"labels": labels})
            matched.append(m)
            t[b] = torch.where(m >= 0, labels[m.clamp(min=0)], torch.where(m == -1, torch.tensor(C), torch.tensor(-2)))
        case(f"torchvision RetinaNet classification loss, {B} images", lib,
             {"task": "multilabel", "input": "logits", "eps": 0, "alpha": 0.25, "gamma": 2, "reduction": "mean", "targetFormat": "index",
              "ignoreIndex": -2, "normalize": "positives", "perImage": True}, x, t,
             lambda x, t, targets=targets, matched=matched: head.compute_loss(targets, {"cls_logits": x}, matched),
             f"retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes={C}).head.classification_head.compute_loss(targets, {{'cls_logits': x}}, matched_idxs); target: class, {C} background, -2 between thresholds")
    assert head.BETWEEN_THRESHOLDS == -2  # what the -2 targets above stand for

    out = {
        "about": "Golden cases computed by the libraries' own source files (scripts/make-source-fixtures.py --sources DIR); float64, torch autograd.",
        "torch": torch.__version__.split("+")[0],
        "cases": CASES,
    }
    with open(args.out, "w") as f:
        f.write("{\n")
        f.write(",\n".join(f'{json.dumps(k)}: {json.dumps(v)}' for k, v in out.items() if k != "cases"))
        f.write(',\n"cases": [\n')
        f.write(",\n".join(json.dumps(c, sort_keys=True) for c in CASES))
        f.write("\n]}\n")
    print(f"wrote {os.path.relpath(args.out, REPO)}: {len(CASES)} cases")


if __name__ == "__main__":
    main()
