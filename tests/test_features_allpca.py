"""All-PCA (one PCA over all SNPs, randomized SVD) against scikit-learn, and the pipeline's feature
step (FeatureConfig / build_features) with Gene-PCA and All-PCA."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from genoapp.errors import ConfigError, InputDataError
from genoapp.features import (
    AllPCA,
    FeatureConfig,
    MeanImputer,
    build_features,
    default_all_pca_components,
    gene_pca_k,
)
from genoapp.io import open_plink, read_gene_table
from genoapp.train import make_split


@pytest.fixture(scope="module")
def hapmap(shared_data):
    g = open_plink(shared_data / "human_1kg_hapmap3" / "human_1kg_hapmap3")
    X = g.read(dtype="float32")
    genes = read_gene_table(shared_data / "gene_tables" / "glist_hg19.tsv")
    rng = np.random.default_rng(0)
    train = np.sort(rng.permutation(len(X))[:1200])
    return X, g.variants, genes, train


def test_allpca_matches_sklearn_full_and_randomized(hapmap):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # small SVDs: robust on a busy machine
        _allpca_vs_sklearn(hapmap)


def _allpca_vs_sklearn(hapmap):
    X, _, _, train = hapmap
    X, train = X[:800, :1500], train[train < 800]
    Xi = MeanImputer().fit(X[train]).transform(X).astype(np.float64)
    # exact solver: identical to scikit-learn's full SVD, fit on training rows then transform
    ours = AllPCA(n_components=20, svd_solver="full", dtype="float64").fit(Xi[train])
    ref = PCA(n_components=20, svd_solver="full").fit(Xi[train])
    np.testing.assert_allclose(ours.transform(Xi), ref.transform(Xi), rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-10)
    assert ours.svd_solver_ == "full" and list(ours.feature_names_[:2]) == ["PC1", "PC2"]
    # randomized (default for few components): leading components agree with the exact ones
    rnd = AllPCA(n_components=20, dtype="float64", random_state=1).fit(Xi[train])
    assert rnd.svd_solver_ == "randomized"
    np.testing.assert_allclose(rnd.explained_variance_[:3], ref.explained_variance_[:3], rtol=1e-3)
    cos = np.abs(np.sum(rnd.components_[:2] * ref.components_[:2], axis=1))
    assert (cos > 0.999).all()
    # sign convention: largest |loading| positive
    am = np.abs(rnd.components_).argmax(axis=1)
    assert (rnd.components_[np.arange(20), am] > 0).all()


def test_allpca_rank_cap_and_errors():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(30, 200)).astype(np.float64)
    p = AllPCA().fit(X)
    assert p.n_components_ == 29 and p.svd_solver_ == "full"
    assert AllPCA(n_components=500).fit(X).n_components_ == 29
    assert AllPCA(n_components=5).fit_transform(X).shape == (30, 5)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(InputDataError, match="impute"):
        AllPCA().fit(Xn)
    with pytest.raises(InputDataError, match="fit"):
        AllPCA().transform(X)
    with pytest.raises(InputDataError, match="SNPs"):
        AllPCA(n_components=3).fit(X).transform(X[:, :10])
    for bad in ({"n_components": 0}, {"svd_solver": "arpack"}, {"dtype": "int8"}, {"n_iter": -1},
                {"device": "tpu"}):
        with pytest.raises(ConfigError):
            AllPCA(**bad).fit(X)


def test_build_features_gene_pca_and_all_pca(hapmap):
    X, variants, genes, _ = hapmap
    y = (np.random.default_rng(3).random(len(X)) < 0.4).astype(int)
    split = make_split(y, test_size=0.1, random_state=0)
    fs = build_features(X, variants, split, genes=genes, config=FeatureConfig())
    assert fs.gene_pca is not None and fs.all_pca is None and fs.build_warnings == []
    assert fs.gene_pca.n_samples_fit_ == len(split.train_idx)
    assert fs.X.shape == (len(X), int(fs.summary["n_components"].sum())) and fs.X.flags.c_contiguous
    assert fs.n_imputed_total == int(np.isnan(X).sum()) and 0 < fs.n_imputed_fit < fs.n_imputed_total
    table = fs.feature_table()
    assert list(table.columns) == ["feature", "gene", "pc", "explained_variance_ratio"]
    assert table["pc"].max() == 8 and (table["gene"] == fs.feature_gene).all()
    # training means only: refit on the training rows gives the same features
    np.testing.assert_allclose(fs.imputer.mean_, np.nanmean(X[np.sort(split.train_idx)], axis=0),
                               rtol=1e-6)

    cfg = FeatureConfig(method="all_pca", n_components=30)
    fa = build_features(X, variants, split, genes=genes, config=cfg)
    assert fa.gene_pca is None and fa.X.shape == (len(X), 30)
    assert list(fa.feature_names[:2]) == ["PC1", "PC2"] and set(fa.feature_gene) == {""}
    Xi = fa.imputer.transform(X)
    ref = PCA(n_components=30, svd_solver="randomized", random_state=0).fit(Xi[np.sort(split.train_idx)])
    np.testing.assert_allclose(fa.explained_variance_ratio[:3], ref.explained_variance_ratio_[:3],
                               rtol=1e-3)
    default = default_all_pca_components(fs.summary, len(split.train_idx), X.shape[1])
    assert default == min(int(gene_pca_k(fs.summary["n_snps"].to_numpy()).sum()),
                          len(split.train_idx) - 1)
    with pytest.raises(ConfigError):
        FeatureConfig(method="lasso")
    with pytest.raises(ConfigError):
        FeatureConfig(n_components=0)


def test_build_features_warns_on_wrong_build(hapmap):
    X, variants, genes, _ = hapmap
    v = variants.copy()
    v["pos"] = np.arange(1, len(v) + 1)  # marker indices instead of base pairs
    y = (np.arange(len(X)) % 2).astype(int)
    split = make_split(y, random_state=0)
    fs = build_features(X[:, :2000], v.iloc[:2000], split, genes=genes,
                        config=FeatureConfig(fit_on="all"))
    assert fs.build_warnings and "fall inside a gene" in fs.build_warnings[0]
    assert fs.gene_pca.n_samples_fit_ == len(X)
