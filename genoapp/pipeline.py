"""The case/control path as plain functions: split -> features -> models -> coupling.

Each function takes the previous step's result and returns a small dataclass, so the app, the
tests and scripts run exactly the same code. The leakage-safe protocol is the default: the
balanced test split is drawn first, and every fitted step (mean imputation, Gene-PCA, model
training) sees training samples only. ``fit_on="all"`` reproduces the published behaviour
(Gene-PCA and imputation fitted on all samples, test included) and is labelled as such.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.features import GenePCA, MeanImputer, annotate_snps, annotation_summary, snp_windows
from genoapp.interpret import mean_coupling_by_label, strongest_case_type
from genoapp.metrics import classification_metrics
from genoapp.models import DiseaseCapsuleClassifier, make_logistic_regression
from genoapp.train import balanced_test_split, upsample_minority


@dataclasses.dataclass
class Split:
    """A balanced train/test split of labelled samples.

    Attributes
    ----------
    y : numpy.ndarray
        Shape (n_samples,), int8, 1 = case, 0 = control, for every sample of the cohort selection.
    train_idx, test_idx : numpy.ndarray
        Row indices (into ``y`` and the genotype rows) of training and test samples; disjoint;
        the test set has equal numbers of cases and controls.
    test_size : float
    random_state : int
    """

    y: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    test_size: float
    random_state: int

    def table(self) -> pd.DataFrame:
        """Cases and controls in the training and test sets."""
        rows = []
        for name, idx in (("training", self.train_idx), ("test", self.test_idx)):
            yy = self.y[idx]
            rows.append({"set": name, "samples": len(idx), "cases": int((yy == 1).sum()),
                         "controls": int((yy == 0).sum())})
        return pd.DataFrame(rows)


def make_split(y, *, test_size: float = 0.1, random_state: int = 0) -> Split:
    """Draw the balanced (1:1) test split before anything is fitted.

    Parameters
    ----------
    y : array-like
        Shape (n_samples,), 1 = case, 0 = control; no missing values (select samples with a
        phenotype first).
    test_size : float
        Fraction of all samples put in the test set (DiseaseCapsule: 0.1), split equally
        between cases and controls.
    random_state : int
        Seed.

    Returns
    -------
    Split

    Raises
    ------
    InputDataError
        If ``y`` has missing or non-binary values.
    """
    y = np.asarray(y, dtype=float)
    if np.isnan(y).any():
        raise InputDataError(
            f"the phenotype has {int(np.isnan(y).sum())} missing values among the selected samples; "
            "tick 'only samples with this phenotype' on the Data page."
        )
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise InputDataError(f"the phenotype must be 0/1 here, found values {sorted(set(np.unique(y)))[:5]}.")
    y = y.astype(np.int8)
    train_idx, test_idx = balanced_test_split(y, test_size=test_size, random_state=random_state)
    return Split(y, np.asarray(train_idx), np.asarray(test_idx), test_size, random_state)


@dataclasses.dataclass
class FeatureConfig:
    """How genotypes become model features.

    Attributes
    ----------
    kind : {"genes", "windows"}
        Gene-PCA over SNP-to-gene annotation (needs a gene table on the same build) or over
        windows of consecutive SNPs (species without a gene table).
    flank_kb : float
        With ``kind="genes"``: a SNP within this many kb of a gene counts as inside it.
    window_snps : int or None
        With ``kind="windows"``: SNPs per window (exclusive with ``window_kb``).
    window_kb : float or None
        With ``kind="windows"``: window width in kb.
    fit_on : {"train", "all"}
        Fit imputation and Gene-PCA on training samples and project the others (default,
        leakage-safe) or on all samples (the published DiseaseCapsule behaviour).
    """

    kind: str = "genes"
    flank_kb: float = 0.0
    window_snps: int | None = 20
    window_kb: float | None = None
    fit_on: str = "train"

    def __post_init__(self):
        if self.kind not in ("genes", "windows"):
            raise ConfigError(f"feature kind {self.kind!r}: use 'genes' or 'windows'.")
        if self.fit_on not in ("train", "all"):
            raise ConfigError(f"fit_on {self.fit_on!r}: use 'train' (default) or 'all' (published).")
        if self.kind == "windows" and (self.window_snps is None) == (self.window_kb is None):
            raise ConfigError("windows need exactly one of window_snps and window_kb.")


@dataclasses.dataclass
class FeatureSet:
    """Model inputs built from the QC'd genotypes.

    Attributes
    ----------
    X : numpy.ndarray
        Shape (n_samples, n_features), float32 Gene-PCA scores, rows as the genotype rows.
    feature_names : numpy.ndarray
        Shape (n_features,), ``chr:GENE:pc``.
    feature_gene : numpy.ndarray
        Shape (n_features,), gene (or window) key of each feature, for masking.
    annotation : pandas.DataFrame
        SNP-to-gene (or window) assignments, one row per (SNP, gene).
    summary : pandas.DataFrame
        Per gene: SNP counts (:func:`genoapp.features.annotation_summary`) and Gene-PCA
        components and explained variance.
    n_imputed_fit, n_imputed_total : int
        Missing genotypes replaced by the mean in the rows used to fit, and in all rows.
    n_variants_unassigned : int
        SNPs not assigned to any gene (chromosomes without genes).
    config : FeatureConfig
    timings : dict
        Wall seconds of each sub-step.
    imputer, gene_pca : fitted transformers (to project new individuals).
    """

    X: np.ndarray
    feature_names: np.ndarray
    feature_gene: np.ndarray
    annotation: pd.DataFrame
    summary: pd.DataFrame
    n_imputed_fit: int
    n_imputed_total: int
    n_variants_unassigned: int
    config: FeatureConfig
    timings: dict
    imputer: MeanImputer
    gene_pca: GenePCA


def build_features(G, variants: pd.DataFrame, split: Split, *, genes: pd.DataFrame | None = None,
                   config: FeatureConfig | None = None) -> FeatureSet:
    """Annotate SNPs, impute missing genotypes and compute Gene-PCA features.

    Parameters
    ----------
    G : numpy.ndarray
        Shape (n_samples, n_variants): QC'd dosages of A1 (0, 1, 2), float, NaN = missing.
    variants : pandas.DataFrame
        The ``n_variants`` variants (columns chrom, id, pos).
    split : Split
        Which rows are training rows (used to fit imputation and Gene-PCA by default).
    genes : pandas.DataFrame, optional
        Gene table (gene, chrom, start, end) on the genotypes' build; required for
        ``kind="genes"``.
    config : FeatureConfig, optional

    Returns
    -------
    FeatureSet

    Raises
    ------
    ConfigError
        If ``kind="genes"`` and no gene table is given, or no SNP could be assigned.
    """
    config = config or FeatureConfig()
    G = np.asarray(G)
    if G.shape[1] != len(variants):
        raise InputDataError(f"{G.shape[1]} genotype columns but {len(variants)} variants.")
    timings = {}
    t = time.perf_counter()
    if config.kind == "genes":
        if genes is None:
            raise ConfigError("feature kind 'genes' needs a gene table; load one or use windows.")
        annotation = annotate_snps(variants, genes, flank_kb=config.flank_kb)
    else:
        annotation = snp_windows(variants, n_snps=config.window_snps, kb=config.window_kb)
    if annotation.empty:
        raise ConfigError(
            "no SNP was assigned to a gene: check that the gene table uses the genotypes' build "
            "and chromosome names, or use windows."
        )
    n_unassigned = int(len(variants) - annotation["variant_index"].nunique())
    summary = annotation_summary(annotation)
    timings["annotation"] = time.perf_counter() - t

    t = time.perf_counter()
    fit_rows = split.train_idx if config.fit_on == "train" else np.arange(G.shape[0])
    used = np.unique(annotation["variant_index"].to_numpy())
    # Only annotated columns enter the features; re-index the annotation to the used block.
    G_used = G[:, used] if len(used) < G.shape[1] else G
    remap = np.full(G.shape[1], -1)
    remap[used] = np.arange(len(used))
    ann_used = annotation.assign(variant_index=remap[annotation["variant_index"].to_numpy()])
    # A variant with no call in the fitting rows is set to 0 (constant: it adds no PC) and counted.
    imputer = MeanImputer(all_missing="zero").fit(G_used[fit_rows])
    n_imputed_fit = int(np.sum(imputer.n_missing_fit_))
    G_imp = imputer.transform(G_used)
    n_imputed_total = int(imputer.n_imputed_)
    timings["imputation"] = time.perf_counter() - t

    t = time.perf_counter()
    gpca = GenePCA(dtype="float32").fit(G_imp[fit_rows], ann_used)
    X = gpca.transform(G_imp)
    timings["gene_pca"] = time.perf_counter() - t

    pca_genes = gpca.genes_.set_index("gene")
    summary = summary.join(
        pca_genes[["n_components", "explained_variance_ratio_total"]], on="gene", how="left"
    )
    return FeatureSet(
        X=X, feature_names=np.asarray(gpca.feature_names_), feature_gene=np.asarray(gpca.feature_gene_),
        annotation=annotation, summary=summary, n_imputed_fit=n_imputed_fit,
        n_imputed_total=n_imputed_total, n_variants_unassigned=n_unassigned, config=config,
        timings=timings, imputer=imputer, gene_pca=gpca,
    )


@dataclasses.dataclass
class TrainResult:
    """Trained models and their test-set evaluation on one split.

    Attributes
    ----------
    capsule : DiseaseCapsuleClassifier
    baseline : sklearn estimator or None
        Logistic regression fitted on the same (upsampled) training rows.
    metrics : pandas.DataFrame
        One row per model: accuracy, precision, recall, f1, roc_auc on the test set.
    test_scores : dict of str -> numpy.ndarray
        Case score of each model on the test rows (for ROC curves).
    test_predictions : dict of str -> numpy.ndarray
    history : pandas.DataFrame
        The capsule network's per-epoch record.
    seconds : dict
        Training wall time per model.
    """

    capsule: DiseaseCapsuleClassifier
    baseline: object
    metrics: pd.DataFrame
    test_scores: dict
    test_predictions: dict
    history: pd.DataFrame
    seconds: dict


def train_case_control(features: FeatureSet, split: Split, *, capsule_params: dict | None = None,
                       baseline: bool = True, baseline_C: float = 0.01, callbacks=(),
                       random_state: int = 0) -> TrainResult:
    """Train DiseaseCapsule (and a logistic-regression baseline) and score them on the test set.

    Training rows are upsampled to 1:1 cases:controls (inside the training set only); the test
    rows are used only for the final scores.

    Parameters
    ----------
    features : FeatureSet
    split : Split
    capsule_params : dict, optional
        Keyword arguments of :class:`genoapp.models.DiseaseCapsuleClassifier`.
    baseline : bool
        Also fit :func:`genoapp.models.make_logistic_regression` on the same rows.
    baseline_C : float
        Inverse L2 strength of that logistic regression. The default 0.01 is a strong penalty,
        chosen a priori because Gene-PCA features usually outnumber samples; it is not tuned on
        the test set.
    callbacks : sequence of genoapp.train.Callback
        Passed to the capsule network's ``fit`` (progress, stop button).
    random_state : int
        Seed for upsampling and both models.

    Returns
    -------
    TrainResult
    """
    params = {"random_state": random_state, **(capsule_params or {})}
    X, y = features.X, split.y
    fit_idx = upsample_minority(split.train_idx, y, random_state=random_state)
    test = split.test_idx
    seconds = {}
    t = time.perf_counter()
    capsule = DiseaseCapsuleClassifier(**params).fit(X[fit_idx], y[fit_idx], callbacks=callbacks)
    seconds["DiseaseCapsule"] = time.perf_counter() - t
    scores = {"DiseaseCapsule": capsule.decision_function(X[test])}
    preds = {"DiseaseCapsule": capsule.predict(X[test])}
    lr = None
    if baseline:
        t = time.perf_counter()
        lr = make_logistic_regression(C=baseline_C, random_state=random_state).fit(X[fit_idx], y[fit_idx])
        seconds["Logistic regression"] = time.perf_counter() - t
        scores["Logistic regression"] = lr.predict_proba(X[test])[:, 1]
        preds["Logistic regression"] = lr.predict(X[test])
    rows = []
    for name in scores:
        m = classification_metrics(y[test], preds[name], scores[name])
        rows.append({"model": name, **m, "train_seconds": seconds[name]})
    return TrainResult(capsule, lr, pd.DataFrame(rows), scores, preds,
                       pd.DataFrame(capsule.history_), seconds)


@dataclasses.dataclass
class CouplingSummary:
    """Mean coupling coefficients per true label, for training and test samples.

    Attributes
    ----------
    train, test : numpy.ndarray
        Shape (2, n_types): row j = mean of c_kj over samples whose true label is j.
    strongest_case_type : int
        0-based primary type k* with the largest mean case coupling on training samples.
    """

    train: np.ndarray
    test: np.ndarray
    strongest_case_type: int


def coupling_summary(model: DiseaseCapsuleClassifier, features: FeatureSet, split: Split) -> CouplingSummary:
    """Average coupling coefficients c_kj by true label on training and test samples (DESIGN §4.4).

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
        Fitted.
    features : FeatureSet
    split : Split

    Returns
    -------
    CouplingSummary
    """
    out = {}
    for name, idx in (("train", split.train_idx), ("test", split.test_idx)):
        c = model.coupling_coefficients(features.X[idx])
        out[name] = mean_coupling_by_label(c, split.y[idx])
    return CouplingSummary(out["train"], out["test"], int(strongest_case_type(out["train"])))
