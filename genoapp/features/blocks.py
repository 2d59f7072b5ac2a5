"""Genotype sources for the streaming Gene-PCA: blocks of variants from RAM or from a .bed file.

A *source* delivers, for a sorted array of variant (column) indices, the block of dosages of those
variants for a fixed list of rows, some of which are *fitting rows* (used to fit the means and
the PCA; the others are only projected). Blocks are returned variant-major (one row per
variant), the layout of a SNP-major PLINK .bed, so that a gene made of consecutive variants is a
contiguous slice of the block.

Two preparations of a block exist (:class:`Block`):

``"exact"``
    float64 dosages, mean-imputed with the fitting rows' means and centred (missing -> 0 after
    centring), on the requested torch device. Works for any real-valued dosages.
``"fast"``
    for integer dosages (0, 1, 2, missing): centred float32 values (as above) for all rows, the
    integer dosages of the fitting rows as int8 with missing -> 0, and the lists of missing
    fitting rows per variant. Covariances are then computed exactly from the int8 values
    (integer matrix product plus a correction for the missing genotypes, see
    :mod:`genoapp.features.genepca`).

The .bed is memory-mapped and unpacked by a compiled kernel (:mod:`._kernels`), so a block costs
one pass over its bytes and the dense (samples x variants) matrix never exists. Rows keep the
caller's order (the output order); fitting rows are given by their positions.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from genoapp.errors import InputDataError

__all__ = ["ArraySource", "BedFile", "BedSource", "Block", "make_source"]


@dataclasses.dataclass
class Block:
    """One prepared block of variants (rows = variants, columns = the source's rows in order).

    Attributes
    ----------
    means : numpy.ndarray of float64, shape (w,)
        Mean dosage of each variant over the observed fitting rows (imputation value); 0 for a
        variant without any observed fitting row.
    n_miss_fit, n_miss_all : numpy.ndarray of int64, shape (w,)
        Missing genotypes per variant in the fitting rows and in all rows.
    centred : torch.Tensor, shape (w + 1, n)
        Centred, mean-imputed dosages: float64 on the device (``"exact"``) or float32 on the CPU
        (``"fast"``); the extra last row is zeros (padding for batched small genes). May be a
        view of a buffer reused by the next block.
    fit : slice or torch.Tensor of int64
        Columns of ``centred`` that are fitting rows (``slice(None)``: all).
    y8 : torch.Tensor of int8, shape (w + 1, n_fit), or None
        ``"fast"`` only: dosages of the fitting rows, missing -> 0 (last row: zeros, padding).
    miss_ptr, miss_idx : numpy.ndarray of int64, or None
        ``"fast"`` only: CSR lists of the missing fitting rows (positions among the fitting rows)
        of each variant.
    sums : numpy.ndarray of float64, shape (w,), or None
        ``"fast"`` only: sum of the observed dosages of the fitting rows.
    codes : numpy.ndarray of int8, shape (w, n), or None
        ``"fast"`` only: the dosages, -1 = missing (a reused buffer).
    fit_pos : numpy.ndarray of int64, or None
        ``"fast"`` only: columns of ``codes`` that are fitting rows.
    """

    means: np.ndarray
    n_miss_fit: np.ndarray
    n_miss_all: np.ndarray
    centred: object
    fit: object
    y8: object = None
    miss_ptr: np.ndarray | None = None
    miss_idx: np.ndarray | None = None
    sums: np.ndarray | None = None
    codes: np.ndarray | None = None
    fit_pos: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class BedFile:
    """The dimensions and paths of a PLINK fileset, without its tables (what :class:`BedSource`
    reads; a Dask worker builds one from a path instead of parsing the .bim/.fam again)."""

    bed_path: Path
    fam_path: Path
    n_samples: int
    n_variants: int

    @classmethod
    def check(cls, bed, fam, *, n_samples: int, n_variants: int) -> BedFile:
        """Check the .bed's magic bytes and size, then describe it.

        Raises
        ------
        InputDataError
            The file cannot be read here (not on shared storage?) or does not match.
        """
        bed = Path(bed)
        expected = 3 + int(n_variants) * ((int(n_samples) + 3) // 4)
        try:
            with open(bed, "rb") as fh:
                magic = fh.read(3)
            size = bed.stat().st_size
        except OSError as exc:
            raise InputDataError(
                f".bed file {bed}: cannot be read on this machine ({exc}). Cluster workers read "
                "the genotypes by path: put the fileset on storage every worker mounts at the "
                "same path."
            ) from None
        if magic != b"\x6c\x1b\x01" or size != expected:
            raise InputDataError(
                f".bed file {bed}: {size:,} bytes starting {magic.hex(' ')}; expected {expected:,} "
                "bytes starting 6c 1b 01. The file changed since it was opened; open it again."
            )
        return cls(bed, Path(fam), int(n_samples), int(n_variants))


def _torch():
    import torch  # lazy: about 3 s

    return torch


class _Source:
    """Common part: fitting rows, buffers reused between blocks, preparation of int8 codes."""

    def __init__(self, n_rows: int, fit_pos):
        self.n_rows = int(n_rows)
        if fit_pos is None:
            fit_pos = np.arange(self.n_rows)
        self.fit_pos = np.ascontiguousarray(fit_pos, dtype=np.int64)
        self.n_fit = len(self.fit_pos)
        self.all_fit = bool(self.n_fit == self.n_rows)
        self._buffers: dict[str, np.ndarray] = {}
        self._capacity = 0
        self.pool = None  # a concurrent.futures executor for the row-chunked kernels, or None

    def _rows(self, w: int, fn) -> None:
        """Run ``fn(slice)`` over chunks of the ``w`` block rows, in ``self.pool`` if set."""
        if w == 0:
            return
        n_chunks = 1 if self.pool is None else max(1, min(4 * self.pool._max_workers, w))
        bounds = np.linspace(0, w, n_chunks + 1).astype(np.int64)
        slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        if self.pool is None or len(slices) == 1:
            for sl in slices:
                fn(sl)
        else:
            list(self.pool.map(fn, slices))

    def reserve(self, n_variants: int) -> None:
        """Size the reused block buffers for blocks of up to ``n_variants`` variants (plus the
        padding row), so that they are allocated (and their pages touched) once."""
        self._capacity = max(self._capacity, int(n_variants) + 1)

    def _buffer(self, name: str, w: int, n: int, dtype) -> np.ndarray:
        buf = self._buffers.get(name)
        if buf is None or buf.shape[0] < w or buf.shape[1] != n:
            buf = np.empty((max(w, self._capacity, 1), n), dtype=dtype)
            self._buffers[name] = buf
        return buf[:w]

    def _fit_selector(self, device):
        if self.all_fit:
            return slice(None)
        return _torch().from_numpy(self.fit_pos).to(device)

    def _from_codes(self, codes: np.ndarray, means, mode: str, device) -> Block:
        """Statistics, imputation and centring of an int8 code block (w, n), -1 = missing."""
        import genoapp.features._kernels as K

        torch = _torch()
        w, n = codes.shape
        sums = np.zeros(w, dtype=np.int64)
        n_obs = np.zeros(w, dtype=np.int64)
        miss_all = np.zeros(w, dtype=np.int64)
        self._rows(w, lambda sl: K.code_stats(codes[sl], self.fit_pos, sums[sl], n_obs[sl],
                                              miss_all[sl]))
        miss_fit = self.n_fit - n_obs
        if means is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(n_obs > 0, sums / np.maximum(n_obs, 1), 0.0)
        means = np.ascontiguousarray(means, dtype=np.float64)
        fit = self._fit_selector(device)
        if mode == "exact":
            t = torch.from_numpy(codes).to(device)
            x = torch.zeros((w + 1, n), dtype=torch.float64, device=device)
            x[:w] = t
            x[:w].sub_(torch.from_numpy(means).to(device)[:, None])
            x[:w].masked_fill_(t < 0, 0.0)
            return Block(means, miss_fit, miss_all, x, fit)
        ptr = np.zeros(w + 1, dtype=np.int64)
        np.cumsum(miss_fit, out=ptr[1:])
        idx = np.empty(int(ptr[-1]), dtype=np.int64)
        xc = self._buffer("xc", w + 1, n, np.float32)
        xc[w] = 0.0
        y8 = self._buffer("y8", w + 1, self.n_fit, np.int8)
        y8[w] = 0
        self._rows(w, lambda sl: K.centre_codes(codes[sl], means[sl], self.fit_pos, xc[sl],
                                                y8[sl], ptr[sl.start : sl.stop + 1], idx))
        return Block(means, miss_fit, miss_all, torch.from_numpy(xc), fit, torch.from_numpy(y8),
                     ptr, idx, sums.astype(np.float64), codes, self.fit_pos)


class ArraySource(_Source):
    """Blocks from an in-memory (samples x variants) dosage matrix.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_samples, n_variants)
        Dosages (float; NaN = missing). Not modified.
    rows : numpy.ndarray of int, shape (n,), or None
        Rows of ``X`` to deliver, in output order (None: all rows).
    fit_pos : numpy.ndarray of int, or None
        Positions (in ``rows``) of the fitting rows, sorted (None: all).
    """

    def __init__(self, X, rows=None, fit_pos=None):
        self.X = X
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        if self.rows is not None and np.array_equal(self.rows, np.arange(X.shape[0])):
            self.rows = None
        super().__init__(X.shape[0] if self.rows is None else len(self.rows), fit_pos)
        self.n_variants = X.shape[1]

    def _take(self, cols: np.ndarray) -> np.ndarray:
        if self.rows is None:
            return self.X[:, cols]
        return self.X[np.ix_(self.rows, cols)]

    def is_integer_coded(self, cols: np.ndarray) -> bool:
        """True when the used columns hold only 0, 1, 2 and NaN."""
        step = 4096
        for j0 in range(0, len(cols), step):
            b = np.asarray(self.X[:, cols[j0 : j0 + step]])
            ok = np.isnan(b) | (b == 0) | (b == 1) | (b == 2)
            if not ok.all():
                return False
        return True

    def block(self, cols: np.ndarray, *, mode: str, means=None, device="cpu") -> Block:
        sub = self._take(cols)  # (n, w)
        if mode == "fast":
            codes = self._buffer("codes", len(cols), self.n_rows, np.int8)
            codes[...] = np.where(np.isnan(sub), -1, sub).T
            return self._from_codes(codes, means, mode, device)
        torch = _torch()
        w = len(cols)
        xp = np.zeros((w + 1, self.n_rows), dtype=np.float64)  # last row: padding
        x = xp[:w]
        x[...] = sub.T
        miss = np.isnan(x)
        n_miss_all = miss.sum(axis=1).astype(np.int64)
        fit_miss = miss if self.all_fit else miss[:, self.fit_pos]
        n_miss_fit = fit_miss.sum(axis=1).astype(np.int64)
        if means is None:
            xf = x if self.all_fit else x[:, self.fit_pos]
            n_obs = self.n_fit - n_miss_fit
            s = np.where(fit_miss, 0.0, xf).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(n_obs > 0, s / np.maximum(n_obs, 1), 0.0)
        means = np.asarray(means, dtype=np.float64)
        x -= means[:, None]
        x[miss] = 0.0
        return Block(means, n_miss_fit, n_miss_all, torch.from_numpy(xp).to(device),
                     self._fit_selector(device))


class BedSource(_Source):
    """Blocks unpacked from a PLINK 1 .bed file (memory-mapped; the dense matrix is never built).

    Parameters
    ----------
    genotypes : genoapp.io.PlinkGenotypes or BedFile
        The opened fileset (validated .bed size and magic bytes).
    rows : numpy.ndarray of int, shape (n,), or None
        Samples (0-based rows of the .fam) to deliver, in output order (None: all, file order).
    fit_pos : numpy.ndarray of int, or None
        Positions (in ``rows``) of the fitting rows, sorted (None: all).
    """

    def __init__(self, genotypes, rows=None, fit_pos=None):
        n_file = genotypes.n_samples
        self.genotypes = genotypes
        rows = None if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
        if rows is not None and len(rows) and (rows.min() < 0 or rows.max() >= n_file):
            raise InputDataError(
                f"samples: row indices must be in 0..{n_file - 1} (rows of {genotypes.fam_path})."
            )
        if rows is not None and np.array_equal(rows, np.arange(n_file)):
            rows = None
        self.rows = rows
        super().__init__(n_file if rows is None else len(rows), fit_pos)
        self.n_variants = genotypes.n_variants
        nbytes = (n_file + 3) // 4
        self._bed = None
        if genotypes.n_variants:
            self._bed = np.asarray(np.memmap(genotypes.bed_path, dtype=np.uint8, mode="r",
                                             offset=3, shape=(genotypes.n_variants, nbytes)))

    @staticmethod
    def is_integer_coded(cols) -> bool:
        return True

    def spec(self) -> dict:
        """What a Dask worker needs to open the same source: the .bed path (to be read from
        shared storage), the fileset's dimensions, the rows and the fitting rows (no genotype)."""
        g = self.genotypes
        return {"bed": str(Path(g.bed_path).absolute()), "fam": str(g.fam_path), "n_samples": int(g.n_samples),
                "n_variants": int(g.n_variants), "rows": self.rows, "fit_pos": self.fit_pos}

    @classmethod
    def from_spec(cls, spec: dict) -> BedSource:
        """The source described by :meth:`spec` (the .bed is checked, the .bim/.fam not read).

        Raises
        ------
        InputDataError
            The .bed is absent on this machine or its size does not match the fileset.
        """
        return cls(BedFile.check(spec["bed"], spec["fam"], n_samples=spec["n_samples"],
                                 n_variants=spec["n_variants"]), spec["rows"], spec["fit_pos"])

    def codes(self, cols: np.ndarray) -> np.ndarray:
        """int8 dosages of A1, (len(cols), n_rows), -1 = missing (a reused buffer)."""
        import genoapp.features._kernels as K

        out = self._buffer("codes", len(cols), self.n_rows, np.int8)
        cols = np.ascontiguousarray(cols, dtype=np.int64)
        if len(cols) and self.n_rows:
            if self.rows is None:
                self._rows(len(cols), lambda sl: K.unpack_bed_all(self._bed, cols[sl], self.n_rows,
                                                                  out[sl]))
            else:
                self._rows(len(cols), lambda sl: K.unpack_bed(self._bed, cols[sl], self.rows,
                                                              out[sl]))
        return out

    def block(self, cols: np.ndarray, *, mode: str, means=None, device="cpu") -> Block:
        return self._from_codes(self.codes(cols), means, mode, device)


