"""Genotype files other than PLINK 1: VCF/BCF, PLINK 2 .pgen and BGEN 1.2, behind one handle.

Every reader gives the same convention as the PLINK 1 path (:class:`genoapp.io.PlinkGenotypes`):
a dosage = number of copies of the **counted allele A1**, float with ``NaN`` = missing. For the
formats of this module A1 is the **ALT** allele and A2 the REF allele, as ``plink2 --vcf/--pfile
... --make-bed`` writes them (BGEN has no REF/ALT: ``bgen_ref`` says which allele is REF).

How a file is read (``read_genotype_blocks``, the *direct read*):

* **VCF / BCF** (``.vcf``, ``.vcf.gz``, ``.vcf.bgz``, ``.bcf``; bgzipped or plain, indexed or
  not) with cyvcf2 (htslib). The dosage is the ALT count of the GT field (``0/1`` -> 1; any
  allele missing, including half-calls ``1/.``, -> NaN as ``plink2 --vcf-half-call missing``;
  haploid ``1`` -> 2 as in PLINK). With ``dosage_field="DS"`` the DS field
  (imputed dosage of ALT) is used where the record has it, GT elsewhere (counted).
  Records whose FILTER is not ``PASS``/``.`` are skipped when ``filter_pass=True`` (default);
  records with a QUAL below ``min_qual`` are skipped (a missing QUAL is kept). Multi-allelic
  records (more than one ALT) are **skipped** (default) or **split** into one biallelic record per
  ALT allele (the dosage counts that ALT; ID ``ID:ALT`` or ``CHROM:POS:REF:ALT``), as
  ``bcftools norm -m-`` does. Every choice is counted in the :class:`ReadReport`.
* **PLINK 2** (``.pgen`` + ``.pvar`` + ``.psam``) with pgenlib; hard calls, or the stored
  dosages with ``dosage_field="DS"``. Multi-allelic variants skipped or split as above.
* **BGEN 1.2** (``.bgen`` + ``.sample``, or sample IDs stored in the file) with cbgen; the dosage
  is the expected ALT count ``P(het) + 2 P(hom ALT)`` from the genotype probabilities (diploid,
  unphased or phased; haplotype probabilities summed); multi-allelic variants are skipped.

Sample IDs: VCF and BGEN store one ID per sample. ``id_delimiter=None`` sets FID = IID = that
ID (as ``plink2 --double-id``); ``id_delimiter="_"`` splits
``FID_IID`` at the first delimiter (``plink2 --id-delim``); an ID without it is an error naming
the ID.

:func:`open_genotypes` (what the app and the CLI call) converts such a file **once** to a cached
PLINK 1 fileset written block by block (never a dense matrix of the whole file) and returns a
:class:`~genoapp.io.PlinkGenotypes` on it, so QC, GWAS and Gene-PCA use the fast .bed path.
Non-integer dosages (DS, BGEN probabilities) are kept in a side file (``.dosage.u16``: uint16,
dosage x 16384 as in PLINK 2's .pgen, 65535 = missing) that :meth:`PlinkGenotypes.read` returns;
the .bed holds the hard calls (a dosage within 0.1 of 0, 1 or 2, else missing: PLINK 2's
``--hard-call-threshold`` 0.1), which call rate, MAF and HWE counts use, as PLINK 2 does. The
cache is keyed by the file's path, size, modification time and the read options, and is written
atomically; the :class:`ReadReport` of the conversion is stored beside it.

**plink2 as the text parser.** Where ``plink2`` is installed (:func:`plink2_executable`) and hard
calls are read, a VCF/BCF is first parsed by ``plink2 --vcf ... --vcf-half-call missing
--make-pgen`` into a temporary .pgen that keeps every record; genoapp then picks the records from
its .pvar with the rules above (FILTER, QUAL, multi-allelic) and has plink2 copy their genotypes
into the .bed (``--extract`` by row), or reads the .pgen itself to split multi-allelic records.
Sample IDs, variant IDs and the .bim/.fam are genoapp's. A .pgen input is converted the same way.
The result equals the cyvcf2 read (tests on the demo cohort and on a hand-written VCF; the
benchmark checks the .bed bytes against ``plink2 --vcf ... --make-bed``); it is about 10x faster
on 2 cores. A file plink2 refuses (e.g. a chromosome split in two runs) is read by cyvcf2, and
the report says so. ``GENOAPP_PLINK2=0`` turns this off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.fileio import atomic_path
from genoapp.io.plink import DOSAGE_MISSING, DOSAGE_SCALE, PlinkGenotypes, open_plink
from genoapp.io.sanitize import excerpt

__all__ = [
    "GENOTYPE_FORMATS",
    "ReadOptions",
    "ReadReport",
    "companion_paths",
    "convert_to_plink",
    "detect_genotype_format",
    "genotype_cache_dir",
    "open_genotypes",
    "plink2_executable",
    "read_genotype_blocks",
    "read_genotypes",
]

GENOTYPE_FORMATS = ("plink1", "vcf", "bcf", "pgen", "bgen")
HARD_CALL_THRESHOLD = 0.1  # PLINK 2 default --hard-call-threshold
CACHE_ENV = "GENOAPP_CACHE_DIR"
_CACHE_VERSION = 1

_VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".vcf.bgzf")


def detect_genotype_format(path) -> str:
    """Genotype file format from the file name.

    Parameters
    ----------
    path : str or path-like
        ``*.vcf``, ``*.vcf.gz``/``.vcf.bgz`` -> ``"vcf"``; ``*.bcf`` -> ``"bcf"``; ``*.pgen``,
        ``*.pvar``, ``*.psam`` -> ``"pgen"``; ``*.bgen`` -> ``"bgen"``; anything else (a PLINK
        prefix or ``.bed/.bim/.fam``) -> ``"plink1"``.

    Returns
    -------
    str
        One of :data:`GENOTYPE_FORMATS`.
    """
    name = Path(os.fspath(path)).name.lower()
    if name.endswith(_VCF_SUFFIXES):
        return "vcf"
    if name.endswith(".bcf"):
        return "bcf"
    if name.endswith((".pgen", ".pvar", ".psam", ".pvar.zst")):
        return "pgen"
    if name.endswith(".bgen"):
        return "bgen"
    return "plink1"


def companion_paths(path) -> dict[str, Path]:
    """The files that make up one genotype input (the main file first).

    ``pgen`` -> ``pgen``, ``pvar``, ``psam``; ``bgen`` -> ``bgen`` and ``sample`` (when it
    exists); ``vcf``/``bcf`` -> the file (and its ``.tbi``/``.csi`` index when present).

    Raises
    ------
    InputDataError
        A PLINK 1 path (use :func:`genoapp.io.plink_paths`).
    """
    p = Path(os.fspath(path))
    fmt = detect_genotype_format(p)
    if fmt == "pgen":
        name = p.name
        stem = name[: -len(".pvar.zst")] if name.endswith(".pvar.zst") else p.stem
        base = p.with_name(stem)
        return {"pgen": base.with_suffix(".pgen"), "pvar": base.with_suffix(".pvar"),
                "psam": base.with_suffix(".psam")}
    if fmt == "bgen":
        out = {"bgen": p}
        sample = p.with_suffix(".sample")
        if sample.is_file():
            out["sample"] = sample
        return out
    if fmt in ("vcf", "bcf"):
        out = {fmt: p}
        for ext in (".tbi", ".csi"):
            idx = p.with_name(p.name + ext)
            if idx.is_file():
                out[ext[1:]] = idx
        return out
    raise InputDataError(f"{p}: a PLINK 1 fileset; open it with genoapp.io.open_plink.")


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """How a VCF/BCF, .pgen or BGEN file is turned into dosages (see the module docstring).

    Parameters
    ----------
    dosage_field : {None, "DS"}
        ``None``: hard calls (VCF GT, .pgen hard calls; BGEN always uses its probabilities);
        ``"DS"``: imputed dosages (VCF FORMAT/DS where present, .pgen dosages).
    multiallelic : {"skip", "split"}
        Records with more than one ALT allele: skipped, or split into one biallelic record per
        ALT (BGEN: always skipped).
    filter_pass : bool, default True
        VCF/BCF: keep only records with FILTER ``PASS`` or ``.``.
    min_qual : float, optional
        VCF/BCF: skip records with QUAL below this (missing QUAL kept).
    id_delimiter : str, optional
        ``None``: FID = IID = the sample ID; e.g. ``"_"``: split ``FID_IID`` at the first one.
    bgen_ref : {"first", "last"}
        BGEN stores no REF/ALT: which allele of a record is REF (``plink2 --bgen ... ref-first``
        / ``ref-last``). Default ``"first"`` (UK Biobank, imputation servers); the other one is
        ALT, the counted allele.
    """

    dosage_field: str | None = None
    multiallelic: str = "skip"
    filter_pass: bool = True
    min_qual: float | None = None
    id_delimiter: str | None = None
    bgen_ref: str = "first"

    def __post_init__(self):
        if self.bgen_ref not in ("first", "last"):
            raise ConfigError(f"bgen_ref must be 'first' or 'last'; got {self.bgen_ref!r}.")
        if self.dosage_field not in (None, "DS"):
            raise ConfigError(f"dosage_field must be None (GT hard calls) or 'DS'; got "
                              f"{self.dosage_field!r}.")
        if self.multiallelic not in ("skip", "split"):
            raise ConfigError(f"multiallelic must be 'skip' or 'split'; got {self.multiallelic!r}.")
        if self.min_qual is not None and not np.isfinite(float(self.min_qual)):
            raise ConfigError(f"min_qual must be a finite number; got {self.min_qual!r}.")
        if self.id_delimiter is not None and (not isinstance(self.id_delimiter, str)
                                              or len(self.id_delimiter) != 1
                                              or self.id_delimiter.isspace()):
            raise ConfigError(f"id_delimiter must be one non-space character (e.g. '_'); got "
                              f"{self.id_delimiter!r}.")


@dataclasses.dataclass
class ReadReport:
    """What reading a genotype file did, in counts (shown on the Data page, stored in the cache).

    Attributes
    ----------
    source, format : str
        The file read and its format.
    n_samples : int
    n_records : int
        Records (lines of a VCF, variants of a .pgen/BGEN) in the file.
    n_variants : int
        Biallelic variants written (after skipping and splitting).
    n_multiallelic, n_multiallelic_skipped, n_split_records : int
        Multi-allelic records seen, skipped, and the biallelic records made by splitting.
    n_filtered : int
        Skipped for FILTER not PASS/".".
    n_low_qual : int
        Skipped for QUAL < ``min_qual``.
    n_no_alt : int
        Records without an ALT allele (monomorphic, ALT ".") written with A1 = "." (dosage 0).
    dosage_source : str
        ``"GT"``, ``"DS"`` (with GT where a record lacks DS), ``"pgen dosages"``, ``"hard calls"``
        or ``"probabilities"``.
    n_records_without_ds : int
        ``dosage_field="DS"``: records read from GT because they had no DS field.
    n_missing_calls : int
        Missing dosages written.
    n_fractional : int
        Non-integer dosages (kept in the dosage side file; hard call missing when not within 0.1
        of an integer).
    seconds : float
    cache : str
        The cached PLINK 1 prefix ("" for a direct read).
    from_cache : bool
        The conversion was found in the cache (not redone).
    converter : str
        ``"genoapp"`` (cyvcf2, pgenlib or cbgen) or ``"plink2 (VCF parsing), then genoapp"``.
    """

    source: str = ""
    format: str = ""
    n_samples: int = 0
    n_records: int = 0
    n_variants: int = 0
    n_multiallelic: int = 0
    n_multiallelic_skipped: int = 0
    n_split_records: int = 0
    n_filtered: int = 0
    n_low_qual: int = 0
    n_no_alt: int = 0
    dosage_source: str = "GT"
    n_records_without_ds: int = 0
    n_missing_calls: int = 0
    n_fractional: int = 0
    seconds: float = 0.0
    cache: str = ""
    from_cache: bool = False
    converter: str = "genoapp"

    def lines(self) -> list[str]:
        """Readable sentences for the app and the CLI."""
        out = [f"{self.format.upper()} {Path(self.source).name}: {self.n_samples:,} samples, "
               f"{self.n_records:,} records read, {self.n_variants:,} biallelic variants kept "
               f"(dosage = copies of ALT, from {self.dosage_source})."]
        if self.n_multiallelic:
            what = (f"split into {self.n_split_records:,} biallelic records"
                    if self.n_split_records else "skipped")
            out.append(f"{self.n_multiallelic:,} multi-allelic records {what}.")
        if self.n_filtered:
            out.append(f"{self.n_filtered:,} records skipped: FILTER not PASS.")
        if self.n_low_qual:
            out.append(f"{self.n_low_qual:,} records skipped: QUAL below the minimum.")
        if self.n_records_without_ds:
            out.append(f"{self.n_records_without_ds:,} records had no DS field; their GT was used.")
        if self.n_no_alt:
            out.append(f"{self.n_no_alt:,} records without an ALT allele (dosage 0).")
        if self.n_fractional:
            out.append(f"{self.n_fractional:,} non-integer dosages kept as such for the models; "
                       f"QC counts use hard calls (within {HARD_CALL_THRESHOLD} of 0/1/2).")
        out.append(f"{self.n_missing_calls:,} missing calls.")
        if self.cache:
            out.append(("Opened the converted copy from the cache" if self.from_cache else
                        f"Converted once in {self.seconds:.1f} s by {self.converter} to a cached "
                        "PLINK 1 fileset") + f" ({self.cache}).")
        return out


# ----------------------------------------------------------------------------- sample IDs


def _split_ids(ids: list[str], delimiter: str | None, source) -> tuple[list[str], list[str]]:
    if delimiter is None:
        return list(ids), list(ids)
    fids, iids = [], []
    for s in ids:
        if delimiter not in s:
            raise InputDataError(
                f"{source}: sample ID {excerpt(s, max_chars=40)!r} has no {delimiter!r}, so it "
                f"cannot be split into FID{delimiter}IID. Choose no delimiter (FID = IID) or the "
                "one the IDs use."
            )
        f, i = s.split(delimiter, 1)
        fids.append(f)
        iids.append(i)
    return fids, iids


def _samples_table(fids, iids, sex=None) -> pd.DataFrame:
    n = len(iids)
    return pd.DataFrame({
        "FID": pd.Series(fids, dtype=object).astype(str).to_numpy(),
        "IID": pd.Series(iids, dtype=object).astype(str).to_numpy(),
        "father": ["0"] * n, "mother": ["0"] * n,
        "sex": np.zeros(n, dtype=np.int64) if sex is None else np.asarray(sex, dtype=np.int64),
        "phenotype": np.full(n, np.nan),
    })


def _variants_table(rows: list[tuple]) -> pd.DataFrame:
    chrom, vid, pos, a1, a2 = zip(*rows, strict=True) if rows else ((), (), (), (), ())
    return pd.DataFrame({
        "chrom": pd.array(chrom, dtype=object), "id": pd.array(vid, dtype=object),
        "cM": np.zeros(len(rows)), "pos": np.asarray(pos, dtype=np.int64),
        "A1": pd.array(a1, dtype=object), "A2": pd.array(a2, dtype=object),
    })


class _BlockBuffer:
    """Variants (rows of the .bim) and their dosages gathered into blocks of ``size`` variants."""

    def __init__(self, n_samples: int, size: int):
        self.block = np.empty((size, n_samples), dtype=np.float32)
        self.rows: list[tuple] = []

    def add(self, row: tuple, dosages: np.ndarray):
        """Add one variant; returns a full block ``(variants, dosages (n, size))`` or None."""
        self.block[len(self.rows)] = dosages
        self.rows.append(row)
        return self.flush() if len(self.rows) == len(self.block) else None

    def flush(self):
        """The variants gathered so far as a block, or None when there are none."""
        if not self.rows:
            return None
        out = _variants_table(self.rows), self.block[: len(self.rows)].T.copy()
        self.rows = []
        return out


def _text(value) -> str:
    """cbgen fields come as bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _chrom(c: str) -> str:
    c = str(c)
    return c[3:] if c.lower().startswith("chr") else c


