"""The QC page's whole flow as one back-end function: leakage-safe QC, batch filter and GWAS.

Order (DESIGN §4.1; PLINK 1.9 semantics for each filter, see :mod:`genoapp.qc.funnel`):

1. ``--autosome`` (option) and ``--mind``: label-free, on every selected sample.
2. The balanced test split (:func:`genoapp.train.make_split`) is drawn on the samples that
   pass ``--mind``. From here on, steps that look at the phenotype use **training samples
   only** by default, so that no test label influences which variants are kept.
3. ``--geno``, ``--hwe`` (controls, or everyone with ``include-nonctrl``), ``--maf``, then the
   differential-missingness test (cases vs controls), optionally within each batch (a variant
   must pass in every stratum, as the DiseaseCapsule protocol ran QC per platform).
4. Batch-effect filter (:mod:`genoapp.qc.batch`): allele counts x batch among controls,
   chi-squared per SNP, Benjamini-Hochberg.
5. GWAS on training samples (allelic ``--assoc`` test from the packed counts, or logistic
   regression with covariates on dosages read in blocks); keep SNPs with p below the threshold.
6. The dosages of the kept samples x kept variants are read (float32, NaN missing) for the
   feature step, and sample PCAs before and after the batch filter are computed for the plots.

``label_samples="all"`` makes steps 3 and 4 use every sample's phenotype, as PLINK run on the
whole cohort and the published protocol did (test labels then influence QC: not leakage-safe).
The GWAS always uses training samples only, as in the published protocol.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.features.covariates import covariate_design
from genoapp.logs import get_logger
from genoapp.qc.assoc import allelic_test, genomic_control_lambda, logistic_association
from genoapp.qc.basic import QCConfig, QCResult
from genoapp.qc.batch import allele_counts_by_batch, batch_effect_test
from genoapp.qc.funnel import Funnel, _BedSource, _DenseSource
from genoapp.qc.pca import sample_pca
from genoapp.train.splits import Split, make_split

__all__ = ["QCWorkflowConfig", "QCWorkflowResult", "filter_gene_report", "run_qc_workflow"]

_log = get_logger(__name__)


def _default_qc() -> QCConfig:
    return QCConfig(mind=0.1, geno=0.1, maf=0.01, hwe=1e-6, hwe_midp=True, hwe_all=False,
                    test_missing=1e-4, test_missing_midp=True, autosomes_only=True)


@dataclasses.dataclass
class QCWorkflowConfig:
    """Options of the QC page's flow (defaults: leakage-safe, common GWAS thresholds).

    Parameters
    ----------
    qc : QCConfig
        The PLINK filters. Default: ``--autosome --mind 0.1 --geno 0.1 --hwe 1e-6 midp
        --maf 0.01`` and differential missingness at mid-p < 1e-4 (the DiseaseCapsule
        pipeline's ``--test-missing midp --pfilter 1e-4``).
    stratify : bool, default False
        Apply the variant filters within each batch (needs a batch column); a variant is kept
        only if it passes in all batches.
    batch_filter : float or None, default 0.05
        Benjamini-Hochberg level of the batch-effect filter among controls; None = off. Needs
        a batch column with at least two batches among the controls (otherwise it is skipped
        with a note).
    batch_pairwise : bool, default False
        Test every pair of batches (the authors' script) instead of all batches jointly.
    batch_yates : bool, default False
        Yates' correction on 2x2 batch tables (``chi2_contingency``'s default, as the authors).
    gwas : float or None, default None
        A fixed association filter: keep SNPs whose training-sample association p is below
        this (the DiseaseCapsule paper: 0.05). None (default): no filter here; the filter is
        then chosen inside the training samples when models are trained
        (:func:`genoapp.workflows.casecontrol.compare_models` with ``association="nested"``),
        so that the validation folds that choose it never took part in it.
    gwas_report : bool, default True
        Without a fixed filter, still run the association test on the training samples for the
        Manhattan and QQ plots (nothing is removed).
    gwas_test : {"allelic", "logistic"}, default "allelic"
        PLINK ``--assoc`` allelic chi-squared, or ``--logistic`` (additive, Wald test).
    gwas_covariates : tuple of str, default ()
        Sample-table columns used as covariates of the logistic model
        (:func:`genoapp.features.covariate_design`): numeric columns as they are, categorical
        (text) columns one-hot encoded against their most frequent level among the training
        samples used (the notes name it). Training samples missing one are left out of the
        GWAS, as PLINK does; their IDs are ``QCWorkflowResult.covariate_dropped``.
    gwas_pcs : int, default 0
        Number of sample PCs added as covariates of the logistic model. Leakage-safe: a PCA of
        the **training samples' genotypes only** (on the ``pca_max_variants`` evenly spaced
        variants passing the PLINK filters that the plots' PCA uses), so neither test labels
        nor test genotypes shape the axes; the scores are ``QCWorkflowResult.gwas_pc_scores``.
        (The PCA of the plots, ``pca_before``, is of all kept samples, without labels.)
    label_samples : {"train", "all"}, default "train"
        Samples whose phenotype HWE (controls), differential missingness and the batch filter
        use: training samples only (leakage-safe) or all (as PLINK on the whole cohort / as
        published).
    test_size : float, default 0.1
        Fraction of the kept samples in the balanced test set.
    random_state : int, default 0
        Seed of the split and of the PCA.
    pca_components : int, default 10
        PCs computed for the sample PCA plots (0 = no PCA).
    pca_max_variants : int, default 5000
        At most this many variants (evenly spaced) enter the PCA, to bound its cost.

    Raises
    ------
    ConfigError
        Invalid values (the message names the option).
    """

    qc: QCConfig = dataclasses.field(default_factory=_default_qc)
    stratify: bool = False
    batch_filter: float | None = 0.05
    batch_pairwise: bool = False
    batch_yates: bool = False
    gwas: float | None = None
    gwas_report: bool = True
    gwas_test: str = "allelic"
    gwas_covariates: tuple = ()
    gwas_pcs: int = 0
    label_samples: str = "train"
    test_size: float = 0.1
    random_state: int = 0
    pca_components: int = 10
    pca_max_variants: int = 5000

    def __post_init__(self) -> None:
        if not isinstance(self.qc, QCConfig):
            raise ConfigError("QCWorkflowConfig.qc must be a genoapp.qc.QCConfig.")
        for name in ("batch_filter", "gwas"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not 0.0 < float(v) <= 1.0):
                raise ConfigError(f"QCWorkflowConfig.{name}: {v!r} must be in (0, 1] or None.")
        if self.gwas_test not in ("allelic", "logistic"):
            raise ConfigError(f"QCWorkflowConfig.gwas_test: {self.gwas_test!r}; use 'allelic' "
                              "(PLINK --assoc) or 'logistic' (PLINK --logistic).")
        if self.label_samples not in ("train", "all"):
            raise ConfigError(f"QCWorkflowConfig.label_samples: {self.label_samples!r}; use "
                              "'train' (leakage-safe) or 'all' (as PLINK / as published).")
        if not 0.0 < float(self.test_size) < 1.0:
            raise ConfigError(f"QCWorkflowConfig.test_size: {self.test_size!r} must be in (0, 1).")
        self.gwas_covariates = tuple(self.gwas_covariates or ())
        for name in ("gwas_pcs", "pca_components", "pca_max_variants"):
            if int(getattr(self, name)) < 0:
                raise ConfigError(f"QCWorkflowConfig.{name} must be >= 0.")
        if self.gwas_test == "allelic" and (self.gwas_covariates or self.gwas_pcs):
            raise ConfigError("QCWorkflowConfig: covariates and PCs need gwas_test='logistic' "
                              "(the allelic test has no covariates).")
        if self.gwas_pcs > self.pca_components:
            raise ConfigError(f"QCWorkflowConfig.gwas_pcs ({self.gwas_pcs}) cannot exceed "
                              f"pca_components ({self.pca_components}).")


@dataclasses.dataclass
class QCWorkflowResult:
    """Everything the QC page shows and the feature step needs.

    Attributes
    ----------
    qc : QCResult
        The whole funnel (all steps, PLINK filters, batch filter and GWAS) as a QCResult: masks
        over the selected samples and all variants, steps with removed IDs, ``summary()``.
    split : genoapp.train.Split
        Balanced train/test split; indices into the kept samples (rows of ``G``).
    G : numpy.ndarray of float32, shape (n_kept_samples, n_kept_variants)
        A1 dosages (NaN = missing), C-contiguous, rows as ``samples``, columns as ``variants``.
    samples : pandas.DataFrame
        The kept samples (rows of the cohort's sample table).
    variants : pandas.DataFrame
        The kept variants (rows of the .bim table).
    y : numpy.ndarray of int8
        0/1 phenotype of the kept samples.
    sample_stats : pandas.DataFrame
        Every selected sample: FID, IID, batch, phenotype, missing_rate, set ("training",
        "test" or "removed").
    variant_stats : pandas.DataFrame
        Every variant: chrom, id, pos, missing_rate, maf, hwe_p, test_missing_p, batch_p,
        batch_q, batch_pair, gwas_p, gwas_stat, gwas_or, removed_by.
    pca_before, pca_after : pandas.DataFrame or None
        Kept samples' PC scores (PC1...) with FID, IID, batch, phenotype, set, on the variants
        before / after the batch filter; ``attrs["explained_variance_ratio"]``.
    lambda_gc : float
        Genomic-control lambda of the GWAS on training samples (NaN without GWAS).
    notes : list of str
        Steps skipped and why.
    seconds : dict
        Wall time of each part.
    config : QCWorkflowConfig
    cohort : genoapp.cohort.Cohort or None
        The QC'd cohort: the kept samples (rows of ``G``, in order) and the kept variants
        (columns of ``G``), sharing the genotype handle; None for a dense-matrix input.
    covariate_dropped : pandas.DataFrame
        Training samples left out of the logistic GWAS because they lack a covariate value:
        ``FID``, ``IID``, ``missing_covariates`` (the columns they lack, ", "-joined); empty
        (same columns) when none was left out or no covariate was used.
    gwas_pc_scores : numpy.ndarray or None
        ``(n_train, gwas_pcs)``: the PCs used as GWAS covariates, of a PCA of the training
        samples only (rows in ``split.train_idx`` order); None without ``gwas_pcs``.
    """

    qc: QCResult
    split: object
    G: np.ndarray
    samples: pd.DataFrame
    variants: pd.DataFrame
    y: np.ndarray
    sample_stats: pd.DataFrame
    variant_stats: pd.DataFrame
    pca_before: pd.DataFrame | None
    pca_after: pd.DataFrame | None
    lambda_gc: float
    notes: list
    seconds: dict
    config: QCWorkflowConfig
    cohort: object = None
    covariate_dropped: pd.DataFrame = dataclasses.field(default_factory=lambda: _no_dropped())
    gwas_pc_scores: np.ndarray | None = None

    def summary(self) -> pd.DataFrame:
        """The funnel table (see :meth:`QCResult.summary`)."""
        return self.qc.summary()

    def removed_ids(self) -> dict[str, pd.DataFrame]:
        """Removed samples/variants of each step, keyed by a file-name-friendly step label."""
        out = {}
        for i, step in enumerate(self.qc.steps):
            key = f"{i + 1:02d}_{step.plink_flag.split()[0].lstrip('-').replace(' ', '_')}"
            out[key] = step.removed
        return out


class _Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._t
        self._t = now


def _labels(values) -> np.ndarray | None:
    if values is None:
        return None
    s = pd.Series(np.asarray(values, dtype=object))
    return s.map(lambda v: "(missing)" if v is None or (isinstance(v, float) and np.isnan(v))
                 else (str(int(v)) if isinstance(v, float) and float(v).is_integer()
                       else str(v))).to_numpy()


def _even_subset(idx: np.ndarray, k: int) -> np.ndarray:
    if k <= 0 or idx.size <= k:
        return idx
    return idx[np.linspace(0, idx.size - 1, k).round().astype(np.int64)]


@dataclasses.dataclass
class _State:
    """What the QC steps pass on to each other."""

    config: QCWorkflowConfig
    source: object
    cohort: object
    data: object
    samples: pd.DataFrame
    variants: pd.DataFrame
    yv: np.ndarray
    blabels: np.ndarray | None
    progress: Callable | None
    timer: _Timer = dataclasses.field(default_factory=_Timer)
    notes: list = dataclasses.field(default_factory=list)
    funnel: Funnel | None = None
    kept: np.ndarray | None = None
    y_kept: np.ndarray | None = None
    split: Split | None = None
    train_sel: np.ndarray | None = None
    test_sel: np.ndarray | None = None
    stats: pd.DataFrame | None = None
    pre_batch_mask: np.ndarray | None = None
    pca_before: pd.DataFrame | None = None
    pca_after: pd.DataFrame | None = None
    pcs_train: np.ndarray | None = None
    lambda_gc: float = float("nan")
    covariate_dropped: pd.DataFrame | None = None

    @property
    def n(self) -> int:
        return int(self.yv.size)

    def report(self, frac: float, msg: str) -> None:
        if self.progress is not None:
            self.progress(float(frac), msg)

    def read(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return _read(self.source, self.cohort, self.data, rows, cols)


def _start(data, y, batch, config, samples, variants, progress) -> _State:
    """Check the inputs and open the genotype source (the packed .bed or a dense matrix)."""
    cohort = None
    if hasattr(data, "genotypes") and hasattr(data, "sample_index"):
        cohort = data
        if getattr(cohort, "variant_index", None) is not None:
            raise ConfigError("run_qc_workflow: the cohort is already restricted to some variants; "
                              "run QC on the cohort with all its variants.")
        geno = cohort.genotypes
        samples = cohort.samples if samples is None else samples
        variants = geno.variants if variants is None else variants
        source = _BedSource(geno.bed_path, geno.n_samples, geno.n_variants, cohort.sample_index)
    else:
        G_in = np.asarray(data)
        if samples is None or variants is None:
            raise InputDataError("run_qc_workflow: a dense genotype matrix needs the samples and "
                                 "variants tables.")
        source = _DenseSource(G_in)
    n = source.n_samples
    yv = np.asarray(y, dtype=np.float64)
    if yv.shape != (n,) or np.isnan(yv).any() or not np.isin(yv, (0.0, 1.0)).all():
        raise InputDataError(f"run_qc_workflow: y must hold one 0/1 value per selected sample "
                             f"({n}) without missing values; select samples with a phenotype "
                             "on the Data page.")
    blabels = _labels(batch)
    if blabels is not None and len(blabels) != n:
        raise InputDataError(f"run_qc_workflow: {len(blabels)} batch labels for {n} samples.")
    if config.stratify and blabels is None:
        raise ConfigError("Stratified QC needs a batch column: choose one on the Data page or "
                          "untick 'apply the variant filters within each batch'.")
    return _State(config=config, source=source, cohort=cohort, data=data, samples=samples,
                  variants=variants, yv=yv, blabels=blabels, progress=progress)


def _sample_filters(st: _State) -> None:
    """Step 1: ``--autosome`` (option) and ``--mind``, label-free, on every selected sample."""
    st.report(0.02, "Sample call rate (--mind)")
    st.funnel = Funnel(st.source, st.samples, st.variants, config=st.config.qc, y=st.yv,
                       strata=st.blabels if st.config.stratify else None, batch=st.blabels)
    st.funnel.sample_phase(count=False)
    st.timer.lap("sample filters")


def _draw_split(st: _State) -> None:
    """Step 2: the balanced test split on the samples that passed the sample filters."""
    st.kept = np.flatnonzero(st.funnel.sample_mask)
    st.y_kept = st.yv[st.kept].astype(np.int8)
    cfg = st.config
    st.split = make_split(st.y_kept, test_size=cfg.test_size, random_state=cfg.random_state)
    st.train_sel = np.zeros(st.n, dtype=bool)
    st.train_sel[st.kept[st.split.train_idx]] = True
    st.test_sel = np.zeros(st.n, dtype=bool)
    st.test_sel[st.kept[st.split.test_idx]] = True
    st.timer.lap("split")


def _variant_filters(st: _State) -> None:
    """Step 3: ``--geno``, ``--hwe``, ``--maf``, differential missingness (label-aware ones on
    training samples unless ``label_samples == "all"``)."""
    st.report(0.1, "Variant filters (--geno, --hwe, --maf, test-missing)")
    st.funnel.variant_phase(st.train_sel, all_stats=True,
                            use_all_labels=st.config.label_samples == "all")
    st.timer.lap("variant filters")
    st.stats = st.funnel.stats.copy()


def _batch_filter(st: _State) -> None:
    """Step 4: allele counts x batch among controls, chi-squared, Benjamini-Hochberg."""
    f, cfg, stats = st.funnel, st.config, st.stats
    labelled = None if cfg.label_samples == "all" else True
    st.pre_batch_mask = f.variant_mask.copy()
    for col in ("batch_chi2", "batch_p", "batch_q"):
        stats[col] = np.nan
    stats["batch_pair"] = ""
    if cfg.batch_filter is not None:
        st.report(0.35, "Batch-effect filter")
        n_b = len(f.batch_labels)
        ctrl_groups = [f.select(status=0, labelled=labelled, batch=b) for b in range(n_b)]
        present = [b for b in range(n_b) if len(ctrl_groups[b])]
        if st.blabels is None or len(present) < 2:
            st.notes.append("Batch-effect filter skipped: it needs a batch column with at least "
                            "two batches among the controls used"
                            + (" (none chosen on the Data page)." if st.blabels is None else "."))
        else:
            gc = np.stack([f.counts.group_sum(ctrl_groups[b]) for b in present], axis=1)
            idx = np.flatnonzero(f.variant_mask)
            tab = batch_effect_test(allele_counts_by_batch(gc[idx]),
                                    pairwise=cfg.batch_pairwise, yates=cfg.batch_yates,
                                    alpha=cfg.batch_filter,
                                    batch_labels=[f.batch_labels[b] for b in present])
            stats.loc[idx, "batch_chi2"] = tab["chi2"].to_numpy()
            stats.loc[idx, "batch_p"] = tab["p"].to_numpy()
            stats.loc[idx, "batch_q"] = tab["q"].to_numpy()
            stats.loc[idx, "batch_pair"] = tab["pair"].to_numpy()
            remove = np.zeros(len(stats), dtype=bool)
            remove[idx[tab["remove"].to_numpy()]] = True
            how = "every pair" if cfg.batch_pairwise else "all batches"
            flag = (f"batch chi2 ({how}{', Yates' if cfg.batch_yates else ''}) "
                    f"BH q < {cfg.batch_filter!r}")
            f._variant_step("Batch effect (controls)", flag, remove,
                            stats["batch_q"].to_numpy(), "batch-effect q", 1.0)
    st.timer.lap("batch filter")


def _sample_pcas(st: _State) -> None:
    """Label-free sample PCA on an even variant subset, before and after the batch filter."""
    cfg = st.config
    sub_before = _even_subset(np.flatnonzero(st.pre_batch_mask), cfg.pca_max_variants)
    if cfg.pca_components > 0 and len(st.kept) >= 3 and sub_before.size >= 2:
        st.report(0.45, "Sample PCA")
        Gp = st.read(st.kept, sub_before)
        meta = _sample_meta(st.samples, st.kept, st.blabels, st.y_kept, st.split)
        try:
            scores, evr = sample_pca(Gp, n_components=cfg.pca_components,
                                     random_state=cfg.random_state)
            st.pca_before = _pca_frame(meta, scores, evr)
            after_cols = st.funnel.variant_mask[sub_before]
            if after_cols.sum() >= 2 and not after_cols.all():
                s2, e2 = sample_pca(Gp[:, after_cols], n_components=cfg.pca_components,
                                    random_state=cfg.random_state)
                st.pca_after = _pca_frame(meta, s2, e2)
            elif after_cols.all():
                st.pca_after = st.pca_before
            if cfg.gwas_pcs and cfg.gwas_test == "logistic":  # leakage-safe: training rows only
                st.pcs_train, _ = sample_pca(Gp[st.split.train_idx], n_components=cfg.gwas_pcs,
                                             random_state=cfg.random_state)
        except InputDataError as exc:
            st.notes.append(f"Sample PCA skipped: {exc}")
        del Gp
    st.timer.lap("sample PCA")


def _association_filter(st: _State, covariates) -> None:
    """Step 5: GWAS on training samples; keep SNPs with p below the threshold."""
    f, cfg, stats = st.funnel, st.config, st.stats
    for col in ("gwas_stat", "gwas_p", "gwas_or"):
        stats[col] = np.nan
    if cfg.gwas is None and not cfg.gwas_report:
        st.timer.lap("GWAS")
        return
    st.report(0.6, "GWAS on training samples")
    idx = np.flatnonzero(f.variant_mask)
    if cfg.gwas_test == "allelic":
        case = f.counts.group_sum(f.select(status=1, labelled=True))
        ctrl = f.counts.group_sum(f.select(status=0, labelled=True))
        res = allelic_test(case[idx], ctrl[idx])
        stat, pval, odds = (res[c].to_numpy() for c in ("CHISQ", "P", "OR"))
        flag = f"--assoc p < {cfg.gwas!r}"
        st.lambda_gc = genomic_control_lambda(chisq=stat)
    else:
        rows = st.kept[st.split.train_idx]
        use, C, st.covariate_dropped = _covariates(
            cfg, covariates if covariates is not None else st.samples, rows, st.pcs_train,
            st.notes, ids=st.samples)
        rows = rows[use]
        ytr = st.yv[rows]
        stat, pval, odds = (np.full(idx.size, np.nan) for _ in range(3))
        block = max(1, (64 << 20) // max(1, 4 * rows.size))
        for b0 in range(0, idx.size, block):
            vb = idx[b0:b0 + block]
            r = logistic_association(st.read(rows, vb), ytr, covariates=C)
            stat[b0:b0 + vb.size] = r["STAT"].to_numpy()
            pval[b0:b0 + vb.size] = r["P"].to_numpy()
            odds[b0:b0 + vb.size] = r["OR"].to_numpy()
            st.report(0.6 + 0.25 * min(1.0, (b0 + vb.size) / idx.size),
                      f"Logistic GWAS: {b0 + vb.size:,} of {idx.size:,} variants")
        flag = f"--logistic p < {cfg.gwas!r}"
        st.lambda_gc = genomic_control_lambda(chisq=stat * stat)
    stats.loc[idx, "gwas_stat"] = stat
    stats.loc[idx, "gwas_p"] = pval
    stats.loc[idx, "gwas_or"] = odds
    if cfg.gwas is None:  # reported for the plots only; the filter is chosen at training
        st.timer.lap("GWAS")
        return
    remove = np.zeros(len(stats), dtype=bool)
    remove[idx[~(pval < cfg.gwas)]] = True  # NaN p (untestable) is removed too
    if idx.size and remove[idx].all():
        best = float(np.nanmin(pval)) if np.isfinite(pval).any() else float("nan")
        raise ConfigError(
            f"Association filter ({flag}): none of the {idx.size:,} variants tested on the "
            f"{len(st.split.train_idx):,} training samples has p below {cfg.gwas:g} (the "
            f"smallest p is {best:.4g}). Raise the threshold (e.g. 0.05) or switch the "
            "association filter off."
        )
    f._variant_step("GWAS (training samples)", flag, remove, stats["gwas_p"].to_numpy(),
                    "association p-value", 1.0)
    st.timer.lap("GWAS")


def _finish(st: _State) -> QCWorkflowResult:
    """Step 6: read the dosages of what is kept; assemble the result."""
    f, stats = st.funnel, st.stats
    st.report(0.9, "Reading the kept genotypes")
    final_v = np.flatnonzero(f.variant_mask)
    G = np.ascontiguousarray(st.read(st.kept, final_v), dtype=np.float32)
    st.timer.lap("read kept genotypes")
    stats["removed_by"] = f.stats["removed_by"].to_numpy()
    qc_result = QCResult(f.sample_mask.copy(), f.variant_mask.copy(), list(f.steps), st.config.qc,
                         f.sample_missing_rate, f.variant_missing_rate, f.variant_maf,
                         stats, f.strata_labels if st.config.stratify else None)
    sset = np.full(st.n, "removed", dtype=object)
    sset[st.train_sel] = "training"
    sset[st.test_sel] = "test"
    sample_stats = pd.DataFrame({
        "FID": st.samples["FID"].to_numpy(), "IID": st.samples["IID"].to_numpy(),
        "batch": st.blabels if st.blabels is not None else "",
        "phenotype": st.yv.astype(np.int8),
        "missing_rate": f.sample_missing_rate if f.sample_missing_rate is not None else np.nan,
        "set": sset,
    })
    qc_cohort = None
    if st.cohort is not None:
        qc_cohort = st.cohort.take(st.kept).take_variants(final_v)
    st.report(1.0, "Done")
    for row in qc_result.summary().itertuples(index=False):
        _log.info("QC %s%s: %s removed, %s samples x %s variants left", row.step,
                  f" ({row.plink_flag})" if getattr(row, "plink_flag", "") else "",
                  getattr(row, "removed", "?"), getattr(row, "n_samples", "?"),
                  getattr(row, "n_variants", "?"))
    _log.info("QC: balanced test split of %d samples (seed %d), %d training samples; %s",
              len(st.split.test_idx), st.config.random_state, len(st.split.train_idx),
              "; ".join(st.notes) or "no notes")
    return QCWorkflowResult(
        qc=qc_result, split=st.split, G=G,
        samples=st.samples.iloc[st.kept].reset_index(drop=True),
        variants=st.variants.iloc[final_v].reset_index(drop=True),
        y=st.y_kept, sample_stats=sample_stats, variant_stats=stats,
        pca_before=st.pca_before, pca_after=st.pca_after, lambda_gc=st.lambda_gc,
        notes=st.notes, seconds=st.timer.seconds, config=st.config, cohort=qc_cohort,
        covariate_dropped=(st.covariate_dropped if st.covariate_dropped is not None
                           else _no_dropped()),
        gwas_pc_scores=st.pcs_train,
    )


def run_qc_workflow(
    data,
    y,
    *,
    batch=None,
    config: QCWorkflowConfig | None = None,
    covariates: pd.DataFrame | None = None,
    samples: pd.DataFrame | None = None,
    variants: pd.DataFrame | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> QCWorkflowResult:
    """Run the QC page's flow headless: filters, split, batch filter, GWAS, dense dosages.

    Parameters
    ----------
    data : genoapp.cohort.Cohort or numpy.ndarray
        The cohort selection (genotypes read from its .bed's packed bytes), or a dense
        (n_samples, n_variants) A1 dosage matrix (NaN or -127 missing) with ``samples`` and
        ``variants`` tables.
    y : array-like of shape (n_samples,)
        0/1 phenotype of the selected samples (no missing values).
    batch : array-like of shape (n_samples,), optional
        Batch/platform label per sample (batch filter, stratification, plots).
    config : QCWorkflowConfig, optional
    covariates : pandas.DataFrame, optional
        Covariate columns per sample (rows as the samples) for the logistic GWAS; default the
        cohort's sample table. Numeric or categorical (one-hot, see
        ``QCWorkflowConfig.gwas_covariates``); training samples missing one are left out and
        listed in ``covariate_dropped``.
    samples, variants : pandas.DataFrame, optional
        Required with a dense matrix; default the cohort's tables.
    progress : callable(fraction, message), optional
        Called as the steps advance (for the UI).

    Returns
    -------
    QCWorkflowResult
        With ``cohort``: the QC'd cohort (kept samples and variants) when ``data`` is a cohort.

    Raises
    ------
    InputDataError
        Bad phenotype, tables or covariates (messages name the column or file), or too few
        samples for the balanced test split.
    ConfigError
        Bad options, or a filter that removes everything.
    """
    config = config or QCWorkflowConfig()
    if not isinstance(config, QCWorkflowConfig):
        raise ConfigError("run_qc_workflow: config must be a genoapp.workflows.QCWorkflowConfig.")
    st = _start(data, y, batch, config, samples, variants, progress)
    _sample_filters(st)
    _draw_split(st)
    _variant_filters(st)
    _batch_filter(st)
    _sample_pcas(st)
    _association_filter(st, covariates)
    return _finish(st)


def _read(source, cohort, data, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Dosages (float32, NaN missing) of selected-sample rows x variant columns."""
    if cohort is not None:
        file_rows = cohort.sample_index[rows]
        return cohort.genotypes.read(file_rows, cols, dtype="float32", order="C")
    G = source.G[np.ix_(rows, cols)]
    if G.dtype.kind == "i":
        G = np.where(G == -127, np.nan, G)
    return G.astype(np.float32, copy=False)


def _sample_meta(samples, kept, blabels, y_kept, split) -> pd.DataFrame:
    sset = np.full(len(kept), "training", dtype=object)
    sset[split.test_idx] = "test"
    return pd.DataFrame({
        "FID": samples["FID"].to_numpy()[kept], "IID": samples["IID"].to_numpy()[kept],
        "batch": blabels[kept] if blabels is not None else "",
        "phenotype": np.where(y_kept == 1, "case", "control"), "set": sset,
    })


def _pca_frame(meta: pd.DataFrame, scores: np.ndarray, evr: np.ndarray) -> pd.DataFrame:
    df = meta.copy()
    for k in range(scores.shape[1]):
        df[f"PC{k + 1}"] = scores[:, k]
    df.attrs["explained_variance_ratio"] = [float(v) for v in evr]
    return df


def _no_dropped() -> pd.DataFrame:
    return pd.DataFrame({"FID": pd.Series(dtype=object), "IID": pd.Series(dtype=object),
                         "missing_covariates": pd.Series(dtype=object)})


def _covariates(config: QCWorkflowConfig, table: pd.DataFrame, rows: np.ndarray, pcs,
                notes: list, *, ids: pd.DataFrame
                ) -> tuple[np.ndarray, np.ndarray | None, pd.DataFrame]:
    """Covariate matrix of the training rows; rows with a missing covariate are left out.

    ``table`` columns ``config.gwas_covariates`` go through
    :func:`genoapp.features.covariate_design` on the training rows ``rows`` (levels and
    reference levels fitted on them); the sample PCs ``pcs`` (training rows x ``gwas_pcs``,
    a PCA of the training samples' genotypes only, see ``QCWorkflowConfig.gwas_pcs``) follow. Returns the mask of training rows used, their covariate
    matrix (None without covariates) and the rows left out (FID, IID from ``ids``, the
    covariates they lack).
    """
    design = covariate_design(table, config.gwas_covariates, rows=rows)
    cols = [design.X]
    if config.gwas_pcs:
        if pcs is None:
            raise ConfigError("GWAS with PCs needs the sample PCA (pca_components > 0).")
        cols.append(np.asarray(pcs, dtype=np.float64)[:, :config.gwas_pcs])
    C = np.column_stack(cols)
    use = design.complete & np.isfinite(C).all(axis=1)
    dropped = _no_dropped()
    if (~use).any():
        lost = np.flatnonzero(~use)
        dropped = pd.DataFrame({
            "FID": ids["FID"].to_numpy()[rows[lost]], "IID": ids["IID"].to_numpy()[rows[lost]],
            "missing_covariates": design.missing_names().to_numpy()[lost],
        })
    # the design's last note counts the incomplete rows: said below, with where the IDs are
    for note in design.notes[:-1] if design.n_dropped else design.notes:
        notes.append(f"Logistic GWAS covariates (training samples): {note}")
    if (~use).any():
        per = ", ".join(f"{c}: {int(design.missing[c].sum())}" for c in design.missing.columns
                        if design.missing[c].any())
        notes.append(f"Logistic GWAS: {int((~use).sum())} training samples without a covariate "
                     f"value{f' ({per})' if per else ''} were left out (as PLINK does); their "
                     "IDs are listed with the removed IDs (QCWorkflowResult.covariate_dropped).")
    if C.shape[1] == 0:
        return use, None, dropped
    if use.sum() <= C.shape[1] + 2:
        raise InputDataError(f"Logistic GWAS: too few training samples with all covariates "
                             f"({int(use.sum())} for {C.shape[1]} covariate columns).")
    return use, C[use], dropped


def filter_gene_report(variants_before: pd.DataFrame, variants_after: pd.DataFrame, genes,
                       *, truth: pd.DataFrame | None = None) -> dict:
    """What an association filter did to genes: how many genes still have a SNP, and (with a
    known truth, e.g. the demo's planted genes) how many planted genes it kept.

    Parameters
    ----------
    variants_before, variants_after : pandas.DataFrame
        Variant tables (``chrom``, ``id``, ``pos``) before and after the filter.
    genes : pandas.DataFrame
        Gene table (:func:`genoapp.io.read_gene_table`) on the variants' build.
    truth : pandas.DataFrame, optional
        Planted genes (``gene``, ``role``: "additive" or "interaction"), as
        :func:`genoapp.demo.load_demo_truth`.

    Returns
    -------
    dict
        ``genes_before``, ``genes_after``, ``genes_removed``; with a truth, for each role
        ``<role>_planted``, ``<role>_kept``; ``text``: one readable sentence.
    """
    from genoapp.features.annotation import annotate_snps

    def genes_of(v):
        if len(v) == 0:
            return set()
        ann = annotate_snps(v.reset_index(drop=True), genes)
        inside = ann[ann["relation"] == "inside"] if "relation" in ann else ann
        return set(inside["gene"].astype(str))

    before, after = genes_of(variants_before), genes_of(variants_after)
    out = {"genes_before": len(before), "genes_after": len(after & before),
           "genes_removed": len(before - after)}
    text = (f"The association filter kept SNPs inside {out['genes_after']:,} of the "
            f"{out['genes_before']:,} genes that had one ({out['genes_removed']:,} genes removed).")
    if truth is not None and len(truth):
        parts = []
        for role in ("additive", "interaction"):
            planted = set(truth.loc[truth["role"] == role, "gene"].astype(str))
            if planted:
                out[f"{role}_planted"] = len(planted & before)
                out[f"{role}_kept"] = len(planted & after)
                parts.append(f"{out[f'{role}_kept']} of {out[f'{role}_planted']} planted "
                             f"{role} genes")
        text += " Kept: " + ", ".join(parts) + "."
    out["text"] = text
    return out
