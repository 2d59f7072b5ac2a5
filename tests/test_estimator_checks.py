"""scikit-learn's estimator checks on every model class of genoapp.models.

Each model runs with small, fast settings (few epochs, small networks, few Gibbs iterations,
few trees). A check that cannot apply to a model, or that fails for a known reason, is listed
with that reason in ``EXPECTED_FAILURES`` (run as strict xfail: when it starts to pass, the
entry must go) or, when the outcome depends on the machine, in ``SKIPPED``.

Two test-only adapters feed scikit-learn's generic 2-D data to models whose inputs are not
generic: the PRS models need allele dosages (continuous values are mapped to 0/1/2), the
sequence CNN needs (n, L, 4) sequences (each column becomes a position, its value in the first
channel). Anything that is not a 2-D array of numbers passes through unchanged, so the models'
own validation meets it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from genoapp.models.baselines import (
    make_adaboost,
    make_logistic_regression,
    make_random_forest,
    make_svm,
)
from genoapp.models.bayes import BayesCpiGibbs, BayesianLassoGibbs, BayesianRidgeGibbs
from genoapp.models.capsnet import DiseaseCapsuleClassifier
from genoapp.models.cnn import TorchCNNClassifier
from genoapp.models.grvsnn import GRVSNNRegressor
from genoapp.models.mlp import TorchMLPClassifier
from genoapp.models.prs import AuthorsPRSClassifier, PolygenicRiskScore
from genoapp.models.ridge import RidgeGBLUP
from genoapp.models.seqcnn import SequenceCNNRegressor

try:
    import lassonet  # noqa: F401  (optional dependency)

    from genoapp.models.lassonet_model import LassoNetRegressorCV
except ImportError:  # pragma: no cover - lassonet is optional
    LassoNetRegressorCV = None


# ---------------------------------------------------------------------------- adapters
def _as_dosages(X):
    """Finite real values -> allele dosages 0/1/2 (round |x|, clip); anything else unchanged."""
    try:
        arr = np.asarray(X)
    except Exception:
        return X
    if arr.ndim == 2 and arr.dtype.kind in "fi":
        arr = arr.astype(float)
        return np.where(np.isfinite(arr), np.clip(np.round(np.abs(arr)), 0, 2), arr)
    return X


class DosagePRS(PolygenicRiskScore):
    """PolygenicRiskScore fed with dosages made from scikit-learn's generic data."""

    def fit(self, G, y):
        return super().fit(_as_dosages(G), y)

    def decision_function(self, G):
        return super().decision_function(_as_dosages(G))


class DosageAuthorsPRS(AuthorsPRSClassifier):
    """AuthorsPRSClassifier fed with dosages made from scikit-learn's generic data."""

    def fit(self, G, y):
        return super().fit(_as_dosages(G), y)

    def decision_function(self, G):
        return super().decision_function(_as_dosages(G))


def _as_sequences(X):
    """(n, F) numbers -> (n, F, 4): column j is position j, its value in channel 0."""
    if scipy.sparse.issparse(X):
        return X
    try:
        arr = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X)
    except Exception:
        return X
    if arr.ndim != 2 or arr.dtype.kind not in "biufcO":
        return X
    out = np.zeros(arr.shape + (4,), dtype=arr.dtype)
    out[..., 0] = arr
    return out


