"""Outer repeated k-fold cross-validation for quantitative traits (DESIGN §4.5).

Protocol, for every outer fold (the test fold is never seen before it is scored):

1. **Split**: repeated k-fold over samples (:func:`repeated_kfold`; default 5 folds x 2
   repeats in the app, 5 x 10 in the "paper" preset), or folds given by the user
   (:func:`folds_from_labels`, e.g. BGLR's fold file).
2. **Standardise with training statistics** (:class:`FoldScaler`): missing genotypes are
   imputed with the training-fold mean of their column, every input column is centred and
   scaled with the training fold's mean and SD (constant columns become 0), every trait with
   the mean and SD of its observed training values. Test rows are transformed with those
   statistics.
3. **Fit** each model on the training rows only. Single-trait models (ridge, LassoNet, the
   Gibbs samplers) are fitted once per trait on the training rows where that trait is
   observed; GRVSNN is fitted once on all traits, missing values masked in its loss.
   GRVSNN's hyper-parameters are tuned **inside the training fold** (:func:`tune_grvsnn`):
   Optuna's TPE sampler over batch size 64-512, learning rate 1e-5-1e-3 (log), dropout
   0.1-0.5 and weight decay 1e-6-1e-2 (log); each trial trains on the training fold minus an
   inner validation split (20 %) with early stopping on it (patience 25) and is scored by its
   best validation loss; the first trial is the estimator's defaults; unpromising trials are
   pruned (Optuna's median rule). The best trial's network is the fold's model.
4. **Score** on the outer test fold: MSE, Pearson r and dCor per trait
   (:func:`genoapp.metrics.regression_metrics`) on the standardised scale of the training
   fold (MSE 1 = no better than the training mean), and the number of selected inputs
   (``selected_`` of the model: GRVSNN importance >= threshold, Bayesian 95 % credible
   intervals excluding 0, LassoNet non-zero inputs), split into markers and loadings.

The published GRVSNN code tuned and early-stopped on the fold it scored, which inflates its
table; this protocol does not.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.metrics import regression_metrics
from genoapp.train.callbacks import Callback

__all__ = [
    "PRESETS",
    "CVConfig",
    "CVResult",
    "Fold",
    "FoldScaler",
    "ModelSpec",
    "cross_validate",
    "folds_from_labels",
    "grvsnn_spec",
    "repeated_kfold",
    "summarize_scores",
    "tune_grvsnn",
]


@dataclasses.dataclass(frozen=True)
class CVConfig:
    """Settings of the cross-validation protocol (saved with every run).

    Attributes
    ----------
    n_splits : int, default 5
        Outer folds per repeat.
    n_repeats : int, default 2
        Repeats of the k-fold split with different shuffles.
    validation_fraction : float, default 0.2
        Inner validation split of each training fold (early stopping and tuning of GRVSNN).
    patience : int, default 25
        Early-stopping patience in epochs.
    max_epochs : int, default 100
        Upper limit of epochs per GRVSNN fit.
    n_trials : int, default 5
        Optuna trials per training fold (1 = the defaults only, no search).
    batch_size_range : tuple of int, default (64, 512)
    learning_rate_range : tuple of float, default (1e-5, 1e-3)
        Searched on a log scale.
    dropout_range : tuple of float, default (0.1, 0.5)
    weight_decay_range : tuple of float, default (1e-6, 1e-2)
        Searched on a log scale.
    prune : bool, default True
        Stop unpromising trials early: Optuna's ``MedianPruner`` (after the first, default
        trial and 10 epochs, a trial whose validation loss is worse than the median of earlier
        trials at the same epoch is stopped).
    importance_threshold : float, default 0.05
        GRVSNN: importance at or above which an input counts as selected.
    random_state : int, default 0
        Seeds the fold shuffles, the inner splits, Optuna and the models.
    label : str
        Human-readable name of the preset.
    """

    n_splits: int = 5
    n_repeats: int = 2
    validation_fraction: float = 0.2
    patience: int = 25
    max_epochs: int = 100
    n_trials: int = 5
    batch_size_range: tuple = (64, 512)
    learning_rate_range: tuple = (1e-5, 1e-3)
    dropout_range: tuple = (0.1, 0.5)
    weight_decay_range: tuple = (1e-6, 1e-2)
    prune: bool = True
    importance_threshold: float = 0.05
    random_state: int = 0
    label: str = "custom"

    def __post_init__(self):
        for name in ("n_splits", "n_repeats", "patience", "max_epochs", "n_trials"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ConfigError(f"CVConfig.{name}: must be a positive integer, got {v!r}.")
        if self.n_splits < 2:
            raise ConfigError(f"CVConfig.n_splits: need at least 2 folds, got {self.n_splits}.")
        if not 0.0 < float(self.validation_fraction) < 0.9:
            raise ConfigError(
                f"CVConfig.validation_fraction: must be in (0, 0.9), got "
                f"{self.validation_fraction!r}."
            )
        for name in ("batch_size_range", "learning_rate_range", "dropout_range",
                     "weight_decay_range"):
            lo, hi = getattr(self, name)
            if not (float(lo) > 0 or name == "dropout_range") or float(lo) > float(hi):
                raise ConfigError(f"CVConfig.{name}: need 0 < low <= high, got ({lo}, {hi}).")
        if not 0.0 <= float(self.dropout_range[1]) < 1.0:
            raise ConfigError("CVConfig.dropout_range: dropout must stay below 1.")

    def to_dict(self) -> dict:
        """Plain dict (JSON-serialisable) of the settings."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}