def make_source(genotypes, rows=None, fit_pos=None):
    """A source for an array, a :class:`~genoapp.io.PlinkGenotypes` or a PLINK prefix/path.

    Parameters
    ----------
    genotypes : numpy.ndarray (n_samples, n_variants), PlinkGenotypes, str or path-like
    rows : array of int, optional
        Rows (samples) to deliver, in output order (indices into the array rows / .fam).
    fit_pos : array of int, optional
        Sorted positions (in ``rows``) of the fitting rows; default all.

    Returns
    -------
    ArraySource or BedSource

    Raises
    ------
    InputDataError
        Unreadable fileset or array.
    """
    from genoapp.io import PlinkGenotypes, open_plink

    if isinstance(genotypes, (str, os.PathLike, Path)):
        genotypes = open_plink(genotypes)
    if isinstance(genotypes, PlinkGenotypes):
        return BedSource(genotypes, rows, fit_pos)
    X = genotypes
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        X = np.asarray(X)
    if X.ndim != 2:
        raise InputDataError(
            f"genotypes: expected a 2-D (samples x variants) dosage matrix, found shape {X.shape}."
        )
    if X.dtype not in (np.float32, np.float64):
        if not np.issubdtype(X.dtype, np.number) and X.dtype != bool:
            raise InputDataError(
                f"genotypes: expected numeric dosages (0, 1, 2, NaN = missing), found dtype {X.dtype}."
            )
        X = X.astype(np.float64)
    return ArraySource(X, rows, fit_pos)

