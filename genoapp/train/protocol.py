"""The honest comparison protocol for case/control models (DESIGN §4.3; paper Table 1).

One balanced test split is drawn beforehand (:func:`genoapp.pipeline.make_split`) and touched
once per final model, for its test metrics. Everything else happens inside the training samples:

1. For every seed: balanced validation folds (:func:`genoapp.train.balanced_kfold`, each fold
   1:1 cases:controls) and, for every fold, the fitting samples upsampled to 1:1
   (:func:`genoapp.train.upsample_minority`). The folds and upsampled index sets depend on the
   seed only, so **all models see identical splits and seeds**.
2. Hyper-parameters: every candidate (a grid, or Optuna's TPE sampler, or the fixed defaults)
   is fitted on each fold's upsampled fitting samples and scored on its validation fold; the
   candidate with the best mean validation score (``select_by``) wins. Every fold score is kept
   (``fold_metrics``).
3. Final model: scikit-learn models are refitted on all upsampled training samples with the
   chosen values. Torch models (which select their best epoch on validation data) either keep
   the model of the first fold (``validation="holdout"``: trained on 4/5 of the training
   samples, best epoch chosen on the held-out fold, as the DiseaseCapsule authors trained) or
   are refitted on all training samples for the median best epoch of the folds
   (``validation="cv"``).
4. The final model scores the test samples: accuracy, precision, recall, F1, ROC AUC.

Training can be stopped at any time through a :class:`genoapp.train.StopFlag`: the running
torch fit ends after its current mini-batch, and the task keeps the best model fitted so far
(highest validation score; its record says ``stopped``); later tasks are skipped.

The functions here know nothing about the app: progress is reported as plain dict events.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterGrid

from genoapp.errors import ConfigError, GenoappError, InputDataError
from genoapp.metrics import classification_metrics
from genoapp.train.callbacks import Callback, StopFlag
from genoapp.train.splits import balanced_kfold, upsample_minority

__all__ = [
    "ModelSpec",
    "ProtocolConfig",
    "ProtocolResult",
    "Task",
    "plan_tasks",
    "run_protocol",
    "summarize_metrics",
    "comparison_table",
    "case_scores",
    "METRICS",
]

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
SNP_INPUT = "SNPs"


@dataclasses.dataclass
class ModelSpec:
    """A model of the zoo: how to build it and which hyper-parameters to tune.

    Attributes
    ----------
    key : str
        Short identifier ("capsule", "mlp", "logreg", ...), used in file names.
    name : str
        Display name in tables ("DiseaseCapsule", "Logistic regression", ...).
    factory : callable
        ``factory(**params, random_state=seed)`` (plus ``device=...`` for torch models) returns
        an unfitted estimator with ``fit``, ``predict`` and ``predict_proba`` or
        ``decision_function``.
    params : dict
        Fixed hyper-parameters (the preset's values).
    grid : dict of str -> list
        Candidate values of the tuned hyper-parameters (grid search; Optuna samples among them
        unless ``space`` says otherwise). Empty: nothing to tune.
    space : dict of str -> tuple
        Optional Optuna distributions: ``("float", low, high, log)``, ``("int", low, high)`` or
        ``("categorical", values)``. Parameters missing here use ``grid`` as categorical.
    input : {"features", "snps"}
        Fitted on every feature input (Gene-PCA, All-PCA, windows) or on the QC'd SNP dosages
        (PRS models).
    is_torch : bool
        Accepts ``X_val``, ``y_val`` and ``callbacks`` in ``fit`` (live curves, stop button,
        best-epoch selection).
    upsample : bool, default True
        Fit on the 1:1 upsampled samples (True) or on the real training samples (False: models
        that balance the classes themselves and must not see duplicated samples, e.g. a GWAS).
    description : str
        One line for the app (what the model is, where its defaults come from).
    """

    key: str
    name: str
    factory: Callable[..., Any]
    params: dict = dataclasses.field(default_factory=dict)
    grid: dict = dataclasses.field(default_factory=dict)
    space: dict = dataclasses.field(default_factory=dict)
    input: str = "features"
    is_torch: bool = False
    upsample: bool = True
    description: str = ""

    def __post_init__(self):
        if self.input not in ("features", "snps"):
            raise ConfigError(f"ModelSpec {self.key}: input must be 'features' or 'snps', got {self.input!r}.")
        for k, v in self.grid.items():
            if not isinstance(v, list | tuple) or len(v) == 0:
                raise ConfigError(f"ModelSpec {self.key}: grid[{k!r}] must be a non-empty list.")

    def build(self, params: dict, *, random_state: int, device: str = "auto"):
        """An unfitted estimator with ``params`` over the fixed ones, seeded."""
        kwargs = {**self.params, **params, "random_state": int(random_state)}
        if self.is_torch:
            kwargs["device"] = device
        return self.factory(**kwargs)


@dataclasses.dataclass
class ProtocolConfig:
    """Settings of :func:`run_protocol` (documented defaults = the quick preset).

    Attributes
    ----------
    seeds : tuple of int, default (0, 1, 2)
        One full repetition per seed (folds, upsampling, model initialisation); the table
        reports mean ± SD over seeds.
    n_folds : int, default 5
        Balanced validation folds inside the training samples. Reduced automatically (to at
        least 2) when the rarer class has fewer training samples; the reduction is recorded
        in ``ProtocolResult.notes``.
    validation : {"holdout", "cv"}, default "holdout"
        "holdout": only the first fold is used for validation (cheap: one fit per candidate);
        "cv": all folds (5 fits per candidate, then a refit).
    tuning : {"grid", "optuna", "none"}, default "grid"
        Grid search over each model's ``grid``; Optuna TPE (``n_trials`` trials, seeded); or
        no tuning (first grid value).
    n_trials : int, default 10
        Optuna trials per model and seed.
    select_by : {"roc_auc", "accuracy", "f1"}, default "roc_auc"
        Validation metric that picks the hyper-parameters.
    device : str, default "auto"
        Torch device for the neural networks.
    """

    seeds: tuple = (0, 1, 2)
    n_folds: int = 5
    validation: str = "holdout"
    tuning: str = "grid"
    n_trials: int = 10
    select_by: str = "roc_auc"
    device: str = "auto"

    def __post_init__(self):
        self.seeds = tuple(int(s) for s in self.seeds)
        if not self.seeds:
            raise ConfigError("seeds: give at least one seed.")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: repeated values in {self.seeds}.")
        if not isinstance(self.n_folds, int | np.integer) or self.n_folds < 2:
            raise ConfigError(f"n_folds: an integer >= 2, got {self.n_folds!r} (paper: 5).")
        if self.validation not in ("holdout", "cv"):
            raise ConfigError(f"validation: 'holdout' or 'cv', got {self.validation!r}.")
        if self.tuning not in ("grid", "optuna", "none"):
            raise ConfigError(f"tuning: 'grid', 'optuna' or 'none', got {self.tuning!r}.")
        if not isinstance(self.n_trials, int | np.integer) or self.n_trials < 1:
            raise ConfigError(f"n_trials: a positive integer, got {self.n_trials!r}.")
        if self.select_by not in ("roc_auc", "accuracy", "f1"):
            raise ConfigError(f"select_by: 'roc_auc', 'accuracy' or 'f1', got {self.select_by!r}.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Task:
    """One (model, input, seed) unit of work of the queue."""

    model: str
    input: str
    seed: int


def plan_tasks(models: Sequence[ModelSpec], feature_inputs: Sequence[str], *, has_snps: bool,
               seeds: Sequence[int]) -> list[Task]:
    """The queue, in run order: seed, then input, then model.

    Seeds are the outer loop so that a stopped run has every model on the first seed.
    SNP models run once per seed on input ``"SNPs"`` (skipped when ``has_snps`` is False).
    """
    tasks = []
    for seed in seeds:
        for name in feature_inputs:
            tasks += [Task(m.key, name, int(seed)) for m in models if m.input == "features"]
        if has_snps:
            tasks += [Task(m.key, SNP_INPUT, int(seed)) for m in models if m.input == "snps"]
    return tasks


def case_scores(estimator, X) -> np.ndarray:
    """Continuous case score of a fitted binary classifier (higher = more likely a case).

    ``predict_proba(X)[:, 1]`` when available, else ``decision_function(X)``.
    """
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(X), dtype=np.float64)[:, 1]
    return np.asarray(estimator.decision_function(X), dtype=np.float64)


@dataclasses.dataclass
class ProtocolResult:
    """Everything :func:`run_protocol` produced.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per completed (model, input, seed): ``model`` (display name), ``key``,
        ``input``, ``seed``, the test metrics (``accuracy``, ``precision``, ``recall``, ``f1``,
        ``roc_auc``), ``n_test``, ``best_params`` (JSON), ``val_score`` (mean validation
        ``select_by`` of the chosen values), ``epochs`` (torch: epochs trained in the final
        model), ``best_epoch``, ``stopped`` (bool), ``device``, ``seconds`` (whole task).
    fold_metrics : pandas.DataFrame
        One row per validation fit: ``model``, ``key``, ``input``, ``seed``, ``candidate``
        (index), ``params`` (JSON), ``fold``, validation metrics, ``n_val``, ``seconds``.
    test_scores, test_predictions : dict of (key, input, seed) -> numpy.ndarray
        Case scores and 0/1 predictions of the final models on the test samples.
    histories : dict of (key, input, seed) -> pandas.DataFrame
        Per-epoch logs of the final torch models.
    estimators : dict of (key, input, seed) -> fitted estimator
    y_test : numpy.ndarray
        Test labels, in ``test_idx`` order.
    train_idx, test_idx : numpy.ndarray
    config : ProtocolConfig
    models : dict of key -> ModelSpec
    stopped : bool
        A stop was requested; unfinished tasks are absent from ``metrics``.
    notes : list of str
        Adjustments made (fewer folds for a rare class, skipped models).
    """

    metrics: pd.DataFrame
    fold_metrics: pd.DataFrame
    test_scores: dict
    test_predictions: dict
    histories: dict
    estimators: dict
    y_test: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    config: ProtocolConfig
    models: dict
    stopped: bool = False
    notes: list = dataclasses.field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """The comparison table (paper Table 1 style): see :func:`summarize_metrics`."""
        return summarize_metrics(self.metrics)


def summarize_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean ± SD over seeds of every test metric, per model and input.

    Parameters
    ----------
    metrics : pandas.DataFrame
        ``ProtocolResult.metrics`` (columns ``model``, ``input``, ``seed`` and the metrics).

    Returns
    -------
    pandas.DataFrame
        One row per (model, input) in first-appearance order: ``model``, ``input``,
        ``n_seeds``, for each metric ``<m>_mean`` and ``<m>_sd`` (sample SD, ddof = 1; NaN for
        one seed) and ``<m>`` as text ``"0.869 ± 0.012"``.
    """
    cols = ["model", "input", "n_seeds"]
    for m in METRICS:
        cols += [m, f"{m}_mean", f"{m}_sd"]
    if metrics is None or len(metrics) == 0:
        return pd.DataFrame(columns=cols)
    rows = []
    for (model, inp), g in metrics.groupby(["model", "input"], sort=False):
        row = {"model": model, "input": inp, "n_seeds": int(g["seed"].nunique())}
        for m in METRICS:
            v = g[m].astype(float)
            mean = float(v.mean())
            sd = float(v.std(ddof=1)) if len(v) > 1 else math.nan
            row[f"{m}_mean"], row[f"{m}_sd"] = mean, sd
            row[m] = f"{mean:.3f}" + ("" if math.isnan(sd) else f" ± {sd:.3f}")
        rows.append(row)
    return pd.DataFrame(rows)[cols]


def comparison_table(summary: pd.DataFrame, *, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """The comparison laid out like paper Table 1: one row per model, columns per input.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`summarize_metrics` output.
    metrics : sequence of str
        Which metrics (default accuracy, precision, recall, F1, ROC AUC).

    Returns
    -------
    pandas.DataFrame
        ``model`` then, for each input in order of appearance and each metric, a text column
        ``"<input> <metric>"`` holding ``"mean ± SD"`` (empty where the model did not run on
        that input, e.g. PRS models on feature inputs).
    """
    if summary is None or len(summary) == 0:
        return pd.DataFrame(columns=["model"])
    inputs = list(dict.fromkeys(summary["input"]))
    models = list(dict.fromkeys(summary["model"]))
    rows = []
    for model in models:
        row = {"model": model}
        for inp in inputs:
            hit = summary[(summary["model"] == model) & (summary["input"] == inp)]
            for m in metrics:
                row[f"{inp} {m}"] = hit[m].iloc[0] if len(hit) else ""
        rows.append(row)
    return pd.DataFrame(rows)


class _EventCallback(Callback):
    """Forwards a torch fit's epochs to the protocol's event sink."""

    def __init__(self, emit, base: dict):
        self.emit = emit
        self.base = base

    def on_train_begin(self, info: dict) -> None:
        self.emit({**self.base, "event": "fit_begin", "info": {k: v for k, v in info.items()}})

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.emit({**self.base, "event": "epoch", "epoch": int(epoch), "logs": dict(logs)})


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
    for name, values in spec.grid.items():
        dist = spec.space.get(name)
        if dist is None or dist[0] == "categorical":
            choices = list(values if dist is None else dist[1])
            idx = trial.suggest_categorical(name, list(range(len(choices))))
            params[name] = choices[idx]
        elif dist[0] == "float":
            params[name] = trial.suggest_float(name, dist[1], dist[2], log=bool(dist[3]) if len(dist) > 3 else False)
        elif dist[0] == "int":
            params[name] = trial.suggest_int(name, dist[1], dist[2])
        else:
            raise ConfigError(f"ModelSpec {spec.key}: unknown Optuna distribution {dist!r} for {name}.")
    return params


def _fold_plan(train_idx, y, config: ProtocolConfig, seed: int, notes: list):
    counts = np.bincount(y[train_idx], minlength=2)
    n_min = int(counts.min())
    n_folds = int(config.n_folds)
    if n_min < 2:
        raise InputDataError(
            f"the training samples hold {counts[1]} case(s) and {counts[0]} control(s); at least 2 "
            "of each are needed for a validation fold. Use a smaller test fraction or more samples."
        )
    if n_min < n_folds:
        msg = (f"only {n_min} training samples in the rarer class: {n_min} validation folds "
               f"instead of {n_folds}.")
        if msg not in notes:
            notes.append(msg)
        n_folds = n_min
    folds = balanced_kfold(train_idx, y, n_splits=n_folds, random_state=seed)
    if config.validation == "holdout":
        folds = folds[:1]
    fit_sets = [upsample_minority(fit, y, random_state=seed) for fit, _ in folds]
    return folds, fit_sets


def run_protocol(inputs: dict, y, split_idx: tuple, *, models: Sequence[ModelSpec],
                 snps=None, config: ProtocolConfig | None = None, callbacks: Sequence[Callback] = (),
                 on_event: Callable[[dict], None] | None = None,
                 stop: StopFlag | None = None) -> ProtocolResult:
    """Tune, train and test every model on every input and seed, on identical splits.

    Parameters
    ----------
    inputs : dict of str -> array-like (n_samples, n_features)
        Feature matrices by input name ("Gene-PCA", "All-PCA", "Windows"...), rows aligned with
        ``y``; no missing values. Fitted transformations must come from training rows only
        (:func:`genoapp.pipeline.build_features` with ``fit_on="train"``).
    y : array-like (n_samples,)
        Labels, 0 = control, 1 = case.
    split_idx : (train_idx, test_idx)
        The balanced test split (e.g. ``(split.train_idx, split.test_idx)``).
    models : sequence of ModelSpec
        The models to run (:func:`genoapp.models.zoo.model_zoo`).
    snps : array-like (n_samples, n_snps), optional
        QC'd SNP dosages (NaN = missing) for models with ``input="snps"`` (PRS); those models
        are skipped (with a note) without it.
    config : ProtocolConfig, optional
    callbacks : sequence of Callback
        Extra callbacks for every torch fit (e.g. a progress bar).
    on_event : callable(dict), optional
        Receives plain dict events: ``task_begin``, ``fit_begin``, ``epoch``, ``fit_end``,
        ``task_end``, ``stopped``, ``done``; every event has ``task`` (0-based index into the
        queue), ``n_tasks``, ``model``, ``key``, ``input``, ``seed``; fit events also ``fold``
        (0-based validation fold or ``"final"``) and ``params``; ``epoch`` events ``logs``.
        Called from the training thread; must be quick and thread-safe. A task that raises a
        ValueError (genoapp's input and config errors included), RuntimeError or MemoryError
        emits ``task_failed`` (with ``error``), is recorded in ``notes`` and skipped.
    stop : StopFlag, optional
        Set from another thread to stop after the current mini-batch (torch) or fit.

    Returns
    -------
    ProtocolResult

    Raises
    ------
    InputDataError
        Rows of an input differ from ``len(y)``, labels not 0/1, overlapping or out-of-range
        split indices, NaN features, fewer than 2 training samples of a class.
    ConfigError
        Bad config, no models, duplicate model keys.
    """
    config = config or ProtocolConfig()
    stop = stop or StopFlag()
    emit = on_event or (lambda ev: None)
    y = np.asarray(y)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise InputDataError("y: labels must be a 1-D array of 0 (control) / 1 (case) without missing values.")
    y = y.astype(np.int64)
    n = y.size
    train_idx, test_idx = (np.asarray(a, dtype=np.int64) for a in split_idx)
    if np.intersect1d(train_idx, test_idx).size:
        raise InputDataError("split: training and test indices overlap; draw the split with make_split.")
    for name, idx in (("train_idx", train_idx), ("test_idx", test_idx)):
        if idx.size == 0 or idx.min() < 0 or idx.max() >= n:
            raise InputDataError(f"split: {name} empty or outside 0..{n - 1}.")
    models = list(models)
    if not models:
        raise ConfigError("models: choose at least one model.")
    keys = [m.key for m in models]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"models: duplicate keys {keys}.")
    feats = {}
    for name, X in inputs.items():
        Xa = np.asarray(X)
        if Xa.ndim != 2 or Xa.shape[0] != n:
            raise InputDataError(f"input {name!r}: expected {n} rows (one per label), got shape {Xa.shape}.")
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
    spec_by_key = {m.key: m for m in models}
    tasks = plan_tasks(models, list(feats), has_snps=snps is not None, seeds=config.seeds)
    y_test = y[test_idx]

    metric_rows, fold_rows = [], []
    test_scores, test_preds, histories, estimators = {}, {}, {}, {}
    plans = {}
    stopped = False
    for t_i, task in enumerate(tasks):
        spec = spec_by_key[task.model]
        base = {"task": t_i, "n_tasks": len(tasks), "model": spec.name, "key": spec.key,
                "input": task.input, "seed": task.seed}
        if stop.stop_requested:
            stopped = True
            break
        if task.seed not in plans:
            plans[task.seed] = _fold_plan(train_idx, y, config, task.seed, notes)
        folds, fit_sets = plans[task.seed]
        X = snps if task.input == SNP_INPUT else feats[task.input]
        emit({**base, "event": "task_begin", "n_folds": len(folds)})
        t_task = time.perf_counter()
        try:
            out = _run_task(spec, X, y, train_idx, test_idx, folds, fit_sets, config, task,
                            base, emit, stop, callbacks, fold_rows)
        except (GenoappError, ValueError, RuntimeError, MemoryError) as exc:
            # one model failing (bad hyper-parameter for this input, out of memory...) does not
            # lose the rest of the queue; the reason is kept in the notes
            msg = f"{spec.name} on {task.input}, seed {task.seed} failed: {type(exc).__name__}: {exc}"
            notes.append(msg)
            emit({**base, "event": "task_failed", "error": msg})
            continue
        if out is None:  # stopped before any model existed
            stopped = True
            break
        est, chosen, val_score, task_stopped = out
        key = (spec.key, task.input, task.seed)
        scores = case_scores(est, X[test_idx])
        preds = np.asarray(est.predict(X[test_idx])).astype(np.int64)
        m = classification_metrics(y_test, preds, scores)
        hist = getattr(est, "history_", None)
        row = {"model": spec.name, "key": spec.key, "input": task.input, "seed": task.seed,
               **{k: m[k] for k in METRICS}, "n_test": int(m["n"]),
               "best_params": _jsonable(chosen), "val_score": val_score,
               "epochs": len(hist) if hist is not None else None,
               "best_epoch": getattr(est, "best_epoch_", None),
               "stopped": bool(task_stopped), "device": getattr(est, "device_", "cpu"),
               "seconds": time.perf_counter() - t_task}
        metric_rows.append(row)
        test_scores[key], test_preds[key], estimators[key] = scores, preds, est
        if hist is not None:
            histories[key] = pd.DataFrame(hist)
        emit({**base, "event": "task_end", "metrics": {k: row[k] for k in METRICS},
              "stopped": bool(task_stopped)})
        if task_stopped:
            stopped = True
            break
    if stopped:
        emit({"event": "stopped", "n_done": len(metric_rows), "n_tasks": len(tasks)})
    emit({"event": "done", "n_done": len(metric_rows), "n_tasks": len(tasks)})
    return ProtocolResult(
        metrics=pd.DataFrame(metric_rows),
        fold_metrics=pd.DataFrame(fold_rows),
        test_scores=test_scores, test_predictions=test_preds, histories=histories,
        estimators=estimators, y_test=y_test, train_idx=train_idx, test_idx=test_idx,
        config=config, models=spec_by_key, stopped=stopped, notes=notes,
    )


def _fit(spec, est, X, y, fit_idx, val_idx, callbacks):
    if spec.is_torch:
        kw = {"callbacks": callbacks}
        if val_idx is not None:
            kw.update(X_val=X[val_idx], y_val=y[val_idx])
        est.fit(X[fit_idx], y[fit_idx], **kw)
    else:
        est.fit(X[fit_idx], y[fit_idx])
    return est


def _run_task(spec, X, y, train_idx, test_idx, folds, fit_sets, config, task, base, emit, stop,
              user_callbacks, fold_rows):
    """Tune and fit one (model, input, seed). Returns (estimator, params, val score, stopped)
    or None when stopped before any model was fitted."""
    seed = task.seed
    select = config.select_by
    best = {"score": -math.inf, "params": None, "fold_model": None, "fold_model_score": -math.inf,
            "best_epochs": []}
    # the best single fold model seen so far (kept for a stop)
    fallback = {"est": None, "score": -math.inf, "params": None}

    def evaluate(cand_i: int, params: dict) -> float:
        scores, epochs, fold0 = [], [], None
        for k, ((plain_idx, val_idx), up_idx) in enumerate(zip(folds, fit_sets, strict=True)):
            fit_idx = up_idx if spec.upsample else plain_idx
            if stop.stop_requested:
                break
            fbase = {**base, "fold": k, "params": params}
            cbs = [_EventCallback(emit, fbase), stop, *user_callbacks] if spec.is_torch else []
            if not spec.is_torch:
                emit({**fbase, "event": "fit_begin"})
            t0 = time.perf_counter()
            est = spec.build(params, random_state=seed, device=config.device)
            _fit(spec, est, X, y, fit_idx, val_idx, cbs)
            s_val = case_scores(est, X[val_idx])
            p_val = np.asarray(est.predict(X[val_idx])).astype(np.int64)
            m = classification_metrics(y[val_idx], p_val, s_val)
            fold_rows.append({"model": spec.name, "key": spec.key, "input": task.input, "seed": seed,
                              "candidate": cand_i, "params": _jsonable(params), "fold": k,
                              **{q: m[q] for q in METRICS}, "n_val": int(m["n"]),
                              "best_epoch": getattr(est, "best_epoch_", None),
                              "stopped": bool(getattr(est, "stopped_early_", False) and stop.stop_requested),
                              "seconds": time.perf_counter() - t0})
            emit({**fbase, "event": "fit_end", "metrics": {q: m[q] for q in METRICS}})
            value = m[select] if not math.isnan(m[select]) else m["accuracy"]
            scores.append(value)
            epochs.append(getattr(est, "best_epoch_", None) or len(getattr(est, "history_", []) or []))
            if value > fallback["score"]:
                fallback.update(est=est, score=value, params=params)
            if k == 0:
                fold0 = est
        if not scores:
            return -math.inf
        mean = float(np.mean(scores))
        if mean > best["score"] and (len(scores) == len(folds)):
            best.update(score=mean, params=params, fold_model=fold0, best_epochs=epochs)
        return mean

    if config.tuning == "optuna" and spec.grid:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for i in range(int(config.n_trials)):
            if stop.stop_requested:
                break
            trial = study.ask()
            params = _optuna_suggest(trial, spec)
            value = evaluate(i, params)
            study.tell(trial, value if math.isfinite(value) else -1e9)
    else:
        if config.tuning == "none" or not spec.grid:
            candidates = [{k: v[0] for k, v in spec.grid.items()}]
        else:
            candidates = list(ParameterGrid(spec.grid))
        for i, params in enumerate(candidates):
            if stop.stop_requested:
                break
            evaluate(i, params)

    if stop.stop_requested or best["params"] is None:
        if fallback["est"] is None:
            return None
        return fallback["est"], fallback["params"], fallback["score"], True

    params = best["params"]
    if spec.is_torch and config.validation == "holdout":
        return best["fold_model"], params, best["score"], False
    # refit on all (upsampled) training samples
    final_params = dict(params)
    if spec.is_torch:
        ep = [e for e in best["best_epochs"] if e]
        if ep:
            final_params["epochs"] = max(1, int(round(float(np.median(ep)))))
    fbase = {**base, "fold": "final", "params": final_params}
    cbs = [_EventCallback(emit, fbase), stop, *user_callbacks] if spec.is_torch else []
    if not spec.is_torch:
        emit({**fbase, "event": "fit_begin"})
    fit_all = upsample_minority(train_idx, y, random_state=seed) if spec.upsample else train_idx
    est = spec.build(final_params, random_state=seed, device=config.device)
    _fit(spec, est, X, y, fit_all, None, cbs)
    emit({**fbase, "event": "fit_end", "metrics": None})
    if stop.stop_requested and spec.is_torch and getattr(est, "stopped_early_", False):
        # an interrupted refit has no validation-selected weights: keep the best fold model
        return fallback["est"], fallback["params"], fallback["score"], True
    return est, final_params, best["score"], False