#: Named presets. "app": fast enough for a laptop or 2 CPU cores; "paper": the paper's
#: 5-fold x 10-repeat design with a real Optuna budget (hours on a CPU, use a GPU).
PRESETS = {
    "app": CVConfig(label="App default: 5-fold CV x 2 repeats, 5 Optuna trials per fold, "
                          "at most 100 epochs"),
    "paper": CVConfig(n_repeats=10, n_trials=30, max_epochs=1000,
                      label="Paper settings: 5-fold CV x 10 repeats, 30 Optuna trials per "
                            "fold, at most 1,000 epochs (slow: use a GPU)"),
}


@dataclasses.dataclass(frozen=True, repr=False)
class Fold:
    """One outer fold: ``repeat`` and ``fold`` (1-based), row indices of training and test."""

    repeat: int
    fold: int
    train_idx: np.ndarray
    test_idx: np.ndarray

    def __repr__(self) -> str:
        return (f"Fold(repeat={self.repeat}, fold={self.fold}, n_train={self.train_idx.size}, "
                f"n_test={self.test_idx.size})")


def repeated_kfold(n: int, *, n_splits: int = 5, n_repeats: int = 2,
                   random_state: int = 0) -> list[Fold]:
    """Repeated k-fold split of ``n`` rows (``sklearn.model_selection.RepeatedKFold``).

    Parameters
    ----------
    n : int
        Number of samples.
    n_splits, n_repeats : int
    random_state : int

    Returns
    -------
    list of Fold
        ``n_splits * n_repeats`` folds; within a repeat the test folds partition the rows.

    Raises
    ------
    ConfigError
        Fewer samples than folds.
    """
    from sklearn.model_selection import RepeatedKFold

    if n < n_splits:
        raise ConfigError(f"{n} samples cannot be split into {n_splits} folds.")
    rkf = RepeatedKFold(n_splits=int(n_splits), n_repeats=int(n_repeats),
                        random_state=int(random_state))
    out = []
    for k, (tr, te) in enumerate(rkf.split(np.zeros((n, 1)))):
        out.append(Fold(repeat=k // n_splits + 1, fold=k % n_splits + 1,
                        train_idx=np.sort(tr).astype(np.int64), test_idx=np.sort(te).astype(np.int64)))
    return out