def _vid(vid, chrom, pos, ref, alt, split: bool) -> str:
    base = vid if vid not in (None, "", ".") else None
    if base is None:
        return f"{chrom}:{pos}:{ref}:{alt}"
    return f"{base}:{alt}" if split else base


# ----------------------------------------------------------------------------- VCF / BCF


def _check_exists(path: Path, what: str) -> None:
    if not path.is_file():
        raise InputDataError(f"{what} {path} does not exist (or is not a file); check the path.")


def _allele_copies(gt: np.ndarray, allele: int) -> np.ndarray:
    """Copies of ``allele`` per sample from cyvcf2's ``genotype.array()``.

    ``gt``: (n, ploidy + 1) int16, allele indices (-1 missing, -2 end of a shorter call), last
    column the phase flag. A call with any allele missing (``./.``, half-calls ``1/.``) is NaN
    (PLINK 2's ``--vcf-half-call missing``); haploid calls count twice (PLINK's convention).
    """
    a = gt[:, :-1]
    d = (a == allele).sum(axis=1).astype(np.float32)
    haploid = (a != -2).sum(axis=1) == 1
    d[haploid] *= 2
    d[(a == -1).any(axis=1)] = np.nan
    return d


def _vcf_blocks(path: Path, opt: ReadOptions, report: ReadReport, block_size: int):
    try:
        from cyvcf2 import VCF
    except ImportError as exc:  # pragma: no cover - in requirements.txt
        raise ConfigError("reading VCF/BCF needs the cyvcf2 package (pip install cyvcf2).") from exc
    _check_exists(path, "VCF/BCF file")
    try:
        vcf = VCF(os.fspath(path), lazy=True, threads=2)
    except (OSError, Exception) as exc:  # cyvcf2 raises plain Exception on a bad header
        raise InputDataError(f"{path}: not a readable VCF/BCF ({excerpt(str(exc), max_chars=120)}); "
                             "expected a VCF (plain or bgzipped) or a BCF file.") from exc
    ids = list(vcf.samples)
    if not ids:
        raise InputDataError(f"{path}: the VCF has no sample columns (a sites-only file); "
                             "genotypes are needed.")
    fids, iids = _split_ids(ids, opt.id_delimiter, path)
    samples = _samples_table(fids, iids)
    n = len(ids)
    report.n_samples = n
    use_ds = opt.dosage_field == "DS"
    report.dosage_source = "DS" if use_ds else "GT"

    def gen():
        buf = _BlockBuffer(n, block_size)
        try:
            for rec in vcf:
                report.n_records += 1
                filt = rec.FILTER
                if opt.filter_pass and filt not in (None, "PASS", "."):
                    report.n_filtered += 1
                    continue
                if opt.min_qual is not None and rec.QUAL is not None and rec.QUAL < opt.min_qual:
                    report.n_low_qual += 1
                    continue
                alts = rec.ALT
                chrom, pos, ref, vid = _chrom(rec.CHROM), int(rec.POS), rec.REF, rec.ID
                if len(alts) > 1:
                    report.n_multiallelic += 1
                    if opt.multiallelic == "skip":
                        report.n_multiallelic_skipped += 1
                        continue
                    gt = rec.genotype.array()
                    for a, alt in enumerate(alts, start=1):
                        report.n_split_records += 1
                        row = (chrom, _vid(vid, chrom, pos, ref, alt, True), pos, alt, ref)
                        if (full := buf.add(row, _allele_copies(gt, a))) is not None:
                            yield full
                    continue
                alt = alts[0] if alts else "."
                if not alts:
                    report.n_no_alt += 1
                d = None
                if use_ds:
                    ds = rec.format("DS")
                    if ds is None:
                        report.n_records_without_ds += 1
                    else:
                        d = np.asarray(ds[:, 0], dtype=np.float32)
                        d[(d < -1e30) | (d > 1e30)] = np.nan  # htslib missing sentinels
                if d is None:
                    d = _allele_copies(rec.genotype.array(), 1)
                row = (chrom, _vid(vid, chrom, pos, ref, alt, False), pos, alt, ref)
                if (full := buf.add(row, d)) is not None:
                    yield full
            if (last := buf.flush()) is not None:
                yield last
        finally:
            vcf.close()

    return samples, gen()


