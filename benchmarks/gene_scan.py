"""Gene scan and random-gene-set null at DiseaseCapsule paper scale: fast vs naive.

Paper scale (DESIGN §4.2-4.4): 18,279 genes, 75,584 Gene-PCA features, 9,000 training samples
(4,500 cases: the case row of c^g averages over cases), 1,040 balanced test samples, 922 genes
per random set, 1,000 sets. The network is DiseaseCapsule with the authors' architecture,
randomly initialised (seeded): speed does not depend on the weights.

Features are synthetic, with the structure of real Gene-PCA scores: 8,512 genes with one PC
(at most 4 SNPs: the PC takes few distinct values, simulated from 1-4 SNP dosages), 2,766 with 4
PCs and 7,001 with 8 PCs (continuous values), so that genes and features match the paper's
counts. Identical one-gene inputs are run once (exact), which helps the 1-PC genes only.

The features are handed to the interpretation functions as one
:class:`genoapp.interpret.FeatureTable` (training and test rows, labels, split), as the app hands
them a :class:`~genoapp.features.FeatureSet`; ``samples="train"`` / ``"test"`` pick the rows (a
copy of those rows per call is part of the timed work, as in the app).

- fast: :func:`genoapp.interpret.gene_scan` (one-gene hidden vectors from the gene's own
  columns, case routing only, distinct inputs only). On a GPU all genes are scanned; on a CPU a
  stratified subset of genes is timed and the total extrapolated per PC class (said so).
- naive: zero every other gene and run the model's own full forward pass on the same 4,500
  cases (``method="naive"``), timed on a few genes and extrapolated to 18,279 (always).
- null: masked test accuracy of 1,000 random sets of 922 genes
  (:func:`genoapp.interpret.permutation_null`), timed in full.

Usage: ``python benchmarks/gene_scan.py [--device auto|cpu|cuda] [--null-sets 1000]``. Run it
under the shared lock on the project machine (it holds about 6 GB). Ends with ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genoapp.interpret import FeatureTable, GeneIndex, gene_scan, permutation_null  # noqa: E402
from genoapp.models import DiseaseCapsuleClassifier, DiseaseCapsuleNet  # noqa: E402
from genoapp.train import Split, device_description, resolve_device  # noqa: E402

N_GENES = 18_279
N_FEATURES = 75_584
N_BY_K = {1: 8_512, 4: 2_766, 8: 7_001}
N_TRAIN, N_TEST, CORE = 9_000, 1_040, 922


def make_features(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X (n, F) float32, feature_gene (F,), k per gene (G,)), genes of k = 1, 4, 8 shuffled."""
    ks = np.concatenate([np.full(c, k) for k, c in N_BY_K.items()])
    ks = ks[rng.permutation(ks.size)]
    assert ks.size == N_GENES and ks.sum() == N_FEATURES
    X = np.empty((n, N_FEATURES), dtype=np.float32)
    # (the 8-PC genes' variances decrease like PCA eigenvalues)
    col = 0
    for k in ks:
        if k == 1:
            n_snps = int(rng.integers(1, 5))
            p = rng.uniform(0.05, 0.5, n_snps)
            dos = rng.binomial(2, p, size=(n, n_snps)).astype(np.float32)
            w = rng.normal(size=n_snps).astype(np.float32)
            X[:, col] = (dos - 2 * p.astype(np.float32)) @ (w / np.linalg.norm(w))
        else:
            X[:, col:col + k] = rng.normal(size=(n, k)).astype(np.float32) * np.sqrt(
                np.linspace(3, 0.5, k, dtype=np.float32))
        col += k
    genes = np.repeat(np.array([f"GENE{i}" for i in range(N_GENES)], dtype=object), ks)
    return X, genes, ks


def random_model(device: str) -> DiseaseCapsuleClassifier:
    """DiseaseCapsuleClassifier with a seeded, randomly initialised network (not trained)."""
    torch.manual_seed(0)
    est = DiseaseCapsuleClassifier(device=device)
    dev = resolve_device(device)
    est.model_ = DiseaseCapsuleNet(N_FEATURES).to(dev).eval()
    est.n_features_in_ = N_FEATURES
    est.classes_ = np.array([0, 1])
    est.device_ = str(dev)
    return est


