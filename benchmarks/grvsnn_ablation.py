"""What each part of GRVSNN does to test accuracy: measured ablations on the mice and wheat folds.

Every variant is the protocol of :mod:`genoapp.workflows.quantitative` on the folds of
``quantitative_paper_table.py`` (mice: BGLR's reference folds; wheat: 5 random folds, seed 0),
inputs "markers" (``--inputs`` to change), preset "quick" (16 hidden units, at most 100 epochs,
early stopping patience 25 on a 20 % inner split). Unless a variant says otherwise, the tuned
hyper-parameters are fixed at the estimator's defaults (batch 128, learning rate 1e-3, dropout
0.2, weight decay 1e-4) so that each row changes one thing; "Optuna 5" rows search them with
5 TPE trials per training fold as the old quick preset did.

Rows (variant -> constructor arguments over the quick preset):

- the paper's equations (no linear path, weights summing to 1), then one change at a time: no
  LayerNorm, weights x P (mean 1), learning rate 1e-2 and 1e-4, width 128, dropout 0.5, weight
  decay 1e-2, 300 epochs, 5 Optuna trials;
- genoapp's default (ridge linear path, network on its leave-one-out residuals, weights x P),
  with weights summing to 1, width 64, 5 Optuna trials, one trait at a time, and the network
  on the 100, 300 or 1,000 inputs with the largest linear-path attributions only;
- ridge (GBLUP): the anchor, on the same folds.

Prints per (dataset, trait) the mean test r ± SD over folds and the mean paired difference from
ridge, and ends with ``RESULT {json}`` (``rows``: dataset, trait, variant, r, r_sd, d_ridge,
mse, n_selected, s_per_fit; ``seconds``). Results are cached per fold as by
``quantitative_paper_table.py`` (``--fresh`` to recompute). Run from the repository root:

    flock /tmp/genoapp_heavy.lock .venv/bin/python benchmarks/grvsnn_ablation.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quantitative_paper_table as qpt  # noqa: E402

FIXED = {"batch_size": 128, "learning_rate": 1e-3, "dropout": 0.2, "weight_decay": 1e-4}
PAPER = {"linear_path": False, "weight_scale": "sum", "importance_scale": "sum"}
DEFAULT = {"linear_path": True, "weight_scale": "mean"}
#: the search of the earlier quick preset: 5 Optuna (TPE) trials per training fold
OPTUNA5 = {"tuning": "optuna", "n_trials": 5}
#: variant -> (model, constructor arguments over the quick preset[, protocol settings])
VARIANTS = {
    "paper equations": ("grvsnn", {**PAPER, **FIXED}),
    "paper, no LayerNorm": ("grvsnn", {**PAPER, **FIXED, "layer_norm": False}),
    "paper, weights x P": ("grvsnn", {**PAPER, **FIXED, "weight_scale": "mean"}),
    "paper, lr 1e-2": ("grvsnn", {**PAPER, **FIXED, "learning_rate": 1e-2}),
    "paper, lr 1e-4": ("grvsnn", {**PAPER, **FIXED, "learning_rate": 1e-4}),
    "paper, width 128": ("grvsnn", {**PAPER, **FIXED, "n_hidden": 128}),
    "paper, dropout 0.5": ("grvsnn", {**PAPER, **FIXED, "dropout": 0.5}),
    "paper, weight decay 1e-2": ("grvsnn", {**PAPER, **FIXED, "weight_decay": 1e-2}),
    "paper, 300 epochs": ("grvsnn", {**PAPER, **FIXED, "max_epochs": 300}),
    "paper, Optuna 5": ("grvsnn", dict(PAPER), OPTUNA5),
    "default": ("grvsnn", {**DEFAULT, **FIXED}),
    "default, weights sum to 1": ("grvsnn", {**DEFAULT, **FIXED, "weight_scale": "sum"}),
    "default, width 64": ("grvsnn", {**DEFAULT, **FIXED, "n_hidden": 64}),
    "default, Optuna 5": ("grvsnn", dict(DEFAULT), OPTUNA5),
    "default, one trait at a time": ("grvsnn_single", {**DEFAULT, **FIXED}),
    "default, network on the top 100": ("grvsnn", {**DEFAULT, **FIXED, "n_screened": 100}),
    "default, network on the top 300": ("grvsnn", {**DEFAULT, **FIXED, "n_screened": 300}),
    "default, network on the top 1000": ("grvsnn", {**DEFAULT, **FIXED, "n_screened": 1000}),
    "ridge (GBLUP)": ("ridge", {}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["mice", "wheat"])
    ap.add_argument("--inputs", default="markers")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    from genoapp.workflows.presets import protocol_config
    from genoapp.workflows.registry import MODEL_NAMES

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    t_all = time.perf_counter()
    rows = []
    for dataset in args.datasets:
        data, traits, folds, rank = qpt.load(dataset)
        per_fold = {}
        for variant in args.variants:
            key, params, *proto = VARIANTS[variant]
            proto = proto[0] if proto else {}
            tag = "_abl_" + "_".join(f"{k}{v}" for k, v in sorted({**params, **proto}.items()))
            res = qpt.run_one(data, traits, folds, rank, args.inputs, MODEL_NAMES[key],
                              fresh=args.fresh, overrides={key: params} if params else None,
                              tag=tag if params else "",
                              config=protocol_config("quick", "regression", **proto)
                              if proto else None)
            if res is None:
                continue
            sc = res["scores"]
            for trait, part in sc.groupby("trait", sort=False):
                per_fold[(variant, trait)] = part.set_index(["repeat", "fold"])["r"]
                rows.append({"dataset": dataset, "trait": trait, "variant": variant,
                             "r": part["r"].mean(), "r_sd": part["r"].std(),
                             "mse": part["mse"].mean(), "folds": len(part),
                             "n_selected": part["n_selected"].mean()
                             if "n_selected" in part else np.nan,
                             "s_per_fit": part["seconds"].mean()})
        for row in rows:
            if row["dataset"] != dataset:
                continue
            ref = per_fold.get(("ridge (GBLUP)", row["trait"]))
            mine = per_fold.get((row["variant"], row["trait"]))
            row["d_ridge"] = (float((mine - ref).mean()) if ref is not None and mine is not None
                              else np.nan)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_rows", 500,
                           "display.float_format", "{:.3f}".format):
        for (dataset, trait), part in table.groupby(["dataset", "trait"], sort=False):
            print(f"\n== {dataset}: {trait} ({args.inputs}) ==")
            print(part.drop(columns=["dataset", "trait"]).to_string(index=False))
    print("RESULT " + json.dumps({"rows": json.loads(table.to_json(orient="records")),
                                  "inputs": args.inputs, "threads": args.threads,
                                  "seconds": time.perf_counter() - t_all}))


if __name__ == "__main__":
    main()
