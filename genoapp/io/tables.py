"""Sample tables (phenotypes, covariates), binary trait coding and ID reconciliation.

File layout accepted by :func:`read_sample_table` (the PLINK 1.9/2 ``--pheno`` / ``--covar``
layout with a header line): tab-, comma- or whitespace-separated, a header naming ``FID`` and
``IID`` (any case, ``#FID``/``#IID`` accepted, ``FID`` optional), one row per sample.
Missing values are the exact tokens in :data:`MISSING_VALUES`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.io.sanitize import clean_text, excerpt, parser_error_detail

__all__ = [
    "MISSING_VALUES",
    "BinaryCoding",
    "IdReport",
    "all_missing_messages",
    "coerce_binary",
    "is_binary_trait",
    "normalize_sample_table",
    "read_covariates",
    "read_phenotypes",
    "read_sample_table",
    "reconcile_ids",
]

#: Tokens read as missing in phenotype/covariate tables (after stripping spaces). ``-9`` is
#: missing only as the exact token ``-9`` (PLINK's default missing phenotype); ``-9.0`` or
#: ``-9.5`` are values. Numbers equal to -9 are also treated as missing by :func:`coerce_binary`.
MISSING_VALUES = ("NA", "-9", "", "nan", "NaN")

_ID_COLUMNS = ("FID", "IID")


def _sniff_separator(line: str) -> str:
    if "\t" in line:
        return "\t"
    if "," in line:
        return ","
    return r"\s+"


def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            if line.strip():
                return line
    return ""


def _is_number(token: str) -> bool:
    t = token.strip()
    if t.lower() in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
        return False
    try:
        float(t)
    except ValueError:
        return False
    return True


def _looks_like_data(header: list[str]) -> bool:
    """True when a would-be header row looks like a data row: a number (or a missing-value
    token such as NA / -9) among its fields, e.g. numeric FID/IID. Real column names are not
    numbers."""
    return any(_is_number(h) or h.strip() in ("NA", "-9") for h in header)


def _canonical_id_columns(columns: list[str]) -> list[str]:
    """Rename FID/IID (any case, optional leading '#') to the canonical spelling."""
    out = []
    for c in columns:
        key = c.strip().lstrip("#").upper()
        out.append(key if key in _ID_COLUMNS else c.strip())
    return out


def _missing_to_nan(col: pd.Series) -> pd.Series:
    col = col.astype("str").str.strip()
    return col.where(~col.isin(MISSING_VALUES))


def _numeric_if_possible(col: pd.Series) -> pd.Series:
    """Float64 if every non-missing value parses as a number, else the (string) column."""
    num = pd.to_numeric(col, errors="coerce")
    if (num.isna() == col.isna()).all() and col.notna().any():
        return num.astype("float64")
    if col.isna().all():
        return pd.Series(np.nan, index=col.index, name=col.name, dtype="float64")
    return col


def normalize_sample_table(
    table: pd.DataFrame, *, kind: str = "phenotype", source: str | None = None
) -> pd.DataFrame:
    """Validate a sample table given as a DataFrame and bring it to the canonical layout.

    Parameters
    ----------
    table : pandas.DataFrame
        Must have an ``IID`` column (any case, ``#IID`` accepted); ``FID`` is optional.
        Not modified.
    kind : str
        Used in messages (``"phenotype"`` -> "phenotype table").
    source : str, optional
        Name used in messages (e.g. the file path).

    Returns
    -------
    pandas.DataFrame
        A copy with ``FID``, ``IID`` (str) first, then the other columns in their order, and a
        fresh ``RangeIndex``. Without an ``FID`` column, ``FID`` := ``IID`` and
        ``attrs["fid_from_iid"]`` is True (match such tables on IID; see :func:`reconcile_ids`).
        ``attrs["notes"]`` lists what was changed.

    Raises
    ------
    InputDataError
        No IID column (when the column names look like data - numbers or NA/-9 - the message
        says the file seems to have no header line), duplicated column names, empty IDs.
    """
    where = source or f"the {kind} table"
    if not isinstance(table, pd.DataFrame):
        raise InputDataError(f"{where}: expected a pandas DataFrame, got {type(table).__name__}.")
    df = table.copy()
    cols = _canonical_id_columns([str(c) for c in df.columns])
    if "IID" not in cols and _looks_like_data(cols):
        raise InputDataError(
            f"{where}: the file seems to have no header line (its first row looks like data, "
            f"e.g. numbers where column names should be: {excerpt(cols)}). Add `FID IID "
            "trait...` as the first line (the column names, separated like the data), then "
            "load it again."
        )
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputDataError(
            f"{where}: duplicated column names ({excerpt(dup)}). Give every column a unique name."
        )
    df.columns = cols
    if "IID" not in cols:
        raise InputDataError(
            f"{where} has no IID column; columns found: {excerpt(cols)}. Expected a header line "
            "such as 'FID IID trait1 trait2' (FID optional, any case, '#FID' accepted) with the "
            "sample IDs of the .fam file."
        )
    notes: list[str] = []
    fid_from_iid = "FID" not in cols
    if fid_from_iid:
        df.insert(0, "FID", df["IID"])
        notes.append(f"{where} has no FID column: FID set to IID; samples are matched on IID.")
    for c in _ID_COLUMNS:
        ids = df[c].astype("str").str.strip()
        empty = (ids.isin(("", "nan", "None")) | df[c].isna()).to_numpy()
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise InputDataError(
                f"{where}: column {c} is empty in {int(empty.sum())} rows (first: data row "
                f"{i + 1}). Every row needs a sample ID."
            )
        df[c] = ids
    others = [c for c in df.columns if c not in _ID_COLUMNS]
    df = df[["FID", "IID", *others]].reset_index(drop=True)
    df.attrs = {"source": where, "kind": kind, "fid_from_iid": fid_from_iid, "notes": notes}
    return df


def read_sample_table(path: str | os.PathLike, *, kind: str = "phenotype") -> pd.DataFrame:
    """Read a phenotype or covariate table (PLINK ``--pheno``/``--covar`` layout with header).

    Parameters
    ----------
    path : str or path-like
        Text file, tab-, comma- or whitespace-separated (sniffed from the header line; UTF-8,
        a byte-order mark is accepted). The header names ``IID`` and usually ``FID`` (any case;
        ``#FID``/``#IID`` as written by PLINK 2 accepted).
    kind : str
        ``"phenotype"`` or ``"covariate"``; only used in messages.

    Returns
    -------
    pandas.DataFrame
        One row per data line, in file order: ``FID``, ``IID`` (str) then the other columns.
        A column is float64 when every non-missing value is a number, else string. Missing
        tokens (:data:`MISSING_VALUES`: ``NA``, ``-9``, empty, ``nan``, ``NaN``) are NaN.
        IDs are never treated as missing. Without an FID column, FID := IID and
        ``attrs["fid_from_iid"]`` is True. Duplicated (FID, IID) rows are kept (see
        :func:`reconcile_ids`).

    Raises
    ------
    InputDataError
        File missing or empty, not UTF-8 text, no data rows, no header line (the first row looks
        like data), no IID column (the message lists up to 5 of the columns found, each cut to
        20 characters), duplicated column names, rows with more fields than the header, empty
        IDs. Messages quote the file only through :mod:`genoapp.io.sanitize` excerpts.
    """
    path = Path(os.fspath(path)).expanduser()
    what = f"{kind} file {path}"
    if not path.is_file():
        raise InputDataError(f"{what} not found. Check the path (or upload the file).")
    first = _first_line(path)
    if not first:
        raise InputDataError(
            f"{what} is empty. Expected a header line 'FID IID trait...' and one row per sample."
        )
    sep = _sniff_separator(first)
    try:
        raw = pd.read_csv(
            path,
            sep=sep,
            header=None,
            dtype=str,
            na_filter=False,
            skip_blank_lines=True,
            encoding="utf-8-sig",
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise InputDataError(
            f"{what}: rows have different numbers of fields ({parser_error_detail(exc)}). Every "
            "row needs one value per header column; write missing values as NA."
        ) from None
    except pd.errors.EmptyDataError:
        raise InputDataError(f"{what} is empty.") from None
    except UnicodeDecodeError:
        raise InputDataError(
            f"{what} is not a UTF-8 text file (is it a binary or compressed file?). Save the "
            "table as tab- or comma-separated UTF-8 text with a header 'FID IID trait...'."
        ) from None
    if raw.shape[0] < 2:
        header = [str(h) for h in raw.iloc[0]] if raw.shape[0] else []
        if _looks_like_data(header):
            raise InputDataError(
                f"{what} has a single row, and it looks like data: the file seems to have no "
                "header line. Add `FID IID trait...` as the first line, then one row per sample."
            )
        raise InputDataError(
            f"{what} has a header line but no data rows (header: {excerpt(header)})."
        )
    header = [str(h) for h in raw.iloc[0]]
    data = raw.iloc[1:].reset_index(drop=True)
    data.columns = range(data.shape[1])
    if "" in [h.strip() for h in header]:
        raise InputDataError(
            f"{what}: the header has an empty column name or the data rows have more fields "
            f"than the header (header: {excerpt(header)}). Name every column."
        )
    data.columns = header
    df = normalize_sample_table(data, kind=kind, source=what)
    for c in df.columns[2:]:
        df[c] = _numeric_if_possible(_missing_to_nan(df[c]))
    df.attrs["source"] = str(path)
    df.attrs["notes"] = [*df.attrs.get("notes", []), *all_missing_messages(df, where=what)]
    return df


def _missing_tokens() -> str:
    return ", ".join(repr(v) for v in MISSING_VALUES)


def all_missing_messages(
    table: pd.DataFrame, *, columns=None, where: str | None = None, merged: bool = False
) -> list[str]:
    """Readable messages for the columns of a sample table that hold no value at all.

    An all-missing trait is easy to mistake for a coding problem ("no case/control column",
    "not numeric"); these messages name the real cause.

    Parameters
    ----------
    table : pandas.DataFrame
        A sample table (as read by :func:`read_sample_table`, or a cohort's samples table after
        matching the genotypes). Not modified.
    columns : list of str, optional
        Columns to check; default every column except ``FID`` and ``IID``.
    where : str, optional
        The file, for messages (default ``attrs["source"]`` or "the table").
    merged : bool, default False
        ``table`` holds the genotyped samples after matching IDs (a cohort's samples): the
        message then also names the ID mismatch as a possible cause.

    Returns
    -------
    list of str
        One message per all-missing column (missing = NaN after reading, i.e. the tokens of
        :data:`MISSING_VALUES`), in column order; empty when every column has a value.
    """
    where = where or table.attrs.get("source") or "the table"
    cols = [c for c in (columns if columns is not None else table.columns)
            if c not in _ID_COLUMNS and c in table.columns]
    out = []
    n = len(table)
    for c in cols:
        values = table[c]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            values = _missing_to_nan(values.where(values.notna(), ""))
        if n and values.isna().all():
            name = clean_text(c)
            if merged:
                out.append(
                    f"Column '{name}' has no value for any of the {n:,} genotyped samples. Either "
                    "it is empty in the file, or the samples that have a value are not in the "
                    ".fam (their FID/IID differ): see the sample ID reconciliation. Fix the IDs "
                    "or choose another column."
                )
            else:
                out.append(
                    f"Column '{name}' of {where} has no value: all {n:,} rows are missing "
                    f"({_missing_tokens()}). Check the column (another missing-value code, or "
                    "values shifted by a separator?) or choose another one."
                )
    return out


def read_phenotypes(path: str | os.PathLike) -> pd.DataFrame:
    """Read a phenotype table; same as ``read_sample_table(path, kind="phenotype")``."""
    return read_sample_table(path, kind="phenotype")


def read_covariates(path: str | os.PathLike) -> pd.DataFrame:
    """Read a covariate table; same as ``read_sample_table(path, kind="covariate")``."""
    return read_sample_table(path, kind="covariate")


# ---------------------------------------------------------------------------- binary traits


@dataclasses.dataclass(frozen=True)
class BinaryCoding:
    """How a case/control trait was read.

    Attributes
    ----------
    coding : str
        ``"0/1"`` (0 = control, 1 = case) or ``"1/2"`` (PLINK: 1 = control, 2 = case,
        0 and -9 = missing).
    n_cases, n_controls, n_missing : int
        Counts after recoding.
    message : str
        One readable sentence for the UI, e.g. ``"Trait 'Pericarp_color' read as 0/1 coding
        (0 = control, 1 = case): 33 cases, 321 controls, 20 missing."``
    """

    coding: str
    n_cases: int
    n_controls: int
    n_missing: int
    message: str


def _as_float(values: pd.Series, name: str) -> pd.Series:
    """Numeric float64 view of a trait; missing tokens -> NaN; error on other text."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    s = _missing_to_nan(values.astype("object").where(values.notna(), ""))
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & s.notna()
    if bad.any():
        found = ", ".join(f"'{clean_text(v)}'" for v in pd.unique(s[bad])[:5])
        raise InputDataError(
            f"Trait '{clean_text(name)}' is not numeric: found values such as "
            f"{found}. A case/control trait "
            "must be coded 0/1 (0 = control, 1 = case) or 1/2 (PLINK: 1 = control, 2 = case), "
            f"with missing as {', '.join(repr(v) for v in MISSING_VALUES)}."
        )
    return num.astype("float64")


def _no_values_message(name: str, n: int) -> str:
    return (
        f"Trait '{name}' has no non-missing value: all {n:,} rows are missing "
        f"({_missing_tokens()} or the number -9). Either the column is empty in the phenotype "
        "file, or the samples that have a value are not among the genotyped (or selected) "
        "samples: check the sample ID reconciliation, fix the file, or choose another trait."
    )


def _detect_coding(observed: set[float]) -> str | None:
    """'0/1', '1/2', 'ambiguous' ({1} only), or None (not binary)."""
    if not observed:
        return None
    if observed == {1.0}:
        return "ambiguous"
    if observed <= {0.0, 1.0}:
        return "0/1"
    if observed <= {1.0, 2.0}:
        return "1/2"
    return None


def _fmt_values(values) -> str:
    shown = [f"{v:g}" for v in sorted(values)[:8]]
    more = f" ... ({len(values)} distinct)" if len(values) > 8 else ""
    return "{" + ", ".join(shown) + more + "}"


def coerce_binary(
    values: pd.Series, *, name: str, coding: str | None = None
) -> tuple[pd.Series, BinaryCoding]:
    """Read a case/control trait as 0.0 (control) / 1.0 (case) / NaN (missing).

    Coding detection (``coding=None``), after dropping missing values (NaN, the tokens of
    :data:`MISSING_VALUES` and the number -9, PLINK's missing phenotype):

    * values within {0, 1} -> ``"0/1"``: 0 = control, 1 = case (PLINK ``--1``);
    * values within {1, 2} -> ``"1/2"``: 1 = control, 2 = case (PLINK default);
    * only the value 1 -> ambiguous: :class:`InputDataError`, pass ``coding``;
    * anything else, including {0, 1, 2} -> :class:`InputDataError` naming the values found.

    With ``coding="1/2"`` given explicitly, 0 is also missing (as in PLINK), so {0, 1, 2}
    is accepted; with ``coding="0/1"`` only 0 and 1 are allowed.

    Parameters
    ----------
    values : pandas.Series
        The trait (numeric, or text holding numbers). Not modified.
    name : str
        Trait name for messages.
    coding : {None, "0/1", "1/2"}
        Force a coding instead of detecting it.

    Returns
    -------
    (pandas.Series, BinaryCoding)
        float64 Series with the index and name of ``values``, and the coding summary.

    Raises
    ------
    InputDataError
        Non-numeric values, no non-missing value, values that are not a binary coding.
    ConfigError
        ``coding`` is not None, "0/1" or "1/2".
    """
    if not isinstance(values, pd.Series):
        values = pd.Series(values)
    full_name = clean_text(name, max_chars=80)  # for the summary of a column the user chose
    name = clean_text(name)  # for error messages: a short excerpt of the file's header
    num = _as_float(values, name)
    num = num.mask(num == -9.0)
    observed = set(pd.unique(num.dropna()).tolist())
    if coding is None:
        coding = _detect_coding(observed)
        if coding == "ambiguous":
            raise InputDataError(
                f"Trait '{name}': every non-missing value is 1, which is a case under 0/1 coding "
                "but a control under PLINK's 1/2 coding. Choose the coding explicitly "
                "(coding='0/1' or coding='1/2')."
            )
        if coding is None:
            if not observed:
                raise InputDataError(_no_values_message(name, len(num)))
            hint = (
                " The values 0, 1, 2 could be PLINK 1/2 coding with 0 = missing: if so, "
                "choose coding '1/2' explicitly."
                if observed <= {0.0, 1.0, 2.0}
                else " It looks quantitative: use it as a quantitative trait instead."
            )
            raise InputDataError(
                f"Trait '{name}' is not a binary case/control coding: found values "
                f"{_fmt_values(observed)}. Allowed: 0/1 (0 = control, 1 = case) or 1/2 "
                f"(1 = control, 2 = case), missing as NA or -9.{hint}"
            )
    if coding == "0/1":
        allowed = {0.0, 1.0}
        out = num
        legend = "0 = control, 1 = case"
    elif coding == "1/2":
        allowed = {0.0, 1.0, 2.0}
        out = num.mask(num == 0.0) - 1.0
        legend = "1 = control, 2 = case, 0 and -9 = missing"
    else:
        raise ConfigError(f"coding must be None, '0/1' or '1/2'; got {coding!r}.")
    if not observed:
        raise InputDataError(_no_values_message(name, len(num)))
    extra = observed - allowed
    if extra:
        raise InputDataError(
            f"Trait '{name}' has values {_fmt_values(extra)} that the {coding} coding does not "
            f"allow ({legend}); fix the file or choose the other coding."
        )
    out = out.astype("float64")
    out.name = values.name
    n_cases = int((out == 1.0).sum())
    n_controls = int((out == 0.0).sum())
    n_missing = int(out.isna().sum())
    message = (
        f"Trait '{full_name}' read as {coding} coding ({legend}): {n_cases} cases, "
        f"{n_controls} controls, {n_missing} missing."
    )
    return out, BinaryCoding(coding, n_cases, n_controls, n_missing, message)


def is_binary_trait(values) -> bool:
    """True if the values look like a case/control coding.

    Numeric (or numeric text) values whose non-missing set (missing: NaN, the tokens of
    :data:`MISSING_VALUES`, -9) is non-empty and within {0, 1} or {1, 2}. A column of only 1s
    counts as binary (its coding is ambiguous, see :func:`coerce_binary`); {0, 1, 2} does not.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    try:
        num = _as_float(s, "")
    except (InputDataError, TypeError, ValueError):
        return False
    num = num.mask(num == -9.0)
    return _detect_coding(set(pd.unique(num.dropna()).tolist())) is not None


# ---------------------------------------------------------------------------- ID reconciliation


@dataclasses.dataclass
class IdReport:
    """How the sample IDs of the genotypes (.fam) and a sample table match.

    Attributes
    ----------
    n_genotyped, n_phenotyped : int
        Rows of the .fam and of the table.
    n_both : int
        Distinct IDs present in both.
    only_in_genotypes, only_in_phenotypes : pandas.DataFrame
        Distinct IDs (``FID``, ``IID``) present on one side only, in file order.
    duplicated_in_genotypes, duplicated_in_phenotypes : pandas.DataFrame
        IDs that occur on more than one row (``FID``, ``IID``, ``n_rows``).
    on : str
        ``"FID_IID"`` (match on the pair, PLINK's rule) or ``"IID"``.
    kind : str
        ``"phenotype"`` or ``"covariate"`` (for messages).
    n_iid_matches : int
        Distinct IIDs present in both (a hint when FIDs differ between the files).
    """

    n_genotyped: int
    n_phenotyped: int
    n_both: int
    only_in_genotypes: pd.DataFrame
    only_in_phenotypes: pd.DataFrame
    duplicated_in_genotypes: pd.DataFrame
    duplicated_in_phenotypes: pd.DataFrame
    on: str = "FID_IID"
    kind: str = "phenotype"
    n_iid_matches: int = 0

    def summary(self) -> pd.DataFrame:
        """Counts as a one-column table (column ``n``) for display."""
        rows = {
            "samples in genotypes": self.n_genotyped,
            "in phenotype table": self.n_phenotyped,
            "in both": self.n_both,
            "only in genotypes": len(self.only_in_genotypes),
            "only in phenotypes": len(self.only_in_phenotypes),
            "duplicate IDs in genotypes": len(self.duplicated_in_genotypes),
            "duplicate IDs in phenotypes": len(self.duplicated_in_phenotypes),
        }
        return pd.DataFrame({"n": pd.Series(rows, dtype="int64")})

    def messages(self) -> list[str]:
        """Readable warnings (empty when every ID matches once)."""
        key = "(FID, IID)" if self.on == "FID_IID" else "IID"
        table = f"{self.kind} table"
        out = []

        def examples(df: pd.DataFrame) -> str:
            ids = [
                f"{clean_text(f)}/{clean_text(i)}" if self.on == "FID_IID" else clean_text(i)
                for f, i in zip(df["FID"].head(5), df["IID"].head(5), strict=True)
            ]
            return ", ".join(ids) + (" ..." if len(df) > 5 else "")

        if self.n_both == 0:
            msg = (
                f"No genotyped sample matches the {table} on {key}: the IDs of the two files "
                "are different."
            )
            if self.on == "FID_IID" and self.n_iid_matches > 0:
                msg += (
                    f" {self.n_iid_matches} samples match on IID alone, so the FID columns "
                    "differ: fix the FIDs in the table, or drop its FID column to match on IID."
                )
            out.append(msg)
        if len(self.only_in_genotypes) and self.n_both:
            out.append(
                f"{len(self.only_in_genotypes)} of {self.n_genotyped} genotyped samples have "
                f"no row in the {table}; their values are missing (e.g. "
                f"{examples(self.only_in_genotypes)})."
            )
        if len(self.only_in_phenotypes):
            out.append(
                f"{len(self.only_in_phenotypes)} rows of the {table} match no genotyped sample "
                f"and are ignored (e.g. {examples(self.only_in_phenotypes)})."
            )
        if len(self.duplicated_in_genotypes):
            out.append(
                f"{len(self.duplicated_in_genotypes)} IDs occur more than once in the .fam "
                f"(e.g. {examples(self.duplicated_in_genotypes)}); PLINK refuses such files: "
                "give every sample a unique ID."
            )
        if len(self.duplicated_in_phenotypes):
            out.append(
                f"{len(self.duplicated_in_phenotypes)} IDs occur on more than one row of the "
                f"{table} (e.g. {examples(self.duplicated_in_phenotypes)}); keep one row per "
                "sample."
            )
        return out


def _keys(df: pd.DataFrame, on: str) -> pd.Series:
    iid = df["IID"].astype("str")
    if on == "IID":
        return iid
    return df["FID"].astype("str") + "\x1f" + iid


def _duplicated(df: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    counts = keys.value_counts(sort=False)
    dup_keys = counts[counts > 1]
    first = ~keys.duplicated() & keys.isin(dup_keys.index)
    out = df.loc[first.to_numpy(), ["FID", "IID"]].reset_index(drop=True)
    out["n_rows"] = dup_keys.reindex(keys[first].to_numpy()).to_numpy().astype("int64")
    return out


def reconcile_ids(
    genotype_samples: pd.DataFrame,
    table: pd.DataFrame,
    *,
    on: str = "FID_IID",
    kind: str = "phenotype",
) -> IdReport:
    """Compare the sample IDs of the genotypes with those of a phenotype/covariate table.

    Parameters
    ----------
    genotype_samples : pandas.DataFrame
        Rows of the .fam (``FID``, ``IID``), e.g. ``PlinkGenotypes.samples``.
    table : pandas.DataFrame
        Sample table with ``FID``, ``IID`` (see :func:`read_sample_table`).
    on : {"FID_IID", "IID"}
        Match on the (FID, IID) pair (PLINK's rule, default) or on IID alone.
    kind : str
        Used in messages.

    Returns
    -------
    IdReport
        Counts, IDs on one side only, duplicated IDs. Nothing is dropped or changed.

    Raises
    ------
    InputDataError
        A frame lacks the FID/IID columns.
    ConfigError
        ``on`` is not "FID_IID" or "IID".
    """
    if on not in ("FID_IID", "IID"):
        raise ConfigError(f"on must be 'FID_IID' or 'IID'; got {on!r}.")
    for what, df in (("genotype samples", genotype_samples), (f"{kind} table", table)):
        missing = [c for c in _ID_COLUMNS if c not in df.columns]
        if missing:
            raise InputDataError(
                f"reconcile_ids: the {what} have no {', '.join(missing)} column "
                f"(columns: {excerpt(df.columns)})."
            )
    gk, tk = _keys(genotype_samples, on), _keys(table, on)
    in_t = gk.isin(tk).to_numpy()
    in_g = tk.isin(gk).to_numpy()
    only_g = genotype_samples.loc[~in_t & ~gk.duplicated().to_numpy(), ["FID", "IID"]]
    only_t = table.loc[~in_g & ~tk.duplicated().to_numpy(), ["FID", "IID"]]
    n_iid = int(
        pd.Index(genotype_samples["IID"].astype("str").unique())
        .isin(table["IID"].astype("str"))
        .sum()
    )
    return IdReport(
        n_genotyped=len(genotype_samples),
        n_phenotyped=len(table),
        n_both=int(gk[in_t].nunique()),
        only_in_genotypes=only_g.reset_index(drop=True),
        only_in_phenotypes=only_t.reset_index(drop=True),
        duplicated_in_genotypes=_duplicated(genotype_samples, gk),
        duplicated_in_phenotypes=_duplicated(table, tk),
        on=on,
        kind=kind,
        n_iid_matches=n_iid,
    )
