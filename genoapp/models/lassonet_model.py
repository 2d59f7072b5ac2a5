"""LassoNet with the penalty chosen by cross-validation on the training data (a GRVSNN baseline).

A thin scikit-learn style wrapper around ``lassonet.LassoNetRegressorCV`` (Lemhadri et al.
2021, JMLR 22:1-29; the ``lassonet`` package): a feed-forward network with a linear skip
connection whose input weights are tied to the skip weights by the hierarchy constraint
``||W1_j||_inf <= M |theta_j|``, trained along a path of increasing L1 penalty lambda on the
skip weights; features drop out of the model along the path. The package's CV runs the path on
each of K training folds, scores R² on the held-out fold at every lambda, picks the lambda with
the best mean score and retrains on all training data up to that lambda.

What the wrapper adds: inputs and the trait are standardised with training statistics (the
package expects normalised inputs), the K folds are shuffled with ``random_state``, every seed
(fold split, early-stopping split, weight initialisation) follows ``random_state``, the torch
device is chosen by ``device="auto"``, and the results are exposed as ``selected_`` /
``coef_`` like the other genoapp regressors.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from genoapp.errors import ConfigError, InputDataError
from genoapp.models.bayes import _validate_xy

__all__ = ["LassoNetRegressorCV"]


def _pair(name: str, value) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name}: expected an integer or a pair of integers, got {value!r}.") from None
    if a < 1 or b < 1:
        raise ConfigError(f"{name}: values must be >= 1, got {value!r}.")
    return a, b


class LassoNetRegressorCV(RegressorMixin, BaseEstimator):
    """LassoNet regression with lambda chosen by K-fold CV on the training data.

    Parameters
    ----------
    hidden_dims : tuple of int, default (100,)
        Hidden layer sizes (package default).
    cv : int, default 5
        Number of shuffled folds used to choose lambda.
    path_multiplier : float, default 1.02
        Ratio between successive lambdas of the path (package default; 1.05-1.1 is 3-5x
        faster with a coarser choice).
    lambda_start : "auto" or float, default "auto"
        First lambda of each path. "auto" = the package's estimate (a tenth of the lambda at
        which the prox step starts to remove inputs, found by doubling from 1e-6; it costs
        seconds per CV fold). A number skips that search (on standardised inputs, values
        around 0.1 are typical).
    M : float, default 10
        Hierarchy coefficient (package default).
    n_iters : int or (int, int), default (1000, 100)
        Maximum epochs for the dense model and for each lambda of the path (package default).
    patience : int or (int, int), default (100, 10)
        Early-stopping patience on the package's internal 10 % validation split.
    batch_size : int or None, default None
        None = full batch (package default).
    lr : float, default 1e-3
        Learning rate of Adam (dense model) and of SGD with momentum 0.9 (path), as the
        package's defaults.
    dropout : float or None, default None
    standardize : bool, default True
        Standardise X columns and y with training mean and SD (constant columns get SD 1).
    device : str, default "auto"
        Torch device ("auto" = CUDA if available, else CPU; see genoapp.train.resolve_device).
    random_state : int, default 0
        Seeds the CV folds, the early-stopping split and the weight initialisation.

    Attributes
    ----------
    selected_ : ndarray of bool, shape (n_inputs,)
        Inputs used by the model at the chosen lambda.
    coef_ : ndarray of shape (n_inputs,)
        Skip-connection (linear) weights in original units of y per unit of input; zero for
        inputs that are not selected. The network adds a non-linear part on the selected ones.
    intercept_ : float
        Offset of the prediction: ``predict(X) = intercept_ + sd_y * net((X - mean) / sd)``
        (the training mean of y when ``standardize``, else 0).
    best_lambda_ : float
        The lambda chosen by CV.
    best_cv_score_ : float
        Its mean held-out R² (on the standardised scale).
    cv_lambdas_ : ndarray, cv_scores_ : ndarray of shape (n_lambdas, cv)
        The lambda grid and the held-out R² per fold (interpolated by the package).
    feature_importances_ : ndarray of shape (n_inputs,)
        Lambda at which each input left the final path (inf = never); higher = more important.
    device_ : str
        The torch device used.
    model_ : lassonet.LassoNetRegressorCV
        The fitted package object.
    n_features_in_ : int
    """

    def __init__(self, *, hidden_dims=(100,), cv: int = 5, path_multiplier: float = 1.02,
                 lambda_start="auto", M: float = 10.0, n_iters=(1000, 100), patience=(100, 10),
                 batch_size: int | None = None, lr: float = 1e-3, dropout: float | None = None,
                 standardize: bool = True, device: str = "auto", random_state: int = 0):
        self.hidden_dims = hidden_dims
        self.cv = cv
        self.path_multiplier = path_multiplier
        self.lambda_start = lambda_start
        self.M = M
        self.n_iters = n_iters
        self.patience = patience
        self.batch_size = batch_size
        self.lr = lr
        self.dropout = dropout
        self.standardize = standardize
        self.device = device
        self.random_state = random_state

    def _check_params(self, n: int):
        try:
            hidden = tuple(int(h) for h in self.hidden_dims)
        except (TypeError, ValueError):
            raise ConfigError(f"hidden_dims: expected a tuple of positive integers, got "
                              f"{self.hidden_dims!r}.") from None
        if not hidden or min(hidden) < 1:
            raise ConfigError(f"hidden_dims: expected a tuple of positive integers, got "
                              f"{self.hidden_dims!r}.")
        if not (isinstance(self.cv, (int, np.integer)) and 2 <= self.cv <= n):
            raise ConfigError(f"cv: expected an integer between 2 and n_samples={n}, got "
                              f"{self.cv!r}.")
        if not (isinstance(self.path_multiplier, (int, float)) and self.path_multiplier > 1):
            raise ConfigError(f"path_multiplier: must be > 1, got {self.path_multiplier!r}.")
        if not (self.lambda_start == "auto" or (
                isinstance(self.lambda_start, (int, float)) and not isinstance(
                    self.lambda_start, bool) and self.lambda_start > 0)):
            raise ConfigError(f"lambda_start: expected 'auto' or a number > 0, got "
                              f"{self.lambda_start!r}.")
        if not (isinstance(self.M, (int, float)) and self.M > 0):
            raise ConfigError(f"M: must be > 0, got {self.M!r}.")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"lr: must be > 0, got {self.lr!r}.")
        if self.dropout is not None and not (0 <= self.dropout < 1):
            raise ConfigError(f"dropout: must be in [0, 1) or None, got {self.dropout!r}.")
        if self.batch_size is not None and not (isinstance(self.batch_size, (int, np.integer))
                                                and self.batch_size >= 1):
            raise ConfigError(f"batch_size: must be a positive integer or None, got "
                              f"{self.batch_size!r}.")
        return hidden, _pair("n_iters", self.n_iters), _pair("patience", self.patience)

    def fit(self, X, y):
        """Run the CV over the lambda path on (X, y) and keep the model at the best lambda.

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
            Missing values, shape mismatch or constant y.
        ConfigError
            A hyper-parameter out of range, or the device is unavailable.
        """
        from functools import partial

        import torch
        from lassonet import LassoNetRegressorCV as _LassoNetCV

        from genoapp.device import resolve_device

        X, y = _validate_xy(X, y)
        hidden, n_iters, patience = self._check_params(X.shape[0])
        device = resolve_device(self.device)
        X = X.astype(np.float64, copy=False)
        if self.standardize:
            self.x_mean_ = X.mean(axis=0)
            sd = X.std(axis=0)
            self.x_scale_ = np.where(sd > 0, sd, 1.0)
            self.y_mean_ = float(y.mean())
            self.y_scale_ = float(y.std())
        else:
            self.x_mean_ = np.zeros(X.shape[1])
            self.x_scale_ = np.ones(X.shape[1])
            self.y_mean_, self.y_scale_ = 0.0, 1.0
        Xs = ((X - self.x_mean_) / self.x_scale_).astype(np.float32)
        ys = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)

        seed = None if self.random_state is None else int(self.random_state)
        model = _LassoNetCV(
            hidden_dims=hidden,
            cv=KFold(int(self.cv), shuffle=True, random_state=seed),
            path_multiplier=float(self.path_multiplier),
            lambda_start=("auto" if self.lambda_start == "auto" else float(self.lambda_start)),
            M=float(self.M),
            n_iters=n_iters,
            patience=patience,
            batch_size=self.batch_size,
            dropout=self.dropout,
            optim=(partial(torch.optim.Adam, lr=self.lr),
                   partial(torch.optim.SGD, lr=self.lr, momentum=0.9)),
            device=device,
            verbose=0,
            random_state=seed,
            torch_seed=seed,
        )
        model.fit(Xs, ys)
        self.model_ = model
        self.device_ = str(device)
        self.selected_ = model.best_selected_.cpu().numpy().astype(bool)
        skip = model.model.skip.weight.detach().cpu().numpy().reshape(-1).astype(np.float64)
        self.coef_ = np.where(self.selected_, skip * self.y_scale_ / self.x_scale_, 0.0)
        self.intercept_ = self.y_mean_
        self.best_lambda_ = float(model.best_lambda_)
        self.best_cv_score_ = float(model.best_cv_score_)
        self.cv_lambdas_ = np.asarray(model.lambdas_, dtype=float)
        self.cv_scores_ = np.asarray(model.interp_scores_, dtype=float)
        imp = getattr(model, "feature_importances_", None)
        self.feature_importances_ = (np.full(X.shape[1], np.inf) if imp is None
                                     else imp.cpu().numpy().astype(float))
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions in the units of y; X of shape (n_samples, n_inputs) -> (n_samples,)."""
        check_is_fitted(self, "model_")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputDataError(
                f"X: expected shape (n, {self.n_features_in_}) as in fit, got {X.shape}.")
        if not np.all(np.isfinite(X)):
            raise InputDataError("X: missing or non-finite values; impute them as for fit.")
        Xs = ((X - self.x_mean_) / self.x_scale_).astype(np.float32)
        out = np.asarray(self.model_.predict(Xs), dtype=np.float64).reshape(-1)
        return self.intercept_ + self.y_scale_ * out
