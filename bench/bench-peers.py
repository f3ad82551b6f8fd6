#!/usr/bin/env python3
"""Times what a user would run instead of focal-onnx, on a pair of .npy files, for `npm run bench`.

Run with the project's venv (scripts/setup-python.sh makes it): PyTorch 2.13, torchvision, JAX, optax.

The peers (--peer), each the mean focal loss (alpha 0.25, gamma 2) over every element:
    torch-seed           PyTorch eager, the seed's formula on probabilities:
                         -a_t (1 - clamp(p_t, eps, 1))^g log clamp(p_t, eps, 1), p_t and a_t by t
    torch-compile-seed   the same function through torch.compile (inductor, CPU)
    torch-tv             PyTorch eager, torchvision's sigmoid_focal_loss(reduction="mean") on logits,
                         loaded from its file (torchvision's compiled ops do not load here)
    torch-compile-tv     the same function through torch.compile
    jax-optax            jax.jit of jnp.mean(optax.losses.sigmoid_focal_loss(...)) on logits
    numpy                the seed's formula in NumPy float32 on probabilities

The seed-formula peers read PRED (probabilities); the logits peers read --logits (the logits of the
same probabilities, written by bench.ts). Every peer computes in float32, the files' type.

What it prints (one JSON line on stdout)
    {"peer", "loss", "n", "threads", "versions", "import_s", "load_s", "first_s", "times_s",
     "max_rss_kb"}
    import_s: importing the libraries (and, for torch.compile / jax.jit, nothing compiled yet);
    load_s: np.load of both files (and the conversion to the library's arrays);
    first_s: the first call, which for torch.compile and jax.jit includes compiling;
    times_s: each of the --repeat further calls (data in memory; empty with --repeat 0);
    max_rss_kb: the process's peak resident memory (getrusage, kB on Linux).
    With --repeat 0 the process does what a user's script does once, so its whole run time (measured
    by the caller) is the peer's end-to-end time.

    .venv/bin/python bench/bench-peers.py PRED.npy TARGET.npy --peer NAME [--logits LOGITS.npy]
        [--threads 2] [--repeat 5] [--alpha 0.25] [--gamma 2] [--eps 1e-4]
"""
import argparse
import json
import os
import resource
import sys
import time

T0 = time.perf_counter()

PEERS = ["torch-seed", "torch-compile-seed", "torch-tv", "torch-compile-tv", "jax-optax", "numpy"]
SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pred")
    ap.add_argument("target")
    ap.add_argument("--peer", choices=PEERS, required=True)
    ap.add_argument("--logits", help="the logits file, for torch-tv, torch-compile-tv and jax-optax")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=0)
    ap.add_argument("--alpha", type=float, default=0.25)
    ap.add_argument("--gamma", type=float, default=2.0)
    ap.add_argument("--eps", type=float, default=1e-4)
    a = ap.parse_args()
    if a.peer in ("torch-tv", "torch-compile-tv", "jax-optax") and not a.logits:
        ap.error(f"--peer {a.peer} needs --logits")
    return a


def torchvision_focal_loss():
    """torchvision's sigmoid_focal_loss from its file, without importing torchvision (its ops do not load)."""
    import importlib.util
    import types

    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("torchvision is not installed in this python")
    path = os.path.join(list(spec.submodule_search_locations)[0], "ops", "focal_loss.py")
    # The file imports `from ..utils import _log_api_usage_once`: give it that one function.
    for name in ("tvfl", "tvfl.ops"):
        pkg = types.ModuleType(name)
        pkg.__path__ = []
        sys.modules[name] = pkg
    utils = types.ModuleType("tvfl.utils")
    utils._log_api_usage_once = lambda obj: torch._C._log_api_usage_once(f"torchvision.{obj.__name__}")
    sys.modules["tvfl.utils"] = utils
    mspec = importlib.util.spec_from_file_location("tvfl.ops.focal_loss", path)
    mod = importlib.util.module_from_spec(mspec)
    sys.modules[mspec.name] = mod  # torch.compile looks the function's module up by name
    mspec.loader.exec_module(mod)
    return mod.sigmoid_focal_loss


def make_torch(a, compiled, tv):
    import numpy as np
    import torch

    torch.set_num_threads(a.threads)
    alpha, gamma, eps = a.alpha, a.gamma, a.eps
    versions = {"torch": torch.__version__, "numpy": np.__version__}
    if tv:
        focal = torchvision_focal_loss()

        def fn(x, t):
            return focal(x, t, alpha=alpha, gamma=gamma, reduction="mean")
    else:
        def fn(p, t):
            pt = (t * p + (1 - t) * (1 - p)).clamp(eps, 1.0)
            at = t * alpha + (1 - t) * (1 - alpha)
            return (-at * (1 - pt) ** gamma * pt.log()).mean()

    if compiled:
        fn = torch.compile(fn, dynamic=False)

    def load(path_x, path_t):
        return torch.from_numpy(np.load(path_x)), torch.from_numpy(np.load(path_t))

    def call(x, t):
        with torch.no_grad():
            return float(fn(x, t).item())

    return versions, load, call


def make_jax(a):
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    alpha, gamma = a.alpha, a.gamma

    @jax.jit
    def fn(x, t):
        return jnp.mean(optax.losses.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma))

    def load(path_x, path_t):
        x, t = jnp.asarray(np.load(path_x)), jnp.asarray(np.load(path_t))
        return x.block_until_ready(), t.block_until_ready()

    def call(x, t):
        return float(fn(x, t))

    return {"jax": jax.__version__, "optax": optax.__version__, "numpy": np.__version__}, load, call


def make_numpy(a):
    import numpy as np

    alpha, gamma, eps = np.float32(a.alpha), a.gamma, np.float32(a.eps)
    one = np.float32(1)

    def call(p, t):
        pt = np.clip(t * p + (one - t) * (one - p), eps, one)
        at = t * alpha + (one - t) * (one - alpha)
        m = one - pt
        f = m * m if gamma == 2 else m ** np.float32(gamma)
        return float(np.mean(-at * f * np.log(pt), dtype=np.float64))

    def load(path_x, path_t):
        return np.load(path_x), np.load(path_t)

    return {"numpy": np.__version__}, load, call


def main():
    a = parse()
    if a.peer == "numpy":
        versions, load, call = make_numpy(a)
    elif a.peer == "jax-optax":
        versions, load, call = make_jax(a)
    else:
        versions, load, call = make_torch(a, compiled="compile" in a.peer, tv=a.peer.endswith("-tv"))
    import_s = time.perf_counter() - T0

    t = time.perf_counter()
    x, target = load(a.logits if a.peer in ("torch-tv", "torch-compile-tv", "jax-optax") else a.pred, a.target)
    load_s = time.perf_counter() - t

    t = time.perf_counter()
    loss = call(x, target)
    first_s = time.perf_counter() - t
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        loss = call(x, target)
        times.append(time.perf_counter() - t)

    print(json.dumps({
        "peer": a.peer,
        "loss": loss,
        "n": int(x.size if hasattr(x, "size") and not callable(x.size) else x.numel()),
        "threads": a.threads,
        "versions": versions,
        "import_s": import_s,
        "load_s": load_s,
        "first_s": first_s,
        "times_s": times,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
