"""GCTA binary relationship matrices (``PREFIX.grm.bin`` + ``PREFIX.grm.id``).

Format (GCTA, https://yanglab.westlake.edu.cn/software/gcta/#MakingaGRM): ``.grm.id`` holds one
``FID<TAB>IID`` line per individual; ``.grm.bin`` the lower triangle of the n x n matrix
**including the diagonal**, row by row ((0,0), (1,0), (1,1), (2,0), (2,1), (2,2), ...), as
float32 little-endian: ``n (n + 1) / 2`` values. ``.grm.N.bin`` (numbers of SNPs per pair) is
not needed here and is ignored. Any relationship matrix can be stored this way (the project's
pedigree A matrices are).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import InputDataError
from genoapp.fileio import atomic_path
from genoapp.io.sanitize import clean_text

__all__ = ["GRM", "grm_paths", "read_grm", "write_grm"]


@dataclasses.dataclass(repr=False)
class GRM:
    """A relationship matrix with the ids of its rows.

    Attributes
    ----------
    matrix : numpy.ndarray
        ``(n, n)`` float64, symmetric.
    ids : pandas.DataFrame
        ``n`` rows: ``FID``, ``IID`` (str), in matrix order.
    source : str
        File prefix or ``"matrix"``.
    """

    matrix: np.ndarray
    ids: pd.DataFrame
    source: str = "matrix"

    @property
    def n(self) -> int:
        return int(self.matrix.shape[0])

    def __repr__(self) -> str:
        return f"GRM({self.source!r}, n={self.n})"


def grm_paths(path: str | os.PathLike) -> tuple[Path, Path, Path]:
    """``(prefix, prefix.grm.bin, prefix.grm.id)`` for a prefix or either file's path."""
    p = Path(os.fspath(path)).expanduser()
    name = p.name
    for suffix in (".grm.bin", ".grm.id", ".grm.N.bin", ".grm"):
        if name.endswith(suffix):
            p = p.with_name(name[: -len(suffix)])
            break
    return p, Path(f"{p}.grm.bin"), Path(f"{p}.grm.id")


