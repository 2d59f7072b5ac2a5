"""LassoNetRegressorCV wrapper: feature selection on a simulated sparse problem, seeding, errors."""

from __future__ import annotations

import numpy as np
import pytest

from genoapp.errors import ConfigError, InputDataError
from genoapp.models.lassonet_model import LassoNetRegressorCV

FAST = dict(hidden_dims=(8,), cv=3, path_multiplier=1.2, lambda_start=0.1, n_iters=(200, 30),
            patience=(20, 5), device="cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread_module")


@pytest.fixture(scope="module")
def sparse_problem():
    """40 inputs, 3 of which matter; units far from 1 (the wrapper standardises)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 40)) * 3.0 + 10.0
    Z = (X - 10.0) / 3.0
    y = 100.0 + 20.0 * (2.0 * Z[:, 0] - 1.5 * Z[:, 1] + 1.0 * Z[:, 2]
                        + 0.7 * rng.standard_normal(240))
    return X, y


@pytest.fixture(scope="module")
def fitted(sparse_problem):
    X, y = sparse_problem
    return LassoNetRegressorCV(**FAST, random_state=0).fit(X[:180], y[:180])


def test_selects_the_true_features_and_predicts(sparse_problem, fitted):
    X, y = sparse_problem
    m = fitted
    assert m.selected_.dtype == bool and m.selected_.shape == (40,)
    assert m.selected_[:3].all()
    assert m.selected_.sum() <= 20
    # the true inputs are the last to leave the lambda path
    assert set(np.argsort(-m.feature_importances_)[:3]) == {0, 1, 2}
    pred = m.predict(X[180:])
    assert pred.shape == (60,)
    assert np.corrcoef(pred, y[180:])[0, 1] > 0.9
    assert abs(pred.mean() - y[180:].mean()) < 10  # back on the scale of y
    assert np.all(m.coef_[~m.selected_] == 0)
    assert np.all(m.coef_[:3] != 0)
    assert m.device_ == "cpu" and m.best_lambda_ > 0
    assert m.cv_scores_.shape == (len(m.cv_lambdas_), 3)


def test_reproducible_with_random_state(sparse_problem):
    X, y = sparse_problem
    tiny = dict(FAST, path_multiplier=2.0, n_iters=(20, 5), patience=(5, 2))
    a = LassoNetRegressorCV(**tiny, random_state=0).fit(X[:100, :10], y[:100])
    b = LassoNetRegressorCV(**tiny, random_state=0).fit(X[:100, :10], y[:100])
    np.testing.assert_array_equal(a.selected_, b.selected_)
    np.testing.assert_allclose(a.predict(X[100:, :10]), b.predict(X[100:, :10]), rtol=1e-5)


def test_errors_are_actionable(sparse_problem, fitted):
    X, y = sparse_problem
    with pytest.raises(ConfigError, match="cv"):
        LassoNetRegressorCV(cv=1).fit(X, y)
    with pytest.raises(ConfigError, match="path_multiplier"):
        LassoNetRegressorCV(path_multiplier=1.0).fit(X, y)
    with pytest.raises(ConfigError, match="lambda_start"):
        LassoNetRegressorCV(lambda_start=-1).fit(X, y)
    with pytest.raises(ConfigError, match="hidden_dims"):
        LassoNetRegressorCV(hidden_dims=()).fit(X, y)
    y_nan = y.copy()
    y_nan[1] = np.nan
    with pytest.raises(InputDataError, match="missing"):
        LassoNetRegressorCV(**FAST).fit(X, y_nan)
    with pytest.raises(InputDataError, match="shape"):
        fitted.predict(X[:, :5])


def test_app_preset_is_a_valid_configuration_that_selects_the_true_features(sparse_problem):
    """The quantitative page's quick LassoNet preset (model_params('quick', 'lassonet')) runs the
    package's own lambda search and still finds the three true inputs; the paper preset is the
    package's defaults."""
    from genoapp.workflows.presets import model_params

    assert model_params("paper", "lassonet") == {}
    X, y = sparse_problem
    m = LassoNetRegressorCV(**model_params("quick", "lassonet"), device="cpu", random_state=0)
    assert m.get_params()["cv"] == 3 and m.get_params()["path_multiplier"] == 1.5
    m.fit(X[:180], y[:180])
    # the coarse lambda grid stops at a less sparse model than FAST's, but the true inputs are
    # selected and are the last to leave the path
    assert m.selected_[:3].all() and m.selected_.sum() <= 30
    assert set(np.argsort(-m.feature_importances_, kind="stable")[:3]) == {0, 1, 2}
    assert m.cv_scores_.shape[1] == 3
    assert np.corrcoef(m.predict(X[180:]), y[180:])[0, 1] > 0.9
