"""Known truth on the demo cohort: does the app's default path find the planted signal, and does
it say so plainly when there is none?

The demo disease is simulated on real 1000 Genomes/HapMap3 genotypes from planted additive genes
and interacting gene pairs (``assets/demo/demo.truth.tsv``). This script runs the app's default
clicks headless, as the pages do:

1. QC page defaults (:func:`genoapp.workflows.qc.run_qc_workflow` with the "Teaching demo"
   settings: label-free filters, the balanced 10 % test split, no fixed association filter);
2. Features page defaults (Gene-PCA on the hg19 gene table, fitted on training samples);
3. Train page defaults (quick preset: DiseaseCapsule and logistic regression, 3 seeds, the
   association filter nested and tuned inside the training samples);
4. Capsule insights defaults (permuted-label networks refitting the filter on their labels, the
   coupling scan on the test samples, core genes = FDR-significant one-gene-only AUC on the
   training samples against the references, masked accuracy on the test samples).

Then the same on a pure-noise phenotype (the demo labels permuted once over the samples, same
genotypes): the intervals should include chance, the "did not learn" warning show, and no gene
be significant.

Printed: test ROC AUC (mean over seeds, with the 95 % interval of the first seed), the planted
additive genes among the core genes (FDR-significant, and by the paper's 95th-percentile rule),
each beside the recall expected of a random gene set of the same size, and the time of every
step. Usage: ``python benchmarks/demo_truth.py [--seed 0] [--networks R]``. Ends with
``RESULT {json}`` holding ``capsnet_auc``, ``logreg_auc``, ``additive_in_core``,
``additive_in_core_significant``, ``noise_capsnet_auc``, ``seconds`` and more.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genoapp.demo import (  # noqa: E402
    DEMO_BATCH,
    DEMO_PHENOTYPE,
    HG19_GENES,
    load_demo_cohort,
    load_demo_truth,
)
from genoapp.features.build import FeatureConfig, build_features  # noqa: E402
from genoapp.interpret import planted_recall  # noqa: E402
from genoapp.io import read_gene_table  # noqa: E402
from genoapp.workflows.casecontrol import compare_models  # noqa: E402
from genoapp.workflows.config import protocol_for, qc_config  # noqa: E402
from genoapp.workflows.estimate import estimate_comparison  # noqa: E402
from genoapp.workflows.insights import (  # noqa: E402
    capsule_insights,
    estimate_insights,
    insights_data,
)
from genoapp.workflows.presets import run_config  # noqa: E402
from genoapp.workflows.qc import run_qc_workflow  # noqa: E402


def default_path(y, cohort, *, seed: int, networks: int | None, label: str) -> dict:
    """QC -> features -> training -> insights with the app's defaults; timings per step."""
    cfg = run_config("teaching-demo")
    cfg["qc"] = {**cfg["qc"], "random_state": seed}
    times = {}
    t = time.perf_counter()
    wf = run_qc_workflow(cohort, y, batch=cohort.samples[DEMO_BATCH].to_numpy(),
                         config=qc_config(cfg["qc"]))
    times["qc"] = time.perf_counter() - t
    t = time.perf_counter()
    fs = build_features(wf.G, wf.variants, wf.split, genes=read_gene_table(HG19_GENES),
                        config=FeatureConfig(**(cfg["features"]["config"] or {})))
    times["features"] = time.perf_counter() - t
    train = cfg["train"]
    t = time.perf_counter()
    # what the Train page shows before the click (same call as pages/train.py)
    train_estimate = estimate_comparison(
        len(wf.split.train_idx), fs.X.shape[1], models=train["models"], preset=train["preset"],
        config=protocol_for(train, "classification"), n_snps=int(wf.G.shape[1]),
        association=train["association"], n_units=fs.n_genes).seconds
    times["train_estimate"] = time.perf_counter() - t
    t = time.perf_counter()
    res = compare_models({fs.input_name: fs}, wf.split, snps=wf.G, models=train["models"],
                         preset=train["preset"], config=protocol_for(train, "classification"),
                         association=train["association"])
    times["train"] = time.perf_counter() - t
    data = insights_data(res, fs, snps=wf.G)
    t = time.perf_counter()
    estimate = estimate_insights(data, n_networks=networks)  # what the page shows before the click
    times["insights_estimate"] = time.perf_counter() - t
    t = time.perf_counter()
    ins = capsule_insights(data, n_networks=networks, random_state=seed)
    times["insights"] = time.perf_counter() - t
    s = res.summary().set_index("key")
    print(f"\n== {label}: {wf.G.shape[0]:,} samples x {wf.G.shape[1]:,} SNPs after QC; "
          f"{data.describe()}")
    for key in ("capsule", "logreg"):
        r = s.loc[key]
        print(f"  {r['model']:<22} test ROC AUC {r['roc_auc_mean']:.3f} ± {r['roc_auc_sd']:.3f} "
              f"(95 % CI {r['roc_auc_ci_low']:.3f}-{r['roc_auc_ci_high']:.3f}, p {r['p_auc']:.2g}) "
              f"{r.get('verdict', '')}")
    for w in res.warnings():
        print(f"  warning: {w}")
    for v in ins.verdicts():
        print(f"  {v}")
    print("  seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    print(f"  insights: estimated {estimate:.0f} s before the click, took {times['insights']:.0f} s")
    print(f"  training: estimated {train_estimate:.0f} s before the click, took "
          f"{times['train']:.0f} s")
    return {"result": res, "insights": ins, "summary": s, "times": times, "data": data,
            "estimate": estimate, "train_estimate": train_estimate}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--networks", type=int, default=None,
                    help="permuted-label networks (default: the app's, default_networks)")
    args = ap.parse_args()
    t_all = time.perf_counter()

    cohort = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = cohort.phenotype(DEMO_PHENOTYPE)
    y = np.asarray(y, dtype=float)
    real = default_path(y, cohort, seed=args.seed, networks=args.networks, label="demo phenotype")

    truth = load_demo_truth()
    add = truth.loc[truth["role"] == "additive", "gene"]
    ins = real["insights"]
    universe = real["data"].universe  # every gene the pipeline could have chosen
    rows = [planted_recall(ins.core.genes, add, universe, label="core genes (FDR-significant)"),
            planted_recall(ins.core_percentile.genes, add, universe,
                           label="core genes (95th percentile, paper)")]
    print("\nPlanted additive genes among the core genes (random_recall = expected of a random "
          "set of the same size):")
    for r in rows:
        print(f"  {r['selection']:<38} {r['hits']} of {r['n_planted']} among the {r['n_universe']:,} "
              f"genes ({r['n_selected']} core), recall {r['recall']:.2f} vs random "
              f"{r['random_recall']:.4f} (p {r['p_value']:.2g})")
    network_genes = set(ins.scan.genes)
    add_in_network = int(add.isin(network_genes).sum())
    print(f"  the network was given {len(network_genes)} genes (the nested filter's choice), "
          f"{add_in_network} of them planted additive genes")
    ranks = ins.scan_null.reset_index(drop=True)
    add_ranks = sorted(int(r) for r in ranks.loc[ranks["gene"].isin(set(add)), "rank"])
    print(f"  ranks of the planted additive genes in the gene test "
          f"({ins.settings.get('statistic')}): {add_ranks}")
    sig = ranks.loc[ranks["significant"]]
    print("  significant genes: " + (", ".join(
        f"{g} (q {q:.2g}{', planted' if g in set(truth['gene']) else ''})"
        for g, q in zip(sig["gene"], sig["q"], strict=False)) or "none"))

    rng = np.random.default_rng(2024 + args.seed)
    noise = default_path(rng.permutation(y), cohort, seed=args.seed, networks=args.networks,
                         label="pure-noise phenotype (labels permuted)")
    ns = noise["summary"]
    seconds = time.perf_counter() - t_all
    demo_path = sum(v for k, v in real["times"].items() if not k.endswith("_estimate"))
    print(f"\nDefault demo path (QC, features, training, insights): {demo_path:.0f} s; all: "
          f"{seconds:.0f} s")
    s = real["summary"]
    print("RESULT " + json.dumps({
        "benchmark": "demo_truth", "seed": args.seed, "networks": int(ins.n_networks),
        "noise_networks": int(noise["insights"].n_networks),
        "capsnet_auc": round(float(s.loc["capsule", "roc_auc_mean"]), 4),
        "logreg_auc": round(float(s.loc["logreg", "roc_auc_mean"]), 4),
        "capsnet_auc_ci": [round(float(s.loc["capsule", "roc_auc_ci_low"]), 4),
                           round(float(s.loc["capsule", "roc_auc_ci_high"]), 4)],
        "n_genes_universe": int(len(universe)),
        "n_genes_network": len(network_genes),
        "additive_in_network": add_in_network,
        "gene_statistic": ins.settings.get("statistic"),
        "significant_genes": [str(g) for g in sig["gene"]],
        "additive_in_core": int(rows[1]["hits"]),
        "additive_in_core_significant": int(rows[0]["hits"]),
        "n_core_significant": int(ins.core.n_core),
        "additive_ranks": add_ranks,
        "noise_capsnet_auc": round(float(ns.loc["capsule", "roc_auc_mean"]), 4),
        "noise_logreg_auc": round(float(ns.loc["logreg", "roc_auc_mean"]), 4),
        "noise_capsnet_ci": [round(float(ns.loc["capsule", "roc_auc_ci_low"]), 4),
                             round(float(ns.loc["capsule", "roc_auc_ci_high"]), 4)],
        "noise_warnings": len(noise["result"].warnings()),
        "noise_n_significant": int(noise["insights"].scan_null["significant"].sum()),
        "demo_path_seconds": round(demo_path, 1),
        "step_seconds": {k: round(v, 1) for k, v in real["times"].items()},
        "insights_estimate_seconds": round(real["estimate"], 1),
        "train_estimate_seconds": round(real["train_estimate"], 1),
        "seconds": round(seconds, 1),
    }))


if __name__ == "__main__":
    main()
