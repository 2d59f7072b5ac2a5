"""Tests of genoapp.qc: call-rate and MAF filters against hand-made answers and plink1.9.

PLINK parity: the kept sample and variant sets of ``plink1.9 --mind --geno --maf --make-bed``
(rice 44K, 4.3 % missing; 1000 Genomes/HapMap3) and the ``--missing`` / ``--freq`` reports, on
thresholds that remove something and on thresholds exactly at a sample's/variant's rate.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genoapp.qc.basic as qc_basic
from genoapp.errors import ConfigError, InputDataError
from genoapp.qc import (
    SMALL_EPSILON,
    QCConfig,
    QCResult,
    allele_frequency,
    minor_allele_frequency,
    run_qc,
    sample_missing_rate,
    variant_missing_rate,
)

bed_reader = pytest.importorskip("bed_reader")

NAN = np.nan

# 5 samples x 6 variants, A1 dosage; hand-checked statistics below.
SMALL = np.array(
    [
        [0, 1, 2, NAN, NAN, NAN],
        [0, 1, 2, 2, 0, NAN],
        [1, 1, 2, 2, 0, NAN],
        [0, NAN, 2, 1, 0, NAN],
        [0, 2, 0, 0, 1, NAN],
    ],
    dtype=np.float32,
)
SMALL_SAMPLE_MISS = np.array([3, 1, 1, 2, 1]) / 6
SMALL_VARIANT_MISS = np.array([0, 1, 0, 1, 1, 5]) / 5
SMALL_A1 = np.array([1 / 10, 5 / 8, 8 / 10, 5 / 8, 1 / 8, NAN])
SMALL_MAF = np.array([1 / 10, 3 / 8, 2 / 10, 3 / 8, 1 / 8, NAN])


def to_int8(G: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(G), -127, G).astype(np.int8)


def tables(n_samples: int, n_variants: int, chrom: str | list[str] = "1"):
    samples = pd.DataFrame(
        {"FID": [f"F{i}" for i in range(n_samples)], "IID": [f"S{i}" for i in range(n_samples)]}
    )
    variants = pd.DataFrame(
        {
            "chrom": chrom if isinstance(chrom, list) else [chrom] * n_variants,
            "id": [f"rs{j}" for j in range(n_variants)],
            "pos": np.arange(n_variants, dtype=np.int64) * 100 + 1,
        }
    )
    return samples, variants


# ------------------------------------------------------------------------------------------
# Hand-made known answers
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_int8", [False, True])
def test_statistics_known_answer(as_int8):
    G = to_int8(SMALL) if as_int8 else SMALL
    np.testing.assert_allclose(sample_missing_rate(G), SMALL_SAMPLE_MISS, rtol=1e-15)
    np.testing.assert_allclose(variant_missing_rate(G), SMALL_VARIANT_MISS, rtol=1e-15)
    np.testing.assert_allclose(allele_frequency(G), SMALL_A1, rtol=1e-15)
    np.testing.assert_allclose(minor_allele_frequency(G), SMALL_MAF, rtol=1e-15)
    for f in (sample_missing_rate, variant_missing_rate, allele_frequency):
        assert f(G).dtype == np.float64


def test_int8_and_float_agree_on_random_data_across_blocks(monkeypatch):
    rng = np.random.default_rng(0)
    G = rng.integers(0, 3, size=(53, 301)).astype(np.float32)
    G[rng.random(G.shape) < 0.07] = NAN
    G[:, 7] = NAN  # a variant without calls
    G8 = to_int8(G)
    called = (~np.isnan(G)).sum(axis=0)
    ref = {
        "s": np.isnan(G).mean(axis=1),
        "v": np.isnan(G).mean(axis=0),
        "f": np.nansum(G, axis=0, dtype=np.float64) / np.where(called, 2 * called, np.nan),
    }
    monkeypatch.setattr(qc_basic, "_BLOCK_ELEMENTS", 53 * 10 + 3)  # 10 columns per block
    for X in (G, G8, np.asfortranarray(G8)):
        np.testing.assert_allclose(sample_missing_rate(X), ref["s"], rtol=1e-12)
        np.testing.assert_allclose(variant_missing_rate(X), ref["v"], rtol=1e-12)
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(allele_frequency(X), ref["f"], rtol=1e-12)
            np.testing.assert_allclose(
                minor_allele_frequency(X), np.minimum(ref["f"], 1 - ref["f"]), rtol=1e-12
            )
    samples, variants = tables(*G.shape)
    cfg = QCConfig(mind=0.08, geno=0.08, maf=0.3)
    r_f, r_i = run_qc(G, samples, variants, config=cfg), run_qc(G8, samples, variants, config=cfg)
    np.testing.assert_array_equal(r_f.sample_mask, r_i.sample_mask)
    np.testing.assert_array_equal(r_f.variant_mask, r_i.variant_mask)
    assert not r_f.variant_mask[7]


@pytest.mark.parametrize("mind", [0.5, 0.1, 0.06, 0.03])  # removes none, few, about half, most
def test_variant_statistics_use_the_samples_kept_by_mind(mind, monkeypatch):
    rng = np.random.default_rng(5)
    G = rng.integers(0, 3, size=(60, 250)).astype(np.float32)
    G[rng.random(G.shape) < rng.uniform(0, 0.1, size=(60, 1))] = NAN
    samples, variants = tables(*G.shape)
    monkeypatch.setattr(qc_basic, "_BLOCK_ELEMENTS", 60 * 16)
    results = [
        run_qc(X, samples, variants, config=QCConfig(mind=mind, geno=0.05, maf=0.3))
        for X in (G, to_int8(G))
    ]
    kept = results[0].sample_mask
    assert kept.sum() == {0.5: 60, 0.1: 54, 0.06: 34, 0.03: 18}[mind]
    for r in results:
        np.testing.assert_array_equal(r.sample_mask, kept)
        np.testing.assert_allclose(
            r.variant_missing_rate, variant_missing_rate(G[kept]), rtol=1e-14
        )
        np.testing.assert_allclose(r.variant_maf, minor_allele_frequency(G[kept]), rtol=1e-14)
        np.testing.assert_array_equal(r.variant_mask, results[0].variant_mask)


@pytest.mark.parametrize("as_int8", [False, True])
def test_run_qc_known_answer_order_and_denominators(as_int8):
    G = to_int8(SMALL) if as_int8 else SMALL.copy()
    G_before = G.copy()
    samples, variants = tables(*G.shape)
    samples_before, variants_before = samples.copy(), variants.copy()
    # --mind 0.2: sample 0 (3/6) and sample 3 (2/6) go; 1/6 = 0.167 stays.
    # --geno 0.2 over the 3 samples left: variants 0-4 have no missing call there (variant 1
    #   and 3 lost theirs with sample 3, variant 4 with sample 0); variant 5 (3/3) goes.
    # --maf 0.2 over samples 1, 2, 4: A1 counts 1, 4, 4, 4, 1 of 6 -> MAF 1/6, 1/3, 1/3,
    #   1/3, 1/6: variants 0 and 4 go.
    r = run_qc(G, samples, variants, config=QCConfig(mind=0.2, geno=0.2, maf=0.2))
    assert isinstance(r, QCResult)
    np.testing.assert_array_equal(r.sample_mask, [False, True, True, False, True])
    np.testing.assert_array_equal(r.variant_mask, [False, True, True, True, False, False])
    assert [s.name for s in r.steps] == [
        "Sample call rate",
        "Variant call rate",
        "Minor allele frequency",
    ]
    assert [s.plink_flag for s in r.steps] == ["--mind 0.2", "--geno 0.2", "--maf 0.2"]
    assert [s.axis for s in r.steps] == ["samples", "variants", "variants"]
    assert [(s.n_before, s.n_removed, s.n_after) for s in r.steps] == [
        (5, 2, 3),
        (6, 1, 5),
        (5, 2, 3),
    ]
    mind, geno, maf = r.steps
    assert list(mind.removed.columns) == ["FID", "IID", "missing_rate"]
    assert mind.removed["IID"].tolist() == ["S0", "S3"]
    np.testing.assert_allclose(mind.removed["missing_rate"], [0.5, 1 / 3])
    assert list(geno.removed.columns) == ["chrom", "id", "pos", "value"]
    assert geno.removed["id"].tolist() == ["rs5"] and geno.removed["value"].tolist() == [1.0]
    assert maf.removed["id"].tolist() == ["rs0", "rs4"]
    np.testing.assert_allclose(maf.removed["value"], [1 / 6, 1 / 6])
    assert r.n_samples_kept == 3 and r.n_variants_kept == 3
    np.testing.assert_array_equal(r.kept_sample_idx, [1, 2, 4])
    np.testing.assert_array_equal(r.kept_variant_idx, [1, 2, 3])
    np.testing.assert_allclose(r.sample_missing_rate, SMALL_SAMPLE_MISS)
    np.testing.assert_allclose(r.variant_missing_rate, [0, 0, 0, 0, 0, 1])
    np.testing.assert_allclose(r.variant_maf, [1 / 6, 1 / 3, 1 / 3, 1 / 3, 1 / 6, NAN])
    # inputs untouched
    np.testing.assert_array_equal(G, G_before)
    pd.testing.assert_frame_equal(samples, samples_before)
    pd.testing.assert_frame_equal(variants, variants_before)

    summary = r.summary()
    assert list(summary.columns) == [
        "step",
        "plink_flag",
        "axis",
        "before",
        "removed",
        "after",
        "n_samples",
        "n_variants",
    ]
    assert summary["step"].tolist()[0] == "Input"
    assert summary["removed"].tolist()[1:] == [2, 1, 2]
    assert summary["n_samples"].tolist() == [5, 3, 3, 3]
    assert summary["n_variants"].tolist() == [6, 6, 5, 3]
    assert pd.isna(summary.loc[0, "before"])


def test_thresholds_equal_to_a_rate_keep_it():
    # PLINK keeps missing rate == --mind/--geno and MAF == --maf (tolerance 2**-44).
    samples, variants = tables(*SMALL.shape)
    r = run_qc(SMALL, samples, variants, config=QCConfig(mind=1 / 3, geno=None, maf=None))
    np.testing.assert_array_equal(r.sample_mask, [False, True, True, True, True])
    r = run_qc(SMALL, samples, variants, config=QCConfig(mind=None, geno=1 / 5, maf=None))
    np.testing.assert_array_equal(r.variant_mask, [True, True, True, True, True, False])
    r = run_qc(SMALL, samples, variants, config=QCConfig(mind=None, geno=None, maf=1 / 8))
    np.testing.assert_array_equal(r.variant_mask, [False, True, True, True, True, True])
    # ... and just above the rate (beyond the tolerance) removes it.
    r = run_qc(SMALL, samples, variants, config=QCConfig(mind=None, geno=None, maf=0.125 + 1e-12))
    np.testing.assert_array_equal(r.variant_mask, [False, True, True, True, False, True])
    assert SMALL_EPSILON == 2.0**-44


def tolerance_cohort():
    """3 samples x 22 variants where the exact tie tests need PLINK's 2**-44 tolerance.

    Sample 0 misses 15 of 22 calls: 15/22 * 22 < 15 in floating point, so ``--mind 15/22``
    keeps it only thanks to the tolerance; variants 0-14 miss 1 of 3 calls and
    ``2 * (1/3) < 1 - 1/3`` in floating point (``--geno 1/3``). Variant 15 has MAF 1/6.
    """
    G = np.zeros((3, 22), dtype=np.float32)
    G[:, 15] = [1, 0, 0]
    G[:, 16:] = [[2], [1], [0]]
    G[1, :15] = 1
    G[0, :15] = NAN
    assert int(15 / 22 * 22) < 15 and 2 * (1.0 / 3) < 1 - 1 / 3
    maf_up = float(np.nextafter(np.nextafter(1 / 6, 1), 1))  # 2 ulps above 1/6
    cases = [
        (QCConfig(mind=15 / 22, geno=None, maf=None), [True] * 3, [True] * 22),
        (QCConfig(mind=14.99 / 22, geno=None, maf=None), [False, True, True], [True] * 22),
        (QCConfig(mind=None, geno=1 / 3, maf=None), [True] * 3, [True] * 22),
        (QCConfig(mind=None, geno=0.333, maf=None), [True] * 3, [False] * 15 + [True] * 7),
        (QCConfig(mind=None, geno=None, maf=maf_up), [True] * 3, [True] * 22),
        (
            QCConfig(mind=None, geno=None, maf=1 / 6 + 1e-9),
            [True] * 3,
            [True] * 15 + [False] + [True] * 6,
        ),
    ]
    return G, cases


def test_plink_tolerance_known_answer():
    G, cases = tolerance_cohort()
    samples, variants = tables(*G.shape)
    for cfg, keep_s, keep_v in cases:
        r = run_qc(G, samples, variants, config=cfg)
        assert r.sample_mask.tolist() == keep_s, cfg
        assert r.variant_mask.tolist() == keep_v, cfg


def test_variant_without_calls_is_kept_by_maf_removed_by_geno():
    samples, variants = tables(*SMALL.shape)
    r = run_qc(SMALL, samples, variants, config=QCConfig(mind=None, geno=None, maf=0.15))
    assert r.variant_mask[5]  # PLINK's frequency 0.5 for a variant without calls
    np.testing.assert_array_equal(r.variant_mask, [False, True, True, True, False, True])
    r = run_qc(SMALL, samples, variants, config=QCConfig(mind=None, geno=0.9, maf=0.15))
    assert not r.variant_mask[5]
    assert r.steps[0].removed["id"].tolist() == ["rs5"]


def test_skipped_filters_and_default_config():
    samples, variants = tables(*SMALL.shape)
    r = run_qc(SMALL, samples, variants, config=QCConfig(mind=None, geno=None, maf=None))
    assert r.steps == [] and r.sample_mask.all() and r.variant_mask.all()
    assert r.sample_missing_rate is None and r.variant_maf is None
    assert r.summary()["step"].tolist() == ["Input"]
    G = SMALL[:, :5]
    r = run_qc(G, samples, variants.iloc[:5])
    assert r.config == QCConfig(mind=0.1, geno=0.1, maf=0.01)
    assert [s.plink_flag for s in r.steps] == ["--mind 0.1", "--geno 0.1", "--maf 0.01"]
    # 0.1 x 5 variants -> no missing call allowed: samples 0 (2 missing) and 3 (1) go.
    np.testing.assert_array_equal(r.sample_mask, [False, True, True, False, True])
    assert r.variant_mask.all()


def test_sex_chromosomes_do_not_crash():
    G = to_int8(SMALL)
    samples, variants = tables(*G.shape, chrom=["1", "X", "Y", "MT", "XY", "23"])
    r = run_qc(G, samples, variants, config=QCConfig(mind=0.5, geno=0.5, maf=0.01))
    assert r.variant_mask.tolist() == [True, True, True, True, True, False]


def test_config_validation():
    for kwargs in (
        {"mind": -0.1},
        {"mind": 1.5},
        {"geno": 1.01},
        {"geno": float("nan")},
        {"maf": 0.6},
        {"maf": -1e-9},
        {"maf": True},
        {"geno": "0.1"},
    ):
        with pytest.raises(ConfigError, match=next(iter(kwargs))):
            QCConfig(**kwargs)
    cfg = QCConfig(mind=np.float32(0.5), geno=0, maf=0.5)
    assert type(cfg.mind) is float and cfg.geno == 0.0
    assert cfg.plink_flags() == "--mind 0.5 --geno 0.0 --maf 0.5"
    assert QCConfig(mind=None, maf=None).plink_flags() == "--geno 0.1"
    samples, variants = tables(*SMALL.shape)
    with pytest.raises(ConfigError, match="QCConfig"):
        run_qc(SMALL, samples, variants, config={"mind": 0.1})


def test_input_validation():
    samples, variants = tables(*SMALL.shape)
    with pytest.raises(InputDataError, match="2-D"):
        run_qc(SMALL[0], samples, variants)
    with pytest.raises(InputDataError, match="dtype"):
        sample_missing_rate(SMALL > 0)
    with pytest.raises(InputDataError, match="outside"):
        allele_frequency(np.array([[0, 3], [1, 2]], dtype=np.int8))
    with pytest.raises(InputDataError, match="outside"):
        variant_missing_rate(np.array([[0, -1], [1, 2]], dtype=np.int8))
    with pytest.raises(InputDataError, match="outside"):
        run_qc(np.where(np.isnan(SMALL), NAN, SMALL * 2), samples, variants)
    with pytest.raises(InputDataError, match="at least one"):
        run_qc(SMALL[:, :0], samples, variants.iloc[:0])
    with pytest.raises(InputDataError, match="4 rows"):
        run_qc(SMALL, samples.iloc[:4], variants)
    with pytest.raises(InputDataError, match="pos"):
        run_qc(SMALL, samples, variants.drop(columns="pos"))
    with pytest.raises(InputDataError, match="DataFrame"):
        run_qc(SMALL, samples.to_dict(), variants)


def test_everything_removed_is_a_config_error():
    samples, variants = tables(*SMALL.shape)
    with pytest.raises(ConfigError, match="all 5 samples"):
        run_qc(SMALL, samples, variants, config=QCConfig(mind=0.1, geno=None, maf=None))
    G = np.ones((4, 3), dtype=np.float32)
    G[0] = NAN
    samples4, variants3 = tables(4, 3)
    with pytest.raises(ConfigError, match="all 3 variants"):
        run_qc(G, samples4, variants3, config=QCConfig(mind=None, geno=0.1, maf=None))
    G[:] = 0  # monomorphic everywhere
    with pytest.raises(ConfigError, match="MAF"):
        run_qc(G, samples4, variants3, config=QCConfig(mind=None, geno=None, maf=0.01))


# ------------------------------------------------------------------------------------------
# PLINK 1.9 parity
# ------------------------------------------------------------------------------------------
def read_bed(prefix: Path, dtype: str = "int8"):
    with bed_reader.open_bed(prefix.with_suffix(".bed")) as bed:
        G = bed.read(dtype=dtype)
        samples = pd.DataFrame({"FID": bed.fid, "IID": bed.iid})
        variants = pd.DataFrame({"chrom": bed.chromosome, "id": bed.sid, "pos": bed.bp_position})
    return G, samples, variants


def plink(exe: str, bfile: Path, out: Path, *args: str) -> str:
    cmd = [exe, "--bfile", str(bfile), "--allow-no-sex", "--keep-allele-order", "--threads", "1"]
    proc = subprocess.run(
        [*cmd, *args, "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Path(f"{out}.log").read_text()


def plink_filter(exe: str, bfile: Path, out: Path, cfg: QCConfig) -> dict:
    log = plink(exe, bfile, out, *cfg.plink_flags().split(), "--make-bed")
    fam = pd.read_csv(f"{out}.fam", sep=r"\s+", header=None, dtype=str)
    bim = pd.read_csv(f"{out}.bim", sep=r"\s+", header=None, dtype=str)

    def count(pattern: str) -> int | None:
        m = re.search(pattern, log)
        return int(m.group(1)) if m else None

    return {
        "samples": fam[1].tolist(),
        "variants": bim[1].tolist(),
        "mind": count(
            r"(\d+) (?:people|person|samples?) removed due to missing genotype data \(--mind\)"
        ),
        "geno": count(r"(\d+) variants? removed due to missing genotype data \(--geno\)"),
        "maf": count(r"(\d+) variants? removed due to minor allele threshold"),
        "log": log,
    }


def assert_same_as_plink(result: QCResult, ref: dict, samples, variants) -> None:
    assert samples["IID"][result.sample_mask].tolist() == ref["samples"]
    assert variants["id"][result.variant_mask].tolist() == ref["variants"]
    counts = {s.plink_flag.split()[0][2:]: s.n_removed for s in result.steps}
    for flag in ("mind", "geno", "maf"):
        if flag in counts:
            assert counts[flag] == ref[flag], (flag, ref["log"])


RICE = "rice_44k/rice44k"
HUMAN = "human_1kg_hapmap3/human_1kg_hapmap3"


@pytest.fixture(scope="module")
def cohorts(shared_data):
    out = {}
    for key, rel in (("rice", RICE), ("human", HUMAN)):
        prefix = shared_data / rel
        out[key] = (prefix, *read_bed(prefix, "int8"))
    return out


CASES = [
    # rice: 4.3 % missing, every filter bites
    ("rice", QCConfig(mind=0.05, geno=0.05, maf=0.05)),
    ("rice", QCConfig(mind=0.1, geno=0.1, maf=0.01)),
    ("rice", QCConfig(mind=0.02, geno=0.2, maf=0.2)),
    ("rice", QCConfig(mind=0.05, geno=None, maf=None)),
    ("rice", QCConfig(mind=None, geno=0.02, maf=None)),
    ("rice", QCConfig(mind=None, geno=None, maf=0.1)),
    # human: 0.04 % missing in the HapMap3 samples only
    ("human", QCConfig(mind=0.005, geno=0.003, maf=0.05)),
    ("human", QCConfig(mind=0.002, geno=0.001, maf=0.02)),
    ("human", QCConfig(mind=0.001, geno=None, maf=None)),
    ("human", QCConfig(mind=None, geno=0.0005, maf=None)),
    ("human", QCConfig(mind=None, geno=None, maf=0.2)),
]


@pytest.mark.parametrize(
    ("cohort", "cfg"), CASES, ids=lambda x: getattr(x, "plink_flags", lambda: x)()
)
def test_filters_match_plink(cohort, cfg, cohorts, plink19, tmp_path):
    prefix, G, samples, variants = cohorts[cohort]
    result = run_qc(G, samples, variants, config=cfg)
    assert sum(s.n_removed for s in result.steps) > 0  # thresholds chosen to bite
    ref = plink_filter(plink19, prefix, tmp_path / "qc", cfg)
    assert_same_as_plink(result, ref, samples, variants)
    for step in result.steps:
        assert step.n_removed > 0, step.plink_flag
    if cfg.mind is not None and result.steps[0].n_removed:
        irem = pd.read_csv(tmp_path / "qc.irem", sep=r"\s+", header=None, dtype=str)
        assert result.steps[0].removed["IID"].tolist() == irem[1].tolist()
        assert result.steps[0].removed["FID"].tolist() == irem[0].tolist()


@pytest.mark.parametrize("cohort", ["rice", "human"])
def test_thresholds_at_observed_rates_match_plink(cohort, cohorts, plink19, tmp_path):
    """Thresholds equal to a rate that many samples/variants have: the tie rule matters."""
    prefix, G, samples, variants = cohorts[cohort]
    n, m = G.shape
    miss_s = np.rint(sample_missing_rate(G) * m).astype(int)
    miss_v = np.rint(variant_missing_rate(G) * n).astype(int)
    values, counts = np.unique(miss_s[miss_s > 0], return_counts=True)
    c = int(values[np.argmax(counts)])
    values, counts = np.unique(miss_v[miss_v > 0], return_counts=True)
    k = int(values[np.argmax(counts)])
    called = n - miss_v
    minor = np.rint(minor_allele_frequency(G) * 2 * called).astype(int)
    j = np.flatnonzero((miss_v == 0) & (minor > 5))[0]
    assert (miss_s == c).sum() >= 2 and (miss_v == k).sum() >= 2
    for cfg in (
        QCConfig(mind=c / m, geno=None, maf=None),
        QCConfig(mind=None, geno=k / n, maf=None),
        QCConfig(mind=None, geno=None, maf=minor[j] / (2 * n)),
        QCConfig(mind=c / m, geno=k / n, maf=minor[j] / (2 * n)),
    ):
        result = run_qc(G, samples, variants, config=cfg)
        ref = plink_filter(plink19, prefix, tmp_path / "tie", cfg)
        assert_same_as_plink(result, ref, samples, variants)
    assert result.sample_mask[miss_s == c].all()


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=r"\s+", dtype={"SNP": str, "IID": str, "FID": str})


@pytest.mark.parametrize("cohort", ["rice", "human"])
def test_missing_and_freq_match_plink_reports(cohort, cohorts, plink19, tmp_path):
    prefix, G, samples, variants = cohorts[cohort]
    n, m = G.shape
    plink(plink19, prefix, tmp_path / "r", "--missing", "--freq")
    plink(plink19, prefix, tmp_path / "c", "--freq", "counts")
    imiss = read_table(tmp_path / "r.imiss")
    lmiss = read_table(tmp_path / "r.lmiss")
    frq = read_table(tmp_path / "r.frq")
    cnt = read_table(tmp_path / "c.frq.counts")
    assert imiss["IID"].tolist() == samples["IID"].tolist()
    assert frq["SNP"].tolist() == variants["id"].tolist()

    s_rate = sample_missing_rate(G)
    v_rate = variant_missing_rate(G)
    a1 = allele_frequency(G)
    maf = minor_allele_frequency(G)
    # exact counts
    np.testing.assert_array_equal(np.rint(s_rate * m), imiss["N_MISS"])
    np.testing.assert_array_equal(np.rint(v_rate * n), lmiss["N_MISS"])
    called = n - np.rint(v_rate * n)
    np.testing.assert_array_equal(2 * called, frq["NCHROBS"])
    np.testing.assert_array_equal(np.rint(a1 * 2 * called), cnt["C1"])
    np.testing.assert_allclose(maf, np.minimum(cnt["C1"], cnt["C2"]) / (cnt["C1"] + cnt["C2"]))
    # printed precision (4 significant digits)
    np.testing.assert_allclose(s_rate, imiss["F_MISS"], rtol=5e-4, atol=1e-12)
    np.testing.assert_allclose(v_rate, lmiss["F_MISS"], rtol=5e-4, atol=1e-12)
    np.testing.assert_allclose(a1, frq["MAF"], rtol=5e-4, atol=1e-12)  # MAF column = A1 freq

    # float input gives the same numbers
    Gf, _, _ = read_bed(prefix, "float32")
    np.testing.assert_array_equal(sample_missing_rate(Gf), s_rate)
    np.testing.assert_array_equal(allele_frequency(Gf), a1)


def test_variant_statistics_after_mind_match_plink(cohorts, plink19, tmp_path):
    """--geno and --maf use the samples left by --mind: compare with PLINK's reports then."""
    prefix, G, samples, variants = cohorts["rice"]
    cfg = QCConfig(mind=0.05, geno=None, maf=0.0)
    result = run_qc(G, samples, variants, config=cfg)
    assert 0 < result.steps[0].n_removed < len(samples)
    plink(plink19, prefix, tmp_path / "m", "--mind", "0.05", "--missing", "--freq")
    lmiss = read_table(tmp_path / "m.lmiss")
    frq = read_table(tmp_path / "m.frq")
    n_kept = result.n_samples_kept
    np.testing.assert_array_equal(np.rint(result.variant_missing_rate * n_kept), lmiss["N_MISS"])
    np.testing.assert_allclose(
        result.variant_maf, np.minimum(frq["MAF"], 1 - frq["MAF"]), rtol=5e-4, atol=1e-12
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_random_cohorts_match_plink(seed, plink19, tmp_path):
    """Hand-made .bed files (with a variant without calls) through PLINK on a grid of thresholds."""
    rng = np.random.default_rng(seed)
    n, m = 40, 60
    p = rng.uniform(0.0, 0.5, size=m)
    G = rng.binomial(2, p, size=(n, m)).astype(np.float32)
    sample_miss = rng.choice([0.0, 0.02, 0.1, 0.3], size=n)
    G[rng.random((n, m)) < sample_miss[:, None]] = NAN
    G[:, 3] = NAN
    G[:, 4] = 0  # monomorphic
    samples, variants = tables(n, m)
    prefix = tmp_path / "toy"
    write_bed(prefix, G, samples, variants)
    for cfg in (
        QCConfig(mind=0.1, geno=0.1, maf=0.05),
        QCConfig(mind=0.05, geno=0.05, maf=0.2),
        QCConfig(mind=None, geno=None, maf=0.1),
        QCConfig(mind=0.2, geno=None, maf=0.3),
        QCConfig(mind=None, geno=0.0, maf=None),
    ):
        result = run_qc(G, samples, variants, config=cfg)
        ref = plink_filter(plink19, prefix, tmp_path / "out", cfg)
        assert_same_as_plink(result, ref, samples, variants)
        if cfg.geno is None:
            assert result.variant_mask[3]  # no calls: PLINK's frequency 0.5 passes --maf


def write_bed(prefix: Path, G: np.ndarray, samples: pd.DataFrame, variants: pd.DataFrame) -> None:
    m = G.shape[1]
    bed_reader.to_bed(
        prefix.with_suffix(".bed"),
        G,
        properties={
            "fid": samples["FID"].tolist(),
            "iid": samples["IID"].tolist(),
            "sid": variants["id"].tolist(),
            "chromosome": variants["chrom"].tolist(),
            "bp_position": variants["pos"].tolist(),
            "allele_1": ["A"] * m,
            "allele_2": ["C"] * m,
        },
    )


def test_plink_tolerance_matches_plink(plink19, tmp_path):
    G, cases = tolerance_cohort()
    samples, variants = tables(*G.shape)
    write_bed(tmp_path / "tol", G, samples, variants)
    for cfg, _, _ in cases:
        result = run_qc(G, samples, variants, config=cfg)
        ref = plink_filter(plink19, tmp_path / "tol", tmp_path / "out", cfg)
        assert_same_as_plink(result, ref, samples, variants)
