"""The paper-Table-1 comparison on real data: rice 44K binary traits and the demo cohort.

For each dataset the app's own steps run headless: the QC page's flow
(:func:`genoapp.workflows.qc.run_qc_workflow`: label-free filters, the balanced 10 % test split, then
variant filters and the GWAS filter at p < 0.05 on training samples only), the Features page
(Gene-PCA for the demo; windows of 20 SNPs for rice, which has no gene table in the app; plus
All-PCA with as many components, :func:`genoapp.workflows.casecontrol.all_pca_config`, unless
``--no-all-pca``), then
:func:`genoapp.workflows.casecontrol.compare_models` (every case/control model of the registry,
identical splits and seeds, quick preset by default).

Rice is inbred (almost no heterozygotes), so the Hardy-Weinberg filter is off for it.

Run from the repository root (heavy: use the shared lock)::

    flock /tmp/genoapp_heavy.lock .venv/bin/python benchmarks/model_zoo.py [--datasets rice demo]
        [--traits Leaf_pubescence ...] [--preset quick|paper] [--seeds 3] [--models ...]
        [--association fixed|nested] [--no-all-pca]

``--association nested --no-all-pca --models capsule logreg`` is the app's default path.

Prints, per dataset, the comparison table (mean ± SD over seeds) beside the paper's ALS
figures for orientation (a different cohort and phenotype: not a target), and ends with
``RESULT {json}`` holding every table.
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

from genoapp.cohort import Cohort  # noqa: E402
from genoapp.features.build import FeatureConfig, build_features  # noqa: E402
from genoapp.qc import QCConfig  # noqa: E402
from genoapp.workflows.casecontrol import all_pca_config, compare_models  # noqa: E402
from genoapp.workflows.presets import protocol_config  # noqa: E402
from genoapp.workflows.protocol import comparison_table  # noqa: E402
from genoapp.workflows.qc import QCWorkflowConfig, run_qc_workflow  # noqa: E402
from genoapp.workflows.registry import CASECONTROL_MODELS  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RICE_TRAITS = ("Leaf_pubescence", "Awn_presence", "Pericarp_color", "Seed_color")
# paper Table 1 (ALS, Gene-PCA / All-PCA accuracy), for orientation only
PAPER = {"DiseaseCapsule": (0.869, 0.819), "MLP": (0.842, 0.725), "CNN": (0.745, 0.538),
         "Authors' 'PRS' (LR on SNPs p<0.05)": (0.818, None)}
# the Features step offers All-PCA (FeatureConfig.method); kept in the RESULT for old readers
HAS_ALL_PCA = True


def _qc_config(*, hwe: bool, gwas: float | None = 0.05) -> QCWorkflowConfig:
    qc = QCConfig(mind=0.1, geno=0.1, maf=0.01, hwe=1e-6 if hwe else None, hwe_midp=True,
                  test_missing=1e-4, test_missing_midp=True, autosomes_only=True)
    return QCWorkflowConfig(qc=qc, batch_filter=None, gwas=gwas, test_size=0.1, random_state=0,
                            pca_components=0)


def run_dataset(name: str, cohort, y, *, genes, feature_kind: str, hwe: bool, args) -> dict:
    t0 = time.perf_counter()
    nested = args.association == "nested"
    wf = run_qc_workflow(cohort, y, config=_qc_config(hwe=hwe, gwas=None if nested else 0.05))
    t_qc = time.perf_counter() - t0
    split = wf.split
    cfg = FeatureConfig(kind=feature_kind, window_snps=20 if feature_kind == "windows" else None)
    t0 = time.perf_counter()
    primary = build_features(wf.G, wf.variants, split, genes=genes, config=cfg)
    inputs = {"Gene-PCA" if feature_kind == "genes" else "Windows-PCA": primary}
    if HAS_ALL_PCA and args.all_pca:
        inputs["All-PCA"] = build_features(wf.G, wf.variants, split, genes=genes,
                                           config=all_pca_config(primary, wf.G.shape[1]))
    t_feat = time.perf_counter() - t0
    config = protocol_config(args.preset, "classification", seeds=tuple(range(args.seeds)),
                             device=args.device)
    t0 = time.perf_counter()
    res = compare_models(inputs, split, snps=wf.G, models=args.models, preset=args.preset, config=config,
                         association=args.association if nested else "none")
    t_train = time.perf_counter() - t0
    # one row per (model, input); "n" (seeds scored) under its old name
    summary = res.summary().rename(columns={"n": "n_seeds"})
    yt = split.y[split.train_idx]
    info = {"dataset": name, "samples": int(len(split.y)), "train": int(len(split.train_idx)),
            "train_cases": int((yt == 1).sum()), "test": int(len(split.test_idx)),
            "qc_variants": int(wf.G.shape[1]),
            "features": {k: int(v.X.shape[1]) for k, v in inputs.items()},
            "seconds": {"qc": round(t_qc, 1), "features": round(t_feat, 1), "train": round(t_train, 1)},
            "notes": res.notes}
    print(f"\n=== {name}: {info['samples']} samples ({info['train']} training, {info['train_cases']} "
          f"training cases; {info['test']} balanced test), {info['qc_variants']:,} variants after QC"
          f"{' (association filter nested in training)' if nested else ' + GWAS p<0.05 on training samples'}; "
          f"features {info['features']}; "
          f"QC {t_qc:.0f} s, features {t_feat:.0f} s, training {t_train:.0f} s")
    for note in res.notes:
        print("   note:", note)
    cols = ["model", "input", "n_seeds", "accuracy", "precision", "recall", "f1", "roc_auc"]
    show = summary[cols + [c for c in ("roc_auc_ci_low", "roc_auc_ci_high", "verdict")
                           if c in summary]].copy()
    show["paper ALS acc (Gene/All-PCA)"] = [
        "/".join("-" if v is None else f"{v:.3f}" for v in PAPER[m]) if m in PAPER else "" for m in show["model"]]
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(show.to_string(index=False))
    info["summary"] = summary.to_dict(orient="records")
    info["table1"] = comparison_table(summary).to_dict(orient="records")
    return info


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["rice", "demo"], choices=["rice", "demo"])
    ap.add_argument("--traits", nargs="+", default=list(RICE_TRAITS), choices=list(RICE_TRAITS))
    ap.add_argument("--preset", default="quick", choices=["quick", "paper"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=list(CASECONTROL_MODELS),
                    choices=list(CASECONTROL_MODELS))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--association", default="fixed", choices=["fixed", "nested"],
                    help="fixed: GWAS p < 0.05 on the training samples in QC (the paper); nested: "
                         "the app's default, top-k chosen on inner folds of the training samples")
    ap.add_argument("--no-all-pca", dest="all_pca", action="store_false",
                    help="only the primary input (the app's default)")
    args = ap.parse_args(argv)
    out = {"preset": args.preset, "seeds": args.seeds, "all_pca": HAS_ALL_PCA and args.all_pca,
           "association": args.association, "datasets": []}
    if "rice" in args.datasets:
        d = SHARED / "rice_44k"
        if not (d / "rice44k.bed").is_file():
            print(f"rice 44K not found under {d}: skipped")
        else:
            base = Cohort.from_files(d / "rice44k", phenotypes=d / "rice44k.pheno.tsv")
            for trait in args.traits:
                cohort = base.select(require_phenotype=trait)
                y, _ = cohort.phenotype(trait)
                out["datasets"].append(run_dataset(f"rice 44K {trait}", cohort, y, genes=None,
                                                   feature_kind="windows", hwe=False, args=args))
    if "demo" in args.datasets:
        from genoapp.demo import DEMO_PHENOTYPE, HG19_GENES, load_demo_cohort
        from genoapp.io import read_gene_table

        cohort = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
        y, _ = cohort.phenotype(DEMO_PHENOTYPE)
        out["datasets"].append(run_dataset("demo (simulated disease)", cohort, np.asarray(y, float),
                                           genes=read_gene_table(HG19_GENES), feature_kind="genes",
                                           hwe=True, args=args))
    print("RESULT " + json.dumps(out, default=str))
    return out


if __name__ == "__main__":
    main()
