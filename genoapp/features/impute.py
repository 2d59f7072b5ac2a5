"""Explicit mean imputation of missing genotype dosages (DESIGN §4.1, last point).

Missing genotypes are never filled silently: :class:`MeanImputer` learns per-variant means on
the rows passed to ``fit`` (the training samples by default, so nothing leaks from the test
set) and records how many values it filled in every call.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from genoapp.errors import ConfigError, InputDataError

__all__ = ["MeanImputer"]

# Columns processed at once (bounds temporary memory to ~ n_samples * _COL_CHUNK * 9 bytes).
_COL_CHUNK = 4096


def _as_2d_float(X, what: str) -> np.ndarray:
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise InputDataError(f"{what}: could not be read as a numeric array ({exc}).") from exc
    if arr.ndim != 2:
        raise InputDataError(
            f"{what}: expected a 2-D (samples x variants) dosage matrix, found shape {arr.shape}."
        )
    if arr.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise InputDataError(
                f"{what}: expected numeric dosages (0, 1, 2, NaN = missing), found dtype {arr.dtype}."
            )
        arr = arr.astype(np.float64)
    return arr


class MeanImputer(BaseEstimator):
    """Replace missing dosages (NaN) by the per-variant mean of the fitting rows.

    Parameters
    ----------
    all_missing : {"raise", "zero"}, default "raise"
        What to do with a variant that has no observed value in the rows passed to ``fit``:
        ``"raise"`` raises :class:`~genoapp.errors.InputDataError` naming the variants (remove
        them with a call-rate filter first); ``"zero"`` uses mean 0 for them and flags them in
        ``all_missing_``.

    Attributes
    ----------
    mean_ : numpy.ndarray of float64, shape (n_variants,)
        Mean dosage of every variant over the non-missing fitting rows (0 for all-missing
        variants under ``all_missing="zero"``).
    n_missing_fit_ : numpy.ndarray of int64, shape (n_variants,)
        Missing values per variant in the fitting rows.
    all_missing_ : numpy.ndarray of bool, shape (n_variants,)
        Variants without any observed value in the fitting rows.
    n_features_in_ : int
        Number of variants (columns) seen in ``fit``.
    n_imputed_ : int
        Values filled by the last ``transform`` call.
    n_imputed_per_variant_ : numpy.ndarray of int64, shape (n_variants,)
        Values filled per variant by the last ``transform`` call.

    Notes
    -----
    Dosages are counts of the counted allele (A1 by default, as PLINK; 0, 1, 2), NaN = missing.
    Never modifies its input; ``transform`` returns a copy with the input's float dtype (float32
    stays float32; other dtypes become float64). Means are accumulated in float64. Mean
    imputation as in DiseaseCapsule's preprocessing / ``sklearn.impute.SimpleImputer(strategy=
    "mean")``, except that all-missing variants are not dropped silently.
    """

    def __init__(self, *, all_missing: str = "raise"):
        self.all_missing = all_missing

    def fit(self, X, y=None) -> MeanImputer:
        """Learn per-variant means from the rows of ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_variants)
            Dosages, NaN = missing (typically the training rows only).
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ConfigError
            ``all_missing`` is not ``"raise"`` or ``"zero"``.
        InputDataError
            ``X`` is not a 2-D numeric array or has no rows; a variant has no observed value and
            ``all_missing="raise"``.
        """
        if self.all_missing not in ("raise", "zero"):
            raise ConfigError(
                f"MeanImputer(all_missing=...): expected 'raise' or 'zero', found {self.all_missing!r}."
            )
        X = _as_2d_float(X, "MeanImputer.fit: X")
        n, p = X.shape
        if n == 0:
            raise InputDataError("MeanImputer.fit: X has no rows; pass the training samples.")
        sums = np.zeros(p, dtype=np.float64)
        n_miss = np.zeros(p, dtype=np.int64)
        for j0 in range(0, p, _COL_CHUNK):
            block = X[:, j0 : j0 + _COL_CHUNK]
            miss = np.isnan(block)
            n_miss[j0 : j0 + _COL_CHUNK] = miss.sum(axis=0)
            sums[j0 : j0 + _COL_CHUNK] = np.where(miss, 0.0, block).sum(axis=0, dtype=np.float64)
        n_obs = n - n_miss
        all_missing = n_obs == 0
        if all_missing.any() and self.all_missing == "raise":
            cols = np.flatnonzero(all_missing)
            raise InputDataError(
                f"MeanImputer.fit: {cols.size} variant(s) have no observed genotype in the "
                f"{n} fitting sample(s) (columns {cols[:10].tolist()}"
                f"{' ...' if cols.size > 10 else ''}); a mean cannot be computed. Remove them "
                "with a variant call-rate filter (QC), or use MeanImputer(all_missing='zero')."
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(all_missing, 0.0, sums / np.maximum(n_obs, 1))
        self.mean_ = mean
        self.n_missing_fit_ = n_miss
        self.all_missing_ = all_missing
        self.n_features_in_ = p
        return self

    def transform(self, X) -> np.ndarray:
        """Return a copy of ``X`` with NaN replaced by the fitted means.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_variants)
            Dosages with the same variants (columns, same order) as in ``fit``.

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_variants)
            float32 if ``X`` is float32, else float64; no NaN left. Sets ``n_imputed_`` and
            ``n_imputed_per_variant_``.

        Raises
        ------
        InputDataError
            Not fitted, or a different number of variants than in ``fit``.
        """
        if not hasattr(self, "mean_"):
            raise InputDataError("MeanImputer.transform: call fit (on the training rows) first.")
        X = _as_2d_float(X, "MeanImputer.transform: X")
        if X.shape[1] != self.n_features_in_:
            raise InputDataError(
                f"MeanImputer.transform: X has {X.shape[1]} variants, the imputer was fitted on "
                f"{self.n_features_in_}; pass the same variants in the same order."
            )
        out = np.array(X, copy=True, order="C")
        p = out.shape[1]
        counts = np.zeros(p, dtype=np.int64)
        mean = self.mean_.astype(out.dtype)
        for j0 in range(0, p, _COL_CHUNK):
            block = out[:, j0 : j0 + _COL_CHUNK]
            miss = np.isnan(block)
            counts[j0 : j0 + _COL_CHUNK] = miss.sum(axis=0)
            r, c = np.nonzero(miss)
            block[r, c] = mean[j0 + c]
        self.n_imputed_per_variant_ = counts
        self.n_imputed_ = int(counts.sum())
        return out

    def fit_transform(self, X, y=None) -> np.ndarray:
        """``fit(X)`` then ``transform(X)`` (means from all rows of ``X``)."""
        return self.fit(X).transform(X)
