"""Sample call rate, variant call rate and MAF with PLINK 1.9 semantics: the rate functions, the
filter settings (:class:`QCConfig`) and the funnel's result type (:class:`QCResult`).

The funnel itself is :func:`genoapp.qc.run_qc` (:mod:`genoapp.qc.funnel`). Its three basic filters
reproduce ``plink1.9 --bfile X --mind M --geno G --maf F --make-bed``
(PLINK v1.90b6.26; the same in ``--write-snplist`` and ``--keep``/``--extract`` runs), checked
against ``plink1.9`` on the rice 44K and 1000 Genomes/HapMap3 data in ``tests/test_qc.py``.

Semantics (read from ``mind_filter``, ``calc_freqs_and_hwe`` and ``enforce_maf_threshold`` in
PLINK 1.9's ``1.9/plink_filter.c``, github.com/chrchang/plink-ng, and confirmed by experiment,
including thresholds exactly equal to observed rates):

1. ``--mind`` comes first and uses **all** variants (also those that ``--geno``/``--maf`` remove
   later). With ``m`` the number of variants, a sample is removed when its count of missing
   calls is greater than ``int(mind * m * (1 + 2**-44))``: a missing rate exactly equal to
   ``mind`` is kept.
2. ``--geno`` is computed on the samples left after ``--mind``. With ``n`` the number of those
   samples, a variant is removed when ``n_called * (1 / n) < (1 - geno) * (1 - 2**-44)``: a
   missing rate exactly equal to ``geno`` is kept.
3. ``--maf`` uses the allele frequencies of the same remaining samples (computed once, before
   ``--geno`` removes anything, so the order of steps 2 and 3 only changes which step a
   variant is counted in; PLINK counts it under ``--geno``). A variant is removed when
   ``MAF < maf * (1 - 2**-44)``: a MAF exactly equal to ``maf`` is kept. A variant with no
   called genotype gets PLINK's frequency 0.5, so ``--maf`` keeps it (``--geno`` removes it).

Differences from PLINK 1.9 that do not matter for the shipped data (every sample a founder, no
sex chromosomes), documented so that they are not a surprise:

* PLINK computes allele frequencies (hence ``--maf``) on **founders** only unless
  ``--nonfounders`` is given; genoapp uses all remaining samples (as ``--nonfounders``).
* Chromosomes X, Y and MT are treated as autosomes here. PLINK counts male X genotypes and all
  MT genotypes as haploid in the frequencies, and uses males only for Y missingness.
* Dosages that are not whole numbers (imputed data) are used as they are; PLINK works on hard
  calls.

Genotype coding
---------------
``G`` is the (n_samples, n_variants) dosage of the counted allele A1 (bim column 5, PLINK's
A1, as bed-reader reads it with ``count_A1=True``): 0, 1 or 2. Missing calls are ``NaN`` in a
floating-point array or ``-127`` in an integer array (bed-reader's ``int8`` read). The
functions work through ``G`` in blocks of columns, so the temporary memory stays bounded (about
16 million genotypes per block) whatever the size of ``G``; ``G`` itself is never modified or
copied as a whole.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Iterator

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError

__all__ = [
    "SMALL_EPSILON",
    "MISSING_INT",
    "QCConfig",
    "QCStep",
    "QCResult",
    "sample_missing_rate",
    "variant_missing_rate",
    "allele_frequency",
    "minor_allele_frequency",
]

#: PLINK 1.9's ``SMALL_EPSILON`` (2**-44), the relative tolerance of its filter thresholds.
SMALL_EPSILON = 2.0**-44
#: Missing-call code of integer genotype arrays (bed-reader's ``int8`` read).
MISSING_INT = -127
# Genotypes per column block (int8: 16 MiB; float32: 64 MiB, plus a boolean mask).
_BLOCK_ELEMENTS = 1 << 24

SAMPLE_COLUMNS = ("FID", "IID")
VARIANT_COLUMNS = ("chrom", "id", "pos")


# --------------------------------------------------------------------------------------------
# Low-level counting
# --------------------------------------------------------------------------------------------
def _as_genotypes(G) -> np.ndarray:
    """Check that ``G`` is a 2-D float or integer array; returns it without copying."""
    arr = G if isinstance(G, np.ndarray) else np.asarray(G)
    if arr.ndim != 2:
        raise InputDataError(
            f"Genotype matrix G: found {arr.ndim} dimension(s) with shape {arr.shape}; expected "
            "a 2-D array (n_samples, n_variants) of A1 dosages. Read the .bed file with "
            "genoapp.io or bed_reader.open_bed(path).read()."
        )
    if arr.dtype.kind not in "fi":
        raise InputDataError(
            f"Genotype matrix G: found dtype {arr.dtype}; expected a float array (NaN = missing) "
            f"or an integer array ({MISSING_INT} = missing), e.g. bed_reader's "
            "read(dtype='float32') or read(dtype='int8')."
        )
    return arr


def _column_blocks(n_samples: int, n_variants: int) -> Iterator[slice]:
    width = max(1, _BLOCK_ELEMENTS // max(1, n_samples))
    for start in range(0, n_variants, width):
        yield slice(start, min(start + width, n_variants))


def _missing_mask(block: np.ndarray) -> np.ndarray:
    if block.dtype.kind == "f":
        return np.isnan(block)
    return block == MISSING_INT


def _check_block_values(block: np.ndarray, n_missing: int, where: slice) -> None:
    """Raise InputDataError when a block holds values other than 0..2 and the missing code."""
    if block.size == 0:
        return
    if block.dtype.kind == "f":
        lo = np.fmin.reduce(block, axis=None)  # fmin/fmax skip NaN
        hi = np.fmax.reduce(block, axis=None)
        bad = bool(lo < 0 or hi > 2)  # +-inf included
        expected = "dosages in [0, 2] or NaN for missing"
    else:
        lo, hi = block.min(), block.max()
        bad = bool(hi > 2 or np.count_nonzero(block < 0) != n_missing)
        expected = f"0, 1, 2 or {MISSING_INT} for missing"
    if bad:
        raise InputDataError(
            f"Genotype matrix G, variant columns {where.start}..{where.stop - 1}: found values "
            f"outside the allowed coding (min {lo}, max {hi}); expected "
            f"{expected}, as the dosage of allele A1. Re-read the .bed file with bed-reader or "
            "recode the matrix."
        )


def _count(
    G: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    per_sample: bool = False,
    per_variant: bool = True,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One pass over ``G`` in column blocks, restricted to ``rows`` (integer index; None = all).

    Returns the missing count per sample (int64, over all variants; if ``per_sample``), the
    missing count per variant (int64) and the A1 allele count per variant (float64; both if
    ``per_variant``), with None in the place of what was not asked for.
    """
    n_samples, n_variants = G.shape
    n_rows = n_samples if rows is None else len(rows)
    s_missing = np.zeros(n_rows, dtype=np.int64) if per_sample else None
    v_missing = np.zeros(n_variants, dtype=np.int64) if per_variant else None
    a1_count = np.zeros(n_variants, dtype=np.float64) if per_variant else None
    for sl in _column_blocks(n_rows, n_variants):
        block = G[:, sl] if rows is None else G[rows, sl]
        miss = _missing_mask(block)
        if per_variant:
            nmiss = miss.sum(axis=0, dtype=np.int64)
            v_missing[sl] = nmiss
            n_block_missing = int(nmiss.sum())
        else:
            n_block_missing = int(np.count_nonzero(miss))
        _check_block_values(block, n_block_missing, sl)
        if per_sample:
            s_missing += miss.sum(axis=1, dtype=np.int64)
        if per_variant:
            if block.dtype.kind == "f":
                a1_count[sl] = np.where(miss, 0, block).sum(axis=0, dtype=np.float64)
            else:
                # every missing call adds MISSING_INT to the integer sum: take it back out.
                a1_count[sl] = block.sum(axis=0, dtype=np.int64) - MISSING_INT * nmiss
    return s_missing, v_missing, a1_count


