"""VCF/BCF, PLINK 2 and BGEN readers (genoapp.io.formats) against the .bed they were made from.

The demo cohort (1000 Genomes, 1,485 x 14,079) is converted with plink2 (installed by .ci/run)
to VCF.gz, BCF, .pgen and BGEN 1.2; every reader must give the dosages, IDs and alleles of the
.bed read, and QC must keep the same samples and variants. A hand-written VCF checks the counts
of the documented choices (DS, multi-allelic, FILTER, QUAL, missing calls).
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import numpy as np
import pytest

from genoapp.demo import DEMO_BED
from genoapp.errors import ConfigError, InputDataError
from genoapp.io import open_plink
from genoapp.io.formats import (
    ReadOptions,
    companion_paths,
    convert_to_plink,
    detect_genotype_format,
    open_genotypes,
    read_genotypes,
)
from genoapp.qc import QCConfig, run_qc_bed


@pytest.fixture(scope="module")
def demo_ref():
    g = open_plink(DEMO_BED)
    return g, g.read()


@pytest.fixture(scope="module")
def converted(plink2, tmp_path_factory) -> dict[str, Path]:
    """The demo cohort in every format, written by plink2."""
    out = tmp_path_factory.mktemp("formats")
    runs = {
        "vcf": (["--export", "vcf", "bgz"], "demo.vcf.gz"),
        "vcf_iid": (["--export", "vcf", "bgz", "id-paste=iid"], "demo.vcf.gz"),
        "bcf": (["--export", "bcf"], "demo.bcf"),
        "pgen": (["--make-pgen"], "demo.pgen"),
        "bgen": (["--export", "bgen-1.2", "ref-first"], "demo.bgen"),
    }
    paths = {}
    for key, (args, name) in runs.items():
        d = out / key
        d.mkdir()
        subprocess.run([plink2, "--bfile", str(DEMO_BED), *args, "--out", str(d / "demo"),
                        "--threads", "2"], check=True, capture_output=True)
        paths[key] = d / name
    return paths


OPTIONS = {
    "vcf": ReadOptions(id_delimiter="_"),
    "vcf_iid": ReadOptions(),
    "bcf": ReadOptions(id_delimiter="_"),
    "pgen": ReadOptions(),
    "bgen": ReadOptions(bgen_ref="first"),
}


@pytest.mark.parametrize("fmt", list(OPTIONS))
def test_direct_read_equals_bed(fmt, converted, demo_ref):
    ref, R = demo_ref
    samples, variants, dos, rep = read_genotypes(converted[fmt], options=OPTIONS[fmt],
                                                 metafile_dir=converted[fmt].parent)
    assert dos.shape == R.shape == (1485, 14079)
    np.testing.assert_array_equal(dos, R)  # NaN in the same places, same dosages
    assert samples["FID"].tolist() == ref.samples["FID"].tolist()
    assert samples["IID"].tolist() == ref.samples["IID"].tolist()
    for col in ("chrom", "id", "pos", "A1", "A2"):
        assert variants[col].tolist() == ref.variants[col].tolist(), col
    assert rep.n_records == rep.n_variants == 14079
    assert rep.n_missing_calls == int(np.isnan(R).sum()) == 9151
    assert rep.n_multiallelic == rep.n_filtered == rep.n_fractional == 0


@pytest.mark.parametrize("fmt,fast", [("vcf", True), ("vcf", False), ("bcf", True), ("pgen", True),
                                      ("bgen", True)])
def test_converted_copy_equals_bed_and_qc_keeps_the_same(fmt, fast, converted, demo_ref, tmp_path):
    ref, R = demo_ref
    g = open_genotypes(converted[fmt], options=OPTIONS[fmt], cache_dir=tmp_path, fast=fast)
    assert g.read_report is not None and not g.read_report.from_cache
    assert ("plink2" in g.read_report.converter) == (fast and fmt in ("vcf", "bcf", "pgen"))
    assert g.read_report.n_missing_calls == 9151
    assert g.dosage_path is None  # hard calls only: no side file
    np.testing.assert_array_equal(g.read(), R)
    np.testing.assert_array_equal(g.read_int8(), ref.read_int8())
    cfg = QCConfig(geno=0.1, mind=0.1, maf=0.01, hwe=1e-5)
    a, b = run_qc_bed(g, config=cfg), run_qc_bed(ref, config=cfg)
    np.testing.assert_array_equal(a.sample_mask, b.sample_mask)
    np.testing.assert_array_equal(a.variant_mask, b.variant_mask)
    # the second open reuses the cache
    again = open_genotypes(converted[fmt], options=OPTIONS[fmt], cache_dir=tmp_path)
    assert again.read_report.from_cache
    assert again.prefix == g.prefix


def test_formats_from_names():
    assert detect_genotype_format("a/b.vcf.gz") == "vcf"
    assert detect_genotype_format("b.VCF") == "vcf"
    assert detect_genotype_format("b.bcf") == "bcf"
    assert detect_genotype_format("b.pvar") == "pgen"
    assert detect_genotype_format("b.bgen") == "bgen"
    assert detect_genotype_format("b.bed") == "plink1"
    assert detect_genotype_format("b") == "plink1"
    files = companion_paths("x/demo.psam")
    assert [p.name for p in files.values()] == ["demo.pgen", "demo.pvar", "demo.psam"]


# ----------------------------------------------------------------------------- a VCF by hand

_HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=LowQ,Description="low quality">
##contig=<ID=chr1,length=248956422>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DS,Number=1,Type=Float,Description="ALT dosage">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tfam1_s1\tfam1_s2\tfam2_s3\tfam2_s4
"""
_RECORDS = [
    # id, ref, alt, qual, filter, format, calls
    ("rs1", "A", "G", "50", "PASS", "GT:DS", ["0/0:0.1", "0/1:0.9", "1/1:1.95", "./.:."]),
    ("rs2", "C", "T", "50", ".", "GT", ["0|1", "1|1", "0|0", "1|."]),
    ("rs3", "G", "A,C", "50", "PASS", "GT", ["0/1", "1/2", "2/2", "0/0"]),
    ("rs4", "T", "C", "50", "LowQ", "GT", ["0/1", "0/1", "0/1", "0/1"]),
    ("rs5", "T", "G", "5", "PASS", "GT", ["0/1", "0/1", "0/0", "0/0"]),
    (".", "A", "C", ".", "PASS", "GT:DS", ["0/1:0.5", "1/1:2", "0/0:0", "0/1:1"]),
]


