"""The one evaluation protocol for case/control and quantitative traits (DESIGN §4.3, §4.5).

Outer splits × seeds × tuning inside the training part, identical for every model:

1. **Outer splits** (:class:`genoapp.train.OuterFold`): case/control uses one balanced test
   split drawn before anything is fitted and repeats the whole protocol once per seed
   (:func:`genoapp.train.holdout_folds`); quantitative traits use repeated k-fold
   cross-validation (:func:`genoapp.train.repeated_kfold`) or folds given by the user. Each
   outer fold carries its seed; every model sees the same folds and seeds.
2. **Training-part preprocessing** (``standardize=True``, quantitative traits): missing inputs
   are imputed with the training mean of their column, inputs are centred and scaled with the
   training part's mean and SD (constant columns become 0), every trait with the mean and SD
   of its observed training values (:class:`FoldScaler`); the test part is transformed with
   those statistics. Case/control features arrive already fitted on the training samples
   (Gene-PCA on training samples).
3. **Tuning inside the training part**: inner validation folds (case/control: balanced 1:1
   folds, :func:`genoapp.train.balanced_kfold`, with the fitting part upsampled 1:1;
   quantitative: a random hold-out of ``validation_fraction`` of the training rows, or k
   folds). Every candidate (a grid, Optuna's TPE over the spec's search space, or the fixed
   defaults) is fitted on each fold's fitting part and scored on its validation part by
   ``select_by``; the best mean wins. Torch models also early-stop / pick their best epoch on
   the validation part; with Optuna, unpromising torch trials are pruned (median rule).
   A model with nothing to choose (one candidate, not a torch model) skips validation unless
   ``always_validate`` (the case/control default: every model gets a validation score).
4. **Final model**: torch models with ``validation="holdout"`` keep the best candidate's fold
   model (trained on the fitting part, best epoch chosen on the held-out part, as the
   DiseaseCapsule authors trained) unless ``holdout_refit`` (the quick case/control preset);
   otherwise the model is refitted on the whole training part with the chosen values (torch:
   for the median best epoch of the folds).
5. **Scoring on the outer test part**, once per final model: accuracy, precision, recall, F1,
   ROC AUC (case/control); MSE, Pearson r and distance correlation per trait on the
   training-standardised scale (quantitative), and the number of selected inputs
   (``selected_`` of the model), split into markers and loadings.

Single-output regressors (ridge, LassoNet, the Gibbs samplers) are fitted once per trait on
the training rows where that trait is observed; multi-output models (GRVSNN) once on all
traits with missing values masked. Training can be stopped at any time through a
:class:`genoapp.train.StopFlag`: a running torch fit ends after its current mini-batch and the
task keeps the best model fitted so far (its row says ``stopped``); later tasks are skipped.

**Where the tasks run.** Every task (one model on one input and outer fold, and trait) is an
independent job: :func:`_task_job` runs it on a copy of the protocol's engine and returns what
it produced (metric and fold rows, predictions, the final model...), and the caller merges the
pieces in task order. In-process (the default) the tasks run one after the other with live
events, as always; inside :func:`genoapp.execution.use_executor` with a Dask setting they run
on the cluster's workers (:meth:`genoapp.execution.Executor.map`), and the result is the same
(same seeds, same merge order). Torch fits are identical when this process trains with one
thread, as each worker does (``OMP_NUM_THREADS=1``); with more threads their floating-point sums
differ, and so do their metrics, slightly (e.g. a test ROC AUC by 1e-4). Optuna trials inside one task stay sequential: TPE proposes each trial
from the earlier ones, so running them at once would change the search.

The protocol knows nothing about the app: progress is reported as plain dict events
(:func:`run_protocol`), and the result (:class:`ProtocolResult`) is what the run store, the
HTML report and the pages read.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterGrid

from genoapp.errors import ConfigError, GenoappError, InputDataError
from genoapp.execution import JobsStopped, current_executor
from genoapp.logs import get_logger
from genoapp.metrics import (
    classification_metrics,
    classification_uncertainty,
    fold_interval,
    regression_metrics,
)
from genoapp.models.callbacks import Callback, EarlyStopping, StopFlag
from genoapp.train.splits import OuterFold, balanced_kfold, upsample_minority

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "SNP_INPUT",
    "FittedModel",
    "FoldScaler",
    "StagedInput",
    "ModelSpec",
    "ProtocolConfig",
    "ProtocolResult",
    "TaskKey",
    "case_scores",
    "certainty_table",
    "comparison_table",
    "plan_tasks",
    "run_protocol",
    "summarize",
]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("mse", "r", "dcor")
#: Input name of the QC'd SNP dosages (PRS models).
SNP_INPUT = "SNPs"
_TASKS = ("classification", "regression")
_log = get_logger(__name__)


# ------------------------------------------------------------------------------- model specs
@dataclasses.dataclass
class ModelSpec:
    """A model of the registry: how to build it and which hyper-parameters to tune.

    Attributes
    ----------
    key : str
        Short identifier ("capsule", "logreg", "grvsnn", "ridge", ...), used in file names.
    name : str
        Display name in tables ("DiseaseCapsule", "Ridge (GBLUP)", ...).
    factory : callable
        ``factory(**params, random_state=seed)`` (plus ``device=...`` for torch models) returns
        an unfitted estimator with ``fit`` and ``predict`` (classifiers also
        ``predict_proba`` or ``decision_function``).
    task : {"classification", "regression"}
    params : dict
        Fixed hyper-parameters (the preset's values).
    grid : dict of str -> list
        Candidate values of the tuned hyper-parameters (grid search; Optuna samples among them
        unless ``space`` says otherwise). Empty: nothing to tune.
    space : dict of str -> tuple
        Optuna distributions: ``("float", low, high, log)``, ``("int", low, high[, log])`` or
        ``("categorical", values)``. Parameters missing here use ``grid`` as categorical; a
        parameter only in ``space`` is searched by Optuna only.
    first_trial : dict
        Values Optuna tries first (e.g. the estimator's defaults).
    input : {"features", "snps"}
        Fitted on every feature input, or on the QC'd SNP dosages (PRS models).
    is_torch : bool
        ``fit`` accepts ``X_val``, ``y_val`` and ``callbacks`` (live curves, stop button,
        best-epoch selection on the validation part).
    takes_device : bool
        The factory takes ``device=`` although ``fit`` is not a genoapp torch fit (LassoNet).
    upsample : bool, default True
        Case/control: fit on the 1:1 upsampled training samples (False: models that must not
        see duplicated samples, e.g. a GWAS inside the model).
    multi_output : bool, default False
        Regression: fit once on all traits (``y`` of shape (n, T), NaN masked) instead of once
        per trait.
    epochs_param : str or None, default "epochs"
        Parameter set to the median best epoch when a torch model is refitted on the whole
        training part (``validation="cv"``).
    refit_params : dict
        Extra fixed values for that refit (e.g. no inner validation split).
    early_stopping : bool, default True
        Torch models: the protocol's early stopping (``ProtocolConfig.patience``) applies;
        False for models that stop themselves (GRVSNN's own ``patience``).
    slow : bool
        Minutes per fit on a CPU at typical sizes (the page says so).
    description : str
        One line for the app (what the model is, where its defaults come from).
    """

    key: str
    name: str
    factory: Callable[..., Any]
    task: str = "classification"
    params: dict = dataclasses.field(default_factory=dict)
    grid: dict = dataclasses.field(default_factory=dict)
    space: dict = dataclasses.field(default_factory=dict)
    first_trial: dict = dataclasses.field(default_factory=dict)
    input: str = "features"
    is_torch: bool = False
    takes_device: bool = False
    upsample: bool = True
    multi_output: bool = False
    epochs_param: str | None = "epochs"
    early_stopping: bool = True
    refit_params: dict = dataclasses.field(default_factory=dict)
    slow: bool = False
    description: str = ""

    def __post_init__(self):
        if self.task not in _TASKS:
            raise ConfigError(f"ModelSpec {self.key}: task must be one of {_TASKS}, got {self.task!r}.")
        if self.input not in ("features", "snps"):
            raise ConfigError(f"ModelSpec {self.key}: input must be 'features' or 'snps', got {self.input!r}.")
        for k, v in self.grid.items():
            if not isinstance(v, list | tuple) or len(v) == 0:
                raise ConfigError(f"ModelSpec {self.key}: grid[{k!r}] must be a non-empty list.")

    @property
    def tuned_names(self) -> list[str]:
        """Names of the tuned hyper-parameters (grid and search space)."""
        return list(dict.fromkeys([*self.grid, *self.space]))

    def build(self, params: dict, *, random_state: int, device: str = "auto"):
        """An unfitted estimator with ``params`` over the fixed ones, seeded."""
        kwargs = {**self.params, **params, "random_state": int(random_state)}
        if self.is_torch or self.takes_device:
            kwargs["device"] = device
        return self.factory(**kwargs)

    def with_params(self, **fixed) -> ModelSpec:
        """A copy with more fixed parameters; a fixed name leaves the grid and search space."""
        return dataclasses.replace(
            self, params={**self.params, **fixed},
            grid={k: v for k, v in self.grid.items() if k not in fixed},
            space={k: v for k, v in self.space.items() if k not in fixed},
            first_trial={k: v for k, v in self.first_trial.items() if k not in fixed})

    def describe(self) -> dict:
        """JSON-able settings (for the run record)."""
        return {"key": self.key, "name": self.name, "task": self.task, "params": self.params,
                "grid": self.grid, "space": {k: list(v) for k, v in self.space.items()},
                "input": self.input, "upsample": self.upsample, "multi_output": self.multi_output}


# ------------------------------------------------------------------------------- config
@dataclasses.dataclass
class ProtocolConfig:
    """Settings of :func:`run_protocol` (defaults: the case/control quick preset).

    Attributes
    ----------
    task : {"classification", "regression"}, default "classification"
    seeds : tuple of int, default (0, 1, 2)
        Case/control: one full repetition per seed on the fixed test split (folds, upsampling,
        model initialisation); the tables report mean ± SD over seeds.
    n_splits, n_repeats : int, default 5, 1
        Quantitative traits: outer k-fold cross-validation repeated ``n_repeats`` times.
    n_folds : int, default 5
        Inner validation folds inside the training part (case/control: balanced; reduced
        automatically, to at least 2, for a rare class, with a note).
    validation : {"holdout", "cv"}, default "holdout"
        "holdout": one validation part (the first balanced fold, or a random
        ``validation_fraction`` of the training rows for quantitative traits); "cv": all
        ``n_folds`` folds, then a refit on the whole training part.
    validation_fraction : float, default 0.2
        Quantitative traits: size of the hold-out validation part.
    holdout_refit : bool, default False
        Torch models with ``validation="holdout"``: False keeps the fold model (trained on the
        fitting part, its best epoch chosen on the held-out part, as the DiseaseCapsule authors
        trained); True refits on the whole training part for that best epoch (no data left
        out of the final model, at the cost of one more fit).
    tuning : {"grid", "optuna", "none"}, default "grid"
        Grid search over each model's ``grid``; Optuna TPE (``n_trials`` trials, seeded, over
        ``space`` and ``grid``); or no tuning (first grid values).
    n_trials : int, default 10
        Optuna trials per model and outer fold.
    prune : bool, default False
        Optuna's median pruner for torch models (after the first trial and 10 epochs, a trial
        whose validation loss is worse than the median of earlier trials is stopped).
    select_by : str, default "roc_auc"
        Validation metric that picks the hyper-parameters: "roc_auc", "accuracy" or "f1"
        (classification); "mse" or "r" (regression).
    patience : int or None, default None
        Early stopping of torch fits that have validation data: stop after this many epochs
        without a lower validation loss (the weights of the best validation epoch are kept in
        any case). None: train the model's full epochs.
    share_tuning : bool, default False
        Case/control: outer folds with the same training samples (the seeds of one test split)
        share the hyper-parameter search: it runs on the first seed's inner folds and later
        seeds fit the chosen values (still validated, for early stopping and the best epoch).
        Saves most of the tuning time of several seeds; each seed still differs in its folds,
        upsampling and initialisation.
    always_validate : bool, default True
        Fit every model on the validation folds even when there is nothing to choose (one
        candidate, not a torch model), so that each has a validation score (case/control).
        False skips those fits (quantitative presets: Gibbs samplers take minutes per fit).
    standardize : bool, default False
        Impute and standardise inputs and traits with training-part statistics (quantitative
        traits; :class:`FoldScaler`).
    random_state : int, default 0
        Quantitative traits: seeds the outer folds (fold ``(r, k)`` gets seed
        ``random_state + 1000 r + k``).
    device : str, default "auto"
        Torch device of the neural networks.
    label : str
        Human-readable name of the preset.
    """

    task: str = "classification"
    seeds: tuple = (0, 1, 2)
    n_splits: int = 5
    n_repeats: int = 1
    n_folds: int = 5
    validation: str = "holdout"
    validation_fraction: float = 0.2
    holdout_refit: bool = False
    tuning: str = "grid"
    n_trials: int = 10
    prune: bool = False
    select_by: str = "roc_auc"
    patience: int | None = None
    share_tuning: bool = False
    always_validate: bool = True
    standardize: bool = False
    random_state: int = 0
    device: str = "auto"
    label: str = ""

    def __post_init__(self):
        if self.task not in _TASKS:
            raise ConfigError(f"task: one of {_TASKS}, got {self.task!r}.")
        self.seeds = tuple(int(s) for s in self.seeds)
        if not self.seeds:
            raise ConfigError("seeds: give at least one seed.")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: repeated values in {self.seeds}.")
        for name in ("n_splits", "n_repeats", "n_folds", "n_trials"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ConfigError(f"{name}: a positive integer, got {v!r}.")
        if self.n_folds < 2:
            raise ConfigError(f"n_folds: an integer >= 2, got {self.n_folds!r} (paper: 5).")
        if self.n_splits < 2:
            raise ConfigError(f"n_splits: need at least 2 outer folds, got {self.n_splits}.")
        if self.validation not in ("holdout", "cv"):
            raise ConfigError(f"validation: 'holdout' or 'cv', got {self.validation!r}.")
        if not 0.0 < float(self.validation_fraction) < 0.9:
            raise ConfigError(f"validation_fraction: in (0, 0.9), got {self.validation_fraction!r}.")
        if self.tuning not in ("grid", "optuna", "none"):
            raise ConfigError(f"tuning: 'grid', 'optuna' or 'none', got {self.tuning!r}.")
        allowed = ("roc_auc", "accuracy", "f1") if self.task == "classification" else ("mse", "r")
        if self.select_by not in allowed:
            raise ConfigError(f"select_by: one of {allowed} for {self.task}, got {self.select_by!r}.")
        if self.patience is not None and (isinstance(self.patience, bool) or int(self.patience) < 1):
            raise ConfigError(f"patience: a positive number of epochs or None, got {self.patience!r}.")

    def to_dict(self) -> dict:
        """Plain dict (JSON-serialisable) of the settings."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> ProtocolConfig:
        """Inverse of :meth:`to_dict` (unknown keys are refused with a ConfigError)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"protocol settings: unknown keys {unknown}; known: {sorted(names)}.")
        return cls(**{k: (tuple(v) if k == "seeds" else v) for k, v in d.items()})

    @property
    def metrics(self) -> tuple[str, ...]:
        """The test metrics of this task."""
        return CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS


# ------------------------------------------------------------------------------- scaling
class FoldScaler:
    """Training-part imputation and standardisation of inputs and traits.

    ``fit(X_train, Y_train)`` stores column means (NaN ignored) and SDs of the inputs and of
    each trait's observed values; ``transform_x`` fills missing inputs with the training mean
    and standardises (constant columns -> 0); ``transform_y`` / ``inverse_y`` standardise
    traits and back.
    """

    def fit(self, X, Y) -> FoldScaler:
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        Y = Y[:, None] if Y.ndim == 1 else Y
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
        Y = np.asarray(Y, dtype=np.float64)
        return ((Y[:, None] if Y.ndim == 1 else Y) - self.y_mean_) / self.y_scale_

    def inverse_y(self, Z) -> np.ndarray:
        Z = np.asarray(Z, dtype=np.float64)
        return (Z[:, None] if Z.ndim == 1 else Z) * self.y_scale_ + self.y_mean_


class FittedModel:
    """A final model together with what its outer fold fitted before it.

    Predicts from the raw input of the protocol (e.g. SNP dosages, NaN = missing; markers and
    loadings): the nested feature stage (:class:`StagedInput`, e.g. the association filter and
    Gene-PCA fitted on the fold's training samples), then the training-fold scaling
    (quantitative traits), then the model; regression predictions come back in trait units.
    Saved runs keep the parts, so a saved model is self-contained.

    Parameters
    ----------
    model : fitted estimator
    stage : fitted transformer, optional
        ``transform(X_raw) -> features`` (``feature_names_``, ``feature_gene_``).
    scaler : FoldScaler, optional
    trait_index : int, optional
        Column of the trait a single-output regressor predicts (for its scaling), or the
        column of a multi-output model to return.
    """

    def __init__(self, model, *, stage=None, scaler: FoldScaler | None = None,
                 trait_index: int | None = None):
        self.model = model
        self.stage = stage
        self.scaler = scaler
        self.trait_index = trait_index

    def features(self, X) -> np.ndarray:
        """The model's inputs for raw rows ``X`` (stage, then scaling)."""
        X = self.stage.transform(X) if self.stage is not None else np.asarray(X)
        return self.scaler.transform_x(X) if self.scaler is not None else X

    def predict(self, X) -> np.ndarray:
        """Predicted classes, or trait values in trait units (``(n,)``; multi-output: the
        ``trait_index`` column, or ``(n, T)`` without one)."""
        z = np.asarray(self.model.predict(self.features(X)))
        if self.scaler is None:
            return z
        z = z.astype(np.float64)
        z = z[:, None] if z.ndim == 1 else z
        t = self.trait_index or 0
        if z.shape[1] == self.scaler.y_mean_.size:
            z = self.scaler.inverse_y(z)
        else:  # a single-output model of trait t
            z = z * self.scaler.y_scale_[t] + self.scaler.y_mean_[t]
        if self.trait_index is not None and z.shape[1] > 1:
            return z[:, self.trait_index]
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_proba(self, X) -> np.ndarray:
        return self.model.predict_proba(self.features(X))

    def decision_function(self, X) -> np.ndarray:
        return self.model.decision_function(self.features(X))

    def __getattr__(self, name):  # fitted attributes of the wrapped model
        if name in ("model", "stage", "scaler", "trait_index") or name.startswith("__"):
            raise AttributeError(name)
        if name in ("predict_proba", "decision_function") and not hasattr(self.model, name):
            raise AttributeError(name)
        return getattr(self.model, name)


@dataclasses.dataclass
class StagedInput:
    """An input whose features are fitted inside every training part (a nested step).

    For every outer fold, each candidate of ``grid`` builds a stage (``make_stage(**params)``,
    e.g. :class:`genoapp.features.AssociationFilter`: GWAS then Gene-PCA), fits it on the
    fitting part of each inner validation fold (real rows, not upsampled), and scores it with
    the ``reference`` model on the validation part; the best mean wins and is refitted on the
    whole training part, whose features every model then uses. No validation or test sample
    enters the stage that chose the candidate; the models' own validation scores are computed
    on features whose stage saw their validation rows (optimistic, for ranking only), the test
    scores are honest.

    Attributes
    ----------
    data : array-like (n_samples, n_raw)
        Raw input of every row (e.g. QC'd SNP dosages, NaN = missing).
    make_stage : callable
        ``make_stage(**params)`` -> unfitted transformer with ``fit(X, y)``, ``transform(X)``,
        ``feature_names_``, ``feature_gene_``.
    grid : dict of str -> list
        Candidate stage parameters (e.g. ``{"top_genes": [5, 10, 15, 20, 30, 40]}``).
    reference : ModelSpec
        Scores the candidates (e.g. logistic regression with fixed C).
    n_folds : int, default 5
        Inner folds for the choice (balanced, case/control).
    """

    data: object
    make_stage: Callable
    grid: dict
    reference: ModelSpec
    n_folds: int = 5


def case_scores(estimator, X) -> np.ndarray:
    """Continuous case score of a fitted binary classifier (higher = more likely a case).

    ``predict_proba(X)[:, 1]`` when available, else ``decision_function(X)``.
    """
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(X), dtype=np.float64)[:, 1]
    return np.asarray(estimator.decision_function(X), dtype=np.float64)


# ------------------------------------------------------------------------------- tasks
class TaskKey(NamedTuple):
    """One unit of the queue: a model on an input and outer fold (and trait)."""

    key: str
    input: str
    trait: str
    repeat: int
    fold: int
    seed: int


def plan_tasks(models: Sequence[ModelSpec], feature_inputs: Sequence[str], *, has_snps: bool,
               outer: Sequence[OuterFold], traits: Sequence[str]) -> list[TaskKey]:
    """The queue, in run order: outer fold (seed), then input, then model (then trait).

    Outer folds are the outer loop so that a stopped run has every model on the first one.
    SNP models run once per fold on input ``"SNPs"`` (skipped when ``has_snps`` is False).
    Single-output regressors get one task per trait; other models one task for all traits
    (trait ``"(all traits)"``; case/control: the phenotype's name).
    """
    tasks = []
    multi = len(traits) > 1
    for f in outer:
        for name in [*feature_inputs, *([SNP_INPUT] if has_snps else [])]:
            for m in models:
                if (m.input == "snps") != (name == SNP_INPUT):
                    continue
                if m.task == "regression" and not m.multi_output:
                    tasks += [TaskKey(m.key, name, t, f.repeat, f.fold, f.seed) for t in traits]
                else:
                    trait = "(all traits)" if multi else traits[0]
                    tasks.append(TaskKey(m.key, name, trait, f.repeat, f.fold, f.seed))
    return tasks


# ------------------------------------------------------------------------------- result
def summarize(metrics: pd.DataFrame, *, task: str = "classification",
              predictions: pd.DataFrame | None = None, random_state: int = 0) -> pd.DataFrame:
    """Mean ± SD over outer folds (seeds) of every test metric, per model, input and trait,
    with how sure each is.

    Parameters
    ----------
    metrics : pandas.DataFrame
        :attr:`ProtocolResult.metrics` (one row per model, input, trait and outer fold).
    task : {"classification", "regression"}
    predictions : pandas.DataFrame, optional
        :attr:`ProtocolResult.predictions`; case/control: adds the bootstrap intervals and
        tests against chance of :func:`genoapp.metrics.classification_uncertainty`.
    random_state : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per (model, input, trait) in first-appearance order: ``model``, ``key``,
        ``input``, ``trait``, ``n`` (outer folds or seeds scored), for each metric ``<m>_mean``,
        ``<m>_sd`` (sample SD, ddof = 1; NaN for one fold) and ``<m>`` as text
        ``"0.869 ± 0.012"``; regression also ``n_selected_mean``, ``n_selected_markers_mean``,
        ``n_selected_loadings_mean``; and ``seconds_mean``. How sure: case/control (with
        ``predictions``) ``<m>_ci_low``, ``<m>_ci_high`` (95 % bootstrap interval over the test
        samples of the mean over seeds), ``p_auc``, ``p_accuracy`` (one-sided tests against
        chance), ``one_class``, ``learned``, ``verdict``; quantitative ``<m>_ci_low``,
        ``<m>_ci_high`` (t interval over folds), ``learned`` (r interval above 0) and
        ``verdict``.
    """
    mets = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    cols = ["model", "key", "input", "trait", "n"]
    for m in mets:
        cols += [m, f"{m}_mean", f"{m}_sd"]
    extra = ["n_selected", "n_selected_markers", "n_selected_loadings", "seconds"]
    cols += [f"{c}_mean" for c in extra]
    if metrics is None or len(metrics) == 0:
        return pd.DataFrame(columns=cols)
    rows = []
    for (model, key, inp, trait), g in metrics.groupby(["model", "key", "input", "trait"],
                                                       sort=False):
        row = {"model": model, "key": key, "input": inp, "trait": trait, "n": int(len(g))}
        for m in mets:
            v = g[m].astype(float)
            mean = float(v.mean())
            sd = float(v.std(ddof=1)) if len(v) > 1 else math.nan
            row[f"{m}_mean"], row[f"{m}_sd"] = mean, sd
            row[m] = ("–" if math.isnan(mean) else f"{mean:.3f}"
                      + ("" if math.isnan(sd) else f" ± {sd:.3f}"))
        for c in extra:
            row[f"{c}_mean"] = float(g[c].astype(float).mean()) if c in g else math.nan
        if task == "classification" and predictions is not None and len(predictions):
            pr = predictions[(predictions["key"] == key) & (predictions["input"] == inp)
                             & (predictions["trait"] == trait)]
            if len(pr):
                piv = [gg.sort_values("row") for _, gg in pr.groupby("seed", sort=True)]
                rows_ok = all(np.array_equal(piv[0]["row"].to_numpy(), q["row"].to_numpy())
                              for q in piv)
                if rows_ok:
                    row.update(classification_uncertainty(
                        piv[0]["label"].to_numpy(), [q["score"].to_numpy() for q in piv],
                        [q["prediction"].to_numpy() for q in piv], random_state=random_state))
        elif task == "regression":
            for m in mets:
                row[f"{m}_ci_low"], row[f"{m}_ci_high"] = fold_interval(g[m])
            lo = row.get("r_ci_low", math.nan)
            row["learned"] = bool(np.isfinite(lo) and lo > 0)
            row["verdict"] = ("better than the training mean" if row["learned"] else
                              "not distinguishable from no prediction (the r interval includes 0)")
        rows.append(row)
    out = pd.DataFrame(rows)
    return out[cols + [c for c in out.columns if c not in cols]]


def comparison_table(summary: pd.DataFrame, *, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """The comparison laid out like the papers' tables: one row per model (and trait), columns
    per input.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`summarize` output.
    metrics : sequence of str, optional
        Which metrics (default: those of the summary's task).

    Returns
    -------
    pandas.DataFrame
        ``model`` (and ``trait`` when there are several) then, for each input in order of
        appearance and each metric, a text column ``"<input> <metric>"`` holding
        ``"mean ± SD"`` (empty where the model did not run on that input, e.g. PRS models on
        feature inputs).
    """
    if summary is None or len(summary) == 0:
        return pd.DataFrame(columns=["model"])
    if metrics is None:
        metrics = CLASSIFICATION_METRICS if "roc_auc" in summary else REGRESSION_METRICS
    inputs = list(dict.fromkeys(summary["input"]))
    traits = list(dict.fromkeys(summary["trait"])) if "trait" in summary else [None]
    models = list(dict.fromkeys(summary["model"]))
    rows = []
    for trait in traits:
        for model in models:
            sel = summary["model"] == model
            if trait is not None:
                sel &= summary["trait"] == trait
            if not sel.any():
                continue
            row = {"model": model}
            if len(traits) > 1:
                row["trait"] = trait
            for inp in inputs:
                hit = summary[sel & (summary["input"] == inp)]
                for m in metrics:
                    row[f"{inp} {m}"] = hit[m].iloc[0] if len(hit) else ""
            rows.append(row)
    return pd.DataFrame(rows)


def certainty_table(summary: pd.DataFrame) -> pd.DataFrame:
    """How sure each model's test result is, in words and intervals (one row per model, input
    and trait of :func:`summarize`).

    Returns
    -------
    pandas.DataFrame
        Case/control: ``model``, ``input``, ``ROC AUC`` (mean over seeds), ``95 % interval``
        (bootstrap over the test samples), ``p vs chance`` (one-sided, AUC > 0.5),
        ``accuracy``, ``accuracy 95 % interval``, ``verdict``. Quantitative: ``model``,
        ``input``, ``trait``, ``r``, ``95 % interval`` (over folds), ``MSE``, ``verdict``.
        Empty when the summary has no intervals.
    """
    if summary is None or len(summary) == 0 or "verdict" not in summary:
        return pd.DataFrame()

    def iv(lo, hi):
        return "–" if not (np.isfinite(lo) and np.isfinite(hi)) else f"{lo:.3f} – {hi:.3f}"

    s = summary
    if "roc_auc_mean" in s:
        return pd.DataFrame({
            "model": s["model"], "input": s["input"], "ROC AUC": s["roc_auc_mean"].round(3),
            "95 % interval": [iv(a, b) for a, b in zip(s["roc_auc_ci_low"], s["roc_auc_ci_high"], strict=True)],
            "p vs chance": [f"{p:.2g}" if np.isfinite(p) else "–" for p in s["p_auc"]],
            "accuracy": s["accuracy_mean"].round(3),
            "accuracy 95 % interval": [iv(a, b) for a, b in zip(s["accuracy_ci_low"], s["accuracy_ci_high"], strict=True)],
            "verdict": s["verdict"]})
    return pd.DataFrame({
        "model": s["model"], "input": s["input"], "trait": s["trait"], "r": s["r_mean"].round(3),
        "95 % interval": [iv(a, b) for a, b in zip(s["r_ci_low"], s["r_ci_high"], strict=True)],
        "MSE": s["mse_mean"].round(3), "verdict": s["verdict"]})


@dataclasses.dataclass
class ProtocolResult:
    """Everything :func:`run_protocol` produced (the one result type of both analyses).

    Attributes
    ----------
    task : {"classification", "regression"}
    metrics : pandas.DataFrame
        One row per completed task and trait: ``model`` (display name), ``key``, ``input``,
        ``trait``, ``repeat``, ``fold``, ``seed``, the test metrics (:attr:`metric_names`),
        ``n_train``, ``n_test``, ``best_params`` (JSON), ``val_score`` (mean validation
        ``select_by`` of the chosen values; NaN when nothing was tuned), ``epochs``,
        ``best_epoch`` (torch), ``stopped``, ``device``, ``seconds`` (whole task),
        ``n_selected``, ``n_selected_markers``, ``n_selected_loadings`` (NaN for models that do
        not select).
    fold_metrics : pandas.DataFrame
        One row per validation fit: ``model``, ``key``, ``input``, ``trait``, ``repeat``,
        ``fold``, ``seed``, ``candidate``, ``params`` (JSON), ``inner_fold``, ``state``
        (COMPLETE / PRUNED), the validation metrics, ``n_val``, ``best_epoch``, ``seconds``.
    predictions : pandas.DataFrame
        One row per test sample and task: ``key``, ``model``, ``input``, ``trait``,
        ``repeat``, ``fold``, ``seed``, ``row`` (index into the input rows); case/control
        ``label``, ``score`` (case score), ``prediction`` (0/1); quantitative ``observed``,
        ``predicted`` (trait units), ``observed_std``, ``predicted_std`` (standardised with the
        training part's statistics).
    histories : dict of TaskKey -> pandas.DataFrame
        Per-epoch logs of the final torch models.
    estimators : dict of TaskKey -> fitted estimator
        The final models; wrapped in :class:`FittedModel` with their fold's nested stage
        and/or scaling where there is one (predicting from the raw input, quantitative
        predictions in trait units).
    outer : list of OuterFold
    traits : list of str
    inputs : list of str
        Input names, feature inputs first.
    feature_names, feature_groups : dict of input -> list / numpy.ndarray
        Names and groups (``"marker"``, ``"loading"``, ``"feature"``) of each input's columns.
    config : ProtocolConfig
    models : dict of key -> ModelSpec
    stopped : bool
        A stop was requested; unfinished tasks are absent from ``metrics``.
    notes : list of str
        Adjustments made (fewer folds for a rare class, skipped or failed models).
    seconds : float
    importance_sums : dict
        Per (model key, input, trait): sums over folds of importances and selections (read
        with :meth:`importance`).
    info : dict
        Facts the workflow adds (quantitative: rank m of the loadings, relationship source,
        skipped models, data size).
    stage_metrics : pandas.DataFrame
        Nested stages (:class:`StagedInput`): one row per candidate and inner fold
        (``input``, ``repeat``, ``fold``, ``seed``, ``candidate``, ``params``, ``inner_fold``,
        ``roc_auc``, ``accuracy``, ``n_features``).
    stage_choice : pandas.DataFrame
        The chosen candidate per input and outer fold (``params``, ``val_roc_auc``,
        ``described``: e.g. "top 15 genes: 64 SNPs in 15 genes, 36 features").
    stages : dict of (input, repeat, fold) -> fitted stage
    covariates : genoapp.features.CovariateInputs or None
        Covariates appended to the feature inputs by the workflow (their coding fitted on
        training samples, the rows dropped for lacking a value); None without covariates.
    """

    task: str
    metrics: pd.DataFrame
    fold_metrics: pd.DataFrame
    predictions: pd.DataFrame
    histories: dict
    estimators: dict
    outer: list
    traits: list
    inputs: list
    feature_names: dict
    feature_groups: dict
    config: ProtocolConfig
    models: dict
    stopped: bool = False
    notes: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    importance_sums: dict = dataclasses.field(default_factory=dict, repr=False)
    info: dict = dataclasses.field(default_factory=dict)
    stage_metrics: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    stage_choice: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    stages: dict = dataclasses.field(default_factory=dict, repr=False)
    covariates: Any = dataclasses.field(default=None, repr=False)

    @property
    def metric_names(self) -> tuple[str, ...]:
        return CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS

    def summary(self) -> pd.DataFrame:
        """Mean ± SD over outer folds (seeds), with intervals and tests against chance: see
        :func:`summarize` (computed once, then cached)."""
        key = (len(self.metrics), len(self.predictions))
        if getattr(self, "_summary_key", None) != key:
            self._summary = summarize(self.metrics, task=self.task, predictions=self.predictions)
            self._summary_key = key
        return self._summary

    def warnings(self) -> list[str]:
        """Plain-words warnings: models not distinguishable from chance, or predicting one
        class (see :func:`summarize`)."""
        out = []
        for r in self.summary().itertuples(index=False):
            if not getattr(r, "learned", True):
                what = "predicts one class" if getattr(r, "one_class", False) else "did not learn"
                extra = ""
                if self.task == "classification" and np.isfinite(getattr(r, "roc_auc_ci_low", np.nan)):
                    extra = (f" (test ROC AUC {r.roc_auc_mean:.3f}, 95 % interval "
                             f"{r.roc_auc_ci_low:.3f}-{r.roc_auc_ci_high:.3f})")
                elif self.task == "regression" and np.isfinite(getattr(r, "r_ci_low", np.nan)):
                    extra = f" (r {r.r_mean:.3f}, 95 % interval {r.r_ci_low:.3f}-{r.r_ci_high:.3f})"
                out.append(f"{r.model} on {r.input}" + (f" ({r.trait})" if self.task == "regression" else "")
                           + f" {what}: {r.verdict}{extra}.")
        return out

    def table(self) -> pd.DataFrame:
        """The comparison table (:func:`comparison_table`)."""
        return comparison_table(self.summary())

    def estimator(self, key: str, input: str, *, seed: int | None = None,
                  trait: str | None = None, repeat: int | None = None, fold: int | None = None):
        """The first final model matching the given parts of its :class:`TaskKey` (None if
        there is none)."""
        for k, est in self.estimators.items():
            if k.key == key and k.input == input and (seed is None or k.seed == seed) and \
                    (trait is None or k.trait == trait) and (repeat is None or k.repeat == repeat) \
                    and (fold is None or k.fold == fold):
                return est
        return None

    def importance(self, model: str, input: str, trait: str | None = None) -> pd.DataFrame:
        """Per-input importance and selection frequency of one model over the outer folds.

        Parameters
        ----------
        model : str
            Model key or display name.
        input : str
        trait : str, optional
            Single-output models: the trait (default the first); multi-output models have one
            table for all traits.

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
            Unknown model, input or trait.
        """
        key = next((k for k, s in self.models.items() if model in (k, s.name)), None)
        cands = [k for k in self.importance_sums if k[0] == key and k[1] == input]
        if not cands:
            raise ConfigError(f"No importance of model {model!r} on {input!r}; available: "
                              f"{self.importance_models()}.")
        pick = cands[0] if trait is None else next((k for k in cands if k[2] in (trait, "(all traits)")), None)
        if pick is None:
            raise ConfigError(f"No trait {trait!r} for model {model!r} on {input!r}.")
        acc = self.importance_sums[pick]
        names = self.feature_names[input]
        nan = np.full(len(names), np.nan)
        imp = acc["imp_sum"] / acc["n_imp"] if acc["n_imp"] else nan
        sel = acc["sel_sum"] / acc["n_sel"] if acc["n_sel"] else nan
        df = pd.DataFrame({"feature": names, "group": self.feature_groups[input],
                           "importance": imp, "selected_fraction": sel})
        return df.sort_values(["importance", "selected_fraction"], ascending=False,
                              na_position="last", kind="stable").reset_index(drop=True)

    def importance_models(self) -> list[tuple[str, str, str]]:
        """``(model key, input, trait)`` triples that have an importance or selection table."""
        return [k for k, v in self.importance_sums.items() if v["n_imp"] or v["n_sel"]]


# ------------------------------------------------------------------------------- engine
class _EventCallback(Callback):
    """Forwards a torch fit's epochs to the protocol's event sink."""

    def __init__(self, emit, base: dict):
        self.emit = emit
        self.base = base

    def on_train_begin(self, info: dict) -> None:
        self.emit({**self.base, "event": "fit_begin", "info": dict(info)})

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.emit({**self.base, "event": "epoch", "epoch": int(epoch), "logs": dict(logs)})


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


def _jsonable(params: dict) -> str:
    def conv(v):
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, tuple):
            return list(v)
        return v
    return json.dumps({k: conv(v) for k, v in sorted(params.items())}, default=str)


def _optuna_suggest(trial, spec: ModelSpec) -> dict:
    params = {}
    for name in spec.tuned_names:
        dist = spec.space.get(name)
        if dist is None or dist[0] == "categorical":
            choices = list(spec.grid[name] if dist is None else dist[1])
            idx = trial.suggest_categorical(name, list(range(len(choices))))
            params[name] = choices[idx]
        elif dist[0] == "float":
            params[name] = trial.suggest_float(name, float(dist[1]), float(dist[2]),
                                               log=bool(dist[3]) if len(dist) > 3 else False)
        elif dist[0] == "int":
            params[name] = trial.suggest_int(name, int(dist[1]), int(dist[2]),
                                             log=bool(dist[3]) if len(dist) > 3 else False)
        else:
            raise ConfigError(f"ModelSpec {spec.key}: unknown Optuna distribution {dist!r} for {name}.")
    return params


def _optuna_first(spec: ModelSpec) -> dict | None:
    """The first trial (the spec's ``first_trial`` values clipped into the search space), in
    Optuna's parameter encoding (categorical = index)."""
    if not spec.first_trial:
        return None
    out = {}
    for name in spec.tuned_names:
        if name not in spec.first_trial:
            return None
        v = spec.first_trial[name]
        dist = spec.space.get(name)
        if dist is None or dist[0] == "categorical":
            choices = list(spec.grid[name] if dist is None else dist[1])
            if v not in choices:
                return None
            out[name] = choices.index(v)
        elif dist[0] == "int":
            out[name] = int(np.clip(int(v), int(dist[1]), int(dist[2])))
        else:
            out[name] = float(np.clip(float(v), float(dist[1]), float(dist[2])))
    return out


@dataclasses.dataclass
class _Data:
    """One outer fold's view of an input: what the models are fitted on."""

    X: np.ndarray          # all rows, transformed (stage, standardised with training statistics)
    Y: np.ndarray          # (n, T) targets: labels (classification) or standardised traits
    scaler: FoldScaler | None
    stage: object = None   # the fitted nested stage (StagedInput), or None


class _Engine:
    def __init__(self, *, task, y, inputs, snps, models, outer, config, traits, callbacks, emit,
                 stop, feature_groups):
        self.task = task
        self.Y = y if y.ndim == 2 else y[:, None]
        self.inputs = inputs
        self.snps = snps
        self.models = models
        self.outer = outer
        self.config = config
        self.traits = traits
        self.user_callbacks = list(callbacks)
        self.emit = emit
        self.stop = stop
        self.feature_groups = feature_groups
        self.notes: list[str] = []
        self.metric_rows: list[dict] = []
        self.fold_rows: list[dict] = []
        self.pred_parts: list[pd.DataFrame] = []
        self.histories: dict = {}
        self.estimators: dict = {}
        self.importance: dict = {}
        self.shared_choice: dict = {}
        self.stage_rows: list[dict] = []
        self.stage_choice: list[dict] = []
        self.stages: dict = {}
        self._stage_rows_of: dict = {}
        self._plans: dict = {}
        self._data: dict = {}
        self.remote = False    # a copy sent to Dask workers (:meth:`for_workers`)
        self.events: list[dict] | None = None  # a worker's task events, replayed by the client
        self._base: tuple = (0, frozenset(), frozenset())

    # ------------------------------------------------------------------ one task = one job
    def fork(self) -> _Engine:
        """A copy for one task: the same inputs, settings and choices so far, empty outputs.

        In this process the copy shares the per-fold caches (``_data``, ``_plans``) with this
        engine, so later tasks reuse them. A worker's copy (of :meth:`for_workers`) gets caches
        of its own (several threads of one Dask worker may run tasks at once) and collects its
        events (not the epochs) in ``events`` for the client to replay.
        """
        e = copy.copy(self)
        e.notes, e.metric_rows, e.fold_rows, e.pred_parts = [], [], [], []
        e.histories, e.estimators, e.importance, e.stage_rows = {}, {}, {}, []
        e.stage_choice = list(self.stage_choice)  # a shared stage copies its leader's row
        e.stages, e._stage_rows_of = dict(self.stages), dict(self._stage_rows_of)
        e.shared_choice = dict(self.shared_choice)
        e._base = (len(self.stage_choice), frozenset(self.stages), frozenset(self.shared_choice))
        if self.remote:
            e._data, e._plans = {}, {}
            e.events = []
            e.emit = _EventLog(e.events)
        return e

    def for_workers(self) -> _Engine:
        """The picklable copy shipped once to the Dask workers (``Executor.map``'s ``shared``).

        Holds the inputs, settings, nested stages and shared choices; not the event sink, the
        stop flag or the user's callbacks (they stay in this process: a stop is honoured between
        tasks), nor any output or cache.
        """
        e = self.fork()
        e._data, e._plans = {}, {}
        e.emit, e.stop, e.user_callbacks, e.remote = None, _NoStop(), [], True
        return e

    def piece(self, index: int, outcome: str, error: str = "") -> _Piece:
        """What this forked engine produced since :meth:`fork` (see :class:`_Piece`)."""
        n_choice, stages0, shared0 = self._base
        new_stages = {k: v for k, v in self.stages.items() if k not in stages0}
        return _Piece(
            index=index, outcome=outcome, error=error, notes=self.notes,
            metric_rows=self.metric_rows, fold_rows=self.fold_rows, pred_parts=self.pred_parts,
            histories=self.histories, estimators=self.estimators, importance=self.importance,
            stage_rows=self.stage_rows, stage_choice=self.stage_choice[n_choice:],
            stages=new_stages, stage_rows_of={k: self._stage_rows_of[k] for k in new_stages},
            shared_choice={k: v for k, v in self.shared_choice.items() if k not in shared0},
            events=list(self.events or ()))

    def merge(self, p: _Piece) -> None:
        """Add one task's piece to this engine's state (call in task order).

        Importances are summed in the same order as one sequential run, so the sums are
        bit-identical; a stage fitted by several workers is kept once (the first piece's);
        final models get the engine's stage object back (one copy per fold, not per model).
        """
        for note in p.notes:  # e.g. "fewer validation folds" (every worker may say it)
            if note not in self.notes:
                self.notes.append(note)
        fresh = [key for key in p.stages if key not in self.stages]
        for key in fresh:
            self.stages[key] = p.stages[key]
            self._stage_rows_of[key] = p.stage_rows_of[key]
            self.stage_choice += [c for c in p.stage_choice
                                  if (c["input"], c["repeat"], c["fold"]) == key]
        # rows of a stage fitted again elsewhere are dropped; those of a failed fit are kept
        self.stage_rows += [r for r in p.stage_rows
                            if (r["input"], r["repeat"], r["fold"]) in fresh
                            or (r["input"], r["repeat"], r["fold"]) not in p.stages]
        for k, v in p.shared_choice.items():
            self.shared_choice.setdefault(k, v)
        self.metric_rows += p.metric_rows
        self.fold_rows += p.fold_rows
        self.pred_parts += p.pred_parts
        self.histories.update(p.histories)
        for k, est in p.estimators.items():
            st = self.stages.get((k.input, k.repeat, k.fold))
            if isinstance(est, FittedModel) and est.stage is not None and st is not None:
                est.stage = st
            self.estimators[k] = est
        for k, acc in p.importance.items():
            tgt = self.importance.setdefault(k, {
                "imp_sum": np.zeros_like(acc["imp_sum"]), "n_imp": 0,
                "sel_sum": np.zeros_like(acc["sel_sum"]), "n_sel": 0})
            if acc["n_imp"]:
                tgt["imp_sum"] += acc["imp_sum"]
                tgt["n_imp"] += acc["n_imp"]
            if acc["n_sel"]:
                tgt["sel_sum"] += acc["sel_sum"]
                tgt["n_sel"] += acc["n_sel"]
        if p.outcome == "failed" and p.index >= 0:
            self.notes.append(p.error)

    # ------------------------------------------------------------------ data per outer fold
    def data(self, fold: OuterFold, input_name: str) -> _Data:
        key = (fold.repeat, fold.fold, input_name)
        if key in self._data:
            return self._data[key]
        if len(self._data) > 4:  # keep memory bounded: earlier folds are done
            self._data.pop(next(iter(self._data)))
        X = self.snps if input_name == SNP_INPUT else self.inputs[input_name]
        stage = None
        if isinstance(X, StagedInput):
            stage = self.stages.get((input_name, fold.repeat, fold.fold))
            if stage is None:  # the fold's first task fits it (a cluster: fitted beforehand)
                stage = self._fit_stage(fold, input_name, X)
            X = stage.transform(np.asarray(X.data))
        if self.config.standardize:
            scaler = FoldScaler().fit(X[fold.train_idx], self.Y[fold.train_idx])
            d = _Data(scaler.transform_x(X), scaler.transform_y(self.Y), scaler, stage)
        else:
            d = _Data(X, self.Y, None, stage)
        self._data[key] = d
        return d

    def _fit_stage(self, fold: OuterFold, name: str, inp: StagedInput):
        """Choose the stage's parameters on inner folds of the training part; refit on it all."""
        if self.task != "classification":
            raise ConfigError("nested feature stages are implemented for case/control inputs.")
        rows = fold.train_idx
        if self.config.share_tuning:  # seeds of one split share the stage (same training rows)
            for (nm, _r, _f), st in self.stages.items():
                if nm == name and np.array_equal(self._stage_rows_of[(nm, _r, _f)], rows):
                    self.stages[(name, fold.repeat, fold.fold)] = st
                    self._stage_rows_of[(name, fold.repeat, fold.fold)] = rows
                    prev = next(c for c in self.stage_choice if c["input"] == nm
                                and (c["repeat"], c["fold"]) == (_r, _f))
                    self.stage_choice.append({**prev, "repeat": fold.repeat, "fold": fold.fold,
                                              "seed": fold.seed, "seconds": 0.0,
                                              "shared_with": f"{_r}.{_f}"})
                    return st
        data = np.asarray(inp.data)
        y = self.Y[:, 0].astype(np.int64)
        n_min = int(np.bincount(y[rows], minlength=2).min())
        n_folds = max(2, min(int(inp.n_folds), n_min))
        folds = balanced_kfold(rows, y, n_splits=n_folds, random_state=fold.seed)
        cands = list(ParameterGrid(inp.grid)) if inp.grid else [{}]
        best, best_score = cands[0], -math.inf
        t0 = time.perf_counter()
        for ci, params in enumerate(cands):
            scores = []
            for k, (fit, val) in enumerate(folds):
                if self.stop.stop_requested:
                    break
                st = inp.make_stage(**params).fit(data[fit], y[fit])
                up = upsample_minority(fit, y, random_state=fold.seed)
                Xf, Xv = st.transform(data[up]), st.transform(data[val])
                ref = inp.reference.build({}, random_state=fold.seed, device=self.config.device)
                ref.fit(Xf, y[up])
                m = classification_metrics(y[val], np.asarray(ref.predict(Xv)).astype(np.int64),
                                           case_scores(ref, Xv))
                scores.append(m["roc_auc"])
                self.stage_rows.append({"input": name, "repeat": fold.repeat, "fold": fold.fold,
                                        "seed": fold.seed, "candidate": ci,
                                        "params": _jsonable(params), "inner_fold": k,
                                        "roc_auc": m["roc_auc"], "accuracy": m["accuracy"],
                                        "n_features": int(Xf.shape[1])})
            mean = float(np.nanmean(scores)) if scores else -math.inf
            if mean > best_score:
                best, best_score = params, mean
        stage = inp.make_stage(**best).fit(data[rows], y[rows])
        self.stages[(name, fold.repeat, fold.fold)] = stage
        self._stage_rows_of[(name, fold.repeat, fold.fold)] = rows
        desc = stage.describe() if hasattr(stage, "describe") else _jsonable(best)
        self.stage_choice.append({"input": name, "repeat": fold.repeat, "fold": fold.fold,
                                  "seed": fold.seed, "params": _jsonable(best),
                                  "val_roc_auc": best_score, "described": desc,
                                  "seconds": time.perf_counter() - t0})
        _log.info("%s, fold %d.%d: nested stage %s chosen on %d inner folds (validation ROC AUC "
                  "%.3f): %s", name, fold.repeat, fold.fold, _jsonable(best), len(folds),
                  best_score, desc)
        return stage

    # ------------------------------------------------------------------ inner validation
    def plan(self, fold: OuterFold, rows: np.ndarray, trait_key: str):
        """Inner (fit, val) index pairs and the fitting sets (upsampled for classification)."""
        key = (fold.repeat, fold.fold, trait_key)
        if key in self._plans:
            return self._plans[key]
        cfg = self.config
        seed = fold.seed
        if self.task == "classification":
            y = self.Y[:, 0].astype(np.int64)
            counts = np.bincount(y[rows], minlength=2)
            n_min = int(counts.min())
            n_folds = int(cfg.n_folds)
            if n_min < 2:
                raise InputDataError(
                    f"the training samples hold {counts[1]} case(s) and {counts[0]} control(s); at "
                    "least 2 of each are needed for a validation fold. Use a smaller test fraction "
                    "or more samples.")
            if n_min < n_folds:
                msg = (f"only {n_min} training samples in the rarer class: {n_min} validation folds "
                       f"instead of {n_folds}.")
                if msg not in self.notes:
                    self.notes.append(msg)
                n_folds = n_min
            folds = balanced_kfold(rows, y, n_splits=n_folds, random_state=seed)
            if cfg.validation == "holdout":
                folds = folds[:1]
            ups = [upsample_minority(fit, y, random_state=seed) for fit, _ in folds]
        else:
            rng = np.random.default_rng(seed)
            if cfg.validation == "holdout":
                n = rows.size
                n_val = int(round(float(cfg.validation_fraction) * n))
                if n_val < 2 or n - n_val < 2:
                    raise InputDataError(
                        f"validation_fraction {cfg.validation_fraction} leaves {n - n_val} "
                        f"fitting and {n_val} validation rows out of {n}; give more samples.")
                perm = rng.permutation(n)
                folds = [(np.sort(rows[perm[n_val:]]), np.sort(rows[perm[:n_val]]))]
            else:
                perm = rows[rng.permutation(rows.size)]
                parts = np.array_split(perm, int(cfg.n_folds))
                folds = [(np.sort(np.concatenate(parts[:k] + parts[k + 1:])), np.sort(parts[k]))
                         for k in range(len(parts))]
            ups = [fit for fit, _ in folds]
        self._plans[key] = (folds, ups)
        return folds, ups

    # ------------------------------------------------------------------ scoring
    def _val_score(self, spec, est, X, Yt, val_idx, t_index):
        if self.task == "classification":
            y = Yt[val_idx, 0].astype(np.int64)
            m = classification_metrics(y, np.asarray(est.predict(X[val_idx])).astype(np.int64),
                                       case_scores(est, X[val_idx]))
            v = m[self.config.select_by]
            return (v if not math.isnan(v) else m["accuracy"]), m
        pred = np.asarray(est.predict(X[val_idx]), dtype=np.float64)
        pred = pred[:, None] if pred.ndim == 1 else pred
        cols = range(Yt.shape[1]) if t_index is None else [t_index]
        ms = []
        for j, t in enumerate(cols):
            obs = Yt[val_idx, t]
            ok = np.isfinite(obs)
            if ok.sum() >= 2:
                p = pred[ok, j if pred.shape[1] > 1 else 0]
                mse = float(np.mean((p - obs[ok]) ** 2))
                r = float(np.corrcoef(p, obs[ok])[0, 1]) if np.std(p) > 0 else 0.0
                ms.append({"mse": mse, "r": r})
        if not ms:
            return -math.inf, {"mse": math.nan, "r": math.nan}
        m = {k: float(np.mean([d[k] for d in ms])) for k in ("mse", "r")}
        return (-m["mse"] if self.config.select_by == "mse" else m["r"]), m

    # ------------------------------------------------------------------ fitting
    def _fit(self, spec, est, X, Yt, fit_idx, val_idx, t_index, callbacks):
        y_fit = self._targets(Yt, fit_idx, t_index, spec)
        if spec.is_torch:
            kw = {"callbacks": callbacks}
            if val_idx is not None:
                kw.update(X_val=X[val_idx], y_val=self._targets(Yt, val_idx, t_index, spec))
            est.fit(X[fit_idx], y_fit, **kw)
        else:
            est.fit(X[fit_idx], y_fit)
        return est

    def _targets(self, Yt, idx, t_index, spec):
        if self.task == "classification":
            return Yt[idx, 0].astype(np.int64)
        if spec.multi_output:
            return Yt[idx].astype(np.float32) if spec.is_torch else Yt[idx]
        return Yt[idx, t_index]

    def run_task(self, t_i: int, n_tasks: int, task: TaskKey, fold: OuterFold):
        spec = self.models[task.key]
        cfg = self.config
        base = {"task": t_i, "n_tasks": n_tasks, "model": spec.name, "key": spec.key,
                "input": task.input, "seed": task.seed, "trait": task.trait,
                "repeat": task.repeat, "fold_outer": task.fold}
        d = self.data(fold, task.input)
        X, Yt = d.X, d.Y
        t_index = None if (self.task == "classification" or spec.multi_output) else \
            self.traits.index(task.trait)
        # training rows with the target observed
        tr = fold.train_idx
        if self.task == "regression":
            obs = np.isfinite(Yt[tr]).any(axis=1) if t_index is None else np.isfinite(Yt[tr, t_index])
            tr = tr[obs]
        self.emit({**base, "event": "task_begin"})
        t_task = time.perf_counter()
        n_cand = len(ParameterGrid(spec.grid)) if spec.grid else 1
        needs_val = (cfg.always_validate or spec.is_torch or (cfg.tuning == "grid" and n_cand > 1)
                     or (cfg.tuning == "optuna" and bool(spec.grid or spec.space)))
        best = {"score": -math.inf, "params": None, "fold_model": None, "epochs": []}
        fallback = {"est": None, "score": -math.inf, "params": None}
        stopped = False
        if needs_val:
            folds, fit_sets = self.plan(fold, tr, "all" if t_index is None else task.trait)

            def evaluate(cand_i: int, params: dict, trial=None) -> float:
                scores, epochs, fold0, state = [], [], None, "COMPLETE"
                for k, ((plain, val), up) in enumerate(zip(folds, fit_sets, strict=True)):
                    if self.stop.stop_requested:
                        break
                    fit_idx = up if (spec.upsample and self.task == "classification") else plain
                    fbase = {**base, "fold": k, "params": params}
                    pruning = _OptunaPruning(trial) if (trial is not None and cfg.prune and
                                                        spec.is_torch and k == 0) else None
                    es = ([EarlyStopping("val_loss", patience=int(cfg.patience))]
                          if spec.is_torch and spec.early_stopping and cfg.patience else [])
                    cbs = ([_EventCallback(self.emit, fbase), self.stop, *self.user_callbacks]
                           + ([pruning] if pruning else []) + es) if spec.is_torch else []
                    if not spec.is_torch:
                        self.emit({**fbase, "event": "fit_begin"})
                    t0 = time.perf_counter()
                    est = spec.build(params, random_state=fold.seed, device=cfg.device)
                    self._fit(spec, est, X, Yt, fit_idx, val, t_index, cbs)
                    value, m = self._val_score(spec, est, X, Yt, val, t_index)
                    if pruning is not None and pruning.pruned:
                        state = "PRUNED"
                    self.fold_rows.append({
                        "model": spec.name, "key": spec.key, "input": task.input,
                        "trait": task.trait, "repeat": task.repeat, "fold": task.fold,
                        "seed": task.seed, "candidate": cand_i, "params": _jsonable(params),
                        "inner_fold": k, "state": state, **m, "n_val": int(val.size),
                        "best_epoch": getattr(est, "best_epoch_", None),
                        "seconds": time.perf_counter() - t0})
                    self.emit({**fbase, "event": "fit_end",
                               "metrics": {q: v for q, v in m.items() if q != "n"}})
                    scores.append(value)
                    epochs.append(getattr(est, "best_epoch_", None)
                                  or len(getattr(est, "history_", []) or []))
                    if value > fallback["score"]:
                        fallback.update(est=est, score=value, params=params)
                    if k == 0:
                        fold0 = est
                if not scores:
                    return -math.inf
                mean = float(np.mean(scores))
                # a pruned trial stopped before its best epoch: it never becomes the chosen model
                if mean > best["score"] and len(scores) == len(folds) and state != "PRUNED":
                    best.update(score=mean, params=params, fold_model=fold0, epochs=epochs)
                if state == "PRUNED":
                    import optuna

                    raise optuna.TrialPruned()
                return mean

            share_key = (spec.key, task.input, task.trait)
            shared = self.shared_choice.get(share_key) if cfg.share_tuning else None
            if shared is not None and np.array_equal(shared[0], fold.train_idx):
                evaluate(0, shared[1])
            elif cfg.tuning == "optuna" and (spec.grid or spec.space):
                import optuna

                optuna.logging.set_verbosity(optuna.logging.WARNING)
                sampler = optuna.samplers.TPESampler(seed=int(fold.seed))
                pruner = (optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=10)
                          if cfg.prune else optuna.pruners.NopPruner())
                study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
                first = _optuna_first(spec)
                if first is not None:
                    study.enqueue_trial(first)
                for i in range(int(cfg.n_trials)):
                    if self.stop.stop_requested:
                        break
                    trial = study.ask()
                    params = _optuna_suggest(trial, spec)
                    try:
                        value = evaluate(i, params, trial)
                    except optuna.TrialPruned:
                        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                        continue
                    study.tell(trial, value if math.isfinite(value) else -1e18)
            else:
                if cfg.tuning == "none" or not spec.grid:
                    candidates = [{k: v[0] for k, v in spec.grid.items()}]
                else:
                    candidates = list(ParameterGrid(spec.grid))
                for i, params in enumerate(candidates):
                    if self.stop.stop_requested:
                        break
                    evaluate(i, params)
            if cfg.share_tuning and best["params"] is not None and share_key not in self.shared_choice:
                self.shared_choice[share_key] = (fold.train_idx, best["params"])
            if best["params"] is None and fallback["est"] is not None and not self.stop.stop_requested:
                # every trial pruned: the best pruned model stands in
                best.update(score=fallback["score"], params=fallback["params"],
                            fold_model=fallback["est"], epochs=[])
            if self.stop.stop_requested or best["params"] is None:
                if fallback["est"] is None:
                    return None
                est, params, val_score, stopped = (fallback["est"], fallback["params"],
                                                   fallback["score"], True)
            elif spec.is_torch and cfg.validation == "holdout" and not cfg.holdout_refit:
                est, params, val_score = best["fold_model"], best["params"], best["score"]
            else:
                est, params, val_score, stopped = self._refit(spec, best, base, fold, X, Yt, tr,
                                                              t_index, fallback)
        else:
            params = {k: v[0] for k, v in spec.grid.items()}
            if not spec.is_torch:
                self.emit({**base, "event": "fit_begin", "fold": "final", "params": params})
            est, val_score = self._final_fit(spec, params, fold, X, Yt, tr, t_index, base), math.nan
            if est is None:
                return None
        self._record(task, spec, fold, est, params, val_score, stopped, d, t_index,
                     time.perf_counter() - t_task, tr.size)
        last = self.metric_rows[-1] if self.metric_rows else {}
        _log.info("%s on %s (%s), fold %d.%d, seed %d: %s in %.1f s%s", spec.name, task.input,
                  task.trait, task.repeat, task.fold, task.seed,
                  ", ".join(f"test {m} {last.get(m, float('nan')):.3f}" for m in self._metric_names()),
                  time.perf_counter() - t_task, " (stopped)" if stopped else "")
        self.emit({**base, "event": "task_end", "stopped": bool(stopped),
                   "metrics": {m: self.metric_rows[-1].get(m) for m in self._metric_names()}
                   if self.metric_rows else {}})
        return stopped

    def _final_fit(self, spec, params, fold, X, Yt, tr, t_index, base):
        cbs = [_EventCallback(self.emit, {**base, "fold": "final", "params": params}), self.stop,
               *self.user_callbacks] if spec.is_torch else []
        fit_all = (upsample_minority(tr, Yt[:, 0].astype(np.int64), random_state=fold.seed)
                   if (self.task == "classification" and spec.upsample) else tr)
        est = spec.build(params, random_state=fold.seed, device=self.config.device)
        self._fit(spec, est, X, Yt, fit_all, None, t_index, cbs)
        self.emit({**base, "event": "fit_end", "fold": "final", "metrics": None})
        return est

    def _refit(self, spec, best, base, fold, X, Yt, tr, t_index, fallback):
        final_params = dict(best["params"])
        if spec.is_torch and spec.epochs_param:
            ep = [e for e in best["epochs"] if e]
            if ep:
                final_params[spec.epochs_param] = max(1, int(round(float(np.median(ep)))))
            final_params.update(spec.refit_params)
        est = self._final_fit(spec, final_params, fold, X, Yt, tr, t_index, base)
        if self.stop.stop_requested and spec.is_torch and getattr(est, "stopped_early_", False):
            # an interrupted refit has no validation-selected weights: keep the best fold model
            return fallback["est"], fallback["params"], fallback["score"], True
        return est, final_params, best["score"], False

    def _metric_names(self):
        return CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS

    def _record(self, task, spec, fold, est, params, val_score, stopped, d, t_index, secs, n_train):
        te = fold.test_idx
        X = d.X
        hist = getattr(est, "history_", None)
        common = {"model": spec.name, "key": spec.key, "input": task.input,
                  "repeat": task.repeat, "fold": task.fold, "seed": task.seed,
                  "n_train": int(n_train), "best_params": _jsonable(params),
                  "val_score": val_score, "epochs": len(hist) if hist is not None else None,
                  "best_epoch": getattr(est, "best_epoch_", None), "stopped": bool(stopped),
                  "device": str(getattr(est, "device_", "cpu")), "seconds": secs}
        groups = self.feature_groups[task.input]
        sel = getattr(est, "selected_", None)
        k_all, k_m, k_l = _count_selected(sel, groups)
        if self.task == "classification":
            y_test = self.Y[te, 0].astype(np.int64)
            scores = case_scores(est, X[te])
            preds = np.asarray(est.predict(X[te])).astype(np.int64)
            m = classification_metrics(y_test, preds, scores)
            self.metric_rows.append({**common, "trait": task.trait,
                                     **{k: m[k] for k in CLASSIFICATION_METRICS},
                                     "n_test": int(m["n"]), "n_selected": k_all,
                                     "n_selected_markers": k_m, "n_selected_loadings": k_l})
            self.pred_parts.append(pd.DataFrame({
                "key": spec.key, "model": spec.name, "input": task.input, "trait": task.trait,
                "repeat": task.repeat, "fold": task.fold, "seed": task.seed, "row": te,
                "label": y_test, "score": scores, "prediction": preds}))
            final = est if d.stage is None else FittedModel(est, stage=d.stage)
        else:
            pred = np.asarray(est.predict(X[te]), dtype=np.float64)
            pred = pred[:, None] if pred.ndim == 1 else pred
            cols = range(len(self.traits)) if t_index is None else [t_index]
            sc = d.scaler
            for j, t in enumerate(cols):
                obs_std = d.Y[te, t]
                ok = np.isfinite(obs_std)
                if ok.sum() < 2:
                    continue
                p_std = pred[ok, j if pred.shape[1] > 1 else 0]
                m = regression_metrics(obs_std[ok], p_std)
                self.metric_rows.append({**common, "trait": self.traits[t],
                                         **{k: m[k] for k in REGRESSION_METRICS},
                                         "n_test": int(ok.sum()), "n_selected": k_all,
                                         "n_selected_markers": k_m, "n_selected_loadings": k_l})
                y_mean = sc.y_mean_[t] if sc is not None else 0.0
                y_scale = sc.y_scale_[t] if sc is not None else 1.0
                self.pred_parts.append(pd.DataFrame({
                    "key": spec.key, "model": spec.name, "input": task.input,
                    "trait": self.traits[t], "repeat": task.repeat, "fold": task.fold,
                    "seed": task.seed, "row": te[ok], "observed": obs_std[ok] * y_scale + y_mean,
                    "predicted": p_std * y_scale + y_mean, "observed_std": obs_std[ok],
                    "predicted_std": p_std}))
            final = FittedModel(est, stage=d.stage, scaler=sc, trait_index=t_index)
        self.estimators[task] = final
        if hist is not None:
            self.histories[task] = pd.DataFrame(hist)
        acc = self.importance.setdefault((spec.key, task.input, task.trait), {
            "imp_sum": np.zeros(len(groups)), "n_imp": 0, "sel_sum": np.zeros(len(groups)),
            "n_sel": 0})
        imp = getattr(est, "feature_importances_", None)
        if imp is not None and np.shape(imp) == (len(groups),):
            acc["imp_sum"] += np.asarray(imp, dtype=np.float64)
            acc["n_imp"] += 1
        if sel is not None and np.shape(sel) == (len(groups),):
            acc["sel_sum"] += np.asarray(sel, dtype=np.float64)
            acc["n_sel"] += 1


