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
from genoapp.features import (
    AllPCA,
    GenePCA,
    MeanImputer,
    annotate_snps,
    annotation_summary,
    check_build,
    gene_pca_features,
    gene_pca_k,
    snp_windows,
)
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
        SNP groups: SNP-to-gene annotation (needs a gene table on the same build) or windows of
        consecutive SNPs (species without a gene table).
    method : {"gene_pca", "all_pca"}
        ``"gene_pca"``: per-group PCA (DiseaseCapsule's Gene-PCA; k = 8 / 4 / 1 components by SNP
        count). ``"all_pca"``: one PCA over all selected SNPs by randomized SVD (the paper's
        comparison), with ``n_components`` components.
    flank_kb : float
        With ``kind="genes"``: a SNP within this many kb of a gene counts as inside it.
    window_snps : int or None
        With ``kind="windows"``: SNPs per window (exclusive with ``window_kb``).
    window_kb : float or None
        With ``kind="windows"``: window width in kb.
    fit_on : {"train", "all"}
        Fit imputation and the PCA on training samples and project the others (default,
        leakage-safe) or on all samples (the published DiseaseCapsule behaviour).
    n_components : int or None
        All-PCA components; None = as many as Gene-PCA would give (sum of k over the groups),
        capped by the rank (fitting samples - 1, SNPs).
    build : str
        Genome build of the gene table for the sanity check (``"GRCh37"``/``"hg19"`` or
        ``"GRCh38"``/``"hg38"``; ``""`` = no check).
    precision : {"exact", "fast", "auto"}
        Gene-PCA arithmetic (:class:`genoapp.features.GenePCA`).
    device : str
        ``"auto"`` (GPU when present), ``"cpu"`` or ``"cuda"``.
    random_state : int
        Seed of the randomized SVD (All-PCA).
    """

    kind: str = "genes"
    flank_kb: float = 0.0
    window_snps: int | None = 20
    window_kb: float | None = None
    fit_on: str = "train"
    method: str = "gene_pca"
    n_components: int | None = None
    build: str = "GRCh37"
    precision: str = "exact"
    device: str = "auto"
    random_state: int = 0

    def __post_init__(self):
        if self.kind not in ("genes", "windows"):
            raise ConfigError(f"feature kind {self.kind!r}: use 'genes' or 'windows'.")
        if self.method not in ("gene_pca", "all_pca"):
            raise ConfigError(f"feature method {self.method!r}: use 'gene_pca' or 'all_pca'.")
        if self.fit_on not in ("train", "all"):
            raise ConfigError(f"fit_on {self.fit_on!r}: use 'train' (default) or 'all' (published).")
        if self.kind == "windows" and (self.window_snps is None) == (self.window_kb is None):
            raise ConfigError("windows need exactly one of window_snps and window_kb.")
        if self.n_components is not None and (
                isinstance(self.n_components, bool) or int(self.n_components) != self.n_components
                or self.n_components < 1):
            raise ConfigError(
                f"n_components {self.n_components!r}: use a whole number >= 1, or None for the "
                "Gene-PCA feature count."
            )
        if self.precision not in ("exact", "fast", "auto"):
            raise ConfigError(f"precision {self.precision!r}: use 'exact', 'fast' or 'auto'.")


@dataclasses.dataclass
class FeatureSet:
    """Model inputs built from the QC'd genotypes.

    Attributes
    ----------
    X : numpy.ndarray
        Shape (n_samples, n_features), float32 scores (Gene-PCA or All-PCA), rows as the
        genotype rows.
    feature_names : numpy.ndarray
        Shape (n_features,), ``chr:GENE:pc`` (Gene-PCA) or ``PC1``, ``PC2``, ... (All-PCA).
    feature_gene : numpy.ndarray
        Shape (n_features,), gene (or window) key of each feature, for masking; ``""`` for
        All-PCA features (they belong to no gene).
    annotation : pandas.DataFrame
        SNP-to-gene (or window) assignments, one row per (SNP, gene).
    summary : pandas.DataFrame
        Per gene: SNP counts and span (:func:`genoapp.features.annotation_summary`), and with
        Gene-PCA its components and explained variance.
    n_imputed_fit, n_imputed_total : int
        Missing genotypes replaced by the mean in the rows used to fit, and in all rows.
    n_variants_unassigned : int
        SNPs not assigned to any gene (chromosomes without genes).
    config : FeatureConfig
    timings : dict
        Wall seconds of each sub-step.
    imputer : MeanImputer
        Per-SNP means of the fitting rows (to impute new individuals).
    gene_pca : GenePCA or None
        Fitted Gene-PCA (None with All-PCA).
    all_pca : AllPCA or None
        Fitted All-PCA (None with Gene-PCA).
    build_warnings : list of str
        Messages of the genome-build sanity check (:func:`genoapp.features.check_build`).
    explained_variance_ratio : numpy.ndarray
        Shape (n_features,): share of its gene's variance (Gene-PCA) or of the total variance
        (All-PCA) of every feature.
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
    gene_pca: GenePCA | None
    all_pca: AllPCA | None = None
    build_warnings: list = dataclasses.field(default_factory=list)
    explained_variance_ratio: np.ndarray | None = None

    def feature_table(self) -> pd.DataFrame:
        """One row per feature: ``feature``, ``gene``, ``pc`` (1-based), ``explained_variance_ratio``."""
        names = np.asarray(self.feature_names).astype(str)
        if self.gene_pca is not None:
            pc = np.array([int(s.rsplit(":", 1)[1]) for s in names], dtype=np.int64)
        else:
            pc = np.arange(1, len(names) + 1)
        return pd.DataFrame({"feature": names, "gene": np.asarray(self.feature_gene).astype(str),
                             "pc": pc, "explained_variance_ratio": self.explained_variance_ratio})