def _write_vcf(path: Path, records=_RECORDS) -> Path:
    lines = [_HEADER]
    for i, (vid, ref, alt, qual, filt, fmt, calls) in enumerate(records):
        lines.append("\t".join(["chr1", str(1000 * (i + 1)), vid, ref, alt, qual, filt, ".", fmt,
                                *calls]) + "\n")
    with gzip.open(path, "wt") as fh:
        fh.write("".join(lines))
    return path


def test_hand_written_vcf_counts(tmp_path):
    vcf = _write_vcf(tmp_path / "hand.vcf.gz")
    opt = ReadOptions(dosage_field="DS", multiallelic="split", filter_pass=True, min_qual=10,
                      id_delimiter="_")
    samples, variants, dos, rep = read_genotypes(vcf, options=opt)
    assert samples["FID"].tolist() == ["fam1", "fam1", "fam2", "fam2"]
    assert samples["IID"].tolist() == ["s1", "s2", "s3", "s4"]
    assert rep.n_records == 6
    assert rep.n_filtered == 1 and rep.n_low_qual == 1
    assert rep.n_multiallelic == 1 and rep.n_split_records == 2 and rep.n_multiallelic_skipped == 0
    assert rep.n_records_without_ds == 1  # rs2 has GT only
    assert variants["id"].tolist() == ["rs1", "rs2", "rs3:A", "rs3:C", "1:6000:A:C"]
    assert variants["chrom"].tolist() == ["1"] * 5  # "chr" prefix dropped
    assert variants["A1"].tolist() == ["G", "T", "A", "C", "C"]
    expected = np.array([
        [0.1, 0.9, 1.95, np.nan],      # DS
        [1, 2, 0, np.nan],             # GT (no DS); half-missing call -> missing
        [1, 1, 0, 0],                  # copies of A
        [0, 1, 2, 0],                  # copies of C
        [0.5, 2, 0, 1],                # DS
    ], dtype=np.float32).T
    np.testing.assert_allclose(dos, expected, rtol=0, atol=1e-6)
    assert rep.n_missing_calls == 2
    assert rep.n_fractional == 4  # 0.1, 0.9, 1.95, 0.5

    skip = read_genotypes(vcf, options=ReadOptions(id_delimiter="_"))[3]
    assert skip.n_multiallelic_skipped == 1 and skip.n_split_records == 0
    assert skip.n_variants == 4  # rs1, rs2, rs5 (no QUAL minimum), record 6
    assert skip.n_filtered == 1 and skip.n_low_qual == 0
    keep_all = read_genotypes(vcf, options=ReadOptions(filter_pass=False, id_delimiter="_"))[3]
    assert keep_all.n_filtered == 0 and keep_all.n_variants == 5