# ----------------------------------------------------------------------------- PLINK 2


def _read_pvar(path: Path) -> pd.DataFrame:
    header = None
    skip = 0
    opener = open
    with opener(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("##"):
                skip += 1
                continue
            if line.startswith("#"):
                header = line[1:].rstrip("\n").split("\t")
                skip += 1
            break
    if header is None:  # legacy .bim-style pvar
        names = ["CHROM", "ID", "CM", "POS", "ALT", "REF"]
        df = pd.read_csv(path, sep=r"\s+", header=None, names=names, dtype=str,
                         keep_default_na=False)
    else:
        df = pd.read_csv(path, sep="\t", header=None, names=header, skiprows=skip, dtype=str,
                         keep_default_na=False, usecols=lambda c: c in
                         ("CHROM", "POS", "ID", "REF", "ALT", "CM", "QUAL", "FILTER"))
    need = {"CHROM", "POS", "ID", "REF", "ALT"}
    if not need <= set(df.columns):
        raise InputDataError(f"{path}: a .pvar needs columns {sorted(need)}; found "
                             f"{excerpt(list(df.columns), max_chars=80)}.")
    return df


def _read_psam(path: Path, opt: ReadOptions) -> pd.DataFrame:
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    if first.startswith("#"):
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        df.columns = [c.lstrip("#") for c in df.columns]
    else:  # .fam-style
        df = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, keep_default_na=False)
        df = df.iloc[:, :5]
        df.columns = ["FID", "IID", "PAT", "MAT", "SEX"][: df.shape[1]]
    if "IID" not in df.columns:
        raise InputDataError(f"{path}: a .psam needs an IID column; found "
                             f"{excerpt(list(df.columns), max_chars=80)}.")
    if "FID" in df.columns:
        fids, iids = df["FID"].tolist(), df["IID"].tolist()
    else:
        fids, iids = _split_ids(df["IID"].tolist(), opt.id_delimiter, path)
    sex = None
    if "SEX" in df.columns:
        sex = pd.to_numeric(df["SEX"], errors="coerce").fillna(0).astype(np.int64)
        sex = np.where(np.isin(sex, (1, 2)), sex, 0)
    out = _samples_table(fids, iids, sex)
    for col, name in (("PAT", "father"), ("MAT", "mother")):
        if col in df.columns:
            out[name] = df[col].replace({"": "0", ".": "0"}).to_numpy()
    return out