def _count_selected(mask, groups: np.ndarray) -> tuple[float, float, float]:
    if mask is None:
        return math.nan, math.nan, math.nan
    m = np.asarray(mask, dtype=bool)
    if m.shape != groups.shape:
        return math.nan, math.nan, math.nan
    return (float(m.sum()), float((m & (groups == "marker")).sum()),
            float((m & (groups == "loading")).sum()))


# ------------------------------------------------------------------------------- jobs
class _NoStop(Callback):
    """A worker's stop flag: never set (the client honours a stop between tasks)."""

    stop_requested = False


class _EventLog:
    """A worker's event sink: keeps one task's events, not its epochs, for the client."""

    def __init__(self, events: list):
        self.events = events

    def __call__(self, ev: dict) -> None:
        if ev.get("event") != "epoch":
            self.events.append(ev)


@dataclasses.dataclass
class _Piece:
    """What one job (a task, or a nested stage) produced; merged with :meth:`_Engine.merge`.

    Attributes
    ----------
    index : int
        Task index in the queue (-1 for a stage job).
    outcome : {"done", "stopped", "empty", "failed"}
        "stopped": the task kept the best model so far after a stop; "empty": stopped before
        any model existed; both end the queue. "failed": the task raised an error the protocol
        tolerates (``error`` says which); what it recorded before is kept.
    error : str
        The note of a failed task.
    events : list of dict
        A worker's events (no epochs), replayed by the client; empty in-process (live there).
    notes, metric_rows, fold_rows, pred_parts, histories, estimators, importance
        What this task added to the engine's state of the same names.
    stage_rows, stage_choice, stages, stage_rows_of, shared_choice
        The same, for nested stages and shared tuning choices.
    """

    index: int
    outcome: str
    error: str
    notes: list
    metric_rows: list
    fold_rows: list
    pred_parts: list
    histories: dict
    estimators: dict
    importance: dict
    stage_rows: list
    stage_choice: list
    stages: dict
    stage_rows_of: dict
    shared_choice: dict
    events: list