def read_grm(path: str | os.PathLike) -> GRM:
    """Read a GCTA binary GRM into a full symmetric matrix.

    Parameters
    ----------
    path : str or path-like
        The prefix (``dir/name`` for ``dir/name.grm.bin``) or the path of the ``.grm.bin`` or
        ``.grm.id`` file.

    Returns
    -------
    GRM
        ``matrix`` (n, n) float64 (values as stored in float32), ``ids`` (FID, IID).

    Raises
    ------
    InputDataError
        A file is missing, the id file is malformed or has duplicated ids, the ``.grm.bin``
        does not hold ``n (n + 1) / 2`` float32 values for the n ids, or values are not
        finite.
    """
    prefix, bin_path, id_path = grm_paths(path)
    missing = [str(p) for p in (bin_path, id_path) if not p.is_file()]
    if missing:
        raise InputDataError(
            f"GRM {prefix}: missing {', '.join(missing)}. A GCTA binary GRM is two files with "
            "the same prefix: PREFIX.grm.bin (float32 lower triangle) and PREFIX.grm.id "
            "(FID IID per line)."
        )
    try:
        ids = pd.read_csv(id_path, sep=r"\s+", header=None, dtype=str, engine="python",
                          keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputDataError(f"GRM id file {id_path} is empty; expected FID IID per line.") from None
    except UnicodeDecodeError:
        raise InputDataError(
            f"GRM id file {id_path} is not a UTF-8 text file; expected FID IID per line."
        ) from None
    except pd.errors.ParserError:
        raise InputDataError(
            f"GRM id file {id_path}: lines have different numbers of fields; expected FID IID "
            "per line."
        ) from None
    if ids.shape[1] < 2:
        raise InputDataError(
            f"GRM id file {id_path}: {ids.shape[1]} column(s) per line; expected 2 (FID IID)."
        )
    ids = ids.iloc[:, :2].copy()
    ids.columns = ["FID", "IID"]
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise InputDataError(
            f"GRM id file {id_path}: {int(dup.sum())} lines repeat an (FID, IID) pair, e.g. "
            f"{clean_text(ids.loc[dup, 'FID'].iloc[0])} {clean_text(ids.loc[dup, 'IID'].iloc[0])}. "
            "Each individual must appear once."
        )
    n = len(ids)
    n_values = n * (n + 1) // 2
    size = bin_path.stat().st_size
    if size != 4 * n_values:
        guess = (np.sqrt(8 * size / 4 + 1) - 1) / 2
        raise InputDataError(
            f"GRM {bin_path}: {size:,} bytes; with {n:,} ids in {id_path.name} it must hold "
            f"n(n+1)/2 = {n_values:,} float32 values = {4 * n_values:,} bytes. The file holds "
            f"values for about {guess:,.1f} individuals: the .grm.id belongs to another matrix, "
            "or the .grm.bin is truncated or not float32 (GCTA --make-grm-bin writes float32)."
        )
    tri = np.fromfile(bin_path, dtype="<f4", count=n_values)
    if not np.isfinite(tri).all():
        raise InputDataError(
            f"GRM {bin_path}: {int((~np.isfinite(tri)).sum())} values are NaN or infinite."
        )
    mat = np.empty((n, n), dtype=np.float64)
    start = 0
    for i in range(n):  # row i of the lower triangle: (i, 0) .. (i, i)
        row = tri[start:start + i + 1]
        mat[i, :i + 1] = row
        mat[:i, i] = row[:i]
        start += i + 1
    return GRM(matrix=mat, ids=ids.reset_index(drop=True), source=str(prefix))


def write_grm(path: str | os.PathLike, matrix, ids: pd.DataFrame) -> Path:
    """Write a relationship matrix as a GCTA binary GRM, atomically.

    Parameters
    ----------
    path : str or path-like
        Prefix (or a ``.grm.bin`` / ``.grm.id`` path).
    matrix : array-like
        ``(n, n)`` symmetric matrix; its lower triangle (with the diagonal) is written as
        float32.
    ids : pandas.DataFrame
        ``n`` rows with ``FID`` and ``IID`` (or ``IID`` only: FID = IID).

    Returns
    -------
    pathlib.Path
        The prefix.

    Raises
    ------
    InputDataError
        Not square, shape differs from the ids, not symmetric, or not finite.
    StorageError
        The folder cannot be written (disk full, read-only); nothing is left behind.
    """
    prefix, bin_path, id_path = grm_paths(path)
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] != len(ids):
        raise InputDataError(
            f"write_grm: matrix of shape {a.shape} for {len(ids)} ids; expected (n, n) with n "
            "the number of ids."
        )
    if not np.isfinite(a).all():
        raise InputDataError("write_grm: the matrix holds NaN or infinite values.")
    if not np.allclose(a, a.T, rtol=1e-6, atol=1e-8):
        raise InputDataError("write_grm: the matrix is not symmetric.")
    iid = ids["IID"].astype(str).to_numpy()
    fid = ids["FID"].astype(str).to_numpy() if "FID" in ids.columns else iid
    with atomic_path(bin_path, what="the GRM .grm.bin file") as tmp_bin, \
            atomic_path(id_path, what="the GRM .grm.id file") as tmp_id:
        rows = np.tril_indices(a.shape[0]) if a.shape[0] <= 4096 else None
        with open(tmp_bin, "wb") as fh:
            if rows is not None:
                a[rows].astype("<f4").tofile(fh)
            else:
                for i in range(a.shape[0]):
                    a[i, :i + 1].astype("<f4").tofile(fh)
        with open(tmp_id, "w", encoding="utf-8") as fh:
            fh.writelines(f"{f}\t{i}\n" for f, i in zip(fid, iid, strict=True))
    return prefix
