#!/usr/bin/env python3
"""Make test/fixtures/cases.json: golden focal-loss numbers computed by running the seed's own code.

What it does
    Builds ~300 focal-loss cases (task binary / multilabel / multiclass, input probs / logits, alpha number /
    list / null, several gammas, eps, reductions mean / sum / none, float32 / float64, opsets 13..21, graph
    forms arith / onehot), generates their data with fixed RNG seeds, and computes the expected loss and
    d(loss)/d(pred) in float64 with PyTorch autograd:
      * source "seed":      binary / multilabel, alpha a number, eps = 1e-4 -- the seed's FocalLoss /
                            FocalLoss_MultiLabel from ../shared/reference/seed_focal_loss.py (reduction "none":
                            the seed's FocalLoss(size_average=False) run on each element alone);
      * source "reference": everything the seed cannot express (alpha lists or null, other eps, the stable
                            eps = 0 logits form, multiclass) -- a float64 PyTorch function in this file,
                            loss = -alpha_t * (1 - clamp(p_t, eps, 1))^gamma * log(clamp(p_t, eps, 1)).
    Before writing anything it asserts that the reference equals the seed (rel. 1e-12) on every case where
    both apply: all seed cases, multilabel cases with per-label alpha (the seed run column by column with
    alpha_l) and two-class multiclass probability cases whose rows are [1 - p, p] (the seed's binary loss on
    p).  Values for float32 cases are computed in float64 on the inputs rounded to float32 (stored rounded).
    No number in the output is typed by hand.

How to run (from anywhere; the output is committed, rerun only when the cases change)
    apt-get install -y python3-torch python3-numpy
    /usr/bin/python3 scripts/make-fixtures.py
    FOCAL_SEED_PY=/path/to/seed_focal_loss.py /usr/bin/python3 scripts/make-fixtures.py   # other seed copy

The seed module is found at <repo root>/../shared/reference/seed_focal_loss.py (repo root = this file's
parent's parent) unless FOCAL_SEED_PY names another file.  The output is deterministic: running it twice
gives byte-identical JSON (one compact, key-sorted line per case; floats written with repr, which
round-trips float64 exactly).  It prints a coverage summary at the end.
"""
import hashlib
import importlib.util
import json
import os
import sys
import zlib
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

F64 = torch.float64
SEED_EPS = 1e-4
RTOL = 1e-12  # reference vs seed
BASE_SEED = 20170807  # the focal-loss paper's arXiv month, any fixed number would do

SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))
DEFAULT_SEED_PY = os.path.join(os.path.dirname(REPO), "shared", "reference", "seed_focal_loss.py")
OUT_DIR = os.path.join(REPO, "test", "fixtures")
OUT = os.path.join(OUT_DIR, "cases.json")