def multiply_adds(net: DiseaseCapsuleNet, k_gene: int | None, *, n_classes_routed: int) -> int:
    """Multiply-adds of one sample through the network: the full forward pass (``k_gene``
    None: the ``F x hidden`` product) or a one-gene input of ``k_gene`` features, routing
    ``n_classes_routed`` class capsules (the scan routes the case capsule only)."""
    hidden = net.fc.out_features
    first = hidden * (net.n_features if k_gene is None else k_gene)
    conv = net.n_primary_types * net.primary_dim * net.n_positions * net.primary.kernel_size[0]
    per_route = net.n_routes * net.class_dim * n_classes_routed
    predictions = per_route * net.primary_dim  # u_hat = W_ij u_i
    iters = net.routing_iterations
    routing = per_route * iters + per_route * (iters - 1)  # s_j sums; agreements u_hat . v_j
    return int(first + conv + predictions + routing)


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    ap.add_argument("--null-sets", type=int, default=1000)
    ap.add_argument("--naive-genes", type=int, default=3, help="genes timed for the naive scan")
    ap.add_argument("--cpu-genes", type=int, default=60, help="genes timed for the fast scan on a CPU")
    ap.add_argument("--smoke", action="store_true", help="1/20 of the paper scale: checks the script, "
                    "measures nothing useful")
    args = ap.parse_args()
    if args.smoke:
        global N_GENES, N_FEATURES, N_BY_K, N_TRAIN, N_TEST, CORE
        N_BY_K = {k: c // 20 for k, c in N_BY_K.items()}
        N_GENES, N_FEATURES = sum(N_BY_K.values()), sum(k * c for k, c in N_BY_K.items())
        N_TRAIN, N_TEST, CORE = N_TRAIN // 20, N_TEST // 4, CORE // 20
    dev = resolve_device(args.device)
    rng = np.random.default_rng(2023)
    t = time.perf_counter()
    X, fg, ks = make_features(N_TRAIN + N_TEST, rng)
    y = np.zeros(N_TRAIN + N_TEST, dtype=np.int64)
    y[rng.permutation(N_TRAIN)[: N_TRAIN // 2]] = 1
    y[N_TRAIN + N_TEST // 2:] = 1
    t_make = time.perf_counter() - t
    ytr = y[:N_TRAIN]
    split = Split(y=y, train_idx=np.arange(N_TRAIN), test_idx=np.arange(N_TRAIN, N_TRAIN + N_TEST),
                  test_size=N_TEST / (N_TRAIN + N_TEST), random_state=0)
    feats = FeatureTable(X, fg, y=y, split=split)
    gi = GeneIndex(fg)
    model = random_model(args.device)
    print(f"device: {device_description(dev)}; torch threads {torch.get_num_threads()}")
    print(f"synthetic paper-scale features: {N_TRAIN:,} training ({int(ytr.sum()):,} cases) + {N_TEST:,} test "
          f"samples x {N_FEATURES:,} features, {N_GENES:,} genes (k=1: {N_BY_K[1]:,}, k=4: {N_BY_K[4]:,}, "
          f"k=8: {N_BY_K[8]:,}); made in {t_make:.1f} s")

    # warm-up (allocations, kernels)
    gene_scan(model, feats, samples="train", k_star=4, genes=gi.genes[:2], dtype="float32")
    _sync(dev)

    # ---- fast scan
    full_fast = dev.type == "cuda"
    per_k = {}
    if full_fast:
        res = {}
        for dtype in ("float32", "float64"):
            _sync(dev)
            t = time.perf_counter()
            r = gene_scan(model, feats, samples="train", k_star=4, dtype=dtype)
            _sync(dev)
            res[dtype] = (time.perf_counter() - t, r)
        fast_s, fast = res["float32"]
        fast64_s = res["float64"][0]
        n_items, n_total = fast.n_items, fast.n_items_total
    else:
        # fixed cost of one call (row selection and input checks over the whole matrix),
        # counted once
        one = gi.genes[np.flatnonzero(gi.n_features_per_gene == 1)[:1]]
        t = time.perf_counter()
        gene_scan(model, feats, samples="train", k_star=4, genes=one, dtype="float32")
        overhead = time.perf_counter() - t
        fast_s = fast64_s = overhead
        n_items = n_total = 0
        pick = np.random.default_rng(1)
        for k, count in N_BY_K.items():
            idx = np.flatnonzero(gi.n_features_per_gene == k)
            n_pick = max(2, int(round(args.cpu_genes * count / N_GENES)))
            sub = gi.genes[pick.choice(idx, n_pick, replace=False)]
            times = {}
            for dtype in ("float32", "float64"):
                t = time.perf_counter()
                r = gene_scan(model, feats, samples="train", k_star=4, genes=sub, dtype=dtype)
                times[dtype] = max(time.perf_counter() - t - overhead, 0.0)
            per_k[k] = {"timed_genes": n_pick, "s_per_gene_f32": times["float32"] / n_pick,
                        "s_per_gene_f64": times["float64"] / n_pick, "items": r.n_items,
                        "items_total": r.n_items_total}
            fast_s += times["float32"] / n_pick * count
            fast64_s += times["float64"] / n_pick * count
            n_items += r.n_items / n_pick * count
            n_total += r.n_items_total / n_pick * count

    # ---- naive scan on a few genes (multi-PC and 1-PC), extrapolated
    nv = np.random.default_rng(2)
    sub = gi.genes[nv.choice(gi.n_genes, args.naive_genes, replace=False)]
    _sync(dev)
    t = time.perf_counter()
    naive = gene_scan(model, feats, samples="train", k_star=4, genes=sub, method="naive")
    _sync(dev)
    naive_per_gene = (time.perf_counter() - t) / len(sub)
    naive_s = naive_per_gene * N_GENES
    check = gene_scan(model, feats, samples="train", k_star=4, genes=sub, dtype="float32")
    max_diff = float(np.abs(check.case - naive.case).max())

    # ---- null: 1,000 random sets of 922 genes on the test samples
    core = np.arange(CORE)
    _sync(dev)
    t = time.perf_counter()
    nr = permutation_null(model, feats, core, samples="test", n_sets=args.null_sets, random_state=0)
    _sync(dev)
    null_s = time.perf_counter() - t

    speedup = naive_s / fast_s
    # arithmetic bound on the speed-up: multiply-adds of the naive scan (full forward, both
    # classes, every gene x case pair) over those of the fast scan (gene columns only, case
    # routing only, distinct inputs only)
    net = model.model_
    naive_macs = multiply_adds(net, None, n_classes_routed=net.n_classes) * N_GENES * int(ytr.sum())
    per_gene_k = np.asarray(gi.n_features_per_gene)
    mean_fast = float(np.mean([multiply_adds(net, int(k), n_classes_routed=1) for k in per_gene_k]))
    fast_macs = mean_fast * n_items
    flop_bound = naive_macs / fast_macs
    how = "all genes" if full_fast else f"{sum(v['timed_genes'] for v in per_k.values())} genes timed, extrapolated"
    print()
    print(f"{'step':<46}{'seconds':>12}  {'how':<44}{'goal (H200)':>12}")
    print(f"{'fast scan, float32 (' + f'{N_GENES:,} genes)':<46}{fast_s:>12.1f}  {how:<44}{'<= 10':>12}")
    print(f"{'fast scan, float64 (app default)':<46}{fast64_s:>12.1f}  {how:<44}{'':>12}")
    print(f"{'naive masked forward (' + f'{N_GENES:,} genes)':<46}{naive_s:>12.1f}  "
          f"{f'{len(sub)} genes timed ({naive_per_gene:.2f} s each), extrapolated':<44}{'':>12}")
    print(f"{'speed-up naive / fast (float32)':<46}{speedup:>12.1f}  {'':<44}{'>= 100':>12}")
    print(f"{'null: ' + f'{args.null_sets:,} random sets of {CORE} genes':<46}{null_s:>12.1f}  "
          f"{f'{N_TEST:,} test samples, all sets':<44}{'<= 5':>12}")
    print(f"one-gene inputs run: {n_items:,.0f} distinct of {n_total:,.0f} gene x case pairs "
          f"({n_total / max(n_items, 1):.1f}x fewer)")
    if per_k:
        print(f"CPU extrapolation: per-gene time of each PC class (fixed per-call cost {overhead:.2f} s "
              "subtracted, counted once) x its number of genes")
        for k, v in per_k.items():
            print(f"  k={k}: {v['timed_genes']} genes timed, {v['s_per_gene_f32']:.3f} s/gene float32, "
                  f"{v['s_per_gene_f64']:.3f} s/gene float64, {v['items']:,} distinct of {v['items_total']:,} inputs")
    print(f"arithmetic bound on the speed-up: {naive_macs / 1e12:,.1f} T multiply-adds (naive) / "
          f"{fast_macs / 1e12:,.2f} T (fast) = {flop_bound:.0f}x (per one-gene input: "
          f"{multiply_adds(net, None, n_classes_routed=net.n_classes) / 1e6:.2f} M naive, "
          f"{mean_fast / 1e6:.2f} M fast: the primary capsules and the routing are not linear and "
          "must run for every gene and distinct input)")
    print(f"max |fast - naive| on the timed genes (float32): {max_diff:.2e} (acceptance <= 1e-5)")
    print(f"null accuracy of random sets on a random network: mean {nr.mean:.3f}, SD {nr.sd:.3f}")
    print("RESULT " + json.dumps({
        "benchmark": "gene_scan", "device": str(dev), "device_description": device_description(dev),
        "fast_s": round(fast_s, 3), "fast_extrapolated": not full_fast, "fast_float64_s": round(fast64_s, 3),
        "naive_s_extrapolated": round(naive_s, 1), "naive_genes_timed": int(len(sub)),
        "speedup": round(speedup, 1), "speedup_arithmetic_bound": round(flop_bound, 1),
        "null_s": round(null_s, 3), "null_sets": int(args.null_sets),
        "n_genes": N_GENES, "n_features": N_FEATURES, "n_train": N_TRAIN, "n_cases": int(ytr.sum()),
        "n_test": N_TEST, "distinct_inputs": int(n_items), "gene_case_pairs": int(n_total),
        "max_abs_diff_fast_vs_naive": max_diff, "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
