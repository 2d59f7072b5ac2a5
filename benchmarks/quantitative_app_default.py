"""Wall time of the Quantitative traits page's default run on the built-in mice example.

Exactly what the page runs when the user presses *Run* without changing anything: the shipped
BGLR mice (``assets/quantitative/mice``: 1,814 x 10,346 SNPs), traits ``Obesity.BodyLength``
and ``Obesity.BMI``, models GRVSNN and ridge (GBLUP), the page's default inputs (``APP_DEFAULT_INPUTS``; m = 169,
the paper's rule; ``--inputs`` to change), preset "quick" (formerly "app":
one 5-fold CV, GRVSNN with its default hyper-parameters: ridge linear path, network of 16
hidden units on the 300 inputs with the largest ridge effects, early stopping patience 25, at
most 100 epochs; :func:`genoapp.workflows.quantitative.run_quantitative`), with the
libraries' default threads (set ``--threads 1`` on a loaded shared machine).

``--max-folds N`` runs only the first N outer folds of that design (a quick check; labelled in
the output, not the page's default run).

Prints the loading time, the estimate the page shows before the click, the progress of every
task (model x input set x outer fold, and trait for single-trait models), the whole run and
the results table. Ends with ``RESULT {json}``: ``load_s``, ``run_s``, ``total_s`` (goal
<= 120 on 2 cores), ``inputs``, ``fit_s_per_input_set``, ``fits``, ``grvsnn_s_per_fold``,
``ridge_s_per_fit``, ``estimate_s`` (shown before the click), ``estimate_compute_s``,
``estimate_ratio`` (measured run / estimate), ``grvsnn_r_mean`` and ``ridge_r_mean`` (mean
test r over traits and folds), ``r_by_trait``, ``threads``, ``device`` (and ``max_folds``).
Seconds per fit are the protocol's task times: tuning (GRVSNN's Optuna trials) and final fit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", nargs="+", default=None,
                    help="input sets (default: the page's default)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch/BLAS threads (default: library defaults, as in the app)")
    ap.add_argument("--max-folds", type=int, default=None,
                    help="run only the first N outer folds (quick check; labelled in the output)")
    args = ap.parse_args()
    import torch

    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    import numpy as np

    from genoapp.device import device_description
    from genoapp.train.splits import repeated_kfold
    from genoapp.workflows.presets import protocol_config
    from genoapp.workflows.quantitative import (
        APP_DEFAULT_INPUTS,
        DEMO_TRAITS,
        demo_paths,
        load_quantitative_data,
        results_table,
        run_quantitative,
    )

    t0 = time.perf_counter()
    p = demo_paths()
    data = load_quantitative_data(p["bed"], phenotypes=p["phenotypes"], grm=p["grm"])
    load_s = time.perf_counter() - t0
    print(f"loaded {data} in {load_s:.1f} s (elbow {data.relationship.elbow}, "
          f"plateau {data.relationship.plateau})", flush=True)
    traits = list(DEMO_TRAITS)
    folds = None
    if args.max_folds:
        # the run's own outer folds (preset "quick", samples with an observed trait), first N
        cfg = protocol_config("quick", "regression")
        Y = data.samples[traits].to_numpy(dtype=np.float64)
        folds = repeated_kfold(len(Y), n_splits=cfg.n_splits, n_repeats=cfg.n_repeats,
                               random_state=cfg.random_state,
                               rows=np.flatnonzero(np.isfinite(Y).any(axis=1)))[: args.max_folds]
        print(f"quick check: first {len(folds)} outer fold(s) only", flush=True)
    done = [0]

    def progress(ev):
        kind = ev.get("event")
        if kind not in ("task_end", "task_failed"):
            return
        done[0] += 1
        what = "failed: " + ev["error"] if kind == "task_failed" else "done"
        print(f"  [{time.perf_counter() - t1:7.1f} s] {ev['input']}: {ev['model']} "
              f"({ev['trait']}), fold {ev['repeat']}.{ev['fold_outer']} {what} "
              f"({done[0]}/{ev['n_tasks']})", flush=True)

    inputs = args.inputs or list(APP_DEFAULT_INPUTS)
    # the estimate the page shows before the click (same call as pages/quantitative.py)
    from genoapp.workflows.estimate import estimate_quantitative
    from genoapp.workflows.quantitative import resolve_rank

    t_est = time.perf_counter()
    n_inputs = data.n_variants + (resolve_rank(data, "plateau")
                                  if "markers + loadings" in inputs else 0)
    n_obs = int(data.samples[traits].notna().any(axis=1).sum())
    est = estimate_quantitative(n_obs, n_inputs, len(traits), models=["grvsnn", "ridge"],
                                preset="quick", n_input_sets=len(inputs))
    est_s = time.perf_counter() - t_est
    print(f"estimate shown before the click: {est.text()} (computed in {est_s:.1f} s)",
          flush=True)
    t1 = time.perf_counter()
    run = run_quantitative(data, traits=traits, models=["grvsnn", "ridge"], input_sets=inputs,
                           preset="quick", n_components="plateau", folds=folds,
                           on_event=progress)
    run_s = time.perf_counter() - t1
    for note in run.notes:
        print("note:", note)
    print(results_table(run.summary()).to_string(index=False))
    sc = run.metrics  # one row per model, input set, trait and outer fold
    # GRVSNN fits all traits at once: one task (and time) per input set and fold
    g = sc[sc["key"] == "grvsnn"].drop_duplicates(["input", "repeat", "fold"])["seconds"]
    r = sc[sc["key"] == "ridge"]["seconds"]
    per_set = {k: float(sc.loc[sc["input"] == k].drop_duplicates(
        ["model", "repeat", "fold", "seconds"])["seconds"].sum()) for k in inputs}
    out = {"load_s": load_s, "run_s": run_s, "total_s": load_s + run_s, "inputs": inputs,
           "fit_s_per_input_set": per_set,
           "fits": int(len(g) + len(r)), "grvsnn_s_per_fold": float(g.mean()),
           "ridge_s_per_fit": float(r.mean()), "threads": torch.get_num_threads(),
           "estimate_s": est.seconds, "estimate_compute_s": est_s,
           "estimate_ratio": run_s / est.seconds if est.seconds else None,
           "grvsnn_r_mean": float(sc.loc[sc["key"] == "grvsnn", "r"].mean()),
           "ridge_r_mean": float(sc.loc[sc["key"] == "ridge", "r"].mean()),
           "r_by_trait": {f"{k}|{t}": float(v) for (k, t), v in
                          sc.groupby(["key", "trait"])["r"].mean().items()},
           "device": device_description("auto"), "max_folds": args.max_folds}
    print(f"total {out['total_s']:.0f} s = load {load_s:.0f} s + run {run_s:.0f} s")
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