@pytest.mark.parametrize("multiallelic", ["skip", "split"])
def test_plink2_fast_path_equals_the_cyvcf2_read(multiallelic, plink2, tmp_path):
    vcf = _write_vcf(tmp_path / "hand.vcf.gz")
    opt = ReadOptions(multiallelic=multiallelic, min_qual=10, id_delimiter="_")
    samples, variants, dos, rep = read_genotypes(vcf, options=opt)
    g = open_genotypes(vcf, options=opt, cache_dir=tmp_path / "fast", fast=True)
    assert "plink2" in g.read_report.converter
    np.testing.assert_array_equal(g.read(), dos)
    for col in ("chrom", "id", "pos", "A1", "A2"):
        assert g.variants[col].tolist() == variants[col].tolist(), col
    assert g.samples["FID"].tolist() == samples["FID"].tolist()
    assert g.samples["IID"].tolist() == samples["IID"].tolist()
    fast = g.read_report
    for field in ("n_records", "n_variants", "n_filtered", "n_low_qual", "n_multiallelic",
                  "n_multiallelic_skipped", "n_split_records", "n_missing_calls"):
        assert getattr(fast, field) == getattr(rep, field), field


def test_a_file_plink2_refuses_is_read_by_cyvcf2(plink2, tmp_path):
    """plink2 refuses a chromosome split in two runs; genoapp then reads the file itself."""
    vcf = tmp_path / "split.vcf.gz"
    lines = [_HEADER.replace("##contig=<ID=chr1,length=248956422>",
                             "##contig=<ID=chr1>\n##contig=<ID=chr2>")]
    for i, chrom in enumerate(["chr1", "chr2", "chr1"]):
        lines.append("\t".join([chrom, str(100 * (i + 1)), f"rs{i}", "A", "G", "50", "PASS", ".",
                                "GT", "0/1", "1/1", "0/0", "./."]) + "\n")
    with gzip.open(vcf, "wt") as fh:
        fh.write("".join(lines))
    opt = ReadOptions(id_delimiter="_")
    g = open_genotypes(vcf, options=opt, cache_dir=tmp_path / "c")
    assert g.read_report.converter.startswith("genoapp (cyvcf2; plink2 refused")
    np.testing.assert_array_equal(g.read(), read_genotypes(vcf, options=opt)[2])
    assert g.variants["chrom"].tolist() == ["1", "2", "1"]


def test_dosages_survive_the_conversion(tmp_path):
    vcf = _write_vcf(tmp_path / "hand.vcf.gz")
    opt = ReadOptions(dosage_field="DS", multiallelic="split", min_qual=10, id_delimiter="_")
    _, _, dos, _ = read_genotypes(vcf, options=opt)
    g = open_genotypes(vcf, options=opt, cache_dir=tmp_path / "cache")
    assert g.dosage_path is not None
    np.testing.assert_allclose(g.read(), dos, atol=1.0 / 16384)
    assert np.isnan(g.read()).sum() == 2
    hard = g.read_int8()  # hard calls: within 0.1 of an integer, else missing (PLINK 2)
    np.testing.assert_array_equal(hard[:, 0], [0, 1, 2, -127])  # 0.1, 0.9, 1.95 -> calls
    np.testing.assert_array_equal(hard[:, 4], [-127, 2, 0, 1])  # 0.5 -> missing
    assert any("non-integer dosages" in s for s in g.read_report.lines())


def test_clear_errors(tmp_path):
    vcf = _write_vcf(tmp_path / "hand.vcf.gz")
    with pytest.raises(InputDataError, match="has no '-'"):
        read_genotypes(vcf, options=ReadOptions(id_delimiter="-"))
    with pytest.raises(InputDataError, match="does not exist"):
        read_genotypes(tmp_path / "nothing.vcf.gz")
    bad = tmp_path / "bad.vcf"
    bad.write_text("this is not a VCF\n")
    with pytest.raises(InputDataError, match="VCF"):
        read_genotypes(bad)
    with pytest.raises(ConfigError, match="multiallelic"):
        ReadOptions(multiallelic="merge")
    with pytest.raises(InputDataError, match="no biallelic variant left"):
        convert_to_plink(_write_vcf(tmp_path / "lowq.vcf.gz", _RECORDS[2:4]),
                         options=ReadOptions(id_delimiter="_"), cache_dir=tmp_path / "c")


def test_pgen_psam_pvar_mismatch(converted, tmp_path):
    src = converted["pgen"]
    d = tmp_path / "p"
    d.mkdir()
    for ext in (".pgen", ".psam"):
        (d / f"demo{ext}").write_bytes(src.with_suffix(ext).read_bytes())
    lines = src.with_suffix(".pvar").read_text().splitlines(keepends=True)
    (d / "demo.pvar").write_text("".join(lines[:-5]))
    with pytest.raises(InputDataError, match="do not belong together"):
        read_genotypes(d / "demo.pgen")
