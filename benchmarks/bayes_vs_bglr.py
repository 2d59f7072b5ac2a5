"""genoapp's Gibbs samplers (BRR, BL, BayesCπ) vs the R package BGLR on the mice CV folds.

Reproduces the protocol of ``../shared/reference/README.md`` (BGLR 1.1.5 on the same data):
``mice.bed`` dosages standardised per marker over all 1,814 mice (R's ``scale``), the traits
``Obesity.BodyLength`` and ``Obesity.BMI`` standardised over all mice, the folds of
``mice.cv5_seed1.tsv``; for fold k the model is fitted on the other folds with BGLR's defaults
(6,000 iterations, 2,000 burn-in, thin 5, R2 = 0.5, df0 = 5) and scored on fold k (Pearson r,
MSE). BGLR's mean test r and its time per fit come from ``bglr_mice_cv.tsv``; ours from a fresh
run. Times are wall-clock seconds of one single-threaded fit (fit + predict); BGLR's machines
were noisy, so both sides are compared by their median. Ours are also given as CPU seconds of
the process, which the load of a shared machine does not inflate; the load average is printed.

Usage: ``python benchmarks/bayes_vs_bglr.py [--models BRR BL BayesC] [--traits ...]
[--folds 1 2 ...] [--n-iter 6000 --burn-in 2000 --thin 5] [--seed 1]``. The full run (30 fits)
takes about 15-20 minutes on 2 cores; run it under ``flock /tmp/genoapp_heavy.lock``.
Ends with ``RESULT {json}``: ``ours_s_per_fit``, ``bglr_s_per_fit`` (medians over the fits
run), ``ratio`` (ours / BGLR), ``max_abs_dr`` (largest |mean r ours - mean r BGLR| over the
trait x model cells), and the per-cell table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genoapp.io import open_plink, read_phenotypes  # noqa: E402
from genoapp.models.bayes import (  # noqa: E402
    BayesCpiGibbs,
    BayesianLassoGibbs,
    BayesianRidgeGibbs,
)

SHARED = Path(os.environ.get("GENOAPP_SHARED", REPO.parent / "shared")).resolve()
MODELS = {"BRR": BayesianRidgeGibbs, "BL": BayesianLassoGibbs, "BayesC": BayesCpiGibbs}
TRAITS = ("Obesity.BodyLength", "Obesity.BMI")


def load_mice():
    """Standardised genotypes (1814, 10346) float64, phenotype table and fold vector."""
    data = SHARED / "data" / "bglr_mice"
    ref = SHARED / "reference"
    with open_plink(data / "mice") as g:
        X = g.read().astype(np.float64)
        fam = g.samples[["FID", "IID"]]
    X = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)  # R's scale()
    pheno = read_phenotypes(data / "mice.pheno.tsv")
    pheno = fam.merge(pheno, on=["FID", "IID"], how="left", validate="one_to_one")
    folds = pd.read_csv(ref / "mice.cv5_seed1.tsv", sep="\t", dtype={"FID": str, "IID": str})
    folds = fam.merge(folds, on=["FID", "IID"], how="left", validate="one_to_one")
    if folds["fold"].isna().any():
        raise SystemExit("fold file does not cover every mouse in mice.fam")
    return X, pheno, folds["fold"].to_numpy(int), ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--traits", nargs="+", default=list(TRAITS), choices=list(TRAITS))
    ap.add_argument("--folds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    ap.add_argument("--n-iter", type=int, default=6000)
    ap.add_argument("--burn-in", type=int, default=2000)
    ap.add_argument("--thin", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    load0 = os.getloadavg()[0]
    X, pheno, fold, ref_dir = load_mice()
    ref = pd.read_csv(ref_dir / "bglr_mice_cv.tsv", sep="\t")
    print(f"mice: {X.shape[0]} x {X.shape[1]} markers; folds {sorted(set(fold))}; "
          f"{args.n_iter} iterations, burn-in {args.burn_in}, thin {args.thin}", flush=True)

    # compile the numba kernels once (cached on disk), outside the timings
    for cls in MODELS.values():
        cls(n_iter=10, burn_in=5, thin=1).fit(X[:50, :20], np.arange(50.0))

    rows = []
    for trait in args.traits:
        y_all = pheno[trait].to_numpy(float)
        y_all = (y_all - np.nanmean(y_all)) / np.nanstd(y_all, ddof=1)
        for name in args.models:
            for k in args.folds:
                train = (fold != k) & np.isfinite(y_all)
                test = (fold == k) & np.isfinite(y_all)
                model = MODELS[name](n_iter=args.n_iter, burn_in=args.burn_in, thin=args.thin,
                                     random_state=args.seed * 100 + k)
                t, c = time.perf_counter(), time.process_time()
                model.fit(X[train], y_all[train])
                pred = model.predict(X[test])
                sec, cpu = time.perf_counter() - t, time.process_time() - c
                r = float(np.corrcoef(pred, y_all[test])[0, 1])
                mse = float(np.mean((pred - y_all[test]) ** 2))
                rows.append({"trait": trait, "model": name, "fold": k, "r": r, "mse": mse,
                             "seconds": sec, "cpu_seconds": cpu,
                             "n_selected": int(model.selected_.sum())})
                b = ref[(ref.trait == trait) & (ref.model == name) & (ref.fold == k)]
                print(f"  {trait:19s} {name:6s} fold {k}: r {r:.4f} (BGLR {b.r.iloc[0]:.4f}), "
                      f"mse {mse:.4f} (BGLR {b.mse.iloc[0]:.4f}), {sec:6.1f} s, CPU {cpu:5.1f} s "
                      f"(BGLR {b.seconds.iloc[0]:6.1f} s), selected {rows[-1]['n_selected']}, "
                      f"load {os.getloadavg()[0]:.1f}",
                      flush=True)

    ours = pd.DataFrame(rows)
    ref_used = ref[ref.trait.isin(args.traits) & ref.model.isin(args.models)
                   & ref.fold.isin(args.folds)]
    cells = []
    for (trait, name), g in ours.groupby(["trait", "model"], sort=False):
        b = ref_used[(ref_used.trait == trait) & (ref_used.model == name)]
        cells.append({"trait": trait, "model": name,
                      "r_ours": g.r.mean(), "r_bglr": b.r.mean(),
                      "dr": g.r.mean() - b.r.mean(),
                      "mse_ours": g.mse.mean(), "mse_bglr": b.mse.mean(),
                      "s_ours_median": g.seconds.median(), "cpu_s_ours_median": g.cpu_seconds.median(),
                      "s_bglr_median": b.seconds.median(),
                      "selected_mean": g.n_selected.mean()})
    table = pd.DataFrame(cells)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print()
        print("Mean over folds (test r, test MSE on the standardised scale), median s per fit:")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    ours_s = float(ours.seconds.median())
    ours_cpu = float(ours.cpu_seconds.median())
    bglr_s = float(ref_used.seconds.median())
    result = {
        "ours_s_per_fit": round(ours_s, 2),
        "bglr_s_per_fit": round(bglr_s, 2),
        "ratio": round(ours_s / bglr_s, 4),
        "ours_cpu_s_per_fit": round(ours_cpu, 2),
        "cpu_ratio": round(ours_cpu / bglr_s, 4),
        "load_avg_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "max_abs_dr": round(float(table.dr.abs().max()), 4),
        "n_fits": len(ours),
        "n_iter": args.n_iter, "burn_in": args.burn_in, "thin": args.thin,
        "cells": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in c.items()}
                  for c in cells],
    }
    print()
    print(f"time per fit (median): ours {ours_s:.1f} s wall, {ours_cpu:.1f} s CPU; BGLR "
          f"{bglr_s:.1f} s (ratio {ours_s / bglr_s:.3f}); max |mean r ours - BGLR| = "
          f"{result['max_abs_dr']:.4f}; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
