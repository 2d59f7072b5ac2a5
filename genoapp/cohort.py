"""The genotype container: one PLINK fileset plus the table of selected samples.

A :class:`Cohort` couples a lazy :class:`~genoapp.io.PlinkGenotypes` handle with a samples table
(one row per selected sample, in .fam order) that carries the .fam row (``sample_index``),
``FID``, ``IID``, ``sex`` and every phenotype/covariate column merged on the sample IDs.
Selections return new cohorts sharing the same genotype handle; nothing is modified in place.
Genotypes are read on demand as dosages of A1 (float32, NaN = missing), see DESIGN.md §3.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.io.formats import ReadOptions, open_genotypes
from genoapp.io.plink import PlinkGenotypes
from genoapp.io.sanitize import clean_text, excerpt, shown_path
from genoapp.io.tables import (
    BinaryCoding,
    IdReport,
    _detect_coding,
    coerce_binary,
    normalize_sample_table,
    read_sample_table,
    reconcile_ids,
)

__all__ = ["Cohort"]

_BASE_COLUMNS = ("sample_index", "FID", "IID", "sex")
MISSING_LABEL = "(missing)"


def _label(value) -> str:
    """Readable batch label: NaN -> '(missing)', 2.0 -> '2'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING_LABEL
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


#: Longest sample ID (FID/IID) or column name quoted in a message (IDs are longer than the
#: sanitiser's default of 20 characters more often than column names).
_ID_CHARS = 40


def _ids(values, *, max_items: int = 5) -> str:
    """A bounded, sanitised excerpt of IDs or column names from a user file, for messages."""
    return excerpt(values, max_items=max_items, max_chars=_ID_CHARS)


def _as_list(values) -> list:
    if isinstance(values, str | bytes) or np.isscalar(values):
        return [values]
    return list(values)


def _load_table(table, kind: str) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return normalize_sample_table(table, kind=kind)
    if isinstance(table, str | os.PathLike):
        return read_sample_table(table, kind=kind)
    raise InputDataError(
        f"The {kind} table must be a file path or a pandas DataFrame; got {type(table).__name__}."
    )


def _table_codings(table: pd.DataFrame) -> dict[str, str]:
    """Binary coding ('0/1' or '1/2') of every numeric column that is a binary trait."""
    out = {}
    for col in table.columns[2:]:
        s = table[col]
        if not pd.api.types.is_numeric_dtype(s):
            continue
        s = s.astype("float64")
        coding = _detect_coding(set(pd.unique(s.mask(s == -9.0).dropna()).tolist()))
        if coding in ("0/1", "1/2"):
            out[str(col)] = coding
    return out


