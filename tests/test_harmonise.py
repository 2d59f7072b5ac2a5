"""Harmonisation of new individuals' genotypes to a saved model's variants (issue 17, item 4).

The demo cohort (1,485 samples x 14,079 SNPs) plays the training cohort; a "new" fileset is
written from it with A1/A2 swapped, strand-flipped, strand-ambiguous, renamed, moved (another
build), dropped and allele-mismatched variants, in shuffled order. Every recoverable dosage must
come back exactly, and every count of the report must be right.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from genoapp.demo import DEMO_BED
from genoapp.errors import ConfigError
from genoapp.io import open_plink, write_plink
from genoapp.runs import MatchReport, align_genotypes, match_variants
from genoapp.runs.projection import harmonise_variants

COMP = {"A": "T", "T": "A", "C": "G", "G": "C"}


@pytest.fixture(scope="module")
def demo():
    g = open_plink(DEMO_BED)
    v = g.variants.loc[:, ["chrom", "id", "cM", "pos", "A1", "A2"]].copy()
    for c in ("chrom", "id", "A1", "A2"):
        v[c] = v[c].astype(str)
    return {"variants": v, "G": g.read(dtype="float32"), "samples": g.samples}


@pytest.fixture(scope="module")
def modified(demo, tmp_path_factory):
    """The demo fileset rewritten as a "new" cohort's file, and what was done to each variant."""
    v, G = demo["variants"], demo["G"]
    m = len(v)
    rng = np.random.default_rng(17)
    pairs = set(zip(v["A1"], v["A2"], strict=True))
    assert pairs <= {(a, b) for a in "ACGT" for b in "ACGT" if a != b}  # biallelic SNPs only
    amb = np.array([{a, b} in ({"A", "T"}, {"C", "G"}) for a, b in zip(v["A1"], v["A2"], strict=True)])
    amb_idx, plain_idx = rng.permutation(np.flatnonzero(amb)), rng.permutation(np.flatnonzero(~amb))
    groups = {  # disjoint groups of saved variants
        "swap": plain_idx[:300], "flip": plain_idx[300:500], "flipswap": plain_idx[500:600],
        "moved": plain_idx[600:700], "moved_swap": plain_idx[700:750], "drop": plain_idx[750:900],
        "mismatch": plain_idx[900:950], "amb_swap": amb_idx[:50], "amb_comp": amb_idx[50:80],
        "amb_drop": amb_idx[80:100],
    }
    # renamed IDs (only chrom:pos:alleles can find them), overlapping the allele groups
    rename = rng.choice(np.setdiff1d(np.arange(m), np.concatenate(
        [groups["moved"], groups["moved_swap"]])), size=400, replace=False)
    nv, nG = v.copy(), G.copy()
    a1, a2 = nv["A1"].to_numpy().copy(), nv["A2"].to_numpy().copy()
    for key in ("swap", "flipswap", "amb_swap", "moved_swap"):  # the new file counts the other allele
        i = groups[key]
        a1[i], a2[i] = a2[i].copy(), a1[i].copy()
        nG[:, i] = 2.0 - nG[:, i]
    for key in ("flip", "flipswap", "amb_comp"):  # reported on the other strand
        i = groups[key]
        a1[i] = [COMP[a] for a in a1[i]]
        a2[i] = [COMP[a] for a in a2[i]]
    mis = groups["mismatch"]
    a2[mis] = [a + "T" for a in a2[mis]]  # another allele (an indel), not a strand or a swap
    nv["A1"], nv["A2"] = a1, a2
    moved = np.concatenate([groups["moved"], groups["moved_swap"]])
    nv.loc[moved, "pos"] = nv.loc[moved, "pos"] + 7  # another build: only the ID matches
    keys = set(zip(v["chrom"], v["pos"], strict=True))
    assert not keys & set(zip(nv.loc[moved, "chrom"], nv.loc[moved, "pos"], strict=True))
    nv.loc[rename, "id"] = [f"new_{i}" for i in rename]
    keep = np.ones(m, dtype=bool)
    keep[groups["drop"]] = keep[groups["amb_drop"]] = False
    # split multi-allelic records at the position of some swapped variants, written before them
    multi = groups["swap"][:20]
    extra_v = v.iloc[multi].assign(id=[f"multi_{i}" for i in multi], A2=v["A1"].iloc[multi].to_numpy(),
                                   A1=[COMP[a] + "G" for a in v["A2"].iloc[multi]])
    # and variants the run does not have
    extra_v = pd.concat([extra_v, pd.DataFrame({"chrom": "1", "id": ["x1", "x2"], "cM": 0.0,
                                                "pos": [5, 6], "A1": "A", "A2": "C"})], ignore_index=True)
    extra_G = np.zeros((len(G), len(extra_v)), dtype=np.float32)
    order = rng.permutation(np.flatnonzero(keep))
    out_v = pd.concat([extra_v, nv.iloc[order]], ignore_index=True)
    out_G = np.column_stack([extra_G, nG[:, order]])
    prefix = write_plink(tmp_path_factory.mktemp("harmonise") / "new", out_G,
                         samples=demo["samples"], variants=out_v)
    return {"prefix": prefix, "groups": groups, "ambiguous": amb, "rename": rename,
            "variants": out_v, "G": out_G}


