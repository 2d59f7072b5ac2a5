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

These are the **paper's equations** (``linear_path=False, weight_scale="sum",
importance_scale="sum", n_screened=None``; the registry's "GRVSNN (paper equations)").

**genoapp's default** adds a linear path and lets the network learn what it leaves, as the
skip connection of LassoNet (Lemhadri et al. 2021) and of residual networks does:

``y_hat = x B + b0 + s * network(x_S)``

- ``B, b0``: ridge regression (the GBLUP equivalent) of every trait on all P inputs, penalty by
  exact leave-one-out CV (:func:`genoapp.models.ridge.ridge_leave_one_out`), fitted once on all
  the rows given to :meth:`GRVSNNRegressor.fit` and then fixed;
- ``network``: the equations above on the ``n_screened`` (300) inputs ``S`` with the largest
  ridge attributions ``sum_t |B_jt| mean|x_j|`` (screening: a 16-unit network on 10,000 inputs
  has ~500,000 weights for ~1,500 mice and overfits in a few epochs), with the selection
  weights scaled to average 1 (``weight_scale="mean"``: ``|S| w``; the paper's weights are
  ~1/P each, which shrinks the network's output by P); its output layer starts at zero, so
  the untrained model is the ridge regression;
- targets of the network: the ridge's **leave-one-out residuals** (honest out-of-sample errors
  of the additive model, not its in-sample residuals, which ridge has already shrunk towards
  0): the module is trained towards ``x B + b0 + e_LOO``;
- ``s`` in [0, 1] per trait: the least-squares weight of the network's part on the inner
  validation rows (``residual_scale_``), so a network that does not generalise is switched
  off (s = 0) rather than added to the ridge.

Loss: the mean squared error of each standardised trait over the samples where it is
observed, summed over traits (missing trait values are masked, so a sample with some traits
missing still teaches the others). Training: Adam with weight decay (L2), mini-batches,
early stopping on an inner validation split (patience 25 by default), the weights of the best
validation epoch kept. Hyper-parameters are tuned by :mod:`genoapp.workflows.protocol` (Optuna TPE
inside the training folds) under the paper preset; the quick preset uses the defaults.

Feature importance and selection. Paper's equations: the selection weights ``w`` averaged over
the training samples (``feature_importances_``, summing to 1); an input is **selected** when
its importance is at or above ``importance_threshold`` (0.05, as in the paper), on the raw
scale (``importance_scale="sum"``) or relative to the largest (``"max"``); the paper does not
say which. Measured on a trait simulated on the mice genotypes (5 QTL, h2 0.5), these weights
select no QTL: softmax(LayerNorm(z)) follows the standardised genotype values of each sample
(rare homozygotes get large weights), not the effects. Default (``importance_scale="null"``):
``feature_importances_`` = the whole model's gradient x input attribution
``sum_t mean_i |x_ij d y_hat_it / d x_ij|`` (normalised to sum 1); an input is **selected** when
its additive attribution ``sum_t |B_jt| mean|x_j|`` exceeds the (1 - importance_threshold)
quantile of the largest attribution of any input in 100 ridge fits on permuted traits (a
family-wise test at level 0.05; the permutations reuse one eigendecomposition). On the
simulated trait it selects 25 markers, 56 % of them within 3 markers of a QTL (2 % by chance)
and 4 of the 5 QTL themselves (``tests/test_grvsnn.py``).

Notes: measured ablations (``benchmarks/grvsnn_ablation.py``; mice, markers, BGLR's 5 folds,
quick preset, test r per trait BodyLength / BMI, paired difference from ridge):

=====================================  ===============  ===================
variant                                r                vs ridge
=====================================  ===============  ===================
ridge (GBLUP)                          0.381 / 0.271    0
paper equations                        0.184 / 0.164    -0.198 / -0.107
paper, no LayerNorm                    0.263 / 0.138    -0.118 / -0.134
paper, weights x P                     0.215 / 0.115    -0.167 / -0.156
paper, learning rate 1e-2 / 1e-4       0.217 / 0.151,   -0.16 / -0.12,
                                       0.203 / 0.098    -0.18 / -0.17
