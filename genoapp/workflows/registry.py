"""The one model registry: every model of both analyses as a :class:`ModelSpec`.

Case/control (DiseaseCapsule paper Table 1; task "classification"):
capsule "DiseaseCapsule", mlp "MLP", cnn "CNN", logreg "Logistic regression", svm "SVM",
rf "Random forest", adaboost "AdaBoost", prs "PRS (Σβ·dosage)", authors_prs "Authors' 'PRS'
(LR on SNPs p<0.05)".

Quantitative traits (GRVSNN paper Tables 1-4; task "regression"):
grvsnn "GRVSNN" (genoapp's default: a ridge linear path plus the network on what it leaves),
grvsnn_paper "GRVSNN (paper equations)", grvsnn_single "GRVSNN (one trait at a time)" (the
same default trained per trait, for the multi-trait question), ridge "Ridge (GBLUP)",
lassonet "LassoNet", brr "BRR", bl "BL", bayescpi "BayesCπ".

:func:`model_specs` returns the specs of a preset (:mod:`genoapp.workflows.presets`) with the
hyper-parameters the protocol tunes inside the training data; models are imported when used,
so a missing optional package (lassonet) is reported by :func:`available_models` instead of
breaking the pages.
"""

from __future__ import annotations

import dataclasses
import importlib

from genoapp.errors import ConfigError
from genoapp.workflows.presets import model_grid, model_params
from genoapp.workflows.protocol import ModelSpec

__all__ = ["CASECONTROL_MODELS", "MODEL_NAMES", "QUANTITATIVE_MODELS", "available_models",
           "model_key", "model_specs"]

CASECONTROL_MODELS = ("capsule", "mlp", "cnn", "logreg", "svm", "rf", "adaboost", "prs",
                      "authors_prs")
QUANTITATIVE_MODELS = ("grvsnn", "grvsnn_paper", "grvsnn_single", "ridge", "lassonet", "brr",
                       "bl", "bayescpi")
MODEL_NAMES = {
    "capsule": "DiseaseCapsule",
    "mlp": "MLP",
    "cnn": "CNN",
    "logreg": "Logistic regression",
    "svm": "SVM",
    "rf": "Random forest",
    "adaboost": "AdaBoost",
    "prs": "PRS (Σβ·dosage)",
    "authors_prs": "Authors' 'PRS' (LR on SNPs p<0.05)",
    "grvsnn": "GRVSNN",
    "grvsnn_paper": "GRVSNN (paper equations)",
    "grvsnn_single": "GRVSNN (one trait at a time)",
    "ridge": "Ridge (GBLUP)",
    "lassonet": "LassoNet",
    "brr": "BRR",
    "bl": "BL",
    "bayescpi": "BayesCπ",
}

_TARGETS = {
    "capsule": "genoapp.models.capsnet:DiseaseCapsuleClassifier",
    "mlp": "genoapp.models.mlp:TorchMLPClassifier",
    "cnn": "genoapp.models.cnn:TorchCNNClassifier",
    "logreg": "genoapp.models.baselines:make_logistic_regression",
    "svm": "genoapp.models.baselines:make_svm",
    "rf": "genoapp.models.baselines:make_random_forest",
    "adaboost": "genoapp.models.baselines:make_adaboost",
    "prs": "genoapp.models.prs:PolygenicRiskScore",
    "authors_prs": "genoapp.models.prs:AuthorsPRSClassifier",
    "grvsnn": "genoapp.models.grvsnn:GRVSNNRegressor",
    "grvsnn_paper": "genoapp.models.grvsnn:GRVSNNRegressor",
    "grvsnn_single": "genoapp.models.grvsnn:GRVSNNRegressor",
    "ridge": "genoapp.models.ridge:RidgeGBLUP",
    "lassonet": "genoapp.models.lassonet_model:LassoNetRegressorCV",
    "brr": "genoapp.models.bayes:BayesianRidgeGibbs",
    "bl": "genoapp.models.bayes:BayesianLassoGibbs",
    "bayescpi": "genoapp.models.bayes:BayesCpiGibbs",
}


def _load(key: str):
    module, name = _TARGETS[key].split(":")
    return getattr(importlib.import_module(module), name)


