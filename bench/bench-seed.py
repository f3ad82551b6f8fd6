#!/usr/bin/env python3
"""Times the seed's PyTorch focal loss on a pair of .npy files, for `npm run bench` (bench/bench.ts).

What it runs
    The seed's own modules, imported from <repo root>/../shared/reference/seed_focal_loss.py (repo root =
    this file's parent's parent; FOCAL_SEED_PY names another copy), exactly as a user of the seed would
    call them: the files loaded with numpy, wrapped with torch.from_numpy (no copy), and
    FocalLoss(alpha, gamma, size_average=True)(pred, target) for the binary task, or
    FocalLoss_MultiLabel(...) for [N, L] files, in the files' own dtype (float32 for the benchmark).

What it prints (one JSON line on stdout)
    {"loss", "n", "task", "dtype", "torch", "threads", "import_s", "load_s", "forward_s": [...],
     "max_rss_kb"}
    import_s: importing torch, numpy and the seed module; load_s: np.load of both files;
    forward_s: seconds of each forward call (one per --repeat, for each --threads value);
    max_rss_kb: the process's peak resident memory (getrusage, kB on Linux).
    With the default --repeat 1 and one thread count the process does what a user's script does once, so
    its whole run time (measured by the caller) is the seed's end-to-end time.

    /usr/bin/python3 bench/bench-seed.py PRED.npy TARGET.npy [--task binary|multilabel]
        [--threads 1,2] [--repeat 3] [--alpha 0.25] [--gamma 2]
"""
import argparse
import json
import os
import resource
import sys
import time

T0 = time.perf_counter()
import importlib.util  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))
DEFAULT_SEED_PY = os.path.join(os.path.dirname(REPO), "shared", "reference", "seed_focal_loss.py")


def load_seed():
    path = os.path.abspath(os.environ.get("FOCAL_SEED_PY") or DEFAULT_SEED_PY)
    if not os.path.isfile(path):
        sys.exit(f"seed module not found: {path} (set FOCAL_SEED_PY)")
    spec = importlib.util.spec_from_file_location("seed_focal_loss", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pred")
    ap.add_argument("target")
    ap.add_argument("--task", choices=["binary", "multilabel"], default="binary")
    ap.add_argument("--alpha", type=float, default=0.25)
    ap.add_argument("--gamma", type=float, default=2.0)
    ap.add_argument("--threads", default="", help="comma-separated torch thread counts (default: torch's own)")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()

    seed = load_seed()
    import_s = time.perf_counter() - T0

    t = time.perf_counter()
    pred = torch.from_numpy(np.load(a.pred))
    target = torch.from_numpy(np.load(a.target))
    load_s = time.perf_counter() - t

    if a.task == "binary":
        module = seed.FocalLoss(a.alpha, a.gamma, True)
    else:
        module = seed.FocalLoss_MultiLabel(a.alpha, a.gamma, True)

    counts = [int(x) for x in a.threads.split(",") if x] or [torch.get_num_threads()]
    forward = {}
    loss = None
    with torch.no_grad():
        for n in counts:
            torch.set_num_threads(n)
            times = []
            for _ in range(a.repeat):
                t = time.perf_counter()
                loss = module(pred, target).item()
                times.append(time.perf_counter() - t)
            forward[str(n)] = times

    print(json.dumps({
        "loss": loss,
        "n": int(pred.numel()),
        "task": a.task,
        "dtype": str(pred.dtype).replace("torch.", ""),
        "torch": torch.__version__,
        "threads": counts,
        "import_s": import_s,
        "load_s": load_s,
        "forward_s": forward,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
