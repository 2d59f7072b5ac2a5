"""PLINK 1 binary filesets (.bed/.bim/.fam): validated reading and atomic writing.

The .fam and .bim text files are parsed here with pandas (so that every problem can be reported
with the file and line that causes it); the genotypes are read lazily from the .bed with
`bed-reader <https://fastlmm.github.io/bed-reader>`_ (``open_bed(..., count_A1=True)``), which is
multi-threaded.

Coding (as PLINK 1.9): the dosage is the number of copies of **A1** (column 5 of the .bim),
0, 1 or 2; a missing call is ``NaN`` in float reads and ``-127`` in int8 reads.

Format reference: https://www.cog-genomics.org/plink/1.9/formats (``.bed``: 3 magic bytes
``0x6c 0x1b 0x01`` for SNP-major, then one block of ``ceil(n_samples / 4)`` bytes per variant).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.fileio import atomic_path
from genoapp.io.sanitize import clean_text, excerpt, parser_error_detail

# Non-integer dosages of converted VCF/BGEN files (genoapp.io.formats): uint16 side file,
# dosage x 16384 (PLINK 2 .pgen resolution), 65535 = missing.
DOSAGE_SCALE = 16384
DOSAGE_MISSING = 65535

__all__ = ["PlinkGenotypes", "open_plink", "plink_paths", "read_bim", "read_fam", "write_plink"]

BED_MAGIC = b"\x6c\x1b\x01"
FAM_COLUMNS = ("FID", "IID", "father", "mother", "sex", "phenotype")
BIM_COLUMNS = ("chrom", "id", "cM", "pos", "A1", "A2")
_SUFFIXES = (".bed", ".bim", ".fam")


def plink_paths(path: str | os.PathLike) -> tuple[Path, Path, Path, Path]:
    """Resolve a PLINK prefix or file name to ``(prefix, bed, bim, fam)`` paths.

    Parameters
    ----------
    path : str or path-like
        A prefix (``"dir/name"``) or the path of any of the three files; a ``.bed``, ``.bim`` or
        ``.fam`` suffix is stripped. ``~`` is expanded. Dots inside the prefix are kept
        (``"1kg.phase1"`` names ``1kg.phase1.bed``).

    Returns
    -------
    tuple of pathlib.Path
        ``(prefix, prefix.bed, prefix.bim, prefix.fam)``; nothing is checked on disk.
    """
    p = Path(os.fspath(path)).expanduser()
    if p.suffix.lower() in _SUFFIXES:
        p = p.with_name(p.name[: -len(p.suffix)])
    return p, Path(f"{p}.bed"), Path(f"{p}.bim"), Path(f"{p}.fam")


def _read_columns(path: Path, expected: Sequence[str], what: str) -> pd.DataFrame:
    """Read a whitespace-separated, header-less text table as strings and check its columns."""
    n_expected = len(expected)
    layout = " ".join(expected)
    try:
        df = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, na_filter=False, engine="c")
    except pd.errors.EmptyDataError:
        raise InputDataError(
            f"{what} file {path} is empty. Expected one line per "
            f"{'sample' if what == '.fam' else 'variant'} with {n_expected} whitespace-separated "
            f"columns ({layout}). Check that the file was copied completely."
        ) from None
    except UnicodeDecodeError:
        raise InputDataError(
            f"{what} file {path} is not a text file (not UTF-8). Expected {n_expected} "
            f"whitespace-separated columns per line ({layout}); regenerate it with plink "
            "--make-bed."
        ) from None
    except pd.errors.ParserError as exc:
        raise InputDataError(
            f"{what} file {path} has lines with different numbers of columns "
            f"({parser_error_detail(exc)}). Expected "
            f"{n_expected} whitespace-separated columns on every line ({layout}), no header and "
            "no spaces inside IDs. Fix or regenerate the file (e.g. plink --bfile ... --make-bed)."
        ) from None
    if df.shape[1] != n_expected:
        raise InputDataError(
            f"{what} file {path} has {df.shape[1]} columns; expected {n_expected} ({layout}) "
            "with no header line. If this is a PLINK 2 .psam/.pvar or a text .ped/.map fileset, "
            "convert it first: plink2 --pfile ... --make-bed (or plink --file ... --make-bed)."
        )
    short = (df.iloc[:, -1] == "").to_numpy()
    if short.any():
        line = int(np.flatnonzero(short)[0]) + 1
        raise InputDataError(
            f"{what} file {path}: line {line} has fewer than {n_expected} columns "
            f"({int(short.sum())} such lines); expected {layout} on every line."
        )
    df.columns = list(expected)
    return df


def _to_number(values: pd.Series, path: Path, column: str, *, integer: bool) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna().to_numpy()
    arr = num.to_numpy(dtype="float64")
    if integer:
        bad = bad | ~np.isfinite(arr) | (arr != np.round(arr))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a number"
        raise InputDataError(
            f"{path}: column '{column}' must be {kind} on every line; line {i + 1} has "
            f"'{clean_text(values.iloc[i])}' ({int(bad.sum())} bad lines). Fix the file or "
            "regenerate it with plink --make-bed."
        )
    return arr.astype("int64") if integer else arr


def read_fam(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a PLINK .fam file.

    Parameters
    ----------
    path : str or path-like
        The .fam file: 6 whitespace-separated columns, no header.

    Returns
    -------
    pandas.DataFrame
        One row per line, in file order: ``FID``, ``IID``, ``father``, ``mother`` (str; ``"0"``
        = unknown parent), ``sex`` (int64: 1 male, 2 female, 0 unknown; any code other than
        1/2 is read as 0, as PLINK does), ``phenotype`` (float64; ``-9`` and non-numeric tokens
        are NaN; ``0`` is kept as a value and means missing only under 1/2 case/control coding,
        see :func:`genoapp.io.coerce_binary`).

    Raises
    ------
    InputDataError
        Empty file, wrong number of columns, ragged lines, empty IDs.
    """
    path = Path(path)
    df = _read_columns(path, FAM_COLUMNS, ".fam")
    sex = df["sex"]
    df["sex"] = np.where(sex == "1", 1, np.where(sex == "2", 2, 0)).astype("int64")
    pheno = pd.to_numeric(df["phenotype"], errors="coerce").astype("float64")
    df["phenotype"] = pheno.mask(pheno == -9)
    return df