def folds_from_labels(labels) -> list[Fold]:
    """Folds from a fold label per sample (e.g. BGLR's ``sample(rep(1:5, ...))``).

    Parameters
    ----------
    labels : array-like (n,)
        Fold label of each row (any sortable values); each distinct label is one test fold.

    Returns
    -------
    list of Fold
        One repeat; folds in sorted label order, numbered 1..k.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0:
        raise InputDataError(f"fold labels: expected a 1-D array, got shape {lab.shape}.")
    if pd.isna(lab).any():
        raise InputDataError("fold labels: some samples have no fold; give every sample one.")
    values = np.unique(lab)
    if values.size < 2:
        raise InputDataError(f"fold labels: need at least 2 folds, found {values.size}.")
    return [Fold(repeat=1, fold=k + 1, train_idx=np.flatnonzero(lab != v).astype(np.int64),
                 test_idx=np.flatnonzero(lab == v).astype(np.int64))
            for k, v in enumerate(values)]


class FoldScaler:
    """Training-fold imputation and standardisation of inputs and traits.

    ``fit(X_train, Y_train)`` stores column means (NaN ignored) and SDs of the inputs and of
    each trait's observed values; ``transform_x`` fills missing inputs with the training mean
    and standardises (constant columns -> 0); ``transform_y`` / ``inverse_y`` standardise
    traits and back.
    """

    def fit(self, X, Y) -> FoldScaler:
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(X, axis=0) if np.isnan(X).any() else X.mean(axis=0)
        mean = np.where(np.isnan(mean), 0.0, mean)
        filled = np.where(np.isnan(X), mean, X)
        sd = filled.std(axis=0)
        self.x_mean_ = mean
        self.x_scale_ = np.where(sd > 1e-12, sd, np.inf)  # constant column -> 0
        self.y_mean_ = np.nanmean(Y, axis=0)
        ysd = np.nanstd(Y, axis=0)
        self.y_scale_ = np.where(ysd > 1e-12, ysd, 1.0)
        return self

    def transform_x(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        X = np.where(np.isnan(X), self.x_mean_, X)
        return ((X - self.x_mean_) / self.x_scale_).astype(np.float32)

    def transform_y(self, Y) -> np.ndarray:
        return (np.asarray(Y, dtype=np.float64) - self.y_mean_) / self.y_scale_

    def inverse_y(self, Z) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) * self.y_scale_ + self.y_mean_


@dataclasses.dataclass
class ModelSpec:
    """A model to cross-validate.

    Attributes
    ----------
    name : str
        Display name ("GRVSNN", "BRR", ...).
    make : callable
        ``make(random_state) -> estimator`` with ``fit(X, y)``/``predict(X)`` and optionally
        ``selected_`` (bool mask over inputs, or None) and ``feature_importances_``.
    multi_trait : bool
        Fit once on all traits (``Y`` (n, T) with NaN masked) instead of once per trait.
    tuned : bool
        GRVSNN: tune hyper-parameters inside each training fold with :func:`tune_grvsnn`
        (``make`` is then ignored; the fixed parameters are in ``params``).
    params : dict
        Fixed parameters of a tuned model (e.g. ``n_hidden``, ``gate``).
    """

    name: str
    make: Callable | None = None
    multi_trait: bool = False
    tuned: bool = False
    params: dict = dataclasses.field(default_factory=dict)


def grvsnn_spec(name: str = "GRVSNN", **params) -> ModelSpec:
    """The GRVSNN model spec: multi-trait, tuned inside each training fold.

    ``params`` are fixed :class:`~genoapp.models.grvsnn.GRVSNNRegressor` parameters
    (``n_hidden``, ``gate``, ``importance_scale``, ``device`` ...); the searched ones come from
    the :class:`CVConfig`.
    """
    return ModelSpec(name=name, multi_trait=True, tuned=True, params=dict(params))


class _OptunaPruning(Callback):
    """Report the validation loss to an Optuna trial; stop training when it should be pruned."""

    def __init__(self, trial):
        self.trial = trial
        self.pruned = False

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if "val_loss" in logs and math.isfinite(logs["val_loss"]):
            self.trial.report(float(logs["val_loss"]), epoch)
            if self.trial.should_prune():
                self.pruned = True

    def should_stop(self) -> bool:
        return self.pruned


def _stop_requested(stop) -> bool:
    if stop is None:
        return False
    if hasattr(stop, "should_stop"):
        return bool(stop.should_stop())
    return bool(stop())


def tune_grvsnn(X, Y, *, config: CVConfig = PRESETS["app"], params: dict | None = None,
                random_state: int = 0, callbacks: Sequence[Callback] = (), stop=None):
    """Tune and fit GRVSNN on one training set with Optuna (TPE), no test data involved.

    Parameters
    ----------
    X : array-like (n, P)
        Training inputs (standardised).
    Y : array-like (n, T)
        Training traits (standardised), NaN = missing.
    config : CVConfig
        Search ranges, number of trials, inner validation fraction, patience, max epochs.
    params : dict, optional
        Fixed :class:`~genoapp.models.grvsnn.GRVSNNRegressor` parameters.
    random_state : int
        Seeds the TPE sampler, the inner validation split and the networks (the same split
        and initialisation for every trial, so trials differ only by their parameters).
    callbacks : sequence of Callback
        Passed to every fit (progress, stop flag).
    stop : object with ``should_stop()`` or callable, optional
        Checked after every trial; ends the search (the best model so far is returned).

    Returns
    -------
    model : GRVSNNRegressor
        The best trial's fitted network (trained on the training set minus the inner
        validation split, early-stopped on it).
    trials : pandas.DataFrame
        One row per trial: ``trial``, ``value`` (best validation loss), ``state``
        (COMPLETE/PRUNED), ``epochs``, and the parameters.

    Raises
    ------
    InputDataError
        Bad data (see :meth:`GRVSNNRegressor.fit`).
    """
    import optuna

    from genoapp.models.grvsnn import GRVSNNRegressor

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fixed = dict(params or {})
    fixed.setdefault("importance_threshold", config.importance_threshold)
    sampler = optuna.samplers.TPESampler(seed=int(random_state))
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=1,
                                          n_warmup_steps=min(10, config.patience))
              if config.prune else optuna.pruners.NopPruner())
    study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)
    defaults = GRVSNNRegressor()
    lo_b, hi_b = (int(v) for v in config.batch_size_range)
    lo_l, hi_l = (float(v) for v in config.learning_rate_range)
    lo_d, hi_d = (float(v) for v in config.dropout_range)
    lo_w, hi_w = (float(v) for v in config.weight_decay_range)
    study.enqueue_trial({
        "batch_size": int(np.clip(fixed.get("batch_size", defaults.batch_size), lo_b, hi_b)),
        "learning_rate": float(np.clip(fixed.get("learning_rate", defaults.learning_rate),
                                       lo_l, hi_l)),
        "dropout": float(np.clip(fixed.get("dropout", defaults.dropout), lo_d, hi_d)),
        "weight_decay": float(np.clip(fixed.get("weight_decay", defaults.weight_decay),
                                      lo_w, hi_w)),
    })
    best: dict = {"model": None, "value": math.inf}
    rows: list[dict] = []

    def objective(trial):
        searched = {
            "batch_size": trial.suggest_int("batch_size", lo_b, hi_b, log=True),
            "learning_rate": trial.suggest_float("learning_rate", lo_l, hi_l, log=True),
            "dropout": trial.suggest_float("dropout", lo_d, hi_d),
            "weight_decay": trial.suggest_float("weight_decay", lo_w, hi_w, log=True),
        }
        kw = {**fixed, **searched}
        kw.update(validation_fraction=config.validation_fraction, patience=config.patience,
                  max_epochs=config.max_epochs, random_state=int(random_state))
        pruning = _OptunaPruning(trial)
        model = GRVSNNRegressor(**kw).fit(X, Y, callbacks=[pruning, *callbacks])
        value = float(model.best_val_loss_)
        state = "PRUNED" if pruning.pruned else "COMPLETE"
        rows.append({"trial": trial.number + 1, "value": value, "state": state,
                     "epochs": len(model.history_), **searched})
        if math.isfinite(value) and value < best["value"]:
            best.update(model=model, value=value)
        if pruning.pruned:
            raise optuna.TrialPruned()
        return value

    def maybe_stop(study_, trial_):
        if _stop_requested(stop) or any(cb.should_stop() for cb in callbacks):
            study_.stop()

    study.optimize(objective, n_trials=int(config.n_trials), callbacks=[maybe_stop],
                   catch=())
    if best["model"] is None:  # every trial pruned or non-finite: refit the defaults
        kw = {**fixed, "validation_fraction": config.validation_fraction,
              "patience": config.patience, "max_epochs": config.max_epochs,
              "random_state": int(random_state)}
        best["model"] = GRVSNNRegressor(**kw).fit(X, Y, callbacks=list(callbacks))
    return best["model"], pd.DataFrame(rows)


def summarize_scores(scores: pd.DataFrame, by=("model", "trait")) -> pd.DataFrame:
    """Mean and SD over outer folds of per-fold test scores.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per (fold, model, trait) with ``mse``, ``r``, ``dcor``, ``n_selected``,
        ``n_selected_markers``, ``n_selected_loadings``, ``seconds`` (``CVResult.scores``).
    by : sequence of str, default ("model", "trait")
        Grouping columns, in output order (e.g. ``("inputs", "model", "trait")``).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``folds``, ``mse_mean``, ``mse_sd``, ``r_mean``, ``r_sd``,
        ``dcor_mean``, ``dcor_sd`` (SD with ddof = 1), ``n_selected_mean``,
        ``n_selected_markers_mean``, ``n_selected_loadings_mean``, ``seconds_mean``; groups in
        order of first appearance.
    """
    by = list(by)
    if scores.empty:
        return pd.DataFrame(columns=[*by, "folds"])
    g = scores.groupby(by, sort=False)
    out = g.size().rename("folds").reset_index()
    for c in ("mse", "r", "dcor"):
        out[f"{c}_mean"] = g[c].mean().to_numpy()
        out[f"{c}_sd"] = g[c].std(ddof=1).to_numpy()
    for c in ("n_selected", "n_selected_markers", "n_selected_loadings", "seconds"):
        out[f"{c}_mean"] = g[c].mean().to_numpy()
    return out


@dataclasses.dataclass
class CVResult:
    """Everything the protocol measured.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per (model, trait, repeat, fold): ``n_train``, ``n_test``, ``mse``, ``r``,
        ``dcor``, ``n_selected``, ``n_selected_markers``, ``n_selected_loadings`` (NaN for
        models that do not select), ``seconds`` (fit time; shared by the traits of a
        multi-trait model).
    predictions : pandas.DataFrame
        One row per test prediction: ``model``, ``trait``, ``repeat``, ``fold``, ``row``
        (index into the input rows), ``observed``, ``predicted`` (trait units),
        ``observed_std``, ``predicted_std`` (training-fold standardised scale).
    tuning : pandas.DataFrame
        Optuna trials of every fold (``repeat``, ``fold``, ``model`` and the trial table of
        :func:`tune_grvsnn`).
    traits : list of str
    feature_names : list of str
    feature_groups : numpy.ndarray
        ``(P,)`` group of each input (``"marker"``, ``"loading"``).
    config : CVConfig
    stopped : bool
        True when a stop request ended the run early (results cover the folds completed).
    seconds : float
    notes : list of str
    """

    scores: pd.DataFrame
    predictions: pd.DataFrame
    tuning: pd.DataFrame
    traits: list
    feature_names: list
    feature_groups: np.ndarray
    config: CVConfig
    stopped: bool = False
    seconds: float = 0.0
    notes: list = dataclasses.field(default_factory=list)
    _importance: dict = dataclasses.field(default_factory=dict, repr=False)

    def summary(self) -> pd.DataFrame:
        """Mean and SD over folds per model and trait.

        Returns
        -------
        pandas.DataFrame
            ``model``, ``trait``, ``folds``, ``mse_mean``, ``mse_sd``, ``r_mean``, ``r_sd``,
            ``dcor_mean``, ``dcor_sd``, ``n_selected_mean``, ``n_selected_markers_mean``,
            ``n_selected_loadings_mean``, ``seconds_mean``; model order as run.
        """
        return summarize_scores(self.scores)

    def importance(self, model: str, trait: str | None = None) -> pd.DataFrame:
        """Per-input importance and selection frequency of one model, over the folds.

        Parameters
        ----------
        model : str
        trait : str, optional
            For single-trait models, the trait (default the first); multi-trait models have
            one selection for all traits.

        Returns
        -------
        pandas.DataFrame
            ``feature``, ``group``, ``importance`` (mean over folds of
            ``feature_importances_``; NaN when the model has none), ``selected_fraction``
            (fraction of folds in which the input was selected; NaN when the model does not
            select), sorted by importance, then selection frequency, descending.

        Raises
        ------
        ConfigError
            Unknown model or trait.
        """
        keys = [k for k in self._importance if k[0] == model]
        if not keys:
            raise ConfigError(f"No model {model!r} in these results; models: "
                              f"{sorted({k[0] for k in self._importance})}.")
        key = keys[0] if trait is None or keys[0][1] == "(all traits)" else (model, trait)
        if key not in self._importance:
            raise ConfigError(f"No trait {trait!r} for model {model!r}.")
        acc = self._importance[key]
        nan = np.full(len(self.feature_names), np.nan)
        imp = acc["imp_sum"] / acc["n_imp"] if acc["n_imp"] else nan
        sel = acc["sel_sum"] / acc["n_sel"] if acc["n_sel"] else nan
        df = pd.DataFrame({"feature": self.feature_names, "group": self.feature_groups,
                           "importance": imp, "selected_fraction": sel})
        return df.sort_values(["importance", "selected_fraction"], ascending=False,
                              na_position="last", kind="stable").reset_index(drop=True)

    def importance_models(self) -> list[tuple[str, str]]:
        """``(model, trait)`` pairs that have an importance or selection table."""
        return [k for k, v in self._importance.items() if v["n_imp"] or v["n_sel"]]


def _count_selected(mask, groups: np.ndarray) -> tuple[float, float, float]:
    if mask is None:
        return math.nan, math.nan, math.nan
    m = np.asarray(mask, dtype=bool)
    if m.shape != groups.shape:
        return math.nan, math.nan, math.nan
    return (float(m.sum()), float((m & (groups == "marker")).sum()),
            float((m & (groups == "loading")).sum()))


def cross_validate(
    X,
    Y,
    *,
    models: Sequence[ModelSpec],
    folds: Sequence[Fold] | None = None,
    config: CVConfig = PRESETS["app"],
    traits: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    feature_groups=None,
    progress: Callable[[dict], None] | None = None,
    stop=None,
    callbacks: Sequence[Callback] = (),
) -> CVResult:
    """Run the outer CV protocol (module docstring) for several models and traits.

    Parameters
    ----------
    X : array-like (n, P)
        Inputs: markers (dosages, NaN = missing) and optional loadings; not modified.
    Y : array-like (n, T) or (n,)
        Trait values, NaN = missing.
    models : sequence of ModelSpec
    folds : sequence of Fold, optional
        Default :func:`repeated_kfold` with the config's ``n_splits``, ``n_repeats`` and
        ``random_state``.
    config : CVConfig
    traits : sequence of str, optional
        Trait names (default ``trait1`` ...).
    feature_names : sequence of str, optional
    feature_groups : array-like of str, optional
        ``"marker"`` or ``"loading"`` per input (default all markers).
    progress : callable, optional
        Called with a dict after every fit: ``done``, ``total`` (fits), ``repeat``, ``fold``,
        ``model``, ``trait``, ``seconds``, ``message`` and ``result`` (the :class:`CVResult`
        so far, so a caller can keep partial results when the run is interrupted).
    stop : object with ``should_stop()`` or callable, optional
        Checked between fits and inside GRVSNN training; the run ends with the folds done.
    callbacks : sequence of Callback
        Extra training callbacks for GRVSNN (e.g. a live epoch display).

    Returns
    -------
    CVResult

    Raises
    ------
    InputDataError
        Shapes differ, a trait is all missing, a fold holds rows outside ``X``.
    ConfigError
        No models, bad fold indices.
    """
    t_start = time.perf_counter()
    Xa = np.asarray(X)
    if Xa.ndim != 2 or Xa.shape[0] == 0 or Xa.shape[1] == 0:
        raise InputDataError(f"X: expected a non-empty (samples x inputs) matrix, got {Xa.shape}.")
    Ya = np.asarray(Y, dtype=np.float64)
    if Ya.ndim == 1:
        Ya = Ya[:, None]
    if Ya.shape[0] != Xa.shape[0]:
        raise InputDataError(f"Y: {Ya.shape[0]} rows for {Xa.shape[0]} input rows.")
    n, P = Xa.shape
    T = Ya.shape[1]
    traits = list(traits) if traits is not None else [f"trait{t + 1}" for t in range(T)]
    if len(traits) != T:
        raise InputDataError(f"traits: {len(traits)} names for {T} trait columns.")
    empty = [traits[t] for t in range(T) if np.isfinite(Ya[:, t]).sum() < 10]
    if empty:
        raise InputDataError(f"Traits with fewer than 10 observed values: {empty}; drop them.")
    names = list(feature_names) if feature_names is not None else [f"x{j + 1}" for j in range(P)]
    groups = (np.asarray(feature_groups, dtype=object) if feature_groups is not None
              else np.full(P, "marker", dtype=object))
    if len(names) != P or groups.shape != (P,):
        raise InputDataError(f"feature_names/feature_groups: need {P} entries each.")
    if not models:
        raise ConfigError("models: choose at least one model.")
    folds = list(folds) if folds is not None else repeated_kfold(
        n, n_splits=config.n_splits, n_repeats=config.n_repeats, random_state=config.random_state)
    for f in folds:
        if f.train_idx.size == 0 or f.test_idx.size == 0 or f.train_idx.max() >= n or \
                f.test_idx.max() >= n or np.intersect1d(f.train_idx, f.test_idx).size:
            raise ConfigError(f"{f}: indices must be disjoint, non-empty rows of X (0..{n - 1}).")

    score_rows: list[dict] = []
    pred_parts: list[pd.DataFrame] = []
    tuning_parts: list[pd.DataFrame] = []
    importance: dict = {}
    for spec in models:
        for tr in (["(all traits)"] if spec.multi_trait else traits):
            importance[(spec.name, tr)] = {"imp_sum": np.zeros(P), "n_imp": 0,
                                           "sel_sum": np.zeros(P), "n_sel": 0, "n": 0}
    total = len(folds) * sum(1 if s.multi_trait else T for s in models)
    done = 0
    stopped = False
    notes: list[str] = []

    def result() -> CVResult:
        return CVResult(
            scores=pd.DataFrame(score_rows, columns=[
                "model", "trait", "repeat", "fold", "n_train", "n_test", "mse", "r", "dcor",
                "n_selected", "n_selected_markers", "n_selected_loadings", "seconds"]),
            predictions=(pd.concat(pred_parts, ignore_index=True) if pred_parts else
                         pd.DataFrame(columns=["model", "trait", "repeat", "fold", "row",
                                               "observed", "predicted", "observed_std",
                                               "predicted_std"])),
            tuning=pd.concat(tuning_parts, ignore_index=True) if tuning_parts else pd.DataFrame(),
            traits=traits, feature_names=names, feature_groups=groups, config=config,
            stopped=stopped, seconds=time.perf_counter() - t_start, notes=list(notes),
            _importance=importance)

    def record(spec, trait_idx, fold, Ztest_pred, scaler, n_train, secs, model, key_trait):
        te = fold.test_idx
        for t in trait_idx:
            y_obs = Ya[te, t]
            ok = np.isfinite(y_obs)
            if ok.sum() < 2:
                continue
            obs_std = (y_obs[ok] - scaler.y_mean_[t]) / scaler.y_scale_[t]
            pred_std = Ztest_pred[ok, t] if Ztest_pred.ndim == 2 else Ztest_pred[ok]
            m = regression_metrics(obs_std, pred_std)
            sel = getattr(model, "selected_", None)
            k_all, k_m, k_l = _count_selected(sel, groups)
            score_rows.append({"model": spec.name, "trait": traits[t], "repeat": fold.repeat,
                               "fold": fold.fold, "n_train": int(n_train),
                               "n_test": int(ok.sum()), "mse": m["mse"], "r": m["r"],
                               "dcor": m["dcor"], "n_selected": k_all,
                               "n_selected_markers": k_m, "n_selected_loadings": k_l,
                               "seconds": secs})
            pred_parts.append(pd.DataFrame({
                "model": spec.name, "trait": traits[t], "repeat": fold.repeat,
                "fold": fold.fold, "row": te[ok], "observed": y_obs[ok],
                "predicted": pred_std * scaler.y_scale_[t] + scaler.y_mean_[t],
                "observed_std": obs_std, "predicted_std": pred_std}))
        acc = importance[(spec.name, key_trait)]
        acc["n"] += 1
        imp = getattr(model, "feature_importances_", None)
        if imp is not None and np.shape(imp) == (P,):
            acc["imp_sum"] += np.asarray(imp, dtype=np.float64)
            acc["n_imp"] += 1
        sel = getattr(model, "selected_", None)
        if sel is not None and np.shape(sel) == (P,):
            acc["sel_sum"] += np.asarray(sel, dtype=np.float64)
            acc["n_sel"] += 1

    def tick(spec, fold, trait, secs):
        nonlocal done
        done += 1
        if progress is not None:
            progress({"done": done, "total": total, "repeat": fold.repeat, "fold": fold.fold,
                      "model": spec.name, "trait": trait, "seconds": secs,
                      "message": f"repeat {fold.repeat}, fold {fold.fold}: {spec.name} "
                                 f"({trait}) in {secs:.1f} s", "result": result()})

    stop_cbs = [stop] if stop is not None and hasattr(stop, "should_stop") else []

    def stopping() -> bool:
        return _stop_requested(stop) or any(cb.should_stop() for cb in callbacks)
    for fold in folds:
        if stopping():
            stopped = True
            break
        tr, te = fold.train_idx, fold.test_idx
        scaler = FoldScaler().fit(Xa[tr], Ya[tr])
        Xtr = scaler.transform_x(Xa[tr])
        Xte = scaler.transform_x(Xa[te])
        Ztr = scaler.transform_y(Ya[tr])
        for spec in models:
            if stopping():
                stopped = True
                break
            seed = int(config.random_state) + 1000 * fold.repeat + fold.fold
            if spec.multi_trait:
                t0 = time.perf_counter()
                if spec.tuned:
                    model, trials = tune_grvsnn(Xtr, Ztr, config=config, params=spec.params,
                                                random_state=seed,
                                                callbacks=[*stop_cbs, *callbacks], stop=stop)
                    if len(trials):
                        trials.insert(0, "model", spec.name)
                        trials.insert(0, "fold", fold.fold)
                        trials.insert(0, "repeat", fold.repeat)
                        tuning_parts.append(trials)
                else:
                    model = spec.make(seed).fit(Xtr, Ztr)
                if stopping():
                    stopped = True
                    break
                secs = time.perf_counter() - t0
                pred = np.asarray(model.predict(Xte), dtype=np.float64).reshape(len(te), T)
                record(spec, range(T), fold, pred, scaler, len(tr), secs, model, "(all traits)")
                tick(spec, fold, "all traits", secs)
            else:
                for t in range(T):
                    if stopping():
                        stopped = True
                        break
                    obs = np.isfinite(Ztr[:, t])
                    t0 = time.perf_counter()
                    model = spec.make(seed).fit(Xtr[obs], Ztr[obs, t])
                    secs = time.perf_counter() - t0
                    pred = np.asarray(model.predict(Xte), dtype=np.float64).reshape(len(te))
                    full = np.zeros((len(te), T))
                    full[:, t] = pred
                    record(spec, [t], fold, full, scaler, int(obs.sum()), secs, model, traits[t])
                    tick(spec, fold, traits[t], secs)
                if stopped:
                    break
        if stopped:
            break
    if stopped:
        notes.append(f"Stopped on request after {done} of {total} fits; the tables cover the "
                     "folds completed.")
    return result()
