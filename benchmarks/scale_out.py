"""In-process vs a local Dask cluster (``local:2``), side by side, and the cost model (issue 18).

Three workloads, each run in this process and then on a 2-worker ``LocalCluster`` (one thread per
worker) with the same seeds; the results are compared for identity:

1. **null**: masked test accuracy of a gene set against 1,000 random gene sets
   (:func:`genoapp.interpret.permutation_null`) for a DiseaseCapsule network trained (2 epochs)
   on the demo cohort's Gene-PCA features;
2. **cv**: a 5-fold × 3-repeat comparison (15 outer folds; every fold's inner tuning inside
   it) of logistic regression, random forest and the MLP (10 epochs), quick preset, on the
   first 1,000 columns of the same features (45 tasks)
   (:func:`genoapp.workflows.protocol.run_protocol`);
3. **qc**: the QC funnel (``--geno 0.1 --mind 0.1 --maf 0.01 --hwe 1e-5 midp``) on the
   paper-scale ``plink1.9 --dummy 10405 505333`` cohort (created once, cached under the temp
   folder; :func:`genoapp.qc.run_qc_bed`), variant blocks read from the .bed on the workers.

In-process runs use torch's default threads (2 here), as the app does; the workers use one
thread each. Identity: scikit-learn metrics, QC kept sets and the null's accuracies exactly;
torch fits within the floating-point differences a different thread count makes (printed).

Then the **cost model**, measured on this machine (one worker = one core):

- QC: seconds per block of 10,000 variants × 10,405 samples (the counting kernel on the
  block's bytes, read from the .bed);
- Gene-PCA: seconds per block of 10,000 SNPs × 10,405 samples (genes of 20 SNPs, fit + scores);
- training: DiseaseCapsule seconds per sample-epoch at the paper's 75,584 Gene-PCA features
  (forward + backward + Adam step, batch 128, a few batches timed);
- bytes moved per block (pickled result) and per training step (the gradient all-reduce).

From these it prints the expected wall time of a 500,000-sample × 800,000-SNP cohort on 8, 32
and 128 workers, assuming the .bed (100 GB) is read from a shared file system at
``--fs-gb-s`` GB/s in aggregate (default 2).

Usage (from the repository root, under the shared lock on shared machines)::

    flock /tmp/genoapp_heavy.lock .venv/bin/python benchmarks/scale_out.py

``--smoke`` uses a small dummy cohort and 50 null sets (checks the script only). The last line
is ``RESULT {json}`` with ``null_speedup``, ``cv_speedup`` (goal >= 1.6 on 2 cores),
``qc_overhead`` (distributed / in-process time on one machine; goal <= 1.3), ``identical``,
the cost model and the projections.
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TEST_METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]
KEYS = ["model", "key", "input", "trait", "repeat", "fold", "seed"]
CV_COLUMNS = 1000  # the first 1,000 Gene-PCA columns: 45 tasks of about a second each


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def null_workload(fs, ex, n_sets: int) -> dict:
    from genoapp.execution import use_executor
    from genoapp.interpret import permutation_null
    from genoapp.models import DiseaseCapsuleClassifier

    model = DiseaseCapsuleClassifier(epochs=2, random_state=0, device="cpu")
    model.fit(fs.X[fs.split.train_idx], fs.split.y[fs.split.train_idx])
    genes = pd.unique(np.asarray(fs.feature_gene))
    kept = np.random.default_rng(0).choice(genes, size=max(1, len(genes) // 10), replace=False)
    ref, t_in = _timed(lambda: permutation_null(model, fs, kept, n_sets=n_sets, random_state=0))
    with use_executor(ex):
        got, t_d = _timed(lambda: permutation_null(model, fs, kept, n_sets=n_sets, random_state=0))
    same = ref.null.equals(got.null) and ref.observed == got.observed
    return {"in_process_s": t_in, "local2_s": t_d, "identical": bool(same),
            "what": f"{n_sets:,} random sets of {len(kept)} of {len(genes):,} genes, "
                    f"{len(fs.split.test_idx)} test samples"}


def cv_workload(fs, ex) -> dict:
    from genoapp.execution import use_executor
    from genoapp.train import repeated_kfold
    from genoapp.workflows.presets import protocol_config
    from genoapp.workflows.protocol import run_protocol
    from genoapp.workflows.registry import model_specs

    X = np.ascontiguousarray(fs.X[:, :CV_COLUMNS])
    y = fs.split.y
    specs = model_specs(["logreg", "rf", "mlp"], task="classification", preset="quick",
                        overrides={"mlp": {"epochs": 10}})
    cfg = protocol_config("quick", "classification", seeds=(0,), device="cpu")
    outer = repeated_kfold(len(y), n_splits=5, n_repeats=3, random_state=0)
    kw = dict(models=specs, outer=outer, config=cfg)
    ref, t_in = _timed(lambda: run_protocol({"Gene-PCA": X}, y, **kw))
    with use_executor(ex):
        got, t_d = _timed(lambda: run_protocol({"Gene-PCA": X}, y, **kw))
    a = ref.metrics.set_index(KEYS)[TEST_METRICS].sort_index()
    b = got.metrics.set_index(KEYS)[TEST_METRICS].sort_index()
    skl = a.index.get_level_values("key") != "mlp"
    exact = bool(a[skl].equals(b[skl]))
    torch_diff = float(np.nanmax(np.abs(a[~skl].to_numpy() - b[~skl].to_numpy()))) if (~skl).any() else 0.0
    return {"in_process_s": t_in, "local2_s": t_d, "identical": exact, "torch_max_diff": torch_diff,
            "n_tasks": int(len(ref.metrics)),
            "what": f"{len(outer)} outer folds x {len(specs)} models on {X.shape[0]:,} x "
                    f"{X.shape[1]:,} Gene-PCA features"}


def dummy_cohort(samples: int, snps: int) -> Path:
    plink = shutil.which("plink1.9") or shutil.which("plink")
    if plink is None:
        sys.exit("plink1.9 not found: apt-get install plink1.9")
    cache = Path(tempfile.gettempdir()) / "genoapp_bench"
    cache.mkdir(exist_ok=True)
    name = "paper_dummy" if (samples, snps) == (10405, 505333) else f"dummy_{samples}_{snps}"
    prefix = cache / name
    if not prefix.with_suffix(".bed").exists():
        print(f"creating {prefix} with plink1.9 --dummy (once) ...", flush=True)
        subprocess.run([plink, "--dummy", str(samples), str(snps), "0.02", "acgt", "--make-bed",
                        "--seed", "1", "--out", str(prefix)], check=True, capture_output=True)
    return prefix


def qc_workload(prefix: Path, ex) -> dict:
    from genoapp.execution import use_executor
    from genoapp.io import open_plink
    from genoapp.qc import QCConfig, run_qc_bed

    geno = open_plink(str(prefix))
    cfg = QCConfig(geno=0.1, mind=0.1, maf=0.01, hwe=1e-5)
    run_qc_bed(geno, config=cfg)  # warm-up: numba cache, page cache
    ref, t_in = _timed(lambda: run_qc_bed(geno, config=cfg))
    with use_executor(ex):
        run_qc_bed(geno, config=cfg)  # the workers' numba compile and page cache
        got, t_d = _timed(lambda: run_qc_bed(geno, config=cfg))
    same = (np.array_equal(ref.sample_mask, got.sample_mask)
            and np.array_equal(ref.variant_mask, got.variant_mask))
    return {"in_process_s": t_in, "local2_s": t_d, "identical": bool(same),
            "what": f"{geno.n_samples:,} x {geno.n_variants:,}, kept {int(ref.sample_mask.sum()):,} "
                    f"samples and {int(ref.variant_mask.sum()):,} variants"}


def cost_model(prefix: Path, *, block: int = 10_000) -> dict:
    """Per-block costs on one core of this machine, and bytes moved."""
    import torch

    from genoapp.features.annotation import snp_windows
    from genoapp.features.genepca import gene_pca_features
    from genoapp.io import open_plink
    from genoapp.models import DiseaseCapsuleClassifier
    from genoapp.qc import QCConfig, run_qc_bed

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        geno = open_plink(str(prefix))
        n = geno.n_samples
        # QC on one block: a .bed of the first `block` variants
        work = Path(tempfile.mkdtemp(prefix="genoapp_cost_"))
        sub = work / "block"
        plink = shutil.which("plink1.9") or shutil.which("plink")
        subprocess.run([plink, "--bfile", str(prefix), "--chr", "1", "--from-bp", "0", "--to-bp",
                        str(block - 1), "--make-bed", "--out", str(sub), "--threads", "1"],
                       check=True, capture_output=True)
        gb = open_plink(str(sub))
        cfg = QCConfig(geno=0.1, mind=0.1, maf=0.01, hwe=1e-5)
        run_qc_bed(gb, config=cfg)
        qc_res, t_qc = _timed(lambda: run_qc_bed(gb, config=cfg))
        qc_bytes = len(pickle.dumps(qc_res.variant_stats))
        # Gene-PCA on one block: windows of 20 SNPs (read from the .bed), fit on all samples,
        # scores for all
        ann = snp_windows(gb.variants, n_snps=20)
        gene_pca_features(gb, ann)
        res, t_pca = _timed(lambda: gene_pca_features(gb, ann))
        pca_model_bytes = len(pickle.dumps(res.model))
        pca_score_bytes = int(np.asarray(res.X).nbytes)
        # training: DiseaseCapsule at the paper's feature count, a few batches
        F, bs, n_batches = 75_584, 128, 3
        rng = np.random.default_rng(0)
        Xb = rng.standard_normal((bs * (n_batches + 1), F), dtype=np.float32)
        yb = np.tile([0, 1], Xb.shape[0] // 2)
        est = DiseaseCapsuleClassifier(epochs=1, batch_size=bs, random_state=0, device="cpu")
        _, t_fit = _timed(lambda: est.fit(Xb, yb))
        per_sample_epoch = t_fit / Xb.shape[0]
        n_params = sum(p.numel() for p in est.model_.parameters())
        shutil.rmtree(work, ignore_errors=True)
    finally:
        torch.set_num_threads(torch_threads)
    return {"qc_block_s": t_qc, "genepca_block_s": t_pca, "block_variants": block,
            "block_samples": n, "train_sample_epoch_s": per_sample_epoch,
            "train_params": int(n_params), "qc_block_bytes": qc_bytes,
            "genepca_model_bytes": pca_model_bytes, "genepca_score_bytes": pca_score_bytes, "allreduce_bytes_per_step": 4 * int(n_params)}


def project(cost: dict, *, n: int = 500_000, m: int = 800_000, epochs: int = 30,
            workers=(8, 32, 128), fs_gb_s: float = 2.0, net_gb_s: float = 1.0) -> pd.DataFrame:
    """Expected wall time of a biobank cohort from the measured per-block costs.

    Costs scale linearly with samples (QC counts and the Gene-PCA covariance are O(n) per
    SNP); blocks are independent; the .bed is read once per pass at ``fs_gb_s``; training
    is data-parallel (each worker a DDP process) with one gradient all-reduce per step.
    """
    scale_n = n / cost["block_samples"]
    blocks = m / cost["block_variants"]
    bed_gb = n / 4 * m / 1e9
    rows = []
    for w in workers:
        qc = max(2 * blocks * cost["qc_block_s"] * scale_n / w, 2 * bed_gb / fs_gb_s)
        pca = max(blocks * cost["genepca_block_s"] * scale_n / w, bed_gb / fs_gb_s)
        steps = n / 128 * epochs / w  # global batch 128 per worker
        comm = steps * 2 * cost["allreduce_bytes_per_step"] / (net_gb_s * 1e9)
        train = cost["train_sample_epoch_s"] * n * epochs / w + comm
        rows.append({"workers": w, "qc_h": qc / 3600, "genepca_h": pca / 3600,
                     "train_30_epochs_h": train / 3600, "total_h": (qc + pca + train) / 3600})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--null-sets", type=int, default=1000)
    ap.add_argument("--fs-gb-s", type=float, default=2.0,
                    help="aggregate read bandwidth of the shared file system (projection only)")
    ap.add_argument("--smoke", action="store_true", help="small cohort, 50 sets: checks the script")
    args = ap.parse_args()

    import torch

    from genoapp.demo import demo_gene_pca_features
    from genoapp.execution import open_executor

    n_sets = 50 if args.smoke else args.null_sets
    prefix = dummy_cohort(*((2000, 20000) if args.smoke else (10405, 505333)))
    print(f"machine: {torch.get_num_threads()} torch threads in-process; workers 1 thread each",
          flush=True)
    fs = demo_gene_pca_features()
    ex, t_open = _timed(lambda: open_executor("local:2"))
    print(f"local:2 started in {t_open:.1f} s ({ex.n_workers} workers, dashboard "
          f"{ex.dashboard_link})", flush=True)
    out = {}
    try:
        for name, fn in (("null", lambda: null_workload(fs, ex, n_sets)),
                         ("cv", lambda: cv_workload(fs, ex)),
                         ("qc", lambda: qc_workload(prefix, ex))):
            out[name] = fn()
            r = out[name]
            print(f"{name:<5} in-process {r['in_process_s']:7.1f} s | local:2 {r['local2_s']:7.1f} s"
                  f" | ratio {r['in_process_s'] / r['local2_s']:.2f} | identical {r['identical']}"
                  f"  ({r['what']})", flush=True)
    finally:
        ex.close()
    print(f"cv: torch (MLP) test metrics differ by at most {out['cv']['torch_max_diff']:.2e} "
          "(2 threads in-process, 1 per worker)")
    cost = cost_model(prefix)
    print("\ncost model (one core):")
    for k, v in cost.items():
        print(f"  {k:<26} {v:.4g}" if isinstance(v, float) else f"  {k:<26} {v:,}")
    proj = project(cost, fs_gb_s=args.fs_gb_s)
    print(f"\nexpected wall time, 500,000 x 800,000 (shared FS {args.fs_gb_s} GB/s):")
    print(proj.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    result = {
        "null_speedup": out["null"]["in_process_s"] / out["null"]["local2_s"],
        "cv_speedup": out["cv"]["in_process_s"] / out["cv"]["local2_s"],
        "qc_overhead": out["qc"]["local2_s"] / out["qc"]["in_process_s"],
        "identical": all(r["identical"] for r in out.values()),
        "cv_torch_max_diff": out["cv"]["torch_max_diff"],
        "cluster_start_s": t_open, "workloads": out, "cost": cost,
        "projection": proj.to_dict(orient="records"), "smoke": bool(args.smoke),
    }
    print("RESULT " + json.dumps(result, default=float))


if __name__ == "__main__":
    main()
