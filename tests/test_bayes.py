"""Gibbs samplers (BGLR's BRR, BL, BayesCπ): kernels, known effects, selection, defaults, mice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge

from genoapp.errors import ConfigError, InputDataError
from genoapp.models.bayes import (
    BayesCpiGibbs,
    BayesianLassoGibbs,
    BayesianRidgeGibbs,
    _sweep_bayesc,
    _sweep_gaussian,
)
from genoapp.models.callbacks import Callback, History

MODELS = [BayesianRidgeGibbs, BayesianLassoGibbs, BayesCpiGibbs]


def _sim(n=400, p=80, seed=1, noise=0.7):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[np.array([3, 17, 29, 44, 71]) * p // 80] = [1.0, -1.0, 0.8, -0.6, 0.5]
    y = 2.0 + X @ beta + noise * rng.standard_normal(n)
    return X, y, beta


# --- compiled kernels: known answers ---------------------------------------------------------
def test_gaussian_sweep_without_noise_is_gauss_seidel_for_ridge():
    """With z = 0 and fixed variances, repeated sweeps solve (X'X + varE/varB I) b = X'y."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 12)).astype(np.float32)
    y = rng.standard_normal(60)
    xt = np.ascontiguousarray(X.T)
    x2 = (xt.astype(np.float64) ** 2).sum(axis=1)
    b, e = np.zeros(12), y.copy()
    var_b, var_e = 0.3, 1.2
    for _ in range(300):
        ssb = _sweep_gaussian(xt, x2, b, e, np.full(12, var_b), var_e, np.zeros(12), 0.0)
    assert ssb == pytest.approx(np.sum(b ** 2), rel=1e-12)
    ref = Ridge(alpha=var_e / var_b, fit_intercept=False).fit(X.astype(np.float64), y).coef_
    np.testing.assert_allclose(b, ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(e, y - X.astype(np.float64) @ b, atol=1e-9)


def test_bayesc_sweep_keeps_the_residual_consistent_and_matches_gaussian_when_all_in():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 30)).astype(np.float32)
    y = rng.standard_normal(50)
    xt = np.ascontiguousarray(X.T)
    x2 = (xt.astype(np.float64) ** 2).sum(axis=1)
    Xd = X.astype(np.float64)
    # random inclusion: e must always equal y - X (b * d)
    b, d, e = np.zeros(30), (rng.random(30) < 0.5).astype(np.int8), y.copy()
    for _ in range(20):
        n_in, ssb = _sweep_bayesc(xt, x2, b, d, e, 0.2, 1.0, 0.0, rng.standard_normal(30),
                                  rng.random(30))
        assert n_in == d.sum()
        assert ssb == pytest.approx(np.sum(b ** 2), rel=1e-12)
        np.testing.assert_allclose(e, y - Xd @ (b * d), atol=1e-9)
    # u = 0 keeps every marker in: identical to the Gaussian sweep with the same normals
    b1, d1, e1 = np.zeros(30), np.ones(30, np.int8), y.copy()
    b2, e2 = np.zeros(30), y.copy()
    for _ in range(5):
        z = rng.standard_normal(30)
        _sweep_bayesc(xt, x2, b1, d1, e1, 0.2, 1.0, 0.0, z, np.zeros(30))
        _sweep_gaussian(xt, x2, b2, e2, np.full(30, 0.2), 1.0, z, 0.0)
    np.testing.assert_allclose(b1, b2, atol=1e-12)
    np.testing.assert_allclose(e1, e2, atol=1e-12)


