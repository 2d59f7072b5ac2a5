"""Gene coordinate tables (symbol, chromosome, start, end) for SNP-to-gene annotation.

Accepted layouts:

* a header with a gene column (``gene``, ``symbol``, ``name``, ``gene_name``, ``gene_symbol``),
  a chromosome column (``chrom``, ``chr``, ``chromosome``, ``seqname``), ``start`` and ``end``
  (any case, leading ``#`` ignored; other columns are kept as text) - e.g. the shared
  ``gene_tables/glist_hg19.tsv`` (``gene chromosome start end``);
* a header-less 4-column PLINK gene list (``glist-hg19``: ``chrom start end name``,
  https://www.cog-genomics.org/plink/1.9/resources).

Tab, comma or whitespace separated (sniffed from the first line).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import InputDataError

__all__ = ["chrom_order", "read_gene_table"]

_GENE = ("gene", "symbol", "name", "gene_name", "gene_symbol", "genename", "gene_id")
_CHROM = ("chrom", "chr", "chromosome", "seqname", "seqnames", "chromosome_name")
_START = ("start", "txstart", "chromstart", "start_bp", "gene_start")
_END = ("end", "stop", "txend", "chromend", "end_bp", "gene_end")
_SEX_MT = ("X", "Y", "XY", "MT")


def _strip_chr(values) -> pd.Series:
    """Chromosome names without a ``chr`` prefix (any case); ``M`` -> ``MT``.

    ``"chr1"`` -> ``"1"``, ``"chrX"`` -> ``"X"``, ``"chrM"`` -> ``"MT"``. Numeric PLINK codes
    (``23`` = X for human) are left alone: their meaning depends on the species.
    """
    s = pd.Series(values).astype("str").str.strip()
    s = s.str.replace(r"^(?i:chr)", "", regex=True)
    return s.mask(s.str.upper() == "M", "MT")


def chrom_order(chroms) -> np.ndarray:
    """Sort rank of chromosome names: numbers ascending, then X, Y, XY, MT, then others A-Z.

    Returns an int64 array of ranks (same length as ``chroms``), for use in ``np.lexsort``.
    """
    s = pd.Series(chroms).astype("str")
    uniq = pd.unique(s)

    def key(c: str):
        if c.isdigit():
            return (0, int(c), "")
        if c.upper() in _SEX_MT:
            return (1, _SEX_MT.index(c.upper()), "")
        return (2, 0, c)

    ranked = sorted(uniq, key=key)
    rank = {c: i for i, c in enumerate(ranked)}
    return s.map(rank).to_numpy(dtype="int64")


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _as_int(values: pd.Series, path: Path, column: str, line_offset: int) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(num) | (num != np.round(num))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"gene table {path}: column '{column}' must be an integer base-pair position; line "
            f"{i + line_offset} has {values.iloc[i]!r} ({int(bad.sum())} bad lines)."
        )
    return num.astype("int64")


def read_gene_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a gene coordinate table.

    Parameters
    ----------
    path : str or path-like
        Gene table with a header (gene/symbol, chrom/chr/chromosome, start, end; any case) or
        a header-less PLINK glist (``chrom start end name``).

    Returns
    -------
    pandas.DataFrame
        ``gene`` (str), ``chrom`` (str, ``chr`` prefix stripped: ``"1"``..``"22"``, ``"X"``,
        ``"Y"``, ``"XY"``, ``"MT"``), ``start``, ``end`` (int64, bp, as in the file: PLINK
        glists are 1-based inclusive), then any other columns of the file (str). Rows are
        stably sorted by chromosome (numbers ascending, then X, Y, XY, MT, then other names)
        and start, so rows of equal chromosome and start keep the file order. Gene symbols may
        repeat (e.g. genes of the pseudo-autosomal region on X and Y).

    Raises
    ------
    InputDataError
        File missing or empty, columns not recognised (the message lists the first line),
        non-integer coordinates, start > end, empty gene names or chromosomes.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise InputDataError(f"gene table {path} not found. Check the path.")
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        first = next((line for line in fh if line.strip()), "")
    if not first:
        raise InputDataError(
            f"gene table {path} is empty; expected columns gene, chrom, start, end."
        )
    sep = "\t" if "\t" in first else ("," if "," in first else r"\s+")
    try:
        raw = pd.read_csv(
            path, sep=sep, header=None, dtype=str, na_filter=False, encoding="utf-8-sig"
        )
    except pd.errors.ParserError as exc:
        raise InputDataError(
            f"gene table {path}: lines have different numbers of fields ({exc})."
        ) from None
    header = [str(h).strip().lstrip("#").strip().lower() for h in raw.iloc[0]]
    idx = [_find(header, names) for names in (_GENE, _CHROM, _START, _END)]
    if None not in idx:
        data = raw.iloc[1:].reset_index(drop=True)
        names = [str(h).strip() for h in raw.iloc[0]]
        line_offset = 2
    elif raw.shape[1] == 4 and pd.to_numeric(raw.iloc[0, 1:3], errors="coerce").notna().all():
        idx = [3, 0, 1, 2]
        data = raw
        names = ["chrom", "start", "end", "gene"]
        line_offset = 1
    else:
        raise InputDataError(
            f"gene table {path}: could not recognise the columns (first line: "
            f"{first.strip()[:200]!r}). Expected a header naming gene (or symbol), chrom (or "
            "chr/chromosome), start and end, or a header-less 4-column PLINK gene list "
            "'chrom start end name' (e.g. glist-hg19)."
        )
    if data.shape[0] == 0:
        raise InputDataError(f"gene table {path} has a header but no genes.")
    gene = data.iloc[:, idx[0]].astype("str").str.strip()
    chrom = _strip_chr(data.iloc[:, idx[1]])
    start = _as_int(data.iloc[:, idx[2]], path, names[idx[2]], line_offset)
    end = _as_int(data.iloc[:, idx[3]], path, names[idx[3]], line_offset)
    for col, label in ((gene, "gene"), (chrom, "chromosome")):
        empty = (col == "").to_numpy()
        if empty.any():
            raise InputDataError(
                f"gene table {path}: {int(empty.sum())} lines have an empty {label} (first: "
                f"line {int(np.flatnonzero(empty)[0]) + line_offset})."
            )
    bad = start > end
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"gene table {path}: start > end on {int(bad.sum())} lines (first: line "
            f"{i + line_offset}, gene {gene.iloc[i]!r}, start {start[i]}, end {end[i]}). "
            "Swap or fix these coordinates."
        )
    out = pd.DataFrame(
        {"gene": gene.to_numpy(), "chrom": chrom.to_numpy(), "start": start, "end": end}
    )
    out["gene"] = out["gene"].astype("str")
    out["chrom"] = out["chrom"].astype("str")
    for j, name in enumerate(names):
        if j not in idx and name not in out.columns:
            out[name] = data.iloc[:, j].astype("str").to_numpy()
    order = np.lexsort((start, chrom_order(out["chrom"])))
    return out.iloc[order].reset_index(drop=True)
