"""RidgeGBLUP: penalty by leave-one-out / K-fold CV, and the ridge = GBLUP identity."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from genoapp.errors import ConfigError, InputDataError
from genoapp.models.ridge import RidgeGBLUP


def _data(n=120, p=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(float)
    b = rng.normal(0, 0.1, p)
    y = 5 + X @ b + rng.normal(0, 1.0, n)
    return X, y


def test_alpha_is_sklearn_loo_choice_on_the_h2_grid():
    X, y = _data()
    m = RidgeGBLUP().fit(X[:100], y[:100])
    s = X[:100].var(axis=0).sum()
    h2 = 1 / (1 + np.logspace(-3, 3, 41))
    ref = RidgeCV(alphas=np.sort(s * (1 - h2) / h2)).fit(X[:100], y[:100])
    assert m.alpha_ == pytest.approx(ref.alpha_)
    assert m.h2_ == pytest.approx(s / (s + ref.alpha_))
    np.testing.assert_allclose(m.predict(X[100:]), ref.predict(X[100:]), rtol=1e-10)
    assert m.selected_ is None and m.cv_scores_.shape == (41,)
    assert m.cv_scores_.argmin() == np.searchsorted(m.alphas_, m.alpha_)


def test_predictions_equal_gblup_with_the_same_variance_ratio():
    """Ridge on centred markers = BLUP with K = Xc Xc' and lambda = alpha (hand formula)."""
    X, y = _data(seed=1)
    tr, te = slice(0, 90), slice(90, None)
    m = RidgeGBLUP().fit(X[tr], y[tr])
    mean = X[tr].mean(axis=0)
    Xc, Xt = X[tr] - mean, X[te] - mean
    K = Xc @ Xc.T
    u = np.linalg.solve(K + m.alpha_ * np.eye(90), y[tr] - y[tr].mean())
    gblup = y[tr].mean() + Xt @ Xc.T @ u
    np.testing.assert_allclose(m.predict(X[te]), gblup, rtol=1e-8, atol=1e-8)


def test_kfold_cv_is_seeded_and_errors_are_actionable():
    X, y = _data(seed=2)
    a = RidgeGBLUP(cv=5, random_state=3).fit(X, y)
    b = RidgeGBLUP(cv=5, random_state=3).fit(X, y)
    assert a.alpha_ == b.alpha_ and a.cv_scores_ is None
    assert 0 < a.h2_ < 1
    with pytest.raises(ConfigError, match="h2_grid"):
        RidgeGBLUP(h2_grid=[0.5, 1.0]).fit(X, y)
    with pytest.raises(ConfigError, match="cv"):
        RidgeGBLUP(cv=1).fit(X, y)
    y_nan = y.copy()
    y_nan[0] = np.nan
    with pytest.raises(InputDataError, match="missing"):
        RidgeGBLUP().fit(X, y_nan)
    with pytest.raises(InputDataError, match="shape"):
        a.predict(X[:, :10])


def test_leave_one_out_path_matches_scikit_learn():
    """ridge_leave_one_out: same alpha and effects as RidgeGBLUP (scikit-learn's RidgeCV), and
    residuals equal to refitting without each row (scikit-learn's LeaveOneOut), n < P and
    n > P; traits with missing values use their observed rows."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    from genoapp.models.ridge import ridge_leave_one_out

    rng = np.random.default_rng(4)
    for n, p in ((70, 200), (150, 30)):
        X = rng.normal(size=(n, p))
        Y = np.c_[X[:, :4] @ rng.normal(size=4) + rng.normal(size=n),
                  X[:, 4:6] @ rng.normal(size=2) + rng.normal(size=n)]
        Y[rng.random(n) < 0.2, 1] = np.nan
        fit = ridge_leave_one_out(X, Y, n_permutations=3)
        for t in range(2):
            ok = np.isfinite(Y[:, t])
            ref = RidgeGBLUP().fit(X[ok], Y[ok, t])
            assert fit.alpha[t] == pytest.approx(ref.alpha_)
            np.testing.assert_allclose(fit.coef[:, t], ref.coef_, atol=1e-10)
            np.testing.assert_allclose(fit.predict(X)[:, t], ref.predict(X), atol=1e-10)
            loo = Y[ok, t] - cross_val_predict(Ridge(alpha=fit.alpha[t]), X[ok], Y[ok, t],
                                               cv=LeaveOneOut())
            np.testing.assert_allclose(fit.loo_residuals[ok, t], loo, atol=1e-8)
            assert np.isnan(fit.loo_residuals[~ok, t]).all()
        assert fit.null_coef.shape == (3, p, 2)
        # a permutation breaks the association: null effects are smaller than the real ones
        assert np.abs(fit.null_coef[:, :4, 0]).mean() < np.abs(fit.coef[:4, 0]).mean()