_HALTS = ("stopped", "empty")


def _task_base(t_i: int, n_tasks: int, tk: TaskKey, spec: ModelSpec) -> dict:
    return {"task": t_i, "n_tasks": n_tasks, "model": spec.name, "key": spec.key,
            "input": tk.input, "seed": tk.seed, "trait": tk.trait, "repeat": tk.repeat,
            "fold_outer": tk.fold}


def _task_job(item: tuple, engine: _Engine) -> _Piece:
    """Run one task of the protocol on a fork of ``engine``; return its piece.

    A module-level function, so that Dask workers import it by name.

    Parameters
    ----------
    item : tuple
        ``(task index, number of tasks, TaskKey, index of the outer fold in engine.outer)``.
    engine : _Engine
        The client's engine (in-process: live events and stop flag) or its
        :meth:`_Engine.for_workers` copy (on a worker).

    Returns
    -------
    _Piece
        A task failing with a genoapp error, ValueError, RuntimeError or MemoryError (a bad
        hyper-parameter for this input, out of memory...) is returned as ``"failed"`` with its
        note, not raised: one model failing does not lose the rest of the queue.
    """
    t_i, n_tasks, tk, f_i = item
    eng = engine.fork()
    try:
        out = eng.run_task(t_i, n_tasks, tk, engine.outer[f_i])
    except (GenoappError, ValueError, RuntimeError, MemoryError) as exc:
        spec = engine.models[tk.key]
        msg = (f"{spec.name} on {tk.input}" + (f" ({tk.trait})" if engine.task == "regression" else "")
               + f", fold {tk.repeat}.{tk.fold} (seed {tk.seed}) failed: "
               f"{type(exc).__name__}: {exc}")
        return eng.piece(t_i, "failed", msg)
    return eng.piece(t_i, "empty" if out is None else "stopped" if out else "done")


