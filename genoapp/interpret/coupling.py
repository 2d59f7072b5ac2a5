"""Summaries of DiseaseCapsule coupling coefficients (DESIGN §4.4).

``c_kj`` (n, 2, K) comes from :meth:`genoapp.models.DiseaseCapsuleClassifier.
coupling_coefficients`: per sample, the routing coefficients summed over the positions of each
primary capsule type k, for class j (0 = control, 1 = case). The paper's heatmaps (Fig. 3) show
their mean over samples whose true label is j; its gene scan uses the type k* with the
strongest case coupling (paper: type 5, i.e. k = 4 zero-based).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from genoapp.errors import InputDataError

__all__ = ["CouplingSummary", "coupling_summary", "mean_coupling_by_label", "strongest_case_type"]


def mean_coupling_by_label(c_kj, y) -> np.ndarray:
    """Mean coupling of each class capsule over the samples of that true class.

    Parameters
    ----------
    c_kj : array-like (n, 2, K)
        Per-sample coupling summed per primary type (K = 32 by default).
    y : array-like (n,)
        True labels, 0 = control, 1 = case.

    Returns
    -------
    ndarray (2, K) float64
        Row j = mean over samples with true label j of ``c_kj[:, j, :]``: row 0 is the control
        capsule over controls, row 1 the case capsule over cases. A row is all NaN when no
        sample has that label. With input-axis routing each row sums to 1 (baseline 1/K).

    Raises
    ------
    InputDataError
        Shapes disagree or labels are not 0/1.
    """
    c = np.asarray(c_kj, dtype=np.float64)
    lab = np.asarray(y)
    if c.ndim != 3 or c.shape[1] != 2:
        raise InputDataError(
            f"c_kj: expected shape (n_samples, 2, n_types), got {c.shape}. Use "
            "DiseaseCapsuleClassifier.coupling_coefficients(X)."
        )
    if lab.ndim != 1 or lab.shape[0] != c.shape[0]:
        raise InputDataError(
            f"y: expected {c.shape[0]} labels (one per sample of c_kj), got shape {lab.shape}."
        )
    if np.issubdtype(lab.dtype, np.floating) and np.isnan(lab).any():
        raise InputDataError("y: contains NaN labels; drop those samples first.")
    if not np.isin(lab, (0, 1)).all():
        raise InputDataError(
            f"y: labels must be 0 (control) or 1 (case); found {np.unique(lab)[:5].tolist()}."
        )
    out = np.full((2, c.shape[2]), np.nan)
    for j in (0, 1):
        mask = lab == j
        if mask.any():
            out[j] = c[mask, j, :].mean(axis=0)
    return out


def strongest_case_type(mean_c) -> int:
    """Index k* (0-based) of the primary type with the largest mean case coupling.

    Parameters
    ----------
    mean_c : array-like (2, K)
        Output of :func:`mean_coupling_by_label`.

    Returns
    -------
    int
        ``argmax(mean_c[1])`` (the first on ties). Add 1 for the paper's 1-based numbering.

    Raises
    ------
    InputDataError
        Wrong shape, or the case row is all NaN (no case sample).
    """
    m = np.asarray(mean_c, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != 2:
        raise InputDataError(f"mean_c: expected shape (2, n_types), got {m.shape}.")
    row = m[1]
    if np.isnan(row).all():
        raise InputDataError(
            "mean_c: the case row is all NaN (no case among the samples averaged). Average "
            "over a sample set that contains cases."
        )
    return int(np.nanargmax(row))


@dataclasses.dataclass
class CouplingSummary:
    """Mean coupling coefficients per true label, for training and test samples.

    Attributes
    ----------
    train, test : numpy.ndarray
        Shape (2, n_types): row j = mean of c_kj over samples whose true label is j.
    strongest_case_type : int
        0-based primary type k* with the largest mean case coupling on training samples.
    """

    train: np.ndarray
    test: np.ndarray
    strongest_case_type: int


def coupling_summary(model, features) -> CouplingSummary:
    """Average coupling coefficients c_kj by true label on training and test samples (DESIGN §4.4).

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
        Fitted.
    features : genoapp.features.FeatureSet
        The inputs the model was trained on, with their split (``features.split``).

    Returns
    -------
    CouplingSummary
    """
    out = {}
    y = features.y
    for name in ("train", "test"):
        idx = features.rows(name)
        c = model.coupling_coefficients(features.X[idx])
        out[name] = mean_coupling_by_label(c, y[idx])
    return CouplingSummary(out["train"], out["test"], int(strongest_case_type(out["train"])))
