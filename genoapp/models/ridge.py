"""Ridge regression with the penalty chosen on the training data: the fast GBLUP equivalent.

Ridge regression on markers, ``min ||y - mu - X b||² + alpha ||b||²``, predicts exactly as GBLUP
with the linear kernel ``G ∝ Xc Xc'`` and variance ratio ``alpha = varE / varB`` (the
"RR-BLUP = GBLUP" equivalence; Habier et al. 2007, Genetics 177:2389; VanRaden 2008,
J Dairy Sci 91:4414). Here ``alpha`` is chosen by scikit-learn's ``RidgeCV``: efficient
leave-one-out cross-validation (its "GCV" mode, from the eigendecomposition of ``Xc Xc'`` when
n < P) or K-fold CV, on the training samples only.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from genoapp.errors import ConfigError, InputDataError
from genoapp.models.bayes import _validate_xy

__all__ = ["RidgeGBLUP"]


class RidgeGBLUP(RegressorMixin, BaseEstimator):
    """Ridge regression (GBLUP equivalent) with alpha chosen by LOO/GCV or K-fold CV.

    Parameters
    ----------
    h2_grid : sequence of float or None, default None
        Candidate "heritabilities" ``h2 = S / (S + alpha)``, where ``S`` is the sum of the
        column variances of X (BGLR's ``MSx``); each maps to ``alpha = S (1 - h2) / h2``, so
        the grid is scale-free. None = 41 values log-spaced in alpha between h2 = 0.999 and
        h2 = 0.001.
    cv : None or int, default None
        None: efficient leave-one-out (scikit-learn ``RidgeCV`` with ``cv=None``); an integer
        K >= 2: shuffled K-fold CV seeded by ``random_state`` (slower).
    random_state : int or None, default 0
        Seed of the K-fold shuffling (unused with ``cv=None``).

    Attributes
    ----------
    alpha_ : float
        The chosen penalty (``varE / varB`` in GBLUP terms).
    h2_ : float
        The chosen alpha as ``S / (S + alpha)`` (on standardised markers, the genomic
        heritability implied by the variance ratio).
    coef_ : ndarray of shape (n_inputs,)
        Effects (units of y per unit of the input).
    intercept_ : float
    selected_ : None
        Ridge does not select inputs.
    cv_scores_ : ndarray of shape (n_alphas,)
        Mean LOO squared error per alpha (``cv=None`` only; else None).
    alphas_ : ndarray of shape (n_alphas,)
        The alpha grid searched.
    n_features_in_ : int
    """

    def __init__(self, *, h2_grid=None, cv: int | None = None, random_state=0):
        self.h2_grid = h2_grid
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y):
        """Choose alpha on (X, y) and fit the ridge regression.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs), no missing values
        y : array-like of shape (n_samples,), no missing values

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            Missing values, shape mismatch, constant y or constant X.
        ConfigError
            ``h2_grid`` values outside (0, 1) or ``cv`` not None / an integer >= 2.
        """
        X, y = _validate_xy(X, y)
        X = X.astype(np.float64, copy=False)
        if self.h2_grid is None:
            h2 = 1.0 / (1.0 + np.logspace(-3, 3, 41))
        else:
            h2 = np.asarray(self.h2_grid, dtype=float).ravel()
            if h2.size == 0 or np.any(~np.isfinite(h2)) or np.any((h2 <= 0) | (h2 >= 1)):
                raise ConfigError(f"h2_grid: values must lie strictly between 0 and 1, got {h2}.")
        if self.cv is None:
            splitter = None
        elif isinstance(self.cv, (int, np.integer)) and not isinstance(self.cv, bool) \
                and self.cv >= 2:
            if self.cv > X.shape[0]:
                raise ConfigError(f"cv={self.cv}: more folds than the {X.shape[0]} samples.")
            splitter = KFold(int(self.cv), shuffle=True, random_state=self.random_state)
        else:
            raise ConfigError(f"cv: expected None (leave-one-out) or an integer >= 2, got "
                              f"{self.cv!r}.")
        s = float(X.var(axis=0).sum())
        if s <= 0:
            raise InputDataError("X: every input is constant; there is nothing to regress on.")
        alphas = np.sort(s * (1.0 - h2) / h2)
        model = RidgeCV(alphas=alphas, fit_intercept=True, cv=splitter,
                        store_cv_results=splitter is None)
        model.fit(X, y)
        self.alphas_ = alphas
        self.alpha_ = float(model.alpha_)
        self.h2_ = s / (s + self.alpha_)
        self.coef_ = np.asarray(model.coef_, dtype=np.float64)
        self.intercept_ = float(model.intercept_)
        self.selected_ = None
        self.cv_scores_ = (model.cv_results_.mean(axis=0) if splitter is None else None)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """``intercept_ + X @ coef_``; X of shape (n_samples, n_inputs) -> (n_samples,)."""
        check_is_fitted(self, "coef_")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputDataError(
                f"X: expected shape (n, {self.n_features_in_}) as in fit, got {X.shape}.")
        if not np.all(np.isfinite(X)):
            raise InputDataError("X: missing or non-finite values; impute them as for fit.")
        return self.intercept_ + X @ self.coef_
