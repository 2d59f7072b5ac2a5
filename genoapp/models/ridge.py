"""Ridge regression with the penalty chosen on the training data: the fast GBLUP equivalent.

Ridge regression on markers, ``min ||y - mu - X b||² + alpha ||b||²``, predicts exactly as GBLUP
with the linear kernel ``G ∝ Xc Xc'`` and variance ratio ``alpha = varE / varB`` (the
"RR-BLUP = GBLUP" equivalence; Habier et al. 2007, Genetics 177:2389; VanRaden 2008,
J Dairy Sci 91:4414). Here ``alpha`` is chosen by scikit-learn's ``RidgeCV``: efficient
leave-one-out cross-validation (its "GCV" mode, from the eigendecomposition of ``Xc Xc'`` when
n < P) or K-fold CV, on the training samples only.

:func:`ridge_leave_one_out` is the same ridge for several traits at once, from one
eigendecomposition per pattern of observed traits, with the exact leave-one-out residuals
``e_i / (1 - h_ii)`` of the chosen penalty (Allen 1974, Technometrics 16:125; Hastie, Tibshirani
& Friedman, *Elements of Statistical Learning*, eq. 7.52 with its intercept unpenalised). It is
GRVSNN's linear path (:mod:`genoapp.models.grvsnn`): the network learns from those honest
residuals what the additive model leaves.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from genoapp.errors import ConfigError, InputDataError
from genoapp.models.bayes import _validate_xy

__all__ = ["RidgeGBLUP", "RidgeLOO", "ridge_leave_one_out"]


def _alpha_grid(total_var: float, h2_grid) -> np.ndarray:
    """Ascending alphas ``S (1 - h2) / h2`` of a heritability grid (None = 41 log-spaced values
    between alpha = 1e-3 S and 1e3 S); ``S`` = sum of the input variances."""
    if h2_grid is None:
        h2 = 1.0 / (1.0 + np.logspace(-3, 3, 41))
    else:
        h2 = np.asarray(h2_grid, dtype=float).ravel()
        if h2.size == 0 or np.any(~np.isfinite(h2)) or np.any((h2 <= 0) | (h2 >= 1)):
            raise ConfigError(f"h2_grid: values must lie strictly between 0 and 1, got {h2}.")
    return np.sort(total_var * (1.0 - h2) / h2)


@dataclasses.dataclass(frozen=True)
class RidgeLOO:
    """Result of :func:`ridge_leave_one_out` (T traits, P inputs, n samples).

    Attributes
    ----------
    coef : numpy.ndarray
        ``(P, T)`` effects (trait units per input unit).
    intercept : numpy.ndarray
        ``(T,)``.
    alpha : numpy.ndarray
        ``(T,)`` chosen penalties (the smallest leave-one-out mean squared error of the grid).
    h2 : numpy.ndarray
        ``(T,)`` ``S / (S + alpha)`` with ``S`` the sum of the input variances (over the trait's
        observed rows).
    fitted : numpy.ndarray
        ``(n, T)`` in-sample predictions (every row, observed or not).
    loo_residuals : numpy.ndarray
        ``(n, T)`` leave-one-out residuals ``y_i - y_hat_(-i)`` of the chosen penalty; NaN where
        the trait is missing.
    alphas : numpy.ndarray
        ``(n_alphas, T)`` the grid searched for each trait (ascending; it scales with the
        input variances over the trait's observed rows).
    loo_mse : numpy.ndarray
        ``(n_alphas, T)`` leave-one-out mean squared error per alpha.
    null_coef : numpy.ndarray or None
        ``(n_permutations, P, T)`` effects refitted (same alphas) after permuting each trait's
        observed values among its rows (traits observed on the same rows share a permutation):
        the effects under no association, for selection against a null; None without
        permutations.
    """

    coef: np.ndarray
    intercept: np.ndarray
    alpha: np.ndarray
    h2: np.ndarray
    fitted: np.ndarray
    loo_residuals: np.ndarray
    alphas: np.ndarray
    loo_mse: np.ndarray
    null_coef: np.ndarray | None = None

    def predict(self, X) -> np.ndarray:
        """``(n, T)`` predictions ``intercept + X @ coef``."""
        return self.intercept + np.asarray(X, dtype=np.float64) @ self.coef


def _orthonormal_basis(Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(U, d)`` with ``Xc Xc' = U diag(d) U'`` (U: n x r orthonormal, d > 0), from the n x n
    kernel when n <= P, else from the P x P cross-product (cheaper)."""
    n, p = Xc.shape
    d, W = np.linalg.eigh(Xc @ Xc.T if n <= p else Xc.T @ Xc)
    keep = d > max(float(d.max()), 0.0) * 1e-12
    d, W = d[keep], W[:, keep]
    return (W if n <= p else (Xc @ W) / np.sqrt(d)), d


def ridge_leave_one_out(X, Y, *, h2_grid=None, n_permutations: int = 0,
                        random_state: int = 0) -> RidgeLOO:
    """Ridge regression of several traits, penalty per trait by exact leave-one-out CV.

    The model and the penalty grid are those of :class:`RidgeGBLUP` (intercept unpenalised;
    alphas ``S (1 - h2) / h2``); for each trait the alpha with the smallest leave-one-out mean
    squared error is kept, as scikit-learn's ``RidgeCV`` (GCV mode) does. With
    ``Xc Xc' = U D U'`` (Xc: X centred on the rows where the trait is observed), the hat matrix is
    ``1 1'/n + U D (D + alpha)^-1 U'`` and the leave-one-out residual of row i is
    ``(y_i - y_hat_i) / (1 - h_ii)`` (Allen 1974; exact for a quadratic penalty).

    Parameters
    ----------
    X : array-like
        ``(n, P)`` inputs (e.g. standardised dosages), no missing values.
    Y : array-like
        ``(n,)`` or ``(n, T)`` traits; NaN = missing (each trait uses its observed rows; the
        traits observed on the same rows share one eigendecomposition).
    h2_grid : sequence of float, optional
        As :class:`RidgeGBLUP`.
    n_permutations : int, default 0
        Also refit the effects on this many permutations of the traits (``null_coef``); cheap,
        as they reuse the eigendecomposition.
    random_state : int, default 0
        Seed of the permutations.

    Returns
    -------
    RidgeLOO

    Raises
    ------
    InputDataError
        Non-finite inputs, shapes that disagree, a trait with fewer than 3 observed values or
        constant, every input constant.
    ConfigError
        A bad ``h2_grid``.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise InputDataError(f"X {X.shape} and Y {Y.shape}: expected (n, P) and (n, T) for the "
                             "same n samples.")
    if not np.all(np.isfinite(X)):
        raise InputDataError("X: missing or non-finite values; impute them first.")
    if np.isinf(Y).any():
        raise InputDataError("Y: infinite trait values.")
    n, p = X.shape
    T = Y.shape[1]
    obs = np.isfinite(Y)
    if float(X.var(axis=0).sum()) <= 0:
        raise InputDataError("X: every input is constant; there is nothing to regress on.")
    n_alphas = _alpha_grid(1.0, h2_grid).size
    alphas = np.zeros((n_alphas, T))
    h2 = np.zeros(T)
    coef = np.zeros((p, T))
    intercept = np.zeros(T)
    chosen = np.zeros(T)
    loo = np.full((n, T), np.nan)
    loo_mse = np.zeros((n_alphas, T))
    n_perm = int(n_permutations)
    null = np.zeros((n_perm, p, T)) if n_perm > 0 else None
    rng = np.random.default_rng(random_state)
    patterns: dict[bytes, list[int]] = {}
    for t in range(T):
        if obs[:, t].sum() < 3 or np.nanvar(Y[:, t]) == 0:
            raise InputDataError(f"Y: trait column {t} has fewer than 3 observed values or is "
                                 "constant; drop it.")
        patterns.setdefault(obs[:, t].tobytes(), []).append(t)
    for cols in patterns.values():
        rows = np.flatnonzero(obs[:, cols[0]])
        Xo = X[rows]
        x_mean = Xo.mean(axis=0)
        Xc = Xo - x_mean
        total = float(Xc.var(axis=0).sum())
        grid = _alpha_grid(total, h2_grid)
        U, d = _orthonormal_basis(Xc)
        yo = Y[np.ix_(rows, cols)]
        y_mean = yo.mean(axis=0)
        uty = U.T @ (yo - y_mean)                                   # (r, t)
        shrink = d[None, :] / (d[None, :] + grid[:, None])          # (A, r)
        U2 = U * U
        h = 1.0 / rows.size + U2 @ shrink.T                          # (n_o, A)
        for j, t in enumerate(cols):
            fit = y_mean[j] + U @ (shrink * uty[:, j]).T             # (n_o, A)
            res = (yo[:, [j]] - fit) / (1.0 - h)
            loo_mse[:, t] = np.mean(res * res, axis=0)
            a = int(np.argmin(loo_mse[:, t]))
            alphas[:, t] = grid
            chosen[t] = grid[a]
            h2[t] = total / (total + grid[a])
            loo[rows, t] = res[:, a]
            b = Xc.T @ (U @ (uty[:, j] / (d + grid[a])))
            coef[:, t] = b
            intercept[t] = y_mean[j] - x_mean @ b
        if n_perm:
            yc = yo - y_mean
            scale = np.array([1.0 / (d + chosen[t]) for t in cols]).T   # (r, t)
            for k in range(n_perm):
                perm = rng.permutation(rows.size)
                null[k][:, cols] = Xc.T @ (U @ ((U.T @ yc[perm]) * scale))
    return RidgeLOO(coef=coef, intercept=intercept, alpha=chosen, h2=h2,
                    fitted=intercept + X @ coef, loo_residuals=loo, alphas=alphas,
                    loo_mse=loo_mse, null_coef=null)


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
        alphas = _alpha_grid(s, self.h2_grid)
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