def _pvar_masks(pvar: pd.DataFrame, opt: ReadOptions, report: ReadReport):
    """Per record: skipped for FILTER, for QUAL, multi-allelic (counted in ``report``)."""
    m = len(pvar)
    filtered = np.zeros(m, dtype=bool)
    if opt.filter_pass and "FILTER" in pvar.columns:
        filtered = ~pvar["FILTER"].isin(["PASS", ".", ""]).to_numpy()
    low = np.zeros(m, dtype=bool)
    if opt.min_qual is not None and "QUAL" in pvar.columns:
        q = pd.to_numeric(pvar["QUAL"], errors="coerce").to_numpy()  # "." -> NaN: kept
        low = ~filtered & (q < float(opt.min_qual))
    multi = ~filtered & ~low & pvar["ALT"].str.contains(",", regex=False).to_numpy()
    report.n_records += m
    report.n_filtered += int(filtered.sum())
    report.n_low_qual += int(low.sum())
    report.n_multiallelic += int(multi.sum())
    if opt.multiallelic == "skip":
        report.n_multiallelic_skipped += int(multi.sum())
    return filtered, low, multi


def _pgen_blocks(path: Path, opt: ReadOptions, report: ReadReport, block_size: int):
    try:
        import pgenlib
    except ImportError as exc:  # pragma: no cover
        raise ConfigError("reading .pgen needs the pgenlib package (pip install pgenlib).") from exc
    files = companion_paths(path)
    for key, what in (("pgen", ".pgen"), ("pvar", ".pvar"), ("psam", ".psam")):
        _check_exists(files[key], f"PLINK 2 {what} file")
    samples = _read_psam(files["psam"], opt)
    pvar = _read_pvar(files["pvar"])
    n = len(samples)
    n_alleles = 1 + pvar["ALT"].str.count(",").to_numpy() + 1
    kw = {}
    if (n_alleles > 2).any():  # pgenlib needs the allele offsets of multi-allelic variants
        kw["allele_idx_offsets"] = np.concatenate([[0], np.cumsum(n_alleles)]).astype(np.uintp)
    try:
        reader = pgenlib.PgenReader(os.fspath(files["pgen"]).encode(), raw_sample_ct=n, **kw)
    except Exception as exc:
        raise InputDataError(f"{files['pgen']}: not readable as a PLINK 2 .pgen with {n:,} samples "
                             f"from {files['psam'].name} ({excerpt(str(exc), max_chars=120)}).") from exc
    if reader.get_variant_ct() != len(pvar):
        raise InputDataError(f"{files['pgen']} holds {reader.get_variant_ct():,} variants but "
                             f"{files['pvar'].name} lists {len(pvar):,}; the files do not belong "
                             "together.")
    report.n_samples = n
    use_ds = opt.dosage_field == "DS"
    if report.format == "pgen":
        report.dosage_source = "pgen dosages" if use_ds else "hard calls"
    chrom = np.array([_chrom(c) for c in pvar["CHROM"]], dtype=object)
    pos = pd.to_numeric(pvar["POS"], errors="coerce")
    if pos.isna().any():
        bad = int(np.flatnonzero(pos.isna().to_numpy())[0])
        raise InputDataError(f"{files['pvar']}: POS {pvar['POS'].iloc[bad]!r} of variant "
                             f"{bad + 1} is not a whole number.")
    pos = pos.astype(np.int64).to_numpy()
    ids, refs = pvar["ID"].to_numpy(), pvar["REF"].to_numpy()
    alt_lists = [a.split(",") for a in pvar["ALT"].tolist()]
    filtered, low, multi = _pvar_masks(pvar, opt, report)
    keep = ~filtered & ~low & (~multi | (opt.multiallelic == "split"))
    report.n_no_alt += int(sum(alt_lists[v] == ["."] for v in np.flatnonzero(keep)))

    def read_range(lo: int, hi: int) -> np.ndarray:
        """(n, hi - lo): int8 hard calls (-127 missing) or float32 dosages (NaN missing)."""
        if use_ds:
            buf = np.empty((hi - lo, n), dtype=np.float64)
            reader.read_dosages_range(lo, hi, buf)
            d = buf.astype(np.float32)
            d[buf < 0] = np.nan
            return d.T
        buf = np.empty((hi - lo, n), dtype=np.int8)
        reader.read_range(lo, hi, buf)
        buf[buf < 0] = -127
        return buf.T

    def read_allele(v: int, a: int) -> np.ndarray:
        if use_ds:
            buf = np.empty(n, dtype=np.float64)
            reader.read_dosages(v, buf, allele_idx=a)
            d = buf.astype(np.float32)
            d[buf < 0] = np.nan
            return d
        buf = np.empty(n, dtype=np.int32)
        reader.read(v, buf, allele_idx=a)
        return np.where(buf < 0, -127, buf).astype(np.int8)

    def gen():
        try:
            for lo in range(0, len(pvar), block_size):
                hi = min(lo + block_size, len(pvar))
                k = keep[lo:hi]
                if not k.any():
                    continue
                block = read_range(lo, hi)  # copies of the first ALT
                if not multi[lo:hi][k].any():  # the common case: one call for the block
                    sel = np.flatnonzero(k)
                    rows = [(chrom[lo + j], _vid(ids[lo + j], chrom[lo + j], pos[lo + j],
                                                 refs[lo + j], alt_lists[lo + j][0], False),
                             pos[lo + j], alt_lists[lo + j][0], refs[lo + j]) for j in sel]
                    yield _variants_table(rows), np.ascontiguousarray(block[:, sel])
                    continue
                rows, cols = [], []
                for j in np.flatnonzero(k):
                    v = lo + j
                    if not multi[v]:
                        cols.append(block[:, j])
                        rows.append((chrom[v], _vid(ids[v], chrom[v], pos[v], refs[v],
                                                    alt_lists[v][0], False), pos[v],
                                     alt_lists[v][0], refs[v]))
                        continue
                    for a, alt in enumerate(alt_lists[v], start=1):
                        cols.append(block[:, j] if a == 1 else read_allele(v, a))
                        rows.append((chrom[v], _vid(ids[v], chrom[v], pos[v], refs[v], alt, True),
                                     pos[v], alt, refs[v]))
                        report.n_split_records += 1
                yield _variants_table(rows), np.stack(cols, axis=1)
        finally:
            reader.close()

    return samples, gen()


