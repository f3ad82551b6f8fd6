#!/usr/bin/env python3
"""Make test/fixtures/detection-cases.json: golden numbers for the detection and segmentation
conventions (index targets with a background class, ignored targets, normalization by positives or a
number or an input, class and positive weights, FL*, normalized and reduced focal loss) and the
presets mmdet, detectron2, smp and kornia (MONAI's cases come from its own file: scripts/make-source-fixtures.py).

What it does
    Each case is a focal-onnx option set (as `buildLoss` takes it, `like` included), float64 data made
    with a fixed torch.Generator seed, and the expected loss and d(loss)/d(pred) (of the sum for
    reduction none) computed in float64 by PyTorch autograd through:
      * source "library": the library's own source file, run from `--sources DIR` (outside this
        repository; scripts/library_sources.py loads each with stand-ins for its package imports):
        mmdet 3.x's FocalLoss (py_sigmoid_focal_loss + weight_reduce_loss), detectron2's
        RetinaNet.losses (its loss_cls), fvcore's sigmoid_focal_loss_star, smp 0.5.0's FocalLoss
        (losses/focal.py + _functional.py's focal_loss_with_logits), kornia's
        binary_focal_loss_with_logits and focal_loss; and torch's own
        binary_cross_entropy_with_logits. Each case names the library's file and commit (`file`,
        `commit`) and the call (`call`);
      * source "formula": focal-onnx's own formula (`formula()` below) for combinations no library
        has (probabilities with ignore or class weights, the onehot form, per-class weights on the
        multi-class loss, the `input` normalizer, ...).
    Before writing, `formula()` is checked against the library on every library case (rel. 1e-12),
    so the two agree on what they share. Float32 cases hold float32-rounded inputs; their numbers are
    computed in float64. No number is typed by hand. No reference written by hand remains: every
    library case runs the library's file.

How to run (the output is committed; rerun only when the cases change)
    .venv/bin/python scripts/make-detection-fixtures.py --sources DIR
    (DIR: the libraries' files, fetched from their repositories at the commits the cases record,
    laid out as scripts/library_sources.py says; never committed here)
Deterministic: two runs give byte-identical JSON.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

import library_sources as ls
from library_sources import in_float64

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

F64 = torch.float64
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "test", "fixtures", "detection-cases.json")
RTOL = 1e-12

F32_EPS = float(torch.finfo(torch.float32).eps)

# The presets as focal-onnx defines them (src/losses/presets.ts): the formula() reference fills them in.
PRESETS = {
    "mmdet": dict(task="multilabel", input="logits", eps=0, alpha=0.25, gamma=2, reduction="mean", targetFormat="index"),
    "detectron2": dict(task="multilabel", input="logits", eps=0, alpha=0.25, gamma=2, reduction="mean", targetFormat="index", ignoreIndex=-1, normalize="positives"),
    "smp": dict(task="binary", input="logits", eps=0, alpha="none", gamma=2, reduction="mean"),
    "kornia": dict(task="multilabel", input="logits", eps=0, alpha=0.25, gamma=2, reduction="none", ignoreIndex=-100, countIgnored=True),
    "monai": dict(task="multilabel", input="logits", eps=0, alpha="none", gamma=2, reduction="mean", spatialMean=True),
    # Issue 12's preset (src/losses/presets.ts), for FL* on soft targets.
    "fvcore": dict(input="logits", eps=0, alpha="none", gamma=2, reduction="none", targets="soft"),
}
DEFAULTS = dict(task="binary", input="probs", alpha=0.25, gamma=2, reduction="mean", eps=1e-4, targetFormat="dense", ignoreIndex=None,
                normalize="elements", classWeight=None, posWeight=None, variant="focal", normalized=False, reducedThreshold=None, countIgnored=False,
                spatialMean=False)


def resolve(options):
    o = dict(DEFAULTS)
    like = options.get("like")
    if like:
        o.update(PRESETS[like])
    o.update({k: v for k, v in options.items() if k not in ("like", "dtype", "form", "opset", "targetDtype", "targets", "weight")})
    if like == "mmdet" and isinstance(o["normalize"], (int, float)) and not isinstance(o["normalize"], bool):
        o["normalize"] = o["normalize"] + o.get("normalizeOffset", F32_EPS)  # mmdet 3.x's avg_factor + eps
    return o


def formula(options, pred, target, normalizer=None, sample_weight=None):
    """focal-onnx's loss, every term (README 'Detection and segmentation'), in float64 torch."""
    o = resolve(options)
    alpha = None if o["alpha"] in (None, "none") else o["alpha"]
    gamma, eps, logits = float(o["gamma"]), float(o["eps"]), o["input"] == "logits"
    ign = o["ignoreIndex"]
    if o["task"] == "multiclass":
        valid = (target != ign) if ign is not None else torch.ones_like(target, dtype=torch.bool)
        t = torch.where(valid, target, torch.zeros_like(target))
        if logits:
            logpt = pred.log_softmax(1).gather(1, t[:, None])[:, 0]
            if eps > 0:
                logpt = logpt.clamp(math.log(eps), 0)
            c = logpt.exp()
        else:
            c = pred.gather(1, t[:, None])[:, 0].clamp(eps, 1)
            logpt = c.log()
        m = 1 - c
        a_t = 1.0 if alpha is None else (torch.tensor(alpha, dtype=F64)[t] if isinstance(alpha, list) else alpha)
        w = torch.tensor(o["classWeight"], dtype=F64)[t] if o["classWeight"] is not None else 1.0
        pi = 1.0
        tpos = valid.to(F64)
        z = None
    else:
        if o["targetFormat"] == "index":
            L = pred.shape[1]
            rows_valid = (target != ign) if ign is not None else torch.ones_like(target, dtype=torch.bool)
            idx = torch.where(rows_valid, target, torch.full_like(target, L))
            t = F.one_hot(idx, L + 1)[:, :L].to(F64)
            valid = rows_valid[:, None].expand(-1, L)
        else:
            valid = (target != ign) if ign is not None else torch.ones_like(target, dtype=torch.bool)
            t = torch.where(valid, target, torch.zeros_like(target)).to(F64)
        s = 2 * t - 1
        if logits:
            z = pred * s
            logpt = F.logsigmoid(z)
            m = F.logsigmoid(-z).exp()
            if eps > 0:
                logpt = logpt.clamp(math.log(eps), 0)
                m = m.clamp(0, 1 - eps)
            c = logpt.exp()
        else:
            z = None
            c = ((1 - t) + s * pred).clamp(eps, 1)
            logpt = c.log()
            m = 1 - c
        a_t = 1.0 if alpha is None else alpha_t(alpha, t)
        w = torch.tensor(o["classWeight"], dtype=F64) if o["classWeight"] is not None else 1.0
        pw = o["posWeight"]
        pi = 1.0 if pw is None else t * torch.as_tensor(pw, dtype=F64) + (1 - t)
        tpos = t * valid
    X = o["reducedThreshold"]
    if X is None:
        f = m.pow(gamma)
    else:
        f = torch.where(c < X, torch.ones_like(m), (m / X).pow(gamma))
    if o["variant"] == "star":
        loss = -F.logsigmoid(gamma * z) / gamma
    else:
        loss = -f * logpt
    loss = loss * a_t * w * pi
    if sample_weight is not None:
        loss = loss * (sample_weight[:, None] if loss.ndim == 2 else sample_weight)
    vf = valid.to(F64)
    if o["normalized"] == "label":
        # Each label (the last axis) by its own sum over its elements not ignored.
        loss = loss / (f * vf).reshape(-1, loss.shape[-1]).sum(0).clamp_min(1e-6)
    elif o["normalized"]:
        loss = loss / (f * vf).sum().clamp_min(1e-6)
    loss = loss * vf
    red = o["reduction"]
    if red == "none":
        return loss
    total = loss.sum()
    if red == "sum":
        # MONAI's sum (spatialMean): the spatial mean first; on rank <= 2 (no spatial axes) the mean of all.
        return total / (loss.numel() if loss.ndim <= 2 else loss.numel() // (loss.shape[0] * loss.shape[1 if o["task"] == "binary" else -1])) if o["spatialMean"] else total
    n = o["normalize"]
    if n == "elements":
        d = float(valid.numel()) if o["countIgnored"] else vf.sum()
    elif n == "positives":
        d = tpos.sum().clamp_min(1)
    elif n == "input":
        d = torch.tensor(normalizer, dtype=F64)
    else:
        d = float(n)
    return total / d


def alpha_t(alpha, t):
    a = torch.as_tensor(alpha, dtype=F64)
    return a * t + (1 - a) * (1 - t)


# ---- data -----------------------------------------------------------------------------------------------
def gen(seed):
    return torch.Generator().manual_seed(seed)


def logits(g, *shape, scale=2.5):
    return torch.randn(*shape, generator=g, dtype=F64) * scale


def probs(g, *shape):
    return torch.rand(*shape, generator=g, dtype=F64) * 0.98 + 0.01


def dense(g, *shape, p=0.3):
    return (torch.rand(*shape, generator=g, dtype=F64) < p).to(F64)


def index(g, n, hi, ignore=None, p_ignore=0.0, p_bg=0.0, bg=None):
    t = torch.randint(0, hi, (n,), generator=g)
    r = torch.rand(n, generator=g, dtype=F64)
    if bg is not None:
        t = torch.where(r < p_bg, torch.full_like(t, bg), t)
    if ignore is not None:
        t = torch.where((r >= p_bg) & (r < p_bg + p_ignore), torch.full_like(t, ignore), t)
    return t


def with_ignore(g, t, value, p=0.2):
    r = torch.rand(t.shape, generator=g, dtype=F64)
    return torch.where(r < p, torch.full_like(t, value), t)


# ---- the cases ------------------------------------------------------------------------------------------
CASES = []


def case(name, options, pred, target, library=None, call=None, lib=None, normalizer=None, target_dtype=None, float32=False, weight=None):
    """A case; with `library` (x, t) -> loss, run from `lib`'s file (its info: name, file, commit)."""
    CASES.append(dict(name=name, options=options, pred=pred, target=target, library=library, call=call, lib=lib, normalizer=normalizer,
                      target_dtype=target_dtype, float32=float32, weight=weight))


TORCH = {"name": "PyTorch", "file": "torch.nn.functional.binary_cross_entropy_with_logits", "commit": f"torch {torch.__version__.split('+')[0]} (installed)"}


def retinanet_losses(d2, storage, ema=None):
    """detectron2's RetinaNet.losses on one image's anchors (pred [R, K], labels [R] in {-1} U [0, K]),
    its loss_cls. The object is made without its @configurable __init__ (which builds a backbone):
    only the attributes losses() reads are set. Its normalizer is an EMA of max(1, num_pos) with
    momentum 0.9 (dense_detector.py's _ema_update); the EMA is set to this batch's max(1, num_pos)
    before the call, the state where the moving average equals the batch's count, so loss_cls is
    sum / max(1, num_pos), what the preset computes. `ema`: the EMA's value before the call instead
    (None: the batch's count; its first step starts from losses()' own initial 100 when unset)."""
    def run(x, t):
        K = x.shape[1]
        m = d2.RetinaNet.__new__(d2.RetinaNet)
        torch.nn.Module.__init__(m)
        m.num_classes, m.focal_loss_alpha, m.focal_loss_gamma = K, 0.25, 2.0
        m.box2box_transform, m.box_reg_loss_type, m.smooth_l1_beta = None, "smooth_l1", 0.0
        count = float(max(1, int(((t >= 0) & (t != K)).sum())))
        if ema != "unset":
            m.loss_normalizer = count if ema is None else ema
        out = m.losses(None, [x[None]], [t], None, None)
        assert storage.scalars["num_pos_anchors"] in (count, 0)
        return out["loss_cls"]
    return run


def build_cases(L):
    """The cases; L holds the libraries loaded from --sources (module and info each)."""
    mm, mm_lib = L["mmdet"]
    # mmdet 3.x: FocalLoss(use_sigmoid=True) on the CPU, index targets with background C.
    for i, (red, avg) in enumerate([("mean", None), ("sum", None), ("none", None), ("mean", 37.5)]):
        g = gen(100 + i)
        x, t = logits(g, 12, 4), index(g, 12, 4, p_bg=0.5, bg=4)
        opts = {"like": "mmdet", "reduction": red}
        if avg is not None:
            opts["normalize"] = avg
        case(f"mmdet {red}{' avg_factor' if avg else ''}", opts, x, t, lib=mm_lib,
             library=lambda x, t, red=red, avg=avg: mm.FocalLoss(use_sigmoid=True, reduction=red)(x, t, avg_factor=avg),
             call=f"FocalLoss(use_sigmoid=True, reduction='{red}')(pred, target{', avg_factor=%r' % avg if avg else ''})")
    # mmdet's RetinaHead: label_weights (0 for ignored anchors) as the sample weight, avg_factor the positives.
    g = gen(110)
    x, t = logits(g, 14, 4), index(g, 14, 4, p_bg=0.6, bg=4)
    w = (torch.rand(14, generator=g, dtype=F64) > 0.2).to(F64)
    npos = float(((t < 4) & (w > 0)).sum())
    case("mmdet label_weights avg_factor", {"like": "mmdet", "weight": "sample", "normalize": npos}, x, t, lib=mm_lib,
         library=lambda x, t, w=w, npos=npos: mm.FocalLoss(use_sigmoid=True)(x, t, weight=w, avg_factor=npos),
         call=f"FocalLoss(use_sigmoid=True)(pred, target, weight=label_weights, avg_factor={npos})", weight=w)
    # detectron2: RetinaNet.losses' loss_cls (ignore -1, background K, / max(1, positives)).
    d2_run, d2_lib = L["detectron2"]
    d2_call = "RetinaNet.losses(anchors, [pred[None]], [labels], ...)['loss_cls'], its loss_normalizer EMA at this batch's max(1, num_pos)"
    for i, (n, k, p_bg, p_ign) in enumerate([(20, 5, 0.6, 0.2), (10, 3, 1.0, 0.0), (16, 4, 0.5, 0.3)]):
        g = gen(200 + i)
        x, t = logits(g, n, k), index(g, n, k, ignore=-1, p_ignore=p_ign, p_bg=p_bg, bg=k)
        case(f"detectron2 retinanet {n}x{k}" + (" no positives" if p_bg == 1.0 else ""), {"like": "detectron2"}, x, t, lib=d2_lib,
             library=d2_run, call=d2_call)
    # The first training step: the EMA starts at 100 (losses()' initial value), so the normalizer is
    # 0.9·100 + 0.1·max(1, num_pos): a number to --normalize (or --normalize input), the ignored still dropped.
    g = gen(203)
    x, t = logits(g, 20, 5), index(g, 20, 5, ignore=-1, p_ignore=0.2, p_bg=0.6, bg=5)
    ema_first = 100 * 0.9 + max(1, int(((t >= 0) & (t != 5)).sum())) * (1 - 0.9)
    case("detectron2 retinanet first step EMA", {"like": "detectron2", "normalize": ema_first}, x, t, lib=d2_lib,
         library=retinanet_losses(L["detectron2_module"], L["detectron2_storage"], ema="unset"),
         call="RetinaNet.losses(anchors, [pred[None]], [labels], ...)['loss_cls'] on a fresh RetinaNet (its loss_normalizer EMA from 100)")
    g = gen(210)
    x, t = logits(g, 16, 4), index(g, 16, 4, ignore=-1, p_ignore=0.25, p_bg=0.4, bg=4)
    case("detectron2 float32 onehot", {"like": "detectron2", "dtype": "float32", "form": "onehot"}, x, t, lib=d2_lib, library=d2_run,
         call=d2_call, float32=True)
    # fvcore: FL*.
    fv, fv_lib = L["fvcore"]
    star = in_float64(fv.sigmoid_focal_loss_star)
    for i, (task, alpha, gamma, red) in enumerate([("binary", "none", 1, "sum"), ("multilabel", 0.25, 2, "mean"), ("multilabel", 0.5, 0.5, "none")]):
        g = gen(300 + i)
        shape = (15,) if task == "binary" else (8, 3)
        x, t = logits(g, *shape), dense(g, *shape)
        a = -1 if alpha == "none" else alpha
        case(f"fvcore star {task} gamma {gamma}", {"task": task, "input": "logits", "variant": "star", "alpha": alpha, "gamma": gamma, "reduction": red}, x, t,
             lib=fv_lib, library=lambda x, t, a=a, gamma=gamma, red=red: star(x, t, alpha=a, gamma=gamma, reduction=red),
             call=f"sigmoid_focal_loss_star(pred, target, alpha={a}, gamma={gamma}, reduction='{red}')")
    g = gen(310)
    x, t = logits(g, 8, 3), torch.rand(8, 3, generator=g, dtype=F64)
    case("fvcore star soft targets", {"like": "fvcore", "task": "multilabel", "variant": "star", "gamma": 1, "reduction": "sum", "form": "arith"}, x, t,
         lib=fv_lib, library=lambda x, t: star(x, t, reduction="sum"), call="sigmoid_focal_loss_star(pred, soft_target, reduction='sum')")
    # smp 0.5.0.
    smp, smp_lib = L["smp"]
    g = gen(400)
    x, t = logits(g, 20), dense(g, 20)
    case("smp binary", {"like": "smp"}, x, t, lib=smp_lib, library=lambda x, t: smp.FocalLoss("binary")(x, t), call="FocalLoss('binary')")
    g = gen(401)
    x, t = logits(g, 24), with_ignore(g, dense(g, 24), 255.0)
    case("smp binary ignore 255", {"like": "smp", "ignoreIndex": 255}, x, t, lib=smp_lib, library=lambda x, t: smp.FocalLoss("binary", ignore_index=255)(x, t),
         call="FocalLoss('binary', ignore_index=255)")
    g = gen(402)
    x, t = logits(g, 20), dense(g, 20)
    case("smp normalized sum", {"like": "smp", "normalized": True, "reduction": "sum", "alpha": 0.25}, x, t, lib=smp_lib,
         library=lambda x, t: smp.FocalLoss("binary", alpha=0.25, normalized=True, reduction="sum")(x, t),
         call="FocalLoss('binary', alpha=0.25, normalized=True, reduction='sum')")
    g = gen(403)
    x, t = logits(g, 20), dense(g, 20)
    case("smp normalized mean", {"like": "smp", "normalized": True}, x, t, lib=smp_lib, library=lambda x, t: smp.FocalLoss("binary", normalized=True)(x, t),
         call="FocalLoss('binary', normalized=True)")
    for i, X in enumerate([0.5, 0.2]):
        g = gen(404 + i)
        x, t = logits(g, 20), dense(g, 20)
        case(f"smp reduced {X}", {"like": "smp", "reducedThreshold": X, "reduction": "sum"}, x, t, lib=smp_lib,
             library=lambda x, t, X=X: smp.FocalLoss("binary", reduced_threshold=X, reduction="sum")(x, t),
             call=f"FocalLoss('binary', reduced_threshold={X}, reduction='sum')")
    g = gen(410)
    x, t = logits(g, 6, 4), dense(g, 6, 4)
    case("smp multilabel alpha", {"like": "smp", "task": "multilabel", "alpha": 0.25}, x, t, lib=smp_lib,
         library=lambda x, t: smp.FocalLoss("multilabel", alpha=0.25)(x, t), call="FocalLoss('multilabel', alpha=0.25)")
    g = gen(411)
    x, t = logits(g, 14, 5), index(g, 14, 5, ignore=255, p_ignore=0.2)
    # 0.5.0 sums the classes' losses (each the mean over the rows not ignored): Σ / (rows not ignored) = --normalize positives.
    case("smp multiclass ignore 255", {"like": "smp", "task": "multilabel", "targetFormat": "index", "normalize": "positives", "ignoreIndex": 255}, x, t,
         lib=smp_lib, library=lambda x, t: smp.FocalLoss("multiclass", ignore_index=255)(x, t), call="FocalLoss('multiclass', ignore_index=255)")
    # 0.5.0's normalized multiclass: each class divided by its own sum of focal factors, the classes summed (newer smp averages them).
    g = gen(412)
    x, t = logits(g, 12, 4), index(g, 12, 4, ignore=255, p_ignore=0.2)
    case("smp multiclass normalized ignore 255", {"like": "smp", "task": "multilabel", "targetFormat": "index", "normalize": "positives", "normalized": "label", "ignoreIndex": 255},
         x, t, lib=smp_lib, library=lambda x, t: smp.FocalLoss("multiclass", normalized=True, ignore_index=255)(x, t),
         call="FocalLoss('multiclass', normalized=True, ignore_index=255)")
    # 0.5.0's multilabel mode flattens every element, as binary: normalized divides by one sum over all (newer smp: each class by its own).
    g = gen(413)
    x, t = logits(g, 6, 4), dense(g, 6, 4)
    case("smp multilabel normalized", {"like": "smp", "task": "multilabel", "normalized": True}, x, t, lib=smp_lib,
         library=lambda x, t: smp.FocalLoss("multilabel", normalized=True)(x, t), call="FocalLoss('multilabel', normalized=True)")
    # kornia: binary_focal_loss_with_logits on [N, C] (ignored counted), focal_loss (multiclass).
    kornia, kornia_lib = L["kornia"]
    g = gen(500)
    x, t = logits(g, 7, 3), dense(g, 7, 3)
    case("kornia binary none", {"like": "kornia"}, x, t, lib=kornia_lib, library=lambda x, t: kornia.binary_focal_loss_with_logits(x, t),
         call="binary_focal_loss_with_logits(pred, target, alpha=0.25)")
    g = gen(501)
    x, t = logits(g, 8, 3), with_ignore(g, dense(g, 8, 3), 255.0)
    pw, w = [2.0, 0.5, 1.5], [1.0, 3.0, 0.25]
    case("kornia binary mean pos_weight weight ignore", {"like": "kornia", "reduction": "mean", "posWeight": pw, "classWeight": w, "ignoreIndex": 255}, x, t,
         lib=kornia_lib,
         library=lambda x, t: kornia.binary_focal_loss_with_logits(x, t, reduction="mean", pos_weight=torch.tensor(pw, dtype=F64), weight=torch.tensor(w, dtype=F64), ignore_index=255),
         call=f"binary_focal_loss_with_logits(pred, target, alpha=0.25, reduction='mean', pos_weight={pw}, weight={w}, ignore_index=255)")
    g = gen(502)
    N, C = 9, 4
    x, t = logits(g, N, C), index(g, N, C, ignore=255, p_ignore=0.2)
    w4 = [0.5, 1.0, 2.0, 1.5]
    case("kornia focal_loss multiclass mean", {"task": "multiclass", "input": "logits", "eps": 0, "alpha": [0.75, 0.25, 0.25, 0.25], "classWeight": w4, "ignoreIndex": 255, "normalize": N * C}, x, t,
         lib=kornia_lib, library=lambda x, t: kornia.focal_loss(x, t, alpha=0.25, reduction="mean", weight=torch.tensor(w4, dtype=F64), ignore_index=255),
         call=f"focal_loss(pred, target, alpha=0.25, reduction='mean', weight={w4}, ignore_index=255)")
    # MONAI: its own file runs in scripts/make-source-fixtures.py (test/fixtures/source-cases.json).
    # PyTorch BCEWithLogitsLoss(pos_weight): gamma 0, no alpha.
    g = gen(700)
    x, t = logits(g, 10, 3), dense(g, 10, 3, p=0.4)
    case("torch bce pos_weight", {"task": "multilabel", "input": "logits", "eps": 0, "gamma": 0, "alpha": "none", "posWeight": [3.0, 0.5, 1.0]}, x, t, lib=TORCH,
         library=lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor([3.0, 0.5, 1.0], dtype=F64)),
         call="torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0, 0.5, 1.0]))")
    g = gen(701)
    x, t = logits(g, 12), dense(g, 12, p=0.4)
    case("torch bce pos_weight binary", {"task": "binary", "input": "logits", "eps": 0, "gamma": 0, "alpha": "none", "posWeight": 2.5}, x, t, lib=TORCH,
         library=lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor(2.5, dtype=F64)),
         call="torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(2.5))")

    # focal-onnx's formula, for what no library has.
    g = gen(800)
    x, t = probs(g, 16), with_ignore(g, dense(g, 16), 255.0)
    for form in ("arith", "onehot"):
        case(f"binary probs ignore {form}", {"task": "binary", "ignoreIndex": 255, "form": form}, x, t)
    g = gen(801)
    x, t = probs(g, 8, 3), with_ignore(g, dense(g, 8, 3), -1.0)
    case("multilabel probs ignore positives class weight", {"task": "multilabel", "ignoreIndex": -1, "normalize": "positives", "classWeight": [1.0, 2.0, 0.5], "alpha": [0.25, 0.5, 0.75]}, x, t)
    case("multilabel probs pos weight normalize input", {"task": "multilabel", "posWeight": [2.0, 1.0, 4.0], "normalize": "input"}, x, torch.where(t < 0, torch.zeros_like(t), t), normalizer=3.25)
    g = gen(802)
    sm = torch.softmax(logits(g, 10, 4), 1)
    t = index(g, 10, 4, ignore=-1, p_ignore=0.3)
    for form in ("arith", "onehot"):
        case(f"multiclass probs ignore class weight {form}", {"task": "multiclass", "ignoreIndex": -1, "classWeight": [0.5, 1.0, 2.0, 4.0], "form": form}, sm, t)
        case(f"multiclass logits reduced normalized {form}", {"task": "multiclass", "input": "logits", "ignoreIndex": -1, "reducedThreshold": 0.3, "normalized": True, "gamma": 1.5, "form": form},
             logits(gen(803), 10, 4), t)
    g = gen(804)
    x, t = probs(g, 18), dense(g, 18)
    case("binary probs reduced", {"task": "binary", "reducedThreshold": 0.4, "reduction": "sum"}, x, t)
    case("binary probs normalized gamma 3", {"task": "binary", "normalized": True, "gamma": 3}, x, t)
    g = gen(805)
    x, t = logits(g, 9, 4), index(g, 9, 4, ignore=7, p_ignore=0.2, p_bg=0.3, bg=4)
    case("index logits eps ignore number", {"task": "multilabel", "input": "logits", "targetFormat": "index", "ignoreIndex": 7, "normalize": 4}, x, t)
    case("index logits onehot positives", {"task": "multilabel", "input": "logits", "targetFormat": "index", "ignoreIndex": 7, "normalize": "positives", "form": "onehot", "alpha": [0.1, 0.2, 0.3, 0.4]}, x, t)
    case("index logits ignore elements mean", {"task": "multilabel", "input": "logits", "targetFormat": "index", "ignoreIndex": 7, "classWeight": [1.0, 0.5, 2.0, 1.5]}, x, t)
    case("index logits ignore counted mean", {"task": "multilabel", "input": "logits", "targetFormat": "index", "ignoreIndex": 7, "countIgnored": True}, x, t)
    case("index probs star-free none", {"task": "multilabel", "targetFormat": "index", "ignoreIndex": 7, "reduction": "none"}, torch.sigmoid(x), t)
    case("index logits star", {"task": "multilabel", "input": "logits", "targetFormat": "index", "variant": "star", "gamma": 2, "ignoreIndex": 7, "normalize": "positives", "posWeight": 2.0}, x, t)
    g = gen(806)
    x, t = logits(g, 12, 3), dense(g, 12, 3)
    case("float32 multilabel normalized reduced", {"task": "multilabel", "input": "logits", "normalized": True, "reducedThreshold": 0.5, "dtype": "float32", "classWeight": [1.0, 0.5, 2.0]}, x, t, float32=True)