def default_all_pca_components(summary: pd.DataFrame, n_fit: int, n_snps: int) -> int:
    """All-PCA components by default: the Gene-PCA feature count (sum of k = 8 / 4 / 1 over the
    groups of ``summary``), capped by the rank ``min(n_fit - 1, n_snps)``."""
    k = int(np.sum(gene_pca_k(summary["n_snps"].to_numpy()))) if len(summary) else 1
    return max(1, min(k, n_fit - 1, n_snps))


def build_features(G, variants: pd.DataFrame, split: Split, *, genes: pd.DataFrame | None = None,
                   config: FeatureConfig | None = None, progress=None) -> FeatureSet:
    """Annotate SNPs, impute missing genotypes and compute Gene-PCA (or All-PCA) features.

    Parameters
    ----------
    G : numpy.ndarray
        Shape (n_samples, n_variants): QC'd dosages of A1 (0, 1, 2), float, NaN = missing.
    variants : pandas.DataFrame
        The ``n_variants`` variants (columns chrom, id, pos).
    split : Split
        Which rows are training rows (used to fit imputation and the PCA by default).
    genes : pandas.DataFrame, optional
        Gene table (gene, chrom, start, end) on the genotypes' build; required for
        ``kind="genes"``.
    config : FeatureConfig, optional
    progress : callable, optional
        ``progress(fraction, message)`` during Gene-PCA.

    Returns
    -------
    FeatureSet

    Raises
    ------
    ConfigError
        If ``kind="genes"`` and no gene table is given, or no SNP could be assigned.
    InputDataError
        Genotypes and variants disagree.

    Notes
    -----
    Gene-PCA runs :func:`genoapp.features.gene_pca_features` (one streaming pass: training-mean
    imputation, per-gene PCA fitted on the fitting rows, projection of all rows). At paper scale
    (genotypes that do not fit in RAM) call that function on the PLINK fileset directly.
    """
    config = config or FeatureConfig()
    G = np.asarray(G)
    if G.ndim != 2 or G.shape[1] != len(variants):
        raise InputDataError(f"{G.shape[-1]} genotype columns but {len(variants)} variants.")
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
    warnings = []
    if config.kind == "genes" and config.build:
        warnings = check_build(variants, annotation=annotation, build=config.build)
    n_unassigned = int(len(variants) - annotation["variant_index"].nunique())
    summary = annotation_summary(annotation)
    timings["annotation"] = time.perf_counter() - t

    fit_rows = np.sort(split.train_idx) if config.fit_on == "train" else np.arange(G.shape[0])
    t = time.perf_counter()
    # training (or all-sample) means of every SNP, for imputing new individuals
    imputer = MeanImputer(all_missing="zero").fit(G[fit_rows])
    timings["imputation"] = time.perf_counter() - t
    gpca = apca = None
    if config.method == "gene_pca":
        t = time.perf_counter()
        res = gene_pca_features(G, annotation, fit_rows=fit_rows, dtype="float32",
                                device=config.device, precision=config.precision,
                                progress=progress)
        gpca = res.model
        X = np.ascontiguousarray(res.X)
        n_imputed_fit, n_imputed_total = res.n_imputed_fit, res.n_imputed_total
        names, feat_gene = np.asarray(gpca.feature_names_), np.asarray(gpca.feature_gene_)
        evr = np.asarray(gpca.explained_variance_ratio_)
        timings["gene_pca"] = time.perf_counter() - t
        pca_genes = gpca.genes_.set_index("gene")
        summary = summary.join(
            pca_genes[["n_components", "explained_variance_ratio_total"]], on="gene", how="left"
        )
    else:
        t = time.perf_counter()
        k = config.n_components or default_all_pca_components(summary, len(fit_rows), G.shape[1])
        Gi = imputer.transform(G)
        n_imputed_fit = int(np.sum(imputer.n_missing_fit_))
        n_imputed_total = int(imputer.n_imputed_)
        timings["imputation"] += time.perf_counter() - t
        t = time.perf_counter()
        apca = AllPCA(n_components=int(k), device=config.device,
                      random_state=config.random_state).fit(Gi[fit_rows])
        X = apca.transform(Gi)
        del Gi
        names = np.asarray(apca.feature_names_)
        feat_gene = np.full(len(names), "", dtype=object).astype(str)
        evr = np.asarray(apca.explained_variance_ratio_)
        timings["all_pca"] = time.perf_counter() - t
    return FeatureSet(
        X=X, feature_names=names, feature_gene=feat_gene, annotation=annotation, summary=summary,
        n_imputed_fit=n_imputed_fit, n_imputed_total=n_imputed_total,
        n_variants_unassigned=n_unassigned, config=config, timings=timings, imputer=imputer,
        gene_pca=gpca, all_pca=apca, build_warnings=warnings, explained_variance_ratio=evr,
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
    protocol : genoapp.train.protocol.ProtocolResult or None
        The full comparison (every model, input and seed) when made by
        :func:`compare_models`; None for :func:`train_case_control`.
    """

    capsule: DiseaseCapsuleClassifier
    baseline: object
    metrics: pd.DataFrame
    test_scores: dict
    test_predictions: dict
    history: pd.DataFrame
    seconds: dict
    protocol: object = None


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


def feature_input_name(features: FeatureSet) -> str:
    """Display name of a feature set in comparison tables.

    "Gene-PCA" (genes), "Windows-PCA" (windows of SNPs), "All-PCA" (one PCA over all SNPs),
    from ``features.config`` (``kind`` and, when present, ``method``).
    """
    cfg = features.config
    if getattr(cfg, "method", None) == "all_pca" or getattr(cfg, "kind", None) == "all_pca":
        return "All-PCA"
    return "Gene-PCA" if getattr(cfg, "kind", "genes") == "genes" else "Windows-PCA"


def compare_models(features, split: Split, *, snps=None, models=None, preset: str = "quick",
                   config=None, overrides: dict | None = None, callbacks=(), on_event=None,
                   stop=None) -> TrainResult:
    """Run the model zoo under the honest protocol on one or more feature inputs.

    Every model is tuned and trained on the training samples of ``split`` only (balanced
    validation folds, 1:1 upsampling inside the training data, several seeds, identical splits
    and seeds for all models) and scored once on the balanced test samples
    (:func:`genoapp.train.protocol.run_protocol`).

    Parameters
    ----------
    features : FeatureSet or dict of str -> FeatureSet
        One input, or several by display name (e.g. ``{"Gene-PCA": fs1, "All-PCA": fs2}``),
        all built on ``split`` (``fit_on="train"`` keeps the test samples out of every fitted
        step). The first one is the primary input: ``TrainResult.capsule`` is the capsule
        network trained on it (first seed), for the Capsule insights page.
    split : Split
    snps : numpy.ndarray (n_samples, n_snps), optional
        QC'd dosages (NaN = missing), for the PRS models; they are skipped without it.
    models : sequence of str, optional
        Model keys (:data:`genoapp.models.MODEL_KEYS`; default all).
    preset : {"quick", "paper"}, default "quick"
        Hyper-parameters and protocol settings (:mod:`genoapp.models.zoo`).
    config : genoapp.train.protocol.ProtocolConfig, optional
        Replaces the preset's protocol settings.
    overrides : dict of key -> dict, optional
        Fixed hyper-parameters per model, e.g. ``{"capsule": {"epochs": 3}}``.
    callbacks, on_event, stop
        Passed to :func:`genoapp.train.protocol.run_protocol` (progress, live events, stop
        button).

    Returns
    -------
    TrainResult
        With ``protocol`` (the full :class:`~genoapp.train.protocol.ProtocolResult`),
        ``metrics`` = the comparison table (mean ± SD over seeds per model and input),
        ``capsule`` / ``baseline`` = the capsule network / logistic regression on the primary
        input and first seed (None when not run), ``test_scores`` / ``test_predictions`` /
        ``seconds`` keyed ``"<model> · <input>"`` for the first seed, ``history`` = the capsule
        network's epochs.

    Raises
    ------
    InputDataError, ConfigError
        See :func:`genoapp.train.protocol.run_protocol`.
    """
    from genoapp.models.zoo import model_zoo, preset_config
    from genoapp.train.protocol import run_protocol

    if isinstance(features, FeatureSet):
        features = {feature_input_name(features): features}
    if not features:
        raise ConfigError("compare_models: give at least one feature set.")
    for name, fs in features.items():
        if fs.X.shape[0] != len(split.y):
            raise InputDataError(
                f"features {name!r}: {fs.X.shape[0]} rows but the split has {len(split.y)} samples; "
                "build the features on this split."
            )
    specs = model_zoo(models, preset=preset, overrides=overrides)
    config = config or preset_config(preset)
    proto = run_protocol({name: fs.X for name, fs in features.items()}, split.y,
                         (split.train_idx, split.test_idx), models=specs, snps=snps,
                         config=config, callbacks=callbacks, on_event=on_event, stop=stop)
    primary = next(iter(features))
    seed0 = config.seeds[0]
    capsule = proto.estimators.get(("capsule", primary, seed0))
    baseline = proto.estimators.get(("logreg", primary, seed0))
    scores, preds, seconds = {}, {}, {}
    for (key, inp, seed), sc in proto.test_scores.items():
        if seed != seed0:
            continue
        label = f"{proto.models[key].name} · {inp}"
        scores[label] = sc
        preds[label] = proto.test_predictions[(key, inp, seed)]
    m = proto.metrics
    if len(m):
        for (name, inp), g in m.groupby(["model", "input"], sort=False):
            seconds[f"{name} · {inp}"] = float(g["seconds"].sum())
    history = proto.histories.get(("capsule", primary, seed0), pd.DataFrame())
    return TrainResult(capsule=capsule, baseline=baseline, metrics=proto.summary(),
                       test_scores=scores, test_predictions=preds, history=history,
                       seconds=seconds, protocol=proto)


def save_comparison(result: TrainResult, features, *, qc_variants: pd.DataFrame, root=None,
                    samples: pd.DataFrame | None = None, split: Split | None = None,
                    snps=None, label: str = "", extra: dict | None = None):
    """Save a :func:`compare_models` result as a run directory (:func:`genoapp.runs.save_run`).

    Parameters
    ----------
    result : TrainResult
        With ``protocol`` set.
    features : FeatureSet or dict of str -> FeatureSet
        The inputs given to :func:`compare_models` (same names).
    qc_variants : pandas.DataFrame
        The QC'd variant table whose columns the features (and ``snps``) were built from
        (``chrom``, ``id``, ``pos``, ``A1``, ``A2``): the variant list applied to new samples.
    root : path-like, optional
        Parent folder (default :func:`genoapp.runs.default_runs_dir`).
    samples : pandas.DataFrame, optional
        ``FID``, ``IID`` of the rows.
    split : Split, optional
        For the labels in ``samples.csv`` and the record.
    snps : numpy.ndarray, optional
        The SNP matrix given to the PRS models (only hashed).
    label : str
    extra : dict, optional
        More record entries.

    Returns
    -------
    pathlib.Path
        The run directory.
    """
    from genoapp.runs import FeatureProjector, save_run
    from genoapp.train.protocol import SNP_INPUT

    if result.protocol is None:
        raise ConfigError("save_comparison: the result has no protocol (use compare_models).")
    if isinstance(features, FeatureSet):
        features = {feature_input_name(features): features}
    projectors = {name: FeatureProjector.from_feature_set(fs, qc_variants, name=name)
                  for name, fs in features.items()}
    projectors[SNP_INPUT] = FeatureProjector.for_snps(qc_variants)
    inputs = {name: fs.X for name, fs in features.items()}
    if snps is not None:
        inputs[SNP_INPUT] = snps
    feat_cfg = {name: dataclasses.asdict(fs.config) for name, fs in features.items()}
    return save_run(result.protocol, root, projectors=projectors, samples=samples,
                    y=None if split is None else split.y, inputs=inputs, label=label,
                    extra={"features": feat_cfg, "n_qc_variants": int(len(qc_variants)),
                           **(extra or {})})


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
