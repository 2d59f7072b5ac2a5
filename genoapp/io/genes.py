"""Gene coordinate tables (symbol, chromosome, start, end) for SNP-to-gene annotation.

Accepted formats (``read_gene_table(path, format="auto")`` recognises them from the content and,
for BED, the file name):

``"table"``
    A header with a gene column (``gene``, ``symbol``, ``name``, ``gene_name``, ``gene_symbol``),
    a chromosome column (``chrom``, ``chr``, ``chromosome``, ``seqname``), ``start`` and ``end``
    (any case, leading ``#`` ignored; other columns are kept as text) - e.g. the shared
    ``gene_tables/glist_hg19.tsv`` (``gene chromosome start end``). Coordinates as written.
``"glist"``
    PLINK gene list, header-less, 4 columns ``chrom start end name``, 1-based inclusive
    (``glist-hg19``; https://www.cog-genomics.org/plink/1.9/resources).
``"magma"``
    MAGMA gene location file (``NCBI37.3.gene.loc``), header-less, ``gene_id chrom start stop``
    and optionally ``strand`` and ``symbol`` (6 columns in the files MAGMA distributes),
    1-based inclusive. The symbol is the gene name where present, else the gene ID; the ID is
    kept in column ``gene_id``.
``"bed"``
    UCSC BED (3 to 12 columns ``chrom chromStart chromEnd [name [score [strand ...]]]``), 0-based
    half-open: converted to 1-based inclusive (``start = chromStart + 1``, ``end = chromEnd``).
    ``track``/``browser``/``#`` lines are skipped; without a name column the gene is called
    ``chrom:start-end``. Chosen for files ending in ``.bed`` (or ``.bed.gz``) and for header-less
    files with 3 or more than 4 columns whose 2nd and 3rd are integers.
``"gtf"``
    GTF/GFF2 (Ensembl, GENCODE): 9 tab-separated columns; only ``gene`` records are used
    (column 3), 1-based inclusive; the name is the ``gene_name`` attribute (else ``gene_id``);
    ``gene_id``, ``strand`` and ``gene_type``/``gene_biotype`` are kept.

Text may be gzip-compressed (``.gz``). Tab, comma or whitespace separated (sniffed from the
first data line). Chromosome names lose a ``chr`` prefix (``chrM`` -> ``MT``).

The module also holds the chromosome lengths of the human builds GRCh37/hg19 and GRCh38/hg38
(:data:`CHROM_LENGTHS`, Genome Reference Consortium assemblies, primary chromosomes), used by the
build sanity check of :func:`genoapp.features.check_build`.
"""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.io.sanitize import clean_text, excerpt, parser_error_detail

__all__ = [
    "CHROM_LENGTHS",
    "GENE_TABLE_FORMATS",
    "chrom_order",
    "chromosome_lengths",
    "detect_gene_table_format",
    "read_gene_table",
]

GENE_TABLE_FORMATS = ("auto", "table", "glist", "magma", "bed", "gtf")

# Primary-assembly chromosome lengths in bp (GRC; UCSC hg19/hg38 chrom.sizes agree).
CHROM_LENGTHS: dict[str, dict[str, int]] = {
    "GRCh37": {
        "1": 249_250_621, "2": 243_199_373, "3": 198_022_430, "4": 191_154_276,
        "5": 180_915_260, "6": 171_115_067, "7": 159_138_663, "8": 146_364_022,
        "9": 141_213_431, "10": 135_534_747, "11": 135_006_516, "12": 133_851_895,
        "13": 115_169_878, "14": 107_349_540, "15": 102_531_392, "16": 90_354_753,
        "17": 81_195_210, "18": 78_077_248, "19": 59_128_983, "20": 63_025_520,
        "21": 48_129_895, "22": 51_304_566, "X": 155_270_560, "Y": 59_373_566,
        "MT": 16_569,
    },
    "GRCh38": {
        "1": 248_956_422, "2": 242_193_529, "3": 198_295_559, "4": 190_214_555,
        "5": 181_538_259, "6": 170_805_979, "7": 159_345_973, "8": 145_138_636,
        "9": 138_394_717, "10": 133_797_422, "11": 135_086_622, "12": 133_275_309,
        "13": 114_364_328, "14": 107_043_718, "15": 101_991_189, "16": 90_338_345,
        "17": 83_257_441, "18": 80_373_285, "19": 58_617_616, "20": 64_444_167,
        "21": 46_709_983, "22": 50_818_468, "X": 156_040_895, "Y": 57_227_415,
        "MT": 16_569,
    },
}
_BUILD_ALIASES = {
    "grch37": "GRCh37", "hg19": "GRCh37", "b37": "GRCh37", "hs37": "GRCh37", "37": "GRCh37",
    "grch38": "GRCh38", "hg38": "GRCh38", "b38": "GRCh38", "38": "GRCh38",
}

