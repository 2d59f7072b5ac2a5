"""Feature matrices as chunked Zarr v3 stores, for a training step on other machines.

A feature matrix (samples x features, float32) with its row and column names is written as one
Zarr v3 group (a folder), so that a training job (or a cluster of them) reads the rows it needs
chunk by chunk, from local disk or shared/object storage, without loading the whole matrix::

    features.zarr/
        zarr.json           group attributes: format marker, shape, the caller's attributes
        X/                  (n_samples, n_features) float32, chunked, zstd-compressed
        samples/<column>    one string array per column of the samples table (FID, IID, ...)
        features/<column>   one string array per column of the features table (name, gene, ...)
        y                   (n_samples,) int8 labels 0 = control, 1 = case (when given): the
                            store is then a training input of ``python -m genoapp train-ddp``

The store is written under a temporary name beside its final path and renamed into place
when complete (:func:`genoapp.fileio.atomic_path`): a reader never sees half a store.
Strings use Zarr's variable-length UTF-8 ``string`` data type (NumPy ``StringDType``).

Source: Zarr v3 specification (https://zarr-specs.readthedocs.io/en/latest/v3/core/);
zarr-python 3 documentation ("Working with groups", "Arrays").
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.fileio import atomic_path

__all__ = ["FeatureStore", "open_features_zarr", "write_features_zarr"]

#: Marker in the group attributes of a store written by genoapp (format version).
FORMAT = "genoapp.features/1"
#: Default chunk shape (rows, columns): 1,024 samples x 4,096 features = 16 MB float32.
DEFAULT_CHUNKS = (1024, 4096)
# Rows copied per step while writing (bounded memory whatever the matrix size).
_WRITE_ROWS = 4096


@dataclasses.dataclass
class FeatureStore:
    """A feature matrix opened from a Zarr store (:func:`open_features_zarr`).

    Attributes
    ----------
    X : zarr.Array, shape (n_samples, n_features)
        The matrix, read lazily: ``X[rows]`` or :meth:`read` returns NumPy arrays.
    samples : pandas.DataFrame
        One row per sample (string columns as written, e.g. ``FID``, ``IID``).
    features : pandas.DataFrame
        One row per feature (e.g. ``name``, ``gene``).
    attrs : dict
        The attributes given to :func:`write_features_zarr`.
    path : pathlib.Path
    """

    X: object
    samples: pd.DataFrame
    features: pd.DataFrame
    attrs: dict
    path: Path

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_samples, n_features)``."""
        return tuple(int(v) for v in self.X.shape)

    @property
    def feature_names(self) -> np.ndarray:
        """The ``name`` column of :attr:`features` (or its first column)."""
        col = "name" if "name" in self.features.columns else self.features.columns[0]
        return self.features[col].to_numpy(dtype=object)

    def read(self, rows=None, cols=None) -> np.ndarray:
        """Read a block into memory.

        Parameters
        ----------
        rows, cols : slice, array of int or bool mask, optional
            Samples / features to read (default all).

        Returns
        -------
        numpy.ndarray, float32, shape (n_rows, n_cols)
        """
        r = slice(None) if rows is None else rows
        c = slice(None) if cols is None else cols
        if isinstance(r, slice) and isinstance(c, slice):
            return np.asarray(self.X[r, c])
        if not isinstance(r, slice):
            r = np.flatnonzero(r) if np.asarray(r).dtype == bool else np.asarray(r, dtype=np.int64)
        if not isinstance(c, slice):
            c = np.flatnonzero(c) if np.asarray(c).dtype == bool else np.asarray(c, dtype=np.int64)
        return np.asarray(self.X.oindex[r, c])


def _table(obj, n: int, default_column: str, what: str) -> pd.DataFrame:
    """A table of strings with ``n`` rows from a DataFrame or a 1-D array (None: row numbers)."""
    if obj is None:
        return pd.DataFrame({default_column: np.arange(n).astype(str)})
    if isinstance(obj, pd.DataFrame):
        df = obj.reset_index(drop=True)
    else:
        arr = np.asarray(obj)
        if arr.ndim != 1:
            raise InputDataError(f"{what}: expected a DataFrame or a 1-D array of names; found "
                                 f"shape {arr.shape}.")
        df = pd.DataFrame({default_column: arr})
    if len(df) != n:
        raise InputDataError(f"{what}: {len(df)} rows for a matrix with {n}; give one name per "
                             f"{'sample' if what == 'samples' else 'feature'}.")
    bad = [c for c in df.columns if not str(c) or "/" in str(c) or str(c).startswith(".")]
    if bad:
        raise InputDataError(f"{what}: column names {bad} cannot be stored (empty, '/' or a "
                             "leading '.'); rename them.")
    return df


def _strings(values) -> np.ndarray:
    out = pd.Series(values, dtype=object).map(lambda v: "" if v is None or (
        isinstance(v, float) and np.isnan(v)) else str(v))
    return np.array(out.tolist(), dtype=np.dtypes.StringDType())


def _json_attrs(attrs) -> dict:
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise ConfigError(f"attrs: expected a dict of JSON values, found {type(attrs).__name__}.")
    try:
        return json.loads(json.dumps(attrs, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"attrs: values must be JSON-serialisable ({exc}).") from None


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"{type(v).__name__} is not JSON-serialisable")