def _expected_counts(groups, amb):
    n_amb = int(amb.sum()) - len(groups["amb_drop"])
    n_absent = len(groups["drop"]) + len(groups["amb_drop"])
    n_mismatch = len(groups["mismatch"])
    n_flipped = sum(len(groups[k]) for k in ("swap", "flipswap", "moved_swap", "amb_swap", "amb_comp"))
    return n_amb, n_absent, n_mismatch, n_flipped


def test_demo_has_the_strand_ambiguous_snps_counted_from_its_bim():
    bim = pd.read_csv(f"{DEMO_BED}.bim", sep=r"\s+", header=None, dtype=str)
    pair = bim[4] + bim[5]
    assert len(bim) == 14_079
    assert int(pair.isin(["AT", "TA", "CG", "GC"]).sum()) == 1_015


def test_align_recovers_swapped_flipped_moved_and_renamed_variants(demo, modified):
    v, G = demo["variants"], demo["G"]
    groups, amb = modified["groups"], modified["ambiguous"]
    aligned, rep = align_genotypes(modified["prefix"], v)
    m, n = len(v), len(G)
    n_amb, n_absent, n_mismatch, n_flipped = _expected_counts(groups, amb)
    missing = np.concatenate([groups["drop"], groups["amb_drop"], groups["mismatch"]])
    amb_comp = groups["amb_comp"]
    good = np.setdiff1d(np.arange(m), np.concatenate([missing, amb_comp]))
    np.testing.assert_array_equal(aligned[:, good], G[:, good])  # NaN where the call is missing
    assert np.isnan(aligned[:, missing]).all()
    # A/T or C/G SNPs reported on the other strand look swapped: taken at face value (2 - d)
    np.testing.assert_array_equal(aligned[:, amb_comp], 2.0 - G[:, amb_comp])
    n_moved = len(groups["moved"]) + len(groups["moved_swap"])
    n_used = m - n_absent - n_mismatch
    n_renamed = len(np.setdiff1d(modified["rename"], missing))
    missing_calls = int(np.isnan(G[:, np.setdiff1d(np.arange(m), missing)]).sum())
    assert rep.as_dict() == {
        "n_expected": m, "n_matched": n_used, "n_flipped": n_flipped, "n_missing": n_absent,
        "n_allele_mismatch": n_mismatch, "matched_by": "chrom:pos+id",
        "n_by_position": n_used - n_moved, "n_by_id": n_moved, "n_other_id": n_renamed,
        "n_strand_flipped": len(groups["flip"]) + len(groups["flipswap"]),
        "n_ambiguous": n_amb, "n_ambiguous_dropped": 0, "ambiguous": "keep",
        "n_imputed_variants": n_absent + n_mismatch, "n_samples": n,
        "n_missing_calls": missing_calls,
        "n_imputed_genotypes": n * (n_absent + n_mismatch) + missing_calls,
    }
    assert (n_amb, n_absent, n_mismatch, n_flipped) == (995, 170, 50, 530)
    assert rep.n_imputed_genotypes == int(np.isnan(aligned).sum())
    text = " ".join(rep.lines())
    assert (f"{n_used:,} of 14,079 variants matched: {n_used - n_moved:,} by chrom:pos:alleles "
            f"({n_renamed:,} of them under another variant ID) and 150 by variant ID") in text
    assert "530 with A1/A2 swapped (dosage 2 - d)" in text and "300 strand-flipped" in text
    assert "995 strand-ambiguous A/T or C/G SNPs kept as labelled" in text
    assert "ambiguous='drop'" in text  # advised: this file has strand-flipped variants
    assert "50 found with other alleles" in text and "170 absent, imputed with the training means" in text
    assert f"({100 * rep.fraction_imputed:.1f} % of 1,485 individuals x 14,079 variants" in text