def _stage_job(item: tuple, engine: _Engine) -> _Piece:
    """Fit the nested stage of one staged input on one outer fold (a cluster runs these
    before the tasks, which then share the fitted stages); ``item`` is ``(index of the outer
    fold, input name)``. A failure is returned (``"failed"``): the fold's tasks then try the
    stage again themselves and report the error as their own, as in-process."""
    f_i, name = item
    eng = engine.fork()
    try:
        eng._fit_stage(engine.outer[f_i], name, engine.inputs[name])
    except (GenoappError, ValueError, RuntimeError, MemoryError) as exc:
        return eng.piece(-1, "failed", f"{type(exc).__name__}: {exc}")
    return eng.piece(-1, "done")


def _announce(piece: _Piece, item: tuple, engine: _Engine, emit, *, replay: bool) -> None:
    """Client side of a finished task: replay a worker's events, report a failure."""
    if replay:
        for ev in piece.events:
            emit(ev)
    if piece.outcome == "failed":
        t_i, n_tasks, tk, _ = item
        _log.warning(piece.error)
        emit({**_task_base(t_i, n_tasks, tk, engine.models[tk.key]), "event": "task_failed",
              "error": piece.error})


def _train_rows_key(fold: OuterFold) -> bytes:
    return np.asarray(fold.train_idx, dtype=np.int64).tobytes()


