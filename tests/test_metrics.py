"""Classification metrics and coupling-coefficient summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genoapp.errors import InputDataError
from genoapp.interpret import mean_coupling_by_label, strongest_case_type
from genoapp.metrics import classification_metrics
from genoapp.models import make_logistic_regression


def test_classification_metrics_hand_computed():
    y_true = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    y_pred = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
    # TP 3, FN 1, FP 2, TN 4
    m = classification_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75))
    assert m["n"] == 10 and m["n_cases"] == 4
    assert math.isnan(m["roc_auc"])
    assert set(m) == {"accuracy", "precision", "recall", "f1", "roc_auc", "n", "n_cases"}


def test_roc_auc_hand_computed():
    # pairs (case, control): (0.35 > 0.1) yes, (0.35 > 0.4) no, (0.8 > both) yes -> 3/4
    m = classification_metrics([0, 0, 1, 1], [0, 1, 0, 1], np.array([0.1, 0.4, 0.35, 0.8]))
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["accuracy"] == pytest.approx(0.5)
    # ties count one half
    m = classification_metrics([0, 1], [0, 1], [0.5, 0.5])
    assert m["roc_auc"] == pytest.approx(0.5)


def test_zero_division_and_one_class():
    m = classification_metrics([1, 0, 1], [0, 0, 0], [0.2, 0.1, 0.3])
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert m["roc_auc"] == pytest.approx(1.0)
    one = classification_metrics([0, 0, 0], [0, 1, 0], [0.1, 0.9, 0.2])
    assert math.isnan(one["roc_auc"]) and one["n_cases"] == 0
    assert one["recall"] == 0.0 and one["precision"] == 0.0


def test_classification_metrics_errors():
    with pytest.raises(InputDataError, match="predictions"):
        classification_metrics([0, 1, 1], [0, 1])
    with pytest.raises(InputDataError, match="0 \\(control\\) or 1"):
        classification_metrics([1, 2], [1, 1])
    with pytest.raises(InputDataError, match="y_score"):
        classification_metrics([0, 1], [0, 1], [0.5])
    with pytest.raises(InputDataError, match="NaN"):
        classification_metrics([0, 1], [0, 1], [0.5, np.nan])
    with pytest.raises(InputDataError, match="no samples"):
        classification_metrics([], [])


def test_metrics_match_logistic_regression_baseline():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    model = make_logistic_regression(random_state=0).fit(X[:150], y[:150])
    assert [name for name, _ in model.steps] == ["scale", "logreg"]
    assert model.named_steps["logreg"].solver == "saga"
    m = classification_metrics(y[150:], model.predict(X[150:]), model.predict_proba(X[150:])[:, 1])
    assert m["accuracy"] == pytest.approx((model.predict(X[150:]) == y[150:]).mean())
    assert m["accuracy"] > 0.8 and m["roc_auc"] > 0.9


# ----------------------------------------------------------------------------- coupling
def test_mean_coupling_by_label_hand_made():
    c = np.zeros((3, 2, 4))
    c[0] = [[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]]  # control
    c[1] = [[0.4, 0.3, 0.2, 0.1], [0.7, 0.1, 0.1, 0.1]]      # case
    c[2] = [[0.3, 0.3, 0.2, 0.2], [0.1, 0.5, 0.2, 0.2]]      # control
    y = np.array([0, 1, 0])
    m = mean_coupling_by_label(c, y)
    np.testing.assert_allclose(m[0], [0.2, 0.25, 0.25, 0.3])  # control row over controls 0, 2
    np.testing.assert_allclose(m[1], [0.7, 0.1, 0.1, 0.1])    # case row over case 1 only
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    assert strongest_case_type(m) == 0
    # a label with no sample gives a NaN row
    m0 = mean_coupling_by_label(c[[0, 2]], np.array([0, 0]))
    assert np.isnan(m0[1]).all() and not np.isnan(m0[0]).any()
    with pytest.raises(InputDataError, match="no case"):
        strongest_case_type(m0)


def test_strongest_case_type_and_errors():
    m = np.full((2, 32), 1 / 32)
    m[1, 4] += 0.05  # the paper's "type 5" is index 4
    assert strongest_case_type(m) == 4
    with pytest.raises(InputDataError, match="shape"):
        strongest_case_type(np.zeros(32))
    with pytest.raises(InputDataError, match="n_samples, 2, n_types"):
        mean_coupling_by_label(np.zeros((3, 32)), [0, 1, 0])
    with pytest.raises(InputDataError, match="labels"):
        mean_coupling_by_label(np.zeros((3, 2, 32)), [0, 1])
    with pytest.raises(InputDataError, match="0 \\(control\\) or 1"):
        mean_coupling_by_label(np.zeros((2, 2, 32)), [0, 2])


def test_uncertainty_of_a_perfect_and_of_a_random_classifier():
    from genoapp.metrics import classification_uncertainty

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100)
    perfect = classification_uncertainty(y, [y + 0.1 * rng.random(200)] * 3, [y] * 3)
    assert perfect["roc_auc_ci_low"] == perfect["roc_auc_ci_high"] == 1.0
    assert perfect["accuracy_ci_low"] == 1.0
    assert perfect["p_auc"] < 1e-10 and perfect["learned"]
    scores = [rng.random(200) for _ in range(3)]
    random = classification_uncertainty(y, scores, [(s > 0.5).astype(int) for s in scores])
    assert random["roc_auc_ci_low"] < 0.5 < random["roc_auc_ci_high"]
    assert random["accuracy_ci_low"] < 0.5 < random["accuracy_ci_high"]
    assert random["p_auc"] > 0.05 and not random["learned"]
    assert "chance" in random["verdict"]
    one = classification_uncertainty(y, scores, [np.ones(200, int)] * 3)
    assert one["one_class"] and not one["learned"]