# ----------------------------------------------------------------------------- plink2 fast path


def plink2_executable() -> str | None:
    """The ``plink2`` program used to parse VCF/BCF text fast, or None.

    Found on ``PATH``; ``GENOAPP_PLINK2`` names another one, ``GENOAPP_PLINK2=0`` turns the fast
    path off (genoapp then parses with cyvcf2; the results are the same, only slower).
    """
    env = os.environ.get("GENOAPP_PLINK2")
    if env == "0":
        return None
    return shutil.which(env or "plink2")


def _vcf_to_pgen_with_plink2(exe: str, path: Path, opt: ReadOptions, out: Path) -> Path:
    """``plink2 --vcf/--bcf`` to a .pgen that keeps every record (filters are ours)."""
    flag = "--bcf" if detect_genotype_format(path) == "bcf" else "--vcf"
    cmd = [exe, flag, os.fspath(path)]
    if opt.dosage_field == "DS":
        cmd.append("dosage=DS")
    cmd += ["--vcf-half-call", "missing", "--allow-extra-chr", "--output-chr", "MT",
            "--threads", str(max(1, os.cpu_count() or 1)), "--make-pgen", "--out",
            os.fspath(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        log = out.with_suffix(".log")
        detail = log.read_text(errors="replace")[-400:] if log.is_file() else res.stdout[-400:]
        raise InputDataError(f"{path}: plink2 could not read the file ({excerpt(detail, max_chars=300)})"
                             ". Check that it is a valid VCF/BCF, or set GENOAPP_PLINK2=0 to read "
                             "it with cyvcf2.")
    return out.with_suffix(".pgen")


# ----------------------------------------------------------------------------- BGEN


def _read_sample_file(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep=r"\s+", dtype=str, keep_default_na=False)
    if df.shape[1] < 2 or df.empty:
        raise InputDataError(f"{path}: an Oxford .sample file needs a header line, a type line and "
                             "ID_1 ID_2 columns.")
    return df.iloc[1:].reset_index(drop=True)  # drop the column-type line (0 0 0 D ...)


def _bgen_blocks(path: Path, opt: ReadOptions, report: ReadReport, block_size: int,
                 metafile_dir: Path | None):
    try:
        from cbgen import bgen_file, bgen_metafile
    except ImportError as exc:  # pragma: no cover
        raise ConfigError("reading BGEN needs the cbgen package (pip install cbgen).") from exc
    _check_exists(path, "BGEN file")
    files = companion_paths(path)
    try:
        bf = bgen_file(os.fspath(path))
    except Exception as exc:
        raise InputDataError(f"{path}: not a readable BGEN file ({excerpt(str(exc), max_chars=120)})"
                             "; expected BGEN 1.1-1.3 (e.g. plink2 --export bgen-1.2).") from exc
    n = int(bf.nsamples)
    if "sample" in files:
        tab = _read_sample_file(files["sample"])
        if len(tab) != n:
            raise InputDataError(f"{files['sample']} lists {len(tab):,} samples; {path.name} holds "
                                 f"{n:,}. Use the .sample file written with the .bgen.")
        cols = list(tab.columns)
        if opt.id_delimiter is None and len(cols) >= 2 and cols[0] == "ID_1" and cols[1] == "ID_2" \
                and not (tab["ID_1"] == "0").all():
            fids, iids = tab["ID_1"].tolist(), tab["ID_2"].tolist()
        else:
            col = "ID_2" if "ID_2" in cols else cols[0]
            fids, iids = _split_ids(tab[col].tolist(), opt.id_delimiter, files["sample"])
        sex = None
        if "sex" in tab.columns:
            s = pd.to_numeric(tab["sex"], errors="coerce").fillna(0).astype(np.int64).to_numpy()
            sex = np.where(np.isin(s, (1, 2)), s, 0)
        samples = _samples_table(fids, iids, sex)
    elif bf.contain_samples:
        ids = [_text(s) for s in bf.read_samples()]
        fids, iids = _split_ids(ids, opt.id_delimiter, path)
        samples = _samples_table(fids, iids)
    else:
        bf.close()
        raise InputDataError(f"{path}: the BGEN file stores no sample IDs and there is no "
                             f"{path.with_suffix('.sample').name} beside it; add the .sample file.")
    report.n_samples = n
    report.dosage_source = "probabilities"
    a = 1 if opt.bgen_ref == "first" else 0  # index of the ALT (counted) allele in a record
    mdir = metafile_dir or Path(os.environ.get("TMPDIR", "/tmp"))
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    metafile = Path(mdir) / f"{path.name}.{key}.metafile"
    if not metafile.is_file():
        Path(mdir).mkdir(parents=True, exist_ok=True)
        with atomic_path(metafile, what="the BGEN variant index") as tmp:
            bf.create_metafile(os.fspath(tmp), verbose=False)

    def gen():
        buf = _BlockBuffer(n, block_size)
        try:
            with bgen_metafile(os.fspath(metafile)) as mf:
                for part in range(mf.npartitions):
                    var = mf.read_partition(part).variants
                    for j in range(len(var.offset)):
                        report.n_records += 1
                        alleles = _text(var.allele_ids[j]).split(",")
                        if len(alleles) != 2:
                            report.n_multiallelic += int(len(alleles) > 2)
                            report.n_multiallelic_skipped += 1
                            continue
                        gt = bf.read_genotype(int(var.offset[j]))
                        if not (gt.ploidy == 2).all():
                            raise InputDataError(f"{path}: variant {j + 1} has samples with ploidy "
                                                 "other than 2; only diploid BGEN is supported.")
                        p = np.asarray(gt.probability, dtype=np.float64)
                        if gt.phased:  # haplotypes: (h1 1st allele, h1 2nd, h2 1st, h2 2nd)
                            d = p[:, a] + p[:, 2 + a]
                        else:  # (hom 1st allele, het, hom 2nd allele)
                            d = p[:, 1] + 2.0 * p[:, 2 * a]
                        d = d.astype(np.float32)
                        d[np.asarray(gt.missing, dtype=bool) | np.isnan(d)] = np.nan
                        chrom, pos = _chrom(_text(var.chromosome[j])), int(var.position[j])
                        name = _text(var.rsid[j]) or _text(var.id[j])
                        ref, alt = alleles[1 - a], alleles[a]
                        row = (chrom, _vid(name, chrom, pos, ref, alt, False), pos, alt, ref)
                        if (full := buf.add(row, d)) is not None:
                            yield full
            if (last := buf.flush()) is not None:
                yield last
        finally:
            bf.close()

    return samples, gen()


# ----------------------------------------------------------------------------- direct read


def read_genotype_blocks(path, *, options: ReadOptions | None = None, block_size: int = 2048,
                         report: ReadReport | None = None, metafile_dir=None
                         ) -> tuple[pd.DataFrame, Iterator[tuple[pd.DataFrame, np.ndarray]]]:
    """Stream a VCF/BCF, .pgen or BGEN file in blocks of variants (the direct read).

    Parameters
    ----------
    path : str or path-like
        The genotype file (``.pgen``/``.pvar``/``.psam`` name the PLINK 2 fileset).
    options : ReadOptions, optional
    block_size : int, default 2048
        Variants per block.
    report : ReadReport, optional
        Filled with the counts as the blocks are read (complete once the iterator is exhausted).
    metafile_dir : path-like, optional
        BGEN: folder for cbgen's variant index (default ``$TMPDIR``).

    Returns
    -------
    samples : pandas.DataFrame
        ``FID``, ``IID``, ``father``, ``mother``, ``sex``, ``phenotype`` (as a .fam).
    blocks : iterator of (pandas.DataFrame, numpy.ndarray)
        Per block the variants (``chrom``, ``id``, ``cM``, ``pos``, ``A1`` = ALT counted, ``A2`` =
        REF) and dosages of shape ``(n_samples, n_block)`` float32, ``NaN`` missing.

    Raises
    ------
    InputDataError
        Missing or unreadable file, companions that do not belong together, sample IDs that do
        not split on ``id_delimiter``.
    ConfigError
        A PLINK 1 path, bad options.
    """
    opt = options or ReadOptions()
    p = Path(os.fspath(path))
    fmt = detect_genotype_format(p)
    rep = report if report is not None else ReadReport()
    rep.source, rep.format = str(p), fmt
    if block_size < 1:
        raise ConfigError(f"block_size must be >= 1; got {block_size}.")
    if fmt in ("vcf", "bcf"):
        return _vcf_blocks(p, opt, rep, block_size)
    if fmt == "pgen":
        return _pgen_blocks(p, opt, rep, block_size)
    if fmt == "bgen":
        return _bgen_blocks(p, opt, rep, block_size, None if metafile_dir is None else Path(metafile_dir))
    raise ConfigError(f"{p} is a PLINK 1 fileset; open it with genoapp.io.open_plink.")


def read_genotypes(path, *, options: ReadOptions | None = None, metafile_dir=None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, ReadReport]:
    """Read a whole VCF/BCF, .pgen or BGEN file into memory (small files, tests).

    Returns
    -------
    samples, variants : pandas.DataFrame
    dosages : numpy.ndarray
        ``(n_samples, n_variants)`` float32, copies of ALT, ``NaN`` missing.
    report : ReadReport

    Raises
    ------
    As :func:`read_genotype_blocks`.
    """
    rep = ReadReport()
    samples, blocks = read_genotype_blocks(path, options=options, report=rep,
                                           metafile_dir=metafile_dir)
    vs, ds = [], []
    for v, d in blocks:
        vs.append(v)
        ds.append(_as_dosages(d))
    variants = pd.concat(vs, ignore_index=True) if vs else _variants_table([])
    dos = np.concatenate(ds, axis=1) if ds else np.empty((len(samples), 0), np.float32)
    rep.n_variants = int(dos.shape[1])
    rep.n_missing_calls = int(np.isnan(dos).sum())
    rep.n_fractional = int((~np.isnan(dos) & (dos != np.round(dos))).sum())
    return samples, variants, dos, rep


# ----------------------------------------------------------------------------- conversion


def _as_dosages(d: np.ndarray) -> np.ndarray:
    """A block as float32 dosages (int8 hard-call blocks: -127 -> NaN)."""
    if d.dtype == np.int8:
        out = d.astype(np.float32)
        out[d < 0] = np.nan
        return out
    return d


def _hard_calls(d: np.ndarray) -> np.ndarray:
    """Dosages (n, b) -> int8 hard calls (0/1/2, -127 missing), PLINK 2's threshold 0.1."""
    r = np.rint(d)
    ok = np.abs(d - r) <= HARD_CALL_THRESHOLD + 1e-6
    out = np.where(ok & ~np.isnan(d), r, -127).astype(np.int8)
    return out


# .bed 2-bit codes (A1 counted): 0 copies -> 11, 1 -> 10, 2 -> 00, missing -> 01
_BED_CODE = np.array([3, 2, 0, 1], dtype=np.uint8)


def _pack_bed(calls: np.ndarray) -> bytes:
    """int8 hard calls (n_samples, b), -127 missing -> SNP-major .bed bytes of the b variants."""
    n, b = calls.shape
    c = calls.T
    codes = np.zeros((b, (n + 3) // 4 * 4), dtype=np.uint8)  # padding bits 00, as PLINK
    codes[:, :n] = _BED_CODE[np.where(c < 0, 3, c)]
    q = codes.reshape(b, -1, 4)
    packed = q[:, :, 0] | (q[:, :, 1] << 2) | (q[:, :, 2] << 4) | (q[:, :, 3] << 6)
    return packed.tobytes()


def _write_blocks(blocks, tmp_prefix: Path, rep: ReadReport, progress) -> pd.DataFrame:
    """Write streamed blocks as .bed (+ .dosage.u16 when a dosage is not whole); the variants."""
    variants = []
    fractional = False
    dos_path = tmp_prefix.with_suffix(".dosage.u16")
    with open(tmp_prefix.with_suffix(".bed"), "wb") as bed, open(dos_path, "wb") as dos:
        bed.write(bytes([0x6C, 0x1B, 0x01]))
        for v, d in blocks:
            variants.append(v)
            if d.dtype == np.int8:  # hard calls already: nothing to keep beside the .bed
                bed.write(_pack_bed(d))
                rep.n_missing_calls += int((d < 0).sum())
            else:
                bed.write(_pack_bed(_hard_calls(d)))
                nan = np.isnan(d)
                rep.n_missing_calls += int(nan.sum())
                nfrac = int((~nan & (d != np.round(d))).sum())
                rep.n_fractional += nfrac
                fractional = fractional or nfrac > 0
                u = np.where(nan, DOSAGE_MISSING, np.rint(np.nan_to_num(d) * DOSAGE_SCALE))
                dos.write(np.ascontiguousarray(u.T.astype(np.uint16)).tobytes())  # variant-major
            if progress is not None:
                progress(rep.n_records)
    if not fractional:
        dos_path.unlink()
    return pd.concat(variants, ignore_index=True) if variants else _variants_table([])


# number of missing genotypes (2-bit code 01) in each .bed byte
_MISSING_PER_BYTE = np.array([sum(((b >> (2 * k)) & 3) == 1 for k in range(4)) for b in range(256)],
                             dtype=np.uint8)


def _bed_missing_count(bed: Path, chunk: int = 1 << 26) -> int:
    """Missing calls in a .bed (padding bits are 00, never counted)."""
    total = 0
    with open(bed, "rb") as fh:
        fh.seek(3)
        while True:
            buf = fh.read(chunk)
            if not buf:
                break
            total += int(_MISSING_PER_BYTE[np.frombuffer(buf, dtype=np.uint8)].sum(dtype=np.int64))
    return total


def _plink2_subset_to_bed(exe: str, pgen: Path, opt: ReadOptions, rep: ReadReport,
                          out_prefix: Path):
    """Kept records of a .pgen -> .bed by plink2, the .bim/.fam tables by genoapp.

    The records to keep are chosen here from the .pvar (:func:`_pvar_masks`: FILTER, QUAL,
    multi-allelic skipped), given to plink2 by row number (a temporary .pvar whose IDs are the row
    numbers), so plink2 only copies genotypes. Returns None (nothing counted) when multi-allelic
    records are to be split, which plink2's .bed cannot hold.
    """
    files = companion_paths(pgen)
    pvar = _read_pvar(files["pvar"])
    if opt.multiallelic == "split" and pvar["ALT"].str.contains(",", regex=False).any():
        return None
    samples = _read_psam(files["psam"], opt)
    rep.n_samples = len(samples)
    filtered, low, multi = _pvar_masks(pvar, opt, rep)
    keep = np.flatnonzero(~filtered & ~low & ~multi)
    if keep.size == 0:
        return samples, _variants_table([])
    row_ids = pd.Series(np.arange(len(pvar))).astype(str).radd("r")
    tmp_pvar = out_prefix.parent / "plink2_rows.pvar"
    pd.DataFrame({"#CHROM": pvar["CHROM"], "POS": pvar["POS"], "ID": row_ids, "REF": pvar["REF"],
                  "ALT": pvar["ALT"]}).to_csv(tmp_pvar, sep="\t", index=False)
    extract = out_prefix.parent / "plink2_keep.txt"
    extract.write_text("\n".join(row_ids.iloc[keep]) + "\n")
    cmd = [exe, "--pgen", os.fspath(files["pgen"]), "--pvar", os.fspath(tmp_pvar),
           "--psam", os.fspath(files["psam"]), "--extract", os.fspath(extract),
           "--allow-extra-chr", "--threads", str(max(1, os.cpu_count() or 1)), "--make-bed",
           "--out", os.fspath(out_prefix.parent / "plink2_bed")]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    got = out_prefix.parent / "plink2_bed.bed"
    n = len(samples)
    if res.returncode != 0 or got.stat().st_size != 3 + keep.size * ((n + 3) // 4):
        raise InputDataError(f"{pgen}: plink2 could not write the .bed "
                             f"({excerpt(res.stdout[-300:], max_chars=300)}); set GENOAPP_PLINK2=0 "
                             "to read the file without plink2.")
    got.rename(out_prefix.with_suffix(".bed"))  # inside the atomic temporary folder
    chrom = pvar["CHROM"].iloc[keep].map(_chrom).to_numpy()
    pos = pd.to_numeric(pvar["POS"].iloc[keep]).astype(np.int64).to_numpy()
    ref, alt, vid = (pvar[c].iloc[keep].to_numpy() for c in ("REF", "ALT", "ID"))
    rows = [(c, _vid(i, c, q, r, a, False), q, a, r)
            for c, i, q, r, a in zip(chrom, vid, pos, ref, alt, strict=True)]
    rep.n_no_alt += int((alt == ".").sum())
    rep.n_missing_calls += _bed_missing_count(out_prefix.with_suffix(".bed"))
    return samples, _variants_table(rows)


def genotype_cache_dir() -> Path:
    """Folder of converted genotype files: ``$GENOAPP_CACHE_DIR``, else ``~/.cache/genoapp``."""
    env = os.environ.get(CACHE_ENV)
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genoapp"
    return base / "genotypes"


def _cache_key(path: Path, opt: ReadOptions) -> str:
    parts = [str(path.resolve()), str(_CACHE_VERSION), json.dumps(dataclasses.asdict(opt), sort_keys=True)]
    for f in companion_paths(path).values():
        try:
            st = f.stat()
            parts.append(f"{f.name}|{st.st_size}|{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{f.name}|missing")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:20]


def convert_to_plink(path, *, options: ReadOptions | None = None, cache_dir=None,
                     block_size: int = 2048, progress=None, fast: bool = True):
    """Convert a VCF/BCF, .pgen or BGEN file once to a cached PLINK 1 fileset.

    Written block by block (memory ~ ``n_samples x block_size`` dosages), into a temporary folder
    renamed into place when complete. Reused while the source files and options are unchanged.

    Parameters
    ----------
    path : str or path-like
    options : ReadOptions, optional
    cache_dir : path-like, optional
        Default :func:`genotype_cache_dir`.
    block_size : int, default 2048
    progress : callable, optional
        ``progress(n_records_read)`` after each block.
    fast : bool, default True
        VCF/BCF with GT hard calls: let ``plink2`` (:func:`plink2_executable`, when installed)
        parse the text into a temporary .pgen, which is then read and filtered as above. The
        result equals the cyvcf2 read (tested); only faster (about 10x on the demo cohort).

    Returns
    -------
    prefix : pathlib.Path
        The cached fileset prefix (``.bed/.bim/.fam``, and ``.dosage.u16`` for non-integer
        dosages).
    report : ReadReport

    Raises
    ------
    InputDataError, ConfigError
        As :func:`read_genotype_blocks`; also when no variant is left.
    StorageError
        The cache folder cannot be written.
    """
    opt = options or ReadOptions()
    p = Path(os.fspath(path))
    if detect_genotype_format(p) == "plink1":
        raise ConfigError(f"{p} is already a PLINK 1 fileset.")
    root = Path(cache_dir) if cache_dir is not None else genotype_cache_dir()
    key = _cache_key(p, opt)
    folder = root / key
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", p.name.split(".")[0]) or "genotypes"
    prefix = folder / stem
    report_path = folder / "read_report.json"
    if report_path.is_file() and prefix.with_suffix(".bed").is_file():
        rep = ReadReport(**json.loads(report_path.read_text()))
        rep.from_cache = True
        rep.cache = str(prefix)
        return prefix, rep
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    rep = ReadReport()
    fmt = detect_genotype_format(p)
    exe = plink2_executable() if fast and fmt in ("vcf", "bcf", "pgen") else None
    refused = ""
    with atomic_path(folder, directory=True, what="the converted genotype file") as tmp:
        tmp_prefix = Path(tmp) / stem
        var = None
        if exe is not None and opt.dosage_field is None:
            if fmt == "pgen":
                raw = companion_paths(p)["pgen"]
                for q in companion_paths(p).values():
                    _check_exists(q, f"PLINK 2 {q.suffix} file")
            else:  # plink2 parses the VCF/BCF text into a temporary .pgen that keeps every record
                _check_exists(p, "VCF/BCF file")
                try:
                    raw = _vcf_to_pgen_with_plink2(exe, p, opt, Path(tmp) / "plink2_raw")
                except InputDataError as exc:  # e.g. unsorted records: cyvcf2 reads it anyway
                    refused = str(exc)
                    exe = None
        if exe is not None and opt.dosage_field is None:
            rep.source, rep.format = str(p), fmt
            rep.dosage_source = "hard calls" if fmt == "pgen" else "GT"
            subset = _plink2_subset_to_bed(exe, raw, opt, rep, tmp_prefix)
            if subset is not None:  # the common case: plink2 writes the kept records' .bed
                samples, var = subset
                rep.converter = ("plink2 (.pgen to .bed)" if fmt == "pgen" else
                                 "plink2 (VCF parsing and .bed writing), genoapp (filters, IDs)")
            else:  # split multi-allelic records: genoapp reads the .pgen in blocks
                rep.converter = "plink2 (VCF parsing), then genoapp" if fmt != "pgen" else "genoapp"
                samples, blocks = _pgen_blocks(raw, opt, rep, block_size)
        else:
            samples, blocks = read_genotype_blocks(p, options=opt, block_size=block_size,
                                                   report=rep, metafile_dir=root)
            if refused:
                rep.converter = f"genoapp (cyvcf2; plink2 refused the file: {refused[:200]})"
        if var is None:
            var = _write_blocks(blocks, tmp_prefix, rep, progress)
        if var.empty:
            raise InputDataError(f"{p}: no biallelic variant left after reading "
                                 f"({rep.n_records:,} records; {rep.n_filtered:,} filtered, "
                                 f"{rep.n_multiallelic_skipped:,} multi-allelic skipped, "
                                 f"{rep.n_low_qual:,} below the minimum QUAL).")
        rep.n_variants = len(var)
        var.to_csv(tmp_prefix.with_suffix(".bim"), sep="\t", header=False, index=False,
                   columns=["chrom", "id", "cM", "pos", "A1", "A2"])
        fam = samples.copy()
        fam["phenotype"] = -9
        fam.to_csv(tmp_prefix.with_suffix(".fam"), sep="\t", header=False, index=False,
                   columns=["FID", "IID", "father", "mother", "sex", "phenotype"])
        for q in Path(tmp).glob("plink2_*"):
            q.unlink()
        rep.seconds = time.perf_counter() - t0
        rep.cache = str(prefix)
        (Path(tmp) / "read_report.json").write_text(json.dumps(dataclasses.asdict(rep), indent=1))
    return prefix, rep


def open_genotypes(path, *, options: ReadOptions | None = None, cache_dir=None,
                   progress=None, fast: bool = True) -> PlinkGenotypes:
    """Open any supported genotype input as a :class:`~genoapp.io.PlinkGenotypes`.

    PLINK 1 filesets are opened directly; VCF/BCF, .pgen and BGEN are converted once
    (:func:`convert_to_plink`) and the handle's ``read_report`` attribute holds the counts.

    Parameters
    ----------
    path : str or path-like
        PLINK 1 prefix or file, ``.vcf[.gz]``, ``.bcf``, ``.pgen`` (or ``.pvar``/``.psam``),
        ``.bgen``.
    options : ReadOptions, optional
    cache_dir : path-like, optional
    progress : callable, optional
    fast : bool, default True
        See :func:`convert_to_plink`.

    Returns
    -------
    PlinkGenotypes
        Dosages of A1 (ALT for converted files), ``NaN`` missing; ``read_report`` is ``None``
        for PLINK 1 input.

    Raises
    ------
    InputDataError, ConfigError, StorageError
        As :func:`convert_to_plink` and :func:`genoapp.io.open_plink`.
    """
    if detect_genotype_format(path) == "plink1":
        return open_plink(path)
    prefix, rep = convert_to_plink(path, options=options, cache_dir=cache_dir, progress=progress,
                                   fast=fast)
    g = open_plink(prefix)
    g.read_report = rep
    return g
