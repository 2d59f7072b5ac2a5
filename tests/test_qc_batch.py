"""Batch-effect filter: hand-built allele tables against scipy.stats.chi2_contingency and BH."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency
from statsmodels.stats.multitest import multipletests

from genoapp.errors import ConfigError, InputDataError
from genoapp.qc.batch import allele_counts_by_batch, batch_effect_test

# 5 SNPs x 3 batches x (A1, A2) allele counts among controls, chosen by hand:
TABLES = np.array([
    [[30, 70], [45, 55], [20, 80]],     # frequencies 0.30 / 0.45 / 0.20: a batch effect
    [[10, 90], [12, 88], [11, 89]],     # no effect
    [[50, 50], [50, 50], [80, 20]],     # batch 3 differs strongly
    [[5, 195], [6, 194], [4, 196]],     # rare, no effect
    [[0, 0], [40, 60], [42, 58]],       # batch 1 has no call: tested on batches 2-3 only
], dtype=float)


def test_joint_test_known_answer_against_chi2_contingency_and_bh():
    res = batch_effect_test(TABLES, alpha=0.05)
    p_ref = []
    for i, t in enumerate(TABLES):
        t = t[t.sum(axis=1) > 0]  # batches with calls
        chi2, p, dof, _ = chi2_contingency(t.T, correction=False)
        np.testing.assert_allclose(res["chi2"][i], chi2, rtol=1e-12)
        assert res["df"][i] == dof
        np.testing.assert_allclose(res["p"][i], p, rtol=1e-12)
        p_ref.append(p)
    q_ref = multipletests(p_ref, method="fdr_bh")[1]
    np.testing.assert_allclose(res["q"], q_ref, rtol=1e-12)
    assert res["remove"].tolist() == list(q_ref < 0.05)
    assert res["remove"].tolist() == [True, False, True, False, False]
    assert (res["pair"] == "all").all()


def test_pairwise_tests_with_yates_as_the_authors_script():
    labels = ["c1", "c3", "c5"]
    res = batch_effect_test(TABLES, pairwise=True, yates=True, batch_labels=labels)
    # every SNP x pair p-value, BH over all of them together
    pairs = [(0, 1), (0, 2), (1, 2)]
    p_all = np.full((len(TABLES), 3), np.nan)
    for i, t in enumerate(TABLES):
        for j, (a, b) in enumerate(pairs):
            sub = t[[a, b]]
            if (sub.sum(axis=1) > 0).all():
                p_all[i, j] = chi2_contingency(sub.T, correction=True).pvalue  # scipy default
    ok = np.isfinite(p_all)
    q_all = np.full(p_all.shape, np.nan)
    q_all[ok] = multipletests(p_all[ok], method="fdr_bh")[1]
    best = np.nanargmin(q_all, axis=1)
    rows = np.arange(len(TABLES))
    np.testing.assert_allclose(res["p"], p_all[rows, best], rtol=1e-12)
    np.testing.assert_allclose(res["q"], q_all[rows, best], rtol=1e-12)
    assert res["pair"][2] in ("c1 vs c5", "c3 vs c5")
    assert res["pair"][4] == "c3 vs c5"  # the only testable pair
    assert res["remove"].tolist() == list(np.nanmin(q_all, axis=1) < 0.05)
    # without Yates the 2x2 statistic is the plain Pearson one
    plain = batch_effect_test(TABLES[:1, :2], pairwise=True)
    np.testing.assert_allclose(plain["chi2"][0],
                               chi2_contingency(TABLES[0, :2].T, correction=False).statistic)


def test_untestable_snps_are_kept_and_not_corrected():
    t = np.array([[[0, 20], [0, 30]],    # monomorphic among controls
                  [[5, 5], [0, 0]],      # one batch only
                  [[1, 99], [60, 40]]], dtype=float)
    res = batch_effect_test(t)
    assert np.isnan(res["p"][:2]).all() and not res["remove"][:2].any()
    np.testing.assert_allclose(res["q"][2], res["p"][2])  # BH over the single testable SNP
    assert res["remove"][2]


def test_allele_counts_from_genotype_counts():
    g = np.array([[[3, 2, 1, 4], [0, 0, 5, 1]]])  # hom A1, het, hom A2, missing per batch
    np.testing.assert_array_equal(allele_counts_by_batch(g), [[[8, 4], [0, 10]]])


def test_bad_inputs():
    with pytest.raises(InputDataError, match="shape"):
        batch_effect_test(np.zeros((2, 3)))
    with pytest.raises(InputDataError, match="non-negative"):
        batch_effect_test(-np.ones((1, 2, 2)))
    with pytest.raises(ConfigError, match="two batches"):
        batch_effect_test(np.ones((4, 1, 2)))
    with pytest.raises(ConfigError, match="alpha"):
        batch_effect_test(TABLES, alpha=1.5)
    with pytest.raises(InputDataError, match="shape"):
        allele_counts_by_batch(np.zeros((2, 2)))
