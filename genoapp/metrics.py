"""Evaluation metrics (DESIGN §4.3, §4.5).

Classification: the positive class is the case, label 1. Definitions, with TP/FP/TN/FN counted
for label 1 (computed with :mod:`sklearn.metrics`, ``zero_division=0``):

- accuracy = (TP + TN) / n
- precision = TP / (TP + FP) (0 when nothing is predicted a case)
- recall (sensitivity) = TP / (TP + FN) (0 when there is no case)
- F1 = 2 precision recall / (precision + recall) (0 when both are 0)
- ROC AUC from a continuous case score (``roc_auc_score``); NaN without scores or when
  ``y_true`` holds one class only.

Regression (quantitative traits, :func:`regression_metrics`), on observed y and predictions
yhat of the same samples:

- MSE = mean((y - yhat)^2), in the units given (genoapp passes traits standardised with the
  training fold's mean and SD, so MSE 1 = predicting the training mean);
- Pearson r (``scipy.stats.pearsonr``); NaN when either vector is constant;
- dCor: distance correlation of Szekely, Rizzo & Bakirov (2007), the square root of the
  **biased** (V-statistic) estimate of dCor^2, as ``dcor.distance_correlation`` computes it
  (``dcor`` is imported inside the function: importing it takes about 10 s); 0 for
  independence, 1 for a linear relation, and sensitive to non-linear dependence too.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm

from genoapp.errors import InputDataError

__all__ = ["classification_metrics", "regression_metrics"]


def _labels(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise InputDataError(f"{name}: expected a 1-D array, got shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
        raise InputDataError(f"{name}: contains NaN; drop samples without a label.")
    if not np.isin(arr, (0, 1)).all():
        raise InputDataError(
            f"{name}: labels must be 0 (control) or 1 (case); found "
            f"{np.unique(arr)[:5].tolist()}."
        )
    return arr.astype(np.int64)


def classification_metrics(y_true, y_pred, y_score=None) -> dict:
    """Accuracy, precision, recall, F1 and ROC AUC of binary case/control predictions.

    Parameters
    ----------
    y_true : array-like (n,)
        True labels, 0 = control, 1 = case.
    y_pred : array-like (n,)
        Predicted labels, 0/1.
    y_score : array-like (n,), optional
        Continuous case score (probability of a case, or a decision function), for ROC AUC.

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` (float; ``roc_auc`` is NaN
        when ``y_score`` is None or ``y_true`` has a single class), ``n`` and ``n_cases``
        (int). Definitions in the module docstring.

    Raises
    ------
    InputDataError
        Lengths differ, labels other than 0/1, NaN in labels or scores, or no samples.
    """
    yt = _labels(y_true, "y_true")
    yp = _labels(y_pred, "y_pred")
    if yt.shape != yp.shape:
        raise InputDataError(
            f"y_pred: {yp.size} predictions for {yt.size} true labels; pass one per sample."
        )
    if yt.size == 0:
        raise InputDataError("y_true: no samples to evaluate.")
    auc = math.nan
    if y_score is not None:
        ys = np.asarray(y_score, dtype=np.float64)
        if ys.shape != yt.shape:
            raise InputDataError(
                f"y_score: shape {ys.shape} does not match y_true {yt.shape}; pass one case "
                "score per sample (e.g. predict_proba(X)[:, 1])."
            )
        if not np.isfinite(ys).all():
            raise InputDataError("y_score: contains NaN or infinite values.")
        if np.unique(yt).size == 2:
            auc = float(skm.roc_auc_score(yt, ys))
    kw = {"labels": [0, 1], "pos_label": 1, "average": "binary", "zero_division": 0}
    return {
        "accuracy": float(skm.accuracy_score(yt, yp)),
        "precision": float(skm.precision_score(yt, yp, **kw)),
        "recall": float(skm.recall_score(yt, yp, **kw)),
        "f1": float(skm.f1_score(yt, yp, **kw)),
        "roc_auc": auc,
        "n": int(yt.size),
        "n_cases": int(yt.sum()),
    }


def _values(a, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise InputDataError(f"{name}: expected a 1-D array, got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise InputDataError(
            f"{name}: {int((~np.isfinite(arr)).sum())} missing or infinite values; score only "
            "samples with an observed trait value and a prediction."
        )
    return arr


def regression_metrics(y_true, y_pred) -> dict:
    """MSE, Pearson r and distance correlation of quantitative predictions.

    Parameters
    ----------
    y_true : array-like (n,)
        Observed trait values (no NaN: drop samples without a value first).
    y_pred : array-like (n,)
        Predictions for the same samples, same units.

    Returns
    -------
    dict
        ``mse`` (float), ``r`` (Pearson; NaN if a vector is constant or n < 2), ``dcor``
        (distance correlation, biased V-statistic as ``dcor.distance_correlation``; NaN if
        n < 2), ``n`` (int). Definitions in the module docstring.

    Raises
    ------
    InputDataError
        Shapes differ, NaN/infinite values, or no samples.
    """
    yt = _values(y_true, "y_true")
    yp = _values(y_pred, "y_pred")
    if yt.shape != yp.shape:
        raise InputDataError(
            f"y_pred: {yp.size} predictions for {yt.size} observed values; pass one per sample."
        )
    if yt.size == 0:
        raise InputDataError("y_true: no samples to evaluate.")
    mse = float(np.mean((yt - yp) ** 2))
    r = dc = math.nan
    if yt.size >= 2:
        if np.ptp(yt) > 0 and np.ptp(yp) > 0:
            from scipy.stats import pearsonr

            r = float(pearsonr(yt, yp).statistic)
        import dcor

        dc = float(dcor.distance_correlation(yt, yp))
    return {"mse": mse, "r": r, "dcor": dc, "n": int(yt.size)}
