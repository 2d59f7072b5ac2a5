"""Streaming Gene-PCA (gene_pca_features) from RAM and from .bed files: exactness against
scikit-learn (fit on training rows, then transform), agreement of all code paths (array / .bed,
exact / fast precision, block sizes, memmap output), .bed unpacking against bed-reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from genoapp.errors import ConfigError, InputDataError
from genoapp.features import (
    GenePCA,
    MeanImputer,
    annotate_snps,
    gene_pca_features,
    gene_pca_k,
    gene_pca_transform,
    snp_windows,
)
from genoapp.io import open_plink, read_bim, read_gene_table, write_plink


def _rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _align(F, ref):
    s = np.sign(np.sum(F * ref, axis=0))
    s[s == 0] = 1
    return F * s


def _sklearn_gene(Xi, train, cols, k):
    pca = PCA(n_components=k, svd_solver="full").fit(Xi[train][:, cols])
    return pca, pca.transform(Xi[:, cols])


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A random 120 x 400 cohort with 3 % missing genotypes, genes of 1..90 SNPs (some
    overlapping, one monomorphic, one with duplicated SNPs), written as a PLINK fileset."""
    rng = np.random.default_rng(7)
    n, p = 120, 400
    X = rng.integers(0, 3, size=(n, p)).astype(np.float64)
    X[:, 50:53] = 1.0  # monomorphic gene (50..52)
    X[:, 61] = X[:, 60]  # duplicated SNP
    X[:, 62] = 2.0 - X[:, 60]  # allele-flipped copy
    X[rng.random((n, p)) < 0.03] = np.nan
    X[:, 50:53] = 1.0  # still monomorphic, no missing
    sizes = [1, 2, 4, 5, 9, 20, 21, 33, 48, 90, 3, 6, 40, 60]
    rows, start = [], 0
    for i, s in enumerate(sizes):
        rows += [(start + j, f"g{i}") for j in range(s)]
        start += s
    rows += [(v, "mono") for v in (50, 51, 52)] + [(v, "dup") for v in range(58, 64)]
    rows += [(v, "overlap") for v in range(80, 130)]  # overlaps g8/g9
    ann = pd.DataFrame(rows, columns=["variant_index", "gene"]).assign(chrom="3")
    ann = ann.drop_duplicates().reset_index(drop=True)
    samples = pd.DataFrame({"FID": [f"f{i}" for i in range(n)], "IID": [f"i{i}" for i in range(n)]})
    variants = pd.DataFrame({"chrom": "3", "id": [f"s{j}" for j in range(p)], "pos": np.arange(p) * 100 + 1,
                             "A1": "A", "A2": "G"})
    prefix = tmp_path_factory.mktemp("toy") / "toy"
    write_plink(prefix, X, samples=samples, variants=variants)
    train = np.sort(rng.permutation(n)[:90])
    return X, ann, prefix, train


def test_streaming_equals_sklearn_fit_on_train_then_transform(toy):
    X, ann, prefix, train = toy
    imp = MeanImputer(all_missing="zero").fit(X[train])
    Xi = imp.transform(X)
    res = gene_pca_features(X, ann, fit_rows=train, dtype="float64", precision="exact",
                            device="cpu", block_snps=64)
    g = res.model.genes_.set_index("gene")
    assert res.n_imputed_fit == int(np.isnan(X[train][:, np.unique(ann.variant_index)]).sum())
    assert res.n_imputed_total == int(np.isnan(X[:, np.unique(ann.variant_index)]).sum())
    assert g.loc["mono", "n_components"] == 0 and g.loc["mono", "first_feature"] == -1
    assert g.loc["dup", "n_components"] == 4  # 6 SNPs, 2 exact copies -> rank 4 = k
    np.testing.assert_allclose(res.model.mean_[np.unique(ann.variant_index)],
                               imp.mean_[np.unique(ann.variant_index)])
    for gene, row in g.iterrows():
        k = int(row["n_components"])
        if k == 0:
            continue
        cols = np.sort(ann.loc[ann.gene == gene, "variant_index"].to_numpy())
        assert k == min(gene_pca_k(len(cols)), np.linalg.matrix_rank(Xi[train][:, cols] - Xi[train][:, cols].mean(0)))
        pca, want = _sklearn_gene(Xi, train, cols, k)
        mine = res.X[:, res.model.feature_gene_ == gene]
        assert _rel(mine, want) <= 1e-10, gene  # same signs as scikit-learn's svd_flip
        assert _rel(res.model.explained_variance_[res.model.feature_gene_ == gene],
                    pca.explained_variance_) <= 1e-10
        np.testing.assert_allclose(res.model.gene_loadings(gene).to_numpy(), pca.components_.T,
                                   atol=1e-10)
    # the estimator API gives the same numbers (fit on imputed training rows, transform all)
    gp = GenePCA(dtype="float64").fit(Xi[train], ann)
    np.testing.assert_allclose(gp.transform(Xi), res.X, atol=1e-10)
    assert (gp.feature_names_ == res.model.feature_names_).all()