def run_case(c):
    x = c["pred"]
    if c["float32"]:
        x = x.to(torch.float32).to(F64)
    x = x.detach().clone().requires_grad_(True)
    t = c["target"]
    opts = c["options"]
    out = formula(opts, x, t, c["normalizer"], c["weight"])
    scalar = out if out.ndim == 0 else out.sum()
    (grad,) = torch.autograd.grad(scalar, x, allow_unused=False)
    source = "formula"
    if c["library"] is not None:
        lib = c["library"](x, t)
        lib_scalar = lib if lib.ndim == 0 else lib.sum()
        (lib_grad,) = torch.autograd.grad(lib_scalar, x)
        check(c["name"], out.detach(), lib.detach(), "loss")
        check(c["name"], grad, lib_grad, "grad")
        out, grad, source = lib.detach(), lib_grad, "library"
    o = resolve(opts)
    target_is_int = o["task"] == "multiclass" or o["targetFormat"] == "index"
    entry = {
        "name": c["name"],
        "options": opts,
        "source": source,
        "pred": [float(v) for v in x.detach().reshape(-1)],
        "predShape": list(x.shape),
        "target": [int(v) if target_is_int else float(v) for v in t.reshape(-1)],
        "targetShape": list(t.shape),
        "loss": float(out.detach()) if out.ndim == 0 else [float(v) for v in out.detach().reshape(-1)],
        "grad": [float(v) for v in grad.reshape(-1)],
        "positives": positives(o, t, x.shape[1] if x.ndim == 2 else 1),
        "ignored": int(ignored(o, t)),
    }
    if c["lib"]:
        entry.update(library=c["lib"]["name"], file=c["lib"]["file"], commit=c["lib"]["commit"], call=c["call"])
        if c["lib"].get("note"):
            entry["note"] = c["lib"]["note"]
    if c["normalizer"] is not None:
        entry["normalizer"] = c["normalizer"]
    if c["weight"] is not None:
        entry["weight"] = [float(v) for v in c["weight"]]
    return entry