# --- BGLR defaults -----------------------------------------------------------------------------
def test_defaults_and_prior_scales_follow_bglr():
    X, y, _ = _sim(n=120, p=30)
    var_y = np.var(y, ddof=1)
    ms_x = (X ** 2).sum() / len(y) - (X.mean(axis=0) ** 2).sum()
    for cls in MODELS:
        m = cls()
        assert (m.n_iter, m.burn_in, m.thin, m.r2, m.df0, m.df0_residual) == \
            (6000, 2000, 5, 0.5, 5.0, 5.0)
    common = dict(n_iter=20, burn_in=10, thin=5)
    brr = BayesianRidgeGibbs(**common).fit(X, y)
    assert brr.prior_["ms_x"] == pytest.approx(ms_x, rel=1e-6)
    assert brr.prior_["s0"] == pytest.approx(var_y * 0.5 / ms_x * 7, rel=1e-6)
    assert brr.prior_["s0_residual"] == pytest.approx(var_y * 0.5 * 7, rel=1e-9)
    bl = BayesianLassoGibbs(**common).fit(X, y)
    lambda2 = 2 * 0.5 / 0.5 * ms_x
    assert bl.prior_["lambda_init"] == pytest.approx(np.sqrt(lambda2), rel=1e-6)
    assert bl.prior_["rate"] == pytest.approx(0.1 / lambda2, rel=1e-6)
    assert bl.prior_["shape"] == 1.1
    assert bl.prior_["tau2_init"] == pytest.approx(var_y * 0.5 / ms_x, rel=1e-6)
    bc = BayesCpiGibbs(**common).fit(X, y)
    assert bc.prior_["s0"] == pytest.approx(var_y * 0.5 / ms_x * 7 / 0.5, rel=1e-6)
    assert (bc.prior_["prob_in"], bc.prior_["counts"]) == (0.5, 10.0)
    assert bc.n_samples_ == 2 and bc.trace_["prob_in"].shape == (2,)


# --- known effects, selection, reproducibility ----------------------------------------------
@pytest.mark.parametrize("cls", MODELS)
def test_recovers_known_effects_and_selects_them(cls):
    X, y, beta = _sim()
    m = cls(n_iter=1500, burn_in=500, random_state=3).fit(X[:300], y[:300])
    causal = beta != 0
    assert np.corrcoef(m.coef_, beta)[0, 1] > 0.95
    np.testing.assert_allclose(m.coef_[causal], beta[causal], atol=0.2)
    assert m.intercept_ == pytest.approx(2.0, abs=0.15)
    assert m.var_e_ == pytest.approx(0.49, rel=0.3)
    # selection = 95 % credible interval excludes zero
    assert m.selected_.dtype == bool and m.selected_.shape == (80,)
    assert m.selected_[causal].all()
    assert m.selected_[~causal].sum() <= 10  # about 5 % of 75 nulls expected (BRR), fewer else
    lo, hi = m.coef_ci_.T
    np.testing.assert_array_equal(m.selected_, (lo > 0) | (hi < 0))
    assert np.all(lo <= hi)
    assert m.n_samples_ == 200 and m.n_iter_ == 1500 and not m.stopped_early_
    r = np.corrcoef(m.predict(X[300:]), y[300:])[0, 1]
    assert r > 0.85


def test_bayesc_inclusion_probabilities_and_pi():
    X, y, beta = _sim()
    m = BayesCpiGibbs(n_iter=1500, burn_in=500, random_state=4).fit(X, y)
    causal = beta != 0
    assert m.inclusion_prob_[causal].min() > 0.95
    assert m.inclusion_prob_[~causal].mean() < 0.3
    assert 0 < m.prob_in_ < 0.4  # 5 of 80 markers matter
    # exactly-zero effects while out of the model: null intervals contain zero
    assert np.all(m.coef_ci_[~m.selected_, 0] <= 0) and np.all(m.coef_ci_[~m.selected_, 1] >= 0)


def test_bayesian_lasso_shrinks_nulls_more_than_ridge():
    X, y, beta = _sim(n=200, p=150, seed=5)
    kw = dict(n_iter=1500, burn_in=500, random_state=5)
    brr = BayesianRidgeGibbs(**kw).fit(X, y)
    bl = BayesianLassoGibbs(**kw).fit(X, y)
    nulls = beta == 0
    assert np.abs(bl.coef_[nulls]).mean() < np.abs(brr.coef_[nulls]).mean()
    assert bl.lambda_ > 0 and bl.tau2_last_.shape == (150,)


@pytest.mark.parametrize("cls", MODELS)
def test_reproducible_with_random_state(cls):
    X, y, _ = _sim(n=100, p=20)
    kw = dict(n_iter=200, burn_in=100)
    a = cls(**kw, random_state=7).fit(X, y)
    b = cls(**kw, random_state=7).fit(X, y)
    c = cls(**kw, random_state=8).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.coef_ci_, b.coef_ci_)
    assert a.intercept_ == b.intercept_
    assert not np.array_equal(a.coef_, c.coef_)
    # sklearn protocol: clone keeps the parameters, fit does not mutate the inputs
    X0, y0 = X.copy(), y.copy()
    d = clone(a).fit(X, y)
    np.testing.assert_array_equal(d.coef_, a.coef_)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert np.isfinite(d.score(X, y))


