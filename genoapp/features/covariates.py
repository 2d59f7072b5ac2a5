"""Covariate design matrices: numeric columns as they are, categorical columns one-hot encoded.

Typical use (levels fixed on the training rows, then the same coding on any other rows)::

    d = covariate_design(samples, ["age", "source"], rows=train_rows)
    d.X[d.complete]                 # float64, (n_complete, n_columns), no missing values
    d.columns                       # ["age", "source=HapMap3_r2"]
    d.notes                         # ["source: 2 levels, reference '1000G_phase1' (most ...)"]
    t = covariate_design(samples, ["age", "source"], rows=test_rows, coding=d.coding)

The matrix has no intercept column: :func:`genoapp.qc.logistic_association` and
:func:`genoapp.qc.linear_association` add one, and one-hot columns against a reference level
are what keeps the model identifiable next to it (PLINK's ``--covar`` with dummy columns).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from genoapp.errors import InputDataError
from genoapp.io.tables import MISSING_VALUES

__all__ = ["CovariateColumn", "CovariateDesign", "covariate_design"]


@dataclasses.dataclass(frozen=True)
class CovariateColumn:
    """How one covariate of the sample table becomes columns of the design matrix.

    Attributes
    ----------
    name : str
        The sample-table column.
    kind : {"numeric", "categorical", "dropped"}
        ``numeric``: one column, the values as they are; ``categorical``: one 0/1 column per
        level in ``levels`` (``name=level``), the ``reference`` level being the all-zero row;
        ``dropped``: no column (one level or one value only on the rows the coding was fitted
        on: it would duplicate the intercept).
    reference : str or None
        The reference (omitted) level of a categorical column: its most frequent level.
    levels : tuple of str
        The non-reference levels of a categorical column, in column order (sorted).
    """

    name: str
    kind: str
    reference: str | None = None
    levels: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """The design-matrix column names this covariate gives."""
        if self.kind == "numeric":
            return [self.name]
        if self.kind == "categorical":
            return [f"{self.name}={lev}" for lev in self.levels]
        return []


@dataclasses.dataclass(frozen=True)
class CovariateDesign:
    """A covariate design matrix (see :func:`covariate_design`).

    Attributes
    ----------
    X : numpy.ndarray of float64, shape (n_rows, n_columns)
        One row per requested table row (in the order given), NaN in every column of a
        covariate the row lacks; ``X[complete]`` has no missing value.
    columns : list of str
        Column names: the numeric covariate's name, or ``name=level`` for a one-hot column.
    complete : numpy.ndarray of bool, shape (n_rows,)
        Rows with a value for every requested covariate (the rows to use).
    missing : pandas.DataFrame of bool, shape (n_rows, n_covariates)
        Which covariate each row lacks, one column per requested name.
    notes : list of str
        Readable notes: the reference level of each categorical column, columns dropped,
        levels unseen by the coding; the last note, when some rows lack a value, gives their
        count per covariate.
    coding : tuple of CovariateColumn
        The coding of each requested covariate; pass it back as ``coding=`` to encode other
        rows (e.g. the test rows) with the same columns.
    """

    X: np.ndarray
    columns: list[str]
    complete: np.ndarray
    missing: pd.DataFrame
    notes: list[str]
    coding: tuple[CovariateColumn, ...]

    @property
    def n_dropped(self) -> int:
        """Rows that lack at least one covariate value."""
        return int((~self.complete).sum())

    def missing_names(self) -> pd.Series:
        """Per row, the covariates it lacks joined by ", " ("" for complete rows)."""
        names = np.asarray(self.missing.columns, dtype=object)
        vals = self.missing.to_numpy(dtype=bool)
        return pd.Series([", ".join(names[r]) for r in vals], index=self.missing.index,
                         name="missing_covariates", dtype=object)


def _level_text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype)


def _categorical_values(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Level text per row (object array) and the missing mask (NaN/None/NA or a missing token)."""
    values = np.asarray(col.astype(object), dtype=object)
    miss = pd.isna(col).to_numpy(dtype=bool, copy=True)
    text = np.empty(values.size, dtype=object)
    for i, v in enumerate(values):
        if miss[i]:
            text[i] = None
            continue
        t = _level_text(v)
        if t in MISSING_VALUES:
            miss[i] = True
            text[i] = None
        else:
            text[i] = t
    return text, miss


