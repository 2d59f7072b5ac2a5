"""Exact tests of PLINK 1.9's QC: Hardy-Weinberg (``--hardy``/``--hwe``) and 2x2 Fisher
(``--test-missing``), each with the mid-p option, vectorised over variants with numba.

Hardy-Weinberg: the exact test of Wigginton, Cutler & Abecasis (2005, Am J Hum Genet 76:887).
Given n genotypes with r copies of the rarer allele, the probabilities of the possible
heterozygote counts h (same parity as r) follow the recurrences

    P(h - 2) = P(h) * h (h - 1) / (4 (hom_r + 1) (hom_c + 1))
    P(h + 2) = P(h) * 4 hom_r hom_c / ((h + 2) (h + 1))

(hom_r, hom_c = homozygotes of the rare/common allele for het count h). The p-value is the
total probability of the het counts at most as likely as the observed one. Following PLINK
1.9 (``SNPHWE2`` in ``plink_stats.c``), the terms are computed relative to the observed one,
walking outwards from it until they no longer change the sum (53-bit precision); a term whose
relative probability is within 2**-44 of the observed one is a tie (it counts as "at most as
likely"). Mid-p (Graffelman & Moreno 2013, as PLINK's ``midp`` modifier): the observed table
and its ties count half, ``p = (P(less likely) + P(tie) / 2) / total``. No genotype: p = 1
(0.5 with mid-p), as PLINK.

Fisher's exact test on a 2x2 table (two-sided, the same "at most as likely" rule), relative
tolerance 2**-40 for ties as PLINK 1.9's ``fisher22``; mid-p likewise halves the observed table
and its ties. Checked against ``scipy.stats.fisher_exact`` (p) and
``scipy.stats.hypergeom`` (mid-p) in ``tests/test_qc_stats.py``, and against PLINK's
``.hwe``/``.missing`` reports on real data.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from genoapp.errors import InputDataError
from genoapp.qc._parallel import run_ranges

__all__ = ["hwe_exact", "fisher_exact_2x2"]

SMALL_EPSILON = 2.0**-44
FISHER_EPSILON = 2.0**-40
# PLINK's EXACT_TEST_BIAS (2**-83): the observed term's scale, so that terms more likely than the
# observed one (up to ~2**1107 times) do not overflow.
_BIAS = 2.0**-83


@njit(nogil=True, cache=True)
def _hwe_one(het, hom1, hom2, midp):  # pragma: no cover - compiled
    if hom1 < hom2:
        homc = float(hom2)
        homr = float(hom1)
    else:
        homc = float(hom1)
        homr = float(hom2)
    h = float(het)
    rare = 2.0 * homr + h
    n2 = 2.0 * (h + homr + homc)
    if n2 == 0:
        return 0.5 if midp else 1.0
    obs = (1.0 - SMALL_EPSILON) * _BIAS
    tail = obs
    center = 0.0
    ties = 1.0
    # Which way is the mode? Expected hets: rare * (n2 - rare) / n2.
    upper = h * n2 > rare * (n2 - rare)
    # Walk towards the mode ("tail 2"): terms grow, then fall below the observed one.
    p = obs
    ch, cr, cc = h, homr, homc
    in_tail = False
    while True:
        if upper:
            if ch < 1.5:
                break
            cr += 1.0
            cc += 1.0
            p *= ch * (ch - 1.0) / (4.0 * cr * cc)
            ch -= 2.0
        else:
            if cr < 0.5:
                break
            ch += 2.0
            p *= 4.0 * cr * cc / (ch * (ch - 1.0))
            cr -= 1.0
            cc -= 1.0
        if not in_tail:
            if p < _BIAS:
                if p > (1.0 - 2.0 * SMALL_EPSILON) * _BIAS:
                    ties += 1.0
                tail += p
                in_tail = True
            else:
                center += p
                if center == np.inf:
                    return 0.0
        else:
            before = tail
            tail += p
            if tail <= before:
                break
    # Walk away from the mode ("tail 1"): every term is less likely than the observed one.
    p = obs
    ch, cr, cc = h, homr, homc
    while True:
        if upper:
            if cr < 0.5:
                break
            ch += 2.0
            p *= 4.0 * cr * cc / (ch * (ch - 1.0))
            cr -= 1.0
            cc -= 1.0
        else:
            if ch < 1.5:
                break
            cr += 1.0
            cc += 1.0
            p *= ch * (ch - 1.0) / (4.0 * cr * cc)
            ch -= 2.0
        before = tail
        tail += p
        if tail <= before:
            break
    if midp:
        return (tail - 0.5 * obs * ties) / (tail + center)
    return tail / (tail + center)


@njit(nogil=True, cache=True)
def _hwe_many(lo, hi, worker, het, hom1, hom2, midp, out):  # pragma: no cover - compiled
    for i in range(lo, hi):
        out[i] = _hwe_one(het[i], hom1[i], hom2[i], midp)


@njit(nogil=True, cache=True)
def _fisher_one(m11, m12, m21, m22, midp):  # pragma: no cover - compiled
    # Hypergeometric terms relative to the observed table, walking both ways along m11.
    a = float(m11)
    b = float(m12)
    c = float(m21)
    d = float(m22)
    if a + b + c + d == 0:
        return 0.5 if midp else 1.0
    obs = (1.0 - FISHER_EPSILON) * _BIAS
    tail = obs
    center = 0.0
    ties = 1.0
    # Direction towards the mode: increase m11 if a*d < b*c (observed left of the mode).
    toward_up = a * d < b * c
    for direction in range(2):
        up = toward_up if direction == 0 else not toward_up
        p = obs
        ca, cb, cc, cd = a, b, c, d
        in_tail = direction == 1
        while True:
            if up:
                if cb < 0.5 or cc < 0.5:
                    break
                ca += 1.0
                cd += 1.0
                p *= cb * cc / (ca * cd)
                cb -= 1.0
                cc -= 1.0
            else:
                if ca < 0.5 or cd < 0.5:
                    break
                cb += 1.0
                cc += 1.0
                p *= ca * cd / (cb * cc)
                ca -= 1.0
                cd -= 1.0
            if not in_tail:
                if p < _BIAS:
                    if p > (1.0 - 2.0 * FISHER_EPSILON) * _BIAS:
                        ties += 1.0
                    tail += p
                    in_tail = True
                else:
                    center += p
                    if center == np.inf:
                        return 0.0
            else:
                before = tail
                tail += p
                if tail <= before:
                    break
    if midp:
        return (tail - 0.5 * obs * ties) / (tail + center)
    return tail / (tail + center)


@njit(nogil=True, cache=True)
def _fisher_many(lo, hi, worker, m11, m12, m21, m22, midp, out):  # pragma: no cover - compiled
    for i in range(lo, hi):
        out[i] = _fisher_one(m11[i], m12[i], m21[i], m22[i], midp)


def _counts(name: str, *arrays) -> tuple[list[np.ndarray], tuple]:
    arrs = [np.asarray(a) for a in arrays]
    shape = np.broadcast_shapes(*(a.shape for a in arrs))
    out = []
    for a in arrs:
        if a.dtype.kind not in "iuf" or (a.size and (np.any(a < 0) or np.any(a != np.rint(a)))):
            raise InputDataError(f"{name}: counts must be non-negative integers; found {a.dtype} "
                                 f"values such as {a.ravel()[:3].tolist()}.")
        out.append(np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.int64).ravel())
    return out, shape


def hwe_exact(het, hom1, hom2, *, midp: bool = True) -> np.ndarray:
    """Hardy-Weinberg exact test p-values (Wigginton et al. 2005), optionally mid-p.

    Parameters
    ----------
    het, hom1, hom2 : array-like of int
        Heterozygous and the two homozygous genotype counts per variant (same shape, or
        broadcastable).
    midp : bool, default True
        Mid-p correction (PLINK 1.9 ``--hardy midp`` / ``--hwe P midp``): the observed count
        and its ties count half.

    Returns
    -------
    numpy.ndarray of float64
        p-values, shape of the broadcast inputs; 1 (0.5 with mid-p) where there is no genotype.

    Raises
    ------
    InputDataError
        Negative or non-integer counts.

    Notes
    -----
    Equals PLINK 1.9's ``.hwe`` ``P`` column (``SNPHWE2``) to double precision; the ``--hwe``
    filter removes a variant when ``p < threshold * (1 + 2**-44)``.
    """
    (h, a, b), shape = _counts("hwe_exact", het, hom1, hom2)
    out = np.empty(h.shape[0], dtype=np.float64)
    if h.size:
        run_ranges(_hwe_many, h.size, h, a, b, bool(midp), out)
    return out.reshape(shape)


def fisher_exact_2x2(m11, m12, m21, m22, *, midp: bool = False) -> np.ndarray:
    """Two-sided Fisher exact test of 2x2 tables ``[[m11, m12], [m21, m22]]``, optionally mid-p.

    Parameters
    ----------
    m11, m12, m21, m22 : array-like of int
        Cell counts (same shape, or broadcastable).
    midp : bool, default False
        Mid-p: the observed table (and tables exactly as likely) count half (PLINK 1.9
        ``--test-missing midp``, ``--fisher midp``).

    Returns
    -------
    numpy.ndarray of float64
        p-values; 1 (0.5 with mid-p) for an empty table.

    Raises
    ------
    InputDataError
        Negative or non-integer counts.

    Notes
    -----
    Without mid-p this equals ``scipy.stats.fisher_exact(table).pvalue`` (to its 1e-7
    relative tie tolerance; here 2**-40 as PLINK 1.9's ``fisher22``).
    """
    (a, b, c, d), shape = _counts("fisher_exact_2x2", m11, m12, m21, m22)
    out = np.empty(a.shape[0], dtype=np.float64)
    if a.size:
        run_ranges(_fisher_many, a.size, a, b, c, d, bool(midp), out)
    return out.reshape(shape)