def positives(o, t, L):
    """What eval reports: positive targets (1s, or class indices that are neither background nor ignored)."""
    ign = o["ignoreIndex"]
    valid = (t != ign) if ign is not None else torch.ones_like(t, dtype=torch.bool)
    if o["task"] == "multiclass":
        return int(valid.sum())
    if o["targetFormat"] == "index":
        return int((valid & (t != L)).sum())
    return int(((t == 1) & valid).sum())


def ignored(o, t):
    ign = o["ignoreIndex"]
    return 0 if ign is None else int((t == ign).sum())


def check(name, a, b, what):
    a, b = a.reshape(-1), b.reshape(-1)
    scale = max(1e-300, float(b.abs().max()))
    err = float((a - b).abs().max()) / scale
    if not err <= RTOL:
        sys.exit(f"{name}: formula() and the library's file differ in {what} by {err:.3g} (relative to the largest)")


def load_libraries(src):
    """The libraries' own files from `src` (scripts/library_sources.py): module (or callable) and info each."""
    fv = ls.load_fvcore(src)
    d2, d2_lib, storage = ls.load_detectron2(src, fv[0])
    return {
        "mmdet": ls.load_mmdet(src, "mmdet3"),
        "detectron2": (retinanet_losses(d2, storage), d2_lib),
        "detectron2_module": d2,
        "detectron2_storage": storage,
        "fvcore": fv,
        "smp": ls.load_smp(src, "smp-0.5.0"),
        "kornia": ls.load_kornia(src),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", required=True, help="the directory holding <lib>/<file> and <lib>/COMMIT (scripts/library_sources.py)")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    build_cases(load_libraries(os.path.abspath(args.sources)))
    cases = [run_case(c) for c in CASES]
    with open(args.out, "w") as f:
        f.write('{"generator": "scripts/make-detection-fixtures.py", "torch": "%s", "count": %d, "cases": [\n' % (torch.__version__, len(cases)))
        f.write(",\n".join(json.dumps(c, sort_keys=True, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")
    lib = sum(c["source"] == "library" for c in cases)
    print(f"wrote {os.path.relpath(args.out, REPO)}: {len(cases)} cases ({lib} from a library's own file, {len(cases) - lib} from the formula)")


if __name__ == "__main__":
    main()