def load_seed():
    path = os.environ.get("FOCAL_SEED_PY") or DEFAULT_SEED_PY
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        sys.exit(f"seed module not found: {path} (set FOCAL_SEED_PY)")
    spec = importlib.util.spec_from_file_location("seed_focal_loss", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    return mod, path, sha


# ----------------------------------------------------------------------------------------------------------
# The cases
# ----------------------------------------------------------------------------------------------------------
TASKS = ("binary", "multilabel", "multiclass")
INPUTS = ("probs", "logits")
REDUCTIONS = ("mean", "sum", "none")
FORMS = ("arith", "onehot")
OPSETS = tuple(range(13, 22))

# (alpha, gamma, eps, dtype, data, extra) -- extra: shape / L / C / N overrides, note
BL_RECIPES = [
    (0.25, 2.0, 1e-4, "float32", "random", {}),
    (0.25, 2.0, 1e-4, "float64", "random", {}),
    (0.5, 0.0, 1e-4, "float64", "random", {}),
    (0.0, 1.0, 1e-4, "float32", "random", {}),
    (1.0, 5.0, 1e-4, "float64", "random", {}),
    (0.75, 1.7, 1e-4, "float32", "random", {}),
    (0.1, 2.5, 1e-4, "float64", "random", {}),
    (0.25, 0.5, 1e-4, "float32", "random", {}),
    (None, 2.0, 1e-4, "float64", "random", {}),
    (0.25, 2.0, 1e-7, "float32", "random", {}),
    (0.4, 1.0, 1e-3, "float64", "random", {}),
    (0.25, 2.0, 0.0, "float64", "random", {}),
    (None, 0.0, 0.0, "float32", "random", {}),
    (0.25, 2.0, 1e-4, "float32", "random", {"N": 1}),
    (0.25, 2.0, 1e-4, "float64", "edge", {}),
    (0.6, 0.0, 1e-4, "float32", "edge", {}),
    (0.25, 0.5, 1e-4, "float64", "edge", {}),
    (None, 2.0, 0.0, "float64", "edge", {}),
]
BINARY_EXTRA = [
    (0.25, 2.0, 1e-4, "float32", "random", {"shape": [4, 3]}),
    (0.5, 1.7, 1e-4, "float64", "random", {"shape": [2, 3, 4]}),
    (None, 2.0, 0.0, "float32", "random", {"shape": [3, 1, 2]}),
]
MULTILABEL_EXTRA = [
    ([0.25, 0.5, 0.75], 2.0, 1e-4, "float64", "random", {"L": 3}),
    ([0.0, 1.0, 0.3, 0.9, 0.5], 1.7, 1e-4, "float32", "random", {"L": 5}),
    ([0.1, 0.9], 0.5, 1e-7, "float64", "random", {"L": 2}),
    (0.25, 2.0, 1e-4, "float32", "random", {"L": 1}),
    ([0.3], 2.0, 0.0, "float64", "random", {"L": 1}),
    ([0.25, 0.75], 2.0, 1e-4, "float64", "edge", {}),
]
MULTICLASS_RECIPES = [
    (0.25, 2.0, 1e-4, "float32", "random", {"C": 4}),
    ([0.2, 0.3, 0.5], 2.0, 1e-4, "float64", "random", {"C": 3}),
    (None, 0.0, 1e-4, "float64", "random", {"C": 5}),
    (None, 2.0, 0.0, "float32", "random", {"C": 6}),
    ([0.75, 0.25], 2.0, 1e-4, "float64", "c2", {"C": 2}),
    (0.5, 0.5, 1e-4, "float32", "random", {"C": 3}),
    ([0.1, 0.2, 0.3, 0.4], 1.7, 1e-7, "float64", "random", {"C": 4}),
    (1.0, 5.0, 1e-3, "float64", "random", {"C": 2}),
    ([0.0, 1.0, 0.5], 1.0, 1e-4, "float32", "random", {"C": 3}),
    ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 2.5, 1e-4, "float32", "random", {"C": 6, "N": 1}),
    (0.25, 2.0, 1e-4, "float64", "edge", {}),
    (None, 0.0, 1e-4, "float32", "edge", {}),
    ([0.2, 0.3, 0.5], 2.0, 0.0, "float64", "edge", {}),
    (0.5, 1.0, 1e-4, "float64", "c2", {"C": 2}),
    (0.25, 2.0, 0.0, "float64", "random", {"C": 6, "N": 48}),
]


def recipes_for(task):
    if task == "binary":
        return BL_RECIPES + BINARY_EXTRA
    if task == "multilabel":
        return BL_RECIPES + MULTILABEL_EXTRA
    return MULTICLASS_RECIPES


def build_specs():
    specs = []
    for task in TASKS:
        for inp in INPUTS:
            for red in REDUCTIONS:
                for k, (alpha, gamma, eps, dtype, data, extra) in enumerate(recipes_for(task)):
                    specs.append(dict(
                        id=f"{task}-{inp}-{red}-{k:03d}", task=task, input=inp, reduction=red,
                        alpha=alpha, gamma=gamma, eps=eps, dtype=dtype, data=data, extra=extra,
                        form=FORMS[(k + REDUCTIONS.index(red)) % 2],
                    ))
    for i, s in enumerate(specs):
        s["opset"] = OPSETS[i % len(OPSETS)]
    return specs