@pytest.mark.parametrize("precision", ["exact", "fast"])
def test_bed_and_array_paths_agree(toy, precision):
    X, ann, prefix, train = toy
    ref = gene_pca_features(X, ann, fit_rows=train, dtype="float64", precision="exact", device="cpu")
    for src in (X, prefix, open_plink(prefix)):
        for block in (16, 100_000):
            r = gene_pca_features(src, ann, fit_rows=train, dtype="float64", precision=precision,
                                  device="cpu", block_snps=block)
            assert r.precision == precision
            assert (r.model.feature_names_ == ref.model.feature_names_).all()
            tol = 1e-10 if precision == "exact" else 1e-5
            assert _rel(_align(r.X, ref.X), ref.X) <= tol
            # explained variances: large genes are exact in "fast" too (integer covariance)
            big = np.isin(r.model.feature_gene_, ["g9", "g13", "overlap", "g12", "g7", "g8"])
            np.testing.assert_allclose(r.model.explained_variance_[big],
                                       ref.model.explained_variance_[big], rtol=1e-11)
            np.testing.assert_allclose(r.model.explained_variance_, ref.model.explained_variance_,
                                       rtol=1e-6)
            assert (r.n_imputed_fit, r.n_imputed_total) == (ref.n_imputed_fit, ref.n_imputed_total)


def test_fit_on_all_rows_samples_subset_and_transform(toy, tmp_path):
    X, ann, prefix, train = toy
    rest = np.setdiff1d(np.arange(len(X)), train)
    # published behaviour: fit on all rows
    allfit = gene_pca_features(prefix, ann, dtype="float64", precision="exact", device="cpu")
    Xi = MeanImputer(all_missing="zero").fit_transform(X)
    gp = GenePCA(dtype="float64").fit(Xi, ann)
    np.testing.assert_allclose(allfit.X, gp.transform(Xi), atol=1e-10)
    # a subset of .fam rows, in a given order, with a boolean mask of fitting rows
    rows = np.r_[rest[::-1], train]
    mask = np.r_[np.zeros(len(rest), bool), np.ones(len(train), bool)]
    sub = gene_pca_features(prefix, ann, samples=rows, fit_rows=mask, dtype="float64",
                            precision="exact", device="cpu")
    full = gene_pca_features(X, ann, fit_rows=train, dtype="float64", precision="exact", device="cpu")
    np.testing.assert_allclose(sub.X, full.X[rows], atol=1e-10)
    # project new samples with the fitted model (missing -> training means)
    for src in (X, prefix):
        proj = gene_pca_transform(full.model, src, samples=rest)
        np.testing.assert_allclose(proj, full.X[rest], atol=1e-10)
    out = gene_pca_transform(full.model, prefix, out=tmp_path / "proj.npy")
    np.testing.assert_allclose(np.load(tmp_path / "proj.npy"), full.X, atol=1e-10)
    assert isinstance(out, np.memmap)


def test_memmap_output_is_trimmed_to_the_features(toy, tmp_path):
    X, ann, prefix, train = toy
    ram = gene_pca_features(prefix, ann, fit_rows=train, device="cpu")
    path = tmp_path / "features.npy"
    mm = gene_pca_features(prefix, ann, fit_rows=train, device="cpu", out=path)
    kcap_total = int(np.sum(np.minimum(gene_pca_k(ram.model.genes_["n_snps"].to_numpy()), 8)))
    assert ram.X.shape[1] < kcap_total  # "mono" and "dup" give fewer than the rule
    back = np.load(path)
    assert back.shape == ram.X.shape and back.dtype == np.float32 and np.isfortran(back)
    np.testing.assert_array_equal(back, ram.X)
    assert isinstance(mm.X, np.memmap) and mm.X.shape == ram.X.shape
    assert path.stat().st_size == mm.X.offset + back.nbytes


