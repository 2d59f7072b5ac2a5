"""The protocol's tasks on a 2-worker Dask LocalCluster give the in-process results (issue 18).

Case/control on the demo cohort's Gene-PCA features (first 200 columns): scikit-learn models
equal exactly, the MLP within 1e-6 (one torch thread here, as on the workers); the same with shared
tuning (later seeds wait for the first) on two test splits. Quantitative traits through
:func:`run_quantitative` with ridge. A stop keeps the finished tasks. ``python -m genoapp run
--cluster local:2`` records where it ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoapp.execution import current_executor, use_executor
from genoapp.train import StopFlag, holdout_folds
from genoapp.train.splits import OuterFold
from genoapp.workflows.presets import protocol_config
from genoapp.workflows.protocol import run_protocol
from genoapp.workflows.registry import model_specs

REPO = Path(__file__).resolve().parents[1]
TEST_METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]
KEYS = ["model", "key", "input", "trait", "repeat", "fold", "seed"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def demo(demo_gene_pca):
    fs = demo_gene_pca
    return np.ascontiguousarray(fs.X[:, :200]), fs.split


def _both(ex, *args, **kwargs):
    """The same run_protocol call in-process, then on the cluster."""
    assert not current_executor().distributed
    ref = run_protocol(*args, **kwargs)
    with use_executor(ex):
        got = run_protocol(*args, **kwargs)
    return ref, got


def _assert_same_tables(ref, got, *, atol=0.0):
    for name in ("metrics", "fold_metrics", "predictions", "stage_metrics", "stage_choice"):
        a, b = getattr(ref, name), getattr(got, name)
        cols = [c for c in a.columns if c not in ("seconds", "device")]
        pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=not atol, atol=atol, rtol=0,
                                      obj=name)
    assert ref.notes == got.notes and ref.stopped == got.stopped
    assert list(ref.estimators) == list(got.estimators)
    assert list(ref.importance_sums) == list(got.importance_sums)
    for k, acc in ref.importance_sums.items():
        np.testing.assert_allclose(acc["imp_sum"], got.importance_sums[k]["imp_sum"], rtol=0,
                                   atol=atol)
        assert acc["n_imp"] == got.importance_sums[k]["n_imp"]


def test_case_control_comparison_equals_in_process(local2, demo):
    X, split = demo
    specs = model_specs(["logreg", "rf", "mlp"], task="classification", preset="quick",
                        overrides={"mlp": {"epochs": 2}})
    cfg = protocol_config("quick", "classification", seeds=(0, 1), device="cpu")
    outer = holdout_folds(split.train_idx, split.test_idx, seeds=cfg.seeds)
    events = []
    ref, got = _both(local2, {"Gene-PCA": X}, split.y, models=specs, outer=outer, config=cfg,
                     on_event=events.append)
    assert len(ref.metrics) == 6 and not got.stopped
    skl = (ref.metrics["key"] != "mlp").to_numpy()
    cols = KEYS + TEST_METRICS + ["n_train", "n_test", "best_params", "val_score"]
    pd.testing.assert_frame_equal(ref.metrics.loc[skl, cols], got.metrics.loc[skl, cols],
                                  check_exact=True)  # scikit-learn: identical
    _assert_same_tables(ref, got, atol=1e-6)  # the MLP: one thread per worker
    # progress on the cluster: where the tasks run, then each task's events as it finishes
    cluster = events[events.index(next(e for e in events if e["event"] == "message")):]
    assert "2 Dask worker(s)" in cluster[0]["text"]
    ends = sorted(e["task"] for e in cluster if e["event"] == "task_end")
    assert ends == list(range(6)) and not any(e["event"] == "epoch" for e in cluster)
    assert cluster[-1]["event"] == "done"


def test_shared_tuning_on_two_splits_waits_for_the_first_seed(local2, demo):
    X, split = demo
    # two test splits (fold 1, fold 2) x two seeds: the second seed of each split reuses the
    # choice of the first, so it runs in a second wave; pieces merge in task order
    rng = np.random.default_rng(5)
    other = np.sort(rng.choice(np.r_[split.train_idx, split.test_idx], size=len(split.test_idx),
                               replace=False))
    rest = np.setdiff1d(np.arange(len(split.y)), other)
    outer = [*holdout_folds(split.train_idx, split.test_idx, seeds=(0, 1)),
             *[OuterFold(repeat=f.repeat, fold=2, seed=f.seed, train_idx=f.train_idx,
                         test_idx=f.test_idx) for f in holdout_folds(rest, other, seeds=(0, 1))]]
    specs = model_specs(["logreg", "rf"], task="classification", preset="quick")
    cfg = protocol_config("quick", "classification", seeds=(0, 1), share_tuning=True,
                          n_folds=2, device="cpu")
    ref, got = _both(local2, {"Gene-PCA": X}, split.y, models=specs, outer=outer, config=cfg)
    assert len(ref.metrics) == 8
    _assert_same_tables(ref, got)  # exact


def test_quantitative_workflow_folds_equal_in_process(local2, quant_study):
    from genoapp.workflows.quantitative import load_quantitative_data, run_quantitative

    cohort = load_quantitative_data(quant_study / "study", phenotypes=quant_study / "study.pheno.tsv")
    cfg = protocol_config("quick", "regression", n_splits=3, n_repeats=1, device="cpu")
    kw = dict(traits=["size", "weight"], models=["ridge"], input_sets=["markers"], config=cfg)
    ref = run_quantitative(cohort, **kw)
    with use_executor(local2):
        got = run_quantitative(cohort, **kw)
    assert len(ref.metrics) == 6  # 3 folds x 2 traits (single-output ridge: one task each)
    _assert_same_tables(ref, got)


def test_stop_keeps_the_finished_tasks(local2, demo):
    X, split = demo
    specs = model_specs(["logreg", "rf"], task="classification", preset="quick")
    cfg = protocol_config("quick", "classification", seeds=(0, 1, 2, 3), device="cpu")
    outer = holdout_folds(split.train_idx, split.test_idx, seeds=cfg.seeds)
    flag = StopFlag()

    def on_event(ev):  # the stop button, pressed when the first result arrives
        if ev["event"] == "task_end":
            flag.request_stop()

    with use_executor(local2):
        res = run_protocol({"Gene-PCA": X}, split.y, models=specs, outer=outer, config=cfg,
                           on_event=on_event, stop=flag)
    assert res.stopped and 1 <= len(res.metrics) < 8
    assert any("Stopped on request" in n for n in res.notes)
    # the finished tasks are those of an uninterrupted run
    flag2 = StopFlag()
    full = run_protocol({"Gene-PCA": X}, split.y, models=specs, outer=outer, config=cfg,
                        stop=flag2)
    kept = res.metrics[KEYS + TEST_METRICS].merge(full.metrics[KEYS + TEST_METRICS], on=KEYS,
                                                  suffixes=("", "_full"))
    assert len(kept) == len(res.metrics)
    for m in TEST_METRICS:
        np.testing.assert_array_equal(kept[m], kept[f"{m}_full"])


@pytest.fixture(scope="module")
def quant_study(tmp_path_factory):
    """120 individuals x 60 SNPs, two traits (one with missing values), as PLINK files."""
    from genoapp.io import write_plink

    rng = np.random.default_rng(3)
    d = tmp_path_factory.mktemp("scale_out_quant")
    n, m = 120, 60
    ids = [f"I{i}" for i in range(n)]
    G = rng.binomial(2, 0.35, size=(n, m)).astype(np.float32)
    write_plink(d / "study", G, samples=pd.DataFrame({"FID": ids, "IID": ids}),
                variants=pd.DataFrame({"chrom": "1", "id": [f"snp{j}" for j in range(m)],
                                       "pos": np.arange(1, m + 1), "A1": "A", "A2": "G"}))
    g = G[:, :5].sum(axis=1)
    y2 = -0.5 * g + rng.normal(size=n)
    y2[rng.random(n) < 0.2] = np.nan
    pd.DataFrame({"FID": ids, "IID": ids, "size": g + rng.normal(size=n), "weight": y2}).to_csv(
        d / "study.pheno.tsv", sep="\t", index=False, na_rep="NA")
    return d


def test_cli_cluster_runs_and_records_the_setting(quant_study, tmp_path, capsys):
    cfg = {"kind": "quantitative", "label": "scale-out",
           "data": {"source": "files", "bed": str(quant_study / "study"),
                    "phenotypes": str(quant_study / "study.pheno.tsv")},
           "train": {"models": ["ridge"], "preset": "quick",
                     "protocol": {"n_splits": 3, "n_repeats": 1, "device": "cpu"}},
           "traits": ["size"], "inputs": {"sets": ["markers"]}}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run([sys.executable, "-m", "genoapp", "run", "--config", tmp_path / "c.json",
                          "--runs-dir", tmp_path / "runs", "--cluster", "local:2"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Cluster  local:2: 2 Dask worker(s)" in out.stderr  # the progress header
    (run_dir,) = (tmp_path / "runs").iterdir()
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["execution"]["cluster"] == "local:2" and rec["execution"]["n_workers"] == 2
    assert rec["pipeline_config"]["execution"] == "local:2"
    # a bad setting is a readable configuration error (exit status 2)
    from genoapp.__main__ import main

    assert main(["run", "--config", str(tmp_path / "c.json"), "--runs-dir", str(tmp_path / "x"),
                 "--cluster", "lots please"]) == 2
    assert "not an execution setting" in capsys.readouterr().err
