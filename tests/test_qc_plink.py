"""PLINK 1.9 parity of genoapp.qc on real data (1000 Genomes/HapMap3 and rice 44K).

Every number is compared with what ``plink1.9`` prints, to its printed precision (4 significant
digits; PLINK's own single-precision logistic regression gets a slightly looser bound), and every
kept sample/variant set must be identical: ``--hardy midp`` (ALL/AFF/UNAFF), ``--test-missing
midp``, ``--assoc``, ``--logistic`` with covariates, ``--linear`` with covariates, and the QC
funnel ``--autosome --mind --geno --hwe (midp, include-nonctrl) --maf`` on the packed .bed path
and on dense matrices, plus stratified QC against per-stratum PLINK runs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoapp.io import open_plink
from genoapp.qc import (
    QCConfig,
    allelic_test_bed,
    fisher_exact_2x2,
    hwe_exact,
    linear_association,
    logistic_association,
    run_qc,
    run_qc_bed,
    scan_bed,
)
from genoapp.qc.counts import HET, HOM_A1, HOM_A2, MISSING

HUMAN = "human_1kg_hapmap3/human_1kg_hapmap3"
RICE = "rice_44k/rice44k"
REPO = Path(__file__).resolve().parents[1]
DEMO_PHENO = REPO / "assets" / "demo" / "demo.pheno.tsv"


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------
def plink(exe: str, bfile: Path, out: Path, *args: str) -> str:
    cmd = [exe, "--bfile", str(bfile), "--allow-no-sex", "--keep-allele-order", "--threads", "1",
           *args, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Path(f"{out}.log").read_text()


def table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=r"\s+", dtype={"SNP": str, "IID": str, "FID": str, "CHR": str},
                       na_values=["NA"])


def assert_printed(ours, printed, *, sig: int = 4, slack: float = 1.0, atol: float = 0.0,
                   what: str = "") -> None:
    """``ours`` rounds to PLINK's printed value: |ours - printed| <= slack * half a unit in the
    last printed digit (plus a hair for values that sit exactly on a rounding boundary)."""
    ours = np.asarray(ours, dtype=np.float64)
    printed = np.asarray(printed, dtype=np.float64)
    assert ours.shape == printed.shape
    both_nan = np.isnan(ours) & np.isnan(printed)
    ok = ~both_nan
    assert not np.isnan(ours[ok]).any(), f"{what}: genoapp NaN where PLINK has a value"
    assert not np.isnan(printed[ok]).any(), f"{what}: PLINK NA where genoapp has a value"
    mag = np.abs(printed[ok])
    exp10 = np.floor(np.log10(np.where(mag > 0, mag, 1.0)))
    half_unit = 0.5 * 10.0 ** (exp10 - (sig - 1))
    diff = np.abs(ours[ok] - printed[ok])
    bad = diff > slack * half_unit * (1 + 1e-9) + atol + 1e-300
    assert not bad.any(), (
        f"{what}: {int(bad.sum())} of {ok.sum()} values differ beyond printed precision, e.g. "
        f"ours {ours[ok][bad][:3]} vs PLINK {printed[ok][bad][:3]}"
    )


@pytest.fixture(scope="module")
def human(shared_data):
    prefix = shared_data / HUMAN
    g = open_plink(prefix)
    pheno = pd.read_csv(DEMO_PHENO, sep="\t", dtype={"FID": str, "IID": str})
    y = g.samples.merge(pheno, on=["FID", "IID"], how="left")["disease"].to_numpy(float)
    return prefix, g, y


@pytest.fixture(scope="module")
def rice(shared_data):
    prefix = shared_data / RICE
    g = open_plink(prefix)
    pheno = pd.read_csv(shared_data / "rice_44k" / "rice44k.pheno.tsv", sep="\t",
                        dtype={"FID": str, "IID": str})
    merged = g.samples.merge(pheno, on=["FID", "IID"], how="left")
    return prefix, g, merged


def write_pheno(path: Path, samples: pd.DataFrame, values, name: str = "trait") -> Path:
    df = pd.DataFrame({"FID": samples["FID"], "IID": samples["IID"],
                       name: np.where(np.isnan(values), -9, values)})
    df.to_csv(path, sep="\t", index=False)
    return path


def counts_by(g, y, *, keep=None):
    """Counts of controls (group 0), cases (1), unknown (2) over the (kept) samples."""
    groups = np.where(np.isnan(y), 2, y).astype(np.int64)
    if keep is not None:
        groups = np.where(keep, groups, -1)
    c = scan_bed(g.bed_path, g.n_samples, g.n_variants, groups=groups).counts
    out = np.zeros((c.shape[0], 3, 4), dtype=np.int64)
    out[:, : c.shape[1]] = c
    return out


# ------------------------------------------------------------------------------------------
# exact tests and allelic association: --hardy midp, --test-missing midp, --assoc
# ------------------------------------------------------------------------------------------
def test_hardy_test_missing_and_assoc_match_plink_human(human, plink19, tmp_path):
    prefix, g, y = human
    plink(plink19, prefix, tmp_path / "h", "--pheno", str(DEMO_PHENO), "--pheno-name",
          "disease", "--1", "--hardy", "midp", "--test-missing", "midp", "--assoc")
    c = counts_by(g, y)
    hwe = table(tmp_path / "h.hwe")
    for test, groups in (("ALL", [0, 1, 2]), ("AFF", [1]), ("UNAFF", [0])):
        t = hwe[hwe["TEST"] == test].reset_index(drop=True)
        assert t["SNP"].tolist() == g.variants["id"].tolist()
        s = c[:, groups].sum(axis=1)
        geno = t["GENO"].str.split("/", expand=True).astype(int)
        np.testing.assert_array_equal(geno[0], s[:, HOM_A1])
        np.testing.assert_array_equal(geno[1], s[:, HET])
        np.testing.assert_array_equal(geno[2], s[:, HOM_A2])
        p = hwe_exact(s[:, HET], s[:, HOM_A1], s[:, HOM_A2], midp=True)
        assert_printed(p, t["P"], what=f"HWE midp {test}")

    miss = table(tmp_path / "h.missing")
    ids = g.variants["id"].to_numpy()
    pos = pd.Index(ids).get_indexer(miss["SNP"])
    case, ctrl = c[:, 1], c[:, 0]
    n_case, n_ctrl = case.sum(axis=1), ctrl.sum(axis=1)
    p = fisher_exact_2x2(case[:, MISSING], n_case - case[:, MISSING], ctrl[:, MISSING],
                         n_ctrl - ctrl[:, MISSING], midp=True)
    assert_printed(p[pos], miss["P"], what="test-missing midp")
    assert_printed(case[pos, MISSING] / n_case[pos], miss["F_MISS_A"], what="F_MISS_A")
    # PLINK lists only variants with a missing call; the others have none at all
    others = np.setdiff1d(np.arange(len(ids)), pos)
    assert (case[others, MISSING] + ctrl[others, MISSING] == 0).all()
    assert len(pos) > 1000

    assoc = table(tmp_path / "h.assoc")
    ours = allelic_test_bed(g, y)
    assert ours["SNP"].tolist() == assoc["SNP"].tolist()
    for col in ("F_A", "F_U", "CHISQ", "P", "OR"):
        assert_printed(ours[col], assoc[col], what=f"--assoc {col}")


def test_hardy_and_assoc_match_plink_rice_inbred(rice, plink19, tmp_path):
    """Rice accessions are inbred: HWE p-values go down to 1e-80 and below."""
    prefix, g, merged = rice
    y = merged["Awn_presence"].to_numpy(float)
    pheno = write_pheno(tmp_path / "awn.tsv", g.samples, y, "awn")
    plink(plink19, prefix, tmp_path / "r", "--pheno", str(pheno), "--pheno-name", "awn", "--1",
          "--hardy", "midp", "--assoc")
    c = counts_by(g, y)
    hwe = table(tmp_path / "r.hwe")
    for test, groups in (("ALL", [0, 1, 2]), ("UNAFF", [0])):
        t = hwe[hwe["TEST"] == test].reset_index(drop=True)
        s = c[:, groups].sum(axis=1)
        p = hwe_exact(s[:, HET], s[:, HOM_A1], s[:, HOM_A2], midp=True)
        assert_printed(p, t["P"], what=f"rice HWE {test}")
        assert (t["P"] < 1e-50).sum() > 100  # the extreme tail is exercised
    assoc = table(tmp_path / "r.assoc")
    ours = allelic_test_bed(g, y)
    for col in ("F_A", "F_U", "CHISQ", "P", "OR"):
        assert_printed(ours[col], assoc[col], what=f"rice --assoc {col}")
    assert ours["OR"].isna().sum() == assoc["OR"].isna().sum() > 0  # no A1 in controls: NA


def test_hardy_without_midp_matches_plink(rice, plink19, tmp_path):
    prefix, g, _ = rice
    plink(plink19, prefix, tmp_path / "r", "--hardy")
    t = table(tmp_path / "r.hwe")
    s = counts_by(g, np.full(g.n_samples, np.nan))[:, 2]
    assert_printed(hwe_exact(s[:, HET], s[:, HOM_A1], s[:, HOM_A2], midp=False), t["P"],
                   what="HWE (no mid-p)")


# ------------------------------------------------------------------------------------------
# regression: --logistic and --linear with covariates
# ------------------------------------------------------------------------------------------
def test_logistic_with_covariates_matches_plink(human, plink19, tmp_path):
    prefix, g, y = human
    rng = np.random.default_rng(3)
    cov = np.column_stack([rng.normal(size=g.n_samples), g.samples["sex"].to_numpy(float)])
    cov_path = tmp_path / "cov.tsv"
    pd.DataFrame({"FID": g.samples["FID"], "IID": g.samples["IID"], "c1": cov[:, 0],
                  "sex": cov[:, 1]}).to_csv(cov_path, sep="\t", index=False, float_format="%.10g")
    cov = pd.read_csv(cov_path, sep="\t")[["c1", "sex"]].to_numpy()  # exactly what PLINK reads
    cols = np.arange(0, g.n_variants, 7)  # a 2,000-variant subset keeps the test fast
    extract = tmp_path / "snps.txt"
    extract.write_text("\n".join(g.variants["id"].iloc[cols]) + "\n")
    plink(plink19, prefix, tmp_path / "l", "--pheno", str(DEMO_PHENO), "--pheno-name",
          "disease", "--1", "--covar", str(cov_path), "--logistic", "hide-covar",
          "--extract", str(extract))
    ref = table(tmp_path / "l.assoc.logistic")
    G = g.read(variant_idx=cols)
    ours = logistic_association(G, y, covariates=cov)
    assert ref["SNP"].tolist() == g.variants["id"].iloc[cols].tolist()
    np.testing.assert_array_equal(ours["NMISS"], ref["NMISS"])
    # PLINK 1.9 fits in single precision: allow 2 units in the 4th digit, and an absolute 1e-5
    # for Wald statistics near 0 (|z| ~ 1e-4, where float32 rounding of beta dominates)
    assert_printed(ours["OR"], ref["OR"], slack=4, what="--logistic OR")
    assert_printed(ours["STAT"], ref["STAT"], slack=4, atol=1e-5, what="--logistic STAT")
    assert_printed(ours["P"], ref["P"], slack=4, what="--logistic P")
    exact = np.isclose(ours["P"].to_numpy(), ref["P"].to_numpy(), rtol=5e-4, atol=0)
    assert exact.mean() > 0.99  # nearly all within printed precision proper


def test_linear_with_covariates_matches_plink(rice, plink19, tmp_path):
    prefix, g, merged = rice
    y = merged["Plant_height"].to_numpy(float)
    covar = merged[["Flowering_time_at_Arkansas"]].to_numpy(float)
    keep = ~np.isnan(y) & ~np.isnan(covar[:, 0])
    pheno = write_pheno(tmp_path / "ph.tsv", g.samples, y, "height")
    cov_path = tmp_path / "cov.tsv"
    pd.DataFrame({"FID": g.samples["FID"], "IID": g.samples["IID"],
                  "ft": np.where(np.isnan(covar[:, 0]), -9, covar[:, 0])}).to_csv(
        cov_path, sep="\t", index=False, float_format="%.10g")
    covar = pd.read_csv(cov_path, sep="\t")[["ft"]].to_numpy()
    cols = np.arange(0, g.n_variants, 20)
    extract = tmp_path / "snps.txt"
    extract.write_text("\n".join(g.variants["id"].iloc[cols]) + "\n")
    plink(plink19, prefix, tmp_path / "q", "--pheno", str(pheno), "--pheno-name", "height",
          "--covar", str(cov_path), "--linear", "hide-covar", "--extract", str(extract))
    ref = table(tmp_path / "q.assoc.linear")
    G = g.read(sample_idx=np.flatnonzero(keep), variant_idx=cols)
    ours = linear_association(G, y[keep], covariates=covar[keep])
    np.testing.assert_array_equal(ours["NMISS"], ref["NMISS"])
    for col in ("BETA", "STAT", "P"):
        assert_printed(ours[col], ref[col], what=f"--linear {col}")


# ------------------------------------------------------------------------------------------
# the funnel
# ------------------------------------------------------------------------------------------
def plink_funnel(exe: str, bfile: Path, out: Path, cfg: QCConfig, *extra: str) -> dict:
    log = plink(exe, bfile, out, *cfg.plink_flags().split(), *extra, "--make-bed")
    fam = pd.read_csv(f"{out}.fam", sep=r"\s+", header=None, dtype=str)
    bim = pd.read_csv(f"{out}.bim", sep=r"\s+", header=None, dtype=str)

    def count(pattern: str) -> int:
        m = re.search(pattern, log)
        return int(m.group(1)) if m else 0

    return {
        "samples": fam[1].tolist(), "variants": bim[1].tolist(), "log": log,
        "mind": count(r"(\d+) (?:people|person|samples?) removed due to missing genotype data"),
        "geno": count(r"(\d+) variants? removed due to missing genotype data \(--geno\)"),
        "hwe": count(r"(\d+) variants? removed due to Hardy-Weinberg exact test"),
        "maf": count(r"(\d+) variants? removed due to minor allele threshold"),
    }


def assert_funnel(result, ref: dict, samples: pd.DataFrame, variants: pd.DataFrame) -> None:
    assert samples["IID"][result.sample_mask].tolist() == ref["samples"]
    assert variants["id"][result.variant_mask].tolist() == ref["variants"]
    counts = {s.plink_flag.split()[0][2:]: s.n_removed for s in result.steps}
    for flag in ("mind", "geno", "hwe", "maf"):
        if flag in counts:
            assert counts[flag] == ref[flag], (flag, ref["log"])


FUNNELS = [
    ("rice", QCConfig(mind=0.05, geno=0.05, maf=0.05, hwe=1e-40, hwe_midp=True, hwe_all=True)),
    ("rice", QCConfig(mind=0.1, geno=0.02, maf=0.01, hwe=1e-60, hwe_midp=False, hwe_all=True)),
    ("human", QCConfig(mind=0.002, geno=0.001, maf=0.05, hwe=1e-3, hwe_midp=True)),
    ("human", QCConfig(mind=0.005, geno=0.003, maf=0.02, hwe=1e-2, hwe_midp=True, hwe_all=True)),
    ("human", QCConfig(mind=None, geno=None, maf=None, hwe=0.05, hwe_midp=False)),
]


@pytest.mark.parametrize(("which", "cfg"), FUNNELS, ids=lambda x: getattr(x, "plink_flags",
                                                                          lambda: x)())
def test_funnel_matches_plink(which, cfg, human, rice, plink19, tmp_path):
    if which == "human":
        prefix, g, y = human
        extra = ("--pheno", str(DEMO_PHENO), "--pheno-name", "disease", "--1")
    else:
        prefix, g, merged = rice
        y = merged["Awn_presence"].to_numpy(float)
        pheno = write_pheno(tmp_path / "awn.tsv", g.samples, y, "awn")
        extra = ("--pheno", str(pheno), "--pheno-name", "awn", "--1")
    ref = plink_funnel(plink19, prefix, tmp_path / "f", cfg, *extra)
    res = run_qc_bed(g, config=cfg, y=y)
    assert_funnel(res, ref, g.samples, g.variants)
    assert sum(s.n_removed for s in res.steps) > 0
    if cfg.hwe is not None:
        assert ref["hwe"] > 0  # the HWE threshold bites
    dense = run_qc(g.read_int8(), g.samples, g.variants, config=cfg, y=y)
    np.testing.assert_array_equal(dense.sample_mask, res.sample_mask)
    np.testing.assert_array_equal(dense.variant_mask, res.variant_mask)
    pd.testing.assert_frame_equal(dense.variant_stats, res.variant_stats)


def test_autosome_filter_matches_plink(human, plink19, tmp_path):
    """A copy of the human set whose last 100 variants are relabelled X, Y, XY, MT and 0."""
    prefix, g, y = human
    bim = pd.read_csv(f"{prefix}.bim", sep=r"\s+", header=None, dtype=str)
    rows = np.arange(len(bim) - 100, len(bim))
    bim.loc[rows, 0] = np.repeat(["X", "Y", "XY", "MT", "0"], 20)
    new = tmp_path / "sex"
    bim.to_csv(f"{new}.bim", sep="\t", header=False, index=False)
    for suffix in (".bed", ".fam"):
        Path(f"{new}{suffix}").symlink_to(Path(f"{prefix}{suffix}"))
    cfg = QCConfig(mind=0.002, geno=0.001, maf=0.05, autosomes_only=True)
    ref = plink_funnel(plink19, new, tmp_path / "a", cfg)
    g2 = open_plink(new)
    res = run_qc_bed(g2, config=cfg)
    assert_funnel(res, ref, g2.samples, g2.variants)
    assert res.steps[0].plink_flag == "--autosome" and res.steps[0].n_removed == rows.size


def test_mind_then_variant_statistics_on_kept_samples_match_plink(rice, plink19, tmp_path):
    """--mind removes samples; --geno/--hwe/--maf then use the rest (second pass on the .bed)."""
    prefix, g, _ = rice
    cfg = QCConfig(mind=0.03, geno=0.05, maf=0.05, hwe=1e-50, hwe_midp=True, hwe_all=True)
    ref = plink_funnel(plink19, prefix, tmp_path / "m", cfg)
    res = run_qc_bed(g, config=cfg)
    assert 0 < res.steps[0].n_removed < g.n_samples
    assert_funnel(res, ref, g.samples, g.variants)
    plink(plink19, prefix, tmp_path / "s", "--mind", "0.03", "--hardy", "midp", "--freq")
    hwe = table(tmp_path / "s.hwe")
    assert_printed(res.variant_stats["hwe_p"], hwe["P"], what="HWE after --mind")
    frq = table(tmp_path / "s.frq")
    a1 = frq["MAF"].to_numpy()  # PLINK's MAF column is the A1 frequency
    ours_a1 = np.where(a1 <= 0.5, res.variant_maf, 1 - res.variant_maf)
    assert_printed(ours_a1, a1, what="A1 frequency after --mind")


def test_stratified_funnel_is_the_intersection_of_per_stratum_plink_runs(human, plink19,
                                                                          tmp_path):
    prefix, g, y = human
    covar = pd.read_csv(REPO / "assets" / "demo" / "demo.covar.tsv", sep="\t", dtype=str)
    source = g.samples.merge(covar, on=["FID", "IID"], how="left")["source"].to_numpy()
    cfg = QCConfig(mind=None, geno=0.001, maf=0.05, hwe=1e-3, hwe_midp=True)
    res = run_qc_bed(g, config=cfg, y=y, strata=source)
    assert res.strata == sorted(set(source))
    kept = set(g.variants["id"])
    for stratum in sorted(set(source)):
        keep = tmp_path / f"{stratum}.keep"
        g.samples.loc[source == stratum, ["FID", "IID"]].to_csv(keep, sep="\t", header=False,
                                                               index=False)
        ref = plink_funnel(plink19, prefix, tmp_path / f"s_{stratum}", cfg, "--keep", str(keep),
                           "--pheno", str(DEMO_PHENO), "--pheno-name", "disease", "--1")
        kept &= set(ref["variants"])
    ours = set(g.variants["id"][res.variant_mask])
    assert ours == kept
    unstratified = run_qc_bed(g, config=cfg, y=y)
    assert unstratified.n_variants_kept > res.n_variants_kept  # strata remove more
