"""The QC funnel in PLINK 1.9's order, on a dense matrix or straight on a .bed file.

Order and semantics (PLINK v1.90b6.26 ``plink.c``/``plink_filter.c``, confirmed against
``plink1.9`` on the rice 44K and 1000 Genomes/HapMap3 sets in the tests):

0. ``--autosome`` (``autosomes_only``): non-autosomal variants are dropped when the data are
   loaded, before every other filter.
1. ``--mind``: missing rate of each sample over all (remaining) variants; removed when
   ``n_missing > int(mind * m * (1 + 2**-44))``.
2. Variant statistics on the samples left, computed once: ``--geno`` (removed when
   ``n_called * (1 / n) < (1 - geno) * (1 - 2**-44)``), then ``--hwe`` (exact test, mid-p with
   ``midp``; on controls when a case/control phenotype is given, on everyone with
   ``include-nonctrl`` or without phenotype; removed when ``p < hwe * (1 + 2**-44)``), then
   ``--maf`` (removed when ``MAF < maf * (1 - 2**-44)``, a variant without calls has MAF 0.5).
   Because the statistics are computed before any of the three removes anything, their order
   only decides which step a variant is counted in (PLINK's log order: geno, hwe, maf).
3. ``test_missing``: Fisher's exact test (mid-p by default) of missing vs called calls in
   cases vs controls, after ``--maf``. PLINK 1.9 only reports it (``--test-missing midp``);
   protocols then ``--exclude`` the variants below a threshold, which is what this step does.

Stratification (DiseaseCapsule protocol: QC per genotyping platform/batch): with ``strata``, the
variant statistics of steps 2-3 are computed within each stratum, and a variant is removed when
it fails in any stratum. ``--mind`` is per sample and needs no strata.

Label-aware statistics (HWE on controls, differential missingness) use the samples of
``label_mask`` only (default: every sample, as PLINK); the app passes the training samples so
that test labels never influence which variants are kept.

On a Dask cluster (``with use_executor("local:2")`` or a scheduler address; see
:mod:`genoapp.qc.distributed`), every pass of :func:`run_qc_bed` (and of the workflow's funnel)
over the .bed runs per variant block on the workers, each reading its block by path: the
per-variant counts are concatenated and the per-sample missing counts of ``--mind`` summed over
the blocks on the client, so the kept samples, kept variants and statistics are identical.

Where PLINK differs (not the case in the shipped data, all founders and autosomal): PLINK uses
founders only for frequencies and HWE, and treats X/Y/MT as haploid; genoapp uses every sample
and treats all chromosomes as diploid (use ``autosomes_only`` for sex chromosomes).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.qc.basic import (
    SAMPLE_COLUMNS,
    SMALL_EPSILON,
    VARIANT_COLUMNS,
    QCConfig,
    QCResult,
    QCStep,
    _all_removed,
    _as_genotypes,
    _check_table,
    _maf_from_counts,
    _removed_samples,
    _removed_variants,
)
from genoapp.qc.counts import HET, HOM_A1, HOM_A2, MISSING, GenotypeCounts, scan_bed, scan_dense
from genoapp.qc.exact import fisher_exact_2x2, hwe_exact

__all__ = ["run_qc", "run_qc_bed", "autosome_mask", "NON_AUTOSOMES"]

#: Chromosome codes treated as non-autosomal by ``autosomes_only`` (upper case, "chr" removed).
NON_AUTOSOMES = frozenset({"X", "Y", "XY", "MT", "M", "0", "23", "24", "25", "26"})


def autosome_mask(chrom) -> np.ndarray:
    """True for variants on an autosome (PLINK ``--autosome``, human chromosome codes).

    Parameters
    ----------
    chrom : array-like of str or int
        Chromosome codes as in a .bim (``1``-``22``, ``X``, ``chrX``, ``23``...).

    Returns
    -------
    numpy.ndarray of bool
        False for X, Y, XY (pseudo-autosomal), MT/M, 0 (unplaced) and their PLINK numbers
        23-26, with or without a ``chr`` prefix, in any case.
    """
    c = pd.Series(np.asarray(chrom)).astype(str).str.strip().str.upper()
    c = c.str.removeprefix("CHR")
    return ~c.isin(NON_AUTOSOMES).to_numpy()


def _codes(values, n: int, what: str) -> tuple[np.ndarray, list[str]]:
    """Integer codes (0..k-1) and labels of a per-sample label array (None -> one level)."""
    if values is None:
        return np.zeros(n, dtype=np.int64), ["all"]
    arr = pd.Series(np.asarray(values, dtype=object))
    if len(arr) != n:
        raise InputDataError(f"{what}: {len(arr)} labels for {n} samples; give one per sample.")
    labels = arr.map(lambda v: "(missing)" if v is None or (isinstance(v, float) and np.isnan(v))
                     else (str(int(v)) if isinstance(v, float) and float(v).is_integer()
                           else str(v)))
    codes, uniques = pd.factorize(labels, sort=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


def _status(y, n: int) -> np.ndarray | None:
    """0 control, 1 case, 2 unknown; None when there is no case/control phenotype."""
    if y is None:
        return None
    arr = np.asarray(y, dtype=np.float64)
    if arr.shape != (n,):
        raise InputDataError(f"y: shape {arr.shape}; expected ({n},), one 0/1 value per sample "
                             "(NaN = unknown).")
    known = ~np.isnan(arr)
    if not np.isin(arr[known], (0.0, 1.0)).all():
        raise InputDataError("y: a case/control phenotype must be 0 (control), 1 (case) or NaN; "
                             f"found values {sorted(set(arr[known].tolist()))[:5]}.")
    if not known.any():
        return None
    return np.where(known, arr, 2).astype(np.int64)


class _DenseSource:
    def __init__(self, G):
        self.G = G
        self.n_samples, self.n_variants = G.shape

    def scan(self, groups, missing_samples, variant_mask) -> GenotypeCounts:
        return scan_dense(self.G, groups=groups, missing_samples=missing_samples,
                          variant_mask=variant_mask)


class _BedSource:
    def __init__(self, bed_path, n_file_samples: int, n_variants: int, sample_idx: np.ndarray):
        self.bed_path = bed_path
        self.n_file_samples = n_file_samples
        self.n_variants = n_variants
        self.sample_idx = sample_idx
        self.n_samples = len(sample_idx)

    def scan(self, groups, missing_samples, variant_mask) -> GenotypeCounts:
        g = np.full(self.n_file_samples, -1, dtype=np.int64)
        if groups is not None:
            g[self.sample_idx] = groups
        ms = None
        if missing_samples is not None:
            ms = np.zeros(self.n_file_samples, dtype=bool)
            ms[self.sample_idx] = missing_samples
        res = scan_bed(self.bed_path, self.n_file_samples, self.n_variants, groups=g,
                       missing_samples=ms, variant_mask=variant_mask)
        if res.sample_missing is not None:
            res.sample_missing = res.sample_missing[self.sample_idx]
        return res


class Funnel:
    """Stateful QC funnel over one data source (used by :func:`run_qc`, :func:`run_qc_bed` and
    the app's workflow, which draws its train/test split between the two phases).

    Parameters
    ----------
    source : object with ``n_samples``, ``n_variants`` and ``scan(groups, missing_samples,
        variant_mask) -> GenotypeCounts``
    samples, variants : pandas.DataFrame
        Tables of the source's samples (FID, IID) and variants (chrom, id, pos).
    config : QCConfig
        The QC settings (keyword-only, like every option after the data).
    y : array-like, optional
        Case/control phenotype per sample (1 case, 0 control, NaN unknown).
    strata : array-like, optional
        Stratum (platform/batch) label per sample; variant filters apply within each.
    batch : array-like, optional
        A second label per sample kept in the count groups (for the batch-effect filter).
    """

    def __init__(self, source, samples, variants, *, config: QCConfig, y=None, strata=None,
                 batch=None):
        n, m = source.n_samples, source.n_variants
        if n == 0 or m == 0:
            raise InputDataError(
                f"Genotypes: found {n} samples x {m} variants; QC needs at least one sample and "
                "one variant. Check the .bed/.bim/.fam files and any earlier subsetting."
            )
        _check_table(samples, SAMPLE_COLUMNS, n, "samples")
        _check_table(variants, VARIANT_COLUMNS, m, "variants")
        self.source = source
        self.samples = samples
        self.variants = variants
        self.config = config
        self.status = _status(y, n)
        self.stratum, self.strata_labels = _codes(strata, n, "strata")
        self.batch, self.batch_labels = _codes(batch, n, "batch")
        self.stratified = strata is not None
        self.sample_mask = np.ones(n, dtype=bool)
        self.variant_mask = np.ones(m, dtype=bool)
        self.steps: list[QCStep] = []
        self.sample_missing_rate = None
        self.variant_missing_rate = None
        self.variant_maf = None
        self.stats = pd.DataFrame({c: variants[c].to_numpy() for c in VARIANT_COLUMNS})
        self.stats["removed_by"] = ""
        self.counts: GenotypeCounts | None = None
        self.groups: pd.DataFrame | None = None
        self.label_mask = np.ones(n, dtype=bool)
        self.labelled_sel = True
        self._pass1: tuple[GenotypeCounts, pd.DataFrame] | None = None
        self._sample_phase_done = False

    # ------------------------------------------------------------------ groups
    def _group_codes(self, include: np.ndarray, labelled: np.ndarray):
        """Group index per sample (-1 outside ``include``) and the table of groups."""
        status = self.status if self.status is not None else np.full(len(include), 2)
        key = ((self.stratum * (len(self.batch_labels)) + self.batch) * 3 + status) * 2 + labelled
        key = np.where(include, key, -1)
        uniq, inv = np.unique(key[include], return_inverse=True)
        groups = np.full(len(include), -1, dtype=np.int64)
        groups[include] = inv
        lab = uniq % 2
        rest = uniq // 2
        st = rest % 3
        rest //= 3
        table = pd.DataFrame({
            "stratum": rest // len(self.batch_labels),
            "batch": rest % len(self.batch_labels),
            "status": st,
            "labelled": lab.astype(bool),
            "n": np.bincount(inv, minlength=len(uniq)),
        })
        return groups, table

    def select(self, *, stratum=None, status=None, labelled=None, batch=None) -> np.ndarray:
        """Indices of the count groups matching the conditions (None = any)."""
        t = self.groups
        keep = np.ones(len(t), dtype=bool)
        for col, val in (("stratum", stratum), ("status", status), ("labelled", labelled),
                         ("batch", batch)):
            if val is not None:
                keep &= np.isin(t[col].to_numpy(), np.atleast_1d(val))
        return np.flatnonzero(keep)

    # ------------------------------------------------------------------ steps
    def _variant_step(self, name: str, flag: str, remove: np.ndarray, value: np.ndarray,
                      what: str, best) -> None:
        n_before = int(self.variant_mask.sum())
        remove = remove & self.variant_mask
        if n_before and int(remove.sum()) == n_before:
            raise _all_removed("variants", n_before, flag, float(best), what)
        self.variant_mask &= ~remove
        self.stats.loc[remove, "removed_by"] = flag
        self.steps.append(QCStep(name=name, plink_flag=flag, axis="variants", n_before=n_before,
                                 n_removed=int(remove.sum()), n_after=int(self.variant_mask.sum()),
                                 removed=_removed_variants(self.variants, remove, value)))

    def sample_phase(self, *, count: bool = True) -> None:
        """``--autosome`` and ``--mind``; with ``count``, also count genotypes of all samples."""
        cfg = self.config
        n, m = self.source.n_samples, self.source.n_variants
        if cfg.autosomes_only:
            auto = autosome_mask(self.variants["chrom"])
            if not auto.any():
                raise _all_removed("variants", m, "--autosome", 0.0, "autosome count")
            self._variant_step("Autosomes only", "--autosome", ~auto,
                               np.full(m, np.nan), "autosome count", 0)
        if cfg.mind is None and not count:
            self._sample_phase_done = True
            return
        groups = table = None
        if count:
            groups, table = self._group_codes(np.ones(n, dtype=bool), np.ones(n, dtype=np.int64))
        res = self.source.scan(groups if count else np.full(n, -1),
                               np.ones(n, dtype=bool) if cfg.mind is not None else None,
                               None if self.variant_mask.all() else self.variant_mask)
        if count:
            self._pass1 = (res, table)
        if cfg.mind is not None:
            flag = f"--mind {cfg.mind!r}"
            m_used = res.n_variants_counted
            s_rate = res.sample_missing / m_used
            limit = int(cfg.mind * m_used * (1.0 + SMALL_EPSILON))
            remove = res.sample_missing > limit
            if remove.all():
                raise _all_removed("samples", n, flag, float(s_rate.min()), "missing rate")
            self.sample_mask &= ~remove
            self.sample_missing_rate = s_rate
            self.steps.append(QCStep(name="Sample call rate", plink_flag=flag, axis="samples",
                                     n_before=n, n_removed=int(remove.sum()),
                                     n_after=int(self.sample_mask.sum()),
                                     removed=_removed_samples(self.samples, remove, s_rate)))
        self._sample_phase_done = True

    def count(self, label_mask=None) -> None:
        """Genotype counts per group over the kept samples (reusing the first pass if it can)."""
        n = self.source.n_samples
        if label_mask is None:
            label_mask = np.ones(n, dtype=bool)
        label_mask = np.asarray(label_mask, dtype=bool) & self.sample_mask
        self.label_mask = label_mask
        if (self._pass1 is not None and self.sample_mask.all() and label_mask.all()):
            self.counts, self.groups = self._pass1
            return
        groups, table = self._group_codes(self.sample_mask, label_mask.astype(np.int64))
        self.counts = self.source.scan(groups, None,
                                       None if self.variant_mask.all() else self.variant_mask)
        self.groups = table

    def has_variant_filters(self) -> bool:
        """Whether any of geno, hwe, maf, test_missing is set."""
        cfg = self.config
        return (cfg.geno is not None or cfg.maf is not None or cfg.hwe is not None
                or cfg.test_missing is not None)

    def variant_phase(self, label_mask=None, *, all_stats: bool = False,
                      use_all_labels: bool = False) -> None:
        """``--geno``, ``--hwe``, ``--maf`` and the differential-missingness filter.

        Parameters
        ----------
        label_mask : array of bool, optional
            Samples whose phenotype the label-aware steps use (default all); also recorded in
            the count groups (``labelled``) for later steps.
        all_stats : bool
            Compute the counts and HWE p-values even when no filter needs them (for plots).
        use_all_labels : bool
            Label-aware steps use every kept sample even though ``label_mask`` is given (the
            published, not leakage-safe, protocol).
        """
        self.labelled_sel = None if use_all_labels else True
        if not self._sample_phase_done:
            self.sample_phase(count=label_mask is None)
        cfg = self.config
        if not self.has_variant_filters() and not all_stats:
            return
        if cfg.test_missing is not None and self.status is None:
            raise ConfigError("QCConfig.test_missing: the differential-missingness test needs a "
                              "case/control phenotype (y); none was given.")
        self.count(label_mask)
        counted = self.variant_mask.copy()
        all_g = self.select()
        tot = self.counts.group_sum(all_g)
        n_kept = int(self.groups["n"].sum())
        n_called = n_kept - tot[:, MISSING]
        self.variant_missing_rate = np.where(counted, tot[:, MISSING] / n_kept, np.nan)
        a1 = self.counts.a1_count(all_g)
        self.variant_maf = np.where(counted, _maf_from_counts(a1, n_called), np.nan)
        self.stats["missing_rate"] = self.variant_missing_rate
        self.stats["maf"] = self.variant_maf
        strata = np.unique(self.groups["stratum"])
        per = {}  # statistic -> (n_variants, n_strata) values

        def stratum_values(fn):
            return np.column_stack([fn(s) for s in strata])

        if cfg.geno is not None:
            def geno_stats(s):
                g = self.select(stratum=s)
                c = self.counts.group_sum(g)
                n_s = int(self.groups["n"].to_numpy()[g].sum())
                return (n_s - c[:, MISSING]) * (1.0 / n_s)
            call = stratum_values(geno_stats)
            per["geno"] = call
            self.stats["missing_rate"] = np.where(counted, 1.0 - call.min(axis=1), np.nan)
        hwe_groups_status = None if (cfg.hwe_all or self.status is None) else 0
        if cfg.hwe is not None or all_stats:
            def hwe_stats(s):
                if hwe_groups_status is None:
                    g = self.select(stratum=s)
                else:
                    g = self.select(stratum=s, status=0, labelled=self.labelled_sel)
                c = self.counts.group_sum(g)
                return hwe_exact(c[:, HET], c[:, HOM_A1], c[:, HOM_A2], midp=cfg.hwe_midp)
            hwe_p = stratum_values(hwe_stats)
            per["hwe"] = hwe_p
            self.stats["hwe_p"] = np.where(counted, hwe_p.min(axis=1), np.nan)

        def maf_stats(s):
            g = self.select(stratum=s)
            c = self.counts.group_sum(g)
            mf = _maf_from_counts(self.counts.a1_count(g), c[:, HOM_A1] + c[:, HET] + c[:, HOM_A2])
            return np.where(np.isnan(mf), 0.5, mf)
        if cfg.maf is not None:
            mafs = stratum_values(maf_stats)
            per["maf"] = mafs
            self.stats["maf"] = np.where(np.isnan(self.variant_maf), np.nan, mafs.min(axis=1))

        if cfg.geno is not None:
            flag = f"--geno {cfg.geno!r}"
            remove = (per["geno"] < (1.0 - cfg.geno) * (1.0 - SMALL_EPSILON)).any(axis=1)
            rate = self.stats["missing_rate"].to_numpy()
            self._variant_step("Variant call rate", flag, remove & counted, rate, "missing rate",
                               np.nanmin(np.where(self.variant_mask, rate, np.nan)))
        if cfg.hwe is not None:
            flag = cfg.hwe_flag()
            thr = cfg.hwe * (1.0 + SMALL_EPSILON)
            remove = (per["hwe"] < thr).any(axis=1)
            pv = self.stats["hwe_p"].to_numpy()
            self._variant_step("Hardy-Weinberg", flag, remove & counted, pv, "HWE p-value",
                               np.nanmax(np.where(self.variant_mask, pv, np.nan)))
        if cfg.maf is not None:
            flag = f"--maf {cfg.maf!r}"
            remove = (per["maf"] < cfg.maf * (1.0 - SMALL_EPSILON)).any(axis=1)
            mv = per["maf"].min(axis=1)
            self._variant_step("Minor allele frequency", flag, remove & counted,
                               self.stats["maf"].to_numpy(), "MAF",
                               np.nanmax(np.where(self.variant_mask, mv, np.nan)))
        if cfg.test_missing is not None:
            def tm_stats(s):
                case = self.counts.group_sum(self.select(stratum=s, status=1,
                                                         labelled=self.labelled_sel))
                ctrl = self.counts.group_sum(self.select(stratum=s, status=0,
                                                         labelled=self.labelled_sel))
                n_case = case.sum(axis=1)
                n_ctrl = ctrl.sum(axis=1)
                p = fisher_exact_2x2(case[:, MISSING], n_case - case[:, MISSING],
                                     ctrl[:, MISSING], n_ctrl - ctrl[:, MISSING],
                                     midp=cfg.test_missing_midp)
                return np.where((n_case > 0) & (n_ctrl > 0), p, np.nan)
            tm = stratum_values(tm_stats)
            with np.errstate(invalid="ignore"):
                worst = np.where(np.isnan(tm).all(axis=1), np.nan,
                                 np.nanmin(np.where(np.isnan(tm), np.inf, tm), axis=1))
            self.stats["test_missing_p"] = np.where(counted, worst, np.nan)
            flag = f"--test-missing{' midp' if cfg.test_missing_midp else ''} (p < {cfg.test_missing!r})"
            remove = (tm < cfg.test_missing).any(axis=1)
            self._variant_step("Differential missingness", flag, remove & counted, worst,
                               "test-missing p-value",
                               np.nanmax(np.where(self.variant_mask, worst, np.nan)))

    def result(self) -> QCResult:
        """The funnel as a :class:`QCResult`."""
        return QCResult(self.sample_mask.copy(), self.variant_mask.copy(), list(self.steps),
                        self.config, self.sample_missing_rate, self.variant_missing_rate,
                        self.variant_maf, self.stats.copy(),
                        self.strata_labels if self.stratified else None)


def _check_config(config) -> QCConfig:
    if config is None:
        return QCConfig()
    if not isinstance(config, QCConfig):
        raise ConfigError(
            f"run_qc config: found {type(config).__name__}; expected a genoapp.qc.QCConfig "
            "(e.g. QCConfig(mind=0.1, geno=0.1, maf=0.01))."
        )
    return config


def run_qc(G, samples: pd.DataFrame, variants: pd.DataFrame, *, config: QCConfig | None = None,
           y=None, strata=None, label_mask=None) -> QCResult:
    """Apply the QC filters as PLINK 1.9 does (see the module docstring) and record each step.

    Parameters
    ----------
    G : array of shape (n_samples, n_variants)
        Dosage of allele A1 (0, 1, 2); float with NaN for missing or integer with -127 for
        missing (bed-reader's ``int8`` read). Not modified.
    samples : pandas.DataFrame
        One row per row of ``G``, with columns ``FID`` and ``IID``.
    variants : pandas.DataFrame
        One row per column of ``G``, with columns ``chrom``, ``id`` and ``pos``.
    config : QCConfig, optional
        Thresholds; ``QCConfig()`` (mind 0.1, geno 0.1, maf 0.01) when omitted.
    y : array-like of shape (n_samples,), optional
        Case/control phenotype (1 case, 0 control, NaN unknown): HWE then uses controls (unless
        ``config.hwe_all``), and ``config.test_missing`` needs it.
    strata : array-like of shape (n_samples,), optional
        Platform/batch label per sample: variant filters are applied within each stratum and a
        variant must pass in all of them.
    label_mask : array of bool, shape (n_samples,), optional
        Samples whose phenotype may be used (HWE on controls, differential missingness);
        default all (PLINK). Pass the training samples for leakage-safe QC.

    Returns
    -------
    QCResult
        Masks of the kept samples and variants, the steps that ran in order with the IDs each
        removed, and the statistics the filters used.

    Raises
    ------
    InputDataError
        ``G`` is not a 2-D genotype array with the coding above, is empty, or the tables lack
        the columns or do not match the shape of ``G``; bad ``y``/``strata``.
    ConfigError
        ``config`` is not a QCConfig, ``test_missing`` without ``y``, or a filter would remove
        every sample or every variant (PLINK 1.9 stops with an error there as well).

    Notes
    -----
    Same result as ``plink1.9 --bfile X <config.plink_flags()> --make-bed`` (PLINK v1.90b6.26)
    for data whose samples are all founders and whose variants are autosomal.
    """
    config = _check_config(config)
    G = _as_genotypes(G)
    f = Funnel(_DenseSource(G), samples, variants, config=config, y=y, strata=strata)
    f.sample_phase(count=label_mask is None and f.has_variant_filters())
    f.variant_phase(label_mask)
    return f.result()


def run_qc_bed(genotypes, *, sample_idx=None, config: QCConfig | None = None, y=None,
               strata=None, label_mask=None) -> QCResult:
    """:func:`run_qc` straight on a PLINK .bed file, from its packed 2-bit bytes.

    One streamed pass over the file when ``--mind`` removes nobody (two otherwise), in
    parallel over variants with bounded memory; no dense genotype matrix is built. See
    ``benchmarks/qc_vs_plink.py`` for its speed next to plink1.9.

    Parameters
    ----------
    genotypes : genoapp.io.PlinkGenotypes, genoapp.cohort.Cohort, str or path-like
        The fileset (a Cohort's selected samples are used when ``sample_idx`` is None).
    sample_idx : array of int, optional
        0-based .fam rows of the samples to QC, ascending (default: all, or the Cohort's).
    config, y, strata, label_mask
        As :func:`run_qc`, per selected sample.

    Returns
    -------
    QCResult
        Masks over the selected samples (in ``sample_idx`` order) and all .bim variants.

    Raises
    ------
    InputDataError, ConfigError
        As :func:`run_qc`; unsorted or out-of-range ``sample_idx``.
    """
    from genoapp.io.plink import PlinkGenotypes, open_plink

    config = _check_config(config)
    cohort_samples = None
    if hasattr(genotypes, "genotypes") and hasattr(genotypes, "sample_index"):
        cohort_samples = genotypes.sample_index
        genotypes = genotypes.genotypes
    geno = genotypes if isinstance(genotypes, PlinkGenotypes) else open_plink(os.fspath(genotypes))
    if sample_idx is None:
        sample_idx = cohort_samples if cohort_samples is not None else np.arange(geno.n_samples)
    idx = np.asarray(sample_idx, dtype=np.int64)
    if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= geno.n_samples
                                       or np.any(np.diff(idx) <= 0))):
        raise InputDataError(f"sample_idx: expected ascending .fam rows in 0..{geno.n_samples - 1} "
                             "without repeats.")
    samples = geno.samples.iloc[idx].reset_index(drop=True)
    source = _BedSource(geno.bed_path, geno.n_samples, geno.n_variants, idx)
    f = Funnel(source, samples, geno.variants, config=config, y=y, strata=strata)
    f.sample_phase(count=label_mask is None and f.has_variant_filters())
    f.variant_phase(label_mask)
    return f.result()