def test_fast_precision_needs_integer_dosages_and_option_errors(toy, tmp_path):
    X, ann, prefix, train = toy
    Xf = np.where(np.isnan(X), 0.5, X)
    with pytest.raises(InputDataError, match="integer dosages"):
        gene_pca_features(Xf, ann, precision="fast", device="cpu")
    auto = gene_pca_features(Xf, ann, precision="auto", device="cpu")
    assert auto.precision == "exact"
    with pytest.raises(InputDataError, match="at least 2 samples"):
        gene_pca_features(X, ann, fit_rows=[3])
    with pytest.raises(ConfigError, match="fit_rows"):
        gene_pca_features(X, ann, fit_rows=[0, 1, 10_000])
    with pytest.raises(ConfigError, match=".npy"):
        gene_pca_features(X, ann, out=tmp_path / "x.csv")
    with pytest.raises(InputDataError, match="samples"):
        gene_pca_features(prefix, ann, samples=[0, 5000])
    with pytest.raises(ConfigError, match="precision"):
        gene_pca_features(X, ann, precision="double")
    with pytest.raises(InputDataError, match="variant_index"):
        gene_pca_features(X[:, :100], ann)
    with pytest.raises(InputDataError, match="fit"):
        gene_pca_transform(GenePCA(), X)


def test_windows_and_progress(toy):
    X, ann, prefix, train = toy
    variants = read_bim(str(prefix) + ".bim")
    w = snp_windows(variants, n_snps=25)
    seen = []
    res = gene_pca_features(prefix, w, fit_rows=train, device="cpu", block_snps=100,
                            progress=lambda f, msg: seen.append(f))
    assert res.X.shape == (len(X), 16 * 8)
    assert seen[-1] == 1.0 and len(seen) == 4


def test_unpack_bed_matches_bed_reader(shared_data):
    from genoapp.features.blocks import BedSource

    prefix = shared_data / "human_1kg_hapmap3" / "human_1kg_hapmap3"
    g = open_plink(prefix)
    cols = np.r_[0:50, 7000:7100, 14000:14079]
    ref = g.read(variant_idx=cols, dtype="float32").T
    codes = BedSource(g).codes(cols)
    assert (codes == -1).sum() > 0
    np.testing.assert_array_equal(np.where(codes < 0, np.nan, codes), ref)
    rows = np.random.default_rng(0).permutation(g.n_samples)[:333]
    codes = BedSource(g, rows=rows).codes(cols)
    np.testing.assert_array_equal(np.where(codes < 0, np.nan, codes), ref[:, rows])


def test_real_genes_streaming_vs_sklearn(shared_data):
    """Dense 1000 Genomes chr1 region: every gene has > 20 SNPs (k = 8); the .bed path in float64
    equals scikit-learn fitted on the training rows; the fast path's covariance is exact."""
    prefix = shared_data / "human_1kg_phase3_chr1_region" / "human_1kg_phase3_chr1_region"
    g = open_plink(prefix)
    X = g.read(dtype="float64")
    genes = read_gene_table(shared_data / "gene_tables" / "glist_hg19.tsv")
    ann = annotate_snps(g.variants, genes)
    ann = ann[ann["relation"] == "inside"]
    train = np.sort(np.random.default_rng(1).permutation(len(X))[:2000])
    res = gene_pca_features(prefix, ann, fit_rows=train, dtype="float64", precision="exact",
                            device="cpu")
    fast = gene_pca_features(prefix, ann, fit_rows=train, dtype="float32", precision="fast",
                             device="cpu")
    Xi = MeanImputer(all_missing="zero").fit(X[train]).transform(X)
    checked = 0
    for gene, row in res.model.genes_.set_index("gene").iterrows():
        cols = np.sort(ann.loc[ann["gene"] == gene, "variant_index"].to_numpy())
        k = int(row["n_components"])
        pca, want = _sklearn_gene(Xi, train, cols, k)
        sel = res.model.feature_gene_ == gene
        assert _rel(res.X[:, sel], want) <= 1e-5, gene
        assert _rel(res.model.explained_variance_[sel], pca.explained_variance_) <= 1e-5
        np.testing.assert_allclose(fast.model.explained_variance_[sel], pca.explained_variance_,
                                   rtol=1e-9)
        assert _rel(_align(fast.X[:, sel].astype(np.float64), want), want) <= 1e-4
        checked += 1
    assert checked >= 6  # the region holds 7 genes


@pytest.mark.gpu
def test_streaming_cuda_matches_cpu(toy):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("GPU test: CUDA not available")
    X, ann, prefix, train = toy
    cpu = gene_pca_features(prefix, ann, fit_rows=train, dtype="float64", precision="exact", device="cpu")
    gpu = gene_pca_features(prefix, ann, fit_rows=train, dtype="float64", device="cuda")
    assert gpu.device.startswith("cuda") and gpu.precision == "exact"
    np.testing.assert_allclose(_align(gpu.X, cpu.X), cpu.X, atol=1e-8)
