"""Pedigree relationships as model inputs: the A matrix and reduced-rank loadings (DESIGN §4.2).

1. :func:`additive_relationship`: the numerator (additive) relationship matrix ``A`` from a
   parents-first pedigree by Henderson's tabular method (Henderson 1976, *Biometrics* 32:69;
   Mrode, *Linear Models for the Prediction of Animal Breeding Values*, ch. 2):

   - both parents known: ``A[i, j] = (A[s, j] + A[d, j]) / 2`` for every earlier j and
     ``A[i, i] = 1 + A[s, d] / 2`` (so the inbreeding coefficient is ``F_i = A[s, d] / 2``);
   - one parent p known: ``A[i, j] = A[p, j] / 2``, ``A[i, i] = 1``;
   - founders: ``A[i, j] = 0``, ``A[i, i] = 1``.

   One pass over the individuals, compiled with numba (cached on disk after the first call);
   the 6,473-animal PIC pedigree takes under a second. Memory is ``8 n^2`` bytes: restrict to
   the ancestors of the individuals you need (``individuals=``) for large pedigrees.
2. :func:`relationship_eigen`: ``A = Q Lambda Q^T`` (symmetric eigendecomposition, LAPACK via
   :func:`scipy.linalg.eigh`), eigenvalues sorted in descending order; eigenvalues within the
   float32 precision of zero (:func:`spectrum_tolerance`) and tiny negative values from rounding
   are set to 0; each eigenvector's sign is fixed (largest entry positive) so results are
   reproducible.
3. :func:`elbow_rank`: the rank m at the elbow of the scree plot (eigenvalue against its rank),
   found with ``kneed`` (Satopaa et al. 2011, "Kneedle"; convex, decreasing curve). The paper's
   own rule, "the rank where the eigenvalues are no longer decreasing", is
   :func:`plateau_rank`: the number of eigenvalues above the flat tail of the spectrum. On the
   BGLR mice A it gives exactly the paper's m = 169 (the last 1,645 eigenvalues all equal 0.5;
   Kneedle's elbow is 12); spectra without a flat tail (the wheat A) have no plateau.

   Both rules ignore eigenvalue differences below :func:`spectrum_tolerance` (float32 machine
   epsilon times ``||A||_F``): a GCTA ``.grm.bin`` stores A in float32, and that rounding moves
   every eigenvalue by at most half this tolerance (Weyl's inequality). So the rounding of a
   GRM file cannot split a flat tail, make a zero eigenvalue positive or break a tie between
   equal eigenvalues, the ways it could change m: one relationship matrix gets the same m
   whether it was built in float64 from a pedigree or read back from a GRM file (tests: the
   PIC pig pedigree, synthetic singular and flat spectra). A pedigree decomposed with
   ``relationship_scope="all"`` (A over the whole pedigree) is another matrix than a GRM of
   the genotyped individuals and has its own m.
4. :func:`pedigree_loadings`: ``L = Q sqrt(Lambda)`` so that ``L L^T = A`` at full rank; the
   first m columns are the reduced-rank loadings ``L_m`` used as inputs ``X = [L_m, markers]``
   (Fan & Waldmann 2025, eq. 1; the paper used m = 169 for mice, 797 for pig, 138 for pine).
   The user can override the automatic m.

Loadings use relationships only (no phenotype), so computing them over all individuals, test
individuals included, leaks no label: it is the same information GBLUP uses.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.linalg

from genoapp.errors import ConfigError, InputDataError
from genoapp.io.pedigree import Pedigree

__all__ = [
    "RelationshipLoadings",
    "additive_relationship",
    "elbow_rank",
    "inbreeding_coefficients",
    "pedigree_loadings",
    "plateau_rank",
    "relationship_eigen",
    "spectrum_tolerance",
]

#: Largest pedigree (after pruning to ancestors) for which A is built by default (3.2 GB).
MAX_ANIMALS = 20_000

#: float32 machine epsilon, 2^-23: the relative spacing of the values of a GCTA ``.grm.bin``.
FLOAT32_EPS = float(np.finfo(np.float32).eps)


def spectrum_tolerance(eigenvalues) -> float:
    """Smallest eigenvalue difference the rank rules treat as real: ``2^-23 ||A||_F``.

    Storing a relationship matrix as float32 (a GCTA ``.grm.bin``) rounds each entry by at most
    ``2^-24`` of its value, so the rounding error E has ``||E||_2 <= ||E||_F <= 2^-24 ||A||_F``
    and, by Weyl's inequality, moves each eigenvalue by at most ``2^-24 ||A||_F``. Two
    eigenvalues (or an eigenvalue and 0) closer than twice that, ``FLOAT32_EPS * ||A||_F``,
    cannot be told apart once A has been through a GRM file.

    Parameters
    ----------
    eigenvalues : array-like
        All eigenvalues of A (``||A||_F`` is the root of the sum of their squares).

    Returns
    -------
    float
        ``FLOAT32_EPS * sqrt(sum(eigenvalues ** 2))`` (>= 0).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64).ravel()
    return FLOAT32_EPS * float(np.sqrt(np.sum(lam * lam)))


