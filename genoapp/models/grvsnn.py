"""GRVSNN: gated residual variable selection network for several quantitative traits at once.

Fan & Waldmann (2025, *BMC Bioinformatics* 26:174, "Multi-task genomic prediction using gated
residual variable selection neural networks"), following the paper's equations in vector form
over the P inputs (DESIGN §4.5). For an input row x in R^P (markers and pedigree loadings,
standardised):

1. gated residual network (GRN), hidden width H:
   ``f1 = ELU(W1 x + b1)`` (H), ``f2 = Dropout(W f1 + b)`` (H),
   ``h = W2 f2 + b2`` (P), ``g = sigma(W3 f2 + b3)`` (P) with sigma the sigmoid or the hard
   sigmoid ``max(0, min(1, 0.2 a + 0.5))`` (Keras' definition),
   ``z = g * h + (1 - g) * x`` (P), ``z_hat = LayerNorm(z)`` (over the P features);
2. variable selection: ``w = softmax(z_hat)`` over the P features (one weight per input,
   summing to 1), ``z' = w * z_hat``;
3. output ``y_hat = V z' + c`` (``Linear(P, T)``, one column per trait).

Loss: the mean squared error of each standardised trait over the samples where it is
observed, summed over traits (missing trait values are masked, so a sample with some traits
missing still teaches the others). Training: Adam with weight decay (L2), mini-batches,
early stopping on an inner validation split (patience 25 by default), the weights of the best
validation epoch kept. Hyper-parameters are tuned by :mod:`genoapp.workflows.protocol` (Optuna TPE
inside the training folds).

Feature importance: the selection weights ``w`` averaged over the training samples
(``feature_importances_``, P values summing to 1). An input counts as **selected** when its
importance is at or above ``importance_threshold`` (default 0.05, as in the paper), on the raw
scale (``importance_scale="sum"``: a selected input carries at least 5 % of the total weight)
or relative to the largest importance (``"max"``). Both choices are documented because the
paper does not say which scale its 0.05 applies to.

The published code differs from these equations (Keras: highway gate with a projection and a
softmax over 128 hidden units; Julia: per-feature networks as in the Temporal Fusion
Transformer, no LayerNorm); genoapp follows the paper's equations, which give the per-input
weights its selected-feature counts need.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import RegressorMixin
from torch import nn

from genoapp.errors import ConfigError, InputDataError
from genoapp.models._torch import FitData, TorchEstimator
from genoapp.train.callbacks import EarlyStopping
from genoapp.train.trainer import evaluate_module

__all__ = ["GRVSNNNet", "GRVSNNRegressor", "hard_sigmoid", "masked_mse"]


def hard_sigmoid(a: torch.Tensor) -> torch.Tensor:
    """``max(0, min(1, 0.2 a + 0.5))`` (the Keras hard sigmoid)."""
    return torch.clamp(0.2 * a + 0.5, 0.0, 1.0)


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over traits of the mean squared error over observed values.

    Parameters
    ----------
    pred : torch.Tensor
        ``(B, T)`` predictions.
    target : torch.Tensor
        ``(B, T)`` targets; NaN = missing (masked out).

    Returns
    -------
    torch.Tensor
        Scalar: ``sum_t sum_i m_it (pred_it - y_it)^2 / max(1, sum_i m_it)``; a trait with no
        observed value in the batch contributes 0.
    """
    mask = ~torch.isnan(target)
    diff = torch.where(mask, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    counts = mask.sum(dim=0).clamp(min=1).to(pred.dtype)
    return ((diff * diff).sum(dim=0) / counts).sum()


class GRVSNNNet(nn.Module):
    """The GRVSNN module (equations in the module docstring).

    Parameters
    ----------
    n_features : int
        P, the number of inputs.
    n_traits : int
        T, the number of traits predicted together.
    n_hidden : int, default 64
        H, width of the GRN's hidden layers.
    dropout : float, default 0.2
        Dropout on ``f2``.
    gate : {"sigmoid", "hard_sigmoid"}, default "sigmoid"
    """

    def __init__(self, n_features: int, n_traits: int, *, n_hidden: int = 64,
                 dropout: float = 0.2, gate: str = "sigmoid"):
        super().__init__()
        if gate not in ("sigmoid", "hard_sigmoid"):
            raise ConfigError(f"gate: must be 'sigmoid' or 'hard_sigmoid', got {gate!r}.")
        self.gate_kind = gate
        self.fc1 = nn.Linear(n_features, n_hidden)       # W1
        self.fc2 = nn.Linear(n_hidden, n_hidden)         # the inner Linear of f2
        self.dropout = nn.Dropout(float(dropout))
        self.value = nn.Linear(n_hidden, n_features)     # W2
        self.gate = nn.Linear(n_hidden, n_features)      # W3
        self.norm = nn.LayerNorm(n_features)
        self.out = nn.Linear(n_features, n_traits)

    def selection(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w, z_hat)``: selection weights (B, P), rows summing to 1, and the normalised
        GRN output (B, P)."""
        f1 = F.elu(self.fc1(x))
        f2 = self.dropout(self.fc2(f1))
        h = self.value(f2)
        a = self.gate(f2)
        g = torch.sigmoid(a) if self.gate_kind == "sigmoid" else hard_sigmoid(a)
        z = g * h + (1.0 - g) * x
        z_hat = self.norm(z)
        return torch.softmax(z_hat, dim=1), z_hat

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, P)`` standardised inputs -> ``(B, T)`` standardised trait predictions."""
        w, z_hat = self.selection(x)
        return self.out(w * z_hat)


def _as_targets(Y, name: str, n: int) -> tuple[np.ndarray, bool]:
    if hasattr(Y, "to_numpy"):
        Y = Y.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(Y, dtype=np.float64)
    one_d = arr.ndim == 1
    if one_d:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise InputDataError(
            f"{name}: expected {n} rows (one per input row) of trait values, shape (n,) or "
            f"(n, T); got {np.asarray(Y).shape}."
        )
    if np.isinf(arr).any():
        raise InputDataError(f"{name}: infinite trait values.")
    return arr, one_d


class GRVSNNRegressor(RegressorMixin, TorchEstimator):
    """GRVSNN as a scikit-learn style multi-trait regressor.

    Built on :class:`genoapp.models._torch.TorchEstimator` (seeding, devices, training loop,
    fitted attributes, batched prediction, save/load).

    Parameters
    ----------
    n_hidden : int, default 64
        Width H of the GRN's hidden layers.
    dropout : float, default 0.2
        Dropout probability in the GRN (tuned in 0.1-0.5 by the protocol).
    gate : {"sigmoid", "hard_sigmoid"}, default "sigmoid"
    learning_rate : float, default 1e-3
        Adam learning rate (tuned in 1e-5-1e-3).
    weight_decay : float, default 1e-4
        Adam's L2 weight decay.
    batch_size : int, default 128
        Mini-batch size (tuned in 64-512).
    max_epochs : int, default 300
        Upper limit of epochs.
    patience : int, default 25
        Early stopping: epochs without a lower validation loss before stopping.
    validation_fraction : float, default 0.2
        Fraction of the rows given to :meth:`fit` held out (at random, ``random_state``) as the
        validation set for early stopping, when no ``X_val`` is passed. 0 = no validation:
        train ``max_epochs`` epochs and keep the last weights.
    importance_threshold : float, default 0.05
        Inputs with importance at or above this are "selected" (paper: 0.05).
    importance_scale : {"sum", "max"}, default "sum"
        Scale the threshold applies to: raw mean selection weights (summing to 1 over the P
        inputs) or weights divided by the largest one.
    standardize : bool, default True
        Centre and scale inputs and traits with the statistics of the rows passed to
        :meth:`fit` (constant inputs become 0); predictions are returned in trait units.
    device : str, default "auto"
        See :func:`genoapp.train.resolve_device`.
    random_state : int, default 0
        Seeds the validation split, weight initialisation, dropout (global torch RNG forked
        and restored) and batch order.

    Attributes
    ----------
    model_ : GRVSNNNet
    n_features_in_ : int
    n_traits_ : int
    feature_importances_ : numpy.ndarray
        ``(P,)`` mean selection weight of each input over the training rows (sums to 1).
    selected_ : numpy.ndarray
        ``(P,)`` bool, importance at or above the threshold (on ``importance_scale``).
    n_selected_ : int
    history_ : list of dict
        Per-epoch logs (``train_loss``, ``val_loss``, ``lr``, ``seconds``).
    best_epoch_ : int or None
        Epoch whose weights are kept (best validation loss).
    best_val_loss_ : float
        Validation loss (masked MSE summed over standardised traits) of ``best_epoch_``;
        NaN without validation data.
    stopped_early_ : bool
    device_ : str
    fit_seconds_ : float
    x_mean_, x_scale_, y_mean_, y_scale_ : numpy.ndarray
        Standardisation statistics (from the ``fit`` rows).
    """

    _format = "genoapp.GRVSNNRegressor"
    _format_version = 1
    _module_attr = "model_"
    _epochs_param = "max_epochs"
    _monitor = "val_loss"
    _what = "GRVSNN model"
    _x_messages = {
        "what": "inputs",
        "missing_hint": "Impute missing genotypes first (the protocol uses training-fold means).",
        "mismatch_hint": "Build the inputs (markers, loadings) the same way as for training.",
    }

    def __init__(self, *, n_hidden=64, dropout=0.2, gate="sigmoid", learning_rate=1e-3,
                 weight_decay=1e-4, batch_size=128, max_epochs=300, patience=25,
                 validation_fraction=0.2, importance_threshold=0.05, importance_scale="sum",
                 standardize=True, device="auto", random_state=0):
        self.n_hidden = n_hidden
        self.dropout = dropout
        self.gate = gate
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.importance_threshold = importance_threshold
        self.importance_scale = importance_scale
        self.standardize = standardize
        self.device = device
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ TorchEstimator hooks
    def _check_extra_params(self) -> None:
        v = self.n_hidden
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ConfigError(f"n_hidden: must be a positive integer, got {v!r}.")

        def number(name, ok, allowed):
            v = getattr(self, name)
            if (isinstance(v, bool) or not isinstance(v, int | float | np.number)
                    or not np.isfinite(v) or not ok(float(v))):
                raise ConfigError(f"{name}: must be {allowed}, got {v!r}.")

        number("weight_decay", lambda v: v >= 0, ">= 0")
        number("validation_fraction", lambda v: 0.0 <= v < 0.9, "in [0, 0.9)")
        number("importance_threshold", lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        if self.importance_scale not in ("sum", "max"):
            raise ConfigError(
                f"importance_scale: must be 'sum' or 'max', got {self.importance_scale!r}."
            )
        if self.gate not in ("sigmoid", "hard_sigmoid"):
            raise ConfigError(f"gate: must be 'sigmoid' or 'hard_sigmoid', got {self.gate!r}.")

    def _prepare_fit(self, X, y, X_val, y_val) -> FitData:
        Xa = self._check_X(X, "X")
        if Xa.shape[0] < 2:
            raise InputDataError("X: only 1 sample; GRVSNN needs at least 2 training rows.")
        Ya, one_d = _as_targets(y, "y", Xa.shape[0])
        n_obs = (~np.isnan(Ya)).sum(axis=0)
        if (n_obs < 2).any():
            bad = np.flatnonzero(n_obs < 2).tolist()
            raise InputDataError(
                f"y: trait column(s) {bad} have fewer than 2 observed values among the {len(Ya)} "
                "training rows; drop those traits."
            )
        if self.standardize:
            self.x_mean_ = Xa.mean(axis=0, dtype=np.float64)
            sd = Xa.std(axis=0, dtype=np.float64)
            self.x_scale_ = np.where(sd > 1e-12, sd, 1.0)
            self.y_mean_ = np.nanmean(Ya, axis=0)
            ysd = np.nanstd(Ya, axis=0)
            self.y_scale_ = np.where(ysd > 1e-12, ysd, 1.0)
        else:
            self.x_mean_ = np.zeros(Xa.shape[1])
            self.x_scale_ = np.ones(Xa.shape[1])
            self.y_mean_ = np.zeros(Ya.shape[1])
            self.y_scale_ = np.ones(Ya.shape[1])
        self.n_features_in_ = int(Xa.shape[1])
        self.n_traits_ = int(Ya.shape[1])
        self._one_d = one_d
        Xs = self._x(Xa)
        Ys = ((Ya - self.y_mean_) / self.y_scale_).astype(np.float32)
        if X_val is not None:
            Xv = self._x(self._check_X(X_val, "X_val", Xa.shape[1]))
            Yv_raw, _ = _as_targets(y_val, "y_val", Xv.shape[0])
            if Yv_raw.shape[1] != Ya.shape[1]:
                raise InputDataError(f"y_val: {Yv_raw.shape[1]} traits, y has {Ya.shape[1]}.")
            Yv = ((Yv_raw - self.y_mean_) / self.y_scale_).astype(np.float32)
            return FitData(Xs, Ys, Xv, Yv)
        tr, va = self._split(Xs.shape[0], np.random.default_rng(int(self.random_state)))
        if va.size:
            return FitData(Xs[tr], Ys[tr], Xs[va], Ys[va])
        return FitData(Xs[tr], Ys[tr])

    def _build_module(self, n_features: int) -> GRVSNNNet:
        return GRVSNNNet(n_features, self.n_traits_, n_hidden=int(self.n_hidden),
                         dropout=float(self.dropout), gate=self.gate)

    def _loss_fn(self):
        return masked_mse

    def _training_callbacks(self, callbacks, has_val: bool) -> list:
        cbs = list(callbacks)
        if has_val:
            cbs.insert(0, EarlyStopping("val_loss", patience=int(self.patience)))
        return cbs

    def _after_fit(self, result, data: FitData, device) -> None:
        if data.X_val is not None and result.best_epoch is not None:
            self.best_val_loss_ = float(result.history[result.best_epoch - 1]["val_loss"])
        elif data.X_val is not None:
            self.best_val_loss_ = float(evaluate_module(
                self.model_, torch.from_numpy(data.X_val), torch.from_numpy(data.y_val),
                loss_fn=masked_mse, device=device)["loss"])
        else:
            self.best_val_loss_ = float("nan")
        self.feature_importances_ = self._mean_weights(data.X)
        self._update_selection()

    def _extra_state(self) -> dict:
        arrays = {k: torch.from_numpy(np.asarray(getattr(self, f"{k}_"), dtype=np.float64))
                  for k in ("x_mean", "x_scale", "y_mean", "y_scale", "feature_importances")}
        return {"n_traits": int(self.n_traits_), "one_d": bool(self._one_d),
                "best_val_loss": float(self.best_val_loss_), **arrays}

    def _restore_state(self, payload: dict) -> None:
        self.n_traits_ = int(payload["n_traits"])
        self._one_d = bool(payload["one_d"])
        self.best_val_loss_ = float(payload["best_val_loss"])
        for k in ("x_mean", "x_scale", "y_mean", "y_scale", "feature_importances"):
            setattr(self, f"{k}_", payload[k].numpy())
        self._update_selection()

    # ------------------------------------------------------------------ standardisation
    def _x(self, X) -> np.ndarray:
        return ((X - self.x_mean_) / self.x_scale_).astype(np.float32)

    def _split(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        frac = float(self.validation_fraction)
        if frac <= 0:
            return np.arange(n), np.empty(0, dtype=np.int64)
        n_val = int(round(frac * n))
        if n_val < 1 or n - n_val < 2:
            raise InputDataError(
                f"validation_fraction {frac} leaves {n - n_val} training and {n_val} validation "
                f"rows out of {n}; give more samples or set validation_fraction=0."
            )
        perm = rng.permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    # ------------------------------------------------------------------ API
    def fit(self, X, y, *, X_val=None, y_val=None, callbacks=()):
        """Train the network with early stopping on a validation split.

        Parameters
        ----------
        X : array-like (n, P)
            Inputs (markers and loadings), no missing values.
        y : array-like (n,) or (n, T)
            Trait values; NaN = missing (masked in the loss). Each trait needs at least two
            observed values.
        X_val, y_val : optional
            Explicit validation data for early stopping (never the test fold). Without them,
            ``validation_fraction`` of the rows are held out.
        callbacks : sequence of :class:`genoapp.train.Callback`
            Progress, stop flag, Optuna pruning; called as by
            :func:`genoapp.train.train_module`.

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            Bad shapes, missing inputs, a trait with fewer than two observed values.
        ConfigError
            Bad hyper-parameters or an unavailable device.
        """
        return super().fit(X, y, X_val=X_val, y_val=y_val, callbacks=callbacks)

    def _update_selection(self) -> None:
        imp = self.feature_importances_
        scaled = imp / imp.max() if self.importance_scale == "max" and imp.max() > 0 else imp
        self.selected_ = scaled >= float(self.importance_threshold)
        self.n_selected_ = int(self.selected_.sum())

    def selected_at(self, threshold: float) -> np.ndarray:
        """Selection mask ``(P,)`` at another threshold (same ``importance_scale``)."""
        self._check_fitted()
        imp = self.feature_importances_
        scaled = imp / imp.max() if self.importance_scale == "max" and imp.max() > 0 else imp
        return scaled >= float(threshold)

    def _forward(self, Xs: np.ndarray, what: str) -> np.ndarray:
        if what == "weights":
            out = self._predict_batches(Xs, lambda m, xb: m.selection(xb)[0].cpu().numpy())
        else:
            out = self._predict_batches(Xs, lambda m, xb: m(xb).cpu().numpy())
        if not out:
            return np.empty((0, self.n_features_in_ if what == "weights" else self.n_traits_))
        return np.concatenate(out).astype(np.float64)

    def _mean_weights(self, Xs: np.ndarray) -> np.ndarray:
        w = self._forward(Xs, "weights")
        return w.mean(axis=0) if w.shape[0] else np.full(self.n_features_in_, np.nan)

    def predict(self, X) -> np.ndarray:
        """Trait predictions in trait units.

        Parameters
        ----------
        X : array-like (n, P)

        Returns
        -------
        numpy.ndarray
            ``(n, T)``, or ``(n,)`` when ``fit`` got a 1-D ``y``.
        """
        Xs = self._x(self._check_predict_X(X))
        pred = self._forward(Xs, "predict") * self.y_scale_ + self.y_mean_
        return pred[:, 0] if self._one_d else pred

    def selection_weights(self, X) -> np.ndarray:
        """Per-sample selection weights ``w`` (n, P), rows summing to 1 (eval mode)."""
        return self._forward(self._x(self._check_predict_X(X)), "weights")

    def score(self, X, y, sample_weight=None):
        """Mean R^2 over traits (scikit-learn's ``r2_score`` on observed values)."""
        from sklearn.metrics import r2_score

        pred = np.asarray(self.predict(X))
        Y, _ = _as_targets(y, "y", pred.shape[0])
        P = pred[:, None] if pred.ndim == 1 else pred
        scores = [r2_score(Y[~np.isnan(Y[:, t]), t], P[~np.isnan(Y[:, t]), t],
                           sample_weight=None if sample_weight is None
                           else np.asarray(sample_weight)[~np.isnan(Y[:, t])])
                  for t in range(Y.shape[1])]
        return float(np.mean(scores))
