"""Gene tables in PLINK glist, MAGMA gene.loc, BED and GTF formats; the genome-build sanity check;
per-gene summary (n_SNP, span)."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from genoapp.errors import ConfigError, InputDataError
from genoapp.features import annotate_snps, annotation_summary, check_build
from genoapp.io import read_bim, read_gene_table
from genoapp.io.genes import CHROM_LENGTHS, chromosome_lengths, detect_gene_table_format

COLS = ["gene", "chrom", "start", "end"]


@pytest.fixture(scope="module")
def hg19(shared_data):
    return read_gene_table(shared_data / "gene_tables" / "glist_hg19.tsv")


def _write_formats(g: pd.DataFrame, d):
    """The same genes in every supported format (coordinates converted as each format wants)."""
    paths = {}
    paths["glist"] = d / "glist-hg19"
    g[["chrom", "start", "end", "gene"]].to_csv(paths["glist"], sep=" ", header=False, index=False)
    paths["magma"] = d / "NCBI37.3.gene.loc"
    pd.DataFrame({"id": np.arange(len(g)) + 100, "chrom": g["chrom"], "start": g["start"],
                  "end": g["end"], "strand": "+", "symbol": g["gene"]}).to_csv(
        paths["magma"], sep="\t", header=False, index=False)
    paths["bed"] = d / "genes.bed"
    bed = pd.DataFrame({"chrom": "chr" + g["chrom"], "s": g["start"] - 1, "e": g["end"],
                        "name": g["gene"], "score": 0, "strand": "-"})
    with open(paths["bed"], "w") as fh:
        fh.write('track name="genes"\n#chrom\tchromStart\tchromEnd\tname\tscore\tstrand\n')
        bed.to_csv(fh, sep="\t", header=False, index=False)
    paths["gtf"] = d / "genes.gtf.gz"
    attrs = 'gene_id "ENSG' + pd.Series(np.arange(len(g))).astype(str) + '"; gene_name "' + g["gene"] + \
        '"; gene_biotype "protein_coding";'
    gtf = pd.DataFrame({"c": g["chrom"], "src": "ensembl", "f": "gene", "s": g["start"], "e": g["end"],
                        "score": ".", "strand": "+", "frame": ".", "attr": attrs})
    extra = gtf.assign(f="exon")  # non-gene records are ignored
    text = "#!genome-build GRCh37\n" + pd.concat([gtf, extra]).to_csv(sep="\t", header=False, index=False,
                                                                        quoting=3)
    with gzip.open(paths["gtf"], "wt") as fh:
        fh.write(text)
    return paths


def test_all_formats_read_to_the_same_table(hg19, tmp_path):
    g = hg19.iloc[:3000].reset_index(drop=True)
    for fmt, path in _write_formats(g, tmp_path).items():
        assert detect_gene_table_format(path) == fmt
        got = read_gene_table(path)
        assert got.attrs["format"] == fmt
        pd.testing.assert_frame_equal(got[COLS], g[COLS], check_dtype=False)
        assert got["start"].dtype == np.int64
    magma = read_gene_table(tmp_path / "NCBI37.3.gene.loc")
    assert magma["gene_id"].iloc[0] == "100" and magma["strand"].iloc[0] == "+"
    gtf = read_gene_table(tmp_path / "genes.gtf.gz")
    assert gtf["gene_id"].iloc[0].startswith("ENSG") and set(gtf["gene_type"]) == {"protein_coding"}
    # an explicit format overrides detection: the glist read as BED shifts starts by one
    as_bed = read_gene_table(tmp_path / "glist-hg19", format="bed")
    np.testing.assert_array_equal(as_bed["start"], g["start"] + 1)


def test_annotation_identical_for_every_format(hg19, shared_data, tmp_path):
    bim = read_bim(shared_data / "human_1kg_hapmap3" / "human_1kg_hapmap3.bim")
    bim = bim[bim["chrom"].isin(["1", "2"])].reset_index(drop=True)
    g = hg19[hg19["chrom"].isin(["1", "2"])].reset_index(drop=True)
    ref = annotate_snps(bim, g)
    for path in _write_formats(g, tmp_path).values():
        got = annotate_snps(bim, read_gene_table(path))
        pd.testing.assert_frame_equal(got, ref)


def test_gene_table_format_errors(tmp_path):
    f = tmp_path / "only_exons.gtf"
    f.write_text('1\tx\texon\t10\t20\t.\t+\t.\tgene_id "A";\n')
    with pytest.raises(InputDataError, match="without 'gene' records"):
        read_gene_table(f)
    with pytest.raises(ConfigError, match="format"):
        read_gene_table(f, format="gff9")
    f = tmp_path / "ragged.loc"
    f.write_text("1\t1\t10\t20\t+\tA\n2\t1\t30\n")
    with pytest.raises(InputDataError, match="different numbers of fields"):
        read_gene_table(f, format="magma")
    f = tmp_path / "bad.bed"
    f.write_text("chr1\t10\n")
    with pytest.raises(InputDataError, match="at least 3 columns"):
        read_gene_table(f)
    f = tmp_path / "three.txt"
    f.write_text("chr1\t10\t20\n")  # header-less 3 columns: BED3, named by position
    g = read_gene_table(f)
    assert g[COLS].iloc[0].tolist() == ["1:11-20", "1", 11, 20]


def test_chromosome_lengths_table():
    g37 = chromosome_lengths("hg19")
    assert g37["1"] == 249_250_621 and g37["X"] == 155_270_560 and len(g37) == 25
    assert chromosome_lengths("GRCh38")["1"] == 248_956_422
    assert set(CHROM_LENGTHS) == {"GRCh37", "GRCh38"}
    with pytest.raises(ConfigError, match="build"):
        chromosome_lengths("hg17")


def test_check_build_hand_made():
    v = pd.DataFrame({"chrom": ["1", "1", "chr2", "23"], "id": list("abcd"),
                      "pos": [1000, 249_000_000, 5, 155_000_000]})
    assert check_build(v, build="GRCh37") == []
    w = check_build(v, build="hg38")
    assert len(w) == 1 and "1 variant(s) lie beyond the end" in w[0]
    assert "chr1:249,000,000 > 248,956,422" in w[0] and "They fit GRCh37" in w[0]
    # positions that are marker indices: almost nothing inside a gene
    genes = pd.DataFrame({"gene": ["A", "B"], "chrom": ["1", "1"], "start": [10_000, 50_000],
                          "end": [20_000, 60_000]})
    idx = pd.DataFrame({"chrom": "1", "id": [f"s{i}" for i in range(200)], "pos": np.arange(1, 201)})
    w = check_build(idx, annotation=annotate_snps(idx, genes))
    assert len(w) == 1 and "0 of 200 SNPs (0.0 %) fall inside a gene" in w[0]
    with pytest.raises(ConfigError):
        check_build(v, build="mm10")


def test_check_build_real_data_is_quiet(hg19, shared_data):
    bim = read_bim(shared_data / "human_1kg_hapmap3" / "human_1kg_hapmap3.bim")
    ann = annotate_snps(bim, hg19)
    assert check_build(bim, annotation=ann, build="GRCh37") == []


def test_summary_has_snp_count_and_span():
    genes = pd.DataFrame({"gene": ["A", "B"], "chrom": ["1", "1"], "start": [100, 1000],
                          "end": [200, 1500]})
    v = pd.DataFrame({"chrom": "1", "id": list("abcd"), "pos": [120, 180, 1100, 2000]})
    s = annotation_summary(annotate_snps(v, genes)).set_index("gene")
    assert s.loc["A", ["n_snps", "span_bp", "gene_length_bp"]].tolist() == [2, 61, 101]
    assert s.loc["B", ["n_snps", "n_inside", "n_nearest", "span_bp"]].tolist() == [2, 1, 1, 901]
