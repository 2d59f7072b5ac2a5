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