def additive_relationship(
    pedigree: Pedigree,
    *,
    individuals=None,
    max_animals: int = MAX_ANIMALS,
) -> np.ndarray:
    """Additive (numerator) relationship matrix by Henderson's tabular method.

    Parameters
    ----------
    pedigree : Pedigree
        Parents-first pedigree from :func:`genoapp.io.pedigree.read_pedigree`.
    individuals : iterable of str, optional
        Ids of the individuals wanted (e.g. the genotyped ones), in the order wanted. The
        pedigree is pruned to them and their ancestors before A is built (same values, less
        memory). Default: every individual of the pedigree, in pedigree order.
    max_animals : int, default 20,000
        Refuse to build a matrix over more animals (memory ``8 n^2`` bytes).

    Returns
    -------
    numpy.ndarray
        ``(k, k)`` float64, symmetric; ``k`` = number of ``individuals`` (rows and columns in
        their order) or of the pedigree. Diagonal = 1 + inbreeding coefficient.

    Raises
    ------
    InputDataError
        Some ``individuals`` are not in the pedigree.
    ConfigError
        More than ``max_animals`` animals after pruning.
    """
    ped = pedigree
    wanted = None
    if individuals is not None:
        pos = ped.index(list(individuals), what="individuals")
        keep = ped.ancestors(pos)
        ped = ped.subset(keep)
        remap = np.full(pedigree.n, -1, dtype=np.int64)
        remap[keep] = np.arange(keep.size)
        wanted = remap[pos]
    n = ped.n
    if n > max_animals:
        raise ConfigError(
            f"The pedigree has {n:,} animals (after keeping the ancestors of the requested "
            f"individuals); A would need {8 * n * n / 2**30:.1f} GB. Give fewer individuals "
            f"(only the genotyped ones) or raise max_animals (now {max_animals:,})."
        )
    A = _tabular_kernel()(np.ascontiguousarray(ped.sire, dtype=np.int64),
                          np.ascontiguousarray(ped.dam, dtype=np.int64))
    if wanted is not None:
        A = A[np.ix_(wanted, wanted)]
    return A


_KERNEL = None


def _tabular_kernel():
    """Henderson's tabular recursion, compiled with numba on first use (cached on disk)."""
    global _KERNEL
    if _KERNEL is None:
        import numba

        @numba.njit(cache=True)
        def tabular(sire, dam):  # pragma: no cover - compiled
            n = sire.shape[0]
            A = np.zeros((n, n))
            for i in range(n):
                s = sire[i]
                d = dam[i]
                if s >= 0 and d >= 0:
                    for j in range(i):
                        v = 0.5 * (A[s, j] + A[d, j])
                        A[i, j] = v
                        A[j, i] = v
                    A[i, i] = 1.0 + 0.5 * A[s, d]
                else:
                    p = max(s, d)
                    if p >= 0:
                        for j in range(i):
                            v = 0.5 * A[p, j]
                            A[i, j] = v
                            A[j, i] = v
                    A[i, i] = 1.0
            return A

        _KERNEL = tabular
    return _KERNEL