_GENE = ("gene", "symbol", "name", "gene_name", "gene_symbol", "genename", "gene_id")
_CHROM = ("chrom", "chr", "chromosome", "seqname", "seqnames", "chromosome_name")
_START = ("start", "txstart", "chromstart", "start_bp", "gene_start")
_END = ("end", "stop", "txend", "chromend", "end_bp", "gene_end")
_SEX_MT = ("X", "Y", "XY", "MT")
_STRANDS = {"+", "-", "."}


def chromosome_lengths(build: str) -> dict[str, int]:
    """Chromosome lengths (bp) of a human genome build.

    Parameters
    ----------
    build : str
        ``"GRCh37"`` (aliases ``hg19``, ``b37``) or ``"GRCh38"`` (``hg38``, ``b38``); any case.

    Returns
    -------
    dict of str -> int
        ``"1"``..``"22"``, ``"X"``, ``"Y"``, ``"MT"`` -> length in bp (GRC primary assembly).

    Raises
    ------
    ConfigError
        Unknown build.
    """
    key = _BUILD_ALIASES.get(str(build).strip().lower())
    if key is None:
        raise ConfigError(
            f"genome build {build!r} is not known; use 'GRCh37' (hg19) or 'GRCh38' (hg38)."
        )
    return dict(CHROM_LENGTHS[key])


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


def _as_int(values: pd.Series, path: Path, column: str, lines: np.ndarray) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(num) | (num != np.round(num))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"gene table {path}: column '{clean_text(column)}' must be an integer base-pair "
            f"position; line {int(lines[i])} has '{clean_text(values.iloc[i])}' "
            f"({int(bad.sum())} bad lines)."
        )
    return num.astype("int64")


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return open(path, encoding="utf-8-sig", errors="replace")


def _is_skip_line(line: str) -> bool:
    s = line.strip()
    return (
        not s
        or s.startswith(("##", "#!"))
        or s.split(None, 1)[0].lower() in ("track", "browser")
    )


def _looks_like_header(line: str) -> bool:
    fields, _ = _split(line)
    header = [f.strip().lstrip("#").strip().lower() for f in fields]
    return None not in [_find(header, names) for names in (_GENE, _CHROM, _START, _END)]


def _first_data_line(path: Path) -> str:
    """First line that is not blank, a track/browser line or a comment (a '#' header counts)."""
    try:
        with _open_text(path) as fh:
            for line in fh:
                if _is_skip_line(line):
                    continue
                if line.startswith("#") and not _looks_like_header(line):
                    continue
                return line.rstrip("\r\n")
    except (OSError, EOFError):  # a '.gz' name on a file that is not gzip, or a truncated one
        kind = "gzip-compressed text" if path.name.lower().endswith(".gz") else "text"
        raise InputDataError(
            f"gene table {path}: cannot be read as {kind}. Give a plain or gzip-compressed text "
            "table."
        ) from None
    return ""


def _split(line: str) -> tuple[list[str], str]:
    sep = "\t" if "\t" in line else ("," if "," in line else r"\s+")
    if sep == r"\s+":
        return line.split(), sep
    return [f.strip() for f in line.split(sep)], sep


def _is_int(token: str) -> bool:
    t = token.strip()
    return t.isdigit() or (t.startswith(("+",)) and t[1:].isdigit())


