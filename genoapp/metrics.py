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

How sure (:func:`classification_uncertainty`): a 95 % percentile-bootstrap interval over the test
samples (the same resampled samples for every seed of a model, so the interval is that of the
mean over seeds), a one-sided Mann-Whitney test of the ROC AUC against 0.5 on the seed-averaged
case score (``scipy.stats.mannwhitneyu``; AUC = U / (n_cases n_controls)) and a one-sided
binomial test of the majority-vote accuracy against the balanced test set's 0.5
(``scipy.stats.binomtest``). Quantitative scores over outer folds get a t interval of the mean
(:func:`fold_interval`).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm

from genoapp.errors import InputDataError

__all__ = ["classification_metrics", "classification_uncertainty", "fold_interval",
           "regression_metrics"]


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


_BOOT_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def classification_uncertainty(y_true, scores, predictions, *, n_boot: int = 2000,
                               level: float = 0.95, random_state: int = 0) -> dict:
    """How sure are the test metrics of one model (several seeds on the same test samples)?

    Parameters
    ----------
    y_true : array-like (n,)
        Test labels, 0 = control, 1 = case.
    scores : sequence of array-like (n,)
        Case scores of the model, one array per seed (same sample order).
    predictions : sequence of array-like (n,)
        0/1 predictions, one array per seed.
    n_boot : int, default 2000
        Bootstrap replicates (samples drawn with replacement, stratified by class so every
        replicate has cases and controls).
    level : float, default 0.95
    random_state : int, default 0

    Returns
    -------
    dict
        For each of accuracy, precision, recall, f1, roc_auc: ``<m>_ci_low``, ``<m>_ci_high``
        (percentile interval of the mean over seeds); ``p_auc`` (one-sided Mann-Whitney p of
        AUC > 0.5 on the seed-averaged score), ``p_accuracy`` (one-sided binomial p of the
        majority-vote accuracy > 0.5), ``one_class`` (True when some seed predicted a single
        class for every test sample), ``learned`` (True when the AUC interval lies above 0.5
        and ``p_auc`` < 0.05 and no seed predicted one class), ``verdict`` (plain words).

    Raises
    ------
    InputDataError
        Bad labels or lengths.
    """
    from scipy.stats import binomtest, mannwhitneyu

    y = _labels(y_true, "y_true")
    S = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    P = np.atleast_2d(np.asarray(predictions)).astype(np.int64)
    if S.shape[1] != y.size or P.shape != S.shape:
        raise InputDataError(f"scores/predictions: {S.shape} and {P.shape} for {y.size} labels.")
    rng = np.random.default_rng(random_state)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    out: dict = {}
    boots = {m: np.full(n_boot, np.nan) for m in _BOOT_METRICS}
    if pos.size and neg.size:
        from scipy.stats import rankdata

        # replicate b draws cases then controls with replacement (positives first in each row)
        idx = np.empty((n_boot, y.size), dtype=np.int64)
        for b in range(n_boot):
            idx[b, :pos.size] = rng.choice(pos, pos.size)
            idx[b, pos.size:] = rng.choice(neg, neg.size)
        yb = y[idx] == 1  # (n_boot, n)
        n1, n0 = pos.size, neg.size
        per_seed = {m: [] for m in _BOOT_METRICS}
        for sc, pr in zip(S, P, strict=True):  # vectorised over the replicates
            pb = pr[idx] == 1
            tp = (pb & yb).sum(axis=1)
            fp = (pb & ~yb).sum(axis=1)
            fn = (~pb & yb).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                prec = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
                rec = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
                f1 = np.where(prec + rec > 0, 2 * prec * rec / np.where(prec + rec > 0, prec + rec, 1.0), 0.0)
            ranks = rankdata(sc[idx], axis=1)  # ties averaged, as roc_auc_score
            per_seed["accuracy"].append((pb == yb).mean(axis=1))
            per_seed["precision"].append(prec)
            per_seed["recall"].append(rec)
            per_seed["f1"].append(f1)
            per_seed["roc_auc"].append((ranks[:, :n1].sum(axis=1) - n1 * (n1 + 1) / 2.0) / (n1 * n0))
        for m in _BOOT_METRICS:
            boots[m] = np.mean(per_seed[m], axis=0)
    alpha = (1.0 - level) / 2.0
    for m in _BOOT_METRICS:
        v = boots[m][np.isfinite(boots[m])]
        out[f"{m}_ci_low"] = float(np.quantile(v, alpha)) if v.size else math.nan
        out[f"{m}_ci_high"] = float(np.quantile(v, 1 - alpha)) if v.size else math.nan
    mean_score = S.mean(axis=0)
    if pos.size and neg.size:
        out["p_auc"] = float(mannwhitneyu(mean_score[pos], mean_score[neg],
                                          alternative="greater").pvalue)
    else:
        out["p_auc"] = math.nan
    vote = (P.mean(axis=0) > 0.5).astype(np.int64)
    out["p_accuracy"] = float(binomtest(int((vote == y).sum()), y.size, 0.5,
                                        alternative="greater").pvalue)
    one_class = bool(any(np.unique(p).size < 2 for p in P))
    out["one_class"] = one_class
    learned = (not one_class and np.isfinite(out["roc_auc_ci_low"])
               and out["roc_auc_ci_low"] > 0.5 and out["p_auc"] < 0.05)
    out["learned"] = bool(learned)
    if one_class:
        out["verdict"] = "predicts one class for every test sample: it did not learn"
    elif learned:
        out["verdict"] = "better than chance"
    else:
        out["verdict"] = ("not distinguishable from chance (the ROC AUC interval includes 0.5)")
    return out


def fold_interval(values, *, level: float = 0.95) -> tuple[float, float]:
    """t interval of the mean of per-fold scores (``scipy.stats.t``); NaN with fewer than 2.

    Folds of repeated cross-validation share training samples, so the interval is a guide to
    the spread, not an exact confidence interval.
    """
    from scipy.stats import t as t_dist

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return math.nan, math.nan
    half = float(t_dist.ppf(0.5 + level / 2.0, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return float(v.mean() - half), float(v.mean() + half)