def inbreeding_coefficients(A) -> np.ndarray:
    """Inbreeding coefficients ``F = diag(A) - 1`` (shape (n,))."""
    return np.diag(np.asarray(A, dtype=np.float64)) - 1.0


def _check_square(A, name: str = "A") -> np.ndarray:
    a = np.asarray(A, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise InputDataError(f"{name}: expected a square (n, n) relationship matrix, got {a.shape}.")
    if not np.isfinite(a).all():
        raise InputDataError(f"{name}: holds NaN or infinite values.")
    scale = max(float(np.abs(np.diag(a)).max()), 1e-12)
    asym = float(np.abs(a - a.T).max())
    if asym > 1e-6 * scale:
        raise InputDataError(
            f"{name}: not symmetric (largest |A - A^T| = {asym:.3g}). A relationship matrix "
            "must be symmetric; check that the file is a relationship matrix."
        )
    return a


def relationship_eigen(A) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors of a relationship matrix.

    Parameters
    ----------
    A : array-like
        ``(n, n)`` symmetric (positive semi-definite) relationship matrix.

    Returns
    -------
    eigenvalues : numpy.ndarray
        ``(n,)`` float64, descending; values within :func:`spectrum_tolerance` of 0 (float32
        precision of A, so a singular A has the same positive rank whether it was stored as
        float64 or float32) and small negative values from rounding are set to 0.
    eigenvectors : numpy.ndarray
        ``(n, n)`` float64, column k belongs to eigenvalue k; sign fixed so that each
        column's largest-magnitude entry is positive.

    Raises
    ------
    InputDataError
        Not square, not finite, not symmetric, or clearly not positive semi-definite (an
        eigenvalue below ``-1e-6 * max``).
    """
    a = _check_square(A)
    vals, vecs = scipy.linalg.eigh(a, driver="evd", check_finite=False)
    vals, vecs = vals[::-1].copy(), vecs[:, ::-1].copy()
    top = max(float(vals[0]), 1e-300)
    if vals[-1] < -1e-6 * top:
        raise InputDataError(
            f"A: the smallest eigenvalue is {vals[-1]:.3g} (largest {top:.3g}); a relationship "
            "matrix is positive semi-definite. Check the matrix (a pedigree A never has "
            "negative eigenvalues)."
        )
    vals[np.abs(vals) <= spectrum_tolerance(vals)] = 0.0
    vals = np.maximum(vals, 0.0)
    idx = np.abs(vecs).argmax(axis=0)
    signs = np.sign(vecs[idx, np.arange(vecs.shape[1])])
    signs[signs == 0] = 1.0
    return vals, vecs * signs


def elbow_rank(eigenvalues, *, sensitivity: float = 1.0, max_rank: int | None = None) -> int:
    """Rank at the elbow of a scree plot (``kneed.KneeLocator``, convex and decreasing).

    Kneedle sees the eigenvalues rounded to multiples of ``tol`` =
    :func:`spectrum_tolerance` (float32 precision of A), so differences that storing A as
    float32 could create do not decide the elbow, and its threshold slack is ``S + 1e-8``
    x-steps instead of ``S``, so that equal eigenvalues (a drop of exactly one x-step, common
    in pedigrees: full sibs) follow Kneedle's strict rule "below the threshold" every time
    instead of the last bit of floating-point rounding. A spectrum flat to within ``tol`` has
    no elbow.

    Parameters
    ----------
    eigenvalues : array-like
        ``(n,)`` all eigenvalues in descending order (the tolerance uses all of them).
    sensitivity : float, default 1.0
        Kneedle's ``S`` (larger = more conservative, a later elbow).
    max_rank : int, optional
        Look for the elbow among the first ``max_rank`` eigenvalues only.

    Returns
    -------
    int
        m >= 1: the number of leading components up to and including the elbow. When there
        is no elbow (kneed finds none, or the spectrum is flat to within ``tol``), the
        smallest m whose eigenvalues sum to 90 % of the trace.

    Raises
    ------
    InputDataError
        Fewer than 3 eigenvalues, or not in descending order (an increase larger than
        ``tol``).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64).ravel()
    tol = spectrum_tolerance(lam)
    if max_rank is not None:
        lam = lam[: int(max_rank)]
    if lam.size < 3:
        raise InputDataError(f"elbow_rank: need at least 3 eigenvalues, got {lam.size}.")
    if np.any(np.diff(lam) > max(tol, 1e-12 * max(abs(lam[0]), 1.0))):
        raise InputDataError("elbow_rank: eigenvalues must be sorted in descending order.")
    if tol > 0:
        lam = np.round(lam / tol) * tol
    flat = float(lam[0] - lam[-1]) <= tol
    knee = None
    if not flat:
        from kneed import KneeLocator

        x = np.arange(1, lam.size + 1, dtype=np.float64)
        knee = KneeLocator(x, lam, S=float(sensitivity) + 1e-8, curve="convex",
                           direction="decreasing").knee
    if knee is None or not np.isfinite(knee):
        if flat:  # equal eigenvalues: 90 % of the trace is ceil(0.9 n) of them
            return int(max(1, np.ceil(0.9 * lam.size - 1e-9)))
        cum = np.cumsum(lam) / max(lam.sum(), 1e-300)
        return int(np.searchsorted(cum, 0.9) + 1)
    return int(max(1, round(float(knee))))