def model_key(name_or_key: str) -> str:
    """The registry key of a model given its key or display name.

    Raises
    ------
    ConfigError
        Unknown model.
    """
    if name_or_key in MODEL_NAMES:
        return name_or_key
    for k, v in MODEL_NAMES.items():
        if v == name_or_key:
            return k
    raise ConfigError(f"unknown model {name_or_key!r}; known: "
                      f"{', '.join(f'{k} ({v})' for k, v in MODEL_NAMES.items())}.")


def available_models(task: str | None = None) -> dict:
    """Which models can run here.

    Parameters
    ----------
    task : {"classification", "regression"}, optional
        Only the models of one task (default all).

    Returns
    -------
    dict
        Model key -> None when available, else the reason (e.g. a package that is missing).
    """
    keys = (CASECONTROL_MODELS if task == "classification" else QUANTITATIVE_MODELS
            if task == "regression" else (*CASECONTROL_MODELS, *QUANTITATIVE_MODELS))
    out = {}
    for k in keys:
        try:
            _load(k)
            out[k] = None
        except (ImportError, AttributeError) as exc:
            out[k] = f"{MODEL_NAMES[k]} is not available ({type(exc).__name__}: {exc})."
    return out


def _spec(key: str, preset: str) -> ModelSpec:
    """The spec of one model under a preset."""
    paper = preset == "paper"
    fixed = model_params(preset, key)
    name = MODEL_NAMES[key]
    if key == "capsule":
        return ModelSpec(
            key, name, _load(key), params=fixed, is_torch=True,
            description="Capsule network with dynamic routing (authors' code: FC 150, 32 primary "
                        "types, 2 x 16-d phenotype capsules, Adam 1e-4, decay 0.8/epoch, batch 128).")
    if key == "mlp":
        return ModelSpec(
            key, name, _load(key), params=fixed, is_torch=True,
            description="Authors' MLP: Dense 100-64-16, batch norm, tanh, dropout 0.5; Adam 5e-5, "
                        "x0.7 every 4 epochs, batch 128.")
    if key == "cnn":
        return ModelSpec(
            key, name, _load(key), params=fixed, is_torch=True,
            description="Authors' CNN on the first floor(sqrt(F))^2 features as a square image: "
                        "2x Conv(32) + BN + ReLU, 2x Conv(64) + BN + ReLU, Dense 128 and 64.")
    if key == "logreg":
        return ModelSpec(
            key, name, _load(key), params=fixed, grid={"C": [0.001, 0.01, 0.1, 1.0]},
            space={"C": ("float", 1e-4, 10.0, True)},
            description="L2 logistic regression (saga) on standardised features; C tuned.")
    if key == "svm":
        return ModelSpec(
            key, name, _load(key), params={"kernel": "rbf", **fixed},
            grid={"C": [0.1, 1.0, 10.0]}, space={"C": ("float", 1e-2, 100.0, True)},
            description="SVM, RBF kernel, standardised features, Platt probabilities; C tuned.")
    if key == "rf":
        return ModelSpec(
            key, name, _load(key), params={"n_estimators": 100, "max_depth": 5, **fixed},
            description="Random forest: 100 trees of depth 5 (authors).")
    if key == "adaboost":
        return ModelSpec(
            key, name, _load(key), params=fixed,
            description=f"AdaBoost over depth-3 trees (authors: 1,000; this preset: "
                        f"{fixed.get('n_estimators', 1000):,}).")
    if key == "prs":
        thr = [5e-2, 5e-4, 5e-6, 5e-8]
        return ModelSpec(
            key, name, _load(key), params=fixed, grid={"p_threshold": thr},
            space={"p_threshold": ("categorical", thr)}, input="snps", upsample=False,
            description="Polygenic risk score: sum of GWAS log odds ratios x dosage over SNPs below "
                        "the p threshold (training GWAS only), logistic calibration; threshold tuned.")
    if key == "authors_prs":
        return ModelSpec(
            key, name, _load(key), params={"p_threshold": 0.05, **fixed}, input="snps",
            upsample=False,
            description="What the DiseaseCapsule paper calls 'PRS': logistic regression (saga) on "
                        "raw SNP dosages with training-GWAS p < 0.05. Not a polygenic score.")
    if key in ("grvsnn", "grvsnn_paper", "grvsnn_single"):
        variant = ({"linear_path": False, "weight_scale": "sum", "n_screened": None,
                    "importance_scale": "sum"} if key == "grvsnn_paper"
                   else {"linear_path": True, "weight_scale": "mean", "n_screened": 300,
                         "importance_scale": "null"})
        what = {"grvsnn": "Ridge linear path plus the gated residual variable selection network "
                          "on the 300 inputs with the largest ridge effects, trained on the "
                          "ridge's leave-one-out residuals, all traits at once",
                "grvsnn_paper": "The paper's equations (no linear path, selection weights "
                                "summing to 1), all traits at once",
                "grvsnn_single": "genoapp's GRVSNN fitted to each trait on its own (compare "
                                 "with GRVSNN to see what multi-trait training adds)"}[key]
        return ModelSpec(
            key, name, _load(key), task="regression",
            params={"importance_threshold": 0.05, **variant, **fixed}, is_torch=True,
            multi_output=key != "grvsnn_single",
            space={"batch_size": ("int", 64, 512, True),
                   "learning_rate": ("float", 1e-5, 1e-3, True),
                   "dropout": ("float", 0.1, 0.5, False),
                   "weight_decay": ("float", 1e-6, 1e-2, True)},
            first_trial={"batch_size": 128, "learning_rate": 1e-3, "dropout": 0.2,
                         "weight_decay": 1e-4},
            epochs_param="max_epochs", refit_params={"validation_fraction": 0.0},
            description=f"{what}; early stopping on an inner validation split; batch size, "
                        "learning rate, dropout and weight decay tuned by Optuna (TPE) inside "
                        "each training fold when the preset searches.")
    if key == "ridge":
        return ModelSpec(
            key, name, _load(key), task="regression", params=fixed,
            description="Ridge regression, penalty by leave-one-out CV on the training fold: the "
                        "fast GBLUP-equivalent reference.")
    if key == "lassonet":
        return ModelSpec(
            key, name, _load(key), task="regression", params=fixed, takes_device=True,
            slow=True,
            description="LassoNet (lassonet package), lambda by CV on the training fold"
                        + (" (package defaults)" if paper else " (quick, coarse lambda search)") + ".")
    if key in ("brr", "bl", "bayescpi"):
        what = {"brr": "Bayesian ridge regression", "bl": "Bayesian lasso",
                "bayescpi": "BayesCπ (π estimated)"}[key]
        return ModelSpec(key, name, _load(key), task="regression", params=fixed, slow=True,
                         description=f"{what}, Gibbs sampler, BGLR defaults.")
    raise ConfigError(f"unknown model {key!r}.")  # pragma: no cover


