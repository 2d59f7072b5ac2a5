"""Learn lesson back-end: simulator, one-hot encoding, leak-free split, CSV loading, thesis data."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from genoapp.errors import ConfigError, InputDataError
from genoapp.learn import (
    NUCLEOTIDES,
    EpistaticTerm,
    SequenceData,
    SequenceTruth,
    one_hot,
    prepare_sequences,
    read_sequence_csv,
    simulate_sequences,
)

THESIS_CAUSAL = [52, 61, 71, 74, 88, 92, 108, 112, 120, 122, 123, 145, 152, 156, 158, 170]


# ---------------------------------------------------------------- one-hot
def test_one_hot_fixed_acgt_order_even_when_a_nucleotide_is_missing():
    # "GATTACA" has no C; "AAAA" has only A: both still get 4 columns in A, C, G, T order
    X = one_hot(["GATTACA"])
    assert NUCLEOTIDES == ("A", "C", "G", "T")
    assert X.shape == (1, 7, 4) and X.dtype == np.float32
    #                    A  C  G  T
    expected = np.array([[0, 0, 1, 0],   # G
                         [1, 0, 0, 0],   # A
                         [0, 0, 0, 1],   # T
                         [0, 0, 0, 1],   # T
                         [1, 0, 0, 0],   # A
                         [0, 1, 0, 0],   # C
                         [1, 0, 0, 0]],  # A
                        dtype=np.float32)
    assert np.array_equal(X[0], expected)
    only_a = one_hot(["AAAA"])
    assert only_a.shape == (1, 4, 4)
    assert np.array_equal(only_a[0], np.tile([1, 0, 0, 0], (4, 1)))
    no_c = one_hot(["GGTT", "TTGA"])
    assert no_c.shape == (2, 4, 4)
    assert (no_c[:, :, 1] == 0).all()  # the C column is there, all zeros
    assert np.array_equal(no_c[1].argmax(1), [3, 3, 2, 0])
    # lower case is accepted and identical; every position has exactly one 1
    assert np.array_equal(one_hot(["gattaca"]), X)
    assert (X.sum(-1) == 1).all()


def test_one_hot_rejects_bad_sequences():
    with pytest.raises(InputDataError, match="same length"):
        one_hot(["ACGT", "ACG"])
    with pytest.raises(InputDataError, match="'N' at position 2"):
        one_hot(["ACGT", "ACNT"])
    with pytest.raises(InputDataError, match="no sequences"):
        one_hot([])
    with pytest.raises(InputDataError, match="single string"):
        one_hot("ACGT")


# ---------------------------------------------------------------- truth / simulator
def test_genetic_values_hand_computed():
    truth = SequenceTruth(
        reference="ACGTAC", causal_loci=np.array([1, 3, 4]),
        effects=np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, 2.0, -1.0], [4.0, 0.0, -3.0, 1.0]]),
        epistasis=(EpistaticTerm((1, 3), 0.5), EpistaticTerm((3, 4), 2.0, "ratio")),
    )
    # seq "ACGTAC": locus1 = C (-2), locus3 = T (-1), locus4 = A (4)
    # additive -2 - 1 + 4 = 1; pair 0.5 * (-2) * (-1) = 1; ratio 2 * (-1) / 4 = -0.5 -> 1.5
    # seq "AGGAGC": locus1 = G (0.5), locus3 = A (0), locus4 = G (-3)
    # additive 0.5 + 0 - 3 = -2.5; pair 0; ratio 2 * 0 / -3 = 0 -> -2.5
    g = truth.genetic_values(["ACGTAC", "AGGAGC"])
    np.testing.assert_allclose(g, [1.5, -2.5])
    np.testing.assert_allclose(truth.genetic_values(one_hot(["ACGTAC", "AGGAGC"])), g)
    table = truth.loci_table()
    assert table["locus"].tolist() == [1, 3, 4]
    assert table["reference"].tolist() == ["C", "T", "A"]
    assert table["epistatic"].tolist() == [True, True, True]
    assert list(table.columns[2:6]) == ["effect_A", "effect_C", "effect_G", "effect_T"]
    np.testing.assert_allclose(truth.centred_effects().sum(axis=1), 0.0, atol=1e-12)


def test_simulation_is_seeded_and_follows_the_design():
    a = simulate_sequences(2000, random_state=7)
    b = simulate_sequences(2000, random_state=7)
    c = simulate_sequences(2000, random_state=8)
    assert np.array_equal(a.sequences, b.sequences)
    assert np.array_equal(a.phenotypes, b.phenotypes)
    assert np.array_equal(a.truth.causal_loci, b.truth.causal_loci)
    assert a.truth.epistasis == b.truth.epistasis
    assert not np.array_equal(a.phenotypes, c.phenotypes)

    t = a.truth
    assert a.n_sequences == 2000 and a.length == 200 and len(t.reference) == 200
    assert t.causal_loci.size == 16 and np.all(np.diff(t.causal_loci) > 0)
    assert t.effects.shape == (16, 4) and np.abs(t.effects).max() <= 4.0
    kinds = [(e.kind, len(e.loci)) for e in t.epistasis]
    assert kinds == [("product", 2)] * 3 + [("product", 3)]
    epistatic = [locus for e in t.epistasis for locus in e.loci]
    assert len(epistatic) == len(set(epistatic)) == 9 and set(epistatic) <= set(t.causal_loci)
    assert all(0.25 <= e.coefficient <= 1.5 for e in t.epistasis)

    # phenotype = genetic value + environment U(-2, 2)
    env = a.phenotypes - t.genetic_values(a.sequences)
    assert np.abs(env).max() <= 2.0 and env.std() > 0.9  # U(-2, 2) has SD 1.155

    # mutations: at most 17 per sequence, preferentially at causal loci
    idx = one_hot(a.sequences).argmax(-1)
    ref = one_hot([t.reference])[0].argmax(-1)
    mutated = idx != ref
    assert mutated.sum(1).max() <= 17 and mutated.sum(1).min() == 0
    rate = mutated.mean(0)
    others = np.delete(rate, t.causal_loci)
    assert 0.18 < rate[t.causal_loci].mean() < 0.30 and 0.015 < others.mean() < 0.035


def test_simulation_without_environment_is_the_genetic_value_and_ratio_warns():
    d = simulate_sequences(300, length=50, n_causal=10, environment=0.0, random_state=1)
    np.testing.assert_allclose(d.phenotypes, d.truth.genetic_values(d.sequences))
    with pytest.warns(UserWarning, match="unstable"):
        r = simulate_sequences(300, length=50, n_causal=12, ratio_term=True, random_state=1)
    assert r.truth.epistasis[-1].kind == "ratio"
    ratio_loci = set(r.truth.epistasis[-1].loci)
    assert not ratio_loci & {locus for e in r.truth.epistasis[:-1] for locus in e.loci}


@pytest.mark.parametrize("kwargs, match", [
    ({"n_sequences": 5}, "n_sequences"),
    ({"n_causal": 5, "n_pairs": 2, "n_triples": 1}, "n_pairs, n_triples"),
    ({"length": 3}, "length"),
    ({"environment": -1.0}, "environment"),
    ({"coefficient_range": (2.0, 1.0)}, "coefficient_range"),
    ({"causal_weight": 0.0}, "causal_weight"),
])
def test_simulation_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        simulate_sequences(**{"n_sequences": 100, **kwargs})


# ---------------------------------------------------------------- split and standardisation
def test_no_test_set_statistic_enters_standardisation():
    d = simulate_sequences(1000, length=40, n_causal=5, n_pairs=1, n_triples=0, random_state=3)
    p = prepare_sequences(d, test_fraction=0.2, validation_fraction=0.25, random_state=0)
    n = d.n_sequences
    assert p.test_idx.size == 200 and p.val_idx.size == 200 and p.train_idx.size == 600
    all_rows = np.concatenate([p.train_idx, p.val_idx, p.test_idx])
    assert np.array_equal(np.sort(all_rows), np.arange(n))  # disjoint and complete
    training = p.training_idx
    # the scaler holds the training set's statistics, not those of all rows
    assert p.scaler.mean_[0] == pytest.approx(d.phenotypes[training].mean(), rel=1e-12)
    assert p.scaler.scale_[0] == pytest.approx(d.phenotypes[training].std(), rel=1e-12)
    assert p.scaler.mean_[0] != pytest.approx(d.phenotypes.mean(), rel=1e-6)
    np.testing.assert_allclose(
        p.y_scaled, (d.phenotypes - d.phenotypes[training].mean()) / d.phenotypes[training].std(),
        rtol=1e-5, atol=1e-5)
    # change every test phenotype wildly: nothing about the training side may move
    y2 = d.phenotypes.copy()
    y2[p.test_idx] = y2[p.test_idx] * 1000.0 + 1e6
    p2 = prepare_sequences(SequenceData(d.sequences, y2, d.truth), test_fraction=0.2,
                           validation_fraction=0.25, random_state=0)
    assert np.array_equal(p2.test_idx, p.test_idx)
    assert p2.scaler.mean_[0] == p.scaler.mean_[0] and p2.scaler.scale_[0] == p.scaler.scale_[0]
    assert np.array_equal(p2.y_scaled[training], p.y_scaled[training])
    # the input was not modified
    assert np.array_equal(d.phenotypes, simulate_sequences(1000, length=40, n_causal=5, n_pairs=1, n_triples=0,
                                                           random_state=3).phenotypes)


def test_split_ks_test_and_determinism():
    d = simulate_sequences(800, length=30, n_causal=4, n_pairs=2, n_triples=0, random_state=2)
    p = prepare_sequences(d, random_state=5)
    q = prepare_sequences(d, random_state=5)
    assert np.array_equal(p.test_idx, q.test_idx) and np.array_equal(p.val_idx, q.val_idx)
    ks = stats.ks_2samp(d.phenotypes[p.training_idx], d.phenotypes[p.test_idx])
    assert p.ks_statistic == pytest.approx(ks.statistic) and p.ks_pvalue == pytest.approx(ks.pvalue)
    table = p.split_table()
    assert table["set"].tolist() == ["all", "training (fitted)", "validation", "test"]
    assert table["n"].tolist() == [800, 512, 128, 160]
    with pytest.raises(ConfigError, match="test_fraction"):
        prepare_sequences(d, test_fraction=0.9)


# ---------------------------------------------------------------- CSV
def test_csv_round_trip_and_errors(tmp_path):
    d = simulate_sequences(50, length=12, n_causal=3, n_pairs=1, n_triples=0, random_state=4)
    path = tmp_path / "seqs.csv"
    d.to_frame().to_csv(path, index=False)
    back = read_sequence_csv(path)
    assert back.source == "seqs.csv" and back.truth is None
    assert np.array_equal(back.sequences, d.sequences)
    np.testing.assert_allclose(back.phenotypes, d.phenotypes, rtol=1e-15)
    assert np.array_equal(read_sequence_csv(path.read_bytes(), name="x").sequences, d.sequences)

    def csv(text):
        return io.BytesIO(text.encode())

    with pytest.raises(InputDataError, match="missing \\['phenotypes'\\]"):
        read_sequence_csv(csv("sequences,trait\n" + "ACGTAC,1\n" * 30), name="t.csv")
    with pytest.raises(InputDataError, match="'N' at position 3"):
        read_sequence_csv(csv("sequences,phenotypes\n" + "ACGTAC,1\n" * 25 + "ACGNAC,2\n"))
    with pytest.raises(InputDataError, match="same length"):
        read_sequence_csv(csv("sequences,phenotypes\n" + "ACGTAC,1\n" * 25 + "ACGTA,2\n"))
    with pytest.raises(InputDataError, match="missing or not numbers"):
        read_sequence_csv(csv("sequences,phenotypes\n" + "ACGTAC,1\n" * 25 + "ACGTAA,\n"))
    with pytest.raises(InputDataError, match="at least 20"):
        read_sequence_csv(csv("sequences,phenotypes\nACGTAC,1\n"))
    with pytest.raises(InputDataError, match="not found"):
        read_sequence_csv(tmp_path / "absent.csv")


# ---------------------------------------------------------------- the thesis' own data
def test_thesis_data_loads_and_the_simulator_matches_its_design(shared_data):
    d = read_sequence_csv(shared_data / "thesis_sequences" / "sequences_data.csv")
    assert d.n_sequences == 9000 and d.length == 200
    causal = pd.read_csv(shared_data / "thesis_sequences" / "causal_loci.tsv", sep="\t")
    assert causal["locus"].tolist() == THESIS_CAUSAL
    assert int((causal["epistasis"] == "yes").sum()) == 9  # 3 pairs + 1 triple, as simulated
    X = one_hot(d.sequences)
    counts = X.sum(0)  # (200, 4)
    consensus = counts.argmax(1)
    rate = 1.0 - counts.max(1) / d.n_sequences  # share of sequences differing from consensus
    others = np.delete(rate, THESIS_CAUSAL)
    # causal loci are mutated ~24 % of the time, other positions ~2.7 %: the simulator's design
    assert 0.22 < rate[THESIS_CAUSAL].mean() < 0.26 and 0.02 < others.mean() < 0.035
    assert set(np.argsort(-rate)[:16]) == set(THESIS_CAUSAL)
    per_seq = (X.argmax(-1) != consensus).sum(1)
    assert 8.0 < per_seq.mean() < 9.5
    sim = simulate_sequences(9000, random_state=0)
    sim_X = one_hot(sim.sequences)
    sim_rate = (sim_X.argmax(-1) != one_hot([sim.truth.reference])[0].argmax(-1)).mean(0)
    assert math.isclose(sim_rate[sim.truth.causal_loci].mean(), rate[THESIS_CAUSAL].mean(),
                        abs_tol=0.02)
    assert math.isclose(np.delete(sim_rate, sim.truth.causal_loci).mean(), others.mean(),
                        abs_tol=0.005)