def plateau_rank(eigenvalues, *, rtol: float = 1e-3, min_fraction: float = 0.05) -> int | None:
    """Rank where the eigenvalues stop decreasing: the count above the flat tail.

    The paper's rule (Fan & Waldmann 2025: the scree plot shows "where the eigenvalues are no
    longer decreasing"). The tail value is the smallest eigenvalue; m is the number of
    eigenvalues above ``tail (1 + rtol) + tol`` with ``tol`` = :func:`spectrum_tolerance`
    (float32 precision of A): storing A as float32 moves each eigenvalue by at most
    ``tol / 2``, so a tail that is flat in float64 stays flat after a trip through a GRM file.

    Parameters
    ----------
    eigenvalues : array-like
        ``(n,)`` all eigenvalues in descending order.
    rtol : float, default 1e-3
        Relative tolerance (to the tail value) defining "equal to the tail".
    min_fraction : float, default 0.05
        A plateau must hold at least this fraction of the eigenvalues (and at least 2).

    Returns
    -------
    int or None
        m (>= 1), or None when the spectrum has no flat tail (or is flat to within ``tol``).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64).ravel()
    if lam.size < 3:
        return None
    tol = spectrum_tolerance(lam)
    tail, top = float(lam.min()), float(lam.max())
    if top - tail <= tol:
        return None
    above = int((lam > tail * (1.0 + rtol) + tol).sum())
    flat = lam.size - above
    if above < 1 or flat < max(2, int(np.ceil(min_fraction * lam.size))):
        return None
    return above


@dataclasses.dataclass(repr=False)
class RelationshipLoadings:
    """Reduced-rank loadings of a relationship matrix.

    Attributes
    ----------
    loadings : numpy.ndarray
        ``(n, m)`` float64: the first m columns of ``L = Q sqrt(Lambda)`` (all rows).
    eigenvalues : numpy.ndarray
        ``(n,)`` all eigenvalues, descending (for the scree plot).
    n_components : int
        m, the rank used.
    elbow : int
        The automatic elbow (:func:`elbow_rank`), shown even when the user chose another m.
    plateau : int or None
        :func:`plateau_rank` (the paper's rule), None without a flat tail.
    ids : pandas.Series
        ``n`` row ids (str) of the matrix.
    names : list of str
        Column names ``L1`` .. ``Lm``.
    """

    loadings: np.ndarray
    eigenvalues: np.ndarray
    n_components: int
    elbow: int
    ids: pd.Series
    names: list
    plateau: int | None = None

    def __repr__(self) -> str:
        return (f"RelationshipLoadings(n={self.loadings.shape[0]}, m={self.n_components}, "
                f"elbow={self.elbow})")

    @property
    def explained(self) -> float:
        """Fraction of the trace of A carried by the m components."""
        total = float(self.eigenvalues.sum())
        return float(self.eigenvalues[: self.n_components].sum() / total) if total > 0 else 0.0

    def rows(self, ids) -> np.ndarray:
        """Loadings of the given ids (e.g. the genotyped individuals), ``(len(ids), m)``.

        Raises
        ------
        InputDataError
            Some ids are not rows of the matrix (listed).
        """
        index = pd.Index(self.ids.astype(str).to_numpy())
        wanted = np.asarray([str(i) for i in ids], dtype=object)
        pos = index.get_indexer(wanted)
        if (pos < 0).any():
            miss = wanted[pos < 0]
            raise InputDataError(
                f"{miss.size} of {wanted.size} individuals have no row in the relationship "
                f"matrix (e.g. {', '.join(map(str, miss[:5]))}). Use a pedigree or GRM that "
                "covers every genotyped individual."
            )
        return self.loadings[pos]


def pedigree_loadings(A, *, n_components="elbow", ids=None, sensitivity: float = 1.0,
                      max_rank: int | None = None) -> RelationshipLoadings:
    """Reduced-rank loadings ``L_m`` of a relationship matrix (DESIGN §4.2).

    Parameters
    ----------
    A : array-like
        ``(n, n)`` relationship matrix (pedigree A or a GRM), symmetric PSD.
    n_components : "elbow", "plateau", int or None, default "elbow"
        m: ``"elbow"`` = automatic (:func:`elbow_rank`, Kneedle); ``"plateau"`` = the paper's
        rule (:func:`plateau_rank`; falls back to the elbow when the spectrum has no flat
        tail); an int = the user's choice (1..n); None = full rank (every positive
        eigenvalue; then ``L L^T = A`` up to the eigenvalues within
        :func:`spectrum_tolerance` of 0).
    ids : sequence of str, optional
        Row ids (default ``"0"``, ``"1"``, ...).
    sensitivity, max_rank
        Passed to :func:`elbow_rank`.

    Returns
    -------
    RelationshipLoadings

    Raises
    ------
    InputDataError
        Bad matrix (see :func:`relationship_eigen`) or ids of the wrong length.
    ConfigError
        ``n_components`` outside 1..n or of a wrong type.
    """
    vals, vecs = relationship_eigen(A)
    n = vals.size
    if ids is None:
        ids = [str(i) for i in range(n)]
    ids = pd.Series([str(i) for i in ids], dtype=object)
    if len(ids) != n:
        raise InputDataError(f"pedigree_loadings: {len(ids)} ids for a {n} x {n} matrix.")
    elbow = elbow_rank(vals, sensitivity=sensitivity, max_rank=max_rank) if n >= 3 else n
    plateau = plateau_rank(vals)
    positive = int((vals > 0).sum())
    if n_components is None:
        m = positive
    elif isinstance(n_components, str):
        if n_components not in ("elbow", "plateau"):
            raise ConfigError(
                f"n_components: 'elbow', 'plateau', an integer or None (full rank); got "
                f"{n_components!r}."
            )
        m = min(plateau if n_components == "plateau" and plateau else elbow, positive)
    elif isinstance(n_components, int | np.integer) and not isinstance(n_components, bool):
        m = int(n_components)
        if not 1 <= m <= n:
            raise ConfigError(f"n_components: must be in 1..{n} (the matrix size), got {m}.")
    else:
        raise ConfigError(
            f"n_components: 'elbow', 'plateau', an integer or None (full rank); got "
            f"{n_components!r}."
        )
    L = vecs[:, :m] * np.sqrt(vals[:m])
    return RelationshipLoadings(loadings=L, eigenvalues=vals, n_components=m, elbow=int(elbow),
                                ids=ids, names=[f"L{k + 1}" for k in range(m)], plateau=plateau)
