#!/usr/bin/env python3
"""Golden cases from the libraries' own focal losses: torchvision, optax and Keras 3 (on JAX).

Usage: KERAS_BACKEND=jax JAX_PLATFORMS=cpu .venv/bin/python scripts/make-lib-fixtures.py \
           > test/fixtures/lib-cases.json

Deterministic (a fixed seed; every library computes in float64). Each case is the library call
(as text), the focal-onnx options that claim the same numbers, the inputs, the loss the library
returns and the gradient with respect to its prediction input by autograd through the library's
own function: torch.autograd for torchvision, jax.grad for optax and for Keras on JAX. For
reduction none the gradient is of the sum of the elements (focal-onnx's `grad`).

torchvision's compiled ops do not load with this torch, so `torchvision/ops/focal_loss.py` (plain
PyTorch) is loaded from its file, its one import of torchvision's usage logger replaced.
"""
import importlib.util
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import torch  # noqa: E402
from importlib.metadata import version  # noqa: E402

keras.backend.set_floatx("float64")


def load_torchvision_focal():
    spec = importlib.util.find_spec("torchvision")
    path = os.path.join(os.path.dirname(spec.origin), "ops", "focal_loss.py")
    src = open(path).read().replace("from ..utils import _log_api_usage_once", "_log_api_usage_once = lambda f: None")
    ns = {"__name__": "torchvision_focal_loss"}
    exec(compile(src, path, "exec"), ns)
    return ns["sigmoid_focal_loss"]


tv_focal = load_torchvision_focal()
rng = np.random.default_rng(20261201)
N, L, C = 7, 3, 4
cases = []


def tolist(a):
    return np.asarray(a, dtype=np.float64).tolist()


def add(library, call, options, pred, target, loss, grad, weight=None):
    case = {
        "name": f"{library}: {call}",
        "library": library,
        "call": call,
        "options": options,
        "pred": tolist(pred),
        "predShape": list(np.shape(pred)),
        "target": np.asarray(target).tolist(),
        "targetShape": list(np.shape(target)),
        "loss": tolist(loss),
        "grad": tolist(grad),
    }
    if weight is not None:
        case["weight"] = tolist(weight)
        case["weightShape"] = list(np.shape(weight))
    cases.append(case)


def logits(shape, scale=2.5):
    return rng.normal(size=shape) * scale


def probs(shape):
    return rng.uniform(0.02, 0.98, size=shape)


def soft(shape):
    t = rng.uniform(0, 1, size=shape)
    flat = t.reshape(-1)
    flat[::5] = np.round(flat[::5])  # some exact 0/1 among the soft ones
    return t


def hard(shape):
    return (rng.uniform(size=shape) < 0.3).astype(np.float64)


# ---- torchvision.ops.sigmoid_focal_loss --------------------------------------------------------
def torchvision_case(task, targets, alpha, gamma, reduction, weight_kind=None):
    shape = (N,) if task == "binary" else (N, L)
    x = logits(shape)
    t = soft(shape) if targets == "soft" else hard(shape)
    xt = torch.tensor(x, requires_grad=True)
    w = None
    if weight_kind is None:
        out = tv_focal(xt, torch.tensor(t), alpha=alpha, gamma=gamma, reduction=reduction)
        call = f"sigmoid_focal_loss(x, t, alpha={alpha}, gamma={gamma}, reduction='{reduction}')"
    else:
        # mmdet-style weights: the library's element losses times w, then the torch mean (Σ w·l / count).
        w = rng.uniform(0.1, 2.0, size=(N,) if weight_kind == "sample" else shape)
        wt = torch.tensor(w if weight_kind == "element" or task == "binary" else w[:, None])
        out = (tv_focal(xt, torch.tensor(t), alpha=alpha, gamma=gamma, reduction="none") * wt).mean()
        call = f"(sigmoid_focal_loss(x, t, alpha={alpha}, gamma={gamma}) * w{'[:, None]' if weight_kind == 'sample' and task != 'binary' else ''}).mean()"
        reduction = "mean"
    out.sum().backward()
    options = {"like": "torchvision", "task": task, "gamma": gamma, "reduction": reduction}
    if alpha != 0.25:
        options["alpha"] = alpha  # -1: torchvision's "no α", read as none under like torchvision
    if targets == "hard":
        options["targets"] = "hard"
    if weight_kind:
        options["weight"] = weight_kind
    add("torchvision", call, options, x, t, out.detach().numpy(), xt.grad.numpy(), w)