def write_features_zarr(X, path, *, samples=None, features=None, attrs=None, chunks=None,
                        dtype="float32", labels=None, overwrite: bool = False) -> Path:
    """Write a feature matrix and its names as a chunked Zarr v3 store, atomically.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
        The features (a NumPy array, a memmap such as Gene-PCA's ``.npy`` output, or anything
        sliceable by rows); copied in blocks of rows, never whole.
    path : str or path-like
        The store (a folder; by convention ending in ``.zarr``).
    samples : pandas.DataFrame or array-like of str, optional
        One row per sample (e.g. the ``FID``/``IID`` columns of the cohort) or a 1-D array of
        sample IDs (stored as column ``id``); default row numbers.
    features : pandas.DataFrame or array-like of str, optional
        One row per feature (e.g. columns ``name`` and ``gene``) or a 1-D array of names
        (stored as column ``name``); default column numbers.
    attrs : dict, optional
        JSON-serialisable attributes kept with the store (settings, provenance).
    chunks : tuple of int, optional
        Chunk shape (rows, columns); default :data:`DEFAULT_CHUNKS`, cut to the matrix.
    dtype : {"float32", "float64"}, default "float32"
    labels : array-like (n_samples,), optional
        Case/control labels, 0 = control, 1 = case, stored as the int8 array ``y``.
    overwrite : bool, default False
        Replace an existing store at ``path`` (the old one is removed only once the new one is
        complete).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputDataError
        ``X`` is not 2-D, or the tables do not match it.
    ConfigError
        ``path`` exists and ``overwrite`` is False; bad chunks, dtype or attributes.
    StorageError
        The disk is full or the folder is not writable.
    """
    import zarr

    path = Path(os.fspath(path)).expanduser()
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        X = np.asarray(X)
    if len(X.shape) != 2:
        raise InputDataError(f"write_features_zarr: X must be 2-D (samples x features); found "
                             f"shape {tuple(X.shape)}.")
    n, p = (int(v) for v in X.shape)
    if str(dtype) not in ("float32", "float64"):
        raise ConfigError(f"write_features_zarr(dtype=...): 'float32' or 'float64', found "
                          f"{dtype!r}.")
    ch = DEFAULT_CHUNKS if chunks is None else tuple(chunks)
    if len(ch) != 2 or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1
                           for c in ch):
        raise ConfigError(f"write_features_zarr(chunks=...): two integers >= 1 (rows, columns), "
                          f"found {chunks!r}.")
    ch = (max(1, min(int(ch[0]), n)), max(1, min(int(ch[1]), p)))
    y = None
    if labels is not None:
        y = np.asarray(labels, dtype=np.float64).ravel()
        if y.shape != (n,) or not np.isin(y, (0.0, 1.0)).all():
            raise InputDataError(f"write_features_zarr: labels must be {n} values 0 (control) / "
                                 f"1 (case), one per row of X; found shape {y.shape}.")
    s_tab = _table(samples, n, "id", "samples")
    f_tab = _table(features, p, "name", "features")
    meta = {"format": FORMAT, "n_samples": n, "n_features": p, "dtype": str(dtype),
            "samples_columns": [str(c) for c in s_tab.columns],
            "features_columns": [str(c) for c in f_tab.columns],
            "attrs": _json_attrs(attrs)}
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; pass overwrite=True to replace it or choose "
                          "another path.")
    old = None
    with atomic_path(path, directory=True, what="the feature matrix") as tmp:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        z = root.create_array("X", shape=(n, p), chunks=ch, dtype=str(dtype), fill_value=0.0)
        step = max(ch[0], (_WRITE_ROWS // ch[0]) * ch[0])  # whole chunks of rows per write
        for r0 in range(0, n, step):
            r1 = min(n, r0 + step)
            z[r0:r1] = np.asarray(X[r0:r1], dtype=str(dtype))
        if y is not None:
            root.create_array("y", data=y.astype(np.int8))
        for group, tab in (("samples", s_tab), ("features", f_tab)):
            grp = root.create_group(group)
            for col in tab.columns:
                grp.create_array(str(col), data=_strings(tab[col].to_numpy(dtype=object)))
        root.attrs.update(meta)
        if path.exists():  # overwrite: the new store is complete; move the old one aside (a
            # rename in the same folder) so that atomic_path can rename the new one into place
            old = path.with_name(f".{path.name}.{secrets.token_hex(4)}.old")
            shutil.move(path, old)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path


def open_features_zarr(path) -> FeatureStore:
    """Open a store written by :func:`write_features_zarr`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    FeatureStore
        The matrix (lazy), the samples and features tables and the attributes.

    Raises
    ------
    InputDataError
        No store there, or not one written by genoapp.
    """
    import zarr

    path = Path(os.fspath(path)).expanduser()
    if not (path / "zarr.json").is_file():
        raise InputDataError(f"{path}: no Zarr v3 store there (zarr.json missing); write one with "
                             "genoapp.features.zarr_store.write_features_zarr.")
    root = zarr.open_group(str(path), mode="r", zarr_format=3)
    meta = dict(root.attrs)
    if meta.get("format") != FORMAT:
        raise InputDataError(f"{path}: a Zarr store, but not a genoapp feature matrix (format "
                             f"{meta.get('format')!r}, expected {FORMAT!r}).")
    tabs = {}
    for group in ("samples", "features"):
        grp = root[group]
        cols = meta.get(f"{group}_columns") or sorted(grp.array_keys())
        tabs[group] = pd.DataFrame({c: np.asarray(grp[c][:]).astype(object) for c in cols})
    return FeatureStore(X=root["X"], samples=tabs["samples"], features=tabs["features"],
                        attrs=dict(meta.get("attrs") or {}), path=path)
