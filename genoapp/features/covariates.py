"""Covariate design matrices: numeric columns as they are, categorical columns one-hot encoded.

Typical use (levels fixed on the training rows, then the same coding on any other rows)::

    d = covariate_design(samples, ["age", "source"], rows=train_rows)
    d.X[d.complete]                 # float64, (n_complete, n_columns), no missing values
    d.columns                       # ["age", "source=HapMap3_r2"]
    d.notes                         # ["source: 2 levels, reference '1000G_phase1' (most ...)"]
    t = covariate_design(samples, ["age", "source"], rows=test_rows, coding=d.coding)

Covariates as model inputs (:func:`fit_covariate_inputs`, :class:`CovariateInputs`): the same
coding fitted on the training samples, optionally PCs of the training samples' genotypes
projected onto every sample, each column standardised with training statistics; appended to
the feature inputs of :func:`genoapp.workflows.casecontrol.compare_models` and
:func:`genoapp.workflows.quantitative.run_quantitative` (group ``"covariate"``) and saved with
the run, so that :meth:`genoapp.runs.Run.predict` codes new individuals the same way.

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

__all__ = ["COVARIATE_GROUP", "CovariateColumn", "CovariateDesign", "CovariateInputs",
           "CovariateMatrix", "CovariateStage", "covariate_design", "fit_covariate_inputs",
           "no_dropped_rows"]


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


# ------------------------------------------------------------------ covariates as model inputs
#: Group name of appended covariate columns in a result's ``feature_groups``.
COVARIATE_GROUP = "covariate"


@dataclasses.dataclass
class CovariateMatrix:
    """Covariate columns of some rows, coded by a fitted :class:`CovariateInputs`.

    Attributes
    ----------
    X : numpy.ndarray of float32, shape (n_rows, n_columns)
        The columns (standardised when the coding is), NaN in every column of an incomplete
        row.
    complete : numpy.ndarray of bool, shape (n_rows,)
        Rows with a value for every covariate.
    missing : pandas.Series of str, shape (n_rows,)
        Per row, the covariates it lacks joined by ", " ("" for complete rows).
    notes : list of str
        Notes of the coding (levels the coding has not seen; rows lacking a value).
    """

    X: np.ndarray
    complete: np.ndarray
    missing: pd.Series
    notes: list[str]


@dataclasses.dataclass
class CovariateInputs:
    """Covariates appended as columns to model inputs, fitted on training samples only.

    Built by :func:`fit_covariate_inputs`; :meth:`encode` applies the same coding to any rows
    (training, test, new individuals of a saved run). Plain data plus fitted scikit-learn-style
    steps, so it pickles with a run.

    Columns, in order: the sample-table covariates as :func:`covariate_design` codes them
    (numeric as they are, categorical one-hot against the training samples' most frequent
    level; levels fixed on the training samples, so a level seen only elsewhere is an all-zero
    row), then ``PC1..PCk``: the scores of a PCA (:class:`~genoapp.features.AllPCA` on centred
    dosages, missing genotypes filled with :class:`~genoapp.features.MeanImputer` training
    means) fitted on the training samples' QC'd genotypes and projected onto every row. With
    ``standardize`` each column is then centred and scaled with the training samples' mean and
    SD (a constant column is only centred).

    Attributes
    ----------
    names : tuple of str
        Sample-table covariates (the columns a new individual's table must have).
    coding : tuple of CovariateColumn
        Their coding, fitted on the training samples.
    n_pcs : int
        PCs appended (0 = none).
    columns : list of str
        Names of the appended columns (e.g. ``["age", "source=HapMap3_r2", "PC1"]``).
    pc_variants : numpy.ndarray of int64 or None
        Columns of the QC'd dosage matrix that entered the PCA (an even subset when there are
        more than ``max_variants``; None = all).
    n_variants : int
        Columns of the QC'd dosage matrix the PCA was fitted from (0 without PCs).
    imputer, pca : fitted MeanImputer, AllPCA or None
        The PCA's steps (None without PCs).
    mean, scale : numpy.ndarray of float64, shape (n_columns,), or None
        Training mean and SD of each column (None: not standardised).
    notes : list of str
        What the fit did (reference levels, dropped single-level covariates, PCs).
    n_fit : int
        Training samples the coding, the PCA and the scaling were fitted on.
    dropped : pandas.DataFrame
        Rows left out because they lack a covariate value when the workflow applied the coding:
        ``FID``, ``IID``, ``missing_covariates`` (the covariates lacked, ", "-joined) and
        ``set`` ("training", "test" or "" where the workflow has no fixed split). Empty (same
        columns) when none.
    """

    names: tuple[str, ...]
    coding: tuple[CovariateColumn, ...]
    n_pcs: int
    columns: list[str]
    pc_variants: np.ndarray | None = None
    n_variants: int = 0
    imputer: object = None
    pca: object = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    n_fit: int = 0
    dropped: pd.DataFrame = dataclasses.field(default_factory=lambda: no_dropped_rows())

    @property
    def n_columns(self) -> int:
        """Number of appended columns."""
        return len(self.columns)

    @property
    def standardized(self) -> bool:
        """Columns are standardised with training statistics."""
        return self.mean is not None

    def describe(self) -> dict:
        """JSON-able description (for run records): ``names``, ``n_pcs``, ``columns``,
        ``coding`` (``name``, ``kind``, ``reference``, ``levels``), ``standardized``,
        ``n_fit``, ``n_dropped``, ``notes``."""
        return {"names": list(self.names), "n_pcs": int(self.n_pcs), "columns": list(self.columns),
                "coding": [{"name": c.name, "kind": c.kind, "reference": c.reference,
                            "levels": list(c.levels)} for c in self.coding],
                "standardized": self.standardized, "n_fit": int(self.n_fit),
                "n_dropped": int(len(self.dropped)), "notes": list(self.notes)}

    def check_table(self, table: pd.DataFrame, *, where: str = "the covariate table") -> None:
        """Raise a readable error when ``table`` lacks covariate columns.

        Raises
        ------
        InputDataError
            Naming every missing column and the columns found.
        """
        missing = [n for n in self.names if n not in table.columns]
        if missing:
            found = [str(c) for c in table.columns if c not in ("FID", "IID", "sample_index")]
            raise InputDataError(
                f"The models were trained with covariates as inputs and need the column"
                f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} in {where} (coded as "
                "on the training samples); found: " + (", ".join(found) or "no covariate column")
                + ".")

    def encode(self, table: pd.DataFrame | None, snps=None) -> CovariateMatrix:
        """The appended columns of every row of ``table`` (and ``snps``), with the fitted coding.

        Parameters
        ----------
        table : pandas.DataFrame or None
            One row per sample, with the columns ``names`` (None only without ``names``).
        snps : array-like, shape (n_rows, n_qc_variants), optional
            QC'd dosages of the same rows (NaN = missing), in the variant order of the fit;
            needed when ``n_pcs`` > 0.

        Returns
        -------
        CovariateMatrix
            ``X`` float32 (n_rows, n_columns).

        Raises
        ------
        InputDataError
            Missing covariate columns (all named), a covariate of another type than at the fit,
            dosages of the wrong shape or absent when PCs are needed.
        """
        n = len(table) if table is not None else (None if snps is None else int(np.shape(snps)[0]))
        if n is None:
            raise InputDataError("CovariateInputs.encode: give the sample table (or the dosages).")
        blocks: list[np.ndarray] = []
        notes: list[str] = []
        complete = np.ones(n, dtype=bool)
        missing = pd.Series([""] * n, dtype=object, name="missing_covariates")
        if self.names:
            if table is None:
                raise InputDataError(f"Covariates {', '.join(self.names)}: no sample table given.")
            self.check_table(table)
            d = covariate_design(table, self.names, coding=self.coding)
            blocks.append(d.X)
            complete &= d.complete
            missing = d.missing_names().reset_index(drop=True)
            notes.extend(d.notes)
        if self.n_pcs:
            if snps is None:
                raise InputDataError("The covariate PCs need the QC'd dosages of the same samples.")
            G = np.asarray(snps)
            if G.ndim != 2 or G.shape[0] != n or G.shape[1] != self.n_variants:
                raise InputDataError(f"Covariate PCs: dosages of shape {G.shape} for {n} rows; "
                                     "expected the run's QC'd variants as columns.")
            Gu = G if self.pc_variants is None else G[:, self.pc_variants]
            blocks.append(np.asarray(self.pca.transform(self.imputer.transform(Gu)),
                                     dtype=np.float64))
        X = np.column_stack(blocks) if blocks else np.empty((n, 0))
        X = np.asarray(X, dtype=np.float64)
        if self.mean is not None and X.shape[1]:
            X = (X - self.mean) / self.scale
        X[~complete] = np.nan
        return CovariateMatrix(np.ascontiguousarray(X, dtype=np.float32), complete, missing, notes)


def no_dropped_rows() -> pd.DataFrame:
    """An empty table of rows left out for lacking a covariate value (its columns)."""
    return pd.DataFrame({"FID": pd.Series(dtype=object), "IID": pd.Series(dtype=object),
                         "missing_covariates": pd.Series(dtype=object),
                         "set": pd.Series(dtype=object)})


def fit_covariate_inputs(table: pd.DataFrame | None, names: Sequence[str] = (), *, rows,
                         snps=None, n_pcs: int = 0, standardize: bool = True,
                         max_variants: int = 5000, random_state: int = 0) -> CovariateInputs:
    """Fit the coding of covariates appended to model inputs, on training rows only.

    Parameters
    ----------
    table : pandas.DataFrame or None
        The sample table, one row per sample (rows aligned with ``snps`` and the model inputs);
        None only without ``names``.
    names : sequence of str
        Sample-table covariates (numeric as they are, categorical one-hot against the most
        frequent level of the training rows; see :func:`covariate_design`).
    rows : array-like of int
        The training rows: levels, references, the PCA and the standardisation are fitted on
        those of them that have every covariate.
    snps : array-like, shape (n_samples, n_qc_variants), optional
        QC'd dosages (NaN = missing); needed for ``n_pcs`` > 0.
    n_pcs : int, default 0
        PCs of the training samples' genotypes appended (projected onto every row).
    standardize : bool, default True
        Centre and scale every column with the training rows' mean and SD (case/control, whose
        protocol does not standardise; quantitative traits standardise inside each training
        fold instead).
    max_variants : int, default 5000
        At most this many evenly spaced QC'd variants enter the PCA (as the QC page's PCA).
    random_state : int, default 0
        Seed of the randomized SVD.

    Returns
    -------
    CovariateInputs

    Raises
    ------
    InputDataError
        A covariate that is not a column of the table; fewer training rows with every
        covariate than columns + 2; PCs without dosages.
    ConfigError
        ``n_pcs`` < 0.
    """
    from genoapp.errors import ConfigError
    from genoapp.features.allpca import AllPCA
    from genoapp.features.impute import MeanImputer

    names = tuple(dict.fromkeys(str(n) for n in (names or ())))
    if isinstance(n_pcs, bool) or int(n_pcs) < 0:
        raise ConfigError(f"covariate PCs: an integer >= 0, got {n_pcs!r}.")
    n_pcs = int(n_pcs)
    rows = np.asarray(rows, dtype=np.int64)
    notes: list[str] = []
    coding: tuple[CovariateColumn, ...] = ()
    use = rows
    if names:
        if table is None:
            raise InputDataError(f"Covariates {', '.join(names)}: no sample table given.")
        d = covariate_design(table, names, rows=rows)
        coding = d.coding
        use = rows[d.complete]
        notes.extend(d.notes[:-1] if d.n_dropped else d.notes)  # the workflow counts drops
    columns = [c for spec in coding for c in spec.columns]
    imputer = pca = pc_variants = None
    k = 0
    if n_pcs:
        if snps is None:
            raise InputDataError("Covariate PCs need the QC'd SNP dosages (snps).")
        G = np.asarray(snps)
        p = G.shape[1]
        if p > max_variants:
            pc_variants = np.unique(np.linspace(0, p - 1, int(max_variants)).round()
                                    .astype(np.int64))
        Gf = G[use] if pc_variants is None else G[np.ix_(use, pc_variants)]
        imputer = MeanImputer(all_missing="zero").fit(Gf)
        pca = AllPCA(n_components=n_pcs, random_state=random_state).fit(imputer.transform(Gf))
        k = int(pca.n_components_)
        columns += [f"PC{i + 1}" for i in range(k)]
        notes.append(f"{k} PC{'s' if k > 1 else ''} of a PCA of these {use.size:,} samples' "
                     f"genotypes ({Gf.shape[1]:,} variants, centred dosages), projected onto "
                     "every sample"
                     + (f" (asked {n_pcs}; the rank allows {k})" if k < n_pcs else "") + ".")
    if columns and use.size <= len(columns) + 2:
        raise InputDataError(f"Covariates as inputs: {use.size} training samples have every "
                             f"covariate, too few for {len(columns)} covariate columns.")
    cov = CovariateInputs(names=names, coding=coding, n_pcs=k, columns=columns,
                          pc_variants=pc_variants, n_variants=int(np.shape(snps)[1]) if k else 0,
                          imputer=imputer, pca=pca, notes=notes,
                          n_fit=int(use.size))
    if standardize and columns:
        X = cov.encode(None if table is None else table.iloc[use].reset_index(drop=True),
                       None if not k else np.asarray(snps)[use]).X.astype(np.float64)
        mean = X.mean(axis=0)
        sd = X.std(axis=0)
        cov.mean, cov.scale = mean, np.where(sd > 1e-12, sd, 1.0)
    return cov


class CovariateStage:
    """A nested feature stage with covariate columns after it (raw input ``[data | covariates]``).

    Wraps a stage of :class:`genoapp.workflows.protocol.StagedInput` (e.g. the association
    filter then Gene-PCA) so that its features gain the covariate columns: ``fit`` and
    ``transform`` pass the first ``n_data`` raw columns (the QC'd dosages) to the inner stage and
    append the remaining columns (the covariates, already coded and standardised with training
    statistics) as they are. Use ``functools.partial(CovariateStage, make_inner, n_data,
    columns)`` as the ``make_stage`` of the StagedInput.

    Parameters
    ----------
    make_inner : callable
        ``make_inner(**params)`` -> the unfitted inner stage.
    n_data : int
        Raw columns of the inner stage.
    columns : sequence of str
        Names of the covariate columns.
    **params
        The candidate's parameters for ``make_inner``.
    """

    def __init__(self, make_inner, n_data: int, columns, **params):
        self.inner = make_inner(**params)
        self.n_data = int(n_data)
        self.columns = list(columns)

    def _split(self, X):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_data + len(self.columns):
            raise InputDataError(
                f"covariate stage: expected {self.n_data} dosage columns then the "
                f"{len(self.columns)} covariate columns ({', '.join(self.columns)}); got shape "
                f"{X.shape}.")
        return X[:, :self.n_data], X[:, self.n_data:]

    def fit(self, X, y) -> CovariateStage:
        """Fit the inner stage on the dosage columns."""
        data, _ = self._split(X)
        self.inner.fit(data, y)
        return self

    def transform(self, X) -> np.ndarray:
        """The inner stage's features, then the covariate columns (float32)."""
        data, cov = self._split(X)
        F = np.asarray(self.inner.transform(data), dtype=np.float32)
        return np.ascontiguousarray(np.column_stack([F, cov.astype(np.float32)]))

    @property
    def feature_names_(self) -> np.ndarray:
        """The inner stage's feature names, then the covariate columns' names."""
        return np.concatenate([np.asarray(self.inner.feature_names_, dtype=object),
                               np.asarray(self.columns, dtype=object)])

    @property
    def feature_gene_(self) -> np.ndarray:
        """The inner stage's gene of each feature; a covariate column's own name."""
        return np.concatenate([np.asarray(self.inner.feature_gene_, dtype=object),
                               np.asarray(self.columns, dtype=object)])

    def describe(self) -> str:
        """The inner stage's description with the number of covariate columns appended."""
        inner = self.inner.describe() if hasattr(self.inner, "describe") else type(self.inner).__name__
        return f"{inner} + {len(self.columns)} covariate columns"

    def __getattr__(self, name):  # fitted attributes of the inner stage (selected_, gene_pca_...)
        if name in ("inner", "n_data", "columns") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.inner, name)