def read_bim(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a PLINK .bim file.

    Parameters
    ----------
    path : str or path-like
        The .bim file: 6 whitespace-separated columns, no header.

    Returns
    -------
    pandas.DataFrame
        One row per line, in file order: ``chrom`` (str, as written, e.g. ``"1"``, ``"X"``,
        ``"23"``), ``id`` (str), ``cM`` (float64, genetic position), ``pos`` (int64, base-pair
        coordinate), ``A1`` (str, the counted allele), ``A2`` (str).

    Raises
    ------
    InputDataError
        Empty file, wrong number of columns, ragged lines, non-numeric cM or non-integer bp.
    """
    path = Path(path)
    df = _read_columns(path, BIM_COLUMNS, ".bim")
    df["cM"] = _to_number(df["cM"], path, "cM (column 3)", integer=False)
    df["pos"] = _to_number(df["pos"], path, "bp position (column 4)", integer=True)
    return df


def _normalize_index(idx, n: int, what: str) -> np.ndarray | None:
    """None -> None (all); bool mask of length n, integer array or slice -> int64 positions."""
    if idx is None:
        return None
    if isinstance(idx, slice):
        return np.arange(n, dtype=np.int64)[idx]
    arr = np.asarray(idx)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ConfigError(f"{what} must be one-dimensional; got shape {arr.shape}.")
    if arr.dtype == bool:
        if arr.shape[0] != n:
            raise ConfigError(
                f"{what} is a boolean mask of length {arr.shape[0]}; expected length {n}."
            )
        return np.flatnonzero(arr).astype(np.int64)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(
            f"{what} must be None, a boolean mask or integer positions; got dtype {arr.dtype}."
        )
    arr = arr.astype(np.int64)
    if arr.min() < 0 or arr.max() >= n:
        raise ConfigError(
            f"{what} has positions outside 0..{n - 1} (min {arr.min()}, max {arr.max()})."
        )
    return arr


class PlinkGenotypes:
    """Lazy handle on a PLINK 1 .bed/.bim/.fam fileset.

    The .fam and .bim are read and validated when the handle is created; genotypes are read
    from the .bed only when :meth:`read` or :meth:`read_int8` is called, with
    ``bed_reader.open_bed(..., count_A1=True)`` (multi-threaded).

    **Coding**: the dosage counts **A1** (column 5 of the .bim), as PLINK 1.9 does: 0, 1 or 2
    copies of A1. Missing calls are ``NaN`` (float reads) or ``-127`` (int8 reads). Only
    SNP-major .bed files (every file PLINK 1.07+ writes) are supported.

    Parameters
    ----------
    path : str or path-like
        Prefix or any of the three file names (see :func:`plink_paths`).

    Attributes
    ----------
    prefix : pathlib.Path
        The fileset prefix; ``bed_path``, ``bim_path``, ``fam_path`` are the three files.
    samples : pandas.DataFrame
        One row per .fam line, in file order: ``FID``, ``IID``, ``father``, ``mother`` (str),
        ``sex`` (int64, 0 unknown / 1 male / 2 female), ``phenotype`` (float64, ``-9`` -> NaN).
    variants : pandas.DataFrame
        One row per .bim line, in file order: ``chrom`` (str), ``id`` (str), ``cM`` (float64),
        ``pos`` (int64, bp), ``A1`` (str, counted), ``A2`` (str).

    Raises
    ------
    InputDataError
        A file is missing, the .bed magic bytes are wrong or the file is individual-major, the
        .bed size does not equal ``3 + n_variants * ceil(n_samples / 4)`` bytes, or the .bim /
        .fam are malformed.

    Examples
    --------
    >>> with open_plink("data/rice44k") as g:                      # doctest: +SKIP
    ...     x = g.read(variant_idx=g.variants["chrom"] == "7")   # (374, n_chr7) float32
    """

    def __init__(self, path: str | os.PathLike):
        prefix, bed, bim, fam = plink_paths(path)
        if prefix.is_dir():
            beds = sorted(q.name for q in prefix.glob("*.bed"))
            raise InputDataError(
                f"{prefix} is a folder; give the fileset prefix or the .bed file inside it "
                f"(found: {excerpt(beds, max_chars=60) or 'no .bed files'})."
            )
        missing = [str(p) for p in (bed, bim, fam) if not p.is_file()]
        if missing:
            raise InputDataError(
                f"PLINK fileset {prefix}: missing {', '.join(missing)}. A PLINK 1 binary fileset "
                "needs .bed, .bim and .fam files with the same prefix; check the path, or "
                "convert other formats with plink --make-bed."
            )
        self.prefix = prefix
        self.bed_path, self.bim_path, self.fam_path = bed, bim, fam
        self.samples = read_fam(fam)
        self.variants = read_bim(bim)
        self._check_bed()
        self._bed = None
        self.read_report = None  # set by genoapp.io.open_genotypes for converted files
        self.dosage_path = self._check_dosages(Path(f"{prefix}.dosage.u16"))

    def _check_bed(self) -> None:
        with open(self.bed_path, "rb") as fh:
            magic = fh.read(3)
        if magic[:2] != BED_MAGIC[:2]:
            raise InputDataError(
                f".bed file {self.bed_path} does not start with the PLINK 1 magic bytes 6c 1b "
                f"(found {magic.hex(' ') or 'an empty file'}). It is not a PLINK 1 binary .bed "
                "(a PLINK 2 .pgen, a text file or a truncated copy?); regenerate it with plink "
                "--make-bed."
            )
        if magic[2:3] != BED_MAGIC[2:3]:
            raise InputDataError(
                f".bed file {self.bed_path} is in individual-major mode (third byte "
                f"{magic[2:3].hex() or 'missing'}, expected 01 = SNP-major). Convert it with "
                "plink --bfile PREFIX --make-bed --out NEW (PLINK writes SNP-major)."
            )
        n, m = self.n_samples, self.n_variants
        expected = 3 + m * ((n + 3) // 4)
        size = self.bed_path.stat().st_size
        if size != expected:
            raise InputDataError(
                f".bed file {self.bed_path} has {size:,} bytes; with {n:,} samples in "
                f"{self.fam_path.name} and {m:,} variants in {self.bim_path.name} it should have "
                f"3 + {m:,} x ceil({n:,}/4) = {expected:,} bytes. The .bed is truncated or the "
                ".bim/.fam belong to another fileset; copy the three files again together."
            )

    def _check_dosages(self, path: Path) -> Path | None:
        """The non-integer dosage side file of a converted VCF/BGEN (see genoapp.io.formats)."""
        if not path.is_file():
            return None
        expected = 2 * self.n_samples * self.n_variants
        if path.stat().st_size != expected:
            raise InputDataError(
                f"dosage file {path} has {path.stat().st_size:,} bytes; expected {expected:,} "
                f"(uint16, {self.n_variants:,} variants x {self.n_samples:,} samples). Delete "
                "the converted copy so that it is made again."
            )
        return path

    # ------------------------------------------------------------------ properties
    @property
    def n_samples(self) -> int:
        """Number of samples (lines of the .fam)."""
        return int(self.samples.shape[0])

    @property
    def n_variants(self) -> int:
        """Number of variants (lines of the .bim)."""
        return int(self.variants.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_samples, n_variants)``."""
        return self.n_samples, self.n_variants

    def __repr__(self) -> str:
        return (
            f"PlinkGenotypes('{self.prefix}', n_samples={self.n_samples}, "
            f"n_variants={self.n_variants})"
        )

    # ------------------------------------------------------------------ reading
    def _open(self):
        if self._bed is None:
            from bed_reader import open_bed

            self._bed = open_bed(
                self.bed_path,
                iid_count=self.n_samples,
                sid_count=self.n_variants,
                count_A1=True,
            )
        return self._bed

    def _read(self, sample_idx, variant_idx, dtype: str, num_threads, order: str) -> np.ndarray:
        s = _normalize_index(sample_idx, self.n_samples, "sample_idx")
        v = _normalize_index(variant_idx, self.n_variants, "variant_idx")
        if order not in ("F", "C"):
            raise ConfigError(f"order must be 'F' or 'C'; got {order!r}.")
        n_s = self.n_samples if s is None else s.size
        n_v = self.n_variants if v is None else v.size
        if n_s == 0 or n_v == 0:
            return np.empty((n_s, n_v), dtype=dtype, order=order)
        if self.dosage_path is not None and dtype != "int8":
            return self._read_dosages(s, v, dtype, order)
        index = (slice(None) if s is None else s, slice(None) if v is None else v)
        return self._open().read(index, dtype=dtype, order=order, num_threads=num_threads)

    def _read_dosages(self, s, v, dtype: str, order: str) -> np.ndarray:
        mm = np.memmap(self.dosage_path, dtype=np.uint16, mode="r",
                       shape=(self.n_variants, self.n_samples))
        raw = mm[slice(None) if v is None else v]
        if s is not None:
            raw = raw[:, s]
        out = raw.T.astype(dtype)
        out[raw.T == DOSAGE_MISSING] = np.nan
        out /= DOSAGE_SCALE
        return np.asarray(out, order=order)

    def read(
        self,
        sample_idx=None,
        variant_idx=None,
        *,
        dtype: str = "float32",
        num_threads: int | None = None,
        order: str = "F",
    ) -> np.ndarray:
        """Read dosages of A1 for a block of samples x variants.

        Parameters
        ----------
        sample_idx, variant_idx : None, int array, bool mask or slice
            ``None`` = all; integer positions (0-based rows of the .fam / .bim, order kept,
            repeats allowed); a boolean mask of length ``n_samples`` / ``n_variants``.
        dtype : {"float32", "float64"}
            Output type.
        num_threads : int, optional
            Reader threads (default: all cores, or ``PST_NUM_THREADS``).
        order : {"F", "C"}
            Memory layout; ``"F"`` (column/variant-major, default) is what bed-reader fills
            fastest and suits per-variant work.

        Returns
        -------
        numpy.ndarray
            ``(n_selected_samples, n_selected_variants)``; values 0, 1, 2 = copies of A1,
            ``NaN`` = missing.

        Raises
        ------
        ConfigError
            Bad dtype or indices out of range.
        """
        dt = np.dtype(dtype)
        if dt not in (np.dtype("float32"), np.dtype("float64")):
            raise ConfigError(
                f"dtype must be 'float32' or 'float64' (use read_int8 for int8); got {dtype!r}."
            )
        return self._read(sample_idx, variant_idx, dt.name, num_threads, order)

    def read_int8(
        self, sample_idx=None, variant_idx=None, *, num_threads: int | None = None, order: str = "F"
    ) -> np.ndarray:
        """Read dosages of A1 as int8 (a quarter of the memory of float32).

        Same indexing as :meth:`read`. Values 0, 1, 2 = copies of A1; ``-127`` = missing.
        """
        return self._read(sample_idx, variant_idx, "int8", num_threads, order)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release the bed-reader handle (re-opened automatically by the next read)."""
        self._bed = None

    def __enter__(self) -> PlinkGenotypes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_bed"] = None
        return state


def open_plink(path: str | os.PathLike) -> PlinkGenotypes:
    """Open and validate a PLINK 1 binary fileset (lazy: genotypes are read on demand).

    Parameters
    ----------
    path : str or path-like
        Prefix (``"dir/name"``) or the path of the .bed, .bim or .fam file.

    Returns
    -------
    PlinkGenotypes
        See the class for the coding (A1 counted, NaN missing) and the tables.

    Raises
    ------
    InputDataError
        Missing file, wrong .bed magic bytes or size, malformed .bim/.fam (the message names
        the file and the fix).
    """
    return PlinkGenotypes(path)


def _column(df: pd.DataFrame, name: str, default, n: int, what: str) -> np.ndarray:
    if name in df.columns:
        return df[name].to_numpy()
    if default is None:
        raise InputDataError(
            f"write_plink: the {what} table has no '{name}' column (columns: "
            f"{excerpt(df.columns)})."
        )
    return np.full(n, default)


def _id_strings(values, name: str) -> list[str]:
    out = ["0" if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in values]
    bad = [v for v in out if v == "" or any(c.isspace() for c in v)]
    if bad:
        raise InputDataError(
            f"write_plink: column '{name}' has empty values or values with spaces (e.g. "
            f"{clean_text(bad[0])!r}); PLINK files are whitespace-separated. Rename these first."
        )
    return out


def write_plink(
    prefix: str | os.PathLike,
    dosage: np.ndarray,
    *,
    samples: pd.DataFrame,
    variants: pd.DataFrame,
) -> Path:
    """Write a PLINK 1 binary fileset (SNP-major) atomically.

    The three files are written under temporary names in the destination folder with
    ``bed_reader.to_bed(..., count_A1=True)`` and then renamed (:func:`genoapp.fileio.atomic_path`) to
    ``prefix.bed/.bim/.fam``, so a reader never sees a half-written file.

    Parameters
    ----------
    prefix : str or path-like
        Output prefix (a ``.bed``/``.bim``/``.fam`` suffix is stripped).
    dosage : numpy.ndarray
        ``(n_samples, n_variants)`` copies of A1: float with ``NaN`` missing, or int8 with
        ``-127`` missing. Values must be 0, 1, 2 or missing.
    samples : pandas.DataFrame
        ``n_samples`` rows with ``FID`` and ``IID``; optional ``father``, ``mother`` (default
        ``"0"``), ``sex`` (default 0), ``phenotype`` (default -9; NaN written as -9).
    variants : pandas.DataFrame
        ``n_variants`` rows with ``chrom``, ``id``, ``pos``, ``A1``, ``A2``; optional ``cM``
        (default 0).

    Returns
    -------
    pathlib.Path
        The prefix written.

    Raises
    ------
    InputDataError
        Shapes disagree, values other than 0/1/2/missing, missing columns, IDs with spaces.
    StorageError
        The folder cannot be written (disk full, read-only); nothing is left behind.
    """
    prefix, bed, bim, fam = plink_paths(prefix)
    x = np.asarray(dosage)
    if x.ndim != 2 or x.shape != (len(samples), len(variants)):
        raise InputDataError(
            f"write_plink: dosage has shape {x.shape}; expected (n_samples, n_variants) = "
            f"({len(samples)}, {len(variants)}) from the samples and variants tables."
        )
    if np.issubdtype(x.dtype, np.integer):
        ok = np.isin(x, (0, 1, 2, -127))
        x = np.ascontiguousarray(x, dtype=np.int8) if x.dtype != np.int8 else x
    else:
        x = np.asarray(x, dtype=np.float32 if x.dtype != np.float64 else np.float64)
        ok = np.isnan(x) | np.isin(x, (0.0, 1.0, 2.0))
    if not ok.all():
        bad = np.unique(x[~ok])[:5]
        raise InputDataError(
            f"write_plink: dosage must hold 0, 1, 2 or missing (NaN / -127); found {bad.tolist()}."
            " Round or hard-call the dosages before writing a .bed."
        )
    if not (x.flags["C_CONTIGUOUS"] or x.flags["F_CONTIGUOUS"]):
        x = np.asfortranarray(x)
    n, m = x.shape
    pheno = pd.to_numeric(
        pd.Series(_column(samples, "phenotype", -9.0, n, "samples")), errors="coerce"
    ).fillna(-9.0)
    sex = pd.to_numeric(pd.Series(_column(samples, "sex", 0, n, "samples")), errors="coerce")
    properties = {
        "fid": _id_strings(_column(samples, "FID", None, n, "samples"), "FID"),
        "iid": _id_strings(_column(samples, "IID", None, n, "samples"), "IID"),
        "father": _id_strings(_column(samples, "father", "0", n, "samples"), "father"),
        "mother": _id_strings(_column(samples, "mother", "0", n, "samples"), "mother"),
        "sex": sex.where(sex.isin([1, 2]), 0).astype("int32").to_numpy(),
        "pheno": [f"{v:.10g}" for v in pheno.to_numpy(dtype="float64")],
        "chromosome": _id_strings(_column(variants, "chrom", None, m, "variants"), "chrom"),
        "sid": _id_strings(_column(variants, "id", None, m, "variants"), "id"),
        "cm_position": pd.to_numeric(
            pd.Series(_column(variants, "cM", 0.0, m, "variants"))
        ).to_numpy(dtype="float32"),
        "bp_position": pd.to_numeric(
            pd.Series(_column(variants, "pos", None, m, "variants"))
        ).to_numpy(dtype="int32"),
        "allele_1": _id_strings(_column(variants, "A1", None, m, "variants"), "A1"),
        "allele_2": _id_strings(_column(variants, "A2", None, m, "variants"), "A2"),
    }
    from bed_reader import to_bed

    with contextlib.ExitStack() as stack:  # three temporary files, renamed when all are written
        tmp = {
            s: stack.enter_context(atomic_path(final, what=f"the PLINK {s} file"))
            for s, final in zip(_SUFFIXES, (bed, bim, fam), strict=True)
        }
        to_bed(
            tmp[".bed"],
            x,
            properties=properties,
            count_A1=True,
            fam_filepath=tmp[".fam"],
            bim_filepath=tmp[".bim"],
        )
    return prefix