def _rows(table: pd.DataFrame, rows) -> np.ndarray:
    n = len(table)
    if rows is None:
        return np.arange(n, dtype=np.int64)
    r = np.asarray(rows)
    if r.dtype == bool:
        if r.shape != (n,):
            raise InputDataError(f"covariate_design: a boolean rows mask needs {n} values (one per "
                                 f"table row); found shape {r.shape}.")
        return np.flatnonzero(r)
    if r.ndim != 1 or (r.size and r.dtype.kind not in "iu"):
        raise InputDataError("covariate_design: rows must be integer positions of the table "
                             f"(or a boolean mask); found dtype {r.dtype}, shape {r.shape}.")
    r = r.astype(np.int64)
    if r.size and (r.min() < 0 or r.max() >= n):
        raise InputDataError(f"covariate_design: row positions must be in [0, {n}) for a table "
                             f"of {n} rows; found {int(r.min())}..{int(r.max())}.")
    return r


def covariate_design(table: pd.DataFrame, names: Sequence[str], *, rows=None,
                     coding: Sequence[CovariateColumn] | None = None) -> CovariateDesign:
    """Design matrix of sample-table covariates: numeric as they are, categorical one-hot.

    Coding (fitted on ``rows``, the training rows, unless ``coding`` is given):

    - A numeric column (int, float or bool dtype) is one column, its values as they are (bool as
      0/1). A numeric batch code (1, 2, 3) stays numeric: convert the column to text to one-hot
      encode it.
    - Any other column (text, ``category``, object) is categorical: each value's text (stripped;
      ``2.0`` reads ``2``) is a level; the **most frequent level** among the complete rows is the
      reference (ties: the first in sorted order) and gets no column; every other level gets a
      0/1 column named ``name=level``, in sorted order.
    - A column with one level (or one value) only among the complete rows is dropped with a
      note: it would duplicate the model's intercept.

    Levels are fixed on the rows given. Encoding other rows with ``coding=`` gives the same
    columns; a level the coding has not seen is an all-zero row (the same as the reference
    level), and a note counts such rows.

    Missing values are NaN/None/NA, non-finite numbers, and the text tokens of
    :data:`genoapp.io.tables.MISSING_VALUES` (``NA``, ``-9``, empty, ``nan``, ``NaN``; the
    number -9 is a value). A row missing any requested covariate is not complete: its columns
    of that covariate are NaN and ``complete`` is False (drop it, as PLINK does). Levels and
    references are counted on the complete rows only.

    Parameters
    ----------
    table : pandas.DataFrame
        The sample table (e.g. ``Cohort.samples``), one row per sample; not modified.
    names : sequence of str
        Covariate columns, in the order of the design's columns (duplicates ignored).
    rows : array-like of int or bool, optional
        Positions (``iloc``) of the rows to encode, or a boolean mask over the table's rows;
        default every row. The design's rows follow this order.
    coding : sequence of CovariateColumn, optional
        A previous design's ``coding`` (fitted on training rows): encode ``rows`` with it
        instead of fitting levels on them. Must cover ``names`` in the same order.

    Returns
    -------
    CovariateDesign
        ``X`` float64 of shape (n_rows, n_columns) (n_columns may be 0), ``columns``,
        ``complete`` (bool, n_rows), ``missing`` (bool DataFrame, n_rows x n_covariates),
        ``notes`` and ``coding``.

    Raises
    ------
    InputDataError
        A name that is not a column of the table (the message names it and lists the columns
        found); rows out of range or of the wrong type; a ``coding`` that does not match
        ``names``.
    """
    names = list(dict.fromkeys(str(n) for n in names))
    for name in names:
        if name not in table.columns:
            raise InputDataError(
                f"Covariate '{name}' is not a column of the sample table; expected one of: "
                f"{', '.join(map(str, table.columns))}.")
    if coding is not None:
        coding = tuple(coding)
        if [c.name for c in coding] != names:
            raise InputDataError(
                "covariate_design: the coding is for covariates "
                f"{[c.name for c in coding]}; found names {names}. Pass the same names, in "
                "the same order, as the design the coding came from.")
    pos = _rows(table, rows)
    n = pos.size
    raw: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
    for name in names:
        col = table[name].iloc[pos].reset_index(drop=True)
        fitted_kind = None if coding is None else next(c for c in coding if c.name == name).kind
        numeric = _is_numeric(col) if fitted_kind in (None, "dropped") else fitted_kind == "numeric"
        if numeric:
            if not _is_numeric(col):
                example = col.dropna()
                raise InputDataError(
                    f"Covariate '{name}' was numeric where its coding was fitted; found "
                    f"{col.dtype} values here"
                    + (f" (e.g. {example.iloc[0]!r})." if len(example) else ".")
                    + " Encode every set of rows from tables with the same column types.")
            vals = col.to_numpy(dtype=np.float64, na_value=np.nan)
            raw[name] = ("numeric", vals, ~np.isfinite(vals))
        else:
            text, miss = _categorical_values(col)
            raw[name] = ("categorical", text, miss)
    missing = pd.DataFrame({name: raw[name][2] for name in names}, index=pd.RangeIndex(n))
    complete = ~missing.to_numpy(dtype=bool).any(axis=1) if names else np.ones(n, dtype=bool)
    n_complete = int(complete.sum())

    notes: list[str] = []
    fitted: list[CovariateColumn] = []
    blocks: list[np.ndarray] = []
    for i, name in enumerate(names):
        kind, vals, miss = raw[name]
        if coding is None:
            spec = _fit_column(name, kind, vals[complete], n_complete, notes)
        else:
            spec = coding[i]
        fitted.append(spec)
        if spec.kind == "numeric":
            blocks.append(np.where(miss, np.nan, vals).reshape(n, 1))
        elif spec.kind == "categorical":
            block = np.zeros((n, len(spec.levels)), dtype=np.float64)
            for j, lev in enumerate(spec.levels):
                block[:, j] = vals == lev
            block[miss] = np.nan
            if coding is not None:
                _note_unseen(spec, vals, miss, notes)
            blocks.append(block)
    X = np.column_stack(blocks) if blocks else np.empty((n, 0), dtype=np.float64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    columns = [c for spec in fitted for c in spec.columns]
    if n - n_complete:
        per = ", ".join(f"{name}: {int(missing[name].sum()):,}" for name in names
                        if missing[name].any())
        notes.append(f"{n - n_complete:,} of {n:,} rows lack a covariate value ({per}) and are "
                     "dropped.")
    return CovariateDesign(X=X, columns=columns, complete=complete, missing=missing,
                           notes=notes, coding=tuple(fitted))


def _note_unseen(spec: CovariateColumn, vals: np.ndarray, miss: np.ndarray,
                 notes: list[str]) -> None:
    """Note the rows whose level the coding has not seen (they are all-zero rows)."""
    known = {spec.reference, *spec.levels}
    unseen = [v for v, m in zip(vals, miss, strict=True) if not m and v not in known]
    if unseen:
        k = len(unseen)
        distinct = sorted(set(unseen))
        shown = ", ".join(repr(u) for u in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
        notes.append(f"{spec.name}: {k:,} row{'s' if k > 1 else ''} with a level not seen where "
                     f"the coding was fitted ({shown}); coded as the reference "
                     f"{spec.reference!r} (all-zero columns).")


def _fit_column(name: str, kind: str, vals: np.ndarray, n_complete: int,
                notes: list[str]) -> CovariateColumn:
    """The coding of one covariate from its values on the complete rows."""
    if kind == "numeric":
        distinct = np.unique(vals)
        if distinct.size <= 1:
            what = f"one value only ({distinct[0]:g})" if distinct.size else "no complete row"
            notes.append(f"{name}: {what} among the {n_complete:,} complete rows; dropped (it "
                         "would duplicate the intercept).")
            return CovariateColumn(name, "dropped")
        return CovariateColumn(name, "numeric")
    counts = pd.Series(vals, dtype=object).value_counts()
    if len(counts) <= 1:
        what = f"one level only ({counts.index[0]!r})" if len(counts) else "no complete row"
        notes.append(f"{name}: {what} among the {n_complete:,} complete rows; dropped (it would "
                     "duplicate the intercept).")
        return CovariateColumn(name, "dropped")
    levels = sorted(str(v) for v in counts.index)
    top = int(counts.max())
    reference = next(lev for lev in levels if int(counts[lev]) == top)
    others = tuple(lev for lev in levels if lev != reference)
    notes.append(f"{name}: {len(levels)} levels, reference {reference!r} (most frequent, "
                 f"{top:,} of {n_complete:,} rows); one-hot columns "
                 + ", ".join(f"'{name}={lev}'" for lev in others[:6])
                 + (f" and {len(others) - 6} more" if len(others) > 6 else "") + ".")
    return CovariateColumn(name, "categorical", reference=reference, levels=others)
