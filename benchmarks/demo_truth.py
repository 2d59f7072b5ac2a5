"""Known truth on the demo cohort: planted genes among the core genes and the GA's selection.

The demo disease is simulated on real 1000 Genomes/HapMap3 genotypes from planted additive genes
and interacting gene pairs (``assets/demo/demo.truth.tsv``). This script runs the app's default
path headless, as the pages do: the QC page's workflow (label-free filters, the balanced 10 %
test split, HWE and differential missingness, the batch-effect filter on controls and the GWAS
filter at p < 0.05 on training samples), Gene-PCA fitted on training samples, DiseaseCapsule
(``--epochs``, default 30 as the authors) on the upsampled training samples, the one-gene-only
gene scan on the training cases (float64), the core genes at the 95th percentile, and the
genetic algorithm (quick settings unless ``--ga paper``) with retraining on its genes.

Printed: recall of the planted genes (all, additive, interacting) among the core genes and of
the interacting genes among the GA's genes, each beside the recall expected of a random gene set
of the same size (n / N) and its hypergeometric p-value (:func:`genoapp.interpret.planted_recall`).
Usage: ``python benchmarks/demo_truth.py [--epochs 30] [--ga quick|paper] [--seed 0]``. Ends with
``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genoapp.demo import (  # noqa: E402
    DEMO_BATCH,
    DEMO_PHENOTYPE,
    HG19_GENES,
    load_demo_cohort,
    load_demo_truth,
)
from genoapp.interpret import (  # noqa: E402
    GAConfig,
    GeneIndex,
    core_genes,
    gene_scan,
    planted_recall,
    retrain_on_genes,
    search_nonadditive_genes,
)
from genoapp.io import read_gene_table  # noqa: E402
from genoapp.models import DiseaseCapsuleClassifier, make_logistic_regression  # noqa: E402
from genoapp.pipeline import TrainResult, build_features, coupling_summary  # noqa: E402
from genoapp.qc.workflow import QCWorkflowConfig, run_qc_workflow  # noqa: E402
from genoapp.train import upsample_minority  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--ga", choices=["quick", "paper"], default="quick")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t_all = time.perf_counter()

    cohort = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = cohort.phenotype(DEMO_PHENOTYPE)
    wf = run_qc_workflow(cohort, np.asarray(y, float), batch=cohort.samples[DEMO_BATCH].astype(str).to_numpy(),
                         config=QCWorkflowConfig(random_state=args.seed, pca_components=0))
    split = wf.split
    fs = build_features(wf.G, wf.variants, split, genes=read_gene_table(HG19_GENES))
    print(f"QC: {wf.G.shape[0]:,} samples x {wf.G.shape[1]:,} variants after the GWAS filter; "
          f"{fs.X.shape[1]:,} Gene-PCA features from {len(fs.summary):,} genes")

    fit_idx = upsample_minority(split.train_idx, split.y, random_state=args.seed)
    t = time.perf_counter()
    capsule = DiseaseCapsuleClassifier(epochs=args.epochs, device="cpu", random_state=args.seed)
    capsule.fit(fs.X[fit_idx], split.y[fit_idx])
    lr = make_logistic_regression(C=0.01, random_state=args.seed).fit(fs.X[fit_idx], split.y[fit_idx])
    te = split.test_idx
    acc_caps = float((capsule.predict(fs.X[te]) == split.y[te]).mean())
    acc_lr = float((lr.predict(fs.X[te]) == split.y[te]).mean())
    print(f"DiseaseCapsule ({args.epochs} epochs, {time.perf_counter() - t:.0f} s with the LR): test "
          f"accuracy {acc_caps:.3f}; logistic regression {acc_lr:.3f}")

    result = TrainResult(capsule=capsule, baseline=lr, metrics=None, test_scores={}, test_predictions={},
                         history=None, seconds={})
    cs = coupling_summary(result.capsule, fs, split)
    k_star = int(cs.strongest_case_type)
    gi = GeneIndex(fs.feature_gene)
    tr = split.train_idx
    scan = gene_scan(capsule, fs.X[tr], gi, y=split.y[tr], k_star=k_star, dtype="float64")
    cg = core_genes(scan.scores(k_star), scan.genes, percentile=95.0, summary=fs.summary)
    print(f"gene scan: {len(scan.genes):,} genes on {scan.n_samples['case']:,} training cases in "
          f"{scan.seconds:.1f} s; {cg.n_core} core genes (95th percentile, type k* = {k_star + 1})")

    truth = load_demo_truth()
    rows = [
        planted_recall(cg.genes, truth["gene"], scan.genes, label="core genes: all planted"),
        planted_recall(cg.genes, truth.loc[truth["role"] == "additive", "gene"], scan.genes,
                       label="core genes: additive"),
        planted_recall(cg.genes, truth.loc[truth["role"] == "interaction", "gene"], scan.genes,
                       label="core genes: interacting"),
    ]

    cfg = GAConfig.quick(random_state=args.seed) if args.ga == "quick" else GAConfig.paper(random_state=args.seed)
    fit_rows, counts = np.unique(fit_idx, return_counts=True)
    t = time.perf_counter()
    ga = search_nonadditive_genes(capsule, fs.X[fit_rows], split.y[fit_rows], gi, cg.table["gene"],
                                  baseline=lr, sample_weight=counts, config=cfg)
    t_ga = time.perf_counter() - t
    inter = truth.loc[truth["role"] == "interaction", "gene"]
    rows += [planted_recall(ga.selected_genes, inter, scan.genes, label="GA genes: interacting"),
             planted_recall(ga.selected_genes, inter, ga.pool_genes,
                            label="GA genes: interacting, within the pool")]
    re = retrain_on_genes(fs.X, split.y, gi, ga.selected_genes, train_idx=split.train_idx, test_idx=te,
                          random_state=args.seed,
                          capsule_params={"epochs": args.epochs, "device": "cpu"})
    print(f"GA ({args.ga}: pool {cfg.pool_size}, population {cfg.population}, {cfg.generations} "
          f"generations) in {t_ga:.0f} s: {len(ga.selected_genes)} genes; retrained on them:")
    print(re.metrics.to_string(index=False))

    table = pd.DataFrame(rows)
    cols = [c for c in ("selection", "n_selected", "n_universe", "n_planted", "hits", "recall",
                        "random_recall", "p_value") if c in table]
    print("\nPlanted genes recovered (random_recall = expected recall of a random set of the same size):")
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print("RESULT " + json.dumps({
        "benchmark": "demo_truth", "epochs": args.epochs, "ga": args.ga, "seed": args.seed,
        "n_genes": int(len(scan.genes)), "n_core": int(cg.n_core), "test_accuracy_capsule": acc_caps,
        "test_accuracy_logreg": acc_lr, "ga_genes": int(len(ga.selected_genes)),
        "recall": table[cols].to_dict(orient="records"),
        "retrain": re.metrics.to_dict(orient="records"), "seconds": round(time.perf_counter() - t_all, 1),
    }, default=float))


if __name__ == "__main__":
    main()
