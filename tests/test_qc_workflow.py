"""The QC page's flow run headless on the demo cohort: order, leakage safety, consistency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genoapp.demo import DEMO_BATCH, DEMO_PHENOTYPE, load_demo_cohort
from genoapp.errors import ConfigError, InputDataError
from genoapp.qc import QCConfig, allelic_test, logistic_association, scan_dense
from genoapp.workflows.qc import QCWorkflowConfig, run_qc_workflow

FAST = {"pca_components": 0, "gwas": 0.05}  # the paper's fixed association filter


@pytest.fixture(scope="module")
def demo():
    cohort = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = cohort.phenotype(DEMO_PHENOTYPE)
    batch = cohort.samples[DEMO_BATCH].to_numpy()
    return cohort, np.asarray(y, dtype=float), batch


@pytest.fixture(scope="module")
def default_run(demo):
    """The flow with the paper's fixed association filter (p < 0.05 on training samples)."""
    cohort, y, batch = demo
    return run_qc_workflow(cohort, y, batch=batch, config=QCWorkflowConfig(gwas=0.05))


def test_default_flow_has_no_fixed_association_filter_but_reports_the_gwas(demo):
    """By default the filter is chosen at training (nested); QC only reports the training GWAS."""
    cohort, y, batch = demo
    r = run_qc_workflow(cohort, y, batch=batch, config=QCWorkflowConfig(pca_components=0))
    assert [s.name for s in r.qc.steps][-1] == "Batch effect (controls)"
    assert r.variant_stats["gwas_p"].notna().sum() == r.qc.n_variants_kept
    assert np.isfinite(r.lambda_gc) and r.qc.n_variants_kept > 10_000


def test_fixed_filter_flow_on_the_demo(default_run, demo):
    cohort, y, _ = demo
    r = default_run
    names = [s.name for s in r.qc.steps]
    assert names == ["Autosomes only", "Sample call rate", "Variant call rate", "Hardy-Weinberg",
                     "Minor allele frequency", "Differential missingness",
                     "Batch effect (controls)", "GWAS (training samples)"]
    removed = {s.name: s.n_removed for s in r.qc.steps}
    # the demo is QC'd data: few removed by the PLINK filters, many by batch and GWAS filters
    assert removed["Sample call rate"] == 0 and removed["Autosomes only"] == 0
    assert removed["Batch effect (controls)"] > 500
    assert 500 < r.qc.n_variants_kept < 5000
    assert r.G.shape == (r.qc.n_samples_kept, r.qc.n_variants_kept) and r.G.dtype == np.float32
    assert r.G.flags.c_contiguous
    assert r.variants["id"].tolist() == cohort.variants["id"][r.qc.variant_mask].tolist()
    # G holds the dosages of exactly those samples x variants
    ref = cohort.read_dosages(np.flatnonzero(r.qc.variant_mask))[r.qc.sample_mask]
    np.testing.assert_array_equal(np.isnan(r.G), np.isnan(ref))
    np.testing.assert_array_equal(np.nan_to_num(r.G), np.nan_to_num(ref))
    # split: balanced test set on the kept samples; y aligned with the rows of G
    yt = r.y[r.split.test_idx]
    assert (yt == 1).sum() == (yt == 0).sum() > 0
    np.testing.assert_array_equal(r.y, y[r.qc.sample_mask].astype(np.int8))
    assert set(r.sample_stats["set"]) == {"training", "test"}
    assert np.isfinite(r.lambda_gc) and r.lambda_gc > 1.0  # population structure in the demo
    summary = r.summary()
    assert summary["n_variants"].iloc[-1] == r.qc.n_variants_kept
    assert r.pca_before is not None and {"PC1", "PC2", "batch"} <= set(r.pca_before.columns)
    assert len(r.pca_before.attrs["explained_variance_ratio"]) == 10
    assert set(r.removed_ids()) and all(isinstance(v, pd.DataFrame)
                                        for v in r.removed_ids().values())
    kept = r.variant_stats[r.variant_stats["removed_by"] == ""]
    assert (kept["gwas_p"] < 0.05).all() and len(kept) == r.qc.n_variants_kept


def test_gwas_uses_training_samples_only(default_run, demo):
    cohort, y, _ = demo
    r = default_run
    G = cohort.read_dosages()
    kept = np.flatnonzero(r.qc.sample_mask)
    train = kept[r.split.train_idx]
    tested = r.variant_stats["gwas_p"].notna().to_numpy()
    counts = scan_dense(G[train][:, tested], groups=y[train].astype(int)).counts
    ref = allelic_test(counts[:, 1], counts[:, 0])
    np.testing.assert_allclose(r.variant_stats["gwas_p"][tested], ref["P"], rtol=1e-12)


