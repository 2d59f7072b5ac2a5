"""The case/control analysis: QC'd cohort -> features -> the model comparison (DESIGN §4.3).

:func:`compare_models` runs the registry's models under the one protocol
(:func:`genoapp.workflows.protocol.run_protocol`) on one or more feature inputs built on the
same balanced split (Gene-PCA, All-PCA, windows) and on the QC'd SNP dosages (PRS models).
:func:`all_pca_config` gives the paper's All-PCA comparison input for a Gene-PCA feature set.
The QC step is :func:`genoapp.workflows.qc.run_qc_workflow`; the whole pipeline from a
configuration is :func:`genoapp.workflows.config.run_pipeline`.
"""

from __future__ import annotations

import functools

from genoapp.errors import ConfigError, InputDataError
from genoapp.features.build import FeatureConfig, FeatureSet, feature_input_name
from genoapp.features.selection import AssociationFilter
from genoapp.train.splits import Split, holdout_folds
from genoapp.workflows.presets import association_grid, protocol_config
from genoapp.workflows.protocol import ProtocolConfig, ProtocolResult, StagedInput, run_protocol
from genoapp.workflows.registry import model_specs

__all__ = ["ASSOCIATION_CHOICES", "all_pca_config", "compare_models", "nested_input"]

#: How the association filter enters the comparison: chosen inside the training samples
#: (default), or not at all (every QC'd SNP; the QC page may still apply its fixed filter).
ASSOCIATION_CHOICES = ("nested", "none")


def all_pca_config(features: FeatureSet, n_snps: int) -> FeatureConfig:
    """All-PCA settings for the paper's comparison with a Gene-PCA feature set.

    One PCA over every QC'd SNP (the SNP grouping plays no part), with as many components as
    the Gene-PCA features, capped by the rank, fitted on the same samples.

    Parameters
    ----------
    features : FeatureSet
        The Gene-PCA (or windows) features.
    n_snps : int
        Number of QC'd SNPs.
    """
    cfg = features.config
    split = features.split
    n_fit = len(split.train_idx) if cfg.fit_on == "train" else len(split.y)
    return FeatureConfig(kind="windows", window_snps=20, method="all_pca", fit_on=cfg.fit_on,
                         device=cfg.device,
                         n_components=int(max(1, min(features.X.shape[1], n_fit - 1, n_snps))))


def nested_input(features: FeatureSet, snps, *, preset: str = "quick",
                 grid: dict | None = None) -> StagedInput:
    """The Gene-PCA input with the association filter chosen inside each training part.

    Parameters
    ----------
    features : FeatureSet
        Built on every QC'd SNP (its ``annotation`` maps SNPs to genes or windows).
    snps : numpy.ndarray (n_samples, n_snps)
        The QC'd dosages the features were built from (NaN = missing).
    preset : {"quick", "paper"}
        Candidate filters of the preset (:func:`genoapp.workflows.presets.association_grid`).
    grid : dict, optional
        Candidates instead of the preset's, e.g. ``{"p_threshold": [1e-2, 1e-3, 1e-4]}`` or
        ``{"top_k": [20, 40]}``.

    Returns
    -------
    StagedInput
        Each candidate is scored by an L2 logistic regression (C = 0.1) on balanced inner
        folds of the training samples; the best is refitted on all training samples.
    """
    if features.gene_pca is None:
        raise ConfigError("the nested association filter builds Gene-PCA (or windows) features; "
                          "All-PCA has no SNP groups to keep.")
    (ref,) = model_specs(["logreg"], task="classification", preset=preset,
                         overrides={"logreg": {"C": 0.1}})
    return StagedInput(data=snps, make_stage=functools.partial(AssociationFilter,
                                                               features.annotation),
                       grid=dict(grid or association_grid(preset)), reference=ref)