def _is_bed_name(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".bed") or name.endswith(".bed.gz")


def detect_gene_table_format(path: str | os.PathLike) -> str:
    """Recognise the format of a gene table from its first data line (and name, for BED).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str
        One of ``"table"``, ``"glist"``, ``"magma"``, ``"bed"``, ``"gtf"`` (see the module
        docstring for the rules).

    Raises
    ------
    InputDataError
        File missing or empty, or no format matches (the message shows a short, sanitised
        excerpt of the first line).
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise InputDataError(f"gene table {path} not found. Check the path.")
    first = _first_data_line(path)
    if not first:
        raise InputDataError(
            f"gene table {path} is empty; expected columns gene, chrom, start, end."
        )
    fields, _ = _split(first)
    if _is_bed_name(path) and (first.startswith("#") or not _looks_like_header(first)):
        return "bed"  # UCSC BED, possibly with a '#chrom chromStart chromEnd ...' header
    if _looks_like_header(first):
        return "table"
    tab = first.split("\t")
    if len(tab) >= 9 and _is_int(tab[3]) and _is_int(tab[4]) and tab[6].strip() in _STRANDS:
        return "gtf"
    n = len(fields)
    ints = [_is_int(f) for f in fields]
    if 5 <= n <= 6 and ints[2] and ints[3] and fields[4].strip() in _STRANDS:
        return "magma"  # id chrom start stop strand [symbol]
    if n == 4 and ints[2] and ints[3]:
        return "magma"  # id chrom start stop (a glist's 4th column is a name)
    if n >= 3 and ints[1] and ints[2]:
        return "glist" if n == 4 else "bed"
    raise InputDataError(
        f"gene table {path}: could not recognise the columns (first line: {len(fields)} "
        f"fields: {excerpt(fields)}). Expected a header naming gene (or symbol), chrom (or "
        "chr/chromosome), start and end; a header-less 4-column PLINK gene list "
        "'chrom start end name' (e.g. glist-hg19); a MAGMA gene.loc 'id chrom start stop strand "
        "symbol'; a BED file 'chrom start end name ...'; or a GTF with gene records."
    )


def _read_fields(path: Path, sep: str, *, skip_header: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """All data lines as strings, with their 1-based line numbers in the file."""
    rows, lines = [], []
    with _open_text(path) as fh:
        seen_header = not skip_header
        for no, line in enumerate(fh, start=1):
            if _is_skip_line(line):
                continue
            if not seen_header:
                if line.startswith("#") and not _looks_like_header(line):
                    continue
                seen_header = True
                continue
            if line.startswith("#"):
                continue
            line = line.rstrip("\r\n")
            parts = line.split() if sep == r"\s+" else [f.strip() for f in line.split(sep)]
            rows.append(parts)
            lines.append(no)
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        counts = pd.Series([len(r) for r in rows]).value_counts()
        common = int(counts.index[0])
        i = next(j for j, r in enumerate(rows) if len(r) != common)
        raise InputDataError(
            f"gene table {path}: lines have different numbers of fields (line {lines[i]} has "
            f"{len(rows[i])}, most lines have {common})."
        )
    return pd.DataFrame(rows, dtype=str), np.asarray(lines, dtype=np.int64)


def _read_gtf(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    chunks, lines = [], []
    offset = 0
    reader = pd.read_csv(
        path, sep="\t", header=None, dtype=str, na_filter=False, quoting=csv.QUOTE_NONE,
        comment=None, chunksize=500_000, usecols=range(9), names=range(9),
        compression="infer", encoding="utf-8-sig", on_bad_lines="error",
    )
    try:
        for chunk in reader:
            keep = (chunk[2] == "gene").to_numpy() & ~chunk[0].str.startswith("#").to_numpy()
            chunks.append(chunk[keep])
            lines.append(np.flatnonzero(keep) + offset + 1)
            offset += len(chunk)
    except UnicodeDecodeError:
        raise InputDataError(f"gene table {path}: not a UTF-8 text GTF.") from None
    except pd.errors.ParserError as exc:
        raise InputDataError(
            f"gene table {path}: not a valid GTF ({parser_error_detail(exc)}); expected 9 "
            "tab-separated columns per line."
        ) from None
    if not chunks or sum(len(c) for c in chunks) == 0:
        raise InputDataError(
            f"gene table {path}: GTF without 'gene' records (column 3). Use a GTF with gene "
            "lines (Ensembl, GENCODE) or convert it to a table gene, chrom, start, end."
        )
    return pd.concat(chunks, ignore_index=True), np.concatenate(lines)


def _attr(attrs: pd.Series, key: str) -> pd.Series:
    return attrs.str.extract(rf'(?:^|;)\s*{key}\s+"([^"]*)"', expand=False)


def read_gene_table(path: str | os.PathLike, *, format: str = "auto") -> pd.DataFrame:
    """Read a gene coordinate table (PLINK glist, MAGMA gene.loc, BED, GTF or a headed table).

    Parameters
    ----------
    path : str or path-like
        The table; ``.gz`` files are decompressed.
    format : {"auto", "table", "glist", "magma", "bed", "gtf"}, default "auto"
        File format (see the module docstring); ``"auto"`` uses
        :func:`detect_gene_table_format`.

    Returns
    -------
    pandas.DataFrame
        ``gene`` (str), ``chrom`` (str, ``chr`` prefix stripped: ``"1"``..``"22"``, ``"X"``,
        ``"Y"``, ``"XY"``, ``"MT"``), ``start``, ``end`` (int64, bp, **1-based inclusive**: as
        written for tables, glist, MAGMA and GTF; BED's 0-based start + 1), then format-specific
        columns (str): other header columns of a table; ``gene_id`` (and ``strand``) for MAGMA;
        ``strand`` for BED with 6+ columns; ``gene_id``, ``strand``, ``gene_type`` for GTF.
        Rows are stably sorted by chromosome (numbers ascending, then X, Y, XY, MT, then other
        names) and start, so rows of equal chromosome and start keep the file order. Gene
        symbols may repeat (e.g. genes of the pseudo-autosomal region on X and Y).
        ``attrs["format"]`` holds the format read.

    Raises
    ------
    InputDataError
        File missing or empty, columns not recognised (the message shows a short excerpt of
        the first line),
        non-integer coordinates, start > end, empty gene names or chromosomes, a GTF without
        gene records.
    ConfigError
        Unknown ``format``.
    """
    if format not in GENE_TABLE_FORMATS:
        raise ConfigError(
            f"read_gene_table(format={format!r}): expected one of {', '.join(GENE_TABLE_FORMATS)}."
        )
    path = Path(os.fspath(path)).expanduser()
    fmt = detect_gene_table_format(path) if format == "auto" else format
    if not path.is_file():
        raise InputDataError(f"gene table {path} not found. Check the path.")
    first = _first_data_line(path)
    if not first:
        raise InputDataError(
            f"gene table {path} is empty; expected columns gene, chrom, start, end."
        )
    _, sep = _split(first)
    extras: dict[str, pd.Series] = {}

    if fmt == "gtf":
        data, lines = _read_gtf(path)
        attrs = data[8]
        name = _attr(attrs, "gene_name")
        gid = _attr(attrs, "gene_id")
        gene = name.fillna(gid).fillna("")
        chrom, start_s, end_s = data[0], data[3], data[4]
        cols = ("seqname", "start", "end")
        extras["gene_id"] = gid.fillna("")
        extras["strand"] = data[6]
        gtype = _attr(attrs, "gene_type")
        gtype = gtype.fillna(_attr(attrs, "gene_biotype"))
        if gtype.notna().any():
            extras["gene_type"] = gtype.fillna("")
    else:
        data, lines = _read_fields(path, sep, skip_header=(fmt == "table"))
        if data.shape[0] == 0:
            raise InputDataError(f"gene table {path} has a header but no genes.")
        ncol = data.shape[1]
        if fmt == "table":
            fields, _ = _split(first)
            header = [f.strip().lstrip("#").strip().lower() for f in fields]
            idx = [_find(header, names) for names in (_GENE, _CHROM, _START, _END)]
            if None in idx:
                raise InputDataError(
                    f"gene table {path}: the header ({excerpt(fields)}) does not name gene, "
                    "chrom, start and end columns."
                )
            names = [f.strip() for f in fields]
            gene, chrom = data.iloc[:, idx[0]], data.iloc[:, idx[1]]
            start_s, end_s = data.iloc[:, idx[2]], data.iloc[:, idx[3]]
            cols = (names[idx[2]], names[idx[3]])
            cols = ("chrom", *cols)
            for j, nm in enumerate(names):
                if j not in idx and nm not in ("gene", "chrom", "start", "end"):
                    extras[nm] = data.iloc[:, j]
        elif fmt == "glist":
            if ncol != 4:
                raise InputDataError(
                    f"gene table {path}: a PLINK gene list has 4 columns (chrom start end name); "
                    f"found {ncol}."
                )
            chrom, start_s, end_s, gene = (data.iloc[:, j] for j in range(4))
            cols = ("chrom", "start", "end")
        elif fmt == "magma":
            if not 4 <= ncol <= 6:
                raise InputDataError(
                    f"gene table {path}: a MAGMA gene location file has 4 to 6 columns (gene ID, "
                    f"chromosome, start, stop, strand, symbol); found {ncol}."
                )
            gid, chrom, start_s, end_s = (data.iloc[:, j] for j in range(4))
            gene = data.iloc[:, 5] if ncol >= 6 else gid
            cols = ("chromosome", "start", "stop")
            extras["gene_id"] = gid
            if ncol >= 5:
                extras["strand"] = data.iloc[:, 4]
        else:  # bed
            if ncol < 3:
                raise InputDataError(
                    f"gene table {path}: a BED file has at least 3 columns (chrom, chromStart, "
                    f"chromEnd); found {ncol}."
                )
            chrom, start_s, end_s = (data.iloc[:, j] for j in range(3))
            cols = ("chrom", "chromStart", "chromEnd")
            if ncol >= 6:
                extras["strand"] = data.iloc[:, 5]
            gene = data.iloc[:, 3] if ncol >= 4 else None

    start = _as_int(pd.Series(start_s).reset_index(drop=True), path, cols[1], lines)
    end = _as_int(pd.Series(end_s).reset_index(drop=True), path, cols[2], lines)
    chrom = _strip_chr(pd.Series(chrom).reset_index(drop=True))
    if fmt == "bed":
        start = start + 1  # 0-based half-open -> 1-based inclusive
        if gene is None:
            gene = chrom + ":" + pd.Series(start).astype(str) + "-" + pd.Series(end).astype(str)
    gene = pd.Series(gene).reset_index(drop=True).astype("str").str.strip()
    for col, label in ((gene, "gene"), (chrom, "chromosome")):
        empty = (col == "").to_numpy()
        if empty.any():
            raise InputDataError(
                f"gene table {path}: {int(empty.sum())} lines have an empty {label} (first: "
                f"line {int(lines[int(np.flatnonzero(empty)[0])])})."
            )
    bad = start > end
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"gene table {path}: start > end on {int(bad.sum())} lines (first: line "
            f"{int(lines[i])}, gene '{clean_text(gene.iloc[i])}', start {start[i]}, end "
            f"{end[i]}). "
            "Swap or fix these coordinates."
        )
    out = pd.DataFrame(
        {"gene": gene.to_numpy(), "chrom": chrom.to_numpy(), "start": start, "end": end}
    )
    out["gene"] = out["gene"].astype("str")
    out["chrom"] = out["chrom"].astype("str")
    for name, values in extras.items():
        if name not in out.columns:
            out[name] = pd.Series(values).reset_index(drop=True).astype("str").to_numpy()
    order = np.lexsort((start, chrom_order(out["chrom"])))
    out = out.iloc[order].reset_index(drop=True)
    out.attrs["format"] = fmt
    return out