def _waves(items: list, outer: list, config: ProtocolConfig) -> list[list[int]]:
    """Task indices in the order they can run at once on a cluster.

    Without ``share_tuning`` every task is independent: one wave. With it, a task on an outer
    fold whose training rows an earlier fold already had (a later seed of the same split)
    reuses that fold's choice, so it runs in a second wave, after the first.
    """
    if not config.share_tuning:
        return [list(range(len(items)))]
    first: dict[bytes, int] = {}
    lead, follow = [], []
    for i, it in enumerate(items):
        f_i = it[3]
        lead_fold = first.setdefault(_train_rows_key(outer[f_i]), f_i)
        (lead if lead_fold == f_i else follow).append(i)
    return [w for w in (lead, follow) if w]


def _run_on_cluster(ex, eng: _Engine, tasks: list, items: list, emit, stop) -> bool:
    """Run the protocol's tasks on a Dask cluster; merge their pieces into ``eng`` in task
    order. Returns True when stopped (on request, or a task that ended the queue)."""
    n = len(tasks)
    emit({"event": "message", "text": f"{n} task(s) on {ex.n_workers} Dask worker(s) "
                                      f"({ex.setting}); progress as tasks finish"})
    _log.info("protocol: %d task(s) on the Dask cluster %s (%d worker(s))", n, ex.setting,
              ex.n_workers)
    outer = eng.outer
    # 1. nested stages (fitted once per input and fold, before the tasks that use them)
    staged = list(dict.fromkeys((it[3], tk.input) for it, tk in zip(items, tasks, strict=True)
                                if isinstance(eng.inputs.get(tk.input), StagedInput)))
    if staged:
        first: dict[tuple, int] = {}
        lead, follow = [], []
        for f_i, name in staged:
            k = (name, _train_rows_key(outer[f_i]))
            shared = eng.config.share_tuning and first.setdefault(k, f_i) != f_i
            (follow if shared else lead).append((f_i, name))
        emit({"event": "message", "text": f"fitting {len(lead)} nested feature stage(s) on the "
                                          "cluster"})
        try:
            done = ex.map(_stage_job, lead, shared=[eng.for_workers()],
                          should_stop=stop.should_stop, label="protocol-stages")
        except JobsStopped as exc:
            for i in sorted(exc.done):
                if exc.done[i].outcome != "failed":
                    eng.merge(exc.done[i])
            return True
        for p in done:
            if p.outcome != "failed":
                eng.merge(p)
        for it in follow:  # copies of their leader's stage: cheap, here
            p = _stage_job(it, eng)
            if p.outcome != "failed":
                eng.merge(p)
        pos = {(name, outer[f_i].repeat, outer[f_i].fold): k for k, (f_i, name) in enumerate(staged)}
        eng.stage_choice.sort(key=lambda c: pos[(c["input"], c["repeat"], c["fold"])])
        eng.stage_rows.sort(key=lambda r: pos[(r["input"], r["repeat"], r["fold"])])
    # 2. the tasks, in waves (share_tuning: later seeds after the first)
    pieces: dict[int, _Piece] = {}
    stopped = False
    for wave in _waves(items, outer, eng.config):
        if stop.stop_requested:
            stopped = True
            break

        def on_result(j, piece, wave=wave):
            _announce(piece, items[wave[j]], eng, emit, replay=True)

        try:
            done = dict(enumerate(ex.map(_task_job, [items[i] for i in wave],
                                         shared=[eng.for_workers()], on_result=on_result,
                                         should_stop=stop.should_stop, label="protocol")))
        except JobsStopped as exc:
            done, stopped = exc.done, True
        for j in sorted(done):
            pieces[wave[j]] = done[j]
            for k, v in done[j].shared_choice.items():  # what the next wave reuses
                eng.shared_choice.setdefault(k, v)
        if stopped:
            break
    for i in sorted(pieces):
        eng.merge(pieces[i])
        if pieces[i].outcome in _HALTS:
            return True
    return stopped