def compare_models(features, split: Split | None = None, *, snps=None, models=None,
                   preset: str = "quick", config: ProtocolConfig | None = None,
                   overrides: dict | None = None, phenotype: str = "phenotype",
                   association: str = "none", association_grid_override: dict | None = None,
                   callbacks=(), on_event=None, stop=None) -> ProtocolResult:
    """Run the case/control model registry under the one protocol on one or more inputs.

    Every model is tuned and trained on the training samples of ``split`` only (balanced
    validation folds, 1:1 upsampling inside the training data, several seeds, identical folds
    and seeds for all models) and scored once on the balanced test samples.

    Parameters
    ----------
    features : FeatureSet or dict of str -> FeatureSet
        One input, or several by display name (e.g. ``{"Gene-PCA": fs1, "All-PCA": fs2}``),
        all built on the same split (``fit_on="train"`` keeps the test samples out of every
        fitted step).
    split : genoapp.train.Split, optional
        Default: the split the (first) feature set was built on.
    snps : numpy.ndarray (n_samples, n_snps), optional
        QC'd dosages (NaN = missing), for the PRS models; they are skipped without it.
    models : sequence of str, optional
        Model keys or names (:data:`genoapp.workflows.registry.CASECONTROL_MODELS`; default
        all).
    preset : {"quick", "paper"}, default "quick"
        Model settings and protocol (:mod:`genoapp.workflows.presets`).
    config : ProtocolConfig, optional
        Replaces the preset's protocol settings.
    overrides : dict of key -> dict, optional
        Fixed hyper-parameters per model, e.g. ``{"capsule": {"epochs": 3}}``.
    phenotype : str
        Name of the phenotype (the ``trait`` column of the tables).
    association : {"nested", "none"}, default "none"
        "nested": the first (Gene-PCA) input is rebuilt inside every training part with the
        association filter chosen on inner folds (:func:`nested_input`; needs ``snps``);
        "none": the features as given.
    association_grid_override : dict, optional
        Candidate filters instead of the preset's (see :func:`nested_input`).
    callbacks, on_event, stop
        Passed to :func:`~genoapp.workflows.protocol.run_protocol` (progress, live events,
        stop button).

    Returns
    -------
    ProtocolResult
        Task "classification"; one outer fold per seed on the balanced test split.

    Raises
    ------
    InputDataError, ConfigError
        See :func:`~genoapp.workflows.protocol.run_protocol`; feature sets built on another
        split.
    """
    if isinstance(features, FeatureSet):
        features = {feature_input_name(features): features}
    if not features:
        raise ConfigError("compare_models: give at least one feature set.")
    first = next(iter(features.values()))
    split = split if split is not None else first.split
    if split is None:
        raise ConfigError("compare_models: no split; build the features with a split or pass one.")
    for name, fs in features.items():
        if fs.X.shape[0] != len(split.y):
            raise InputDataError(
                f"features {name!r}: {fs.X.shape[0]} rows but the split has {len(split.y)} samples; "
                "build the features on this split.")
    specs = model_specs(models, task="classification", preset=preset, overrides=overrides)
    config = config or protocol_config(preset, "classification")
    outer = holdout_folds(split.train_idx, split.test_idx, seeds=config.seeds)
    if association not in ASSOCIATION_CHOICES:
        raise ConfigError(f"association: one of {ASSOCIATION_CHOICES}, got {association!r}.")
    inputs = {name: fs.X for name, fs in features.items()}
    names = {name: list(fs.feature_names) for name, fs in features.items()}
    groups = {name: ["feature"] * len(fs.feature_gene) for name, fs in features.items()}
    if association == "nested":
        if snps is None:
            raise ConfigError("the nested association filter needs the QC'd SNP dosages (snps).")
        primary = next(iter(features))
        inputs[primary] = nested_input(features[primary], snps, preset=preset,
                                       grid=association_grid_override)
        names.pop(primary)
        groups.pop(primary)
    return run_protocol(inputs, split.y, models=specs, outer=outer, config=config, snps=snps,
                        traits=[phenotype], feature_names=names, feature_groups=groups,
                        callbacks=callbacks, on_event=on_event, stop=stop)