# ----------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------
def sigmoid_np(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax_np(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def as_dtype(a, dtype):
    a = np.asarray(a, dtype=np.float64)
    if dtype == "float32":
        a = a.astype(np.float32).astype(np.float64)
    return a


def pt_of(p, t):
    return np.where(t > 0.5, p, 1.0 - p)


def edge_keep(pt, gamma, eps):
    """Drop elements whose autograd value would not be finite: p_t == 1 with 0 < gamma < 1 gives
    0 * 0^(gamma-1) = NaN in pow's backward; p_t == 0 with eps == 0 gives log(0)."""
    keep = np.ones(pt.shape, dtype=bool)
    if 0.0 < gamma < 1.0:
        keep &= pt != 1.0
    if eps == 0.0:
        keep &= pt != 0.0
    return keep


def gen_binary_like(rng, n, inp, eps, dtype):
    if inp == "probs":
        u = rng.uniform(0.0, 1.0, n)
        g = rng.uniform(size=n)
        tiny = 10.0 ** rng.uniform(-8.0, -3.0, n)
        near1 = 1.0 - 10.0 ** rng.uniform(-6.0, -3.0, n)
        coin = rng.uniform(size=n)
        tu = rng.uniform(size=n)
        if eps == 0.0:  # plain log without a floor: keep p_t away from 0
            p = 0.002 + 0.996 * u
            t = tu < p
        else:
            p = np.where(g < 0.1, tiny, np.where(g < 0.2, near1, u))
            t = np.where(g < 0.2, coin < 0.5, tu < p)
        return as_dtype(p, dtype), t.astype(np.float64)
    x = rng.normal(0.0, 3.0, n)
    g = rng.uniform(size=n)
    big = rng.uniform(9.5, 30.0, n) * np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
    coin = rng.uniform(size=n)
    tu = rng.uniform(size=n)
    x = np.clip(np.where(g < 0.15, big, x), -30.0, 30.0)
    t = np.where(g < 0.15, coin < 0.5, tu < sigmoid_np(x))
    return as_dtype(x, dtype), t.astype(np.float64)


def gen_binary_edge(inp, gamma, eps, dtype):
    if inp == "probs":
        vals = [0.0, 1.0, 1e-6, 1.0 - 1e-6, 0.5]
        if dtype == "float64" and eps > 0.0:
            vals.append(eps)  # p_t exactly at the clamp floor (t = 1)
    else:
        vals = [-30.0, -12.0, -1e-6, 0.0, 1e-6, 12.0, 30.0]
    pairs = [(v, t) for v in vals for t in (0.0, 1.0)]
    x = as_dtype([v for v, _ in pairs], dtype)
    t = np.array([t for _, t in pairs], dtype=np.float64)
    p = x if inp == "probs" else sigmoid_np(x)
    keep = edge_keep(pt_of(p, t), gamma, eps)
    note = ("edge: p in {0,1,1e-6,1-1e-6,0.5" + (",eps" if len(vals) == 6 else "") + "} x t in {0,1}"
            if inp == "probs" else "edge: logits in {+-30,+-12,+-1e-6,0} x t in {0,1}")
    if not keep.all():
        note += "; p_t in {0,1} left out where not finite"
    return x[keep], t[keep], note


def sample_classes(rng, probs):
    u = rng.uniform(size=probs.shape[0])
    cdf = np.cumsum(probs, axis=1)
    return np.minimum((u[:, None] > cdf).sum(axis=1), probs.shape[1] - 1)


def gen_multiclass(rng, n, c, inp, dtype, gamma):
    z = rng.normal(0.0, 2.0, (n, c))
    wide = rng.uniform(size=n) < 0.15
    # 0 < gamma < 1: keep every p_t below 1 even after float32 rounding (see edge_keep)
    lim = 6.0 if 0.0 < gamma < 1.0 else 30.0
    z = np.clip(np.where(wide[:, None], z * 6.0, z), -lim, lim)
    coin = rng.uniform(size=n) < 0.5
    t_uniform = rng.integers(0, c, n)
    t_sampled = sample_classes(rng, softmax_np(z))
    t = np.where(coin, t_uniform, t_sampled).astype(np.int64)
    pred = softmax_np(z) if inp == "probs" else z
    return as_dtype(pred, dtype), t


def gen_multiclass_edge(inp, gamma, eps, dtype):
    if inp == "probs":
        rows = [[1.0, 0.0, 0.0], [1e-6, 1.0 - 1e-6, 0.0], [0.5, 0.25, 0.25], [0.0, 1e-6, 1.0 - 1e-6]]
        if dtype == "float64" and eps > 0.0:
            rows.append([eps, 1.0 - eps, 0.0])
        note = "edge: one-hot and near-one-hot probability rows (p in {0,1,1e-6,1-1e-6}) x every target"
    else:
        rows = [[30.0, -30.0, 0.0], [-30.0, 30.0, 0.0], [0.0, 0.0, 0.0], [1e-6, 0.0, -1e-6], [30.0, 30.0, -30.0]]
        note = "edge: logit rows with +-30 x every target"
    pairs = [(r, k) for r in rows for k in range(3)]
    x = as_dtype([r for r, _ in pairs], dtype)
    t = np.array([k for _, k in pairs], dtype=np.int64)
    p = x if inp == "probs" else softmax_np(x)
    keep = edge_keep(p[np.arange(len(t)), t], gamma, eps)
    if not keep.all():
        note += "; p_t in {0,1} left out where not finite"
    return x[keep], t[keep], note


def gen_c2(rng, n, inp, dtype, gamma):
    """Two-class rows; for probs exactly [1 - p, p] so that the seed's binary loss on p applies."""
    if inp == "probs":
        p, t = gen_binary_like(rng, n, "probs", SEED_EPS, dtype)
        return np.stack([1.0 - p, p], axis=1), t.astype(np.int64)
    return gen_multiclass(rng, n, 2, inp, dtype, gamma)


def make_data(spec):
    rng = np.random.default_rng([BASE_SEED, zlib.crc32(spec["id"].encode())])
    task, inp, eps, dtype, extra = spec["task"], spec["input"], spec["eps"], spec["dtype"], spec["extra"]
    note = None
    if task == "binary":
        if spec["data"] == "edge":
            pred, target, note = gen_binary_edge(inp, spec["gamma"], eps, dtype)
            shape = [len(pred)]
        else:
            shape = extra.get("shape") or [extra.get("N") or int(rng.integers(6, 65))]
            pred, target = gen_binary_like(rng, int(np.prod(shape)), inp, eps, dtype)
            if len(shape) > 1:
                note = "multi-dimensional pred, flattened as the seed does"
        return pred.reshape(shape), target.reshape(shape), note
    if task == "multilabel":
        if spec["data"] == "edge":
            pred, target, note = gen_binary_edge(inp, spec["gamma"], eps, dtype)
            shape = [len(pred) // 2, 2]
        else:
            n = extra.get("N") or int(rng.integers(4, 33))
            lab = extra.get("L") or int(rng.integers(2, 6))
            shape = [n, lab]
            pred, target = gen_binary_like(rng, n * lab, inp, eps, dtype)
        return pred.reshape(shape), target.reshape(shape), note
    # multiclass
    if spec["data"] == "edge":
        pred, target, note = gen_multiclass_edge(inp, spec["gamma"], eps, dtype)
        return pred, target, note
    n = extra.get("N") or int(rng.integers(4, 49))
    c = extra["C"]
    if spec["data"] == "c2":
        pred, target = gen_c2(rng, n, inp, dtype, spec["gamma"])
        if inp == "probs":
            note = "two-class rows [1-p, p]: cross-checked against the seed's binary loss on p"
        return pred, target, note
    pred, target = gen_multiclass(rng, n, c, inp, dtype, spec["gamma"])
    return pred, target, note


# ----------------------------------------------------------------------------------------------------------
# The reference (float64 PyTorch); anchored to the seed below
# ----------------------------------------------------------------------------------------------------------
def reference_elementwise(spec, x, t):
    """Per-element focal loss from the graph input x (a float64 leaf): shaped like x for binary /
    multilabel, [N] for multiclass."""
    task, inp, alpha, gamma, eps = spec["task"], spec["input"], spec["alpha"], spec["gamma"], spec["eps"]
    stable = inp == "logits" and eps == 0.0
    if task == "multiclass":
        idx = t.view(-1, 1)
        if stable:
            log_p = F.log_softmax(x, dim=1).gather(1, idx).view(-1)
            one_minus = -torch.expm1(log_p)
        else:
            p = F.softmax(x, dim=1) if inp == "logits" else x
            p_t = p.gather(1, idx).view(-1).clamp(min=eps, max=1.0)
            log_p = p_t.log()
            one_minus = 1 - p_t
        if alpha is None:
            alpha_t = torch.ones_like(log_p)
        elif isinstance(alpha, list):
            alpha_t = torch.tensor(alpha, dtype=F64)[t]
        else:
            alpha_t = torch.full_like(log_p, alpha)
    else:
        pos = t > 0.5
        if stable:
            z = torch.where(pos, x, -x)
            log_p = F.logsigmoid(z)
            one_minus = torch.sigmoid(-z)
        else:
            p = torch.sigmoid(x) if inp == "logits" else x
            p_t = torch.where(pos, p, 1 - p).clamp(min=eps, max=1.0)
            log_p = p_t.log()
            one_minus = 1 - p_t
        if alpha is None:
            alpha_t = torch.ones_like(log_p)
        else:
            a = torch.tensor(alpha, dtype=F64)  # a list broadcasts along the label (last) axis
            alpha_t = torch.where(pos, a.expand_as(x), (1 - a).expand_as(x))
    return -alpha_t * torch.pow(one_minus, gamma) * log_p


def run_reference(spec, pred, target):
    x = torch.tensor(pred, dtype=F64, requires_grad=True)
    t = torch.tensor(target, dtype=torch.int64 if spec["task"] == "multiclass" else F64)
    elem = reference_elementwise(spec, x, t)
    red = spec["reduction"]
    total = elem.mean() if red == "mean" else elem.sum()
    total.backward()
    out = dict(loss=(elem if red == "none" else total).detach().numpy().copy(), grad=x.grad.numpy().copy())
    if spec["task"] == "multilabel" and red != "none":
        with torch.no_grad():
            out["perLabel"] = (elem.mean(dim=0) if red == "mean" else elem.sum(dim=0)).numpy().copy()
    return out


# ----------------------------------------------------------------------------------------------------------
# The seed
# ----------------------------------------------------------------------------------------------------------
def seed_kind(spec, pred):
    """How the seed's code can compute this case: 'direct' (the case's source is the seed), 'anchor'
    (the seed applies after a mapping: per-label alpha column by column, or two-class rows [1-p, p]),
    or None."""
    task, alpha, eps = spec["task"], spec["alpha"], spec["eps"]
    if eps != SEED_EPS or alpha is None:
        return None
    if task in ("binary", "multilabel") and not isinstance(alpha, list):
        return "direct"
    if task == "multilabel":
        return "anchor"
    if task == "multiclass" and spec["input"] == "probs" and pred.shape[1] == 2:
        if c2_seed_alpha(alpha) is not None and np.array_equal(pred[:, 0], 1.0 - pred[:, 1]):
            return "anchor"
    return None


def c2_seed_alpha(alpha):
    """Two-class alpha_t = [a0, a1][t] is the seed's (1 - a, a) when a0 == 1 - a1."""
    if isinstance(alpha, list):
        return alpha[1] if len(alpha) == 2 and alpha[0] == 1.0 - alpha[1] else None
    return 0.5 if alpha == 0.5 else None


def run_seed(seed, spec, pred, target):
    task, inp, alpha, gamma, red = spec["task"], spec["input"], spec["alpha"], spec["gamma"], spec["reduction"]
    size_average = red == "mean"
    if task == "multiclass":  # two-class rows [1 - p, p]: the seed's binary loss on p (column 1)
        a = c2_seed_alpha(alpha)
        x = torch.tensor(pred[:, 1].copy(), dtype=F64, requires_grad=True)
        t = torch.tensor(target, dtype=F64)
        crit = seed.FocalLoss(a, gamma, size_average)
        if red == "none":
            crit1 = seed.FocalLoss(a, gamma, False)
            elem = torch.stack([crit1(x[i:i + 1], t[i:i + 1]) for i in range(len(x))])
            total = elem.sum()
            loss = elem
        else:
            total = loss = crit(x, t)
        total.backward()
        g = x.grad.numpy()
        grad = np.zeros_like(pred)
        pos = target == 1
        grad[pos, 1] = g[pos]       # d/dp_t where t = 1: p_t = p
        grad[~pos, 0] = -g[~pos]    # where t = 0: p_t = 1 - p, so d/dp = -d/dp_t
        return dict(loss=loss.detach().numpy().copy(), grad=grad)

    x = torch.tensor(pred, dtype=F64, requires_grad=True)
    t = torch.tensor(target, dtype=F64)
    p = torch.sigmoid(x) if inp == "logits" else x  # as seed_focal_loss.py --logits does
    out = {}
    if task == "binary":
        if red == "none":
            crit = seed.FocalLoss(alpha, gamma, False)
            pf, tf = p.reshape(-1), t.reshape(-1)
            elem = torch.stack([crit(pf[i:i + 1], tf[i:i + 1]) for i in range(pf.numel())]).view(p.shape)
            total, loss = elem.sum(), elem
        else:
            total = loss = seed.FocalLoss(alpha, gamma, size_average)(p, t)
    else:
        n, lab = p.shape
        alphas = alpha if isinstance(alpha, list) else [alpha] * lab
        if red == "none":
            crits = [seed.FocalLoss(alphas[j], gamma, False) for j in range(lab)]
            elem = torch.stack([torch.stack([crits[j](p[i:i + 1, j], t[i:i + 1, j]) for j in range(lab)])
                                for i in range(n)])
            total, loss = elem.sum(), elem
        elif isinstance(alpha, list):  # FocalLoss_MultiLabel takes one alpha: run its loop with alpha_l
            cols = [seed.FocalLoss(alphas[j], gamma, size_average)(p[:, j], t[:, j]) for j in range(lab)]
            stacked = torch.stack(cols)
            total = loss = stacked.mean() if size_average else stacked.sum()
        else:
            total = loss = seed.FocalLoss_MultiLabel(alpha, gamma, size_average)(p, t)
        if red != "none":
            with torch.no_grad():  # the per-label values the seed stores in loss[0, label]
                out["perLabel"] = np.array([seed.FocalLoss(alphas[j], gamma, size_average)(p[:, j], t[:, j]).item()
                                            for j in range(lab)])
    total.backward()
    out["loss"] = loss.detach().numpy().copy()
    out["grad"] = x.grad.numpy().copy()
    return out


# ----------------------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------------------
def close(a, b, rtol, atol=0.0):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    return bool(np.all(np.abs(a - b) <= rtol * np.maximum(np.abs(a), np.abs(b)) + atol))


def assert_same(cid, what, a, b, rtol=RTOL, atol=0.0):
    if not close(a, b, rtol, atol):
        a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
        i = int(np.argmax(np.abs(a - b))) if a.shape == b.shape else 0
        sys.exit(f"MISMATCH {cid} {what}: {a[i] if a.size else a!r} vs {b[i] if b.size else b!r} "
                 f"(shapes {np.shape(a)} {np.shape(b)})")


def library_forms(spec, pred, target):
    """Independent textbook formulas for internal consistency (not the seed): torchvision's
    sigmoid_focal_loss and kornia's focal_loss written out, F.binary_cross_entropy_with_logits and
    F.cross_entropy for gamma = 0 without alpha. Returns per-element losses or None."""
    if spec["input"] != "logits" or spec["eps"] != 0.0:
        return None
    x = torch.tensor(pred, dtype=F64)
    alpha, gamma = spec["alpha"], spec["gamma"]
    if spec["task"] == "multiclass":
        t = torch.tensor(target, dtype=torch.int64)
        p = F.softmax(x, dim=1)
        onehot = F.one_hot(t, x.shape[1]).to(F64)
        w = torch.ones_like(x) if alpha is None else (
            torch.tensor(alpha, dtype=F64).expand_as(x) if isinstance(alpha, list) else torch.full_like(x, alpha))
        kornia = (onehot * (-w * torch.pow(1.0 - p, gamma) * F.log_softmax(x, dim=1))).sum(dim=1)
        if gamma == 0.0 and alpha is None:
            assert_same(spec["id"], "cross_entropy", kornia, F.cross_entropy(x, t, reduction="none"), 1e-12, 1e-300)
        return kornia
    t = torch.tensor(target, dtype=F64)
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha is not None:
        a = torch.tensor(alpha, dtype=F64)
        loss = (a * t + (1 - a) * (1 - t)) * loss
    return loss


# ----------------------------------------------------------------------------------------------------------
def flat(a):
    # + 0.0 turns -0.0 (e.g. -alpha * 0 * log(1)) into 0.0, so the JSON never holds a negative zero
    return [float(v) + 0.0 for v in np.asarray(a, dtype=np.float64).ravel()]


def main():
    seed, seed_path, seed_sha = load_seed()
    specs = build_specs()
    cases = []
    checked = Counter()
    internal = 0
    for spec in specs:
        pred, target, note = make_data(spec)
        ref = run_reference(spec, pred, target)
        kind = seed_kind(spec, pred)
        if kind is not None:
            sd = run_seed(seed, spec, pred, target)
            for key in ("loss", "grad", "perLabel"):
                if key in sd:
                    assert_same(spec["id"], key, ref[key], sd[key])
            checked[kind] += 1
        lib = library_forms(spec, pred, target)
        if lib is not None:  # per element; loose tolerance: those formulas lose digits where 1 - p_t is tiny
            with torch.no_grad():
                x = torch.tensor(pred, dtype=F64)
                t = torch.tensor(target, dtype=torch.int64 if spec["task"] == "multiclass" else F64)
                elem = reference_elementwise(spec, x, t)
            assert_same(spec["id"], "library form", elem, lib, 1e-8, 1e-12)
            internal += 1
        if spec["gamma"] == 0.0 and spec["alpha"] is None and spec["eps"] > 0.0:
            internal += 1  # gamma = 0, no alpha: exactly the clamped cross-entropy -log(clamp(p_t, eps, 1))
            with torch.no_grad():
                x = torch.tensor(pred, dtype=F64)
                if spec["task"] == "multiclass":
                    p = F.softmax(x, 1) if spec["input"] == "logits" else x
                    p_t = p[torch.arange(len(target)), torch.tensor(target)]
                else:
                    p = torch.sigmoid(x) if spec["input"] == "logits" else x
                    p_t = torch.where(torch.tensor(target) > 0.5, p, 1 - p)
                ce = -p_t.clamp(spec["eps"], 1.0).log()
                ce = ce if spec["reduction"] == "none" else (ce.mean() if spec["reduction"] == "mean" else ce.sum())
            assert_same(spec["id"], "clamped CE", ref["loss"], ce.numpy(), 1e-13)

        res = sd if kind == "direct" else ref
        source = "seed" if kind == "direct" else "reference"
        for key in ("loss", "grad", "perLabel"):
            if key in res and not np.isfinite(res[key]).all():
                sys.exit(f"non-finite {key} in {spec['id']}")
        case = dict(
            id=spec["id"], task=spec["task"], input=spec["input"], alpha=spec["alpha"], gamma=spec["gamma"],
            reduction=spec["reduction"], eps=spec["eps"], dtype=spec["dtype"], opset=spec["opset"],
            form=spec["form"], predShape=list(pred.shape), targetShape=list(target.shape),
            pred=flat(pred),
            target=[int(v) for v in target.ravel()] if spec["task"] == "multiclass" else flat(target),
            loss=flat(res["loss"]) if spec["reduction"] == "none" else float(res["loss"]) + 0.0,
            grad=flat(res["grad"]), source=source,
        )
        if "perLabel" in res:
            case["perLabel"] = flat(res["perLabel"])
        if note:
            case["note"] = note
        cases.append(case)

    lines = [json.dumps(c, sort_keys=True, separators=(",", ":"), allow_nan=False) for c in cases]
    head = {"generator": "scripts/make-fixtures.py", "torch": torch.__version__,
            "seed": os.path.relpath(seed_path, REPO).replace(os.sep, "/"), "seedSha256": seed_sha,
            "count": len(cases)}
    text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(head.items()))
    text += ',"cases":[\n' + ",\n".join(lines) + "\n]}\n"
    json.loads(text)  # valid JSON
    os.makedirs(OUT_DIR, exist_ok=True)
    tmp = OUT + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, OUT)

    report(cases, checked, internal, seed_path, len(text.encode()))


def report(cases, checked, internal, seed_path, nbytes):
    print(f"seed module: {seed_path}")
    print(f"wrote {os.path.relpath(OUT, REPO)}: {len(cases)} cases, {nbytes} bytes, "
          f"sha256 {hashlib.sha256(open(OUT, 'rb').read()).hexdigest()[:16]}")
    print(f"reference cross-checked against the seed (rel {RTOL:g}): {sum(checked.values())} cases "
          f"({checked['direct']} seed-source cases, {checked['anchor']} reference cases anchored: per-label alpha "
          f"column by column, two-class rows [1-p, p])")
    print(f"internal consistency checks (torchvision/kornia formulas, cross-entropy at gamma 0): {internal}")

    def alpha_kind(a):
        return "null" if a is None else ("list" if isinstance(a, list) else repr(a))

    dims = [
        ("task", lambda c: c["task"]), ("input", lambda c: c["input"]), ("form", lambda c: c["form"]),
        ("reduction", lambda c: c["reduction"]), ("dtype", lambda c: c["dtype"]), ("opset", lambda c: c["opset"]),
        ("source", lambda c: c["source"]), ("alpha", lambda c: alpha_kind(c["alpha"])),
        ("gamma", lambda c: c["gamma"]), ("eps", lambda c: c["eps"]),
        ("edge", lambda c: "edge" if c.get("note", "").startswith("edge") else "-"),
    ]
    print("\ncoverage")
    for name, f in dims:
        cnt = Counter(f(c) for c in cases)
        print(f"  {name:<10}" + "  ".join(f"{k}:{v}" for k, v in sorted(cnt.items(), key=lambda kv: str(kv[0]))))
    print("\n  task       input   reduction   arith onehot  seed ref")
    grid = Counter((c["task"], c["input"], c["reduction"], c["form"]) for c in cases)
    src = Counter((c["task"], c["input"], c["reduction"], c["source"]) for c in cases)
    for task in TASKS:
        for inp in INPUTS:
            for red in REDUCTIONS:
                print(f"  {task:<10} {inp:<7} {red:<9} {grid[(task, inp, red, 'arith')]:>7} "
                      f"{grid[(task, inp, red, 'onehot')]:>6} {src[(task, inp, red, 'seed')]:>5} "
                      f"{src[(task, inp, red, 'reference')]:>4}")
    n1 = sum(1 for c in cases if c["predShape"][0] == 1)
    l1 = sum(1 for c in cases if c["task"] == "multilabel" and c["predShape"][1] == 1)
    c2 = sum(1 for c in cases if c["task"] == "multiclass" and c["predShape"][1] == 2)
    nd = sum(1 for c in cases if c["task"] == "binary" and len(c["predShape"]) > 1)
    print(f"\n  N=1: {n1}  L=1: {l1}  C=2: {c2}  C max: "
          f"{max(c['predShape'][1] for c in cases if c['task'] == 'multiclass')}  multi-dim binary: {nd}")
    print("  opset x form: " + "  ".join(
        f"{o}:{sum(1 for c in cases if c['opset'] == o and c['form'] == 'arith')}/"
        f"{sum(1 for c in cases if c['opset'] == o and c['form'] == 'onehot')}" for o in OPSETS))

    # what the fixture set promises
    missing = [(t, i, r, f) for t in TASKS for i in INPUTS for r in REDUCTIONS for f in FORMS if not grid[(t, i, r, f)]]
    assert not missing, missing
    assert {c["opset"] for c in cases} == set(OPSETS)
    assert len(cases) >= 200
    kinds = {alpha_kind(c["alpha"]) for c in cases}
    assert {"0.0", "1.0", "0.25", "0.5", "list", "null"} <= kinds, kinds
    assert {0.0, 0.5, 1.0, 2.0, 1.7, 2.5, 5.0} <= {c["gamma"] for c in cases}
    assert {1e-4, 1e-7, 1e-3, 0.0} <= {c["eps"] for c in cases}


if __name__ == "__main__":
    main()
