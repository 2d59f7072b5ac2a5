"""Model inputs from QC'd genotypes: SNP groups, imputation and Gene-PCA or All-PCA, in one call.

:func:`build_features` is what the Features page, the CLI and the benchmarks run: annotate SNPs
to genes (or windows), fit mean imputation and the PCA on the training rows of a split (the
leakage-safe default; ``fit_on="all"`` is the published behaviour, labelled as such) and project
every row. The result (:class:`FeatureSet`) carries its gene index (``feature_gene``) and the
split it was fitted on, so later steps (training, interpretation) take it whole.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.features.allpca import AllPCA
from genoapp.features.annotation import annotate_snps, annotation_summary, check_build, snp_windows
from genoapp.features.genepca import GenePCA, gene_pca_features, gene_pca_k
from genoapp.features.impute import MeanImputer
from genoapp.logs import get_logger

__all__ = ["FeatureConfig", "FeatureSet", "build_features", "default_all_pca_components",
           "feature_input_name"]

_log = get_logger(__name__)


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
    split : genoapp.train.Split or None
        The split the imputation and PCA were fitted on (rows = rows of ``X``; ``split.y`` the
        0/1 labels).
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
    split: object = None

    @property
    def input_name(self) -> str:
        """Display name of this input in comparison tables (:func:`feature_input_name`)."""
        return feature_input_name(self)

    @property
    def n_genes(self) -> int:
        """Genes (or windows) with at least one feature column (distinct ``feature_gene``)."""
        return int(pd.unique(np.asarray(self.feature_gene, dtype=object)).size)

    @property
    def y(self) -> np.ndarray | None:
        """0/1 labels of the rows (from the split), or None."""
        return None if self.split is None else np.asarray(self.split.y)

    def to_zarr(self, path, *, rows="all", samples=None, chunks=None, overwrite: bool = False):
        """Write ``X`` with the feature names and genes as a chunked Zarr v3 store.

        See :func:`genoapp.features.zarr_store.write_features_zarr` (atomic; read it back with
        :func:`~genoapp.features.zarr_store.open_features_zarr`). With labels (a split), the
        store holds them as ``y``: ``fs.to_zarr("train.zarr", rows="train")`` is the input of
        ``torchrun ... -m genoapp train-ddp --features train.zarr``.

        Parameters
        ----------
        path : str or path-like
        rows : {"all", "train", "test"} or array-like of int, default "all"
            The rows to write (:meth:`rows`).
        samples : pandas.DataFrame or array-like, optional
            Sample IDs of all rows of ``X`` (e.g. FID/IID); default row numbers.
        chunks : tuple of int, optional
        overwrite : bool, default False

        Returns
        -------
        pathlib.Path
        """
        from genoapp.features.zarr_store import write_features_zarr

        features = pd.DataFrame({"name": np.asarray(self.feature_names).astype(str),
                                 "gene": np.asarray(self.feature_gene).astype(str)})
        idx = self.rows(rows)
        if samples is None:
            samples = pd.DataFrame({"row": idx.astype(str)})
        elif isinstance(samples, pd.DataFrame):
            samples = samples.iloc[idx].reset_index(drop=True)
        else:
            samples = np.asarray(samples)[idx]
        y = self.y
        return write_features_zarr(np.asarray(self.X)[idx], path, samples=samples,
                                   features=features, chunks=chunks, overwrite=overwrite,
                                   labels=None if y is None else np.asarray(y)[idx],
                                   attrs={"input": self.input_name, "rows": str(rows)
                                          if isinstance(rows, str) else "subset",
                                          "config": dataclasses.asdict(self.config)})

    def rows(self, samples="train") -> np.ndarray:
        """Row indices of a sample set: ``"train"``, ``"test"``, ``"all"`` or an index array.

        Raises
        ------
        ConfigError
            ``"train"``/``"test"`` without a split, or an unknown name.
        """
        if isinstance(samples, str):
            if samples == "all":
                return np.arange(self.X.shape[0])
            if samples in ("train", "test"):
                if self.split is None:
                    raise ConfigError(f"samples={samples!r}: these features carry no split.")
                return np.asarray(self.split.train_idx if samples == "train" else self.split.test_idx)
            raise ConfigError(f"samples: 'train', 'test', 'all' or row indices, got {samples!r}.")
        return np.asarray(samples, dtype=np.int64)

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


def build_features(G, variants: pd.DataFrame, split, *, genes: pd.DataFrame | None = None,
                   config: FeatureConfig | None = None, progress=None) -> FeatureSet:
    """Annotate SNPs, impute missing genotypes and compute Gene-PCA (or All-PCA) features.

    Parameters
    ----------
    G : numpy.ndarray
        Shape (n_samples, n_variants): QC'd dosages of A1 (0, 1, 2), float, NaN = missing.
    variants : pandas.DataFrame
        The ``n_variants`` variants (columns chrom, id, pos).
    split : genoapp.train.Split
        Which rows are training rows (``split.train_idx``, used to fit imputation and the PCA
        by default); kept in the result.
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
    _log.info("features: %s, %d features from %d groups, fitted on %s rows (%d imputed "
              "genotypes); %s", "Gene-PCA" if config.method == "gene_pca" else "All-PCA",
              X.shape[1], int(len(summary)), config.fit_on, n_imputed_fit,
              ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    for w in warnings:
        _log.warning("build check: %s", w)
    return FeatureSet(
        X=X, feature_names=names, feature_gene=feat_gene, annotation=annotation, summary=summary,
        n_imputed_fit=n_imputed_fit, n_imputed_total=n_imputed_total,
        n_variants_unassigned=n_unassigned, config=config, timings=timings, imputer=imputer,
        gene_pca=gpca, all_pca=apca, build_warnings=warnings, explained_variance_ratio=evr,
        split=split,
    )


def feature_input_name(features: FeatureSet) -> str:
    """Display name of a feature set in comparison tables.

    "Gene-PCA" (genes), "Windows-PCA" (windows of SNPs), "All-PCA" (one PCA over all SNPs),
    from ``features.config`` (``kind`` and, when present, ``method``).
    """
    cfg = features.config
    if getattr(cfg, "method", None) == "all_pca" or getattr(cfg, "kind", None) == "all_pca":
        return "All-PCA"
    return "Gene-PCA" if getattr(cfg, "kind", "genes") == "genes" else "Windows-PCA"