paper, width 128                       0.206 / 0.124    -0.176 / -0.147
paper, dropout 0.5                     0.254 / 0.212    -0.127 / -0.060
paper, weight decay 1e-2               0.115 / 0.101    -0.266 / -0.170
paper, 300 epochs; Optuna 5 trials     0.184 / 0.164    (unchanged: early
                                                        stopping and the
                                                        first trial won)
linear path, network on all inputs     0.381 / 0.271    -0.001 / 0.000
  same, weights summing to 1; width 64 0.381 / 0.271    0.000 / 0.000
  same, Optuna 5 trials                0.381 / 0.271    -0.001 / 0.000
  same, one trait at a time            0.381 / 0.265    0.000 / -0.006
linear path, network on the top 100    0.378 / 0.296    -0.004 / +0.025
linear path, network on the top 300    0.381 / 0.292    -0.001 / +0.021
linear path, network on the top 1,000  0.380 / 0.281    -0.002 / +0.010
=====================================  ===============  ===================

On the wheat (markers, 4 environments, 5 folds) the paper's equations lose 0.14-0.26 r to
ridge (without the LayerNorm 0.002-0.09), the default is within -0.001..+0.004 of ridge, and
5 Optuna trials leave both unchanged (the defaults win on validation in every fold).

No setting of the paper's network reaches ridge: it starts far from the additive model that
explains most of the genetic variance of these traits and overfits 10,000 inputs within a few
epochs. With the linear path it cannot do worse than ridge by more than the noise of the
validation split, and on BMI, where LassoNet's sparse effects also beat ridge, the screened
network adds +0.02 r.

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
from genoapp.models.callbacks import EarlyStopping
from genoapp.models.ridge import ridge_leave_one_out
from genoapp.models.training import evaluate_module