# --- errors, callbacks -------------------------------------------------------------------------
def test_input_and_parameter_errors():
    X, y, _ = _sim(n=50, p=10)
    y_nan = y.copy()
    y_nan[3] = np.nan
    with pytest.raises(InputDataError, match="y: 1 missing"):
        BayesianRidgeGibbs(n_iter=20, burn_in=10).fit(X, y_nan)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(InputDataError, match="Impute"):
        BayesianRidgeGibbs(n_iter=20, burn_in=10).fit(X_nan, y)
    with pytest.raises(InputDataError, match="rows"):
        BayesianRidgeGibbs(n_iter=20, burn_in=10).fit(X, y[:-1])
    with pytest.raises(InputDataError, match="constant"):
        BayesianRidgeGibbs(n_iter=20, burn_in=10).fit(X, np.ones(50))
    with pytest.raises(ConfigError, match="no sample"):
        BayesianRidgeGibbs(n_iter=100, burn_in=100).fit(X, y)
    with pytest.raises(ConfigError, match="r2"):
        BayesianLassoGibbs(r2=1.0).fit(X, y)
    with pytest.raises(ConfigError, match="prob_in"):
        BayesCpiGibbs(prob_in=0.0).fit(X, y)
    m = BayesianRidgeGibbs(n_iter=20, burn_in=10).fit(X, y)
    with pytest.raises(InputDataError, match="shape"):
        m.predict(X[:, :5])


class _StopAt(Callback):
    def __init__(self, at):
        self.at, self.calls = at, 0

    def on_epoch_end(self, epoch, logs):
        self.calls = epoch

    def should_stop(self):
        return self.calls >= self.at


def test_callbacks_report_progress_and_stop_the_chain():
    X, y, _ = _sim(n=80, p=15)
    hist = History()
    m = BayesCpiGibbs(n_iter=500, burn_in=100, report_every=50)
    m.fit(X, y, callbacks=[hist, _StopAt(300)])
    assert m.stopped_early_ and m.n_iter_ == 300
    assert m.n_samples_ == 40  # iterations 105, 110, ..., 300
    assert [h["epoch"] for h in hist.history] == [50, 100, 150, 200, 250, 300]
    assert {"mu", "var_e", "var_b", "prob_in", "seconds"} <= set(hist.history[0])
    assert hist.info["n_epochs"] == 500 and hist.end_logs["stopped_early"]
    # stopped during the burn-in: the current state is summarised, n_samples_ = 0
    m2 = BayesianRidgeGibbs(n_iter=500, burn_in=400, report_every=50)
    m2.fit(X, y, callbacks=[_StopAt(100)])
    assert m2.n_samples_ == 0 and m2.stopped_early_ and np.all(np.isfinite(m2.predict(X)))


# --- real data: a short chain on one mice fold ---------------------------------------------------
@pytest.mark.parametrize("cls", MODELS)
def test_mice_fold_short_chain_r_in_bglr_range(shared_data, cls):
    """300 iterations on fold 1 of the reference CV: test r near BGLR's 0.353-0.357."""
    from genoapp.io import open_plink, read_phenotypes

    with open_plink(shared_data / "bglr_mice" / "mice") as g:
        X = g.read()
        fam = g.samples[["FID", "IID"]]
    X = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    pheno = fam.merge(read_phenotypes(shared_data / "bglr_mice" / "mice.pheno.tsv"),
                      on=["FID", "IID"], how="left")
    folds = pd.read_csv(shared_data.parent / "reference" / "mice.cv5_seed1.tsv", sep="\t",
                        dtype={"FID": str, "IID": str})
    fold = fam.merge(folds, on=["FID", "IID"], how="left")["fold"].to_numpy()
    y = pheno["Obesity.BodyLength"].to_numpy(float)
    y = (y - y.mean()) / y.std(ddof=1)
    train, test = fold != 1, fold == 1
    m = cls(n_iter=300, burn_in=100, random_state=1).fit(X[train], y[train])
    r = np.corrcoef(m.predict(X[test]), y[test])[0, 1]
    assert 0.30 < r < 0.41, r


def test_kept_iterations_follow_bglr_thinning_rule():
    """Iteration i (1-based) is kept when i > burn_in and i % thin == 0 (BGLR)."""
    X, y, _ = _sim(n=60, p=8)
    m = BayesianRidgeGibbs(n_iter=23, burn_in=3, thin=5).fit(X, y)
    assert m.n_samples_ == 4  # iterations 5, 10, 15, 20
    assert m.trace_["var_e"].shape == (4,)
