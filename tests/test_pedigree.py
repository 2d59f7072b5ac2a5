"""Pedigrees, the A matrix (Henderson), GCTA GRMs and reduced-rank loadings."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from genoapp.errors import ConfigError, InputDataError
from genoapp.features.pedigree import (
    additive_relationship,
    elbow_rank,
    inbreeding_coefficients,
    pedigree_loadings,
    plateau_rank,
    relationship_eigen,
    spectrum_tolerance,
)
from genoapp.io.grm import read_grm, write_grm
from genoapp.io.pedigree import make_pedigree, pedigree_from_fam, read_pedigree

# Mrode (2005), Linear Models for the Prediction of Animal Breeding Values, Example 2.1.
MRODE = pd.DataFrame({"id": ["1", "2", "3", "4", "5", "6"],
                      "sire": ["0", "0", "1", "1", "4", "5"],
                      "dam": ["0", "0", "2", "0", "3", "2"]})


def _mrode_by_hand() -> np.ndarray:
    """A worked out with the tabular rules, entry by entry (multiples of 1/16)."""
    a = np.full((6, 6), np.nan)

    def put(i, j, v):
        a[i, j] = a[j, i] = v

    put(0, 0, 1.0)
    put(1, 1, 1.0)
    put(0, 1, 0.0)                                        # founders 1, 2
    put(2, 2, 1 + 0.5 * a[0, 1])                          # 3 = 1 x 2: 1
    put(2, 0, 0.5 * (a[0, 0] + a[1, 0]))                  # 0.5
    put(2, 1, 0.5 * (a[0, 1] + a[1, 1]))                  # 0.5
    put(3, 3, 1.0)                                        # 4 = 1 x unknown
    put(3, 0, 0.5 * a[0, 0])                              # 0.5
    put(3, 1, 0.5 * a[0, 1])                              # 0
    put(3, 2, 0.5 * a[0, 2])                              # 0.25
    put(4, 4, 1 + 0.5 * a[3, 2])                          # 5 = 4 x 3: 1.125
    for j in range(4):
        put(4, j, 0.5 * (a[3, j] + a[2, j]))              # 0.5, 0.25, 0.625, 0.625
    put(5, 5, 1 + 0.5 * a[4, 1])                          # 6 = 5 x 2: 1.125
    for j in range(5):
        put(5, j, 0.5 * (a[4, j] + a[1, j]))              # 0.25, 0.625, 0.5625, 0.3125, 0.6875
    return a


def test_A_of_a_hand_computed_pedigree():
    ped = make_pedigree(MRODE)
    A = additive_relationship(ped)
    expected = _mrode_by_hand()
    np.testing.assert_allclose(A, expected, atol=0, rtol=0)
    # the published table (Mrode 2005, p. 23), rounded to 3 decimals
    assert A[5, 5] == 1.125 and A[2, 5] == 0.5625 and A[4, 5] == 0.6875
    np.testing.assert_allclose(inbreeding_coefficients(A), [0, 0, 0, 0, 0.125, 0.125])
    assert ped.table["sex"].tolist() == [1, 2, 2, 1, 1, 0]  # inferred from use as sire/dam


def test_parents_after_offspring_are_sorted_first():
    shuffled = MRODE.iloc[[5, 2, 4, 0, 3, 1]].reset_index(drop=True)
    ped = make_pedigree(shuffled)
    assert ped.reordered and any("sorted" in n for n in ped.notes)
    pos = np.arange(ped.n)
    assert ((ped.sire < pos) & (ped.dam < pos)).all()
    A = additive_relationship(ped, individuals=[str(i) for i in range(1, 7)])
    np.testing.assert_allclose(A, _mrode_by_hand())
    assert not make_pedigree(MRODE).reordered


def test_individuals_option_prunes_to_ancestors_and_keeps_values():
    ped = make_pedigree(MRODE)
    full = additive_relationship(ped)
    sub = additive_relationship(ped, individuals=["6", "4"])
    np.testing.assert_allclose(sub, full[np.ix_([5, 3], [5, 3])])
    assert ped.ancestors([5]).tolist() == [0, 1, 2, 3, 4, 5]
    assert ped.ancestors([3]).tolist() == [0, 3]


def test_unknown_parents_are_listed_and_added_as_founders():
    table = pd.DataFrame({"id": ["a", "b"], "sire": ["S1", "S1"], "dam": ["D1", "0"]})
    ped = make_pedigree(table)
    assert ped.added_founders == ("S1", "D1")
    assert ped.ids.tolist()[:2] == ["S1", "D1"]
    assert any("S1" in n and "D1" in n for n in ped.notes)
    A = additive_relationship(ped, individuals=["a", "b"])
    np.testing.assert_allclose(A, [[1.0, 0.25], [0.25, 1.0]])  # paternal half-sibs
    with pytest.raises(InputDataError, match="S1.*D1|no row of their own"):
        make_pedigree(table, missing_parents="error")
    as_unknown = make_pedigree(table, missing_parents="unknown")
    assert as_unknown.unknown_parents == ("S1", "D1") and as_unknown.n == 2
    np.testing.assert_allclose(additive_relationship(as_unknown), np.eye(2))
    with pytest.raises(ConfigError):
        make_pedigree(table, missing_parents="drop")


def test_loops_are_errors_naming_the_individuals():
    loop = pd.DataFrame({"id": ["A", "B", "C"], "sire": ["C", "A", "B"], "dam": ["0", "0", "0"]})
    with pytest.raises(InputDataError, match=r"loop.*(A|B|C) -> (A|B|C) -> (A|B|C) -> "):
        make_pedigree(loop)
    own = pd.DataFrame({"id": ["A", "B"], "sire": ["0", "B"], "dam": ["0", "A"]})
    with pytest.raises(InputDataError, match="own parent.*B"):
        make_pedigree(own)


def test_sex_conflicts():
    both = pd.DataFrame({"id": ["m", "f", "x", "y"], "sire": ["0", "0", "m", "f"],
                         "dam": ["0", "0", "f", "m"]})
    with pytest.raises(InputDataError, match="Sex conflict.*sire of some.*dam of others"):
        make_pedigree(both)
    assert make_pedigree(both, check_sex=False).n == 4
    recorded = pd.DataFrame({"id": ["m", "f", "x"], "sire": ["0", "0", "m"],
                             "dam": ["0", "0", "f"], "sex": ["2", "2", "1"]})
    with pytest.raises(InputDataError, match="sire recorded female.*m"):
        make_pedigree(recorded)
    selfed = pd.DataFrame({"id": ["p", "q"], "sire": ["0", "p"], "dam": ["0", "p"]})
    with pytest.raises(InputDataError, match="same individual as sire and dam"):
        make_pedigree(selfed)
    ped = make_pedigree(selfed, allow_selfing=True)
    A = additive_relationship(ped)
    np.testing.assert_allclose(A, [[1.0, 1.0], [1.0, 1.5]])  # selfing: F = 0.5


# A maize-like plant pedigree: P1 pollinates P2 (sire) and is pollinated by P3 (dam).
PLANTS = pd.DataFrame({"id": ["P1", "P2", "P3", "X", "Y"], "sire": ["0", "0", "0", "P1", "P3"],
                       "dam": ["0", "0", "0", "P2", "P1"]})


def test_plants_can_be_sire_and_dam(tmp_path):
    path = tmp_path / "maize.pedigree.tsv"
    PLANTS.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputDataError) as err:
        read_pedigree(path)  # species="animal" by default
    msg = str(err.value)
    assert "sire of some offspring and a dam of others (P1)" in msg
    assert "monoecious" in msg and "plant" in msg and "check_sex=False" in msg
    assert "species='plant'" in msg
    with pytest.raises(InputDataError, match="monoecious"):
        read_pedigree(path, species="animal")
    ped = read_pedigree(path, species="plant")
    assert ped.n == 5 and any("P1" in note and "plant" in note for note in ped.notes)
    A = additive_relationship(ped)
    assert A[3, 4] == pytest.approx(0.25)  # X and Y are half sibs through P1
    # an explicit check_sex wins over the species
    with pytest.raises(InputDataError, match="monoecious"):
        read_pedigree(path, species="plant", check_sex=True)
    assert read_pedigree(path, species="animal", check_sex=False).n == 5
    assert make_pedigree(PLANTS, species="plant").n == 5
    with pytest.raises(ConfigError, match="species.*'animal' or 'plant'.*'fungus'"):
        read_pedigree(path, species="fungus")
    with pytest.raises(ConfigError, match="check_sex"):
        make_pedigree(PLANTS, check_sex="no")
    # a .fam of plants: same keyword
    fam = pd.DataFrame({"IID": PLANTS["id"], "father": PLANTS["sire"], "mother": PLANTS["dam"]})
    assert pedigree_from_fam(fam, species="plant").n == 5


def test_quantitative_data_forwards_the_species(tmp_path):
    from genoapp.io import write_plink
    from genoapp.workflows.quantitative import load_quantitative_data

    ids = PLANTS["id"].tolist()
    m = 8
    write_plink(tmp_path / "maize",
                np.random.default_rng(0).binomial(2, 0.4, size=(5, m)).astype(np.float32),
                samples=pd.DataFrame({"FID": ids, "IID": ids}),
                variants=pd.DataFrame({"chrom": "1", "id": [f"s{j}" for j in range(m)],
                                       "pos": np.arange(1, m + 1), "A1": "A", "A2": "G"}))
    pd.DataFrame({"FID": ids, "IID": ids, "height": [1.0, 2.0, 3.0, 4.0, 5.0]}).to_csv(
        tmp_path / "maize.pheno.tsv", sep="\t", index=False)
    PLANTS.to_csv(tmp_path / "maize.pedigree.tsv", sep="\t", index=False)
    kw = dict(phenotypes=tmp_path / "maize.pheno.tsv", pedigree=tmp_path / "maize.pedigree.tsv")
    with pytest.raises(InputDataError, match="declare the species as a plant"):
        load_quantitative_data(tmp_path / "maize", **kw)
    data = load_quantitative_data(tmp_path / "maize", **kw, pedigree_options={"species": "plant"})
    assert data.relationship.eigenvalues.size == 5
    assert any("plant" in note for note in data.notes)


def test_duplicated_and_empty_ids():
    dup = pd.DataFrame({"id": ["a", "a"], "sire": ["0", "0"], "dam": ["0", "0"]})
    with pytest.raises(InputDataError, match="more than one row.*a"):
        make_pedigree(dup)
    empty = pd.DataFrame({"id": ["a", "0"], "sire": ["0", "0"], "dam": ["0", "0"]})
    with pytest.raises(InputDataError, match="own id"):
        make_pedigree(empty)


def test_read_pedigree_files(tmp_path):
    p = tmp_path / "ped.csv"
    p.write_text("animal,father,mother\n1,0,0\n2,NA,.\n3,1,2\n")
    ped = read_pedigree(p)
    assert ped.ids.tolist() == ["1", "2", "3"] and ped.source == "ped.csv"
    q = tmp_path / "ped.txt"
    q.write_text("1 0 0\n2 0 0\n3 1 2\n")
    np.testing.assert_allclose(additive_relationship(read_pedigree(q)),
                               additive_relationship(ped))
    with pytest.raises(InputDataError, match="not found"):
        read_pedigree(tmp_path / "missing.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tsire\n1\t0\n")
    with pytest.raises(InputDataError, match="at least 3"):
        read_pedigree(bad)
    fam = pd.DataFrame({"FID": ["f"] * 3, "IID": ["1", "2", "3"], "father": ["0", "0", "1"],
                        "mother": ["0", "0", "2"], "sex": [1, 2, 0]})
    np.testing.assert_allclose(additive_relationship(pedigree_from_fam(fam)),
                               additive_relationship(ped))
    with pytest.raises(InputDataError, match="not in the pedigree.*9"):
        ped.index(["1", "9"])


def test_pic_pedigree_A_in_seconds(shared_data):
    ped = read_pedigree(shared_data / "pig_pic_cleveland2012" / "pic.pedigree.tsv")
    assert ped.n == 6473 and not ped.reordered and not ped.added_founders
    t0 = time.perf_counter()
    A = additive_relationship(ped)
    seconds = time.perf_counter() - t0
    assert seconds < 30, seconds  # about 1 s on an idle 2-core machine
    assert A.shape == (6473, 6473)
    np.testing.assert_array_equal(A, A.T)
    assert np.diag(A).min() >= 1.0 and 0 < inbreeding_coefficients(A).max() < 0.5
    # every offspring's row is the mean of its parents' rows (Henderson's recursion)
    for i in np.flatnonzero((ped.sire >= 0) & (ped.dam >= 0))[-20:]:
        s, d = ped.sire[i], ped.dam[i]
        np.testing.assert_allclose(A[i, :i], 0.5 * (A[s, :i] + A[d, :i]))
        assert A[i, i] == pytest.approx(1 + 0.5 * A[s, d])
    sub = additive_relationship(ped, individuals=ped.ids[-50:])
    np.testing.assert_allclose(sub, A[-50:, -50:])


# ------------------------------------------------------------------------------ GRM files
def test_grm_round_trip_and_errors(tmp_path):
    A = additive_relationship(make_pedigree(MRODE))
    ids = pd.DataFrame({"FID": ["f"] * 6, "IID": MRODE["id"]})
    prefix = write_grm(tmp_path / "m", A, ids)
    assert (tmp_path / "m.grm.bin").stat().st_size == 4 * 21
    g = read_grm(f"{prefix}.grm.bin")
    np.testing.assert_allclose(g.matrix, A)
    assert g.ids["IID"].tolist() == MRODE["id"].tolist()
    (tmp_path / "m.grm.id").write_text("f\t1\nf\t2\n")
    with pytest.raises(InputDataError, match="n\\(n\\+1\\)/2"):
        read_grm(tmp_path / "m")
    with pytest.raises(InputDataError, match="missing"):
        read_grm(tmp_path / "nothing")


def test_read_shipped_grms(shared_data, repo_root):
    mice = read_grm(shared_data / "bglr_mice" / "mice.A")
    assert mice.matrix.shape == (1814, 1814)
    np.testing.assert_array_equal(mice.matrix, mice.matrix.T)
    np.testing.assert_allclose(np.diag(mice.matrix), 1.0)
    fam = pd.read_csv(shared_data / "bglr_mice" / "mice.fam", sep=r"\s+", header=None, dtype=str)
    assert mice.ids["IID"].tolist() == fam[1].tolist()
    # raw check of the layout: element (2, 1) is the 5th float of the file
    raw = np.fromfile(shared_data / "bglr_mice" / "mice.A.grm.bin", dtype="<f4", count=6)
    assert mice.matrix[2, 1] == raw[4] and mice.matrix[1, 2] == raw[4]
    wheat = read_grm(shared_data / "bglr_wheat" / "wheat.A")
    assert wheat.n == 599
    assert 1.5 < np.diag(wheat.matrix).min() and np.diag(wheat.matrix).max() <= 2.0
    shipped = read_grm(repo_root / "assets" / "quantitative" / "mice" / "mice.A")
    np.testing.assert_array_equal(shipped.matrix, mice.matrix)


# ------------------------------------------------------------------------------ loadings
def test_full_rank_loadings_reproduce_A():
    A = additive_relationship(make_pedigree(MRODE))
    L = pedigree_loadings(A, n_components=None)
    np.testing.assert_allclose(L.loadings @ L.loadings.T, A, atol=1e-12)
    vals, vecs = relationship_eigen(A)
    assert np.all(np.diff(vals) <= 0)
    np.testing.assert_allclose(vecs @ np.diag(vals) @ vecs.T, A, atol=1e-12)
    L2 = pedigree_loadings(A, n_components=2)
    assert L2.loadings.shape == (6, 2) and L2.names == ["L1", "L2"]
    np.testing.assert_allclose(L2.loadings, L.loadings[:, :2])
    with pytest.raises(ConfigError):
        pedigree_loadings(A, n_components=7)
    with pytest.raises(InputDataError, match="not symmetric"):
        pedigree_loadings(A + np.triu(np.ones((6, 6)), 1))


def test_full_rank_loadings_reproduce_the_wheat_A(shared_data):
    g = read_grm(shared_data / "bglr_wheat" / "wheat.A")
    L = pedigree_loadings(g.matrix, n_components=None, ids=g.ids["IID"])
    np.testing.assert_allclose(L.loadings @ L.loadings.T, g.matrix, atol=1e-8)
    assert L.plateau is None  # no flat tail: the paper's rule does not apply
    rows = L.rows(g.ids["IID"].iloc[[5, 2]])
    np.testing.assert_array_equal(rows, L.loadings[[5, 2]])
    with pytest.raises(InputDataError, match="no row"):
        L.rows(["nope"])


def test_elbow_and_plateau_rules():
    lam = np.r_[np.linspace(100, 10, 10) ** 1.5, np.full(90, 1.0)]
    lam = np.sort(lam)[::-1]
    assert plateau_rank(lam) == 10
    k = elbow_rank(lam)
    assert 2 <= k <= 12
    assert plateau_rank(np.linspace(10, 1, 50)) is None
    with pytest.raises(InputDataError, match="descending"):
        elbow_rank(lam[::-1])


@pytest.mark.slow
def test_mice_A_plateau_is_the_papers_rank(shared_data):
    g = read_grm(shared_data / "bglr_mice" / "mice.A")
    L = pedigree_loadings(g.matrix, n_components="plateau", ids=g.ids["IID"])
    assert L.plateau == 169 and L.n_components == 169  # Fan & Waldmann 2025 used m = 169
    assert L.elbow < L.plateau
    np.testing.assert_allclose(L.eigenvalues[169:], 0.5, atol=1e-5)
    # the spectrum's ties (24.5, 18.5, 15.5, 15.5, 15, 14, 14, ...) gave elbow 12, or 6 once
    # cast to float32; both are 12 now
    assert L.elbow == elbow_rank(L.eigenvalues.astype(np.float32)) == 12


# ------------------------------------------------------------------ rank: float64 vs float32
def _random_orthogonal(n: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q


@pytest.mark.parametrize("tail", [0.0, 1e-4, 0.5])
def test_ranks_ignore_float32_rounding_of_the_matrix(tmp_path, tail):
    """A singular or nearly singular A (tail 0 or 1e-4: plants with selfing, duplicated
    individuals) had a plateau and positive rank decided by float32 noise (before: plateau 20 vs
    53 for tail 0, 20 vs None for 1e-4; positive rank 20 vs 81)."""
    n = 150
    q = _random_orthogonal(n)
    lam = np.r_[50.0 / np.arange(1, 21) ** 1.5, np.full(n - 20, tail)]
    A = (q * lam) @ q.T
    A = (A + A.T) / 2
    write_grm(tmp_path / "a", A, pd.DataFrame({"IID": [f"i{k}" for k in range(n)]}))
    A32 = read_grm(tmp_path / "a").matrix
    assert 0 < np.abs(A32 - A).max() < 1e-6
    L64 = pedigree_loadings(A, n_components=None)
    L32 = pedigree_loadings(A32, n_components=None)
    # Weyl: storing A as float32 moves each eigenvalue by at most half the tolerance
    tol = spectrum_tolerance(L64.eigenvalues)
    assert tol == pytest.approx(np.finfo(np.float32).eps * np.linalg.norm(A))
    assert np.abs(np.linalg.eigvalsh(A32) - np.linalg.eigvalsh(A)).max() <= tol / 2
    assert (L32.elbow, L32.plateau, L32.n_components) == (L64.elbow, L64.plateau,
                                                          L64.n_components)
    assert L64.plateau == 20
    assert L64.n_components == (20 if tail == 0 else n)


def test_flat_spectrum_has_the_same_rank_whatever_the_rounding():
    """Unrelated individuals (A = I): Kneedle used to find an 'elbow' in rounding noise
    (135 for I, 17 with 1e-9 noise on the diagonal, 4 for Q Q^T)."""
    n = 150
    q = _random_orthogonal(n, seed=1)
    rng = np.random.default_rng(2)
    for A in (np.eye(n), np.eye(n) + 1e-9 * np.diag(rng.standard_normal(n)), q @ q.T,
              np.eye(n).astype(np.float32)):
        L = pedigree_loadings(A, n_components=None)
        assert L.elbow == 135 and L.plateau is None  # ceil(0.9 n): 90 % of the trace
    assert elbow_rank(np.ones(10)) == 9


def test_tied_eigenvalues_give_one_elbow():
    """Equal eigenvalues right after a local maximum of Kneedle's difference curve drop it by
    exactly its threshold, so the last bit of rounding decided the elbow: 6 for exactly equal
    eigenvalues (as in the top of the BGLR mice spectrum: 14, 14), 12 when eigh leaves them
    1e-14 apart. Now the tie follows Kneedle's strict rule (not below the threshold) both ways."""
    lam = np.r_[24.5, 18.5, 15.5, 15.5, 15.0, 14.0, 14.0, 13.5, 13.0, 12.5, 12.0,
                np.full(6, 11.5), np.linspace(11.0, 1.0, 60), np.full(142, 0.5)]
    split = lam + 1e-14 * np.arange(lam.size)[::-1]
    assert elbow_rank(lam) == elbow_rank(lam.astype(np.float32)) == elbow_rank(split) == 12