#: Permutations of the traits behind the selection null (``importance_scale="null"``).
_N_PERMUTATIONS = 100

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
                 dropout: float = 0.2, gate: str = "sigmoid", linear_path: bool = False,
                 layer_norm: bool = True, weight_scale: str = "sum",
                 n_screened: int | None = None):
        super().__init__()
        if gate not in ("sigmoid", "hard_sigmoid"):
            raise ConfigError(f"gate: must be 'sigmoid' or 'hard_sigmoid', got {gate!r}.")
        if weight_scale not in ("sum", "mean"):
            raise ConfigError(f"weight_scale: must be 'sum' or 'mean', got {weight_scale!r}.")
        self.gate_kind = gate
        self.use_norm = bool(layer_norm)
        self.n_inputs = int(n_features)
        self.screened = bool(n_screened) and int(n_screened) < n_features
        if self.screened:
            if not linear_path:
                raise ConfigError("n_screened: screening uses the linear path's effects; it "
                                  "needs linear_path=True.")
            n_features = int(n_screened)  # the network sees these inputs only
            self.register_buffer("screen_index", torch.arange(n_features))
        # "sum": w sums to 1 over the network's inputs (paper, each ~1/P); "mean": averaging 1
        self.weight_factor = float(n_features) if weight_scale == "mean" else 1.0
        self.fc1 = nn.Linear(n_features, n_hidden)       # W1
        self.fc2 = nn.Linear(n_hidden, n_hidden)         # the inner Linear of f2
        self.dropout = nn.Dropout(float(dropout))
        self.value = nn.Linear(n_hidden, n_features)     # W2
        self.gate = nn.Linear(n_hidden, n_features)      # W3
        self.norm = nn.LayerNorm(n_features)
        self.out = nn.Linear(n_features, n_traits)
        self.linear_path = bool(linear_path)
        if self.linear_path:
            # fixed (not trained): the ridge path B, b0 and the weight s of the network's part
            self.register_buffer("linear_weight", torch.zeros(n_traits, self.n_inputs))
            self.register_buffer("linear_bias", torch.zeros(n_traits))
            self.register_buffer("residual_scale", torch.ones(n_traits))

    def selection(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w, z_hat)``: selection weights (B, K), rows summing to 1, and the normalised
        GRN output (B, K); K = P, or the screened inputs (``screen_index``) only."""
        if self.screened:
            x = x[:, self.screen_index]
        f1 = F.elu(self.fc1(x))
        f2 = self.dropout(self.fc2(f1))
        h = self.value(f2)
        a = self.gate(f2)
        g = torch.sigmoid(a) if self.gate_kind == "sigmoid" else hard_sigmoid(a)
        z = g * h + (1.0 - g) * x
        z_hat = self.norm(z) if self.use_norm else z
        return torch.softmax(z_hat, dim=1), z_hat

    def network(self, x: torch.Tensor) -> torch.Tensor:
        """The network's part ``V z' + c`` (B, T), without the linear path."""
        w, z_hat = self.selection(x)
        return self.out(self.weight_factor * w * z_hat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, P)`` standardised inputs -> ``(B, T)`` standardised trait predictions:
        ``x B' + b0 + s * network(x)`` with the linear path, else ``network(x)``."""
        net = self.network(x)
        if not self.linear_path:
            return net
        return x @ self.linear_weight.T + self.linear_bias + self.residual_scale * net


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
    linear_path : bool, default True
        Add the fixed ridge path and train the network on its leave-one-out residuals
        (module docstring); False = the paper's equations.
    n_screened : int or None, default 300
        With the linear path: the network sees only the inputs with the largest ridge
        attributions (None or 0, or >= P: every input). Ignored without the linear path.
    layer_norm : bool, default True
        The LayerNorm over the network's inputs (paper); False for the ablation.
    weight_scale : {"mean", "sum"}, default "mean"
        Selection weights averaging 1 (``K w``) or summing to 1 (paper) in ``z' = w * z_hat``.
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
        "sum"/"max": inputs with importance at or above this are "selected" (paper: 0.05);
        "null": the family-wise error rate of the permutation test.
    importance_scale : {"null", "sum", "max"}, default "null"
        "null" (needs the linear path): importance = gradient x input attribution of the whole
        model, selection = additive attribution above the permutation null (module
        docstring); "sum"/"max": importance = mean selection weights (summing to 1 over the P
        inputs), threshold on them or on them divided by the largest one.
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
        ``(P,)`` sums to 1: the share of the gradient x input attribution ("null"), or the mean
        selection weight of each input over the training rows ("sum", "max").
    linear_coef_, linear_intercept_ : numpy.ndarray or None
        ``(P, T)`` and ``(T,)`` ridge path (standardised units); None without the path.
    linear_alpha_ : numpy.ndarray or None
        ``(T,)`` ridge penalties chosen by leave-one-out CV.
    residual_scale_ : numpy.ndarray or None
        ``(T,)`` weight s of the network's part, chosen on the validation rows (1 without).
    screen_index_ : numpy.ndarray or None
        Column indices of the inputs the network sees (None: all).
    feature_attribution_, linear_attribution_ : numpy.ndarray
        ("null" only) ``(P,)`` whole-model and additive attributions (standardised units).
    null_max_attribution_ : numpy.ndarray
        ("null" only) ``(100,)`` the largest additive attribution in each permutation.
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
    _format_version = 2  # 2: the linear path (files of version 1 load as linear_path=False)
    _module_attr = "model_"
    _epochs_param = "max_epochs"
    _monitor = "val_loss"
    _what = "GRVSNN model"
    _x_messages = {
        "what": "inputs",
        "missing_hint": "Impute missing genotypes first (the protocol uses training-fold means).",
        "mismatch_hint": "Build the inputs (markers, loadings) the same way as for training.",
    }

    def __init__(self, *, n_hidden=64, dropout=0.2, gate="sigmoid", linear_path=True,
                 n_screened=300, layer_norm=True, weight_scale="mean", learning_rate=1e-3,
                 weight_decay=1e-4, batch_size=128, max_epochs=300, patience=25, validation_fraction=0.2, importance_threshold=0.05,
                 importance_scale="null", standardize=True, device="auto", random_state=0):
        self.n_hidden = n_hidden
        self.dropout = dropout
        self.gate = gate
        self.linear_path = linear_path
        self.n_screened = n_screened
        self.layer_norm = layer_norm
        self.weight_scale = weight_scale
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
        if self.importance_scale not in ("sum", "max", "null"):
            raise ConfigError(
                f"importance_scale: must be 'sum', 'max' or 'null', got {self.importance_scale!r}."
            )
        if self.importance_scale == "null" and self.linear_path is False:
            raise ConfigError("importance_scale='null' compares attributions with the linear "
                              "path refitted on permuted traits: it needs linear_path=True "
                              "(use 'sum' or 'max' for the paper's equations).")
        if self.gate not in ("sigmoid", "hard_sigmoid"):
            raise ConfigError(f"gate: must be 'sigmoid' or 'hard_sigmoid', got {self.gate!r}.")
        for flag in ("linear_path", "layer_norm"):
            if not isinstance(getattr(self, flag), bool | np.bool_):
                raise ConfigError(f"{flag}: must be True or False, got {getattr(self, flag)!r}.")
        if self.weight_scale not in ("sum", "mean"):
            raise ConfigError(f"weight_scale: must be 'sum' or 'mean', got {self.weight_scale!r}.")
        k = self.n_screened
        if k is not None and (isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0):
            raise ConfigError(f"n_screened: None, 0 (every input) or a positive integer, got {k!r}.")

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
            Ys, Yv = self._linear_targets(Xs, Ys, Xv, Yv)
            return FitData(Xs, Ys, Xv, Yv)
        Ys, _ = self._linear_targets(Xs, Ys, None, None)
        tr, va = self._split(Xs.shape[0], np.random.default_rng(int(self.random_state)))
        if va.size:
            return FitData(Xs[tr], Ys[tr], Xs[va], Ys[va])
        return FitData(Xs[tr], Ys[tr])

    def _linear_targets(self, Xs, Ys, Xv, Yv):
        """Fit the linear path (ridge on every row given, validation rows included) and return
        the network's targets ``fitted + leave-one-out residual``: the module's output minus
        the fixed linear part is then trained towards honest residuals of the additive model."""
        if not self.linear_path:
            self.linear_coef_ = self.linear_intercept_ = self.linear_alpha_ = None
            self.screen_index_ = None
            return Ys, Yv
        X_all = Xs if Xv is None else np.concatenate([Xs, Xv])
        Y_all = Ys if Yv is None else np.concatenate([Ys, Yv])
        null = self.importance_scale == "null"
        ridge = ridge_leave_one_out(X_all, Y_all, n_permutations=_N_PERMUTATIONS if null else 0,
                                    random_state=int(self.random_state))
        self.linear_coef_ = ridge.coef.astype(np.float32)
        self.linear_intercept_ = ridge.intercept.astype(np.float32)
        self.linear_alpha_ = ridge.alpha
        mean_abs = np.abs(Xs).mean(axis=0, dtype=np.float64)
        k = self._n_screened(Xs.shape[1])
        # screening: the network sees the k inputs with the largest linear attributions
        self.screen_index_ = (None if k is None else np.sort(np.argsort(
            -(np.abs(ridge.coef).sum(axis=1) * mean_abs), kind="stable")[:k]).astype(np.int64))
        # the additive attribution of each input, tested against its permutation null
        self.linear_attribution_ = np.abs(ridge.coef).sum(axis=1) * mean_abs
        if null:  # largest attribution of any input when no input is associated with the traits
            self.null_max_attribution_ = (np.abs(ridge.null_coef).sum(axis=2)
                                          * mean_abs).max(axis=1)
        target = (ridge.fitted + ridge.loo_residuals).astype(np.float32)  # NaN stays missing
        n = Xs.shape[0]
        return target[:n], (None if Xv is None else target[n:])

    def _build_module(self, n_features: int) -> GRVSNNNet:
        return GRVSNNNet(n_features, self.n_traits_, n_hidden=int(self.n_hidden),
                         dropout=float(self.dropout), gate=self.gate,
                         linear_path=bool(self.linear_path), layer_norm=bool(self.layer_norm),
                         weight_scale=self.weight_scale, n_screened=self._n_screened(n_features))

    def _n_screened(self, n_features: int) -> int | None:
        k = self.n_screened
        return int(k) if k and self.linear_path and int(k) < n_features else None

    def _init_module(self, module: GRVSNNNet) -> None:
        if not self.linear_path:
            return
        with torch.no_grad():
            module.linear_weight.copy_(torch.from_numpy(self.linear_coef_.T.copy()))
            module.linear_bias.copy_(torch.from_numpy(self.linear_intercept_))
            if module.screened:
                module.screen_index.copy_(torch.from_numpy(self.screen_index_))
            # the network's part starts at 0: the untrained model is the ridge regression
            module.out.weight.zero_()
            module.out.bias.zero_()

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
        self.residual_scale_ = self._fit_residual_scale(data) if self.linear_path else None
        if self.importance_scale == "null":
            self.feature_attribution_ = self._attribution(data.X)
            total = self.feature_attribution_.sum()
            self.feature_importances_ = self.feature_attribution_ / (total if total > 0 else 1.0)
        else:
            self.feature_importances_ = self._mean_weights(data.X)
        self._update_selection()

    def _attribution(self, Xs: np.ndarray) -> np.ndarray:
        """``(P,)`` gradient x input attribution of the whole model (linear path and network):
        ``sum_t mean_i |x_ij d y_hat_it / d x_ij|`` over the rows ``Xs`` (standardised units;
        for the linear path alone this is ``sum_t |b_jt| mean_i |x_ij|``)."""
        module = self.model_
        module.eval()
        device = next(module.parameters()).device
        total = torch.zeros(Xs.shape[1], dtype=torch.float64, device=device)
        for s in range(0, Xs.shape[0], self._predict_batch_size):
            xb = torch.from_numpy(Xs[s:s + self._predict_batch_size]).to(device)
            xb.requires_grad_(True)
            out = module(xb)
            for t in range(out.shape[1]):
                (g,) = torch.autograd.grad(out[:, t].sum(), xb, retain_graph=t < out.shape[1] - 1)
                total += (xb.detach() * g).abs().sum(dim=0, dtype=torch.float64)
        return (total / max(1, Xs.shape[0])).cpu().numpy()

    def _fit_residual_scale(self, data: FitData) -> np.ndarray:
        """Per trait, the weight ``s`` in [0, 1] of the network's part that minimises the
        validation error of ``linear + s * network`` (least squares, clipped): 0 when the
        network does not improve on the additive model for that trait, 1 without validation
        rows. Written into the module's ``residual_scale``."""
        T = self.n_traits_
        scale = np.ones(T)
        if data.X_val is not None and data.X_val.shape[0]:
            Xv = data.X_val
            net = np.concatenate(self._predict_batches(
                Xv, lambda m, xb: m.network(xb).cpu().numpy())).astype(np.float64)
            resid = (data.y_val.astype(np.float64) - self.linear_intercept_
                     - Xv.astype(np.float64) @ self.linear_coef_.astype(np.float64))
            for t in range(T):
                ok = np.isfinite(resid[:, t])
                den = float(np.sum(net[ok, t] ** 2))
                scale[t] = 0.0 if den <= 0 else float(np.clip(
                    np.sum(net[ok, t] * resid[ok, t]) / den, 0.0, 1.0))
        with torch.no_grad():
            self.model_.residual_scale.copy_(torch.from_numpy(scale.astype(np.float32)))
        return scale

    def _extra_state(self) -> dict:
        arrays = {k: torch.from_numpy(np.asarray(getattr(self, f"{k}_"), dtype=np.float64))
                  for k in ("x_mean", "x_scale", "y_mean", "y_scale", "feature_importances")}
        linear = ({} if not self.linear_path else
                  {"linear_alpha": torch.from_numpy(np.asarray(self.linear_alpha_, dtype=np.float64))})
        if self.importance_scale == "null":
            linear.update({k: torch.from_numpy(np.asarray(getattr(self, f"{k}_"), np.float64))
                           for k in ("feature_attribution", "linear_attribution",
                                     "null_max_attribution")})
        return {"n_traits": int(self.n_traits_), "one_d": bool(self._one_d),
                "best_val_loss": float(self.best_val_loss_), **arrays, **linear}

    def _restore_state(self, payload: dict) -> None:
        self.n_traits_ = int(payload["n_traits"])
        self._one_d = bool(payload["one_d"])
        self.best_val_loss_ = float(payload["best_val_loss"])
        for k in ("x_mean", "x_scale", "y_mean", "y_scale", "feature_importances"):
            setattr(self, f"{k}_", payload[k].numpy())
        if int(payload.get("format_version", 1)) < 2:
            # written before these options existed: the paper's equations
            self.linear_path, self.layer_norm, self.weight_scale = False, True, "sum"
        sd = payload["state_dict"]
        if self.linear_path:
            self.linear_coef_ = sd["linear_weight"].numpy().T.copy()
            self.linear_intercept_ = sd["linear_bias"].numpy().copy()
            self.linear_alpha_ = payload["linear_alpha"].numpy()
            self.residual_scale_ = sd["residual_scale"].numpy().astype(np.float64)
            self.screen_index_ = (sd["screen_index"].numpy().astype(np.int64)
                                  if "screen_index" in sd else None)
            if self.importance_scale == "null":
                self.feature_attribution_ = payload["feature_attribution"].numpy()
                self.linear_attribution_ = payload["linear_attribution"].numpy()
                self.null_max_attribution_ = payload["null_max_attribution"].numpy()
        else:
            self.linear_coef_ = self.linear_intercept_ = self.linear_alpha_ = None
            self.residual_scale_ = self.screen_index_ = None
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
        self.selected_ = self._selected(float(self.importance_threshold))
        self.n_selected_ = int(self.selected_.sum())

    def _selected(self, threshold: float) -> np.ndarray:
        if self.importance_scale == "null":
            if threshold <= 0:
                return np.ones(self.feature_attribution_.shape, dtype=bool)
            cut = np.quantile(self.null_max_attribution_, 1.0 - min(1.0, threshold))
            return self.linear_attribution_ > cut
        imp = self.feature_importances_
        scaled = imp / imp.max() if self.importance_scale == "max" and imp.max() > 0 else imp
        return scaled >= threshold

    def selected_at(self, threshold: float) -> np.ndarray:
        """Selection mask ``(P,)`` at another threshold (same ``importance_scale``; with
        ``"null"`` the threshold is the family-wise error rate)."""
        self._check_fitted()
        return self._selected(float(threshold))

    def _forward(self, Xs: np.ndarray, what: str) -> np.ndarray:
        if what == "weights":
            out = self._predict_batches(Xs, lambda m, xb: m.selection(xb)[0].cpu().numpy())
            idx = getattr(self, "screen_index_", None)
            if idx is not None:  # weights of the screened inputs, 0 for the others
                full = [np.zeros((w.shape[0], self.n_features_in_), dtype=w.dtype) for w in out]
                for f, w in zip(full, out, strict=True):
                    f[:, idx] = w
                out = full
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
