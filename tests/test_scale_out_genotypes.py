"""Genotype-scale steps per variant block on a 2-worker Dask LocalCluster (issue 18, item 3):
identical QC kept sets and statistics, allelic and regression tests, Gene-PCA models and scores
to the in-process run, on the demo cohort's .bed; the jobs really run on the workers; the
feature matrix round-trips through a chunked Zarr store."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest

from genoapp.demo import DEMO_BATCH, DEMO_BED, DEMO_PHENOTYPE, HG19_GENES, load_demo_cohort
from genoapp.errors import ConfigError, InputDataError
from genoapp.execution import use_executor
from genoapp.features import annotate_snps, gene_pca_features, gene_pca_transform
from genoapp.features.zarr_store import open_features_zarr, write_features_zarr
from genoapp.io import open_plink, read_gene_table, write_plink
from genoapp.qc import (
    QCConfig,
    allelic_test_bed,
    linear_association,
    logistic_association,
    run_qc_bed,
    scan_bed,
)
from genoapp.qc.distributed import block_ranges


@pytest.fixture(scope="module")
def demo():
    cohort = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = cohort.phenotype(DEMO_PHENOTYPE)
    return cohort, np.asarray(y, dtype=float), cohort.samples[DEMO_BATCH].to_numpy()


@pytest.fixture(scope="module")
def holey(tmp_path_factory, demo):
    """The demo genotypes with extra missing calls (some samples and variants far above the
    thresholds, some variants missing in cases only), so that every QC step removes something
    and --mind forces a second pass."""
    cohort, y, _ = demo
    g = open_plink(DEMO_BED)
    G = g.read(dtype="float32", order="C")
    rng = np.random.default_rng(18)
    s_rate = np.where(rng.random(g.n_samples) < 0.05, 0.08, 0.004)
    v_rate = np.where(rng.random(g.n_variants) < 0.03, 0.15, 0.0)
    G[rng.random(G.shape) < s_rate[:, None] + v_rate[None, :]] = np.nan
    case = np.zeros(g.n_samples, dtype=bool)
    case[cohort.sample_index[y == 1]] = True
    diff = rng.random(g.n_variants) < 0.01
    G[np.ix_(case, diff)] = np.where(rng.random((case.sum(), diff.sum())) < 0.04, np.nan,
                                     G[np.ix_(case, diff)])
    prefix = tmp_path_factory.mktemp("holey") / "holey"
    write_plink(prefix, G, samples=g.samples, variants=g.variants)
    return open_plink(prefix)


@contextlib.contextmanager
def _on_cluster(ex):
    """Make ``ex`` current and record the keys of the tasks its workers ran (``keys`` list)."""
    from distributed import get_task_stream

    keys: list[str] = []
    with use_executor(ex), get_task_stream(client=ex.client) as ts:
        yield keys
    keys += [str(t["key"]) for t in ts.data]


def test_block_ranges_cover_in_order():
    assert block_ranges(0, 2) == []
    assert block_ranges(1000, 2) == [(0, 1000)]  # below the minimum block: one block
    r = block_ranges(505_333, 2)
    assert len(r) == 8 and r[0][0] == 0 and r[-1][1] == 505_333
    assert all(a[1] == b[0] for a, b in zip(r[:-1], r[1:], strict=True))
    assert len(block_ranges(14_079, 2)) == 6  # the demo: six blocks of >= 2,048 variants


def test_scan_bed_blocks_equal_one_pass(local2, holey):
    n, m = holey.shape
    rng = np.random.default_rng(1)
    groups = rng.integers(-1, 9, n)  # 9 groups: the sparse (CSR) kernel path
    ms = rng.random(n) < 0.8
    vm = rng.random(m) < 0.7
    vm[:3000] = False  # a whole block without selected variants is skipped
    ref = scan_bed(holey.bed_path, n, m, groups=groups, missing_samples=ms, variant_mask=vm)
    with _on_cluster(local2) as keys:
        got = scan_bed(holey.bed_path, n, m, groups=groups, missing_samples=ms, variant_mask=vm)
    assert sum("qc-counts" in k for k in keys) == 5  # 6 blocks, one without selected variants
    np.testing.assert_array_equal(got.counts, ref.counts)
    np.testing.assert_array_equal(got.sample_missing, ref.sample_missing)
    assert got.n_variants_counted == ref.n_variants_counted


@pytest.mark.parametrize("which", ["demo", "holey"])
def test_qc_funnel_identical_kept_sets_and_statistics(local2, demo, holey, which):
    cohort, y, batch = demo
    geno = cohort.genotypes if which == "demo" else holey
    idx = cohort.sample_index
    cfg = QCConfig(mind=0.03, geno=0.05, maf=0.02, hwe=1e-6, test_missing=1e-4)
    label = np.random.default_rng(2).random(len(idx)) < 0.7
    kw = dict(sample_idx=idx, config=cfg, y=y, strata=batch, label_mask=label)
    ref = run_qc_bed(geno, **kw)
    with _on_cluster(local2) as keys:
        got = run_qc_bed(geno, **kw)
    assert sum("qc-counts" in k for k in keys) >= 6
    np.testing.assert_array_equal(got.sample_mask, ref.sample_mask)
    np.testing.assert_array_equal(got.variant_mask, ref.variant_mask)
    pd.testing.assert_frame_equal(got.variant_stats, ref.variant_stats)
    np.testing.assert_array_equal(got.sample_missing_rate, ref.sample_missing_rate)
    assert [(s.name, s.n_removed) for s in got.steps] == [(s.name, s.n_removed) for s in ref.steps]
    if which == "holey":  # every filter bites; --mind removed samples (a second pass)
        assert all(s.n_removed > 0 for s in ref.steps), [(s.name, s.n_removed) for s in ref.steps]


def test_allelic_and_regression_tests_identical(local2, demo):
    cohort, y, _ = demo
    ref = allelic_test_bed(cohort, y)
    G = cohort.genotypes.read(cohort.sample_index, np.arange(0, 14_079, 4), order="C")
    C = np.random.default_rng(3).normal(size=(len(y), 2))
    ref_log = logistic_association(G, y, covariates=C)
    ref_lin = linear_association(G, C[:, 0] + y)
    with _on_cluster(local2) as keys:
        got = allelic_test_bed(cohort, y)
        got_log = logistic_association(G, y, covariates=C)
        got_lin = linear_association(G, C[:, 0] + y)
    assert any("qc-counts" in k for k in keys) and any("logistic-gwas" in k for k in keys)
    pd.testing.assert_frame_equal(got, ref)
    pd.testing.assert_frame_equal(got_log, ref_log)
    pd.testing.assert_frame_equal(got_lin, ref_lin)


@pytest.fixture(scope="module")
def gene_setup(demo):
    cohort, _, _ = demo
    g = cohort.genotypes
    ann = annotate_snps(g.variants, read_gene_table(HG19_GENES))
    samples = cohort.sample_index[::2]  # a sample subset in .fam order
    fit = np.sort(np.random.default_rng(4).choice(len(samples), int(0.75 * len(samples)),
                                                  replace=False))
    return g, ann, samples, fit


@pytest.mark.parametrize("precision,dtype", [("exact", "float64"), ("fast", "float32")])
def test_gene_pca_identical_scores_and_model(local2, gene_setup, precision, dtype):
    g, ann, samples, fit = gene_setup
    kw = dict(fit_rows=fit, samples=samples, precision=precision, dtype=dtype, device="cpu",
              block_snps=1024)  # about 14 blocks of genes
    ref = gene_pca_features(g, ann, **kw)
    seen = []
    with _on_cluster(local2) as keys:
        got = gene_pca_features(g, ann, progress=lambda f, msg: seen.append(f), **kw)
        tr = gene_pca_transform(ref.model, g, samples=samples[:200])
    assert any("gene-pca-fit" in k for k in keys) and any("gene-pca-transform" in k for k in keys)
    assert seen and seen[-1] == pytest.approx(1.0)
    np.testing.assert_array_equal(np.asarray(got.X), np.asarray(ref.X))  # bit for bit
    a, b = got.model, ref.model
    np.testing.assert_array_equal(a.feature_names_, b.feature_names_)
    np.testing.assert_array_equal(a.mean_, b.mean_)
    np.testing.assert_array_equal(a.explained_variance_, b.explained_variance_)
    pd.testing.assert_frame_equal(a.genes_, b.genes_)
    assert (got.n_imputed_fit, got.n_imputed_total, got.n_variants_all_missing) == (
        ref.n_imputed_fit, ref.n_imputed_total, ref.n_variants_all_missing)
    np.testing.assert_array_equal(tr, gene_pca_transform(ref.model, g, samples=samples[:200]))


def test_features_zarr_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    X = np.asfortranarray(rng.normal(size=(300, 70)).astype(np.float32))
    samples = pd.DataFrame({"FID": [f"F{i}" for i in range(300)],
                            "IID": [f"I{i}" for i in range(300)]})
    features = pd.DataFrame({"name": [f"1:G{j // 4}:{j % 4 + 1}" for j in range(70)],
                             "gene": [f"G{j // 4}" for j in range(70)]})
    path = write_features_zarr(X, tmp_path / "f.zarr", samples=samples, features=features,
                               chunks=(64, 32), attrs={"k": np.int64(8), "note": "Gene-PCA"})
    st = open_features_zarr(path)
    assert st.shape == (300, 70) and tuple(st.X.chunks) == (64, 32)
    assert str(st.X.dtype) == "float32" and st.attrs == {"k": 8, "note": "Gene-PCA"}
    np.testing.assert_array_equal(st.read(), X)
    np.testing.assert_array_equal(st.read(rows=[5, 2], cols=np.arange(70) % 3 == 0),
                                  X[[5, 2]][:, ::3])
    assert st.samples.astype(object).equals(samples.astype(object))
    assert list(st.feature_names) == list(features["name"])
    assert [p.name for p in tmp_path.iterdir()] == ["f.zarr"]  # no temporary left behind
    with pytest.raises(ConfigError, match="already exists"):
        write_features_zarr(X, path)
    write_features_zarr(X[:, :5], path, features=features["name"][:5], overwrite=True)
    assert open_features_zarr(path).shape == (300, 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.zarr"]
    with pytest.raises(InputDataError, match="rows"):
        write_features_zarr(X, tmp_path / "g.zarr", samples=samples[:10])
    with pytest.raises(InputDataError, match="no Zarr"):
        open_features_zarr(tmp_path)


def test_gene_pca_features_to_zarr(gene_setup, tmp_path):
    g, ann, samples, fit = gene_setup
    kw = dict(fit_rows=fit, samples=samples, precision="fast", device="cpu")
    ref = gene_pca_features(g, ann, **kw)
    res = gene_pca_features(g, ann, out=tmp_path / "genes.zarr", **kw)
    st = open_features_zarr(tmp_path / "genes.zarr")
    np.testing.assert_array_equal(st.read(), np.asarray(ref.X))
    np.testing.assert_array_equal(np.asarray(res.X[:]), np.asarray(ref.X))
    assert list(st.features["gene"]) == list(ref.model.feature_gene_)
    assert list(st.samples["IID"]) == list(g.samples["IID"].iloc[samples])
    assert st.attrs["method"] == "Gene-PCA" and st.attrs["precision"] == "fast"
    assert [p.name for p in tmp_path.iterdir()] == ["genes.zarr"]


def test_gene_pca_workers_write_into_the_output_file(local2, gene_setup, tmp_path):
    """With out=.npy (or .zarr) on storage the workers see, the scores go straight into the
    file: the same matrix as in-process, and nothing comes back through the scheduler."""
    g, ann, samples, fit = gene_setup
    kw = dict(fit_rows=fit, samples=samples, precision="fast", device="cpu", block_snps=1024)
    ref = gene_pca_features(g, ann, **kw)
    with _on_cluster(local2) as keys:
        got = gene_pca_features(g, ann, out=tmp_path / "s.npy", **kw)
        z = gene_pca_features(g, ann, out=tmp_path / "s.zarr", **kw)
        tr = gene_pca_transform(ref.model, g, samples=samples[:100], out=tmp_path / "t.npy")
    assert sum("gene-pca-fit" in k for k in keys) >= 4
    np.testing.assert_array_equal(np.asarray(got.X), np.asarray(ref.X))
    np.testing.assert_array_equal(np.asarray(z.X[:]), np.asarray(ref.X))
    np.testing.assert_array_equal(np.asarray(tr), gene_pca_transform(ref.model, g,
                                                                     samples=samples[:100]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy", "s.zarr", "t.npy"]


def test_score_rows_written_by_path_only_into_the_same_file(tmp_path):
    from genoapp.features.genepca import _allocate, _out_file, _write_rows

    scores, _ = _allocate(tmp_path / "x.npy", 7, 5, np.float32)  # (n_rows, n_features), F order
    spec = _out_file(scores.T)
    assert spec is not None and _out_file(np.empty((5, 7), np.float32)) is None
    rows = np.arange(14, dtype=np.float32).reshape(2, 7)
    assert _write_rows(spec, 3, rows)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy")[:, 3:5], rows.T)
    other = dict(spec, ino=spec["ino"] + 1)  # another file at that path (no shared storage)
    assert not _write_rows(other, 0, rows) and not _write_rows(None, 0, rows)
