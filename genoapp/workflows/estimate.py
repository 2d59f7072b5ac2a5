"""How long will it take? Estimates shown before a run button is pressed, calibrated here.

An estimate is the planned work (fits x epochs x samples, candidates x inner folds, trials x
folds) times the cost of one unit of that work measured on this machine, the first time it is
asked for, with the model's own code on random data of the real shape (one or two batches of a
torch network, one small fit of a scikit-learn model or a Gibbs sampler), then cached for the
process. Nothing is hard-coded but the planning rules below (e.g. how many epochs early stopping
usually lets a network run, stated where it is used); the Train and Quantitative pages compare
the estimate with the time measured afterwards.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import numpy as np

from genoapp.logs import get_logger

__all__ = ["Estimate", "estimate_comparison", "estimate_quantitative", "format_seconds"]

_log = get_logger(__name__)
#: Planning rule: with early stopping (patience p), networks usually stop after about this
#: fraction of their epoch budget (measured on the demo with the quick preset's learning-rate
#: grid: DiseaseCapsule's best epochs 3-12 of 30, so it stops after 6-15, median about 10).
_EARLY_STOP_FRACTION = 0.33
#: Planning rule for LassoNet: quick-preset fits measured with
#: ``benchmarks/quantitative_paper_table.py``: wheat (479 training rows x 1,279 markers) 30 s,
#: mice (1,451 x 10,346) 62 s per fit. The time grows far slower than rows x columns (the
#: lambda path and early stopping, not the data size, set the number of epochs): a power
#: law through the two, exponent log(62 / 30) / log(24.5) = 0.23. Scaling by rows x columns,
#: as before, gave 735 s for the mice, 12 times the measured time.
_LASSONET_QUICK_S = 30.0
_LASSONET_QUICK_SIZE = 479 * 1279
_LASSONET_SIZE_EXPONENT = float(np.log(62.0 / 30.0) / np.log(1451 * 10346 / (479 * 1279)))


@dataclasses.dataclass
class Estimate:
    """An expected run time.

    Attributes
    ----------
    seconds : float
    parts : dict of str -> float
        Seconds per model or step.
    """

    seconds: float
    parts: dict

    def text(self) -> str:
        """E.g. "about 45 s (DiseaseCapsule 30 s, logistic regression 2 s, ...)"."""
        top = sorted(self.parts.items(), key=lambda kv: -kv[1])
        detail = ", ".join(f"{k} {format_seconds(v)}" for k, v in top if v >= 0.5)
        return f"about {format_seconds(self.seconds)}" + (f" ({detail})" if detail else "")


def format_seconds(s: float) -> str:
    """``"40 s"``, ``"3 min"``, ``"1.5 h"``."""
    if s < 90:
        return f"{max(1, round(s)):.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def _timed(fn, repeat: int = 2) -> float:
    fn()  # warm-up (allocations, lazy compilation)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@functools.lru_cache(maxsize=64)
def _torch_seconds_per_sample(cls_path: str, n_features: int, params: tuple) -> float:
    """Seconds per training sample per epoch of a genoapp torch classifier/regressor (two
    batches of random data; forward, backward and the optimiser step)."""
    import importlib

    import torch

    module, name = cls_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    kw = dict(params)
    bs = int(kw.get("batch_size", 64))
    n = max(2 * bs, 512)  # several batches, so the fixed cost of a fit does not dominate
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    y = np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(np.int64)
    if "max_epochs" in cls().get_params():
        n_epochs = 1
        kw.update(max_epochs=n_epochs, validation_fraction=0.0)
        y = rng.normal(size=n).astype(np.float32)
    else:
        n_epochs = 3  # several epochs: a fit's fixed cost is shared, as in real training
        kw["epochs"] = n_epochs
    est = cls(**{k: v for k, v in kw.items() if k in cls().get_params()}, device="cpu")
    threads = torch.get_num_threads()
    try:
        secs = _timed(lambda: est.fit(X, y), repeat=2)
    finally:
        torch.set_num_threads(threads)
    return secs / (n * n_epochs)


@functools.lru_cache(maxsize=64)
def _sklearn_seconds(key: str, n: int, p: int, params: tuple) -> float:
    """Seconds of one fit of a registry model on ``n`` x ``p`` random data.

    Measured on a probe of at most 400 rows, 1,000 columns and 20 trees (ensembles) and scaled:
    linear in rows (quadratic for the SVM), columns and trees. The probe itself takes well
    under a second, so the estimate can be shown before every click.
    """
    from genoapp.workflows.registry import model_specs

    (spec,) = model_specs([key], task="classification")
    kw = dict(params)
    m, q = min(n, 400), min(p, 1000)
    trees = kw.get("n_estimators")
    tree_scale = 1.0
    if isinstance(trees, int) and trees > 20:
        kw["n_estimators"], tree_scale = 20, trees / 20
    rng = np.random.default_rng(0)
    X = rng.normal(size=(m, q)).astype(np.float32)
    y = np.r_[np.zeros(m // 2), np.ones(m - m // 2)].astype(np.int64)
    est = spec.build(kw, random_state=0)
    t = time.perf_counter()
    est.fit(X, y)
    secs = time.perf_counter() - t
    scale = (n / m) ** (2 if key == "svm" else 1) * (p / q) * tree_scale
    return secs * scale


@functools.lru_cache(maxsize=64)
def _regression_fit_seconds(key: str, preset: str, n: int, p: int, params: tuple) -> float:
    """Seconds of one fit of a single-trait regression model of the registry on ``n`` x ``p``.

    Probes on random data, kept short so the page can show the estimate at once: ridge on at
    most 300 rows (scaled quadratically: an n x n eigenproblem); the others on at most 300 rows
    and 2,000 columns, scaled linearly in both; Gibbs samplers run 200 iterations (scaled to
    ``n_iter``). LassoNet is not probed (its lambda path has no length known in advance and a
    probe took minutes): a planning rule scales two measured quick-preset fits (wheat 479 x
    1,279: 30 s; mice 1,451 x 10,346: 62 s) as (rows x columns)^0.23, then by the number of
    lambda steps (``log 1.5 / log path_multiplier``), epochs per step, CV folds + 1 and hidden
    units.
    """
    from genoapp.workflows.registry import model_specs

    (spec,) = model_specs([key], task="regression", preset=preset)
    m = min(n, 300)
    q = p if key == "ridge" else min(p, 2000)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(m, q)).astype(np.float32)
    y = rng.normal(size=m)
    est = spec.build({}, random_state=0, device="cpu")
    factor = 1.0
    if hasattr(est, "n_iter"):  # Gibbs samplers: a short chain, scaled to the iterations
        factor = int(dict(params).get("n_iter", 6000)) / 200
        est.set_params(n_iter=200, burn_in=50)
    elif "n_iters" in est.get_params():  # LassoNet: a planning rule, no probe (see above)
        kw = est.get_params()
        iters = kw["n_iters"]
        per_step = float(iters if isinstance(iters, int) else iters[1])
        mult = max(float(kw.get("path_multiplier", 1.02)), 1.0 + 1e-6)
        hidden = float(sum(kw.get("hidden_dims") or (20,)))
        return (_LASSONET_QUICK_S * ((n * p) / _LASSONET_QUICK_SIZE) ** _LASSONET_SIZE_EXPONENT
                * (np.log(1.5) / np.log(mult)) * (per_step / 30.0)
                * ((int(kw.get("cv", 3)) + 1) / 4.0) * (hidden / 20.0))
    secs = _timed(lambda: est.fit(X, y), repeat=1) * factor
    return secs * ((n / m) ** 2 if key == "ridge" else (n / m) * (p / q))


@functools.lru_cache(maxsize=16)
def _ridge_path_seconds(n: int, p: int) -> float:
    """Seconds of :func:`genoapp.models.ridge.ridge_leave_one_out` (one trait, 100
    permutations) on ``n`` x ``p``: measured on at most 400 rows and scaled as the n x n
    kernel (quadratic in rows, linear in columns)."""
    from genoapp.models.ridge import ridge_leave_one_out

    m = min(n, 400)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(m, p))
    y = rng.normal(size=m)
    return _timed(lambda: ridge_leave_one_out(X, y, n_permutations=100), repeat=1) * (n / m) ** 2


@functools.lru_cache(maxsize=16)
def _association_seconds(n: int, p: int) -> float:
    """Seconds of one allelic test over ``n`` samples x ``p`` SNPs (measured on a slice)."""
    from genoapp.qc.assoc import allelic_association

    m, q = min(n, 500), min(p, 4000)
    rng = np.random.default_rng(0)
    G = rng.integers(0, 3, size=(m, q)).astype(np.float32)
    y = np.r_[np.zeros(m // 2), np.ones(m - m // 2)].astype(np.int64)
    return _timed(lambda: allelic_association(G, y), repeat=1) * (n / m) * (p / q)


#: Planning rule: genes chosen for their association are wider than the average gene (more
#: SNPs, more chances of a small p-value): on the demo the 15 chosen genes had 2.4 Gene-PCA
#: columns each, the average gene of the full input 1.2.
_CHOSEN_GENE_WIDTH = 2.0


def _nested_width(grid: dict, n_features: int, n_units: int | None) -> int:
    """Planned columns of the input the nested association filter chooses.

    Planning rule: the median candidate of the grid (the filter picks one per run; on the demo
    it chose 15 of 5-40 genes). ``top_genes`` k: k genes at ``_CHOSEN_GENE_WIDTH`` x the full
    input's columns per gene (``n_features / n_units``); ``top_k`` k: at most k columns (k SNPs,
    at most one component each); ``p_threshold`` p: the fraction p of the SNPs, expected below
    p under the null, so about p x ``n_features`` columns. Never wider than the full input.
    """
    widths = []
    if grid.get("top_genes"):
        per_gene = n_features / n_units if n_units else 1.0
        widths.append(float(np.median(grid["top_genes"])) * _CHOSEN_GENE_WIDTH * per_gene)
    if grid.get("top_k"):
        widths.append(float(np.median(grid["top_k"])))
    if grid.get("p_threshold"):
        widths.append(float(np.median(grid["p_threshold"])) * n_features)
    if not widths:
        return n_features
    return int(max(1, min(n_features, round(max(widths)))))


def _plan_fits(config, n_seeds: int, n_candidates: int) -> tuple[int, int]:
    """Fits of one model over all seeds: (validation-fold fits, refits on the whole training
    part). Candidates x inner folds on the first seed (or on every seed), plus refits."""
    folds = 1 if config.validation == "holdout" else int(config.n_folds)
    per_search = n_candidates * folds
    refit = 0 if (config.validation == "holdout" and not config.holdout_refit) else 1
    if config.share_tuning:
        return per_search + (n_seeds - 1) * folds, n_seeds * refit
    return n_seeds * per_search, n_seeds * refit


def estimate_comparison(n_train: int, n_features: int, *, models, preset: str = "quick",
                        config=None, overrides: dict | None = None, n_snps: int = 0,
                        association: str = "none", n_units: int | None = None) -> Estimate:
    """Expected time of :func:`genoapp.workflows.casecontrol.compare_models` on this machine.

    Parameters
    ----------
    n_train : int
        Training samples (the fitting sets are upsampled to 1:1, about 1.2 x as many rows).
    n_features : int
        Feature columns of the full input (with the nested filter, the widest input it can
        choose is planned from it: :func:`_nested_width`).
    models : sequence of str
        Model keys.
    preset : str
    config : ProtocolConfig, optional
    overrides : dict, optional
    n_snps : int
        QC'd SNPs (the PRS models and the nested association filter).
    association : {"none", "nested"}
    n_units : int, optional
        Genes (or windows) of the full input: the nested filter's ``top_genes`` candidates are
        planned at this input's columns per gene.

    Returns
    -------
    Estimate
    """
    from genoapp.workflows.presets import association_grid, protocol_config
    from genoapp.workflows.registry import model_specs

    config = config or protocol_config(preset, "classification")
    specs = model_specs(list(models), task="classification", preset=preset, overrides=overrides)
    n_seeds = len(config.seeds)
    n_fit = int(1.2 * n_train)
    parts: dict[str, float] = {}
    if association == "nested" and n_snps:
        grid = association_grid(preset)
        n_cand = int(np.prod([len(v) for v in grid.values()])) if grid else 1
        inner = int(min(5, config.n_folds))
        per = _association_seconds(n_train, n_snps)
        parts["association filter"] = (n_cand * inner + 1) * per * (1 if config.share_tuning else n_seeds)
        n_features = _nested_width(grid, n_features, n_units)
    for spec in specs:
        grid_n = int(np.prod([len(v) for v in spec.grid.values()])) if spec.grid else 1
        if config.tuning == "none":
            grid_n = 1
        fold_fits, refits = _plan_fits(config, n_seeds, grid_n)
        fits = fold_fits + refits
        p = n_snps if spec.input == "snps" else n_features
        if spec.is_torch:
            params = {k: v for k, v in spec.params.items() if isinstance(v, int | float | str)}
            for k, v in spec.grid.items():
                params.setdefault(k, v[0])
            per = _torch_seconds_per_sample(f"{spec.factory.__module__}.{spec.factory.__name__}",
                                            max(1, p), tuple(sorted(params.items())))
            epochs = int(spec.params.get("epochs", 30))
            refit_epochs = epochs
            if config.patience:
                epochs = max(config.patience + 1, int(round(epochs * _EARLY_STOP_FRACTION)))
                refit_epochs = epochs - config.patience  # a refit runs to the best epoch only
            # a validation fit trains on the fold's fitting part, a refit on all training rows
            fold_rows = n_fit * (1.0 - 1.0 / max(2, int(config.n_folds)))
            parts[spec.name] = (fold_fits * epochs * fold_rows
                                + refits * refit_epochs * n_fit) * per
        elif spec.input == "snps":
            parts[spec.name] = fits * (_association_seconds(n_train, max(1, p)) + 0.5)
        else:
            params = {k: v for k, v in spec.params.items() if isinstance(v, int | float | str)}
            parts[spec.name] = fits * _sklearn_seconds(spec.key, n_fit, max(1, p),
                                                       tuple(sorted(params.items())))
    total = float(sum(parts.values()))
    _log.info("estimate: %s", Estimate(total, parts).text())
    return Estimate(total, parts)


def estimate_quantitative(n_samples: int, n_inputs: int, n_traits: int, *, models,
                          preset: str = "quick", config=None,
                          overrides: dict | None = None, n_input_sets: int = 1) -> Estimate:
    """Expected time of :func:`genoapp.workflows.quantitative.run_quantitative` on this machine.

    Parameters
    ----------
    n_samples : int
        Individuals with at least one trait value.
    n_inputs : int
        Columns of the largest input set (markers, plus loadings).
    n_traits : int
    models : sequence of str
        Model keys or names.
    preset, config, overrides
        As :func:`run_quantitative`.
    n_input_sets : int
        Input sets (each is a full cross-validation).

    Returns
    -------
    Estimate
    """
    from genoapp.workflows.presets import protocol_config
    from genoapp.workflows.registry import model_specs

    config = config or protocol_config(preset, "regression")
    specs = model_specs(list(models), task="regression", preset=preset, overrides=overrides)
    n_folds = int(config.n_splits) * int(config.n_repeats)
    n_train = int(n_samples * (config.n_splits - 1) / config.n_splits)
    parts: dict[str, float] = {}
    for spec in specs:
        if spec.is_torch:  # GRVSNN: trials x (linear path + epochs on the fitting part)
            params = {k: v for k, v in spec.params.items() if isinstance(v, int | float | str)}
            params.update({k: v for k, v in spec.first_trial.items()})
            linear_path = bool(spec.params.get("linear_path", True))
            screened = spec.params.get("n_screened") if linear_path else None
            net_inputs = min(int(screened), n_inputs) if screened else n_inputs
            # the network alone (on the screened inputs); the linear path is timed below
            params.update(linear_path=False, importance_scale="sum", n_screened=None)
            per = _torch_seconds_per_sample(f"{spec.factory.__module__}.{spec.factory.__name__}",
                                            net_inputs, tuple(sorted(params.items())))
            # planning rule: GRVSNN's best validation epoch came early on the mice and wheat
            # (1-16), so early stopping ends it about patience + 10 epochs in
            epochs = min(int(spec.params.get("max_epochs", 100)),
                         int(spec.params.get("patience", 25)) + 10)
            trials = int(config.n_trials) if config.tuning == "optuna" else 1
            fit_rows = int(n_train * (1 - config.validation_fraction))
            linear = _ridge_path_seconds(n_train, n_inputs) if linear_path else 0.0
            fits = n_folds * trials * (1 if spec.multi_output else n_traits)
            parts[spec.name] = fits * (epochs * fit_rows * per + linear)
            continue
        params = tuple(sorted((k, v) for k, v in spec.params.items()
                              if isinstance(v, int | float | str | tuple)))
        secs = _regression_fit_seconds(spec.key, preset, n_train, n_inputs, params)
        parts[spec.name] = n_folds * n_traits * secs
    parts = {k: v * n_input_sets for k, v in parts.items()}
    total = float(sum(parts.values()))
    return Estimate(total, parts)
