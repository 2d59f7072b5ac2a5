"""Wall time of the Quantitative traits page's default run on the built-in mice example.

Exactly what the page runs when the user presses *Run* without changing anything: the shipped
BGLR mice (``assets/quantitative/mice``: 1,814 x 10,346 SNPs), traits ``Obesity.BodyLength``
and ``Obesity.BMI``, models GRVSNN and ridge (GBLUP), the page's default inputs (``APP_DEFAULT_INPUTS``; m = 169,
the paper's rule; ``--inputs`` to change), protocol preset "app" (5-fold CV x 2 repeats, 5 Optuna
trials per training fold, early stopping patience 25, at most 100 epochs, 16 hidden units),
with the libraries' default threads (set ``--threads 1`` on a loaded shared machine).

Prints the loading time, the time per input set and model, the whole run and the results
table. Ends with ``RESULT {json}``: ``load_s``, ``run_s``, ``total_s``, ``fits``,
``grvsnn_s_per_fold``, ``ridge_s_per_fit``, ``threads``, ``device``.
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
    args = ap.parse_args()
    import torch

    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    from genoapp.quantitative import (
        APP_DEFAULT_INPUTS,
        DEMO_TRAITS,
        PRESET_GRVSNN,
        demo_paths,
        load_quantitative_data,
        run_quantitative,
    )
    from genoapp.train.cv import PRESETS
    from genoapp.train.device import device_description

    t0 = time.perf_counter()
    p = demo_paths()
    data = load_quantitative_data(p["bed"], phenotypes=p["phenotypes"], grm=p["grm"])
    load_s = time.perf_counter() - t0
    print(f"loaded {data} in {load_s:.1f} s (elbow {data.relationship.elbow}, "
          f"plateau {data.relationship.plateau})", flush=True)
    t1 = time.perf_counter()

    def progress(ev):
        print(f"  [{time.perf_counter() - t1:7.1f} s] {ev['inputs']}: {ev['message']} "
              f"({ev['overall_done']}/{ev['overall_total']})", flush=True)

    inputs = args.inputs or list(APP_DEFAULT_INPUTS)
    run = run_quantitative(data, traits=list(DEMO_TRAITS), models=["GRVSNN", "Ridge (GBLUP)"],
                           input_sets=inputs, config=PRESETS["app"], n_components="plateau",
                           grvsnn_params=PRESET_GRVSNN["app"], progress=progress)
    run_s = time.perf_counter() - t1
    print(run.table().to_string(index=False))
    sc = run.scores()
    g = sc[sc["model"] == "GRVSNN"].drop_duplicates(["inputs", "repeat", "fold"])["seconds"]
    r = sc[sc["model"] == "Ridge (GBLUP)"]["seconds"]
    per_set = {k: float(sc.loc[sc["inputs"] == k].drop_duplicates(
        ["model", "repeat", "fold", "seconds"])["seconds"].sum()) for k in inputs}
    out = {"load_s": load_s, "run_s": run_s, "total_s": load_s + run_s, "inputs": inputs,
           "fit_s_per_input_set": per_set,
           "fits": int(len(g) + len(r)), "grvsnn_s_per_fold": float(g.mean()),
           "ridge_s_per_fit": float(r.mean()), "threads": torch.get_num_threads(),
           "device": device_description("auto")}
    print(f"total {out['total_s']:.0f} s = load {load_s:.0f} s + run {run_s:.0f} s")
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
