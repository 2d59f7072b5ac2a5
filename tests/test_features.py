"""Tests of genoapp.features: SNP-to-gene annotation, windows, mean imputation, Gene-PCA.

Hand-made cases check every annotation rule; real-data tests compare with the counts in
``../shared/data/README.md``, with ``plink1.9 --make-set --write-set``, with a brute-force
nearest-gene search, and Gene-PCA with ``sklearn.decomposition.PCA`` fitted gene by gene.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from genoapp.errors import ConfigError, InputDataError
from genoapp.features import (
    ANNOTATION_COLUMNS,
    GenePCA,
    MeanImputer,
    annotate_snps,
    annotation_summary,
    gene_keys,
    gene_pca_k,
    normalize_chrom,
    snp_windows,
)

# ----------------------------------------------------------------------------- helpers


def _read_bim(path) -> pd.DataFrame:
    return pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        names=["chrom", "id", "cm", "pos", "a1", "a2"],
        dtype={"chrom": str, "id": str, "a1": str, "a2": str},
    )


def _read_genes(shared_data) -> pd.DataFrame:
    g = pd.read_csv(
        shared_data / "gene_tables" / "glist_hg19.tsv", sep="\t", dtype={"chromosome": str}
    )
    return g.rename(columns={"chromosome": "chrom"})


def _read_dosage(prefix, dtype="float64") -> np.ndarray:
    from bed_reader import open_bed

    with open_bed(str(prefix) + ".bed", num_threads=2) as bed:
        return bed.read(dtype=dtype)


def _pairs(ann: pd.DataFrame) -> set[tuple]:
    return {
        (r.variant_id, r.gene, r.relation, int(r.distance_bp))
        for r in ann[["variant_id", "gene", "relation", "distance_bp"]].itertuples()
    }


# ----------------------------------------------------------------------------- annotation

GENES = pd.DataFrame(
    {
        "gene": ["A", "B", "C", "D", "E", "F", "G", "I", "J", "K", "DUP", "DUP"],
        "chrom": ["1", "1", "1", "1", "1", "1", "2", "2", "2", "2", "1", "X"],
        "start": [100, 150, 400, 500, 1200, 1500, 100, 300, 350, 600, 9000, 50],
        "end": [200, 300, 1000, 600, 1300, 1600, 200, 400, 400, 700, 9100, 80],
    }
)


def _variants(rows):
    return pd.DataFrame(rows, columns=["chrom", "id", "pos"])


def test_annotation_hand_made_rules():
    v = _variants(
        [
            ("1", "in_A", 120),  # inside A only
            ("1", "in_AB", 160),  # inside two overlapping genes
            ("1", "in_CD", 550),  # nested D inside C: both
            ("1", "in_C_only", 700),  # inside C, after the nested D ended
            ("1", "tie_CE", 1100),  # 100 bp from C's end and from E's start: both
            ("1", "near_E_right", 1150),  # E starts 50 bp to the right (C ends 150 bp left)
            ("1", "near_E_left", 1350),  # E ended 50 bp to the left (F starts 150 bp right)
            ("1", "start_A", 100),  # exactly on A's start (inclusive)
            ("1", "end_B", 300),  # exactly on B's end (inclusive), A ended at 200
            ("1", "before_first", 40),  # before the first gene of chr1
            ("1", "after_DUP", 9500),  # after the last gene of chr1
            ("2", "shared_end", 450),  # I and J both end at 400 (50 bp); K starts 150 bp right
            ("2", "chr2_before", 10),  # chr2: G, not a gene of chr1
            ("3", "no_genes", 500),  # chromosome without genes: left out
        ]
    )
    ann = annotate_snps(v, GENES)
    assert list(ann.columns) == ANNOTATION_COLUMNS
    expected = {
        ("in_A", "A", "inside", 0),
        ("in_AB", "A", "inside", 0),
        ("in_AB", "B", "inside", 0),
        ("in_CD", "C", "inside", 0),
        ("in_CD", "D", "inside", 0),
        ("in_C_only", "C", "inside", 0),
        ("tie_CE", "C", "nearest", 100),
        ("tie_CE", "E", "nearest", 100),
        ("near_E_right", "E", "nearest", 50),
        ("near_E_left", "E", "nearest", 50),
        ("start_A", "A", "inside", 0),
        ("end_B", "B", "inside", 0),
        ("before_first", "A", "nearest", 60),
        ("after_DUP", "DUP@1:9000", "nearest", 400),
        ("shared_end", "I", "nearest", 50),
        ("shared_end", "J", "nearest", 50),
        ("chr2_before", "G", "nearest", 90),
    }
    assert _pairs(ann) == expected
    # sorted by gene-table order, then variant index
    order = {k: i for i, k in enumerate(gene_keys(GENES))}
    key = [(order[g], vi) for g, vi in zip(ann["gene"], ann["variant_index"], strict=True)]
    assert key == sorted(key)
    # variant_index = row of the variants table; pos / gene coordinates carried along
    row = ann[ann["variant_id"] == "near_E_left"].iloc[0]
    assert row["variant_index"] == 6 and row["pos"] == 1350
    assert (row["gene_symbol"], row["gene_start"], row["gene_end"], row["chrom"]) == (
        "E",
        1200,
        1300,
        "1",
    )
    assert ann.attrs["n_variants"] == 14
    assert ann.attrs["n_unannotated_variants"] == 1
    assert ann.attrs["unannotated_chroms"] == ["3"]
    assert ann.attrs["n_inside_variants"] == 6
    assert ann.attrs["n_nearest_variants"] == 7
    # inputs not modified
    assert list(v.columns) == ["chrom", "id", "pos"] and v["pos"].iloc[0] == 120


def test_annotation_flank_and_chrom_aliases():
    v = _variants(
        [
            ("chr1", "flank_E", 1350),  # 50 bp after E: inside with a 0.05 kb flank
            ("chr1", "tie_CE", 1100),  # still 100 bp from C and E: nearest, both
            ("chr1", "flank_AB", 90),  # 10 bp before A
            ("23", "x_dup", 85),  # PLINK code 23 = X; 5 bp after DUP@X
        ]
    )
    ann = annotate_snps(v, GENES, flank_kb=0.05)
    assert _pairs(ann) == {
        ("flank_E", "E", "inside", 50),
        ("tie_CE", "C", "nearest", 100),
        ("tie_CE", "E", "nearest", 100),
        ("flank_AB", "A", "inside", 10),
        ("x_dup", "DUP@X:50", "inside", 5),
    }
    assert set(ann.loc[ann["variant_id"] == "x_dup", "chrom"]) == {"X"}
    no_flank = annotate_snps(v, GENES)
    assert ("flank_E", "E", "nearest", 50) in _pairs(no_flank)
    with pytest.raises(ConfigError, match="flank_kb"):
        annotate_snps(v, GENES, flank_kb=-1)


def test_annotation_input_errors_and_keys():
    v = _variants([("1", "a", 10)])
    with pytest.raises(InputDataError, match="pos"):
        annotate_snps(v.drop(columns="pos"), GENES)
    with pytest.raises(InputDataError, match="end < start"):
        annotate_snps(v, GENES.assign(end=GENES["start"] - 1))
    with pytest.raises(InputDataError, match="missing"):
        annotate_snps(_variants([("1", "a", None)]), GENES)
    keys = gene_keys(GENES)
    assert keys.tolist()[-2:] == ["DUP@1:9000", "DUP@X:50"]
    assert len(set(keys)) == len(keys)
    assert normalize_chrom(["chr01", "Chr2", 3, "chrX", "x", "XY", " 22 "]).tolist() == [
        "1",
        "2",
        "3",
        "X",
        "X",
        "XY",
        "22",
    ]
    # a "chromosome" column is accepted as well
    ann = annotate_snps(v, GENES.rename(columns={"chrom": "chromosome"}))
    assert ann["gene"].tolist() == ["A"]


def test_annotation_summary_hand_made():
    v = _variants([("1", "a", 120), ("1", "b", 160), ("1", "c", 350), ("1", "d", 40)])
    s = annotation_summary(annotate_snps(v, GENES))
    s = s.set_index("gene")
    assert (
        s.loc["A", "n_snps"] == 3 and s.loc["A", "n_inside"] == 2 and s.loc["A", "n_nearest"] == 1
    )
    assert (s.loc["A", "start_bp"], s.loc["A", "end_bp"]) == (40, 160)
    # c at 350: B ended at 300 (50 bp), C starts at 400 (50 bp): tie, both
    assert s.loc["B", ["n_snps", "n_inside", "n_nearest"]].tolist() == [2, 1, 1]
    assert s.loc["C", ["n_snps", "n_inside", "n_nearest"]].tolist() == [1, 0, 1]
    assert (s.loc["C", "gene_start"], s.loc["C", "gene_end"]) == (400, 1000)
    assert list(s.index) == ["A", "B", "C"]


def test_annotation_hapmap3_counts(shared_data):
    """README: 6,189 SNPs inside an hg19 gene; 3,805 genes with >= 1, 542 >= 3, 34 >= 10 SNPs."""
    bim = _read_bim(shared_data / "human_1kg_hapmap3" / "human_1kg_hapmap3.bim")
    genes = _read_genes(shared_data)
    ann = annotate_snps(bim, genes)
    assert ann.attrs["n_inside_variants"] == 6189
    assert ann.attrs["n_annotated_variants"] == 14079  # chr 1-22 all have genes
    assert ann.attrs["n_unannotated_variants"] == 0
    inside = ann[ann["relation"] == "inside"]
    assert inside["variant_index"].nunique() == 6189
    # the README counts gene symbols; per record key two symbols split (LINC-PINT, MIR548H3)
    per_symbol = inside.groupby("gene_symbol")["variant_index"].nunique()
    assert [(per_symbol >= t).sum() for t in (1, 3, 10)] == [3805, 542, 34]
    summ = annotation_summary(ann)
    assert [(summ["n_inside"] >= t).sum() for t in (1, 3, 10)] == [3807, 541, 34]
    # every SNP annotated; intergenic SNPs exactly once unless tied
    assert ann["variant_index"].nunique() == 14079


def test_annotation_nearest_matches_brute_force(shared_data):
    bim = _read_bim(shared_data / "human_1kg_hapmap3" / "human_1kg_hapmap3.bim")
    genes = _read_genes(shared_data)
    keys = gene_keys(genes)
    ann = annotate_snps(bim, genes)
    near = ann[ann["relation"] == "nearest"]
    got = set(zip(near["variant_index"], near["gene"], near["distance_bp"], strict=True))
    want = set()
    gchrom = genes["chrom"].to_numpy()
    for c in np.unique(bim["chrom"]):
        vi = np.flatnonzero(bim["chrom"].to_numpy() == c)
        gi = np.flatnonzero(gchrom == c)
        pos = bim["pos"].to_numpy()[vi][:, None]
        s, e = genes["start"].to_numpy()[gi][None, :], genes["end"].to_numpy()[gi][None, :]
        d = np.maximum(np.maximum(s - pos, pos - e), 0)  # (SNPs, genes) distance to the gene body
        inter = d.min(axis=1) > 0
        for r in np.flatnonzero(inter):
            for j in np.flatnonzero(d[r] == d[r].min()):
                want.add((vi[r], keys[gi[j]], d[r, j]))
    assert got == want


@pytest.mark.parametrize("flank_kb", [0, 20])
def test_annotation_inside_matches_plink_make_set(shared_data, plink19, tmp_path, flank_kb):
    prefix = shared_data / "human_1kg_hapmap3" / "human_1kg_hapmap3"
    genes = _read_genes(shared_data)
    keys = gene_keys(genes)
    setfile = tmp_path / "genes.txt"
    names = [f"G{i}" for i in range(len(genes))]
    pd.DataFrame({"c": genes["chrom"], "s": genes["start"], "e": genes["end"], "n": names}).to_csv(
        setfile, sep="\t", header=False, index=False
    )
    cmd = [
        plink19,
        "--bfile",
        str(prefix),
        "--make-set",
        str(setfile),
        "--write-set",
        "--out",
        str(tmp_path / "out"),
        "--threads",
        "1",
    ]
    if flank_kb:
        cmd += ["--make-set-border", str(flank_kb)]
    subprocess.run(cmd, check=True, capture_output=True)
    plink_pairs, current = set(), None
    for line in (tmp_path / "out.set").read_text().split("\n"):
        line = line.strip()
        if not line:
            continue
        if current is None:
            current = keys[int(line[1:])]
        elif line == "END":
            current = None
        else:
            plink_pairs.add((line, current))
    ann = annotate_snps(_read_bim(str(prefix) + ".bim"), genes, flank_kb=flank_kb)
    inside = ann[ann["relation"] == "inside"]
    ours = set(zip(inside["variant_id"], inside["gene"], strict=True))
    assert len(plink_pairs) > 6000
    assert ours == plink_pairs


# ----------------------------------------------------------------------------- windows


def test_snp_windows_n_snps_and_kb():
    v = _variants(
        [
            ("1", "a", 5),
            ("1", "c", 150),
            ("1", "b", 100),
            ("1", "d", 250),
            ("1", "e", 999),
            ("1", "f", 1000),
            ("2", "g", 10),
            ("2", "h", 20),
            ("0", "u", 7),  # unplaced: left out
        ]
    )
    w = snp_windows(v, n_snps=2)
    assert list(w.columns) == ANNOTATION_COLUMNS
    assert w["variant_id"].tolist() == list("abcdefgh")
    assert w["gene"].tolist() == [
        "chr1:5-100",
        "chr1:5-100",
        "chr1:150-250",
        "chr1:150-250",
        "chr1:999-1000",
        "chr1:999-1000",
        "chr2:10-20",
        "chr2:10-20",
    ]
    assert set(w["relation"]) == {"window"} and set(w["distance_bp"]) == {0}
    assert w["variant_index"].tolist() == [0, 2, 1, 3, 4, 5, 6, 7]
    assert w.attrs["n_unannotated_variants"] == 1
    w3 = snp_windows(v, n_snps=4)  # last window of chr1 shorter
    assert w3.groupby("gene", sort=False).size().tolist() == [4, 2, 2]

    k = snp_windows(v, kb=0.1)  # 100-bp bins from position 0
    assert k["gene"].tolist() == [
        "chr1:0-99",
        "chr1:100-199",
        "chr1:100-199",
        "chr1:200-299",
        "chr1:900-999",
        "chr1:1000-1099",
        "chr2:0-99",
        "chr2:0-99",
    ]
    assert k["gene_start"].tolist()[:2] == [0, 100] and k["gene_end"].tolist()[:2] == [99, 199]
    summ = annotation_summary(k)
    assert summ["n_snps"].tolist() == [1, 2, 1, 1, 1, 2]

    for bad in ({}, {"n_snps": 2, "kb": 1.0}, {"n_snps": 0}, {"kb": -1}, {"n_snps": 1.5}):
        with pytest.raises(ConfigError):
            snp_windows(v, **bad)


def test_snp_windows_duplicate_positions_stay_distinct():
    v = _variants([("1", "a", 10), ("1", "b", 10)])
    w = snp_windows(v, n_snps=1)
    assert w["gene"].nunique() == 2


# ----------------------------------------------------------------------------- k rule


def test_gene_pca_k_table():
    n = np.array([0, 1, 2, 3, 4, 5, 10, 20, 21, 100, 5000])
    assert gene_pca_k(n).tolist() == [0, 1, 1, 1, 1, 4, 4, 4, 8, 8, 8]
    assert gene_pca_k(21) == 8 and isinstance(gene_pca_k(21), int)
    assert gene_pca_k(3) == 1 and gene_pca_k(5) == 4
    with pytest.raises(ConfigError):
        gene_pca_k(-1)


# ----------------------------------------------------------------------------- imputation


def test_mean_imputer_uses_training_means_and_counts():
    X = np.array(
        [
            [0.0, 2.0, np.nan],
            [2.0, np.nan, 1.0],
            [1.0, 1.0, 2.0],
            [np.nan, 0.0, 0.0],  # test rows from here
            [np.nan, np.nan, 2.0],
        ]
    )
    X0 = X.copy()
    imp = MeanImputer().fit(X[:3])
    np.testing.assert_allclose(imp.mean_, [1.0, 1.5, 1.5])
    assert imp.n_missing_fit_.tolist() == [0, 1, 1]
    out = imp.transform(X[3:])
    np.testing.assert_array_equal(out, [[1.0, 0.0, 0.0], [1.0, 1.5, 2.0]])
    assert imp.n_imputed_ == 3 and imp.n_imputed_per_variant_.tolist() == [2, 1, 0]
    np.testing.assert_array_equal(np.isnan(X), np.isnan(X0))  # input untouched
    full = imp.transform(X)
    assert imp.n_imputed_ == 5 and not np.isnan(full).any()
    np.testing.assert_array_equal(full[1], [2.0, 1.5, 1.0])
    # float32 stays float32
    assert imp.transform(X.astype(np.float32)).dtype == np.float32


def test_mean_imputer_all_missing_and_errors():
    X = np.array([[np.nan, 1.0], [np.nan, 0.0], [1.0, 1.0]])
    with pytest.raises(InputDataError, match="no observed genotype"):
        MeanImputer().fit(X[:2])
    imp = MeanImputer(all_missing="zero").fit(X[:2])
    assert imp.all_missing_.tolist() == [True, False] and imp.mean_[0] == 0.0
    assert imp.transform(X[:2])[:, 0].tolist() == [0.0, 0.0]
    with pytest.raises(InputDataError, match="variants"):
        imp.transform(X[:, :1])
    with pytest.raises(ConfigError):
        MeanImputer(all_missing="drop").fit(X)
    with pytest.raises(InputDataError, match="fit"):
        MeanImputer().transform(X)


# ----------------------------------------------------------------------------- Gene-PCA


def _rel_err(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


def _align_signs(F, ref):
    s = np.sign(np.sum(F * ref, axis=0))
    s[s == 0] = 1
    return F * s


def test_genepca_hand_made_edge_cases():
    rng = np.random.default_rng(0)
    n = 60
    snp = rng.integers(0, 3, size=(n, 1)).astype(float)
    X = np.hstack(
        [
            rng.integers(0, 3, size=(n, 6)).astype(float),  # gene g6: 6 SNPs -> k 4
            np.ones((n, 3)),  # gene mono: monomorphic -> no feature
            np.repeat(snp, 5, axis=1),  # gene ld: 5 identical SNPs, rank 1 -> k 1
            rng.integers(0, 3, size=(n, 1)).astype(float),  # gene one: 1 SNP
        ]
    )
    ann = pd.DataFrame(
        {
            "variant_index": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 5],
            "gene": ["g6"] * 6 + ["mono"] * 3 + ["ld"] * 5 + ["one", "one"],
            "chrom": ["7"] * 16,
        }
    )  # variant 5 also annotated to "one" (shared SNP): "one" has 2 SNPs -> k 1
    X0 = X.copy()
    gp = GenePCA(dtype="float64")
    F = gp.fit_transform(X, ann)
    np.testing.assert_array_equal(X, X0)
    g = gp.genes_.set_index("gene")
    assert g["n_snps"].to_dict() == {"g6": 6, "mono": 3, "ld": 5, "one": 2}
    assert g["n_components"].to_dict() == {"g6": 4, "mono": 0, "ld": 1, "one": 1}
    assert gp.feature_names_.tolist() == [
        "7:g6:1",
        "7:g6:2",
        "7:g6:3",
        "7:g6:4",
        "7:ld:1",
        "7:one:1",
    ]
    assert gp.feature_gene_.tolist() == ["g6"] * 4 + ["ld", "one"]
    assert F.shape == (n, 6)
    np.testing.assert_allclose(g.loc["ld", "explained_variance_ratio_total"], 1.0)
    assert g.loc["mono", "first_feature"] == -1 and g.loc["one", "first_feature"] == 5
    # the LD gene's single component: equal loadings 1/sqrt(5), positive
    np.testing.assert_allclose(gp.gene_loadings("ld")["pc1"], np.full(5, 5**-0.5))
    # every kept component matches sklearn exactly (same sign convention)
    for gene, cols in (("g6", [0, 1, 2, 3, 4, 5]), ("ld", [9, 10, 11, 12, 13]), ("one", [5, 14])):
        k = int(g.loc[gene, "n_components"])
        ref = PCA(n_components=k, svd_solver="full").fit(X[:, cols])
        np.testing.assert_allclose(
            F[:, gp.feature_gene_ == gene], ref.transform(X[:, cols]), atol=1e-10
        )
        np.testing.assert_allclose(
            gp.explained_variance_[gp.feature_gene_ == gene], ref.explained_variance_, rtol=1e-10
        )
    # default dtype float32; fit + transform == fit_transform
    F32 = GenePCA().fit(X, ann).transform(X)
    assert F32.dtype == np.float32
    np.testing.assert_allclose(F32, F, atol=1e-5)


def test_genepca_k_rule_and_errors():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 3, size=(30, 25)).astype(float)
    ann = pd.DataFrame({"variant_index": np.arange(25), "gene": ["big"] * 25, "chrom": ["1"] * 25})
    assert GenePCA().fit(X, ann).genes_["n_components"].tolist() == [8]
    assert GenePCA(max_components=3).fit(X, ann).genes_["n_components"].tolist() == [3]
    assert GenePCA(k_rule=2).fit(X, ann).genes_["n_components"].tolist() == [2]
    # never more than n_fit - 1 components
    assert GenePCA().fit(X[:4], ann).genes_["n_components"].tolist() == [3]
    Xn = X.copy()
    Xn[3, 7] = np.nan
    with pytest.raises(InputDataError, match="MeanImputer"):
        GenePCA().fit(Xn, ann)
    gp = GenePCA().fit(X, ann)
    with pytest.raises(InputDataError, match="MeanImputer"):
        gp.transform(Xn)
    with pytest.raises(InputDataError, match="variants"):
        gp.transform(X[:, :10])
    with pytest.raises(InputDataError, match="variant_index"):
        GenePCA().fit(X[:, :10], ann)
    with pytest.raises(InputDataError, match="2 samples"):
        GenePCA().fit(X[:1], ann)
    for bad in (
        {"k_rule": "paper"},
        {"k_rule": 0},
        {"max_components": 0},
        {"dtype": "int8"},
        {"device": "tpu"},
    ):
        with pytest.raises(ConfigError):
            GenePCA(**bad).fit(X, ann)
    with pytest.raises(InputDataError, match="fit"):
        GenePCA().transform(X)
    # scikit-learn style: hyper-parameters only in __init__, clone() works
    from sklearn.base import clone

    assert clone(GenePCA(k_rule=3)).get_params()["k_rule"] == 3
    assert clone(MeanImputer(all_missing="zero")).get_params() == {"all_missing": "zero"}


def test_genepca_on_windows():
    rng = np.random.default_rng(2)
    v = _variants([("1", f"s{i}", 1000 * i) for i in range(12)])
    X = rng.integers(0, 3, size=(40, 12)).astype(float)
    w = snp_windows(v, n_snps=5)
    gp = GenePCA(dtype="float64").fit(X, w)
    assert gp.genes_["n_snps"].tolist() == [5, 5, 2]
    assert gp.genes_["n_components"].tolist() == [4, 4, 1]
    assert gp.feature_names_[0] == "1:chr1:0-4000:1"


@pytest.fixture(scope="module")
def chr1_region(shared_data):
    prefix = shared_data / "human_1kg_phase3_chr1_region" / "human_1kg_phase3_chr1_region"
    bim = _read_bim(str(prefix) + ".bim")
    X = _read_dosage(prefix)
    af = X.mean(axis=0) / 2
    keep = np.minimum(af, 1 - af) >= 0.01
    bim = bim[keep].reset_index(drop=True)
    return bim, X[:, keep]


def test_genepca_matches_sklearn_per_gene(chr1_region, shared_data):
    bim, X = chr1_region
    genes = _read_genes(shared_data)
    ann = annotate_snps(bim, genes)
    ann = ann[ann["relation"] == "inside"]
    assert {"FBXO2", "FBXO44", "MAD2L2", "AGTRAP"} <= set(ann["gene"])
    rng = np.random.default_rng(0)
    train = rng.permutation(X.shape[0])[: int(0.8 * X.shape[0])]
    gp = GenePCA(dtype="float64").fit(X[train], ann)
    F = gp.transform(X)
    np.testing.assert_allclose(gp.fit_transform(X[train], ann), F[train], rtol=0, atol=1e-10)
    summ = gp.genes_.set_index("gene")
    for gene in summ.index:
        cols = ann.loc[ann["gene"] == gene, "variant_index"].to_numpy()
        k = gene_pca_k(len(cols))
        assert summ.loc[gene, "n_components"] == k == 8
        mine = F[:, gp.feature_gene_ == gene]
        for solver in ("auto", "full"):
            ref = PCA(n_components=k, svd_solver=solver).fit(X[train][:, cols])
            want = ref.transform(X[:, cols])
            assert _rel_err(_align_signs(mine, want), want) <= 1e-5
            evr = gp.explained_variance_ratio_[gp.feature_gene_ == gene]
            assert _rel_err(evr, ref.explained_variance_ratio_) <= 1e-5
        # same sign convention as scikit-learn (svd_flip on the loadings)
        assert _rel_err(mine, want) <= 1e-5
        np.testing.assert_allclose(gp.gene_loadings(gene).to_numpy(), ref.components_.T, atol=1e-8)
    assert gp.feature_names_[0] == "1:FBXO2:1"


def test_genepca_hapmap3_all_genes_vs_sklearn(shared_data):
    prefix = shared_data / "human_1kg_hapmap3" / "human_1kg_hapmap3"
    bim = _read_bim(str(prefix) + ".bim")
    X = _read_dosage(prefix, dtype="float32")
    ann = annotate_snps(bim, _read_genes(shared_data))
    rng = np.random.default_rng(3)
    train = np.sort(rng.permutation(X.shape[0])[:1000])
    imp = MeanImputer().fit(X[train])
    Xi = imp.transform(X)
    assert imp.n_imputed_ == int(np.isnan(X).sum()) > 0
    gp = GenePCA(dtype="float64").fit(Xi[train], ann)
    F = gp.transform(Xi)
    genes = gp.genes_
    assert F.shape == (X.shape[0], genes["n_components"].sum())
    assert genes["n_snps"].sum() == len(ann.drop_duplicates(["gene", "variant_index"]))
    # check a spread of gene sizes (1, 2, ..., the largest) against scikit-learn
    picks = genes.sort_values("n_snps").drop_duplicates("n_snps")["gene"].tolist()
    picks += genes["gene"].sample(30, random_state=0).tolist()
    Xtr = Xi[train].astype(np.float64)
    for gene in picks:
        cols = ann.loc[ann["gene"] == gene, "variant_index"].to_numpy()
        k = int(genes.set_index("gene").loc[gene, "n_components"])
        if k == 0:  # monomorphic in the training rows
            assert np.ptp(Xtr[:, cols], axis=0).max() == 0
            continue
        assert k == min(
            gene_pca_k(len(cols)), np.linalg.matrix_rank(Xtr[:, cols] - Xtr[:, cols].mean(0))
        )
        ref = PCA(n_components=k, svd_solver="full").fit(Xtr[:, cols])
        want = ref.transform(Xi[:, cols].astype(np.float64))
        mine = F[:, gp.feature_gene_ == gene]
        assert _rel_err(_align_signs(mine, want), want) <= 1e-5, gene


def test_genepca_batches_and_unused_nan(monkeypatch):
    """Small batches give the same features; NaN in a variant of no gene is ignored."""
    import genoapp.features.genepca as gpmod

    rng = np.random.default_rng(4)
    n, p = 50, 120
    X = rng.integers(0, 3, size=(n, p)).astype(np.float32)
    sizes = rng.integers(1, 12, size=30)
    vidx = np.concatenate([rng.choice(p - 1, size=s, replace=False) for s in sizes])
    gene = np.repeat([f"g{i}" for i in range(30)], sizes)
    ann = pd.DataFrame({"variant_index": vidx, "gene": gene, "chrom": "5"})
    ref = GenePCA(dtype="float64").fit(X, ann)
    F_ref = ref.transform(X)
    monkeypatch.setattr(gpmod, "_BATCH_ELEMENTS", 2 * n)  # a few genes per batch
    gp = GenePCA(dtype="float64").fit(X, ann)
    np.testing.assert_allclose(gp.fit_transform(X, ann), F_ref, atol=1e-10)
    np.testing.assert_allclose(gp.transform(X), F_ref, atol=1e-10)
    assert gp.device_ == "cpu"
    Xn = X.copy()
    Xn[:, p - 1] = np.nan  # last variant is in no gene
    np.testing.assert_allclose(
        GenePCA(dtype="float64").fit(Xn, ann).transform(Xn), F_ref, atol=1e-10
    )


@pytest.mark.gpu
def test_genepca_cuda_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("GPU test: CUDA not available")
    rng = np.random.default_rng(5)
    X = rng.integers(0, 3, size=(200, 300)).astype(np.float32)
    ann = pd.DataFrame(
        {
            "variant_index": np.arange(300),
            "gene": np.repeat([f"g{i}" for i in range(20)], 15),
            "chrom": "1",
        }
    )
    cpu = GenePCA(dtype="float64").fit_transform(X, ann)
    gp = GenePCA(dtype="float64", device="cuda")
    gpu = gp.fit_transform(X, ann)
    assert gp.device_.startswith("cuda")
    np.testing.assert_allclose(_align_signs(gpu, cpu), cpu, atol=1e-8)
    np.testing.assert_allclose(_align_signs(gp.transform(X), cpu), cpu, atol=1e-8)