for task in ("binary", "multilabel"):
    for targets in ("soft", "hard"):
        torchvision_case(task, targets, 0.25, 2, "none")
        torchvision_case(task, targets, 0.25, 2, "mean")
    torchvision_case(task, "soft", -1, 2, "sum")
    torchvision_case(task, "soft", 0.6, 1.5, "mean")
    torchvision_case(task, "soft", 0.25, 0, "sum")
    torchvision_case(task, "soft", 0.25, 1, "none")
    torchvision_case(task, "soft", 0.25, 2, "mean", "sample")
    torchvision_case(task, "soft", 0.25, 2, "mean", "element")


# ---- optax.losses.sigmoid_focal_loss -------------------------------------------------------------
def optax_case(task, alpha, gamma, reduce, smoothing=0.0):
    shape = (N,) if task == "binary" else (N, L)
    x = logits(shape)
    t0 = soft(shape)
    # optax takes soft labels; label smoothing is the caller's optax.smooth_labels-style transform
    # of 0/1 labels (Keras' binary form: t·(1 − X) + X/2), so the hard labels go in with --label-smoothing.
    t = hard(shape) if smoothing else t0
    tl = t * (1 - smoothing) + 0.5 * smoothing if smoothing else t

    def f(xx):
        out = optax.losses.sigmoid_focal_loss(xx, jnp.asarray(tl), alpha=alpha, gamma=gamma)
        return out.sum() if reduce == "sum" else out.mean() if reduce == "mean" else out

    out = f(jnp.asarray(x))
    g = jax.grad(lambda xx: jnp.sum(f(xx)))(jnp.asarray(x))
    reduction = reduce or "none"
    options = {"like": "optax", "task": task, "gamma": gamma, "reduction": reduction}
    if alpha is not None:
        options["alpha"] = alpha
    call = f"sigmoid_focal_loss(x, t{' smoothed' if smoothing else ''}, alpha={alpha}, gamma={gamma}){'.' + reduce + '()' if reduce else ''}"
    if smoothing:
        options["labelSmoothing"] = smoothing
        options["targets"] = "hard"
    add("optax", call, options, x, t, out, g)


for task in ("binary", "multilabel"):
    optax_case(task, None, 2.0, None)
    optax_case(task, 0.25, 2.0, "mean")
    optax_case(task, 0.75, 0.5, "sum")
    optax_case(task, None, 3.0, "mean", smoothing=0.1)


# ---- keras.losses.BinaryFocalCrossentropy / CategoricalFocalCrossentropy -------------------------
KERAS_REDUCTIONS = {"sum_over_batch_size": "mean", "sum": "sum", "mean_with_sample_weight": "weighted-mean", None: "none"}


def keras_binary_case(task, from_logits, balancing, alpha, gamma, smoothing, reduction, sample_weight, targets="soft"):
    shape = (N, 1) if task == "binary" else (N, L)
    x = logits(shape) if from_logits else probs(shape)
    t = soft(shape) if targets == "soft" else hard(shape)
    w = rng.uniform(0.1, 2.0, size=(N,)) if sample_weight else None
    loss = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=balancing, alpha=alpha, gamma=gamma, from_logits=from_logits,
        label_smoothing=smoothing, reduction=reduction, dtype="float64")

    def f(xx):
        return loss(jnp.asarray(t), xx, sample_weight=None if w is None else jnp.asarray(w))

    out = f(jnp.asarray(x))
    g = jax.grad(lambda xx: jnp.sum(f(xx)))(jnp.asarray(x))
    options = {"like": "keras", "task": task, "gamma": gamma, "reduction": KERAS_REDUCTIONS[reduction]}
    if from_logits:
        options["input"] = "logits"
    if balancing:
        options["alpha"] = alpha
    if smoothing:
        options["labelSmoothing"] = smoothing
    if targets == "hard":
        options["targets"] = "hard"
    if w is not None:
        options["weight"] = "sample"
    args = [f"apply_class_balancing=True, alpha={alpha}" if balancing else "", f"gamma={gamma}",
            "from_logits=True" if from_logits else "", f"label_smoothing={smoothing}" if smoothing else "",
            f"reduction={reduction!r}"]
    call = f"BinaryFocalCrossentropy({', '.join(a for a in args if a)})(t, p{', sample_weight=w' if w is not None else ''})"
    squeeze = (lambda a: np.asarray(a).reshape(N)) if task == "binary" else np.asarray
    add("keras", call, options, squeeze(x), squeeze(t), out, squeeze(g), w)


