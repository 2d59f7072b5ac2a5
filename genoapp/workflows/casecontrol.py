"""The case/control analysis: QC'd cohort -> features -> the model comparison (DESIGN §4.3).

:func:`compare_models` runs the registry's models under the one protocol
(:func:`genoapp.workflows.protocol.run_protocol`) on one or more feature inputs built on the
same balanced split (Gene-PCA, All-PCA, windows) and on the QC'd SNP dosages (PRS models).
:func:`all_pca_config` gives the paper's All-PCA comparison input for a Gene-PCA feature set.
The QC step is :func:`genoapp.workflows.qc.run_qc_workflow`; the whole pipeline from a
configuration is :func:`genoapp.workflows.config.run_pipeline`. Covariates (sample-table
columns and PCs of the training samples' genotypes) can be appended to every feature input
(:func:`covariate_columns`; ``compare_models(..., covariates=..., covariate_pcs=...)``).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.features.build import FeatureConfig, FeatureSet, feature_input_name
from genoapp.features.covariates import (
    COVARIATE_GROUP,
    CovariateInputs,
    CovariateStage,
    fit_covariate_inputs,
    no_dropped_rows,
)
from genoapp.features.selection import AssociationFilter
from genoapp.train.splits import Split, holdout_folds
from genoapp.workflows.presets import association_grid, protocol_config
from genoapp.workflows.protocol import ProtocolConfig, ProtocolResult, StagedInput, run_protocol
from genoapp.workflows.registry import model_specs

__all__ = ["ASSOCIATION_CHOICES", "all_pca_config", "compare_models", "covariate_columns",
           "nested_input", "nested_filter_report"]

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
        Candidates instead of the preset's, e.g. ``{"p_threshold": [1e-2, 1e-3, 1e-4]}``,
        ``{"top_k": [20, 40]}`` (SNPs) or ``{"top_genes": [10, 20]}``.

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


def nested_filter_report(result: ProtocolResult, *, n_genes: int | None = None,
                         truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """What the nested association filter kept in each outer fold (one row per input and seed).

    Parameters
    ----------
    result : ProtocolResult
        A case/control comparison run with ``association="nested"``.
    n_genes : int, optional
        Genes of the full feature set (adds ``genes_removed``).
    truth : pandas.DataFrame, optional
        Planted genes (``gene``, ``role``: "additive" / "interaction"), e.g.
        :func:`genoapp.demo.load_demo_truth`: adds ``<role>_kept`` ("k of n").

    Returns
    -------
    pandas.DataFrame
        ``input``, ``seed``, ``chosen`` (the filter's rule and what it kept, e.g. "top 15
        genes: 64 SNPs in 15 genes, 36 features"), ``val_roc_auc`` (mean over the inner
        folds that chose it), ``genes_kept``, optionally ``genes_removed`` and the planted
        counts. Empty without a nested filter.
    """
    choice = result.stage_choice
    if choice is None or len(choice) == 0:
        return pd.DataFrame()
    rows = []
    for _, c in choice.iterrows():
        stage = result.stages.get((c["input"], int(c["repeat"]), int(c["fold"])))
        kept = set() if stage is None else set(np.asarray(stage.feature_gene_, dtype=object))
        row = {"input": c["input"], "seed": int(c["seed"]), "chosen": c["described"],
               "val_roc_auc": float(c["val_roc_auc"]), "genes_kept": len(kept)}
        if n_genes is not None:
            row["genes_removed"] = int(n_genes) - len(kept)
        if truth is not None:
            for role in ("additive", "interaction"):
                planted = set(truth.loc[truth["role"] == role, "gene"].astype(str))
                if planted:
                    row[f"{role}_kept"] = f"{len(kept & planted)} of {len(planted)}"
        rows.append(row)
    return pd.DataFrame(rows)


def covariate_columns(samples: pd.DataFrame, split: Split, *, covariates=(), pcs: int = 0,
                      snps=None) -> tuple[CovariateInputs, np.ndarray, Split, list[str]]:
    """Covariate columns for a case/control comparison, fitted on the split's training rows.

    The coding (:func:`genoapp.features.fit_covariate_inputs`: numeric covariates as they are,
    categorical one-hot against the training samples' most frequent level, then ``pcs`` PCs of
    a PCA of the training samples' QC'd genotypes projected onto every sample, each column
    standardised with the training samples' mean and SD) sees the training rows only. Samples
    lacking a covariate value are removed from the training and the test rows.

    Parameters
    ----------
    samples : pandas.DataFrame or None
        Sample table, one row per row of the features (e.g. ``QCWorkflowResult.samples``), with
        ``FID``, ``IID`` and the covariate columns (None only with PCs alone).
    split : Split
    covariates : sequence of str
        Sample-table columns.
    pcs : int, default 0
        PCs appended.
    snps : numpy.ndarray (n_samples, n_snps), optional
        QC'd dosages (NaN = missing); needed for ``pcs`` > 0.

    Returns
    -------
    covariates : CovariateInputs
        The fitted coding; ``dropped`` lists the samples removed (``FID``, ``IID``,
        ``missing_covariates``, ``set``).
    X : numpy.ndarray of float32, shape (n_samples, n_columns)
        The columns of every row (0 in the removed rows, which no fold uses).
    split : Split
        ``split`` without the removed rows (same ``y`` and row numbering).
    notes : list of str
        The coding, the removed samples (counts per set and per covariate), the test balance.

    Raises
    ------
    InputDataError
        Rows of ``samples`` differ from the split's; a covariate that is not a column; too few
        training samples left.
    ConfigError
        PCs without ``snps``.
    """
    if (covariates and samples is None) or (samples is not None and len(samples) != len(split.y)):
        raise InputDataError(
            f"covariates as inputs: the sample table has {0 if samples is None else len(samples)} "
            f"rows but the split has {len(split.y)} samples; pass the table of the QC'd samples "
            "(QCWorkflowResult.samples).")
    if pcs and snps is None:
        raise ConfigError("covariate PCs need the QC'd SNP dosages (snps).")
    cov = fit_covariate_inputs(samples, covariates, rows=split.train_idx, snps=snps, n_pcs=pcs,
                               random_state=int(split.random_state))
    enc = cov.encode(samples if cov.names else None, snps if cov.n_pcs else None)  # (n, c)
    ok = enc.complete
    notes = [f"Covariates as inputs (coded on the {cov.n_fit:,} training samples): {n}"
             for n in cov.notes]
    lost = np.flatnonzero(~ok)
    if lost.size:
        sset = np.full(len(ok), "", dtype=object)
        sset[split.train_idx] = "training"
        sset[split.test_idx] = "test"
        lost = lost[sset[lost] != ""]
        cov.dropped = pd.DataFrame({
            "FID": samples["FID"].to_numpy()[lost], "IID": samples["IID"].to_numpy()[lost],
            "missing_covariates": enc.missing.to_numpy()[lost], "set": sset[lost]})
        miss = enc.missing.to_numpy()[lost]
        per = ", ".join(f"{c}: {sum(c in m.split(', ') for m in miss):,}" for c in cov.names
                        if any(c in m.split(', ') for m in miss))
        n_tr = int((sset[lost] == "training").sum())
        n_te = int((sset[lost] == "test").sum())
        split = dataclasses.replace(split, train_idx=split.train_idx[ok[split.train_idx]],
                                    test_idx=split.test_idx[ok[split.test_idx]])
        notes.append(f"Covariates as inputs: {lost.size:,} samples lack a covariate value ({per})"
                     f" and were removed: {n_tr:,} training and {n_te:,} test samples (every model"
                     f" is trained on {len(split.train_idx):,} and tested on "
                     f"{len(split.test_idx):,}); their IDs are ProtocolResult.covariates.dropped.")
        yt = split.y[split.test_idx]
        if n_te and (yt == 1).sum() != (yt == 0).sum():
            notes.append(f"The test set is no longer balanced 1:1 ({int((yt == 1).sum())} cases, "
                         f"{int((yt == 0).sum())} controls) after removing samples without a "
                         "covariate value.")
    else:
        cov.dropped = no_dropped_rows()
    X = np.where(ok[:, None], enc.X, np.float32(0.0)).astype(np.float32)
    return cov, np.ascontiguousarray(X), split, notes


def compare_models(features, split: Split | None = None, *, snps=None, models=None,
                   preset: str = "quick", config: ProtocolConfig | None = None,
                   overrides: dict | None = None, phenotype: str = "phenotype",
                   association: str = "none", association_grid_override: dict | None = None,
                   covariates=(), covariate_pcs: int = 0, samples: pd.DataFrame | None = None,
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
    covariates : sequence of str, default ()
        Sample-table columns appended to every feature input as model inputs
        (:func:`covariate_columns`): numeric as they are, categorical one-hot against the
        training samples' most frequent level, each column standardised with training
        statistics; feature names as the design's columns (``age``, ``source=HapMap3_r2``),
        group ``"covariate"``. The nested-filter input gets them too, after its stage (the
        candidates are scored with them; :class:`genoapp.features.CovariateStage`). The SNP
        input of the PRS models does not. Samples lacking a value are removed from the
        training and test rows of every model (counted in ``notes``, listed in
        ``result.covariates.dropped``).
    covariate_pcs : int, default 0
        Also append this many PCs of a PCA of the training samples' QC'd genotypes
        (``snps``), projected onto every sample (``PC1``...).
    samples : pandas.DataFrame, optional
        The sample table (rows as the features, e.g. ``QCWorkflowResult.samples``, with
        ``FID``, ``IID``); needed with ``covariates``.
    callbacks, on_event, stop
        Passed to :func:`~genoapp.workflows.protocol.run_protocol` (progress, live events,
        stop button).

    Returns
    -------
    ProtocolResult
        Task "classification"; one outer fold per seed on the balanced test split;
        ``covariates`` (the fitted :class:`~genoapp.features.CovariateInputs`) and
        ``info["covariates"]`` (its description) with covariates.

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
    if association not in ASSOCIATION_CHOICES:
        raise ConfigError(f"association: one of {ASSOCIATION_CHOICES}, got {association!r}.")
    covariates = tuple(dict.fromkeys(str(c) for c in (covariates or ())))
    cov, Xc, cov_notes = None, None, []
    if covariates or covariate_pcs:
        cov, Xc, split, cov_notes = covariate_columns(samples, split, covariates=covariates,
                                                      pcs=int(covariate_pcs), snps=snps)
    outer = holdout_folds(split.train_idx, split.test_idx, seeds=config.seeds)
    inputs = {name: fs.X for name, fs in features.items()}
    names = {name: list(fs.feature_names) for name, fs in features.items()}
    groups = {name: ["feature"] * len(fs.feature_gene) for name, fs in features.items()}
    if cov is not None and cov.n_columns:
        for name in inputs:
            inputs[name] = np.ascontiguousarray(np.column_stack(
                [np.asarray(inputs[name], dtype=np.float32), Xc]))
            names[name] = [*names[name], *cov.columns]
            groups[name] = [*groups[name], *[COVARIATE_GROUP] * cov.n_columns]
    if association == "nested":
        if snps is None:
            raise ConfigError("the nested association filter needs the QC'd SNP dosages (snps).")
        primary = next(iter(features))
        staged = nested_input(features[primary], snps, preset=preset,
                              grid=association_grid_override)
        if cov is not None and cov.n_columns:  # the covariates follow the stage's features
            raw = np.asarray(snps)
            staged = dataclasses.replace(
                staged, data=np.ascontiguousarray(np.column_stack(
                    [raw.astype(np.float32, copy=False), Xc])),
                make_stage=functools.partial(CovariateStage, staged.make_stage, raw.shape[1],
                                             tuple(cov.columns)))
        inputs[primary] = staged
        names.pop(primary)
        groups.pop(primary)
    result = run_protocol(inputs, split.y, models=specs, outer=outer, config=config, snps=snps,
                          traits=[phenotype], feature_names=names, feature_groups=groups,
                          callbacks=callbacks, on_event=on_event, stop=stop)
    if cov is not None:
        if snps is not None and any(m.input == "snps" for m in specs):
            cov_notes.append("The covariates are not inputs of the SNP-based models (PRS): they "
                             "are fitted on the QC'd dosages alone, on the same samples.")
        result.covariates = cov
        result.info["covariates"] = cov.describe()
        result.notes[:0] = cov_notes
    return result