def model_specs(keys=None, *, task: str = "classification", preset: str = "quick",
                overrides: dict | None = None) -> list[ModelSpec]:
    """Model specifications for :func:`genoapp.workflows.protocol.run_protocol`.

    Parameters
    ----------
    keys : sequence of str, optional
        Model keys or display names, in this order (default: every model of ``task``).
    task : {"classification", "regression"}
    preset : {"quick", "paper"}
    overrides : dict of key -> dict, optional
        Fixed hyper-parameters replacing the preset's, e.g. ``{"capsule": {"epochs": 3}}``
        (a tuned name given here is fixed: it leaves the grid and search space).

    Returns
    -------
    list of ModelSpec

    Raises
    ------
    ConfigError
        Unknown preset or model, a model of the other task, or a model whose package is
        missing (the message says which).
    """
    all_keys = CASECONTROL_MODELS if task == "classification" else QUANTITATIVE_MODELS
    keys = list(all_keys if keys is None else [model_key(k) for k in keys])
    wrong = [k for k in keys if k not in all_keys]
    if wrong:
        raise ConfigError(f"models {wrong} are not {task} models; choose among {list(all_keys)}.")
    out = []
    for k in keys:
        try:
            spec = _spec(k, preset)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{MODEL_NAMES[k]} is not available here ({type(exc).__name__}: "
                              f"{exc}); install its package or leave it out.") from exc
        grid = model_grid(preset, k)
        if grid:
            spec = dataclasses.replace(
                spec, grid={**spec.grid, **grid},
                params={q: v for q, v in spec.params.items() if q not in grid})
        extra = {q: v for q, v in dict((overrides or {}).get(k, {})).items()}
        if extra:
            spec = spec.with_params(**extra)
        out.append(spec)
    return out
