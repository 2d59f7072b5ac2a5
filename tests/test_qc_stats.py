"""Exact tests and association statistics against hand-made answers, scipy and statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import gammaln

from genoapp.errors import ConfigError, InputDataError
from genoapp.qc import (
    QCConfig,
    allelic_test,
    fisher_exact_2x2,
    genomic_control_lambda,
    hwe_exact,
    linear_association,
    logistic_association,
)


def hwe_enumerated(het: int, hom1: int, hom2: int, midp: bool) -> float:
    """Levene/Haldane distribution of het counts enumerated in log space."""
    n = het + hom1 + hom2
    if n == 0:
        return 0.5 if midp else 1.0
    rare = 2 * min(hom1, hom2) + het
    hs = np.arange(rare % 2, rare + 1, 2)
    homr = (rare - hs) // 2
    homc = n - hs - homr
    ok = (homr >= 0) & (homc >= 0)
    hs, homr, homc = hs[ok], homr[ok], homc[ok]
    lp = (gammaln(n + 1) - gammaln(homr + 1) - gammaln(homc + 1) - gammaln(hs + 1)
          + hs * np.log(2) + gammaln(rare + 1) + gammaln(2 * n - rare + 1) - gammaln(2 * n + 1))
    p = np.exp(lp - lp.max())
    obs = p[hs == het][0]
    less = p[p < obs * (1 - 1e-9)].sum()
    tie = p[np.abs(p / obs - 1) <= 1e-9].sum()
    return (less + (0.5 * tie if midp else tie)) / p.sum()


def test_hwe_hand_computed_known_answer():
    # 3 genotypes with 3 copies of each allele: P(het=1) = 0.6, P(het=3) = 0.4
    np.testing.assert_allclose(hwe_exact(1, 1, 1, midp=False), 1.0, rtol=1e-14)
    np.testing.assert_allclose(hwe_exact(1, 1, 1, midp=True), 0.7, rtol=1e-14)
    np.testing.assert_allclose(hwe_exact(3, 0, 0, midp=False), 0.4, rtol=1e-14)
    np.testing.assert_allclose(hwe_exact(3, 0, 0, midp=True), 0.2, rtol=1e-14)
    assert hwe_exact(0, 0, 0, midp=False) == 1.0 and hwe_exact(0, 0, 0, midp=True) == 0.5
    assert hwe_exact(0, 10, 0, midp=False) == 1.0  # monomorphic


def test_hwe_matches_enumeration_on_random_counts():
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(600):
        n = int(rng.integers(1, 80))
        g = rng.binomial(2, rng.random(), n) if rng.random() < 0.7 else rng.choice([0, 2], n)
        rows.append(((g == 1).sum(), (g == 2).sum(), (g == 0).sum()))
    het, h1, h2 = np.array(rows).T
    for midp in (False, True):
        ours = hwe_exact(het, h1, h2, midp=midp)
        ref = [hwe_enumerated(a, b, c, midp) for a, b, c in rows]
        np.testing.assert_allclose(ours, ref, rtol=1e-9)
    # symmetric in the two homozygote counts, broadcasting
    np.testing.assert_array_equal(hwe_exact(het, h1, h2), hwe_exact(het, h2, h1))
    assert hwe_exact([[5]], 3, [1, 2]).shape == (1, 2)


def test_hwe_extreme_tail_underflows_like_plink():
    # 10,000 homozygotes of each allele and no het: p far below 1e-300 -> 0
    assert hwe_exact(0, 10_000, 10_000) == 0.0
    p = hwe_exact(0, 400, 400)
    assert 0 < p < 1e-200


def test_fisher_matches_scipy_and_mid_p_matches_hypergeometric():
    rng = np.random.default_rng(1)
    tables = rng.integers(0, 25, size=(500, 4))
    tables[:5] = [[0, 0, 0, 0], [3, 0, 0, 3], [5, 5, 5, 5], [0, 7, 4, 0], [1, 2, 2, 1]]
    ours = fisher_exact_2x2(*tables.T)
    ref = [stats.fisher_exact(t.reshape(2, 2)).pvalue for t in tables]
    np.testing.assert_allclose(ours, ref, rtol=1e-9)
    mid = fisher_exact_2x2(*tables.T, midp=True)
    for t, m in zip(tables, mid, strict=True):
        a, b, c, d = (int(v) for v in t)
        total = a + b + c + d
        if total == 0:
            assert m == 0.5
            continue
        rv = stats.hypergeom(total, a + b, a + c)
        xs = np.arange(max(0, a + b + a + c - total), min(a + b, a + c) + 1)
        ps = rv.pmf(xs)
        po = rv.pmf(a)
        expected = ps[ps < po * (1 - 1e-7)].sum() + 0.5 * ps[np.abs(ps / po - 1) <= 1e-7].sum()
        np.testing.assert_allclose(m, expected, rtol=1e-9)


def test_exact_tests_reject_bad_counts():
    with pytest.raises(InputDataError, match="non-negative integers"):
        hwe_exact(-1, 2, 3)
    with pytest.raises(InputDataError, match="non-negative integers"):
        fisher_exact_2x2(1.5, 2, 3, 4)


def test_allelic_test_matches_chi2_contingency():
    rng = np.random.default_rng(2)
    case = rng.integers(0, 60, size=(200, 4))
    ctrl = rng.integers(0, 60, size=(200, 4))
    res = allelic_test(case, ctrl)
    for i in range(200):
        a1 = [2 * case[i, 0] + case[i, 1], 2 * ctrl[i, 0] + ctrl[i, 1]]
        a2 = [2 * case[i, 2] + case[i, 1], 2 * ctrl[i, 2] + ctrl[i, 1]]
        tab = np.array([a1, a2]).T  # rows: cases, controls
        chi2, p, _, _ = stats.chi2_contingency(tab, correction=False)
        np.testing.assert_allclose(res["CHISQ"][i], chi2, rtol=1e-10)
        np.testing.assert_allclose(res["P"][i], p, rtol=1e-10)
        np.testing.assert_allclose(res["OR"][i], tab[0, 0] * tab[1, 1] / (tab[0, 1] * tab[1, 0]))
        np.testing.assert_allclose(res["F_A"][i], tab[0, 0] / tab[0].sum())
    mono = allelic_test(np.array([[5, 0, 0, 1]]), np.array([[7, 0, 0, 0]]))
    assert np.isnan(mono["CHISQ"][0]) and np.isnan(mono["P"][0]) and np.isnan(mono["OR"][0])
    with pytest.raises(InputDataError, match="shape"):
        allelic_test(np.zeros((3, 3)), np.zeros((3, 3)))


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(3)
    n, m = 300, 25
    G = rng.binomial(2, rng.uniform(0.05, 0.5, m), size=(n, m)).astype(np.float32)
    G[rng.random(G.shape) < 0.04] = np.nan
    C = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)])
    eta = 0.4 * np.nan_to_num(G[:, 0]) + 0.8 * C[:, 0] - 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    q = 0.5 * np.nan_to_num(G[:, 1]) + C @ [1.0, -0.5] + rng.normal(size=n)
    return G, C, y, q


def test_logistic_matches_statsmodels(regression_data):
    G, C, y, _ = regression_data
    for cov in (None, C):
        res = logistic_association(G, y, covariates=cov)
        for j in range(G.shape[1]):
            ok = ~np.isnan(G[:, j])
            X = G[ok, j][:, None] if cov is None else np.column_stack([G[ok, j], cov[ok]])
            fit = sm.Logit(y[ok], sm.add_constant(X)).fit(disp=0, tol=1e-12, maxiter=100)
            np.testing.assert_allclose(res["BETA"][j], fit.params[1], rtol=1e-7)
            np.testing.assert_allclose(res["SE"][j], fit.bse[1], rtol=1e-7)
            np.testing.assert_allclose(res["P"][j], fit.pvalues[1], rtol=1e-6)
            assert res["NMISS"][j] == ok.sum()
    # int8 input gives the same numbers
    G8 = np.where(np.isnan(G), -127, G).astype(np.int8)
    np.testing.assert_allclose(logistic_association(G8, y)["P"], logistic_association(G, y)["P"])


def test_logistic_returns_nan_where_plink_prints_na():
    rng = np.random.default_rng(4)
    y = np.repeat([0.0, 1.0], 50)
    G = rng.integers(0, 3, size=(100, 3)).astype(np.float32)
    G[:, 0] = 1  # monomorphic
    G[:, 1] = np.where(y == 1, 2, 0)  # perfect separation
    res = logistic_association(G, y)
    assert np.isnan(res["P"][0]) and np.isnan(res["P"][1]) and np.isfinite(res["P"][2])
    with pytest.raises(InputDataError, match="0"):
        logistic_association(G, y * 2)
    with pytest.raises(InputDataError, match="missing"):
        logistic_association(G, np.full(100, np.nan))
    with pytest.raises(ConfigError):
        logistic_association(G, y, max_iter=0)


def test_linear_matches_statsmodels(regression_data):
    G, C, _, q = regression_data
    res = linear_association(G, q, covariates=C)
    for j in range(G.shape[1]):
        ok = ~np.isnan(G[:, j])
        fit = sm.OLS(q[ok], sm.add_constant(np.column_stack([G[ok, j], C[ok]]))).fit()
        np.testing.assert_allclose(res["BETA"][j], fit.params[1], rtol=1e-9)
        np.testing.assert_allclose(res["SE"][j], fit.bse[1], rtol=1e-9)
        np.testing.assert_allclose(res["P"][j], fit.pvalues[1], rtol=1e-8)
    with pytest.raises(InputDataError, match="covariates"):
        linear_association(G, q, covariates=np.full((len(q), 1), np.nan))


def test_genomic_control_lambda_known_answer():
    chisq = stats.chi2.ppf([0.1, 0.5, 0.9], 1)
    assert genomic_control_lambda(chisq=chisq) == pytest.approx(1.0)
    assert genomic_control_lambda(chisq=2 * chisq) == pytest.approx(2.0)
    p = stats.chi2.sf(1.5 * chisq, 1)
    assert genomic_control_lambda(p) == pytest.approx(1.5)
    assert np.isnan(genomic_control_lambda([np.nan]))
    with pytest.raises(ConfigError):
        genomic_control_lambda()


def test_config_new_options_and_flags():
    cfg = QCConfig(mind=0.1, geno=0.05, maf=0.01, hwe=1e-6, hwe_all=True, autosomes_only=True,
                   test_missing=1e-4)
    assert cfg.plink_flags() == ("--autosome --mind 0.1 --geno 0.05 --maf 0.01 "
                                 "--hwe 1e-06 midp include-nonctrl")
    assert QCConfig(hwe=1e-3, hwe_midp=False).hwe_flag() == "--hwe 0.001"
    for kwargs in ({"hwe": 0}, {"hwe": 1.5}, {"test_missing": -1}, {"hwe": True},
                   {"hwe_midp": "yes"}, {"autosomes_only": 1}):
        with pytest.raises(ConfigError, match=next(iter(kwargs))):
            QCConfig(**kwargs)


def test_fast_1df_chi2_functions_equal_scipy():
    from genoapp.qc.assoc import chi2_1df_isf, chi2_1df_sf

    x = np.concatenate([np.linspace(0, 50, 501), np.linspace(100, 1400, 50), [np.nan]])
    np.testing.assert_allclose(chi2_1df_sf(x), stats.chi2.sf(x, 1), rtol=1e-12)
    p = np.concatenate([np.linspace(1e-6, 1, 500), 10.0 ** -np.linspace(1, 300, 60)])
    np.testing.assert_allclose(chi2_1df_isf(p), stats.chi2.isf(p, 1), rtol=1e-12)
