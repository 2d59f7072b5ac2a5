"""The simulators of genoapp.simulate reproduce their own truth within tolerance (DESIGN §4.6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genoapp import demo
from genoapp.errors import ConfigError
from genoapp.io import read_gene_table
from genoapp.io.pedigree import make_pedigree
from genoapp.io.plink import BIM_COLUMNS
from genoapp.simulate import (
    simulate_binary_trait,
    simulate_genotypes,
    simulate_pedigree_genotypes,
    simulate_quantitative_traits,
)

N_LARGE = 5000


@pytest.fixture(scope="module")
def genes() -> pd.DataFrame:
    return read_gene_table(demo.HG19_GENES)


@pytest.fixture(scope="module")
def cohort(genes):
    return simulate_genotypes(
        genes,
        n_samples=N_LARGE,
        n_snps=800,
        batches={"ALS1": 2000, "ALS2": 2000, "controls": 1000},
        random_state=11,
    )


def test_genotype_layout(cohort):
    v, s, G = cohort.variants, cohort.samples, cohort.G
    assert G.shape == (N_LARGE, 800)
    assert set(np.unique(G)) <= {0, 1, 2}
    assert list(v.columns[: len(BIM_COLUMNS)]) == list(BIM_COLUMNS)
    assert not v.duplicated(["chrom", "pos"]).any()
    # sorted by chromosome (1..22), then position
    rank = v["chrom"].astype(int).to_numpy()
    assert (np.diff(rank) >= 0).all()
    for _, sub in v.groupby("chrom"):
        assert sub["pos"].is_monotonic_increasing
    assert 0.6 <= (v["gene"] != "").mean() <= 0.8  # ~70 % inside genes
    assert (v["A1"] != v["A2"]).all()
    assert s["batch"].value_counts().to_dict() == {"ALS1": 2000, "ALS2": 2000, "controls": 1000}
    assert set(s["sex"]) == {1, 2}
    assert (cohort.freq >= 0.01).all() and (cohort.freq <= 0.5).all()
    assert np.array_equal(cohort.haplotypes.sum(axis=1), G)


def test_inside_snps_lie_in_their_gene(cohort, genes):
    v = cohort.variants[cohort.variants["gene"] != ""].head(200)
    table = genes.set_index("gene")
    for _, row in v.iterrows():
        spans = table.loc[[row["gene"]]]
        spans = spans[spans["chrom"] == row["chrom"]]
        assert ((spans["start"] <= row["pos"]) & (row["pos"] <= spans["end"])).any()


def test_allele_frequencies_match_freq(genes):
    sim = simulate_genotypes(genes, n_samples=10000, n_snps=300, random_state=3)
    observed = sim.G.mean(axis=0) / 2.0
    assert np.abs(observed - sim.freq).max() <= 0.02


def test_ld_neighbours_in_block_vs_other_chromosomes(cohort):
    G = cohort.G[:2000].astype(float)
    v = cohort.variants
    keep = G.std(axis=0) > 0
    chrom, block, pos = v["chrom"].to_numpy(), v["block"].to_numpy(), v["pos"].to_numpy()
    r2 = np.corrcoef(G[:, keep], rowvar=False) ** 2
    idx = np.flatnonzero(keep)
    near = [
        r2[a, a + 1]
        for a in range(len(idx) - 1)
        if block[idx[a]] == block[idx[a + 1]] and pos[idx[a + 1]] - pos[idx[a]] < 5000
    ]
    diff_chrom = chrom[idx][:, None] != chrom[idx][None, :]
    far = r2[diff_chrom]
    assert len(near) > 50
    assert np.mean(near) > 0.15
    assert np.mean(near) > 10 * np.mean(far)
    assert np.mean(far) < 0.002  # ~1/n for unlinked SNPs


@pytest.mark.parametrize("phased", [True, False])
def test_mendelian_transmission(cohort, phased):
    ids = {} if phased else {"founder_ids": cohort.samples["IID"]}
    founders = cohort if phased else cohort.G
    ped = simulate_pedigree_genotypes(
        founders, n_families=40, offspring_per_family=3, random_state=5, **ids
    )
    G0 = cohort.G
    sire, dam = G0[ped.parent_index[:, 0]], G0[ped.parent_index[:, 1]]
    child = ped.G
    assert child.shape == (120, G0.shape[1])
    low = (sire == 2).astype(int) + (dam == 2).astype(int)
    high = (sire >= 1).astype(int) + (dam >= 1).astype(int)
    assert ((child >= low) & (child <= high)).all()
    # pedigree table: founders then offspring; usable by make_pedigree
    p = make_pedigree(ped.pedigree)
    assert p.n == 80 + 120
    iid = cohort.samples["IID"].to_numpy()
    assert (ped.samples["father"].to_numpy() == iid[ped.parent_index[:, 0]]).all()
    assert (ped.samples["mother"].to_numpy() == iid[ped.parent_index[:, 1]]).all()
    # full sibs share half their genome: genomic relationship ~0.5, parent-offspring ~0.5
    p_hat = G0.mean(axis=0) / 2
    ok = (p_hat > 0.05) & (p_hat < 0.95)
    Z = (np.vstack([child, G0]).astype(float)[:, ok] - 2 * p_hat[ok]) / np.sqrt(
        2 * p_hat[ok] * (1 - p_hat[ok])
    )
    zs = Z[:120]
    sib = [np.mean(zs[3 * f] * zs[3 * f + 1]) for f in range(40)]
    po = [np.mean(zs[i] * Z[120 + ped.parent_index[i, 0]]) for i in range(120)]
    unrelated = [np.mean(zs[3 * f] * zs[3 * f + 3]) for f in range(39)]
    assert abs(np.mean(sib) - 0.5) < 0.1
    assert abs(np.mean(po) - 0.5) < 0.1
    assert abs(np.mean(unrelated)) < 0.1


@pytest.fixture(scope="module")
def binary(cohort):
    return simulate_binary_trait(
        cohort.G,
        cohort.gene_of_snp,
        variant_ids=cohort.variants["id"],
        n_additive_genes=8,
        n_dominance_genes=4,
        n_interacting_pairs=3,
        h2=0.6,
        dominance=0.2,
        interaction=0.2,
        prevalence=0.1,
        batches=cohort.samples["batch"],
        case_fractions={"ALS1": 0.5, "ALS2": 0.25, "controls": 0.0},
        random_state=7,
    )


def test_binary_trait_h2_and_prevalence(binary):
    h2 = binary.genetic.var() / binary.liability.var()
    assert abs(h2 - 0.6) <= 0.05
    assert binary.realised["h2"] == pytest.approx(h2)
    assert abs(binary.phenotype.mean() - 0.1) <= 0.01
    assert np.array_equal(binary.phenotype, (binary.liability > binary.threshold).astype(np.int8))
    shares = binary.realised["variance_shares"]
    assert shares["additive"] == pytest.approx(0.6, abs=0.1)
    assert shares["dominance"] == pytest.approx(0.2, abs=0.1)


def test_binary_trait_batch_case_fractions_exact(binary, cohort):
    batch = cohort.samples["batch"].to_numpy()[binary.selected]
    y = binary.selected_phenotype
    assert np.array_equal(y, binary.phenotype[binary.selected])
    assert len(np.unique(binary.selected)) == len(binary.selected)
    assert y[batch == "ALS1"].mean() == 0.5
    assert y[batch == "ALS2"].mean() == 0.25
    assert y[batch == "controls"].sum() == 0
    # the all-control batch keeps all its (population) controls
    ctrl_rows = np.flatnonzero(cohort.samples["batch"].to_numpy() == "controls")
    assert (batch == "controls").sum() == (binary.phenotype[ctrl_rows] == 0).sum()
    assert binary.realised["batch_case_fractions"] == {"ALS1": 0.5, "ALS2": 0.25, "controls": 0.0}


def test_binary_truth_table(binary, cohort):
    t = binary.truth
    assert list(t.columns) == ["gene", "role", "partner", "effect", "n_snps_inside", "causal_snps"]
    assert t["role"].value_counts().to_dict() == {"additive": 8, "dominance": 4, "interaction": 6}
    pairs = t[t["role"] == "interaction"].set_index("gene")["partner"]
    assert all(pairs[pairs[g]] == g for g in pairs.index)
    assert (t.loc[t["role"] != "interaction", "partner"] == "").all()
    ids = set(cohort.variants["id"])
    genes_of = dict(zip(cohort.variants["id"], cohort.variants["gene"], strict=True))
    for _, row in t.iterrows():
        for snp in row["causal_snps"].split(","):
            assert snp in ids and genes_of[snp] == row["gene"]


@pytest.mark.parametrize("prevalence", [0.02, 0.3])
def test_binary_prevalence_other_values(cohort, prevalence):
    sim = simulate_binary_trait(
        cohort.G, cohort.gene_of_snp, h2=0.3, prevalence=prevalence, random_state=1
    )
    assert abs(sim.phenotype.mean() - prevalence) <= 0.01
    assert len(sim.selected) == N_LARGE


def test_quantitative_traits_truth(cohort):
    R = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])
    h2 = np.array([0.3, 0.5, 0.8])
    sim = simulate_quantitative_traits(
        cohort.G, n_traits=3, h2=h2, genetic_correlation=R, n_causal=50, random_state=9
    )
    assert sim.Y.shape == (N_LARGE, 3)
    assert np.abs(sim.genetic_correlation_realised - R).max() <= 0.1
    assert np.abs(sim.h2_realised - h2).max() <= 0.05
    # phenotypic correlation r_g sqrt(h2_i h2_j) with independent environments
    expected = R * np.sqrt(np.outer(h2, h2))
    np.fill_diagonal(expected, 1.0)
    assert np.abs(np.corrcoef(sim.Y, rowvar=False) - expected).max() <= 0.05
    # the effects reproduce the genetic values
    Gc = cohort.G[:, sim.causal].astype(float)
    assert np.allclose((Gc - Gc.mean(axis=0)) @ sim.effects, sim.genetic)
    assert list(sim.truth.columns) == ["snp", "variant_index", "effect_0", "effect_1", "effect_2"]


def test_quantitative_scalar_correlation(cohort):
    sim = simulate_quantitative_traits(
        cohort.G, n_traits=2, h2=0.5, genetic_correlation=0.7, random_state=2
    )
    assert abs(sim.genetic_correlation_realised[0, 1] - 0.7) <= 0.1
    assert np.abs(sim.h2_realised - 0.5).max() <= 0.05


def test_reproducible(genes, cohort):
    a = simulate_genotypes(genes, n_samples=200, n_snps=150, random_state=4)
    b = simulate_genotypes(genes, n_samples=200, n_snps=150, random_state=4)
    c = simulate_genotypes(genes, n_samples=200, n_snps=150, random_state=5)
    assert (
        np.array_equal(a.G, b.G) and a.variants.equals(b.variants) and a.samples.equals(b.samples)
    )
    assert not np.array_equal(a.G, c.G) and not a.variants.equals(c.variants)

    p1 = simulate_pedigree_genotypes(a, n_families=10, random_state=1)
    p2 = simulate_pedigree_genotypes(a, n_families=10, random_state=1)
    p3 = simulate_pedigree_genotypes(a, n_families=10, random_state=2)
    assert np.array_equal(p1.G, p2.G) and p1.pedigree.equals(p2.pedigree)
    assert not np.array_equal(p1.G, p3.G)

    G = cohort.G[:1000]
    kw = dict(n_additive_genes=3, n_dominance_genes=2, n_interacting_pairs=2, h2=0.5)
    t1 = simulate_binary_trait(G, cohort.gene_of_snp, random_state=8, **kw)
    t2 = simulate_binary_trait(G, cohort.gene_of_snp, random_state=8, **kw)
    t3 = simulate_binary_trait(G, cohort.gene_of_snp, random_state=9, **kw)
    assert np.array_equal(t1.liability, t2.liability) and t1.truth.equals(t2.truth)
    assert not np.array_equal(t1.liability, t3.liability)

    q1 = simulate_quantitative_traits(G, random_state=8)
    q2 = simulate_quantitative_traits(G, random_state=8)
    q3 = simulate_quantitative_traits(G, random_state=9)
    assert np.array_equal(q1.Y, q2.Y) and q1.truth.equals(q2.truth)
    assert not np.array_equal(q1.Y, q3.Y)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_snps": -5}, "n_snps"),
        ({"fraction_in_genes": 1.5}, "fraction_in_genes"),
        ({"min_maf": 0.6}, "min_maf"),
        ({"ld_scale_kb": 0}, "ld_scale_kb"),
        ({"batches": {"a": 10, "b": 20}}, "batches"),
        ({"batches": {"a": 0.5, "b": 0.2}}, "batches"),
        ({"chromosomes": ["nonexistent"]}, "chromosomes"),
    ],
)
def test_bad_genotype_parameters(genes, kwargs, name):
    args = {"n_samples": 100, "n_snps": 50, **kwargs}
    with pytest.raises(ConfigError, match=name):
        simulate_genotypes(genes, **args)


def test_bad_pedigree_parameters(cohort):
    with pytest.raises(ConfigError, match="n_families"):
        simulate_pedigree_genotypes(cohort, n_families=10**6)
    with pytest.raises(ConfigError, match="offspring_per_family"):
        simulate_pedigree_genotypes(cohort.G, n_families=2, offspring_per_family=0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"h2": 1.2}, "h2"),
        ({"prevalence": 0.0}, "prevalence"),
        ({"dominance": 0.7, "interaction": 0.5}, "dominance"),
        ({"n_additive_genes": -1}, "n_additive_genes"),
        ({"n_dominance_genes": 0, "dominance": 0.3}, "n_dominance_genes"),
        ({"n_additive_genes": 10**5}, "n_additive_genes"),
        ({"case_fractions": {"ALS1": 0.5}}, "case_fractions"),
        ({"batches": "use", "case_fractions": {"ALS1": 0.5}}, "case_fractions"),
        (
            {"batches": "use", "case_fractions": {"ALS1": 1.5, "ALS2": 0.2, "controls": 0}},
            "case_fractions",
        ),
    ],
)
def test_bad_binary_parameters(cohort, kwargs, name):
    kwargs = dict(kwargs)
    if kwargs.get("batches") == "use":
        kwargs["batches"] = cohort.samples["batch"]
    with pytest.raises(ConfigError, match=name):
        simulate_binary_trait(cohort.G[:, :], cohort.gene_of_snp, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_traits": 0}, "n_traits"),
        ({"h2": 1.0}, "h2"),
        ({"n_traits": 2, "h2": [0.2, 0.3, 0.4]}, "h2"),
        ({"genetic_correlation": 1.5}, "genetic_correlation"),
        ({"n_traits": 3, "genetic_correlation": -0.9}, "genetic_correlation"),
        ({"genetic_correlation": np.eye(3)}, "genetic_correlation"),
        ({"environmental_correlation": 2.0}, "environmental_correlation"),
        ({"n_causal": 10**6}, "n_causal"),
    ],
)
def test_bad_quantitative_parameters(cohort, kwargs, name):
    with pytest.raises(ConfigError, match=name):
        simulate_quantitative_traits(cohort.G[:500], **kwargs)