def test_per_variant_status_and_key(demo, modified):
    v, groups, amb = demo["variants"], modified["groups"], modified["ambiguous"]
    res = harmonise_variants(v, modified["variants"])
    status = pd.Series(res.status)
    expect = pd.Series("same", index=range(len(v)), dtype=object)
    expect[amb] = "ambiguous"
    for key, label in (("swap", "swapped"), ("moved_swap", "swapped"), ("flip", "strand_flipped"),
                       ("flipswap", "strand_flipped_swapped"), ("amb_swap", "ambiguous_swapped"),
                       ("amb_comp", "ambiguous_swapped"), ("drop", "absent"), ("amb_drop", "absent"),
                       ("mismatch", "allele_mismatch")):
        expect[groups[key]] = label
    pd.testing.assert_series_equal(status, expect.astype(str), check_names=False)
    moved = np.concatenate([groups["moved"], groups["moved_swap"]])
    assert set(res.matched_by[moved]) == {"id"}
    renamed = np.setdiff1d(modified["rename"], np.concatenate([groups["drop"], groups["amb_drop"],
                                                               groups["mismatch"]]))
    assert set(res.matched_by[renamed]) == {"chrom:pos:alleles"}
    # the split multi-allelic record written first at the same position is not taken
    multi = groups["swap"][:20]
    new_ids = modified["variants"]["id"].to_numpy()[res.index[multi]]
    assert (res.index[multi] >= 0).all() and not any(s.startswith("multi_") for s in new_ids)
    table = res.table(v)
    assert list(table.columns[-4:]) == ["new_index", "status", "flip", "matched_by"]
    idx, flip, rep = match_variants(v, modified["variants"])
    np.testing.assert_array_equal(idx, res.index)
    np.testing.assert_array_equal(flip, res.flip)
    assert rep == res.report


def test_ambiguous_drop_imputes_every_a_t_and_c_g_snp(demo, modified):
    v, G = demo["variants"], demo["G"]
    groups, amb = modified["groups"], modified["ambiguous"]
    aligned, rep = align_genotypes(modified["prefix"], v, ambiguous="drop")
    n_amb, n_absent, n_mismatch, n_flipped = _expected_counts(groups, amb)
    assert np.isnan(aligned[:, amb]).all()
    missing = np.concatenate([groups["drop"], groups["mismatch"]])
    good = np.setdiff1d(np.flatnonzero(~amb), missing)
    np.testing.assert_array_equal(aligned[:, good], G[:, good])
    assert np.isnan(aligned[:, missing]).all()
    n_imputed = n_absent + n_mismatch + n_amb
    assert (rep.n_matched, rep.n_ambiguous, rep.n_ambiguous_dropped, rep.ambiguous) == (
        len(v) - n_imputed, n_amb, n_amb, "drop")
    assert rep.n_flipped == n_flipped - len(groups["amb_swap"]) - len(groups["amb_comp"])
    assert rep.n_missing == n_absent and rep.n_allele_mismatch == n_mismatch
    assert rep.n_imputed_variants == n_imputed
    assert rep.n_imputed_genotypes == int(np.isnan(aligned).sum())
    assert "995 strand-ambiguous A/T or C/G SNPs dropped" in " ".join(rep.lines())
    with pytest.raises(ConfigError, match="ambiguous"):
        match_variants(v, modified["variants"], ambiguous="flip")


