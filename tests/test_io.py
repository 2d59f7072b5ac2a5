"""Tests of genoapp.io: PLINK filesets, sample tables, binary codings, gene tables, ID reports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoapp.errors import ConfigError, InputDataError
from genoapp.io import (
    MISSING_VALUES,
    PlinkGenotypes,
    all_missing_messages,
    check_positions,
    coerce_binary,
    deduplicate_variant_ids,
    duplicate_variant_ids,
    duplicate_variant_ids_message,
    is_binary_trait,
    open_plink,
    read_bim,
    read_covariates,
    read_gene_table,
    read_phenotypes,
    read_sample_table,
    reconcile_ids,
    write_plink,
)

RICE = "rice_44k/rice44k"
HUMAN = "human_1kg_hapmap3/human_1kg_hapmap3"


def decode_bed(path: Path, n_samples: int, n_variants: int) -> np.ndarray:
    """Independent reference decoder of a SNP-major .bed (PLINK 1.9 format spec).

    2-bit codes, low bits first: 00 = hom A1 (2 copies of A1), 01 = missing, 10 = het,
    11 = hom A2 (0 copies).
    """
    raw = np.fromfile(path, dtype=np.uint8)
    assert raw[:3].tolist() == [0x6C, 0x1B, 0x01]
    per = (n_samples + 3) // 4
    blocks = raw[3:].reshape(n_variants, per)
    codes = np.stack([(blocks >> (2 * k)) & 3 for k in range(4)], axis=2).reshape(n_variants, -1)
    codes = codes[:, :n_samples].T
    lut = np.array([2.0, np.nan, 1.0, 0.0], dtype=np.float32)
    return lut[codes]


@pytest.fixture(scope="module")
def rice(shared_data):
    return open_plink(shared_data / RICE)


@pytest.fixture(scope="module")
def rice_full(rice):
    return rice.read()


@pytest.fixture()
def small(tmp_path):
    """A hand-made 5 x 3 fileset written by write_plink."""
    dosage = np.array(
        [[0, 1, 2], [1, np.nan, 2], [2, 2, 0], [np.nan, 0, 1], [1, 1, 1]], dtype=np.float32
    )
    samples = pd.DataFrame(
        {
            "FID": ["f1", "f1", "f2", "f3", "f4"],
            "IID": ["a", "b", "c", "d", "e"],
            "sex": [1, 2, 0, 1, 2],
            "phenotype": [1.0, 2.0, np.nan, -9.0, 1.5],
        }
    )
    variants = pd.DataFrame(
        {
            "chrom": ["1", "1", "X"],
            "id": ["rs1", "rs2", "rs3"],
            "cM": [0.0, 0.5, 1.25],
            "pos": [100, 200, 3000],
            "A1": ["A", "C", "G"],
            "A2": ["G", "T", "A"],
        }
    )
    prefix = write_plink(tmp_path / "small", dosage, samples=samples, variants=variants)
    return prefix, dosage, samples, variants


# ----------------------------------------------------------------------------- PLINK reading


def test_shapes_and_tables(shared_data, rice):
    assert rice.n_samples == 374 and rice.n_variants == 36901
    human = open_plink(shared_data / HUMAN)
    assert (human.n_samples, human.n_variants) == (1485, 14079)
    s, v = rice.samples, rice.variants
    assert list(s.columns) == ["FID", "IID", "father", "mother", "sex", "phenotype"]
    assert list(v.columns) == ["chrom", "id", "cM", "pos", "A1", "A2"]
    assert s.loc[0, "FID"] == "081215-A05" and s.loc[0, "IID"] == "1"
    assert s["phenotype"].isna().all()  # -9 everywhere
    assert (s["sex"] == 0).all()
    assert v["pos"].dtype == np.int64 and v["cM"].dtype == np.float64
    assert v.loc[0].tolist() == ["1", "id1000001", 0.0, 13147, "C", "T"]
    assert sorted(v["chrom"].unique(), key=int) == [str(i) for i in range(1, 13)]
    assert human.samples["sex"].isin([1, 2]).all()
    assert human.variants.loc[0, "id"] == "rs4970383"


def test_path_forms(shared_data):
    for p in (RICE, RICE + ".bed", RICE + ".bim", RICE + ".fam"):
        g = open_plink(shared_data / p)
        assert g.prefix == shared_data / RICE
        assert isinstance(g, PlinkGenotypes)
    assert PlinkGenotypes(str(shared_data / RICE)).n_variants == 36901


def test_read_matches_independent_decoder_and_missing(rice, rice_full):
    ref = decode_bed(rice.bed_path, rice.n_samples, rice.n_variants)
    assert rice_full.shape == (374, 36901) and rice_full.dtype == np.float32
    np.testing.assert_array_equal(rice_full, ref)  # NaN positions equal too
    n_nan = int(np.isnan(rice_full).sum())
    assert n_nan == 592040  # 4.3 % of 374 x 36,901 (data README)
    i8 = rice.read_int8()
    assert i8.dtype == np.int8 and int((i8 == -127).sum()) == n_nan
    np.testing.assert_array_equal(
        np.where(np.isnan(rice_full), -127, rice_full).astype(np.int8), i8
    )


def test_missing_count_matches_plink(rice, rice_full, plink19, tmp_path):
    subprocess.run(
        [
            plink19,
            "--bfile",
            str(rice.prefix),
            "--missing",
            "--allow-no-sex",
            "--out",
            str(tmp_path / "m"),
        ],
        check=True,
        capture_output=True,
    )
    lmiss = pd.read_csv(tmp_path / "m.lmiss", sep=r"\s+")
    assert lmiss["SNP"].tolist() == rice.variants["id"].tolist()
    np.testing.assert_array_equal(lmiss["N_MISS"].to_numpy(), np.isnan(rice_full).sum(axis=0))


@pytest.mark.parametrize("dataset", [RICE, HUMAN])
def test_a1_counting_matches_plink_recode_a(shared_data, plink19, tmp_path, dataset):
    g = open_plink(shared_data / dataset)
    rng = np.random.default_rng(7)
    cols = np.sort(rng.choice(g.n_variants, size=12, replace=False))
    ids = g.variants["id"].to_numpy()[cols]
    (tmp_path / "snps.txt").write_text("\n".join(ids) + "\n")
    subprocess.run(
        [
            plink19,
            "--bfile",
            str(g.prefix),
            "--extract",
            str(tmp_path / "snps.txt"),
            "--recode",
            "A",
            "--keep-allele-order",
            "--allow-no-sex",
            "--out",
            str(tmp_path / "r"),
        ],
        check=True,
        capture_output=True,
    )
    raw = pd.read_csv(tmp_path / "r.raw", sep=r"\s+", na_values=["NA"])
    names = list(raw.columns[6:])
    # plink names each column SNP_<counted allele>: it must be bim column 5 (A1)
    assert names == [
        f"{i}_{a}" for i, a in zip(ids, g.variants["A1"].to_numpy()[cols], strict=True)
    ]
    assert raw["IID"].astype(str).tolist() == g.samples["IID"].tolist()
    ours = g.read(variant_idx=cols, dtype="float64")
    np.testing.assert_array_equal(ours, raw[names].to_numpy(dtype=np.float64))
    if dataset == RICE:
        assert np.isnan(ours).any()  # the comparison covered missing calls


def test_subset_reads_equal_slices(rice, rice_full):
    rng = np.random.default_rng(0)
    s_idx = rng.choice(374, size=40, replace=False)  # unsorted
    v_idx = np.concatenate([rng.choice(36901, size=25, replace=False), [5, 5]])  # repeats
    np.testing.assert_array_equal(rice.read(s_idx, v_idx), rice_full[np.ix_(s_idx, v_idx)])
    mask_s = np.zeros(374, dtype=bool)
    mask_s[::7] = True
    mask_v = (rice.variants["chrom"] == "7").to_numpy()
    np.testing.assert_array_equal(rice.read(mask_s, mask_v), rice_full[np.ix_(mask_s, mask_v)])
    np.testing.assert_array_equal(rice.read(variant_idx=slice(100, 110)), rice_full[:, 100:110])
    np.testing.assert_array_equal(
        rice.read(s_idx, v_idx, dtype="float64"), rice_full[np.ix_(s_idx, v_idx)].astype(np.float64)
    )
    i8 = rice.read_int8(s_idx, v_idx)
    ref = rice_full[np.ix_(s_idx, v_idx)]
    np.testing.assert_array_equal(i8, np.where(np.isnan(ref), -127, ref).astype(np.int8))
    assert rice.read(s_idx, np.array([], dtype=int)).shape == (40, 0)
    assert rice.read(variant_idx=[3]).shape == (374, 1)
    c = rice.read(s_idx, v_idx, order="C")
    assert c.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(c, ref)


def test_read_argument_errors(rice):
    with pytest.raises(ConfigError, match="outside 0..373"):
        rice.read(sample_idx=[0, 374])
    with pytest.raises(ConfigError, match="length 36901"):
        rice.read(variant_idx=np.ones(10, dtype=bool))
    with pytest.raises(ConfigError, match="float32"):
        rice.read(dtype="int8")
    with pytest.raises(ConfigError, match="integer positions"):
        rice.read(variant_idx=[0.5, 1.5])


def test_context_manager_and_pickle(shared_data):
    import pickle

    with open_plink(shared_data / RICE) as g:
        a = g.read(variant_idx=[0, 1])
    b = pickle.loads(pickle.dumps(g)).read(variant_idx=[0, 1])  # re-opens lazily
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- writing


def test_write_round_trip_real_subset(rice, rice_full, tmp_path, plink19):
    s_idx = np.arange(0, 374, 3)
    v_idx = np.arange(1000, 1600)
    dosage = rice_full[np.ix_(s_idx, v_idx)]
    samples = rice.samples.iloc[s_idx].reset_index(drop=True)
    variants = rice.variants.iloc[v_idx].reset_index(drop=True)
    before = samples.copy()
    out = write_plink(tmp_path / "sub" / "rice_sub", dosage, samples=samples, variants=variants)
    assert out == tmp_path / "sub" / "rice_sub"
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "rice_sub.bed",
        "rice_sub.bim",
        "rice_sub.fam",
    ]  # no temporary files left
    pd.testing.assert_frame_equal(samples, before)  # input not modified
    g = open_plink(out)
    np.testing.assert_array_equal(g.read(), dosage)
    np.testing.assert_array_equal(decode_bed(g.bed_path, *g.shape), dosage)
    pd.testing.assert_frame_equal(g.variants, variants)
    for c in ("FID", "IID", "father", "mother", "sex"):
        assert g.samples[c].tolist() == samples[c].tolist()
    # PLINK reads it and agrees on missingness
    subprocess.run(
        [plink19, "--bfile", str(out), "--missing", "--allow-no-sex", "--out", str(tmp_path / "m")],
        check=True,
        capture_output=True,
    )
    lmiss = pd.read_csv(tmp_path / "m.lmiss", sep=r"\s+")
    np.testing.assert_array_equal(lmiss["N_MISS"], np.isnan(dosage).sum(axis=0))


def test_write_small_defaults_and_int8(small, tmp_path):
    prefix, dosage, samples, variants = small
    g = open_plink(prefix.with_name("small.bed"))
    np.testing.assert_array_equal(g.read(), dosage)
    assert g.samples["phenotype"].iloc[:3].tolist()[:2] == [1.0, 2.0]
    assert np.isnan(g.samples["phenotype"].iloc[2]) and np.isnan(g.samples["phenotype"].iloc[3])
    assert g.samples["phenotype"].iloc[4] == 1.5
    assert g.samples["father"].tolist() == ["0"] * 5
    assert g.variants["chrom"].tolist() == ["1", "1", "X"]
    assert g.variants["cM"].tolist() == [0.0, 0.5, 1.25]
    i8 = np.where(np.isnan(dosage), -127, dosage).astype(np.int8)
    p2 = write_plink(tmp_path / "small_i8", i8, samples=samples[["FID", "IID"]], variants=variants)
    g2 = open_plink(p2)
    np.testing.assert_array_equal(g2.read(), dosage)
    assert (g2.samples["sex"] == 0).all()
    with pytest.raises(InputDataError, match="0, 1, 2 or missing"):
        write_plink(tmp_path / "bad", dosage + 0.5, samples=samples, variants=variants)
    with pytest.raises(InputDataError, match="shape"):
        write_plink(tmp_path / "bad", dosage[:, :2], samples=samples, variants=variants)
    with pytest.raises(InputDataError, match="spaces"):
        write_plink(
            tmp_path / "bad", dosage, samples=samples.assign(IID=["a b", "b", "c", "d", "e"]),
            variants=variants,
        )
    assert not list(tmp_path.glob("bad*"))


# ----------------------------------------------------------------------------- bad filesets


def _copy(prefix: Path, dest: Path) -> Path:
    for s in (".bed", ".bim", ".fam"):
        shutil.copy(f"{prefix}{s}", f"{dest}{s}")
    return dest


def test_missing_file(small, tmp_path):
    prefix = _copy(small[0], tmp_path / "c")
    Path(f"{prefix}.bim").unlink()
    with pytest.raises(InputDataError, match=r"missing .*c\.bim"):
        open_plink(prefix)
    with pytest.raises(InputDataError, match="is a folder"):
        open_plink(tmp_path)


def test_truncated_bed(small, tmp_path):
    prefix = _copy(small[0], tmp_path / "t")
    bed = Path(f"{prefix}.bed")
    data = bed.read_bytes()
    assert len(data) == 3 + 3 * 2  # 3 variants x ceil(5/4) bytes
    bed.write_bytes(data[:-1])
    with pytest.raises(InputDataError, match=r"has 8 bytes.*should have .*= 9 bytes"):
        open_plink(prefix)


def test_bad_magic_and_individual_major(small, tmp_path):
    prefix = _copy(small[0], tmp_path / "m")
    bed = Path(f"{prefix}.bed")
    data = bed.read_bytes()
    bed.write_bytes(b"\x00\x00" + data[2:])
    with pytest.raises(InputDataError, match="magic bytes"):
        open_plink(prefix)
    bed.write_bytes(data[:2] + b"\x00" + data[3:])
    with pytest.raises(InputDataError, match="individual-major"):
        open_plink(prefix)


def test_bad_bim_and_fam(small, tmp_path):
    prefix = _copy(small[0], tmp_path / "b")
    bim, fam = Path(f"{prefix}.bim"), Path(f"{prefix}.fam")
    good_bim, good_fam = bim.read_text(), fam.read_text()
    bim.write_text("\n".join(" ".join(line.split()[:5]) for line in good_bim.splitlines()))
    with pytest.raises(InputDataError, match=r"\.bim file .* has 5 columns; expected 6"):
        open_plink(prefix)
    bim.write_text(good_bim.replace("200", "2x0"))
    with pytest.raises(InputDataError, match="must be an integer.*line 2"):
        open_plink(prefix)
    bim.write_text(good_bim)
    lines = good_fam.splitlines()
    fam.write_text("\n".join([lines[0], lines[1] + " extra", *lines[2:]]) + "\n")
    with pytest.raises(InputDataError, match=r"\.fam file .* different numbers of columns"):
        open_plink(prefix)
    fam.write_text("\n".join([lines[0], " ".join(lines[1].split()[:5]), *lines[2:]]) + "\n")
    with pytest.raises(InputDataError, match="line 2 has fewer than 6"):
        open_plink(prefix)
    fam.write_text("")
    with pytest.raises(InputDataError, match="is empty"):
        open_plink(prefix)
    fam.write_text("\n".join(lines[:4]) + "\n")  # one sample fewer: .bed size disagrees
    with pytest.raises(InputDataError, match="4 samples"):
        open_plink(prefix)


# ----------------------------------------------------------------------------- sample tables


def test_read_rice_phenotypes(shared_data):
    p = read_phenotypes(shared_data / "rice_44k/rice44k.pheno.tsv")
    assert p.shape == (374, 38)
    assert list(p.columns[:3]) == ["FID", "IID", "Flowering_time_at_Arkansas"]
    assert p["IID"].iloc[0] == "1" and p["FID"].iloc[0] == "081215-A05"
    assert p["Pericarp_color"].dtype == np.float64
    assert int(p["Pericarp_color"].notna().sum()) == 354
    assert int((p["Pericarp_color"] == 1).sum()) == 33
    assert p["Flowering_time_at_Arkansas"].iloc[0] == pytest.approx(75.08333333)
    traits = pd.read_csv(shared_data / "rice_44k/rice44k.traits.tsv", sep="\t")
    observed = p[traits["column"]].notna().sum().to_numpy()
    np.testing.assert_array_equal(observed, traits["n_observed"].to_numpy())
    for col in traits.loc[traits["type"] == "binary", "column"]:
        assert is_binary_trait(p[col])
    assert not is_binary_trait(p["Plant_height"])


def test_read_covariates_human(shared_data):
    c = read_covariates(shared_data / f"{HUMAN}.samples.tsv")
    assert c.shape == (1485, 7)
    assert c["superpopulation"].dtype == "str"
    assert set(c["superpopulation"]) == {"AFR", "AMR", "EAS", "EUR", "SAS"}
    assert c["sex"].dtype == np.float64
    assert c["hapmap_fid"].isna().sum() > 0  # NA tokens


def test_sample_table_formats(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text(
        "#fid,iid,score, group ,flag\nF1,I1,1.5,a,1\nF2,I2,NA,b,0\nF3,I3,-9,,-9\nF4,I4,-9.0,nan,1\n"
    )
    t = read_sample_table(f)
    assert list(t.columns) == ["FID", "IID", "score", "group", "flag"]
    assert t["score"].tolist()[0] == 1.5 and np.isnan(t["score"][1]) and np.isnan(t["score"][2])
    assert t["score"][3] == -9.0  # "-9" only as the exact token
    assert t["group"].tolist()[:2] == ["a", "b"] and t["group"].isna().sum() == 2
    assert t["flag"].dtype == np.float64 and np.isnan(t["flag"][2])
    w = tmp_path / "p.txt"
    w.write_text("FID IID y\nA 1 2\nA  2   1\n\n")
    tw = read_sample_table(w)
    assert tw["IID"].tolist() == ["1", "2"] and tw["y"].tolist() == [2.0, 1.0]
    assert tw["FID"].dtype == "str"
    i = tmp_path / "iid.tsv"
    i.write_text("IID\tcovar\nNA\t3\nx2\tNA\n")
    ti = read_sample_table(i, kind="covariate")
    assert ti["FID"].tolist() == ["NA", "x2"] == ti["IID"].tolist()  # IDs never missing
    assert ti.attrs["fid_from_iid"] is True
    assert "FID set to IID" in ti.attrs["notes"][0]
    assert set(MISSING_VALUES) == {"NA", "-9", "", "nan", "NaN"}


def test_sample_table_errors(tmp_path):
    f = tmp_path / "noiid.tsv"
    f.write_text("FID\tsample\ttrait\nA\tB\t1\n")
    with pytest.raises(
        InputDataError,
        match=r"phenotype file .*noiid.tsv has no IID column; "
        r"columns found: FID, sample, trait",
    ):
        read_phenotypes(f)
    e = tmp_path / "empty.tsv"
    e.write_text("\n")
    with pytest.raises(InputDataError, match="is empty"):
        read_covariates(e)
    h = tmp_path / "header.tsv"
    h.write_text("FID\tIID\ty\n")
    with pytest.raises(InputDataError, match="no data rows"):
        read_phenotypes(h)
    r = tmp_path / "ragged.tsv"
    r.write_text("FID\tIID\ty\nA\tB\t1\nC\tD\t1\t5\n")
    with pytest.raises(InputDataError, match="different numbers of fields"):
        read_phenotypes(r)
    d = tmp_path / "dupcol.tsv"
    d.write_text("FID\tIID\ty\ty\nA\tB\t1\t2\n")
    with pytest.raises(InputDataError, match="duplicated column names"):
        read_phenotypes(d)
    with pytest.raises(InputDataError, match="not found"):
        read_phenotypes(tmp_path / "nope.tsv")


# ----------------------------------------------------------------------------- binary coding


def test_coerce_binary_01():
    s = pd.Series([0, 1, np.nan, 1, 0, -9], index=list("abcdef"), name="t", dtype="float64")
    y, info = coerce_binary(s, name="t")
    assert info.coding == "0/1"
    assert (info.n_cases, info.n_controls, info.n_missing) == (2, 2, 2)
    assert y.index.tolist() == list("abcdef") and y.name == "t"
    np.testing.assert_array_equal(y.to_numpy(), [0, 1, np.nan, 1, 0, np.nan])
    assert info.message == (
        "Trait 't' read as 0/1 coding (0 = control, 1 = case): 2 cases, 2 controls, 2 missing."
    )
    assert s.tolist()[-1] == -9  # input unchanged


def test_coerce_binary_12_and_missing_codes():
    s = pd.Series([1, 2, 2, -9, np.nan, 1])
    y, info = coerce_binary(s, name="als")
    assert info.coding == "1/2"
    np.testing.assert_array_equal(y.to_numpy(), [0, 1, 1, np.nan, np.nan, 0])
    assert (info.n_cases, info.n_controls, info.n_missing) == (2, 2, 2)
    # PLINK 1/2 coding: 0 is missing too (explicit coding)
    s0 = pd.Series([1, 2, 0, -9, 2])
    y0, info0 = coerce_binary(s0, name="als", coding="1/2")
    np.testing.assert_array_equal(y0.to_numpy(), [0, 1, np.nan, np.nan, 1])
    assert (info0.n_cases, info0.n_controls, info0.n_missing) == (2, 1, 2)
    assert "0 and -9 = missing" in info0.message
    # text values as read from a file
    y2, info2 = coerce_binary(pd.Series(["2", "1", "NA", "-9", "2"]), name="x")
    assert info2.coding == "1/2" and y2.tolist()[:2] == [1.0, 0.0] and info2.n_missing == 2


def test_coerce_binary_errors():
    with pytest.raises(InputDataError, match=r"not a binary.*\{0, 1, 2\}.*coding '1/2'"):
        coerce_binary(pd.Series([0, 1, 2, 1]), name="g")
    with pytest.raises(InputDataError, match=r"'h'.*not a binary.*quantitative"):
        coerce_binary(pd.Series([1.5, 2.7, 3.1]), name="h")
    with pytest.raises(InputDataError, match="every non-missing value is 1"):
        coerce_binary(pd.Series([1, 1, np.nan]), name="c")
    y, info = coerce_binary(pd.Series([1, 1, np.nan]), name="c", coding="1/2")
    assert info.n_controls == 2
    with pytest.raises(InputDataError, match="no non-missing"):
        coerce_binary(pd.Series([np.nan, -9]), name="e")
    with pytest.raises(InputDataError, match="not numeric.*'case'"):
        coerce_binary(pd.Series(["case", "control"]), name="s")
    with pytest.raises(InputDataError, match=r"values \{2\} that the 0/1 coding"):
        coerce_binary(pd.Series([0, 1, 2]), name="s", coding="0/1")
    with pytest.raises(ConfigError, match="coding must be"):
        coerce_binary(pd.Series([0, 1]), name="s", coding="yes/no")
    assert is_binary_trait([0, 1, np.nan]) and is_binary_trait(pd.Series([2, 1, -9]))
    assert not is_binary_trait([0, 1, 2]) and not is_binary_trait(["a", "b"])
    assert not is_binary_trait([np.nan, np.nan])


# ----------------------------------------------------------------------------- gene tables


def test_read_shared_hg19_gene_table(shared_data):
    g = read_gene_table(shared_data / "gene_tables/glist_hg19.tsv")
    assert g.shape == (26292, 4)
    assert list(g.columns) == ["gene", "chrom", "start", "end"]
    assert g["start"].dtype == np.int64 and g["end"].dtype == np.int64
    assert g.iloc[0].tolist() == ["DDX11L1", "1", 11873, 14409]
    assert list(pd.unique(g["chrom"])) == [str(i) for i in range(1, 23)] + ["X", "Y", "XY"]
    assert (g["start"] <= g["end"]).all()
    assert (g.groupby("chrom", sort=False)["start"].diff().dropna() >= 0).all()
    assert int(g["gene"].duplicated().sum()) > 0  # symbols may repeat (PAR genes)
    raw = pd.read_csv(
        shared_data / "gene_tables/glist_hg19.tsv", sep="\t", dtype={"chromosome": str}
    )
    merged = g.merge(
        raw,
        left_on=["gene", "chrom", "start", "end"],
        right_on=["gene", "chromosome", "start", "end"],
    )
    assert len(merged) == 26292
    fbxo2 = g[g["gene"] == "FBXO2"]
    assert fbxo2[["chrom"]].iloc[0, 0] == "1" and 11_700_000 < fbxo2["start"].iloc[0] < 11_720_000


def test_read_glist_headerless_and_synonyms(tmp_path):
    f = tmp_path / "glist-test"
    f.write_text(
        "chr2 500 900 GENEC\nchr1 300 400 GENEB\n1 100 200 GENEA\nchrX 5 10 GX\nchr10 1 2 G10\n"
    )
    g = read_gene_table(f)
    assert g["gene"].tolist() == ["GENEA", "GENEB", "GENEC", "G10", "GX"]
    assert g["chrom"].tolist() == ["1", "1", "2", "10", "X"]
    assert g["start"].tolist() == [100, 300, 500, 1, 5]
    c = tmp_path / "genes.csv"
    c.write_text("Symbol,Chr,Start,End,strand\nA,chr3,10,20,+\nB,chrM,1,5,-\n")
    gc = read_gene_table(c)
    assert list(gc.columns) == ["gene", "chrom", "start", "end", "strand"]
    assert gc["chrom"].tolist() == ["3", "MT"] and gc["strand"].tolist() == ["+", "-"]


def test_gene_table_errors(tmp_path):
    f = tmp_path / "bad.tsv"
    f.write_text("gene\tchrom\tstart\tend\nA\t1\t200\t100\n")
    with pytest.raises(InputDataError, match="start > end.*line 2"):
        read_gene_table(f)
    f.write_text("gene\tchrom\tstart\tend\nA\t1\t2.5\t100\n")
    with pytest.raises(InputDataError, match="integer"):
        read_gene_table(f)
    f.write_text("name\tposition\nA\t1\n")
    with pytest.raises(InputDataError, match="could not recognise the columns"):
        read_gene_table(f)


# ----------------------------------------------------------------------------- ID reconciliation


def test_reconcile_ids_hand_made():
    geno = pd.DataFrame({"FID": ["f1", "f1", "f2", "f3", "f3"], "IID": ["a", "b", "c", "d", "d"]})
    table = pd.DataFrame(
        {"FID": ["f1", "f2", "f2", "f9", "f1", "x"], "IID": ["a", "c", "c", "z", "b", "d"]}
    )
    r = reconcile_ids(geno, table)
    assert (r.n_genotyped, r.n_phenotyped, r.n_both) == (5, 6, 3)
    assert r.only_in_genotypes.to_dict("list") == {"FID": ["f3"], "IID": ["d"]}
    assert r.only_in_phenotypes.to_dict("list") == {"FID": ["f9", "x"], "IID": ["z", "d"]}
    assert r.duplicated_in_genotypes.to_dict("list") == {"FID": ["f3"], "IID": ["d"], "n_rows": [2]}
    assert r.duplicated_in_phenotypes.to_dict("list") == {
        "FID": ["f2"],
        "IID": ["c"],
        "n_rows": [2],
    }
    summ = r.summary()
    assert summ.index.tolist() == [
        "samples in genotypes",
        "in phenotype table",
        "in both",
        "only in genotypes",
        "only in phenotypes",
        "duplicate IDs in genotypes",
        "duplicate IDs in phenotypes",
    ]
    assert summ["n"].tolist() == [5, 6, 3, 1, 2, 1, 1]
    msgs = r.messages()
    assert len(msgs) == 4
    assert any("f9/z" in m and "ignored" in m for m in msgs)
    # on IID alone, "x/d" matches "f3/d"
    r2 = reconcile_ids(geno, table, on="IID")
    assert r2.n_both == 4 and r2.only_in_genotypes.empty


def test_reconcile_ids_fid_mismatch_hint():
    geno = pd.DataFrame({"FID": ["fam1", "fam2"], "IID": ["1", "2"]})
    table = pd.DataFrame({"FID": ["1", "2"], "IID": ["1", "2"]})
    r = reconcile_ids(geno, table)
    assert r.n_both == 0 and r.n_iid_matches == 2
    assert "2 samples match on IID alone" in r.messages()[0]
    assert reconcile_ids(geno, geno).messages() == []
    with pytest.raises(InputDataError, match="no IID"):
        reconcile_ids(geno, pd.DataFrame({"FID": ["a"]}))
    with pytest.raises(ConfigError):
        reconcile_ids(geno, table, on="sample")


# ----------------------------------------------------------------------------- sanity checks


def _variants(chrom, pos, ids=None):
    n = len(pos)
    return pd.DataFrame({"chrom": chrom if isinstance(chrom, list) else [chrom] * n,
                         "id": ids or [f"rs{i}" for i in range(n)], "cM": 0.0, "pos": pos,
                         "A1": "A", "A2": "G"})


def test_check_positions_hand_made():
    assert check_positions(_variants("1", [1000, 5000, 9000]), build="GRCh37") == []
    w = check_positions(_variants("1", [0, 0, 0]))
    assert len(w) == 1 and w[0].startswith("All 3 variants have base-pair position 0")
    w = check_positions(_variants("1", [0, 15000, 17000, 20000]))
    assert len(w) == 1 and "1 of 4 variants have base-pair position 0 " in w[0] and "rs0" in w[0]
    w = check_positions(_variants("1", [-5, 15000, 17000]))
    assert len(w) == 1 and "negative" in w[0] and "rs0" in w[0]
    w = check_positions(_variants(["0", "1", "1"], [12, 15000, 17000]))
    assert len(w) == 1 and "1 of 3 variants are on chromosome 0" in w[0]
    # marker indices: 1..n on every chromosome
    w = check_positions(_variants(["1", "1", "1", "2", "2"], [1, 2, 3, 2, 1]))
    assert len(w) == 1 and "look like marker indices" in w[0]
    assert "chromosome 1: largest position 3 for 3 variants" in w[0]
    # beyond the chromosome end: only with a human build; PLINK 23 = X
    far = _variants(["1", "23"], [249_000_000, 156_000_000])
    assert check_positions(far) == []
    w = check_positions(far, build="hg38")
    assert len(w) == 1 and "1 variant(s) lie beyond the end of their chromosome in GRCh38" in w[0]
    w = check_positions(far, build="GRCh37")
    assert len(w) == 1 and "chrX:156,000,000 > 155,270,560" in w[0] and "They fit GRCh38" in w[0]
    assert check_positions(_variants("1", [])) == []
    with pytest.raises(ConfigError, match="build"):
        check_positions(far, build="mm10")
    with pytest.raises(InputDataError, match="no pos column"):
        check_positions(pd.DataFrame({"chrom": ["1"]}))


def test_check_positions_on_shared_data(shared_data):
    """Mice (bp = marker index) and wheat (chr 0) give warnings, not errors; real maps are quiet."""
    from genoapp.features import check_build

    mice = read_bim(shared_data / "bglr_mice/mice.bim")
    w = check_positions(mice)
    assert len(w) == 1 and "look like marker indices" in w[0] and "genetic map" in w[0]
    assert check_build(mice, build="GRCh37") == []  # no crash; bp 1..n fit any chromosome
    wheat = read_bim(shared_data / "bglr_wheat/wheat.bim")
    w = check_positions(wheat)
    assert len(w) == 2
    assert w[0].startswith("All 1,279 variants are on chromosome 0") and "marker indices" in w[1]
    assert check_build(wheat, build="GRCh37") == w[:1]  # the build cannot be checked: say why
    assert check_positions(read_bim(shared_data / f"{HUMAN}.bim"), build="GRCh37") == []
    assert check_positions(read_bim(shared_data / f"{RICE}.bim")) == []


def test_duplicate_variant_ids_hand_made():
    v = pd.DataFrame({"chrom": ["1", "1", "1", "2", "1", "3", "3"],
                      "id": ["rs1", "rs2", "rs1", "rs3", "rs1", ".", "."],
                      "pos": [100, 200, 100, 50, 300, 7, 9],
                      "A1": ["A", "C", "G", "T", "A", "A", "A"],
                      "A2": ["G", "T", "A", "C", "G", "C", "C"]})
    before = v.copy()
    r = duplicate_variant_ids(v)
    assert r["id"].tolist() == ["rs1", "."]
    assert r["n_rows"].tolist() == [3, 2] and r["rows"].tolist() == [(0, 2, 4), (5, 6)]
    assert r["same_variant"].tolist() == [False, False]  # rs1 line 5 is at another position
    assert r.attrs == {"n_variants": 7, "n_duplicated_ids": 2, "n_extra_rows": 3}
    msg = duplicate_variant_ids_message(r)
    assert msg.startswith("2 variant IDs occur more than once in the .bim (5 lines;")
    assert "rs1 (lines 1, 3, 5)" in msg and "'.'" in msg and "--rm-dup" in msg
    # keep the first line of each ID
    out, rows = deduplicate_variant_ids(v, how="keep_first")
    assert rows.tolist() == [0, 1, 3, 5] and out["id"].tolist() == ["rs1", "rs2", "rs3", "."]
    # rename later lines
    out, rows = deduplicate_variant_ids(v, how="rename")
    assert rows.tolist() == list(range(7))
    assert out["id"].tolist() == ["rs1", "rs2", "rs1_2", "rs3", "rs1_3", ".", "._2"]
    assert out.attrs["renamed"] == 3 and not out["id"].duplicated().any()
    # auto: line 3 repeats line 1 (same position, alleles swapped) -> dropped; line 5 renamed
    out, rows = deduplicate_variant_ids(v, how="auto")
    assert rows.tolist() == [0, 1, 3, 4, 5, 6]
    assert out["id"].tolist() == ["rs1", "rs2", "rs3", "rs1_2", ".", "._2"]
    assert out.attrs["dropped"] == 1 and out.attrs["renamed"] == 2
    pd.testing.assert_frame_equal(v, before)  # input not modified
    # a suffix already taken gets another one
    taken = pd.DataFrame({"id": ["a", "a_2", "a"]})
    assert deduplicate_variant_ids(taken, how="rename")[0]["id"].tolist() == ["a", "a_2", "a_2_2"]
    assert duplicate_variant_ids_message(duplicate_variant_ids(v.iloc[:2])) is None
    with pytest.raises(ConfigError, match="keep_first"):
        deduplicate_variant_ids(v, how="drop")


def test_duplicate_variant_ids_shared_data(shared_data):
    for dataset in (RICE, HUMAN, "bglr_mice/mice", "bglr_wheat/wheat"):
        bim = read_bim(shared_data / f"{dataset}.bim")
        r = duplicate_variant_ids(bim)
        assert r.empty and r.attrs["n_duplicated_ids"] == 0
        out, rows = deduplicate_variant_ids(bim)
        assert rows.size == len(bim) and out["id"].tolist() == bim["id"].tolist()
    # a real fileset with a duplicated ID: found, and the genotype columns stay aligned
    g = open_plink(shared_data / RICE)
    v = g.variants.copy()
    v.loc[10, "id"] = v.loc[3, "id"]
    r = duplicate_variant_ids(v)
    assert r["rows"].tolist() == [(3, 10)]
    out, rows = deduplicate_variant_ids(v, how="keep_first")
    assert len(out) == len(v) - 1 and g.read(variant_idx=rows[:12]).shape == (374, 12)


def test_phenotype_file_without_header(tmp_path):
    f = tmp_path / "nohead.tsv"
    f.write_text("1\t1\t0.5\n2\t2\t0.7\n")
    with pytest.raises(InputDataError, match=r"seems to have no header line.*`FID IID trait\.\.\.`"):
        read_phenotypes(f)
    g = tmp_path / "nohead_ids.txt"  # alphanumeric IDs, numeric trait values
    g.write_text("HG00096 HG00096 1\nHG00097 HG00097 0\n")
    with pytest.raises(InputDataError, match="no header line"):
        read_phenotypes(g)
    one = tmp_path / "one_row.tsv"
    one.write_text("HG00096\tHG00096\t1\n")
    with pytest.raises(InputDataError, match="no header line"):
        read_phenotypes(one)
    h = tmp_path / "named.tsv"  # a real header without IID keeps the old message
    h.write_text("FID\tsample\ttrait\nA\tB\t1\n")
    with pytest.raises(InputDataError, match="has no IID column"):
        read_phenotypes(h)


def test_all_missing_trait_names_the_cause(tmp_path):
    f = tmp_path / "p.tsv"
    f.write_text("FID\tIID\tempty\ty\nA\t1\tNA\t1\nA\t2\t-9\t0\nA\t3\t\t1\n")
    t = read_phenotypes(f)
    notes = [n for n in t.attrs["notes"] if "empty" in n]
    assert len(notes) == 1 and "has no value: all 3 rows are missing" in notes[0]
    assert all_missing_messages(t, where=f"phenotype file {f}") == notes
    assert all_missing_messages(t, columns=["y"]) == []
    merged = all_missing_messages(t, columns=["empty"], merged=True)
    assert "genotyped samples" in merged[0] and "ID reconciliation" in merged[0]
    with pytest.raises(InputDataError, match="no non-missing value.*ID reconciliation"):
        coerce_binary(t["empty"], name="empty")
    with pytest.raises(InputDataError, match="no non-missing value"):  # coding given: same
        coerce_binary(t["empty"], name="empty", coding="0/1")
    assert not is_binary_trait(t["empty"])
