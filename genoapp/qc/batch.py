"""Batch-effect SNP filter of DiseaseCapsule (Zhang et al.), vectorised over SNPs.

Among **controls only** (whose allele frequencies should not depend on the genotyping batch),
each SNP gets a contingency table of allele counts: 2 alleles (A1, A2) x batches. Pearson's
chi-squared test is applied to it, either to all batches jointly (df = batches - 1) or to every
pair of batches (2x2 tables, df = 1; the authors' ``preprocess/chi2_test.allele.py`` does the
pairs with ``scipy.stats.chi2_contingency``, whose default applies Yates' continuity
correction to 2x2 tables: ``yates=True`` reproduces that). The p-values are adjusted with
Benjamini-Hochberg over SNPs (``statsmodels.stats.multitest.multipletests``; with pairs, over
all SNP x pair tests together, as the authors' script collects them in one list), and SNPs with
an adjusted p below ``alpha`` (default 0.05) in any test are removed. The paper describes BH;
the authors' code left the correction out (``multipletests`` commented out).

Batches without any called allele of a SNP are left out of that SNP's table; a SNP whose table
has fewer than two batches or a single allele among controls is not testable (p NaN, kept, not
counted in the correction). Checked against ``scipy.stats.chi2_contingency`` and
``multipletests`` in ``tests/test_qc_batch.py``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from genoapp.errors import ConfigError, InputDataError

__all__ = ["batch_effect_test", "allele_counts_by_batch"]


def allele_counts_by_batch(genotype_counts) -> np.ndarray:
    """Allele counts from genotype counts.

    Parameters
    ----------
    genotype_counts : array of shape (n_variants, n_batches, 4)
        Hom A1, het, hom A2, missing calls per variant and batch (controls).

    Returns
    -------
    numpy.ndarray of float64, shape (n_variants, n_batches, 2)
        Copies of A1 and of A2 among the called genotypes.
    """
    c = np.asarray(genotype_counts, dtype=np.float64)
    if c.ndim != 3 or c.shape[2] != 4:
        raise InputDataError(f"genotype counts: expected shape (n_variants, n_batches, 4); "
                             f"found {c.shape}.")
    a1 = 2.0 * c[:, :, 0] + c[:, :, 1]
    a2 = 2.0 * c[:, :, 2] + c[:, :, 1]
    return np.stack([a1, a2], axis=2)


def _pearson(tables: np.ndarray, yates: bool) -> tuple[np.ndarray, np.ndarray]:
    """Chi-squared statistic and df of (n, k, 2) allele tables, empty batches dropped."""
    col = tables.sum(axis=2)  # (n, k): alleles per batch
    row = tables.sum(axis=1)  # (n, 2): alleles per allele
    total = col.sum(axis=1)
    present = col > 0
    k = present.sum(axis=1)
    df = (k - 1).astype(np.float64)
    testable = (k >= 2) & (row > 0).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = col[:, :, None] * row[:, None, :] / np.where(total > 0, total, 1.0)[:, None, None]
        diff = np.abs(tables - expected)
        if yates:  # 2x2 tables only, as chi2_contingency: |O - E| shrunk by up to 0.5
            diff = np.where(df[:, None, None] == 1, np.maximum(diff - 0.5, 0.0), diff)
        terms = np.where(expected > 0, diff**2 / np.where(expected > 0, expected, 1.0), 0.0)
    chi2 = terms.sum(axis=(1, 2))
    chi2 = np.where(testable, chi2, np.nan)
    return chi2, np.where(testable, df, np.nan)


def _bh(p: np.ndarray) -> np.ndarray:
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q


def batch_effect_test(allele_counts, *, pairwise: bool = False, yates: bool = False,
                      alpha: float = 0.05, batch_labels=None) -> pd.DataFrame:
    """Allele-count x batch chi-squared test per SNP among controls, with Benjamini-Hochberg.

    Parameters
    ----------
    allele_counts : array of shape (n_variants, n_batches, 2)
        Copies of A1 and A2 per SNP and batch among the controls used (see
        :func:`allele_counts_by_batch`).
    pairwise : bool, default False
        Test every pair of batches (2x2 tables) instead of all batches jointly.
    yates : bool, default False
        Yates' continuity correction on 2x2 tables (``chi2_contingency``'s default, used by the
        authors' script). False = plain Pearson chi-squared.
    alpha : float in (0, 1), default 0.05
        SNPs with a BH-adjusted p below ``alpha`` are marked for removal.
    batch_labels : sequence of str, optional
        Names of the batches (for the ``pair`` column).

    Returns
    -------
    pandas.DataFrame
        One row per SNP: ``chi2``, ``df``, ``p``, ``q`` (BH-adjusted p), ``pair`` (with
        ``pairwise``: the pair with the smallest q, "batch_a vs batch_b"; else "all"), and
        ``remove`` (q < alpha). NaN statistics for SNPs that cannot be tested (kept).

    Raises
    ------
    InputDataError
        Bad array shape or negative counts.
    ConfigError
        ``alpha`` outside (0, 1) or fewer than two batches.
    """
    t = np.asarray(allele_counts, dtype=np.float64)
    if t.ndim != 3 or t.shape[2] != 2:
        raise InputDataError(f"batch_effect_test: allele counts must have shape (n_variants, "
                             f"n_batches, 2); found {t.shape}.")
    if (t < 0).any():
        raise InputDataError("batch_effect_test: allele counts must be non-negative.")
    if not 0.0 < float(alpha) < 1.0:
        raise ConfigError(f"batch_effect_test: alpha {alpha!r} must be in (0, 1), e.g. 0.05.")
    n, k, _ = t.shape
    if k < 2:
        raise ConfigError(f"batch_effect_test: found {k} batch among the controls; the filter "
                          "needs at least two batches. Choose a batch column on the Data page "
                          "or switch the filter off.")
    labels = [str(b) for b in (batch_labels if batch_labels is not None else range(k))]
    if not pairwise:
        chi2, df = _pearson(t, yates)
        p = stats.chi2.sf(chi2, df)
        q = _bh(p)
        return pd.DataFrame({"chi2": chi2, "df": df, "p": p, "q": q, "pair": "all",
                             "remove": np.nan_to_num(q, nan=1.0) < alpha})
    pairs = list(itertools.combinations(range(k), 2))
    chi2 = np.full((n, len(pairs)), np.nan)
    df = np.full((n, len(pairs)), np.nan)
    for j, (a, b) in enumerate(pairs):
        chi2[:, j], df[:, j] = _pearson(t[:, [a, b], :], yates)
    p = stats.chi2.sf(chi2, df)
    q = _bh(p.ravel()).reshape(p.shape)
    q_fill = np.where(np.isnan(q), np.inf, q)
    best = np.argmin(q_fill, axis=1)
    rows = np.arange(n)
    none = np.isinf(q_fill[rows, best])
    pair_names = np.array([f"{labels[a]} vs {labels[b]}" for a, b in pairs], dtype=object)
    return pd.DataFrame({
        "chi2": chi2[rows, best], "df": df[rows, best], "p": p[rows, best], "q": q[rows, best],
        "pair": np.where(none, "", pair_names[best]),
        "remove": np.nan_to_num(q[rows, best], nan=1.0) < alpha,
    })
