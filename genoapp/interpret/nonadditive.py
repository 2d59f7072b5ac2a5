"""Non-additive genes: a genetic algorithm over gene masks (DiseaseCapsule, DESIGN §4.4).

The authors (Luo et al. 2023; ``select_nonadditive_genes.py`` in HaploKit/DiseaseCapsule) took
the 1,200 genes with the highest one-gene-only case coupling and searched binary masks over them
with a genetic algorithm (geatpy's elitist SEGA, 30 individuals, 200 generations, crossover
0.9). The fitness of a mask is the training accuracy of the trained capsule network minus that
of a logistic regression fitted once on all features, both with the non-selected genes' features
zeroed: genes on which the capsule network does much better than a linear model are candidates
for non-additive effects. Both models were then retrained on the selected genes alone (paper: 644
genes; test accuracy 0.712 for the capsule network vs 0.512 for logistic regression, Table 2).

genoapp runs the search with :mod:`pygad` (seeded, own generators: the global random state is
left alone). Every generation's new masks are scored in one batch
(:func:`~genoapp.interpret.masked_class_scores`), cut into a few jobs of the current executor
(:mod:`genoapp.execution`: Dask workers under ``use_executor("local:N")``; the network and the
inputs are sent once per search); the logistic regression's masked decision function is
linear, so a job's masks cost one matrix product. pygad's own loop (selection, crossover,
mutation) stays on the client. Progress goes to genoapp training
callbacks (one ``on_epoch_end`` per generation, ``should_stop`` to stop after a generation).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.interpret._jobs import Bundle, executor_for, job_ranges, target_jobs
from genoapp.interpret.forward import auto_batch_size, net_of
from genoapp.interpret.masking import _as_sets, _labels, _scores_of_sets
from genoapp.interpret.scan import _check_inputs, select_rows

__all__ = ["GAConfig", "GAResult", "search_nonadditive_genes", "masked_linear_predictions",
           "RetrainResult", "retrain_on_genes"]


@dataclasses.dataclass
class GAConfig:
    """Settings of the gene-mask genetic algorithm.

    Attributes
    ----------
    pool_size : int, default 1200
        Top-ranked genes searched over (paper: 1,200 by ``c^g_{k*,case}``).
    population : int, default 30
        Masks per generation (paper: 30).
    generations : int, default 200
        Paper: 200.
    parents_mating : int or None
        Parents selected per generation (steady-state selection); default ``population // 2``.
    crossover_probability : float, default 0.9
        Two-point crossover (the authors' geatpy setting: 0.9).
    mutation_probability : float, default 0.005
        Per gene: the gene is redrawn from {0, 1} (so about half of the redraws flip it).
    keep_elitism : int, default 1
        Best masks copied unchanged to the next generation (elitist, as SEGA).
    init_fraction : float, default 0.5
        Probability that a gene is selected in the random initial masks.
    random_state : int, default 0
    """

    pool_size: int = 1200
    population: int = 30
    generations: int = 200
    parents_mating: int | None = None
    crossover_probability: float = 0.9
    mutation_probability: float = 0.005
    keep_elitism: int = 1
    init_fraction: float = 0.5
    random_state: int = 0

    def __post_init__(self):
        for name in ("pool_size", "population", "generations"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ConfigError(f"GA {name}: must be a positive integer, got {v!r}.")
        if self.population < 2:
            raise ConfigError(f"GA population: needs at least 2 masks, got {self.population}.")
        pm = self.parents_mating
        if pm is not None and (not isinstance(pm, int | np.integer) or not 1 <= pm <= self.population):
            raise ConfigError(f"GA parents_mating: must be in 1..population, got {pm!r}.")
        for name in ("crossover_probability", "mutation_probability", "init_fraction"):
            v = getattr(self, name)
            if not isinstance(v, int | float | np.number) or not 0.0 <= float(v) <= 1.0:
                raise ConfigError(f"GA {name}: must be in [0, 1], got {v!r}.")
        if not isinstance(self.keep_elitism, int | np.integer) or not 0 <= self.keep_elitism <= self.population:
            raise ConfigError(f"GA keep_elitism: must be in 0..population, got {self.keep_elitism!r}.")

    @classmethod
    def paper(cls, **overrides) -> GAConfig:
        """The published settings: 1,200 genes, population 30, 200 generations."""
        return cls(**overrides)

    @classmethod
    def quick(cls, **overrides) -> GAConfig:
        """Small settings for a first look on a CPU: 300 genes, population 10, 10 generations."""
        return cls(**{"pool_size": 300, "population": 10, "generations": 10, **overrides})


@dataclasses.dataclass
class GAResult:
    """Outcome of :func:`search_nonadditive_genes`.

    Attributes
    ----------
    pool_genes : ndarray (L,) object
        The searched genes, best-ranked first.
    best_mask : ndarray (L,) bool
        The fittest mask found (first found on ties).
    selected_genes : ndarray object
        ``pool_genes[best_mask]``.
    fitness, capsule_accuracy, lr_accuracy : float
        Of the best mask, on the training rows (weighted as given).
    history : pandas.DataFrame
        One row per generation (0 = the initial population): ``generation``,
        ``best_fitness`` (best so far), ``mean_fitness`` (of that generation),
        ``n_selected``, ``capsule_accuracy``, ``lr_accuracy`` (of the best so far), ``seconds``.
    generations_completed : int
    stopped_early : bool
        True when a callback stopped the search.
    n_evaluations : int
        Distinct masks scored.
    config : GAConfig
    seconds : float
    """

    pool_genes: np.ndarray
    best_mask: np.ndarray
    selected_genes: np.ndarray
    fitness: float
    capsule_accuracy: float
    lr_accuracy: float
    history: pd.DataFrame
    generations_completed: int
    stopped_early: bool
    n_evaluations: int
    config: GAConfig
    seconds: float


def _linear_parts(estimator):
    """(weights w' (F,), constant) of a StandardScaler -> binary LogisticRegression pipeline,
    such that the decision function of an input x is ``const + x @ w'``; None otherwise."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if isinstance(estimator, LogisticRegression):
        steps = [estimator]
    elif isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps if s != "passthrough" and s is not None]
    else:
        return None
    if not steps or not isinstance(steps[-1], LogisticRegression) or len(steps[-1].classes_) != 2:
        return None
    scale = np.ones(steps[-1].coef_.shape[1])
    shift = np.zeros_like(scale)
    for s in steps[:-1]:
        if not isinstance(s, StandardScaler):
            return None
        mu = s.mean_ if s.with_mean else np.zeros_like(scale)
        sd = s.scale_ if s.with_std else np.ones_like(scale)
        # z = (x - mu) / sd applied after the previous affine map (x' = x * scale + shift)
        scale, shift = scale / sd, (shift - mu) / sd
    lr = steps[-1]
    w = lr.coef_[0].astype(np.float64)
    return w * scale, float(lr.intercept_[0] + w @ shift)


def masked_linear_predictions(estimator, X, feature_masks) -> np.ndarray:
    """Predictions (S, n) of a fitted classifier on inputs with unmasked features zeroed.

    Parameters
    ----------
    estimator : fitted scikit-learn classifier
        A StandardScaler -> LogisticRegression pipeline (as
        :func:`genoapp.models.make_logistic_regression`) is evaluated for all masks in one
        matrix product; any other classifier is called once per mask on the zeroed inputs.
    X : array-like (n, F)
    feature_masks : bool array (S, F)
        Kept features per set.

    Returns
    -------
    ndarray (S, n) int64
        Predicted labels (the estimator's ``classes_``).
    """
    Xa = np.asarray(X, dtype=np.float64)
    fm = np.asarray(feature_masks, dtype=bool)
    if fm.ndim != 2 or fm.shape[1] != Xa.shape[1]:
        raise InputDataError(f"feature_masks: expected shape (n_sets, {Xa.shape[1]}), got {fm.shape}.")
    parts = _linear_parts(estimator)
    if parts is not None:
        w, const = parts
        logits = (Xa @ (fm * w).T).T + const                     # (S, n)
        classes = np.asarray(estimator.classes_)
        return classes[(logits > 0).astype(np.int64)].astype(np.int64)
    out = np.empty((fm.shape[0], Xa.shape[0]), dtype=np.int64)
    for s, m in enumerate(fm):
        out[s] = estimator.predict(np.where(m, Xa, 0.0).astype(np.float32))
    return out


def search_nonadditive_genes(model, features, ranking, *, baseline, samples="train",
                             sample_weight=None, config: GAConfig | None = None, callbacks=(),
                             on_generation=None, batch_size: int | None = None) -> GAResult:
    """Genetic algorithm over masks of the top-ranked genes (DESIGN §4.4 "non-additive genes").

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
        The trained capsule network.
    features : genoapp.features.FeatureSet or FeatureTable
        The inputs the model was trained on, with labels.
    ranking : array-like of gene keys or positions
        Genes best first (e.g. ``CoreGenes.table["gene"]``); the first ``config.pool_size``
        form the pool.
    baseline : fitted classifier
        Logistic regression fitted once on all features of the training rows (e.g. the
        comparison's logistic regression).
    samples : {"train", "test", "all"} or array-like of int, default "train"
        The rows the models were fitted on (pass each distinct row once with its multiplicity
        in ``sample_weight`` when the training rows were upsampled).
    sample_weight : array-like (n,), optional
        Row weights of the training accuracies (default 1).
    config : GAConfig, optional
        Default :meth:`GAConfig.paper`.
    callbacks : sequence of genoapp.train.Callback
        ``on_train_begin(info)``, ``on_epoch_end(generation, logs)`` with the history keys,
        ``on_train_end(logs)``; any ``should_stop()`` ends the search after the generation.
    on_generation : callable(generation, best_genes, logs), optional
        Called after the initial population and every generation with the gene keys of the
        best mask so far (e.g. to keep them when the app interrupts the search).
    batch_size : int, optional
        Inputs routed per batch by the capsule network.

    Returns
    -------
    GAResult

    Raises
    ------
    InputDataError
        Shapes or labels wrong, ranking shorter than the pool.
    ConfigError
        Bad GA settings.
    """
    import pygad

    t0 = time.perf_counter()
    cfg = config or GAConfig.paper()
    X, y, gi = select_rows(features, samples)
    Xa = _check_inputs(model, X, gi)
    lab = _labels(y, Xa.shape[0])
    w = np.ones(Xa.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (Xa.shape[0],) or (w < 0).any() or w.sum() <= 0:
        raise InputDataError(f"sample_weight: expected {Xa.shape[0]} non-negative weights, got shape {w.shape}.")
    rank_pos = np.asarray(ranking)
    rank_pos = rank_pos.astype(np.int64) if rank_pos.dtype.kind in "iu" else gi.positions(rank_pos)
    L = min(int(cfg.pool_size), rank_pos.size)
    if L < 2:
        raise InputDataError(f"ranking: needs at least 2 genes for the search, got {rank_pos.size}.")
    pool = rank_pos[:L]
    pool_cols = [gi.columns([g]) for g in pool]

    cache: dict[bytes, tuple[float, float, float]] = {}
    net = net_of(model)
    device = next(net.parameters()).device
    bs = int(batch_size) if batch_size is not None else auto_batch_size(device)
    ex = executor_for(device)
    # sent to the workers once for the whole search (in-process: the objects themselves)
    local = Bundle(net, Xa, gi, lab, w, pool, pool_cols, baseline, bs)
    shared = ex.share(local)

    def evaluate(masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks).astype(bool)
        keys = [m.tobytes() for m in masks]
        todo = [i for i, k in enumerate(keys) if k not in cache]
        todo_unique = list({keys[i]: i for i in todo}.values())
        if todo_unique:
            sub = masks[todo_unique]
            # the generation's new masks in a few jobs, cut where a batch of sets starts
            ranges = job_ranges(len(sub), target_jobs(ex), align=max(1, bs // Xa.shape[0]))
            # (a single job runs in this process: it gets the objects, not their handle)
            bundle = shared if len(ranges) > 1 else local
            parts = ex.map(_ga_fitness_job, [(sub[a:b], bundle) for a, b in ranges],
                           label="ga-fitness")
            cap_acc = np.concatenate([p[0] for p in parts])
            lr_acc = np.concatenate([p[1] for p in parts])
            for r, i in enumerate(todo_unique):
                cache[keys[i]] = (float(cap_acc[r] - lr_acc[r]), float(cap_acc[r]), float(lr_acc[r]))
        return np.array([cache[k][0] for k in keys])

    rng = np.random.default_rng(cfg.random_state)
    init = (rng.random((cfg.population, L)) < cfg.init_fraction).astype(int)
    best = {"fitness": -np.inf, "mask": None}
    history: list[dict] = []
    state = {"stopped": False, "gen_t": time.perf_counter()}

    def note_population(gen: int, pop: np.ndarray, fit: np.ndarray) -> dict:
        i = int(np.argmax(fit))
        if fit[i] > best["fitness"]:
            best["fitness"] = float(fit[i])
            best["mask"] = pop[i].astype(bool).copy()
        _, cap, lra = cache[best["mask"].tobytes()]
        now = time.perf_counter()
        logs = {"generation": gen, "best_fitness": best["fitness"], "mean_fitness": float(np.mean(fit)),
                "n_selected": int(best["mask"].sum()), "capsule_accuracy": cap, "lr_accuracy": lra,
                "seconds": now - state["gen_t"]}
        state["gen_t"] = now
        history.append(logs)
        return logs

    def fitness_func(ga, solutions, idx):
        return evaluate(np.atleast_2d(solutions)).tolist()

    def report(gen: int, logs: dict) -> None:
        if on_generation is not None:
            on_generation(gen, np.asarray(gi.genes[pool[best["mask"]]], dtype=object), dict(logs))
        for cb in callbacks:
            cb.on_epoch_end(gen, dict(logs))

    def ga_hook(ga):
        gen = int(ga.generations_completed)
        pop = np.asarray(ga.population)                       # after this generation
        report(gen, note_population(gen, pop, evaluate(pop)))
        if any(cb.should_stop() for cb in callbacks):
            state["stopped"] = True
            return "stop"
        return None

    for cb in callbacks:
        cb.on_train_begin({"n_epochs": int(cfg.generations), "n_train": int(Xa.shape[0]), "n_val": 0,
                           "n_features": int(gi.n_features), "batch_size": int(cfg.population),
                           "n_batches": 1, "device": str(getattr(model, "device_", "cpu")),
                           "model": "GeneticAlgorithm"})
    init_fit = evaluate(init)
    report(0, note_population(0, init, init_fit))
    completed = 0
    if not any(cb.should_stop() for cb in callbacks):
        ga = pygad.GA(
            num_generations=int(cfg.generations),
            num_parents_mating=int(cfg.parents_mating or max(2, cfg.population // 2)),
            fitness_func=fitness_func, fitness_batch_size=int(cfg.population),
            initial_population=init, gene_type=int, gene_space=[0, 1],
            parent_selection_type="sss", keep_elitism=int(cfg.keep_elitism),
            crossover_type="two_points", crossover_probability=float(cfg.crossover_probability),
            mutation_type="random", mutation_probability=float(cfg.mutation_probability),
            mutation_by_replacement=True, on_generation=ga_hook,
            random_seed=int(cfg.random_state) % (2**32), suppress_warnings=True,
        )
        ga.run()
        completed = int(ga.generations_completed)
    else:
        state["stopped"] = True
    mask = best["mask"]
    fit, cap, lra = cache[mask.tobytes()]
    for cb in callbacks:
        cb.on_train_end({"epochs_completed": completed, "stopped_early": state["stopped"],
                         "best_epoch": None, "seconds": time.perf_counter() - t0})
    return GAResult(
        pool_genes=np.asarray(gi.genes[pool], dtype=object), best_mask=mask,
        selected_genes=np.asarray(gi.genes[pool[mask]], dtype=object), fitness=fit,
        capsule_accuracy=cap, lr_accuracy=lra, history=pd.DataFrame(history),
        generations_completed=completed, stopped_early=bool(state["stopped"]),
        n_evaluations=len(cache), config=cfg, seconds=time.perf_counter() - t0,
    )


def _ga_fitness_job(item) -> tuple[np.ndarray, np.ndarray]:
    """One executor job: weighted training accuracies of the capsule network and of the
    logistic regression for a run of gene masks over the pool.

    ``item`` is ``(masks (S, L) bool, bundle)``; the bundle (sent once per search; a Dask
    future inside the item is resolved on the worker) holds the network, the inputs, the gene
    index, labels, weights, the pool, its columns, the baseline and the routing batch size.
    """
    sub, bundle = item
    if not isinstance(bundle, Bundle):  # a Dask future that reached this process unresolved
        bundle = bundle.result()
    net, Xa, gi, lab, w, pool, pool_cols, baseline, bs = bundle.objs
    wsum = w.sum()
    lens = _scores_of_sets(net, Xa, gi, [pool[m] for m in sub], bs)
    cap_acc = ((lens.argmax(axis=2) == lab[None, :]) * w).sum(axis=1) / wsum
    fmask = np.zeros((len(sub), gi.n_features), dtype=bool)
    for r, m in enumerate(sub):
        idx = np.flatnonzero(m)
        if idx.size:
            fmask[r, np.concatenate([pool_cols[i] for i in idx])] = True
    lr_pred = masked_linear_predictions(baseline, Xa, fmask)
    lr_acc = ((lr_pred == lab[None, :]) * w).sum(axis=1) / wsum
    return cap_acc, lr_acc


@dataclasses.dataclass
class RetrainResult:
    """Both models retrained on a gene subset and scored on the test rows (paper Table 2).

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per model ("DiseaseCapsule", "Logistic regression"): ``n_genes``,
        ``n_features``, ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc``.
    capsule : DiseaseCapsuleClassifier
    baseline : fitted logistic regression
    columns : ndarray
        Feature columns used.
    """

    metrics: pd.DataFrame
    capsule: object
    baseline: object
    columns: np.ndarray


def retrain_on_genes(features, genes, *, capsule_params=None, baseline_C: float = 0.01,
                     random_state: int = 0, callbacks=()) -> RetrainResult:
    """Retrain DiseaseCapsule and logistic regression on the features of ``genes`` alone.

    Parameters
    ----------
    features : genoapp.features.FeatureSet or FeatureTable
        All samples' features with their labels and split (the split the first models used).
        Training rows are upsampled to 1:1 (seeded by ``random_state``), as the comparison
        protocol does; the test rows score both models.
    genes : array-like of gene keys or positions
        E.g. ``GAResult.selected_genes``.
    capsule_params : dict, optional
        Keyword arguments of :class:`~genoapp.models.DiseaseCapsuleClassifier` (e.g. the
        first model's ``epochs``).
    baseline_C : float, default 0.01
        Inverse L2 strength of the logistic regression (as the Train page's baseline).
    random_state : int
    callbacks : sequence of genoapp.train.Callback
        Passed to the capsule network's ``fit``.

    Returns
    -------
    RetrainResult
    """
    from genoapp.metrics import classification_metrics
    from genoapp.models import DiseaseCapsuleClassifier, make_logistic_regression
    from genoapp.train import upsample_minority

    Xa, y, gi = select_rows(features, "all")
    lab = _labels(y, Xa.shape[0])
    (pos,) = _as_sets([np.asarray(genes)], gi)
    if pos.size == 0:
        raise InputDataError("genes: empty gene set; run the search first.")
    cols = gi.columns(pos)
    Xs = np.ascontiguousarray(Xa[:, cols], dtype=np.float32)
    tr = features.rows("train")
    te = features.rows("test")
    fit_idx = upsample_minority(tr, lab, random_state=random_state)
    params = {"random_state": random_state, **(capsule_params or {})}
    capsule = DiseaseCapsuleClassifier(**params).fit(Xs[fit_idx], lab[fit_idx], callbacks=callbacks)
    lr = make_logistic_regression(C=baseline_C, random_state=random_state).fit(Xs[fit_idx], lab[fit_idx])
    rows = []
    for name, pred, score in (
        ("DiseaseCapsule", capsule.predict(Xs[te]), capsule.decision_function(Xs[te])),
        ("Logistic regression", lr.predict(Xs[te]), lr.predict_proba(Xs[te])[:, 1]),
    ):
        m = classification_metrics(lab[te], pred, score)
        rows.append({"model": name, "n_genes": int(pos.size), "n_features": int(cols.size),
                     "accuracy": m["accuracy"], "precision": m["precision"], "recall": m["recall"],
                     "f1": m["f1"], "roc_auc": m["roc_auc"]})
    return RetrainResult(pd.DataFrame(rows), capsule, lr, cols)