def _pig_cohort(shared_data, tmp_path, generations):
    """PLINK files (random markers) for the phenotyped PIC pigs of some generations."""
    from genoapp.io import write_plink

    pig = shared_data / "pig_pic_cleveland2012"
    ped = read_pedigree(pig / "pic.pedigree.tsv")
    pheno = pd.read_csv(pig / "pic.pheno.tsv", sep="\t", dtype={"FID": str, "IID": str})
    gen = ped.table.set_index("id")["generation"]
    lo, hi = generations
    ids = [i for i in pheno["IID"] if lo <= gen[i] <= hi]
    rng = np.random.default_rng(0)
    m = 20
    write_plink(tmp_path / "pig", rng.binomial(2, 0.3, size=(len(ids), m)).astype(np.float32),
                samples=pd.DataFrame({"FID": ids, "IID": ids}),
                variants=pd.DataFrame({"chrom": "1", "id": [f"s{j}" for j in range(m)],
                                       "pos": np.arange(1, m + 1), "A1": "A", "A2": "G"}))
    pheno[pheno["IID"].isin(ids)].to_csv(tmp_path / "pig.pheno.tsv", sep="\t", index=False,
                                         na_rep="NA")
    return ped, ids


@pytest.mark.parametrize("generations, elbow, plateau", [
    ((3, 3), 24, 114),
    ((12, 16), 33, None),
    pytest.param((0, 16), 97, None, marks=pytest.mark.slow),  # all 3,534 phenotyped pigs
])
def test_pig_ranks_are_the_same_from_the_pedigree_and_from_a_grm(shared_data, tmp_path,
                                                                  generations, elbow, plateau):
    """The same A (the PIC pedigree's A of the 'genotyped' pigs) gets the same elbow and
    plateau whether it is built from the pedigree (float64) or read from a GCTA GRM (float32).
    Like for like: the pedigree route with relationship_scope="genotyped"; the default "all"
    decomposes A over all 6,473 animals, another matrix (elbow 122 instead of 97 for all
    phenotyped pigs)."""
    from genoapp.workflows.quantitative import load_quantitative_data, resolve_rank

    ped, ids = _pig_cohort(shared_data, tmp_path, generations)
    A = additive_relationship(ped, individuals=ids)
    write_grm(tmp_path / "pig.A", A, pd.DataFrame({"FID": ids, "IID": ids}))
    common = dict(phenotypes=tmp_path / "pig.pheno.tsv")
    from_ped = load_quantitative_data(tmp_path / "pig", **common,
                                      pedigree=shared_data / "pig_pic_cleveland2012" /
                                      "pic.pedigree.tsv", relationship_scope="genotyped")
    from_grm = load_quantitative_data(tmp_path / "pig", **common, grm=tmp_path / "pig.A")
    r64, r32 = from_ped.relationship, from_grm.relationship
    assert r64.eigenvalues.size == r32.eigenvalues.size == len(ids)
    assert np.abs(r64.eigenvalues - r32.eigenvalues).max() <= spectrum_tolerance(r64.eigenvalues)
    assert (r64.elbow, r64.plateau) == (r32.elbow, r32.plateau) == (elbow, plateau)
    for rule in ("elbow", "plateau"):
        assert resolve_rank(from_ped, rule) == resolve_rank(from_grm, rule)