class ColumnSequenceCNN(SequenceCNNRegressor):
    """SequenceCNNRegressor fed with scikit-learn's 2-D data as 4-channel sequences."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = False
        return tags

    def fit(self, X, y, **kwargs):
        return super().fit(_as_sequences(X), y, **kwargs)

    def predict(self, X, **kwargs):
        return super().predict(_as_sequences(X), **kwargs)


# ---------------------------------------------------------------------------- the models
_TORCH = dict(device="cpu", random_state=0)

ESTIMATORS = {
    "capsule": DiseaseCapsuleClassifier(n_hidden=16, n_primary_types=4, class_dim=4, epochs=5,
                                        batch_size=32, learning_rate=1e-2, **_TORCH),
    "mlp": TorchMLPClassifier(hidden=(16,), epochs=8, batch_size=32, learning_rate=1e-2,
                              **_TORCH),
    "cnn": TorchCNNClassifier(epochs=2, batch_size=32, learning_rate=1e-2, **_TORCH),
    "grvsnn": GRVSNNRegressor(n_hidden=8, max_epochs=20, batch_size=32, learning_rate=1e-2,
                              **_TORCH),
    "seqcnn": ColumnSequenceCNN(n_filters=4, kernel_size=1, pool_size=1, epochs=20,
                                learning_rate=1e-2, **_TORCH),
    "ridge": RidgeGBLUP(),
    "brr": BayesianRidgeGibbs(n_iter=200, burn_in=50, thin=5),
    "bl": BayesianLassoGibbs(n_iter=200, burn_in=50, thin=5),
    "bayescpi": BayesCpiGibbs(n_iter=200, burn_in=50, thin=5),
    "prs": DosagePRS(),
    "authors_prs": DosageAuthorsPRS(),
    "logreg": make_logistic_regression(),
    "svm": make_svm(),
    "rf": make_random_forest(n_estimators=5),
    "adaboost": make_adaboost(n_estimators=5),
}
if LassoNetRegressorCV is not None:
    ESTIMATORS["lassonet"] = LassoNetRegressorCV(
        hidden_dims=(4,), cv=2, path_multiplier=4.0, lambda_start=0.05, n_iters=(30, 5),
        patience=(5, 2), lr=1e-2, device="cpu")

# --- why a check fails, per model -------------------------------------------------------------
_FLOAT32_BATCHES = ("float32 network: matrix products over batches of different sizes may differ "
                    "in the last bits (~1e-7 relative, BLAS kernel choice), so predictions on a "
                    "subset can differ from those on the full set at rtol 1e-7")
_CAPSULE_LABELS = ("DiseaseCapsule's labels are 0 = control, 1 = case by design (other labels are "
                   "rejected with a message); the check fits labels {1, 2} or strings")

# Gibbs samplers, RidgeGBLUP and LassoNet share genoapp.models.bayes._validate_xy: its input
# checks reject these inputs with genoapp's own messages, which scikit-learn does not recognise,
# and it accepts complex inputs (a bug, reported, not fixed here).
_XY_VALIDATION = {
    "check_n_features_in_after_fitting": "predict rejects a wrong width, but with genoapp's "
                                         "message ('expected shape (n, P) as in fit'), not 'X has "
                                         "k features, but ... is expecting P'",
    "check_complex_data": "BUG (bayes._validate_xy): complex X is accepted and its imaginary "
                          "part silently dropped",
    "check_dtype_object": "object arrays holding numbers are rejected ('expected numbers, got "
                          "dtype object') instead of converted",
    "check_estimators_empty_data_messages": "X with 0 columns is rejected with genoapp's message "
                                            "('need at least 3 samples and 1 input')",
    "check_estimators_nan_inf": "NaN/inf are rejected, but the message says 'missing or "
                                "non-finite values', not 'NaN' or 'inf'",
    "check_estimator_sparse_tag": "sparse X is rejected as 'not a 2-D array' without naming "
                                  "sparse input",
    "check_estimator_sparse_array": "sparse X is rejected without naming sparse input",
    "check_estimator_sparse_matrix": "sparse X is rejected without naming sparse input",
    "check_supervised_y_2d": "a (n, 1) y is used as 1-D silently, without scikit-learn's "
                             "DataConversionWarning",
    "check_fit2d_1sample": "needs at least 3 samples; the message does not say '1 sample'",
    "check_fit2d_predict1d": "1-D X is rejected with genoapp's message, not 'Reshape your data'",
    "check_requires_y_none": "y=None is rejected with genoapp's message, not scikit-learn's",
}
_PIPELINE = {
    "check_estimators_overwrite_params": "a scikit-learn Pipeline fits its steps in place, so its "
                                         "'steps' parameter holds fitted estimators afterwards "
                                         "(scikit-learn's own design)",
    "check_dont_overwrite_parameters": "a scikit-learn Pipeline fits its steps in place "
                                       "(scikit-learn's own design)",
}

EXPECTED_FAILURES: dict[str, dict[str, str]] = {
    "capsule": {
        "check_estimators_dtypes": _CAPSULE_LABELS,
        "check_classifier_data_not_an_array": _CAPSULE_LABELS,
        "check_classifiers_classes": _CAPSULE_LABELS,
        "check_fit2d_1feature": _CAPSULE_LABELS,
    },
    "cnn": {
        "check_classifiers_train": "the CNN sees only the first floor(sqrt(F))**2 features (its "
                                   "square image): with the check's 2 features it sees one, which "
                                   "cannot reach the check's training accuracy of 0.83",
    },
    "seqcnn": {
        "check_estimators_empty_data_messages": "the sequence model reports empty input with its "
                                                "(n, L, 4) shape, which the check's 2-D message "
                                                "pattern does not match",
    },
    "ridge": _XY_VALIDATION,
    "brr": _XY_VALIDATION,
    "bl": _XY_VALIDATION,
    "bayescpi": _XY_VALIDATION,
    "lassonet": _XY_VALIDATION,
    "logreg": _PIPELINE,
    "svm": _PIPELINE,
    "rf": {
        "check_sample_weight_equivalence_on_dense_data": "random forests draw bootstrap samples, "
                                                         "so weights are not equivalent to "
                                                         "repeated rows (a known scikit-learn "
                                                         "exception)",
        "check_sample_weight_equivalence_on_sparse_data": "as on dense data: bootstrap samples",
    },
}

SKIPPED: dict[str, dict[str, str]] = {
    key: {"check_methods_subset_invariance": _FLOAT32_BATCHES}
    for key in ("capsule", "mlp", "cnn", "grvsnn", "seqcnn")
}

_KEY = {id(est): key for key, est in ESTIMATORS.items()}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(_KEY.get(id(estimator)), {})


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one torch thread avoids contention on a loaded 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # e.g. non-writable memmaps
        yield
    torch.set_num_threads(n)


@parametrize_with_checks(list(ESTIMATORS.values()), expected_failed_checks=_expected_failed_checks,
                         xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator, check):
    name = getattr(check, "func", check).__name__
    reason = SKIPPED.get(_KEY.get(id(estimator)), {}).get(name)
    if reason:
        pytest.skip(reason)
    check(estimator)


def test_every_model_class_is_checked():
    """Each estimator class defined in genoapp.models (and each factory) appears above."""
    import genoapp.models.baselines as baselines
    from genoapp.models._torch import registered_formats
    from genoapp.models.files import model_formats

    model_formats()  # imports every torch model module
    checked = {type(e).__name__ for e in ESTIMATORS.values()}
    checked |= {c.__name__ for e in ESTIMATORS.values() for c in type(e).__mro__}
    torch_classes = {cls.__name__ for cls in registered_formats().values()}
    others = {"RidgeGBLUP", "BayesianRidgeGibbs", "BayesianLassoGibbs", "BayesCpiGibbs",
              "PolygenicRiskScore", "AuthorsPRSClassifier"}
    if LassoNetRegressorCV is not None:
        others.add("LassoNetRegressorCV")
    assert torch_classes | others <= checked
    factories = {n for n in baselines.__all__ if n.startswith("make_")}
    assert factories == {"make_logistic_regression", "make_svm", "make_random_forest",
                         "make_adaboost"}
    assert set(EXPECTED_FAILURES) <= set(ESTIMATORS) and set(SKIPPED) <= set(ESTIMATORS)