for task in ("binary", "multilabel"):
    keras_binary_case(task, False, False, 0.25, 2.0, 0.0, "sum_over_batch_size", False)
    keras_binary_case(task, True, True, 0.25, 2.0, 0.0, "sum_over_batch_size", False)
    keras_binary_case(task, False, True, 0.4, 1.5, 0.1, "sum", False)
    keras_binary_case(task, True, False, 0.25, 2.0, 0.2, None, False, targets="hard")
    keras_binary_case(task, False, False, 0.25, 3.0, 0.0, "sum_over_batch_size", True)
    keras_binary_case(task, True, True, 0.3, 2.0, 0.05, "mean_with_sample_weight", True)
    keras_binary_case(task, False, True, 0.25, 0.0, 0.0, None, True)


def keras_categorical_case(from_logits, alpha, gamma, smoothing, reduction, sample_weight, targets):
    x = logits((N, C)) if from_logits else rng.dirichlet(np.ones(C) * 2, size=N)
    if targets == "soft":
        t = rng.dirichlet(np.ones(C), size=N)
        t_keras = t
    else:
        t = rng.integers(0, C, size=N)
        t_keras = np.eye(C)[t]
    w = rng.uniform(0.1, 2.0, size=(N,)) if sample_weight else None
    loss = keras.losses.CategoricalFocalCrossentropy(
        alpha=alpha, gamma=gamma, from_logits=from_logits, label_smoothing=smoothing, reduction=reduction, dtype="float64")

    def f(xx):
        return loss(jnp.asarray(t_keras), xx, sample_weight=None if w is None else jnp.asarray(w))

    out = f(jnp.asarray(x))
    g = jax.grad(lambda xx: jnp.sum(f(xx)))(jnp.asarray(x))
    options = {"like": "keras", "task": "multiclass", "alpha": alpha, "gamma": gamma, "reduction": KERAS_REDUCTIONS[reduction]}
    if from_logits:
        options["input"] = "logits"
    if smoothing:
        options["labelSmoothing"] = smoothing
    if targets == "hard":
        options["targets"] = "hard"
    if w is not None:
        options["weight"] = "sample"
    args = [f"alpha={alpha}", f"gamma={gamma}", "from_logits=True" if from_logits else "",
            f"label_smoothing={smoothing}" if smoothing else "", f"reduction={reduction!r}"]
    tname = "t" if targets == "soft" else "one_hot(t)"
    call = f"CategoricalFocalCrossentropy({', '.join(a for a in args if a)})({tname}, p{', sample_weight=w' if w is not None else ''})"
    add("keras", call, options, x, t, out, g, w)


keras_categorical_case(False, 0.25, 2.0, 0.0, "sum_over_batch_size", False, "soft")
keras_categorical_case(True, 0.25, 2.0, 0.0, "sum_over_batch_size", False, "soft")
keras_categorical_case(False, 0.5, 1.5, 0.1, "sum", False, "soft")
keras_categorical_case(True, 0.25, 2.0, 0.2, None, False, "hard")
keras_categorical_case(False, 0.25, 2.0, 0.1, "sum_over_batch_size", True, "hard")
keras_categorical_case(True, 1.0, 3.0, 0.0, "mean_with_sample_weight", True, "soft")
keras_categorical_case(False, 0.25, 0.0, 0.0, None, True, "soft")

json.dump(
    {
        "generator": "scripts/make-lib-fixtures.py",
        "versions": {"torch": torch.__version__, "torchvision": version("torchvision"), "optax": optax.__version__,
                     "keras": keras.__version__, "jax": jax.__version__, "numpy": np.__version__},
        "cases": cases,
    },
    sys.stdout,
    indent=None,
    separators=(",", ":"),
)
sys.stdout.write("\n")