@dataclasses.dataclass(repr=False)
class Cohort:
    """Genotypes plus the selected samples and their phenotypes/covariates.

    Attributes
    ----------
    genotypes : PlinkGenotypes
        Lazy handle on the .bed/.bim/.fam (A1 counted, NaN missing).
    samples : pandas.DataFrame
        One row per selected sample, in .fam order, ``RangeIndex``: ``sample_index`` (int64,
        0-based row of the .fam), ``FID``, ``IID`` (str), ``sex`` (int64, 0/1/2 from the .fam),
        then every phenotype and covariate column (left join on the sample IDs; samples absent
        from a table get NaN).
    name : str
        Display name (default: the fileset prefix's name).
    id_report : IdReport or None
        ID matching of the phenotype table (None without one).
    covariate_report : IdReport or None
        ID matching of the covariate table.
    binary_codings : dict of str to str
        Case/control coding ("0/1" or "1/2") of each binary column, detected on the whole
        table when it was loaded (so that a subset with one class keeps its meaning).
    notes : list of str
        What was done while merging (renamed columns, FID set to IID, ...), for the UI.
    variant_index : numpy.ndarray or None
        0-based .bim rows of the selected variants (None = all), e.g. those kept by QC.
    column_sources : dict of str to str
        Which table each merged column came from (``"phenotype"`` or ``"covariate"``).
    relationship : object or None
        Loadings of a pedigree or relationship matrix
        (:class:`genoapp.features.pedigree.RelationshipLoadings`), attached by the
        quantitative-trait workflow.
    loading_rows : numpy.ndarray or None
        Row of ``relationship.loadings`` for each selected sample.
    relationship_source : str
        What the loadings come from ("pedigree FILE (A over N individuals)", "GRM FILE").
    files : dict of str to str
        Input files, for run records.
    """

    genotypes: PlinkGenotypes
    samples: pd.DataFrame
    name: str = "cohort"
    id_report: IdReport | None = None
    covariate_report: IdReport | None = None
    binary_codings: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    variant_index: np.ndarray | None = None
    column_sources: dict[str, str] = dataclasses.field(default_factory=dict)
    relationship: object = None
    loading_rows: np.ndarray | None = None
    relationship_source: str = ""
    files: dict[str, str] = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_files(
        cls,
        bed,
        *,
        phenotypes=None,
        covariates=None,
        name: str | None = None,
        match_on: str = "auto",
        read_options: ReadOptions | dict | None = None,
    ) -> Cohort:
        """Open genotypes and merge phenotype/covariate tables onto their samples.

        Parameters
        ----------
        bed : str, path-like or PlinkGenotypes
            PLINK 1 prefix or any of the .bed/.bim/.fam paths, or a ``.vcf[.gz]``, ``.bcf``,
            ``.pgen`` or ``.bgen`` file (converted once to a cached PLINK 1 fileset, see
            :func:`genoapp.io.open_genotypes`; the counts of that read are in
            ``cohort.genotypes.read_report``).
        phenotypes, covariates : str, path-like or pandas.DataFrame, optional
            Sample tables with ``FID``/``IID`` (see :func:`genoapp.io.read_sample_table`);
            DataFrames are not modified.
        name : str, optional
            Display name; default the fileset prefix's name.
        match_on : {"auto", "FID_IID", "IID"}
            How table rows are matched to .fam rows. ``"auto"``: on (FID, IID) as PLINK does,
            or on IID when the table has no FID column.
        read_options : genoapp.io.ReadOptions or dict, optional
            How a VCF/BCF, .pgen or BGEN file is read (sample-ID split, GT or DS, multi-allelic
            records, FILTER, QUAL); ignored for PLINK 1 filesets.

        Returns
        -------
        Cohort
            All samples of the .fam, in file order.

        Raises
        ------
        InputDataError
            Bad genotype files or tables; IDs duplicated in a table or (when a table is merged)
            in the .fam; no sample of a table matches the genotypes; the same column name in
            the phenotype and covariate tables.
        ConfigError
            Unknown ``match_on``.
        """
        if match_on not in ("auto", "FID_IID", "IID"):
            raise ConfigError(f"match_on must be 'auto', 'FID_IID' or 'IID'; got {match_on!r}.")
        if isinstance(read_options, dict):
            read_options = ReadOptions(**read_options)
        geno = bed if isinstance(bed, PlinkGenotypes) else open_genotypes(bed, options=read_options)
        fam = geno.samples
        samples = pd.DataFrame(
            {
                "sample_index": np.arange(geno.n_samples, dtype=np.int64),
                "FID": fam["FID"].to_numpy(),
                "IID": fam["IID"].to_numpy(),
                "sex": fam["sex"].to_numpy(dtype=np.int64),
            }
        )
        samples["FID"] = samples["FID"].astype("str")
        samples["IID"] = samples["IID"].astype("str")
        reports: dict[str, IdReport] = {}
        codings: dict[str, str] = {}
        notes: list[str] = []
        added: dict[str, str] = {}  # column -> kind that added it
        for kind, source in (("phenotype", phenotypes), ("covariate", covariates)):
            if source is None:
                continue
            table = _load_table(source, kind)
            notes.extend(table.attrs.get("notes", []))
            where = table.attrs.get("source", f"the {kind} table")
            on = match_on
            if on == "auto":
                on = "IID" if table.attrs.get("fid_from_iid", False) else "FID_IID"
            report = reconcile_ids(fam, table, on=on, kind=kind)
            reports[kind] = report
            key_name = "(FID, IID)" if on == "FID_IID" else "IID"
            for dups, what in (
                (report.duplicated_in_phenotypes, where),
                (report.duplicated_in_genotypes, f"the .fam file {shown_path(geno.fam_path)}"),
            ):
                if len(dups):
                    keys = [
                        f"{clean_text(f, max_chars=_ID_CHARS)}/{clean_text(i, max_chars=_ID_CHARS)}"
                        if on == "FID_IID" else i
                        for f, i in zip(dups["FID"], dups["IID"], strict=True)
                    ]
                    raise InputDataError(
                        f"{what}: {len(dups)} sample IDs {key_name} occur on more than one row "
                        f"({excerpt(keys, max_chars=2 * _ID_CHARS + 1)}). Rows are never dropped "
                        "silently: keep one row per sample and load the file again."
                    )
            if report.n_both == 0:
                raise InputDataError(
                    f"{where}: "
                    + " ".join(report.messages()[:1])
                    + f" (genotype IDs e.g. {_ids(fam['IID'].head(3))}; table IDs e.g. "
                    f"{_ids(table['IID'].head(3))})."
                )
            # column clashes
            values = table.drop(columns=["FID", "IID"])
            renames = {}
            for col in values.columns:
                if col in added:
                    raise InputDataError(
                        f"Column '{clean_text(col, max_chars=_ID_CHARS)}' is in both the "
                        f"{added[col]} table and the {kind} table. "
                        "Rename it in one of them so that every column has one meaning."
                    )
                if col in _BASE_COLUMNS:
                    renames[col] = f"{col}_{kind}"
            keys_g = (
                fam["IID"].astype("str")
                if on == "IID"
                else fam["FID"].astype("str") + "\x1f" + fam["IID"].astype("str")
            )
            keys_t = (
                table["IID"]
                if on == "IID"
                else table["FID"].astype("str") + "\x1f" + table["IID"].astype("str")
            )
            values.index = pd.Index(keys_t.to_numpy())
            merged = values.reindex(keys_g.to_numpy()).reset_index(drop=True)
            if "sex" in renames:
                t_sex = pd.to_numeric(merged["sex"], errors="coerce")
                known = t_sex.notna()
                if (t_sex[known].to_numpy() == samples["sex"][known].to_numpy()).all():
                    merged = merged.drop(columns="sex")
                    del renames["sex"]
                    notes.append(
                        f"The {kind} table's 'sex' column agrees with the .fam and was dropped."
                    )
            for old, new in renames.items():
                notes.append(
                    f"The {kind} table's column '{old}' is named like a genotype sample column; "
                    f"kept as '{new}' (the .fam value stays in '{old}')."
                )
            merged = merged.rename(columns=renames)
            for col in merged.columns:
                if col in samples.columns or col in added:
                    raise InputDataError(
                        f"Column '{clean_text(col, max_chars=_ID_CHARS)}' of the {kind} table "
                        "clashes with an existing column; "
                        "rename it."
                    )
                added[col] = kind
            samples = pd.concat([samples, merged], axis=1)
            codings.update(
                {
                    renames.get(c, c): v
                    for c, v in _table_codings(table).items()
                    if renames.get(c, c) in samples.columns
                }
            )
        files = {"bed": str(geno.bed_path)}
        if geno.read_report is not None:
            files["genotypes"] = geno.read_report.source
        for kind, source in (("phenotypes", phenotypes), ("covariates", covariates)):
            if isinstance(source, str | os.PathLike):
                files[kind] = str(source)
        return cls(
            genotypes=geno,
            samples=samples,
            name=name or geno.prefix.name,
            id_report=reports.get("phenotype"),
            covariate_report=reports.get("covariate"),
            binary_codings=codings,
            notes=notes,
            column_sources=dict(added),
            files=files,
        )

    # ------------------------------------------------------------------ properties
    @property
    def n_samples(self) -> int:
        """Number of selected samples."""
        return int(self.samples.shape[0])

    @property
    def n_variants(self) -> int:
        """Number of selected variants (all of the .bim unless a subset was taken)."""
        if self.variant_index is None:
            return self.genotypes.n_variants
        return int(self.variant_index.size)

    @property
    def variants(self) -> pd.DataFrame:
        """The selected variants (chrom, id, cM, pos, A1, A2), ``RangeIndex``."""
        if self.variant_index is None:
            return self.genotypes.variants
        return self.genotypes.variants.iloc[self.variant_index].reset_index(drop=True)

    @property
    def trait_names(self) -> list[str]:
        """Numeric columns of the phenotype table with at least 10 observed values
        (candidate quantitative traits)."""
        cols = [c for c, k in self.column_sources.items() if k == "phenotype"
                and c in self.samples.columns]
        return [c for c in cols if pd.api.types.is_numeric_dtype(self.samples[c])
                and self.samples[c].notna().sum() >= 10]

    def take_variants(self, idx) -> Cohort:
        """New cohort restricted to some of the current variants.

        Parameters
        ----------
        idx : array-like of bool or int
            Mask over the current variants or 0-based positions into them (sorted, repeats
            removed).

        Raises
        ------
        ConfigError
            Wrong mask length or positions out of range.
        """
        arr = np.asarray(idx)
        n = self.n_variants
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise ConfigError(f"take_variants: mask has shape {arr.shape}; expected ({n},).")
            pos = np.flatnonzero(arr)
        else:
            pos = np.unique(arr.astype(np.int64))
            if pos.size and (pos.min() < 0 or pos.max() >= n):
                raise ConfigError(f"take_variants: positions must lie in 0..{n - 1}.")
        base = np.arange(self.genotypes.n_variants) if self.variant_index is None \
            else self.variant_index
        return dataclasses.replace(self, variant_index=base[pos].astype(np.int64))

    @property
    def sample_index(self) -> np.ndarray:
        """0-based .fam rows of the selected samples (int64)."""
        return self.samples["sample_index"].to_numpy(dtype=np.int64)

    def __repr__(self) -> str:
        extra = [c for c in self.samples.columns if c not in _BASE_COLUMNS]
        cols = ", ".join(extra[:6]) + (" ..." if len(extra) > 6 else "")
        return (
            f"Cohort({self.name!r}, n_samples={self.n_samples}, n_variants={self.n_variants}, "
            f"columns=[{cols}])"
        )

    # ------------------------------------------------------------------ selection
    def _column(self, name: str, what: str) -> pd.Series:
        if name not in self.samples.columns:
            columns = [str(c) for c in self.samples.columns]
            key = str(name).lower()
            similar = [c for c in columns
                       if key and (key in c.lower() or (len(c) >= 3 and c.lower() in key))]
            similar += [c for c in difflib.get_close_matches(str(name), columns, n=3)
                        if c not in similar]
            hint = f" Did you mean: {_ids(similar)}?" if similar else ""
            raise ConfigError(
                f"{what} '{clean_text(name, max_chars=_ID_CHARS)}' is not a column of cohort "
                f"'{clean_text(self.name, max_chars=_ID_CHARS)}'.{hint} Columns: "
                f"{_ids(columns, max_items=30)}."
            )
        return self.samples[name]

    def take(self, rows) -> Cohort:
        """New cohort with a subset of the current samples.

        Parameters
        ----------
        rows : array-like of bool or int
            Boolean mask of length ``n_samples`` or 0-based positions into ``samples``
            (order is made .fam order, repeats removed).
        """
        arr = np.asarray(rows)
        if arr.dtype == bool:
            if arr.shape != (self.n_samples,):
                raise ConfigError(
                    f"take: boolean mask has shape {arr.shape}; expected ({self.n_samples},)."
                )
            keep = arr
        else:
            if arr.size and (
                not np.issubdtype(arr.dtype, np.integer)
                or arr.min() < 0
                or arr.max() >= self.n_samples
            ):
                raise ConfigError(
                    f"take: rows must be a boolean mask or positions in 0..{self.n_samples - 1}."
                )
            keep = np.zeros(self.n_samples, dtype=bool)
            keep[arr.astype(np.int64)] = True
        rows_kept = np.flatnonzero(keep)
        lr = None if self.loading_rows is None else np.asarray(self.loading_rows)[rows_kept]
        return dataclasses.replace(self, samples=self.samples.loc[keep].reset_index(drop=True),
                                   loading_rows=lr)

    def select(
        self,
        *,
        batch_column: str | None = None,
        batches: Iterable | None = None,
        sexes: Iterable[int] | None = None,
        require_phenotype: str | None = None,
    ) -> Cohort:
        """New cohort restricted to some batches, sexes and/or samples with a phenotype.

        Parameters
        ----------
        batch_column : str, optional
            Column holding the batch/platform/population label; needed with ``batches``.
        batches : iterable, optional
            Values of ``batch_column`` to keep (``2``, ``"2"`` and ``"2.0"`` all match a value
            2.0; ``"(missing)"`` or ``"nan"`` match missing labels).
        sexes : iterable of int, optional
            Codes to keep: 0 unknown, 1 male, 2 female.
        require_phenotype : str, optional
            Keep samples whose value in this column is not missing (for binary traits in 1/2
            coding, 0 also counts as missing).

        Returns
        -------
        Cohort
            Conditions are combined with AND; same genotypes, .fam order kept.

        Raises
        ------
        ConfigError
            Unknown column, batch values not present (the message lists those present),
            sex codes other than 0/1/2, ``batches`` without ``batch_column``, or a selection
            that leaves no sample.
        """
        keep = np.ones(self.n_samples, dtype=bool)
        applied = []
        if batches is not None and batch_column is None:
            raise ConfigError("select: 'batches' needs 'batch_column' (the column to filter on).")
        if batch_column is not None:
            col = self._column(batch_column, "batch_column")
            if batches is not None:
                labels = col.map(_label)
                present = list(dict.fromkeys(labels.tolist()))
                # each value is known by its label and by str(value) ("2" and "2.0" for 2.0)
                alias = {str(v): _label(v) for v in col.unique()}
                alias.update({p: p for p in present})
                requested = _as_list(batches)
                unknown = [b for b in requested if _label(b) not in alias and str(b) not in alias]
                if unknown:
                    raise ConfigError(
                        f"select: batches {[clean_text(b, max_chars=_ID_CHARS) for b in unknown[:5]]}"
                        f"{' ...' if len(unknown) > 5 else ''} are not values of "
                        f"'{clean_text(batch_column, max_chars=_ID_CHARS)}'; present: "
                        f"{_ids(present, max_items=30)}."
                    )
                wanted = [alias.get(_label(b), alias.get(str(b))) for b in requested]
                keep &= labels.isin(wanted).to_numpy()
                applied.append(f"{batch_column} in {wanted}")
        if sexes is not None:
            codes = _as_list(sexes)
            bad = [s for s in codes if s not in (0, 1, 2)]
            if bad:
                raise ConfigError(
                    f"select: sexes must be codes 0 (unknown), 1 (male), 2 (female); got {bad}."
                )
            keep &= self.samples["sex"].isin([int(s) for s in codes]).to_numpy()
            applied.append(f"sex in {codes}")
        if require_phenotype is not None:
            col = self._column(require_phenotype, "require_phenotype")
            if require_phenotype in self.binary_codings:
                col, _ = coerce_binary(
                    col, name=require_phenotype, coding=self.binary_codings[require_phenotype]
                )
            keep &= col.notna().to_numpy()
            applied.append(f"{require_phenotype} observed")
        if not keep.any():
            raise ConfigError(
                f"select: no sample of cohort '{clean_text(self.name, max_chars=_ID_CHARS)}' "
                f"({self.n_samples} samples) satisfies "
                f"{clean_text(' and '.join(applied), max_chars=200) or 'the selection'}. "
                "Loosen the selection."
            )
        return self.take(keep)

    # ------------------------------------------------------------------ phenotypes
    def phenotype(self, name: str, *, coding: str | None = None) -> tuple[np.ndarray, BinaryCoding]:
        """Case/control vector of a binary trait.

        Parameters
        ----------
        name : str
            Column of ``samples``.
        coding : {None, "0/1", "1/2"}
            Default: the coding detected on the whole table at load time, else detected on the
            selected samples (see :func:`genoapp.io.coerce_binary`).

        Returns
        -------
        (numpy.ndarray, BinaryCoding)
            float64 array of length ``n_samples``: 0 = control, 1 = case, NaN = missing; and
            the coding summary (counts over the selected samples).

        Raises
        ------
        ConfigError
            Unknown column.
        InputDataError
            The column is not a binary trait.
        """
        col = self._column(name, "phenotype")
        y, info = coerce_binary(col, name=name, coding=coding or self.binary_codings.get(name))
        return y.to_numpy(dtype=np.float64), info

    def cases_controls_table(
        self, phenotype: str, *, batch_column: str | None = None
    ) -> pd.DataFrame:
        """Counts of cases, controls and missing values, per batch.

        Parameters
        ----------
        phenotype : str
            Binary trait column.
        batch_column : str, optional
            Column to group by.

        Returns
        -------
        pandas.DataFrame
            Columns ``batch`` (str), ``cases``, ``controls``, ``missing``, ``total`` (int64),
            ``case_fraction`` (float64, cases / (cases + controls), NaN if none). With
            ``batch_column``: one row per batch value (sorted; missing labels as
            ``"(missing)"`` last) and a last row ``"Total"``; without: a single row ``"all"``.
            The last row is always the total over the cohort.
        """
        y, _ = self.phenotype(phenotype)
        if batch_column is None:
            groups = np.zeros(self.n_samples, dtype=np.int64)
            names = ["all"]
        else:
            col = self._column(batch_column, "batch_column")
            values = col.dropna().unique()
            try:
                values = sorted(values)
            except TypeError:
                values = sorted(values, key=str)
            names = list(dict.fromkeys(_label(v) for v in values))
            labels = col.map(_label)
            if (labels == MISSING_LABEL).any():
                names.append(MISSING_LABEL)
            groups = pd.Index(names).get_indexer(labels)
        k = len(names)
        cases = np.bincount(groups, weights=(y == 1.0), minlength=k).astype(np.int64)
        controls = np.bincount(groups, weights=(y == 0.0), minlength=k).astype(np.int64)
        missing = np.bincount(groups, weights=np.isnan(y), minlength=k).astype(np.int64)
        if batch_column is not None:
            names = [*names, "Total"]
            cases, controls, missing = (np.append(a, a.sum()) for a in (cases, controls, missing))
        observed = cases + controls
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(observed > 0, cases / np.maximum(observed, 1), np.nan)
        out = pd.DataFrame(
            {
                "batch": pd.Series(names, dtype="str"),
                "cases": cases,
                "controls": controls,
                "missing": missing,
                "total": cases + controls + missing,
                "case_fraction": frac.astype(np.float64),
            }
        )
        return out

    # ------------------------------------------------------------------ genotypes
    def _sample_idx(self) -> np.ndarray | None:
        idx = self.sample_index
        if idx.size == self.genotypes.n_samples and np.array_equal(
            idx, np.arange(idx.size, dtype=np.int64)
        ):
            return None
        return idx

    def read_dosages(
        self, variant_idx=None, *, dtype: str = "float32", num_threads: int | None = None
    ) -> np.ndarray:
        """Dosages of A1 for the selected samples.

        Parameters
        ----------
        variant_idx : None, int array, bool mask or slice
            Variants to read (rows of ``variants``); None = all.
        dtype : {"float32", "float64"}
        num_threads : int, optional
            bed-reader threads.

        Returns
        -------
        numpy.ndarray
            ``(n_samples, n_selected_variants)``, 0/1/2 copies of A1, NaN = missing, rows in
            the order of ``samples``.
        """
        return self.genotypes.read(
            self._sample_idx(), self._file_variants(variant_idx), dtype=dtype,
            num_threads=num_threads
        )

    def read_int8(self, variant_idx=None, *, num_threads: int | None = None) -> np.ndarray:
        """As :meth:`read_dosages` but int8 with -127 = missing (memory-light, for QC)."""
        return self.genotypes.read_int8(self._sample_idx(), self._file_variants(variant_idx),
                                        num_threads=num_threads)

    def _file_variants(self, variant_idx):
        """.bim rows of ``variant_idx`` (positions among the selected variants)."""
        if self.variant_index is None:
            return variant_idx
        if variant_idx is None:
            return self.variant_index
        return self.variant_index[np.arange(self.n_variants)[variant_idx]]