def _ratio(num: np.ndarray, den: np.ndarray | float) -> np.ndarray:
    """num / den as float64, NaN where den == 0 (no warning)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.broadcast_to(np.asarray(den, dtype=np.float64), num.shape)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _maf_from_counts(a1_count: np.ndarray, n_called: np.ndarray) -> np.ndarray:
    n_alleles = 2.0 * n_called
    return _ratio(np.minimum(a1_count, n_alleles - a1_count), n_alleles)


# --------------------------------------------------------------------------------------------
# Public statistics
# --------------------------------------------------------------------------------------------
def sample_missing_rate(G) -> np.ndarray:
    """Fraction of missing calls per sample (PLINK 1.9 ``--missing``, ``.imiss`` ``F_MISS``).

    Parameters
    ----------
    G : array of shape (n_samples, n_variants)
        Dosage of allele A1 (0, 1, 2); float with NaN for missing, or integer with -127 for
        missing (bed-reader's ``int8`` read). Not modified.

    Returns
    -------
    numpy.ndarray of float64, shape (n_samples,)
        Missing calls / n_variants; the call rate is ``1 - rate``. NaN when there are no
        variants.

    Raises
    ------
    InputDataError
        ``G`` is not 2-D, has another dtype, or holds values outside the coding above.

    Notes
    -----
    All variants count, chromosomes X/Y/MT included (PLINK counts only males on Y).
    """
    G = _as_genotypes(G)
    s_missing, _, _ = _count(G, per_sample=True, per_variant=False)
    return _ratio(s_missing, G.shape[1])


def variant_missing_rate(G) -> np.ndarray:
    """Fraction of missing calls per variant (PLINK 1.9 ``--missing``, ``.lmiss`` ``F_MISS``).

    Parameters
    ----------
    G : array of shape (n_samples, n_variants)
        A1 dosage, NaN or -127 for missing (see :func:`sample_missing_rate`).

    Returns
    -------
    numpy.ndarray of float64, shape (n_variants,)
        Missing calls / n_samples; NaN when there are no samples.

    Raises
    ------
    InputDataError
        ``G`` is not 2-D, has another dtype, or holds values outside the coding.
    """
    G = _as_genotypes(G)
    _, n_missing, _ = _count(G)
    return _ratio(n_missing, G.shape[0])


def allele_frequency(G) -> np.ndarray:
    """Frequency of allele A1 (the counted allele) among the non-missing calls of each variant.

    Equals the ``MAF`` column of ``plink1.9 --freq --keep-allele-order`` (which, despite its
    name, is the A1 frequency) when every sample is a founder and there are no sex chromosomes.

    Parameters
    ----------
    G : array of shape (n_samples, n_variants)
        A1 dosage, NaN or -127 for missing (see :func:`sample_missing_rate`).

    Returns
    -------
    numpy.ndarray of float64, shape (n_variants,)
        ``sum(dosage) / (2 * n_called)``; NaN for a variant without any called genotype
        (PLINK prints 0 there and uses 0.5 in its ``--maf`` filter).

    Raises
    ------
    InputDataError
        ``G`` is not 2-D, has another dtype, or holds values outside the coding.
    """
    G = _as_genotypes(G)
    _, n_missing, a1_count = _count(G)
    return _ratio(a1_count, 2.0 * (G.shape[0] - n_missing))


def minor_allele_frequency(G) -> np.ndarray:
    """Minor allele frequency ``min(f, 1 - f)`` of each variant, f = A1 frequency.

    Parameters
    ----------
    G : array of shape (n_samples, n_variants)
        A1 dosage, NaN or -127 for missing (see :func:`sample_missing_rate`).

    Returns
    -------
    numpy.ndarray of float64, shape (n_variants,)
        In [0, 0.5], computed as ``min(c1, c2) / (c1 + c2)`` from the allele counts (one
        rounding, as PLINK 1.9's ``--maf``). NaN for a variant without any called genotype.

    Raises
    ------
    InputDataError
        ``G`` is not 2-D, has another dtype, or holds values outside the coding.
    """
    G = _as_genotypes(G)
    _, n_missing, a1_count = _count(G)
    return _maf_from_counts(a1_count, G.shape[0] - n_missing)


# --------------------------------------------------------------------------------------------
# Configuration and results
# --------------------------------------------------------------------------------------------
def _check_threshold(name: str, value, upper: float, flag: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"QCConfig.{name}: found {value!r} ({type(value).__name__}); expected a number in "
            f"[0, {upper:g}] (PLINK {flag}) or None to skip this filter."
        )
    value = float(value)
    if not 0.0 <= value <= upper:  # also catches NaN
        hint = "0.01 or 0.05" if name == "maf" else "0.1 (lenient), 0.02 or 0.01 (strict)"
        raise ConfigError(
            f"QCConfig.{name}: found {value!r}; expected a number in [0, {upper:g}] (PLINK "
            f"{flag}) or None to skip this filter. Common values: {hint}."
        )
    return value


def _check_p(name: str, value, flag: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) <= 1.0:
        raise ConfigError(
            f"QCConfig.{name}: found {value!r}; expected a p-value threshold in (0, 1] (PLINK "
            f"{flag}) or None to skip this filter. Common values: 1e-6 (HWE in controls), 1e-4."
        )
    return float(value)


@dataclasses.dataclass
class QCConfig:
    """Thresholds of the QC filters, with PLINK 1.9 semantics (applied in PLINK's order).

    Parameters
    ----------
    mind : float in [0, 1] or None, default 0.1
        Remove samples whose missing rate (over all variants) is greater than ``mind``
        (PLINK ``--mind``). None skips the filter.
    geno : float in [0, 1] or None, default 0.1
        Remove variants whose missing rate (over the samples kept by ``--mind``) is greater
        than ``geno`` (PLINK ``--geno``). None skips the filter.
    maf : float in [0, 0.5] or None, default 0.01
        Remove variants whose minor allele frequency (over the samples kept by ``--mind``) is
        less than ``maf`` (PLINK ``--maf``). None skips the filter.
    hwe : float in (0, 1] or None, default None
        Remove variants whose Hardy-Weinberg exact test p-value is below ``hwe`` (PLINK
        ``--hwe``), computed on the controls when a case/control phenotype is given, else on all
        samples. None skips the filter.
    hwe_midp : bool, default True
        Use the mid-p exact test (PLINK's ``midp`` modifier).
    hwe_all : bool, default False
        Test all samples even when a case/control phenotype is given (PLINK's
        ``include-nonctrl``).
    test_missing : float in (0, 1] or None, default None
        Remove variants whose missing rate differs between cases and controls with Fisher's
        exact p below this (``--test-missing``, a PLINK report that protocols turn into a filter
        with ``--exclude``); runs after ``--maf``. Needs a case/control phenotype.
    test_missing_midp : bool, default True
        Mid-p Fisher test (``--test-missing midp``).
    autosomes_only : bool, default False
        Remove variants outside the autosomes first (PLINK ``--autosome``): chromosome codes X,
        Y, XY, MT, M, 0 (unplaced) and PLINK's human numbers 23-26 go; other codes stay.

    Raises
    ------
    ConfigError
        A threshold is not a number in its range (NaN and booleans included).
    """

    mind: float | None = 0.1
    geno: float | None = 0.1
    maf: float | None = 0.01
    hwe: float | None = None
    hwe_midp: bool = True
    hwe_all: bool = False
    test_missing: float | None = None
    test_missing_midp: bool = True
    autosomes_only: bool = False

    def __post_init__(self) -> None:
        self.mind = _check_threshold("mind", self.mind, 1.0, "--mind")
        self.geno = _check_threshold("geno", self.geno, 1.0, "--geno")
        self.maf = _check_threshold("maf", self.maf, 0.5, "--maf")
        self.hwe = _check_p("hwe", self.hwe, "--hwe")
        self.test_missing = _check_p("test_missing", self.test_missing, "--test-missing")
        for name in ("hwe_midp", "hwe_all", "test_missing_midp", "autosomes_only"):
            value = getattr(self, name)
            if not isinstance(value, bool | np.bool_):
                raise ConfigError(f"QCConfig.{name}: found {value!r}; expected True or False.")
            setattr(self, name, bool(value))

    def hwe_flag(self) -> str:
        """PLINK's ``--hwe`` option with its modifiers, e.g. ``"--hwe 1e-06 midp"``."""
        mods = (" midp" if self.hwe_midp else "") + (" include-nonctrl" if self.hwe_all else "")
        return f"--hwe {self.hwe!r}{mods}"

    def plink_flags(self) -> str:
        """The equivalent PLINK 1.9 filter options, e.g. ``"--mind 0.1 --geno 0.1 --maf 0.01"``.

        ``test_missing`` has no PLINK filter flag (it is ``--test-missing`` followed by
        ``--exclude``) and is not included.
        """
        parts = ["--autosome"] if self.autosomes_only else []
        parts += [
            f"--{name} {value!r}"
            for name, value in (("mind", self.mind), ("geno", self.geno), ("maf", self.maf))
            if value is not None
        ]
        if self.hwe is not None:
            parts.append(self.hwe_flag())
        return " ".join(parts)


@dataclasses.dataclass
class QCStep:
    """One filter of the QC funnel and what it removed.

    Attributes
    ----------
    name : str
        What the step is, e.g. "Sample call rate", "Variant call rate", "Hardy-Weinberg",
        "Minor allele frequency", "Differential missingness".
    plink_flag : str
        The PLINK 1.9 option with its value, e.g. ``"--mind 0.1"``.
    axis : {"samples", "variants"}
        What the step filters.
    n_before, n_removed, n_after : int
        Samples or variants before the step, removed by it, left after it.
    removed : pandas.DataFrame
        The removed items in file order. Samples: ``FID``, ``IID``, ``missing_rate``.
        Variants: ``chrom``, ``id``, ``pos``, ``value`` (the statistic the step compared with
        its threshold: missing rate, MAF, p-value; the worst over strata when stratified).
    """

    name: str
    plink_flag: str
    axis: str
    n_before: int
    n_removed: int
    n_after: int
    removed: pd.DataFrame


@dataclasses.dataclass
class QCResult:
    """Outcome of :func:`genoapp.qc.run_qc`.

    Attributes
    ----------
    sample_mask : numpy.ndarray of bool, shape (n_samples,)
        True for the samples kept.
    variant_mask : numpy.ndarray of bool, shape (n_variants,)
        True for the variants kept.
    steps : list of QCStep
        The filters that ran, in PLINK's order (``--mind``, ``--geno``, ``--maf``).
    config : QCConfig
        The thresholds used.
    sample_missing_rate : numpy.ndarray of float64, shape (n_samples,), or None
        Missing rate of every input sample over all variants (what ``--mind`` used); None
        when ``--mind`` was skipped.
    variant_missing_rate : numpy.ndarray of float64, shape (n_variants,), or None
        Missing rate of every input variant over the samples kept by ``--mind`` (what
        ``--geno`` used); None when both variant filters were skipped.
    variant_maf : numpy.ndarray of float64, shape (n_variants,), or None
        MAF of every input variant over the samples kept by ``--mind`` (what ``--maf`` used,
        NaN where no call); None when both variant filters were skipped.
    variant_stats : pandas.DataFrame or None
        One row per input variant: ``chrom``, ``id``, ``pos``, then the statistic each filter
        that ran compared with its threshold: ``missing_rate``, ``maf``, ``hwe_p``,
        ``test_missing_p`` (with strata: the worst value over strata - largest missing rate,
        smallest MAF and p-values) and ``removed_by`` (the step's PLINK flag, "" if kept).
    strata : list of str or None
        Labels of the strata the variant filters were applied in (None: one stratum).
    """

    sample_mask: np.ndarray
    variant_mask: np.ndarray
    steps: list[QCStep]
    config: QCConfig
    sample_missing_rate: np.ndarray | None = None
    variant_missing_rate: np.ndarray | None = None
    variant_maf: np.ndarray | None = None
    variant_stats: pd.DataFrame | None = None
    strata: list[str] | None = None

    @property
    def n_samples_kept(self) -> int:
        return int(np.count_nonzero(self.sample_mask))

    @property
    def n_variants_kept(self) -> int:
        return int(np.count_nonzero(self.variant_mask))

    @property
    def kept_sample_idx(self) -> np.ndarray:
        """Row indices (int64, ascending) of the kept samples."""
        return np.flatnonzero(self.sample_mask)

    @property
    def kept_variant_idx(self) -> np.ndarray:
        """Column indices (int64, ascending) of the kept variants."""
        return np.flatnonzero(self.variant_mask)

    def summary(self) -> pd.DataFrame:
        """The QC funnel as a table.

        Returns
        -------
        pandas.DataFrame
            A first row ``"Input"`` and then one row per step, with columns ``step``,
            ``plink_flag``, ``axis``, ``before``, ``removed``, ``after`` (counts along the
            step's axis; NA in the input row) and ``n_samples``, ``n_variants`` (what is left
            after the row's step).
        """
        n_samples = len(self.sample_mask)
        n_variants = len(self.variant_mask)
        rows = [
            {
                "step": "Input",
                "plink_flag": "",
                "axis": "",
                "before": pd.NA,
                "removed": pd.NA,
                "after": pd.NA,
                "n_samples": n_samples,
                "n_variants": n_variants,
            }
        ]
        for step in self.steps:
            if step.axis == "samples":
                n_samples = step.n_after
            else:
                n_variants = step.n_after
            rows.append(
                {
                    "step": step.name,
                    "plink_flag": step.plink_flag,
                    "axis": step.axis,
                    "before": step.n_before,
                    "removed": step.n_removed,
                    "after": step.n_after,
                    "n_samples": n_samples,
                    "n_variants": n_variants,
                }
            )
        table = pd.DataFrame(rows)
        for col in ("before", "removed", "after"):
            table[col] = table[col].astype("Int64")
        return table


# --------------------------------------------------------------------------------------------
# The funnel
# --------------------------------------------------------------------------------------------
def _check_table(table, columns: tuple[str, ...], n_rows: int, what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise InputDataError(
            f"{what} table: found {type(table).__name__}; expected a pandas DataFrame with "
            f"columns {', '.join(columns)} (as genoapp.io reads from the .fam/.bim file)."
        )
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise InputDataError(
            f"{what} table: column(s) {', '.join(absent)} missing (found "
            f"{', '.join(map(str, table.columns)) or 'none'}); expected {', '.join(columns)}. "
            "Rename the columns or read the files with genoapp.io."
        )
    if len(table) != n_rows:
        axis = "rows" if what == "samples" else "columns"
        raise InputDataError(
            f"{what} table: found {len(table)} rows but the genotype matrix has {n_rows} {axis}; "
            f"expected one row per {axis[:-1]} of G, in the same order. Check that the "
            ".fam/.bim file belongs to the .bed file and that no subset was applied to one only."
        )


def _removed_samples(samples: pd.DataFrame, remove: np.ndarray, rate: np.ndarray) -> pd.DataFrame:
    idx = np.flatnonzero(remove)
    out = samples.iloc[idx][list(SAMPLE_COLUMNS)].reset_index(drop=True)
    out["missing_rate"] = rate[idx]
    return out


def _removed_variants(
    variants: pd.DataFrame, remove: np.ndarray, value: np.ndarray
) -> pd.DataFrame:
    idx = np.flatnonzero(remove)
    out = variants.iloc[idx][list(VARIANT_COLUMNS)].reset_index(drop=True)
    out["value"] = value[idx]
    return out


def _all_removed(axis: str, n: int, flag: str, best: float, what: str) -> ConfigError:
    return ConfigError(
        f"QC {flag}: all {n:,} {axis} would be removed (the best {what} is {best:.4g}), as "
        f"PLINK 1.9 refuses to continue. Loosen the threshold above {best:.4g}, skip the "
        "filter (None), or check the input files."
    )
