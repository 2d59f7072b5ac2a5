"""Compiled (numba) kernels of the streaming Gene-PCA: .bed unpacking, per-variant statistics,
centring with mean imputation, and the exact integer covariance with missing genotypes.

Private module; see :mod:`genoapp.features.blocks` and :mod:`genoapp.features.genepca`. Kernels
are serial and release the GIL (``nogil``): the callers run them on row chunks in their own
worker threads (no OpenMP team competing with PyTorch's), and they never allocate their large
outputs.

PLINK 1 .bed coding (SNP-major; https://www.cog-genomics.org/plink/1.9/formats#bed): 2 bits per
sample, lowest bits first; ``00`` = homozygous A1 (dosage 2), ``01`` = missing, ``10`` =
heterozygous (1), ``11`` = homozygous A2 (0). Codes here are int8 dosages of A1, ``-1`` = missing.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# 2-bit .bed value -> dosage of A1 (-1 = missing)
_BED_TO_DOSAGE = np.array([2, -1, 1, 0], dtype=np.int8)
# byte -> the 4 dosages it holds
_BYTE_TO_DOSAGES = _BED_TO_DOSAGE[(np.arange(256)[:, None] >> (2 * np.arange(4))[None, :]) & 3]


@nb.njit(cache=True, nogil=True, boundscheck=False)
def unpack_bed(bed, variants, samples, out):  # pragma: no cover - compiled
    """``out[j, r]`` = dosage of sample ``samples[r]`` at variant ``variants[j]`` (-1 missing).

    bed : uint8 (n_variants_file, bytes_per_variant); variants : int64 (w,); samples : int64 (n,);
    out : int8 (w, n).
    """
    w = variants.shape[0]
    n = samples.shape[0]
    for j in range(w):
        row = bed[variants[j]]
        for r in range(n):
            i = samples[r]
            out[j, r] = _BED_TO_DOSAGE[(row[i >> 2] >> ((i & 3) << 1)) & 3]


@nb.njit(cache=True, nogil=True, boundscheck=False)
def unpack_bed_all(bed, variants, n, out):  # pragma: no cover - compiled
    """As :func:`unpack_bed` for the first ``n`` samples of the file, in file order."""
    w = variants.shape[0]
    full = n // 4
    for j in range(w):
        row = bed[variants[j]]
        for b in range(full):
            v = row[b]
            out[j, 4 * b] = _BYTE_TO_DOSAGES[v, 0]
            out[j, 4 * b + 1] = _BYTE_TO_DOSAGES[v, 1]
            out[j, 4 * b + 2] = _BYTE_TO_DOSAGES[v, 2]
            out[j, 4 * b + 3] = _BYTE_TO_DOSAGES[v, 3]
        for r in range(4 * full, n):
            out[j, r] = _BYTE_TO_DOSAGES[row[r >> 2], r & 3]


@nb.njit(cache=True, nogil=True, boundscheck=False)
def code_stats(codes, fit_pos, sums, n_obs_fit, n_miss_all):  # pragma: no cover
    """Per variant (row of ``codes``): sum and count of observed dosages over the columns
    ``fit_pos``, and the number of missing values over all columns."""
    w, n = codes.shape
    n_fit = fit_pos.shape[0]
    for j in range(w):
        s = 0
        c = 0
        for q in range(n_fit):
            v = codes[j, fit_pos[q]]
            if v >= 0:
                s += v
                c += 1
        m_all = 0
        for r in range(n):
            if codes[j, r] < 0:
                m_all += 1
        sums[j] = s
        n_obs_fit[j] = c
        n_miss_all[j] = m_all


@nb.njit(cache=True, nogil=True, fastmath=True, boundscheck=False)
def _centre_rows(codes, means, xc):  # pragma: no cover
    w, n = codes.shape
    for j in range(w):
        mu = np.float32(means[j])
        row = codes[j]
        out = xc[j]
        for r in range(n):
            v = np.float32(row[r])
            out[r] = (v - mu) * np.float32(v >= 0)


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _fit_codes(codes, fit_pos, y8, miss_ptr, miss_idx):  # pragma: no cover
    w = codes.shape[0]
    n_fit = fit_pos.shape[0]
    for j in range(w):
        row = codes[j]
        out = y8[j]
        p = miss_ptr[j]
        for q in range(n_fit):
            v = row[fit_pos[q]]
            if v >= 0:
                out[q] = v
            else:
                out[q] = 0
                miss_idx[p] = q
                p += 1


def centre_codes(codes, means, fit_pos, xc, y8, miss_ptr, miss_idx):
    """``xc = code - mean`` (0 where missing: mean imputation, then centring) for all columns;
    ``y8[j, q] = max(code[j, fit_pos[q]], 0)``; CSR lists (``miss_idx[miss_ptr[j]:miss_ptr[j+1]]``)
    of the fitting positions ``q`` where variant ``j`` is missing."""
    _centre_rows(codes, means, xc)
    _fit_codes(codes, fit_pos, y8, miss_ptr, miss_idx)


# Per-gene kernels: serial (they run in several worker threads at once, hence nogil).
@nb.njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def missing_products(ct, ptr, idx, c_obs, c_miss):  # pragma: no cover
    """Missing-genotype cross products of one gene with m variants.

    ct : int8 (n_fit, m), the gene's dosages of the fitting rows, sample-major, -1 = missing;
    ptr, idx : CSR of the missing fitting positions of each variant;
    c_obs, c_miss : int32 (m, m), zero on entry; on return
    c_obs[b, a] = sum over samples i missing at b of max(ct[i, a], 0)   (= (Y'D)[a, b]),
    c_miss[b, a] = number of samples missing at both a and b             (= (D'D)[a, b]).
    """
    m = ct.shape[1]
    for b in range(m):
        acc_o = c_obs[b]
        acc_m = c_miss[b]
        for e in range(ptr[b], ptr[b + 1]):
            row = ct[idx[e]]
            for a in range(m):
                v = np.int32(row[a])
                acc_o[a] += max(v, 0)
                acc_m[a] += (v >> 31) & 1


@nb.njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def combine_cov(g, mu, s, c, n_fit, c_obs, c_miss, out):  # pragma: no cover
    """Covariance of the mean-imputed, centred dosages from integer products (float64).

    out[a, b] = (Y'Y - mu_b (s_a - YD_ab) - mu_a (s_b - YD_ba)
                 + mu_a mu_b (n - c_a - c_b + DD_ab)) / (n - 1),  with YD_ab = c_obs[b, a].
    """
    m = g.shape[0]
    for a in range(m):
        for b in range(m):
            yd_ab = c_obs[b, a]
            yd_ba = c_obs[a, b]
            v = (g[a, b] - mu[b] * (s[a] - yd_ab) - mu[a] * (s[b] - yd_ba)
                 + mu[a] * mu[b] * (n_fit - c[a] - c[b] + c_miss[a, b]))
            out[a, b] = v / (n_fit - 1)


@nb.njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def small_cov(g, codes, fit_pos, rows, sizes, miss_ptr, miss_idx, means, sums, n_miss, n_fit,
              out):  # pragma: no cover
    """Exact covariances of a batch of small genes from their integer products.

    g : float32 (B, P, P), Y'Y of the genes' dosages over the fitting rows (missing -> 0; exact
    in float32 for integer dosages); codes : int8 (w, n), -1 = missing; fit_pos : fitting
    columns; rows : int64 (B, P), block rows of each gene (first ``sizes[b]`` valid); miss_ptr,
    miss_idx : CSR of missing fitting positions per block row; means, sums, n_miss : per block
    row. out : float64 (B, P, P), zero on entry: the covariance (as :func:`combine_cov`).
    """
    B = rows.shape[0]
    for bb in range(B):
        m = sizes[bb]
        yd = np.zeros((m, m))
        dd = np.zeros((m, m))
        for b in range(m):
            rb = rows[bb, b]
            for e in range(miss_ptr[rb], miss_ptr[rb + 1]):
                col = fit_pos[miss_idx[e]]
                for a in range(m):
                    v = codes[rows[bb, a], col]
                    if v >= 0:
                        yd[a, b] += v
                    else:
                        dd[a, b] += 1.0
        for a in range(m):
            ra = rows[bb, a]
            for b in range(m):
                rb = rows[bb, b]
                v = (g[bb, a, b] - means[rb] * (sums[ra] - yd[a, b])
                     - means[ra] * (sums[rb] - yd[b, a])
                     + means[ra] * means[rb] * (n_fit - n_miss[ra] - n_miss[rb] + dd[a, b]))
                out[bb, a, b] = v / (n_fit - 1)
