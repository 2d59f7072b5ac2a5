"""Sanity checks of a variants table (.bim): impossible positions and duplicate variant IDs.

These checks return readable warnings (lists of strings) for the pre-flight report, the app
and the command line; they raise only on a table that is not a variants table at all.

* :func:`check_positions` - all base-pair positions 0 (no physical map), negative positions
  (PLINK's mark for variants to skip), chromosome 0 (unplaced), positions that are marker
  indices rather than base pairs (the shared BGLR mice: bp = 1..n within each chromosome; the
  wheat lines: chromosome 0, bp = 1..M), and - for a human build - positions beyond the end of
  their chromosome (:func:`chromosome_end_warning`, also used by
  :func:`genoapp.features.check_build`).
* :func:`duplicate_variant_ids` - the IDs that occur on more than one .bim line (a table) and
  :func:`duplicate_variant_ids_message` (one readable warning);
  :func:`deduplicate_variant_ids` - what to do about them (keep the first occurrence, as
  ``plink2 --rm-dup force-first`` does; rename later occurrences with a suffix; or, by default,
  drop exact repeats of the same variant and rename the rest).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.io.genes import CHROM_LENGTHS, chromosome_lengths
from genoapp.io.sanitize import MAX_ITEMS, clean_text, excerpt

__all__ = [
    "DEDUPLICATE_METHODS",
    "check_positions",
    "chromosome_end_warning",
    "deduplicate_variant_ids",
    "duplicate_variant_ids",
    "duplicate_variant_ids_message",
    "no_map_warnings",
]

#: Choices of :func:`deduplicate_variant_ids`.
DEDUPLICATE_METHODS = ("auto", "keep_first", "rename")

_PLINK_HUMAN = {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT"}
_SEX_MT = ("X", "Y", "XY", "MT", "M")


def _require(variants: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(variants, pd.DataFrame):
        raise InputDataError(
            f"{what}: expected the variants table (a pandas DataFrame as read from the .bim), "
            f"got {type(variants).__name__}."
        )
    missing = [c for c in columns if c not in variants.columns]
    if missing:
        raise InputDataError(
            f"{what}: the variants table has no {', '.join(missing)} column (columns: "
            f"{excerpt(variants.columns)}). Read the .bim with genoapp.io.read_bim."
        )


def _chrom_labels(values) -> np.ndarray:
    """Chromosome labels without ``chr`` prefix and leading zeros; X/Y/XY/MT upper case."""
    s = pd.Series(np.asarray(values).astype(str), dtype=object).str.strip()
    s = s.str.replace(r"^(?i:chr)", "", regex=True)
    numeric = s.str.fullmatch(r"\d+")
    s = s.where(~numeric, s.str.lstrip("0").replace("", "0"))
    upper = s.str.upper()
    s = s.where(~upper.isin(list(_SEX_MT)), upper)
    return s.to_numpy(dtype=object).astype(str)


def _positions(variants: pd.DataFrame, what: str) -> np.ndarray:
    pos = pd.to_numeric(variants["pos"], errors="coerce")
    if pos.isna().any():
        i = int(np.flatnonzero(pos.isna().to_numpy())[0])
        raise InputDataError(
            f"{what}: column 'pos' must hold integer base-pair positions; row {i + 1} has "
            f"'{clean_text(variants['pos'].iloc[i])}'. Read the .bim with genoapp.io.read_bim."
        )
    return pos.to_numpy(dtype=np.int64)


def chromosome_end_warning(chrom, pos, *, build: str) -> str | None:
    """Warning for variants placed beyond the end of their chromosome in a human build.

    Parameters
    ----------
    chrom : array-like of str, shape (n,)
        Chromosome labels, already normalised (``"1"``..``"22"``, ``"X"``, ``"Y"``, ``"XY"``,
        ``"MT"``; PLINK codes 23-26 mapped to X, Y, XY, MT). Other labels are not checked.
    pos : array-like of int, shape (n,)
        Base-pair positions.
    build : str
        ``"GRCh37"``/``"hg19"`` or ``"GRCh38"``/``"hg38"`` (chromosome lengths of
        :data:`genoapp.io.genes.CHROM_LENGTHS`).

    Returns
    -------
    str or None
        ``"3 variant(s) lie beyond the end of their chromosome in GRCh38 (e.g. chr1:249,000,000
        > 248,956,422 bp). They fit GRCh37. ..."``, or None when every position fits.

    Raises
    ------
    ConfigError
        Unknown build.
    """
    lengths = chromosome_lengths(build)
    name = next(k for k, v in CHROM_LENGTHS.items() if v == lengths)
    chrom = np.asarray(chrom, dtype=object)
    pos = np.asarray(pos, dtype=np.int64)
    known = np.isin(chrom, list(lengths))
    if not known.any():
        return None
    lim = np.array([lengths[c] for c in chrom[known]], dtype=np.int64)
    over = pos[known] > lim
    if not over.any():
        return None
    i = int(np.flatnonzero(over)[0])
    c0, p0, l0 = chrom[known][i], int(pos[known][i]), int(lim[i])
    others = [b for b, tab in CHROM_LENGTHS.items() if b != name and all(
        p <= tab.get(c, np.inf) for c, p in zip(chrom[known][over], pos[known][over],
                                                 strict=True))]
    hint = f" They fit {others[0]}." if others else ""
    return (
        f"{int(over.sum()):,} variant(s) lie beyond the end of their chromosome in {name} "
        f"(e.g. chr{c0}:{p0:,} > {l0:,} bp).{hint} The genotypes are probably on another "
        "genome build than the gene table (or positions are not base pairs): lift the "
        "genotypes over, or load a gene table of their build."
    )


_TODO = ("Gene annotation and windows in kb need base-pair positions: use windows of "
         "consecutive SNPs instead, or add the positions (plink --update-map).")


def no_map_warnings(variants: pd.DataFrame) -> list[str]:
    """Warnings when the variants have no usable map at all (a subset of :func:`check_positions`).

    Parameters
    ----------
    variants : pandas.DataFrame
        ``chrom``, ``pos`` (the .bim table). Not modified.

    Returns
    -------
    list of str
        "All N variants have base-pair position 0 ..." and/or "All N variants are on chromosome
        0 (unplaced) ...", else empty. :func:`genoapp.features.check_build` returns these
        instead of its build checks, which would be meaningless.

    Raises
    ------
    InputDataError
        Not a variants table.
    """
    what = "check_positions"
    _require(variants, ("chrom", "pos"), what)
    n = len(variants)
    if n == 0:
        return []
    out = []
    if (_positions(variants, what) == 0).all():
        out.append(f"All {n:,} variants have base-pair position 0: the .bim carries no physical "
                   f"map. {_TODO}")
    if (_chrom_labels(variants["chrom"].to_numpy()) == "0").all():
        out.append(
            f"All {n:,} variants are on chromosome 0 (unplaced: the genotypes come without a "
            "map). SNP-to-gene annotation is impossible; use windows of consecutive SNPs, or "
            "add the map (plink --update-chr / --update-map)."
        )
    return out


def check_positions(variants: pd.DataFrame, *, build: str | None = None) -> list[str]:
    """Warnings about base-pair positions that cannot be real (never raises on odd data).

    Parameters
    ----------
    variants : pandas.DataFrame
        The variants table (``chrom``, ``pos``; ``id`` used for examples), as read by
        :func:`genoapp.io.read_bim`. Not modified.
    build : str, optional
        A human build (``"GRCh37"``/``"hg19"``, ``"GRCh38"``/``"hg38"``): also check positions
        against its chromosome ends (PLINK codes 23-26 read as X, Y, XY, MT). Leave None for
        other species.

    Returns
    -------
    list of str
        Readable warnings, in this order, each saying what was found and what to do:

        * all positions 0 (no physical map), or some positions 0 (unknown position);
        * negative positions (PLINK skips such variants);
        * all (or some) variants on chromosome 0 (unplaced);
        * positions that look like marker indices: on every chromosome the largest position is
          at most the number of variants on it (1..n), e.g. the BGLR mice (genetic map only)
          and wheat (no map) of the shared data;
        * with ``build``: positions beyond the end of their chromosome.

        Empty when nothing looks wrong.

    Raises
    ------
    InputDataError
        ``variants`` is not a variants table (no ``chrom``/``pos`` column, non-numeric pos).
    ConfigError
        Unknown ``build``.
    """
    what = "check_positions"
    _require(variants, ("chrom", "pos"), what)
    if build is not None:
        chromosome_lengths(build)  # unknown build: ConfigError before any work
    n = len(variants)
    if n == 0:
        return []
    pos = _positions(variants, what)
    chrom = _chrom_labels(variants["chrom"].to_numpy())
    ids = (variants["id"].astype(str).to_numpy() if "id" in variants.columns
           else np.array([f"row {i + 1}" for i in range(n)], dtype=object))
    out: list[str] = list(no_map_warnings(variants))
    zero = pos == 0
    unplaced = chrom == "0"
    if zero.any() and not zero.all():
        out.append(
            f"{int(zero.sum()):,} of {n:,} variants have base-pair position 0 (unknown position "
            f"for PLINK; e.g. {excerpt(ids[zero])}): they cannot be placed in a gene or window. "
            "Add their positions or exclude them."
        )
    neg = pos < 0
    if neg.any():
        out.append(
            f"{int(neg.sum()):,} variants have a negative base-pair position (e.g. "
            f"{excerpt(ids[neg])}); PLINK skips such variants. Fix the positions or exclude "
            "these variants."
        )
    if unplaced.any() and not unplaced.all():
        out.append(
            f"{int(unplaced.sum()):,} of {n:,} variants are on chromosome 0 (unplaced; e.g. "
            f"{excerpt(ids[unplaced])}): gene annotation cannot place them."
        )
    placed = ~zero & ~neg
    if n >= 2 and placed.sum() >= 2:
        frame = pd.DataFrame({"chrom": chrom[placed], "pos": pos[placed]})
        per = frame.groupby("chrom", sort=False)["pos"].agg(["max", "size"])
        if (per["max"] <= per["size"]).all() and (per["size"] >= 2).any():
            c0 = per["size"].idxmax()
            cm = pd.to_numeric(variants["cM"], errors="coerce") if "cM" in variants.columns else None
            genetic = (" The cM column holds a genetic map, which windows cannot use as bp."
                       if cm is not None and (cm.fillna(0) != 0).any() else "")
            out.append(
                "The positions look like marker indices, not base pairs: on every chromosome "
                f"they run from 1 to the number of variants (e.g. chromosome "
                f"{clean_text(c0)}: largest position {int(per.loc[c0, 'max']):,} for "
                f"{int(per.loc[c0, 'size']):,} variants).{genetic} {_TODO}"
            )
    if build is not None:
        human = np.array([_PLINK_HUMAN.get(c, c) for c in chrom.tolist()], dtype=object)
        warning = chromosome_end_warning(human[placed], pos[placed], build=build)
        if warning:
            out.append(warning)
    return out


# ---------------------------------------------------------------------------- duplicate IDs


def duplicate_variant_ids(variants: pd.DataFrame) -> pd.DataFrame:
    """The variant IDs that occur on more than one line of the .bim.

    Parameters
    ----------
    variants : pandas.DataFrame
        The variants table (``id``; ``chrom``, ``pos``, ``A1``, ``A2`` used when present).
        Not modified.

    Returns
    -------
    pandas.DataFrame
        One row per duplicated ID, ordered by first occurrence: ``id`` (str), ``n_rows``
        (int64, lines with this ID), ``rows`` (tuple of 0-based .bim rows), ``same_variant``
        (bool: every line has the same chromosome, position and allele pair - an exact repeat
        of one variant rather than different variants sharing a name). Empty (same columns)
        when every ID is unique. ``attrs``: ``n_variants``, ``n_duplicated_ids``,
        ``n_extra_rows`` (lines beyond the first of each ID).

    Raises
    ------
    InputDataError
        No ``id`` column.
    """
    _require(variants, ("id",), "duplicate_variant_ids")
    ids = variants["id"].astype(str).reset_index(drop=True)
    dup = ids.duplicated(keep=False).to_numpy()
    rows = np.flatnonzero(dup)
    groups: dict[str, list[int]] = {}
    for r in rows.tolist():
        groups.setdefault(ids.iat[r], []).append(r)
    key = _variant_keys(variants)
    records = []
    for vid, rr in groups.items():
        same = len({key[r] for r in rr}) == 1 if key is not None else False
        records.append({"id": vid, "n_rows": len(rr), "rows": tuple(rr), "same_variant": same})
    out = pd.DataFrame(records, columns=["id", "n_rows", "rows", "same_variant"])
    out["n_rows"] = out["n_rows"].astype("int64")
    out["same_variant"] = out["same_variant"].astype(bool)
    out.attrs = {
        "n_variants": int(len(ids)),
        "n_duplicated_ids": int(len(out)),
        "n_extra_rows": int(out["n_rows"].sum() - len(out)),
    }
    return out


def _variant_keys(variants: pd.DataFrame) -> list | None:
    """(chrom, pos, {A1, A2}) per row, or None without those columns."""
    if not all(c in variants.columns for c in ("chrom", "pos", "A1", "A2")):
        return None
    chrom = _chrom_labels(variants["chrom"].to_numpy())
    pos = variants["pos"].astype(str).to_numpy()
    a1 = variants["A1"].astype(str).to_numpy()
    a2 = variants["A2"].astype(str).to_numpy()
    return [(c, p, frozenset((x, y))) for c, p, x, y in zip(chrom, pos, a1, a2, strict=True)]


def duplicate_variant_ids_message(report: pd.DataFrame, *, where: str = "the .bim") -> str | None:
    """One readable warning from :func:`duplicate_variant_ids` (None when there is none).

    Parameters
    ----------
    report : pandas.DataFrame
        Output of :func:`duplicate_variant_ids`.
    where : str, default "the .bim"
        The file, for the message.

    Returns
    -------
    str or None
        The count of duplicated IDs and extra lines, the first few IDs (with their 1-based
        lines), and the choices of :func:`deduplicate_variant_ids`.
    """
    if report is None or len(report) == 0:
        return None
    shown = [f"{clean_text(r.id)} (lines {', '.join(str(i + 1) for i in r.rows[:3])}"
             f"{' ...' if len(r.rows) > 3 else ''})"
             for r in report.head(MAX_ITEMS).itertuples()]
    more = f" ... ({len(report):,} in all)" if len(report) > MAX_ITEMS else ""
    n_same = int(report["same_variant"].sum())
    missing = " Many are '.', PLINK's missing ID." if (report["id"] == ".").any() else ""
    return (
        f"{len(report):,} variant IDs occur more than once in {where} "
        f"({int(report['n_rows'].sum()):,} lines; e.g. {'; '.join(shown)}{more}). "
        f"{n_same:,} of them repeat the same variant (same chromosome, position and alleles).{missing} "
        "Results per variant would be ambiguous. Choose: keep the first line of each ID "
        "(like plink2 --rm-dup force-first), rename the later lines with a suffix (ID_2, "
        "ID_3, ...), or drop exact repeats and rename the rest (the default of "
        "genoapp.io.deduplicate_variant_ids); or give every variant a position-based ID "
        "(plink2 --set-all-var-ids @:#:$r:$a)."
    )


def deduplicate_variant_ids(
    variants: pd.DataFrame, *, how: str = "auto"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Make variant IDs unique.

    Parameters
    ----------
    variants : pandas.DataFrame
        The variants table (``id``; ``chrom``, ``pos``, ``A1``, ``A2`` for ``"auto"``).
        Not modified.
    how : {"auto", "keep_first", "rename"}, default "auto"
        * ``"keep_first"``: keep the first line of each ID, drop the later ones (as
          ``plink2 --rm-dup force-first``); genotype columns of dropped lines are lost.
        * ``"rename"``: keep every line; the 2nd, 3rd ... line of an ID become ``ID_2``,
          ``ID_3`` ... (a further ``_2`` is added while the name is taken).
        * ``"auto"``: a later line that repeats an earlier line of the same ID exactly (same
          chromosome, position and allele pair, in either order) is dropped - it is the same
          variant twice; other later lines are renamed as with ``"rename"``. Without the
          ``chrom``/``pos``/``A1``/``A2`` columns this is ``"rename"``.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray)
        The new variants table (``RangeIndex``; ``attrs["renamed"]`` and ``attrs["dropped"]``
        count the lines changed) and the int64 0-based rows of the input that it keeps, in
        order - pass them as ``variant_idx`` when reading genotypes so that columns and table
        stay aligned.

    Raises
    ------
    ConfigError
        Unknown ``how``.
    InputDataError
        No ``id`` column.
    """
    if how not in DEDUPLICATE_METHODS:
        raise ConfigError(
            f"deduplicate_variant_ids(how={how!r}): choose one of {', '.join(DEDUPLICATE_METHODS)}."
        )
    _require(variants, ("id",), "deduplicate_variant_ids")
    ids = variants["id"].astype(str).to_numpy(dtype=object)
    n = ids.size
    keys = _variant_keys(variants) if how == "auto" else None
    keep = np.ones(n, dtype=bool)
    new_ids = ids.copy()
    taken = set(ids.tolist())
    seen: dict[str, list[int]] = {}  # kept lines of each ID
    renamed = 0
    for r in range(n):
        vid = ids[r]
        earlier = seen.setdefault(vid, [])
        if earlier:
            if how == "keep_first" or (keys is not None and any(keys[e] == keys[r]
                                                                 for e in earlier)):
                keep[r] = False
                continue
            name = f"{vid}_{len(earlier) + 1}"
            while name in taken:
                name += "_2"
            taken.add(name)
            new_ids[r] = name
            renamed += 1
        earlier.append(r)
    rows = np.flatnonzero(keep).astype(np.int64)
    out = variants.iloc[rows].copy()
    out["id"] = new_ids[rows]
    out = out.reset_index(drop=True)
    out.attrs = {"renamed": renamed, "dropped": int(n - rows.size), "how": how}
    return out, rows