def test_the_training_file_itself_matches_every_variant(demo):
    aligned, rep = align_genotypes(DEMO_BED, demo["variants"], sample_idx=np.arange(50))
    np.testing.assert_array_equal(aligned, demo["G"][:50])
    # IDs and chrom:pos:alleles agree: "id" for older readers (the Runs page says "found by id")
    assert (rep.matched_by, rep.n_by_position, rep.n_by_id, rep.n_other_id) == ("id", 14_079, 0, 0)
    assert (rep.n_flipped, rep.n_strand_flipped, rep.n_ambiguous, rep.n_imputed_variants) == (
        0, 0, 1_015, 0)
    assert rep.lines()[0] == "14,079 of 14,079 variants matched by chrom:pos:alleles."
    assert rep.lines()[1].startswith("1,015 strand-ambiguous A/T or C/G SNPs kept as labelled")
    assert "consider dropping" not in " ".join(rep.lines())


def test_match_report_reads_old_dicts_and_says_what_it_did():
    old = {"n_expected": 10, "n_matched": 8, "n_flipped": 1, "n_missing": 2,
           "n_allele_mismatch": 0, "matched_by": "id"}
    rep = MatchReport.from_dict(old)
    assert rep.n_imputed_variants == 2 and rep.ambiguous == "keep" and rep.n_samples == 0
    assert rep.lines() == ["8 of 10 variants matched by variant ID.",
                           "1 with A1/A2 swapped (dosage 2 - d).",
                           "2 absent, imputed with the training means."]
    assert MatchReport.from_dict({**rep.as_dict(), "future_field": 1}) == rep


def test_chromosome_codes_and_case_are_normalised():
    saved = pd.DataFrame({"chrom": ["1", "23", "X"], "id": ".", "pos": [10, 20, 30],
                          "A1": ["A", "C", "G"], "A2": ["G", "T", "T"]})
    new = pd.DataFrame({"chrom": ["chr1", "X", "chrX"], "id": ".", "pos": [10, 20, 30],
                        "A1": ["t", "a", "C"], "A2": ["c", "G", "A"]})
    res = harmonise_variants(saved, new)
    assert res.index.tolist() == [0, 1, 2]
    assert res.status.tolist() == ["strand_flipped", "strand_flipped_swapped", "strand_flipped"]
    assert res.flip.tolist() == [False, True, False]


def test_align_from_a_vcf_written_by_plink2(demo, modified, plink2, tmp_path):
    v, G = demo["variants"], demo["G"]
    groups = modified["groups"]
    rows = np.arange(300)  # a smaller VCF: the first 300 individuals
    nv = modified["variants"]
    srt = np.lexsort((nv["pos"].to_numpy(), nv["chrom"].astype(int).to_numpy()))  # VCF: sorted
    src = write_plink(tmp_path / "small", modified["G"][np.ix_(rows, srt)],
                      samples=demo["samples"].iloc[rows], variants=nv.iloc[srt])
    out = tmp_path / "small_vcf"
    subprocess.run([plink2, "--bfile", str(src), "--export", "vcf", "bgz", "id-paste=iid",
                    "--out", str(out), "--threads", "2", "--memory", "2000"],
                   check=True, capture_output=True)
    aligned, rep = align_genotypes(f"{out}.vcf.gz", v)  # A1 = ALT, as the .bim's A1
    ref, ref_rep = align_genotypes(src, v)
    np.testing.assert_array_equal(aligned, ref)
    assert rep == ref_rep and rep.n_samples == 300
    missing = np.concatenate([groups["drop"], groups["amb_drop"], groups["mismatch"]])
    good = np.setdiff1d(np.arange(len(v)), np.concatenate([missing, groups["amb_comp"]]))
    np.testing.assert_array_equal(aligned[:, good], G[np.ix_(rows, good)])
    assert rep.n_ambiguous == 995 and rep.n_strand_flipped == 300 and rep.n_missing == 170
