"""Training speed of DiseaseCapsule and the authors' MLP at the paper's scale.

Input: synthetic features of the paper's size, 13,386 samples (10,405 ALS-cohort samples with
the cases upsampled 1:1 for training) x 75,584 Gene-PCA features, float32 standard normal
(4 GB, cached as a memory-mapped .npy under the system temp folder), balanced labels. Training
cost does not depend on the values.

Measured on the CPU (and on the GPU when CUDA is available), batch 128 (105 batches per epoch),
the classifiers' own modules, optimisers and loss (Adam; cross-entropy):

- MLP: one full epoch through :func:`genoapp.train.train_module` (the code the app runs).
- DiseaseCapsule: a full CPU epoch takes minutes, so ``--batches`` mini-batches (after one
  warm-up batch) are timed and the epoch time is extrapolated (batches per epoch x mean time
  per batch; data loading included). ``--full`` runs a full epoch instead. On a GPU a full
  epoch is always run.

Goals (issue 5): 30 capsule epochs <= 15 min on this CPU (<= 30 s per epoch) and <= 20 s on
an H200 (<= 0.67 s per epoch). Run from the repository root, under the shared lock on shared
machines::

    flock /tmp/genoapp_heavy.lock .venv/bin/python benchmarks/train_capsnet.py

``--smoke`` runs the same steps on 1/10 of the samples and 1/20 of the features (checks the
script, measures nothing useful; its own cache file).

The last line is ``RESULT {json}`` with ``capsnet_epoch_cpu_s``, ``mlp_epoch_cpu_s``,
``capsnet_epoch_gpu_s`` (null without a GPU) and the details.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genoapp.fileio import atomic_path  # noqa: E402
from genoapp.models.capsnet import DiseaseCapsuleNet  # noqa: E402
from genoapp.models.mlp import MLPNet  # noqa: E402
from genoapp.train import resolve_device, train_module  # noqa: E402

N_SAMPLES, N_FEATURES, BATCH = 13_386, 75_584, 128


def cache_path() -> Path:
    """Cache file of the (N_SAMPLES, N_FEATURES) matrix under the system temp folder."""
    return Path(tempfile.gettempdir()) / "genoapp_bench" / f"capsnet_features_{N_SAMPLES}x{N_FEATURES}.npy"


CACHE = cache_path()


def paper_features(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The cached (N_SAMPLES, N_FEATURES) float32 matrix (memory-mapped) and balanced labels."""
    path = cache_path() if path is None else path
    if not path.is_file():
        # written under a temporary name and renamed when complete (genoapp.fileio)
        with atomic_path(path, what="the benchmark features") as tmp:
            X = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                          shape=(N_SAMPLES, N_FEATURES))
            rng = np.random.default_rng(2023)
            for s in range(0, N_SAMPLES, 512):
                X[s:s + 512] = rng.standard_normal((min(512, N_SAMPLES - s), N_FEATURES),
                                                   dtype=np.float32)
            X.flush()
            del X
    X = np.load(path, mmap_mode="r")
    y = np.zeros(N_SAMPLES, dtype=np.int64)
    y[np.random.default_rng(0).permutation(N_SAMPLES)[: N_SAMPLES // 2]] = 1
    return X, y


def _capsule_loss(out, yb):
    return F.cross_entropy(out[0], yb)


def time_batches(module, X, y, *, device, loss_fn, n_batches: int, seed: int = 0) -> float:
    """Mean seconds of one training step (gather a random batch, forward, backward, Adam)."""
    opt = torch.optim.Adam(module.parameters(), lr=1e-4)
    rng = np.random.default_rng(seed)
    module.train()
    times = []
    for b in range(n_batches + 1):
        idx = np.sort(rng.choice(N_SAMPLES, BATCH, replace=False))
        t0 = time.perf_counter()
        xb = torch.from_numpy(np.ascontiguousarray(X[idx])).to(device)
        yb = torch.from_numpy(y[idx]).to(device)
        loss = loss_fn(module(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if b:  # the first batch warms up kernels and caches
            times.append(time.perf_counter() - t0)
    return float(np.mean(times))


def full_epoch(module, X, y, *, device, loss_fn) -> float:
    """Seconds of one epoch of :func:`genoapp.train.train_module` over all samples."""
    opt = torch.optim.Adam(module.parameters(), lr=1e-4)
    Xt = torch.from_numpy(np.array(X, dtype=np.float32))  # a writable in-memory copy (4 GB)
    res = train_module(module, Xt, torch.from_numpy(y), loss_fn=loss_fn, optimizer=opt, epochs=1,
                       batch_size=BATCH, device=device, monitor=None, random_state=0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return float(res.history[0]["seconds"])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=5, help="capsule batches timed on the CPU (default 5)")
    ap.add_argument("--full", action="store_true", help="run a full capsule epoch on the CPU too")
    ap.add_argument("--smoke", action="store_true", help="1/10 of the samples, 1/20 of the features: "
                    "checks the script, measures nothing useful")
    args = ap.parse_args(argv)
    global N_SAMPLES, N_FEATURES, CACHE
    if args.smoke:
        N_SAMPLES, N_FEATURES = N_SAMPLES // 10, N_FEATURES // 20
        CACHE = cache_path()
    torch.manual_seed(0)
    t0 = time.perf_counter()
    X, y = paper_features()
    t_data = time.perf_counter() - t0
    n_batches = math.ceil(N_SAMPLES / BATCH)
    cpu = torch.device("cpu")
    rows = []
    res = {"smoke": bool(args.smoke), "n_samples": N_SAMPLES, "n_features": N_FEATURES, "batch_size": BATCH,
           "batches_per_epoch": n_batches, "cpu_threads": torch.get_num_threads(),
           "data_seconds": round(t_data, 1)}

    # MLP, full epoch on the CPU
    mlp = MLPNet(N_FEATURES).to(cpu)
    mlp_epoch = full_epoch(mlp, X, y, device=cpu, loss_fn=F.cross_entropy)
    rows.append(("MLP", "cpu", "full epoch", mlp_epoch, N_SAMPLES / mlp_epoch, None))
    res["mlp_epoch_cpu_s"] = round(mlp_epoch, 2)

    # DiseaseCapsule on the CPU
    caps = DiseaseCapsuleNet(N_FEATURES).to(cpu)
    if args.full:
        cap_epoch = full_epoch(caps, X, y, device=cpu, loss_fn=_capsule_loss)
        how = "full epoch"
    else:
        per_batch = time_batches(caps, X, y, device=cpu, loss_fn=_capsule_loss, n_batches=args.batches)
        cap_epoch = per_batch * n_batches
        how = f"{args.batches} batches x {n_batches} (extrapolated)"
    rows.append(("DiseaseCapsule", "cpu", how, cap_epoch, N_SAMPLES / cap_epoch, 30.0))
    res["capsnet_epoch_cpu_s"] = round(cap_epoch, 2)
    res["capsnet_epoch_cpu_method"] = how
    res["capsnet_30_epochs_cpu_min"] = round(30 * cap_epoch / 60, 1)
    res["capsnet_cpu_goal_met"] = bool(30 * cap_epoch <= 15 * 60)

    # GPU
    res["capsnet_epoch_gpu_s"] = None
    res["mlp_epoch_gpu_s"] = None
    if torch.cuda.is_available():
        gpu = resolve_device("auto")
        res["gpu"] = torch.cuda.get_device_name(gpu)
        caps_g = DiseaseCapsuleNet(N_FEATURES).to(gpu)
        time_batches(caps_g, X, y, device=gpu, loss_fn=_capsule_loss, n_batches=2)  # warm-up
        cap_g = full_epoch(caps_g, X, y, device=gpu, loss_fn=_capsule_loss)
        mlp_g = full_epoch(MLPNet(N_FEATURES).to(gpu), X, y, device=gpu, loss_fn=F.cross_entropy)
        rows.append(("MLP", res["gpu"], "full epoch", mlp_g, N_SAMPLES / mlp_g, None))
        rows.append(("DiseaseCapsule", res["gpu"], "full epoch", cap_g, N_SAMPLES / cap_g, 20 / 30))
        res["capsnet_epoch_gpu_s"] = round(cap_g, 3)
        res["mlp_epoch_gpu_s"] = round(mlp_g, 3)
        res["capsnet_30_epochs_gpu_s"] = round(30 * cap_g, 1)
        res["capsnet_gpu_goal_met"] = bool(30 * cap_g <= 20)

    print(f"Synthetic paper-scale features: {N_SAMPLES:,} x {N_FEATURES:,} float32 "
          f"(cached at {CACHE}, ready in {t_data:.1f} s); batch {BATCH}, {n_batches} batches per epoch; "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads.")
    print(f"{'model':<16}{'device':<22}{'measured':<36}{'s/epoch':>10}{'samples/s':>11}{'goal s/epoch':>14}"
          f"{'30 epochs':>11}")
    for name, dev, how, ep, sps, goal in rows:
        g = f"{goal:.2f}" if goal is not None else "-"
        print(f"{name:<16}{dev:<22}{how:<36}{ep:>10.2f}{sps:>11.1f}{g:>14}{30 * ep / 60:>9.1f} min")
    print("Goals: 30 capsule epochs <= 15 min on the CPU, <= 20 s on an H200.")
    print("RESULT " + json.dumps(res))
    return res


if __name__ == "__main__":
    main()