def run_protocol(inputs: dict, y, *, models: Sequence[ModelSpec], outer: Sequence[OuterFold],
                 config: ProtocolConfig | None = None, snps=None, traits: Sequence[str] | None = None,
                 feature_names: dict | None = None, feature_groups: dict | None = None,
                 callbacks: Sequence[Callback] = (), on_event: Callable[[dict], None] | None = None,
                 stop: StopFlag | None = None) -> ProtocolResult:
    """Tune, train and test every model on every input and outer fold, on identical splits.

    Parameters
    ----------
    inputs : dict of str -> array-like (n_samples, n_features)
        Feature matrices by input name ("Gene-PCA", "All-PCA", "markers", "markers +
        loadings"...), rows aligned with ``y``. Case/control: no missing values, and every
        fitted transformation from training rows only (:func:`genoapp.features.build_features`
        with ``fit_on="train"``). Quantitative: raw values (NaN = missing), standardised inside
        each training part (``config.standardize``).
    y : array-like (n_samples,) or (n_samples, n_traits)
        Case/control labels (0 = control, 1 = case), or trait values (NaN = missing).
    models : sequence of ModelSpec
        The models to run (:func:`genoapp.workflows.registry.model_specs`), all of the
        config's task.
    outer : sequence of OuterFold
        The outer splits (:func:`genoapp.train.holdout_folds`,
        :func:`genoapp.train.repeated_kfold`, :func:`genoapp.train.folds_from_labels`).
    config : ProtocolConfig, optional
    snps : array-like (n_samples, n_snps), optional
        QC'd SNP dosages (NaN = missing) for models with ``input="snps"`` (PRS); those models
        are skipped (with a note) without it.
    traits : sequence of str, optional
        Names of the columns of ``y`` (default ``trait1``...; case/control ``"phenotype"``).
    feature_names, feature_groups : dict of input -> sequence, optional
        Column names and groups (``"marker"``, ``"loading"``) per input, for importance
        tables and selection counts.
    callbacks : sequence of Callback
        Extra callbacks for every torch fit (e.g. a progress bar).
    on_event : callable(dict), optional
        Receives plain dict events: ``task_begin``, ``fit_begin``, ``epoch``, ``fit_end``,
        ``task_end``, ``task_failed``, ``stopped``, ``done``; every task event has ``task``
        (0-based index into the queue), ``n_tasks``, ``model``, ``key``, ``input``,
        ``trait``, ``seed``, ``repeat``, ``fold_outer``; fit events also ``fold`` (0-based inner
        fold or ``"final"``) and ``params``; ``epoch`` events ``logs``. Called from the training
        thread; must be quick and thread-safe. A task that raises a genoapp error,
        ValueError, RuntimeError or MemoryError emits ``task_failed``, is recorded in ``notes``
        and skipped.
    stop : StopFlag, optional
        Set from another thread to stop after the current mini-batch (torch) or fit.

    Returns
    -------
    ProtocolResult

    Notes
    -----
    The tasks (outer folds × seeds × models × inputs, × traits for single-output regressors)
    are independent jobs run by :func:`genoapp.execution.current_executor`. In-process (the
    default) they run one after the other with the events above, live. On a Dask cluster
    (inside :func:`genoapp.execution.use_executor`) they run on the workers, each on a copy of
    the inputs sent once; the pieces they return are merged in task order, so the result is
    the same as in-process (torch fits: when this process also trains with one thread, as each
    worker does; else within floating-point noise). There, a task's events (without its epochs, so no live curves) arrive when it
    finishes, after a ``message`` event saying where the tasks run; ``stop`` cancels the tasks
    not yet finished and keeps those that are (a running fit is not interrupted); ``callbacks``
    are not called. Nested stages (:class:`StagedInput`) are fitted first, once per input and
    fold; with ``share_tuning`` the later seeds of a split run after the first. Optuna trials
    inside one task stay sequential: TPE proposes each trial from the finished ones, so running
    trials at once would change the search; the parallelism is across tasks.

    Raises
    ------
    InputDataError
        Rows of an input differ from ``len(y)``, labels not 0/1, overlapping or out-of-range
        fold indices, a trait with fewer than 10 observed values.
    ConfigError
        Bad config, no models, duplicate model keys, a model of the other task.
    """
    config = config or ProtocolConfig()
    stop = stop or StopFlag()
    emit = on_event or (lambda ev: None)
    t_start = time.perf_counter()
    task = config.task
    Y = np.asarray(y, dtype=np.float64)
    if Y.ndim not in (1, 2) or Y.shape[0] == 0:
        raise InputDataError(f"y: expected a non-empty 1-D or 2-D array, got shape {Y.shape}.")
    n = Y.shape[0]
    Y2 = Y[:, None] if Y.ndim == 1 else Y
    T = Y2.shape[1]
    if task == "classification":
        if Y.ndim != 1 or np.isnan(Y).any() or not np.isin(Y, (0.0, 1.0)).all():
            raise InputDataError("y: labels must be a 1-D array of 0 (control) / 1 (case) "
                                 "without missing values.")
    traits = list(traits) if traits is not None else (
        ["phenotype"] if task == "classification" else [f"trait{t + 1}" for t in range(T)])
    if len(traits) != T:
        raise InputDataError(f"traits: {len(traits)} names for {T} target columns.")
    if task == "regression":
        few = [traits[t] for t in range(T) if np.isfinite(Y2[:, t]).sum() < 10]
        if few:
            raise InputDataError(f"Traits with fewer than 10 observed values: {few}; drop them.")
    models = list(models)
    if not models:
        raise ConfigError("models: choose at least one model.")
    keys = [m.key for m in models]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"models: duplicate keys {keys}.")
    wrong = [m.name for m in models if m.task != task]
    if wrong:
        raise ConfigError(f"models {wrong} are not {task} models.")
    feats, names, groups = {}, {}, {}
    for name, X in inputs.items():
        if isinstance(X, StagedInput):
            if task != "classification":
                raise ConfigError(f"input {name!r}: nested stages are for case/control inputs.")
            Xa = np.asarray(X.data)
            if Xa.ndim != 2 or Xa.shape[0] != n:
                raise InputDataError(f"input {name!r}: expected {n} rows, got shape {Xa.shape}.")
            feats[str(name)] = X
            continue
        Xa = np.asarray(X)
        if Xa.ndim != 2 or Xa.shape[0] != n or Xa.shape[1] == 0:
            raise InputDataError(f"input {name!r}: expected {n} rows (one per sample) and at least "
                                 f"one column, got shape {Xa.shape}.")
        if task == "classification" and Xa.dtype.kind == "f" and np.isnan(Xa).any():
            raise InputDataError(f"input {name!r}: missing values; impute the features first.")
        feats[str(name)] = Xa
    notes: list[str] = []
    if snps is not None:
        snps = np.asarray(snps)
        if snps.ndim != 2 or snps.shape[0] != n:
            raise InputDataError(f"snps: expected {n} rows, got shape {snps.shape}.")
    elif any(m.input == "snps" for m in models):
        notes.append("SNP-based models skipped: no SNP dosages were given.")
    if not feats and not any(m.input == "snps" for m in models):
        raise ConfigError("inputs: give at least one feature matrix.")
    all_inputs = {**feats, **({SNP_INPUT: snps} if snps is not None else {})}
    for name, Xa in all_inputs.items():
        if isinstance(Xa, StagedInput):  # names and genes come from each fitted stage
            names[name], groups[name] = [], np.empty(0, dtype=object)
            continue
        P = Xa.shape[1]
        nm = list((feature_names or {}).get(name, [])) or [f"x{j + 1}" for j in range(P)]
        gr = (feature_groups or {}).get(name)
        gr = np.asarray(gr, dtype=object) if gr is not None else np.full(P, "feature", dtype=object)
        if len(nm) != P or gr.shape != (P,):
            raise InputDataError(f"feature_names/feature_groups of {name!r}: need {P} entries each.")
        names[name], groups[name] = nm, gr
    outer = list(outer)
    if not outer:
        raise ConfigError("outer: give at least one outer fold.")
    for f in outer:
        if f.train_idx.size == 0 or f.test_idx.size == 0 or f.train_idx.min() < 0 or \
                f.test_idx.min() < 0 or max(f.train_idx.max(), f.test_idx.max()) >= n or \
                np.intersect1d(f.train_idx, f.test_idx).size:
            raise InputDataError(f"{f}: training and test indices must be disjoint, non-empty rows "
                                 f"0..{n - 1}.")
    spec_by_key = {m.key: m for m in models}
    tasks = plan_tasks(models, list(feats), has_snps=snps is not None, outer=outer, traits=traits)
    eng = _Engine(task=task, y=Y2, inputs=feats, snps=snps, models=spec_by_key, outer=outer,
                  config=config, traits=traits, callbacks=callbacks, emit=emit, stop=stop,
                  feature_groups=groups)
    eng.notes = notes
    _log.info("protocol: %s, %d task(s), %d model(s), %d outer fold(s), inputs %s", task,
              len(tasks), len(models), len(outer), list(all_inputs))
    fold_index = {(f.repeat, f.fold): i for i, f in enumerate(outer)}
    items = [(t_i, len(tasks), tk, fold_index[(tk.repeat, tk.fold)]) for t_i, tk in enumerate(tasks)]
    ex = current_executor()
    if ex.distributed and len(tasks) > 1:
        stopped = _run_on_cluster(ex, eng, tasks, items, emit, stop)
    else:  # one task after the other, live events, stop between mini-batches
        stopped = False
        for item in items:
            if stop.stop_requested:
                stopped = True
                break
            piece = _task_job(item, eng)
            _announce(piece, item, eng, emit, replay=False)
            eng.merge(piece)
            if piece.outcome in _HALTS:  # stopped (before any model existed, or kept the best)
                stopped = True
                break
    n_done = len(eng.estimators)  # completed tasks (one per trait for single-output regressors)
    if stopped:
        notes.append(f"Stopped on request; the tables cover the {n_done} fits completed.")
        emit({"event": "stopped", "n_done": n_done, "n_tasks": len(tasks)})
    emit({"event": "done", "n_done": n_done, "n_tasks": len(tasks)})
    mnames = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    metric_cols = ["model", "key", "input", "trait", "repeat", "fold", "seed", *mnames,
                   "n_train", "n_test", "best_params", "val_score", "epochs", "best_epoch",
                   "stopped", "device", "seconds", "n_selected", "n_selected_markers",
                   "n_selected_loadings"]
    pred_cols = ["key", "model", "input", "trait", "repeat", "fold", "seed", "row"] + (
        ["label", "score", "prediction"] if task == "classification"
        else ["observed", "predicted", "observed_std", "predicted_std"])
    secs = time.perf_counter() - t_start
    _log.info("protocol done in %.1f s: %d task(s) completed%s", secs, len(eng.estimators),
              " (stopped)" if stopped else "")
    return ProtocolResult(
        task=task,
        metrics=pd.DataFrame(eng.metric_rows, columns=metric_cols),
        fold_metrics=pd.DataFrame(eng.fold_rows),
        predictions=(pd.concat(eng.pred_parts, ignore_index=True) if eng.pred_parts
                     else pd.DataFrame(columns=pred_cols)),
        histories=eng.histories, estimators=eng.estimators, outer=outer, traits=traits,
        inputs=list(all_inputs), feature_names=names, feature_groups=groups, config=config,
        models=spec_by_key, stopped=stopped, notes=notes, seconds=secs,
        importance_sums=eng.importance, stage_metrics=pd.DataFrame(eng.stage_rows),
        stage_choice=pd.DataFrame(eng.stage_choice), stages=eng.stages,
    )