def test_test_labels_never_change_the_kept_variants(demo, monkeypatch):
    """Flip every test-set label (same split): with label_samples='train' nothing changes."""
    import genoapp.workflows.qc as qc_workflow

    cohort, y, batch = demo
    cfg = QCWorkflowConfig(**FAST)
    a = run_qc_workflow(cohort, y, batch=batch, config=cfg)
    kept = np.flatnonzero(a.qc.sample_mask)
    test_rows = kept[a.split.test_idx]
    y2 = y.copy()
    y2[test_rows] = 1 - y2[test_rows]
    monkeypatch.setattr(qc_workflow, "make_split", lambda yy, **kw: a.split)  # the same split
    b = run_qc_workflow(cohort, y2, batch=batch, config=cfg)
    np.testing.assert_array_equal(a.qc.variant_mask, b.qc.variant_mask)
    pd.testing.assert_series_equal(a.variant_stats["hwe_p"], b.variant_stats["hwe_p"])
    # with all samples' labels (as PLINK / published) the label-aware statistics move
    c = run_qc_workflow(cohort, y2, batch=batch,
                        config=QCWorkflowConfig(label_samples="all", **FAST))
    assert not np.allclose(a.variant_stats["hwe_p"], c.variant_stats["hwe_p"], equal_nan=True)


def test_dense_input_gives_the_same_result(demo):
    cohort, y, batch = demo
    cfg = QCWorkflowConfig(**FAST)
    a = run_qc_workflow(cohort, y, batch=batch, config=cfg)
    b = run_qc_workflow(cohort.read_int8(), y, batch=batch, config=cfg, samples=cohort.samples,
                        variants=cohort.variants)
    np.testing.assert_array_equal(a.qc.variant_mask, b.qc.variant_mask)
    np.testing.assert_array_equal(a.G, b.G)
    pd.testing.assert_frame_equal(a.variant_stats, b.variant_stats)


def test_logistic_gwas_with_pcs_pairwise_batches_and_strata(demo):
    cohort, y, batch = demo
    cfg = QCWorkflowConfig(gwas=0.05, gwas_test="logistic", gwas_pcs=3, pca_components=4,
                           batch_pairwise=True, batch_yates=True, stratify=True)
    r = run_qc_workflow(cohort, y, batch=batch, config=cfg)
    assert r.qc.strata == sorted(set(batch))
    assert "every pair, Yates" in r.qc.steps[6].plink_flag
    assert r.qc.steps[-1].plink_flag.startswith("--logistic")
    # the GWAS p-values are logistic regressions on the training rows with the PCs
    kept = np.flatnonzero(r.qc.sample_mask)
    train = kept[r.split.train_idx]
    tested = np.flatnonzero(r.variant_stats["gwas_p"].notna().to_numpy())[:40]
    pcs = r.gwas_pc_scores  # PCA of the training samples only (leakage-safe)
    assert pcs.shape == (r.split.train_idx.size, 3)
    ref = logistic_association(cohort.read_dosages(tested)[train], y[train], covariates=pcs)
    np.testing.assert_allclose(r.variant_stats["gwas_p"].to_numpy()[tested], ref["P"],
                               rtol=1e-8)
    unstratified = run_qc_workflow(cohort, y, batch=batch, config=QCWorkflowConfig(
        batch_filter=None, **{**FAST, "gwas": None}))
    stratified = run_qc_workflow(cohort, y, batch=batch, config=QCWorkflowConfig(
        batch_filter=None, stratify=True, **{**FAST, "gwas": None}))
    assert stratified.qc.n_variants_kept <= unstratified.qc.n_variants_kept


def test_skips_and_errors_are_explained(demo):
    cohort, y, _ = demo
    r = run_qc_workflow(cohort, y, config=QCWorkflowConfig(**{**FAST, "gwas": None}))
    assert any("Batch-effect filter skipped" in n for n in r.notes)
    assert r.qc.steps[-1].name == "Differential missingness"
    with pytest.raises(ConfigError, match="batch column"):
        run_qc_workflow(cohort, y, config=QCWorkflowConfig(stratify=True, **FAST))
    with pytest.raises(InputDataError, match="0/1"):
        run_qc_workflow(cohort, np.full(len(y), 2.0))
    with pytest.raises(ConfigError, match="logistic"):
        QCWorkflowConfig(gwas_covariates=("sex",))
    with pytest.raises(ConfigError, match="label_samples"):
        QCWorkflowConfig(label_samples="test")
    with pytest.raises(ConfigError, match="all .* variants would be removed"):
        run_qc_workflow(cohort, y, config=QCWorkflowConfig(
            qc=QCConfig(hwe=1.0, hwe_midp=True), **FAST))  # every mid-p is below 1
