"""The packed-.bed counting engine (genoapp.qc.counts) against bed-reader's decoded genotypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genoapp.qc.counts as qc_counts
from genoapp.errors import InputDataError
from genoapp.io import open_plink, write_plink
from genoapp.qc import scan_bed, scan_dense
from genoapp.qc.counts import HET, HOM_A1, HOM_A2, MISSING

bed_reader = pytest.importorskip("bed_reader")

CODES = {HOM_A1: 2, HET: 1, HOM_A2: 0, MISSING: -127}


def reference_counts(G8: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((G8.shape[1], n_groups, 4), dtype=np.int64)
    for g in range(n_groups):
        rows = groups == g
        for k, val in CODES.items():
            out[:, g, k] = (G8[rows] == val).sum(axis=0)
    return out


def write_random_bed(path, n: int, m: int, seed: int, missing: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.02, 0.5, size=m), size=(n, m)).astype(np.float32)
    G[rng.random((n, m)) < missing] = np.nan
    samples = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"S{i}" for i in range(n)]})
    variants = pd.DataFrame({"chrom": ["1"] * m, "id": [f"v{j}" for j in range(m)],
                             "pos": np.arange(1, m + 1), "A1": ["A"] * m, "A2": ["G"] * m})
    write_plink(path, G, samples=samples, variants=variants)
    return np.where(np.isnan(G), -127, G).astype(np.int8)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 28, 29, 31, 32, 33, 63, 64, 65, 130])
def test_counts_and_sample_missing_for_every_padding(n, tmp_path):
    """Sample counts around the 4-per-byte, 8-byte and 32-per-word boundaries."""
    G8 = write_random_bed(tmp_path / "t", n, 37, seed=n)
    rng = np.random.default_rng(n)
    groups = rng.integers(-1, 3, size=n)
    res = scan_bed(tmp_path / "t.bed", n, 37, groups=groups, missing_samples=np.ones(n, bool))
    ref = reference_counts(G8, groups, res.counts.shape[1])
    np.testing.assert_array_equal(res.counts, ref)
    np.testing.assert_array_equal(res.sample_missing, (G8 == -127).sum(axis=1))
    dense = scan_dense(G8, groups=groups, missing_samples=np.ones(n, bool))
    np.testing.assert_array_equal(dense.counts, res.counts)
    np.testing.assert_array_equal(dense.sample_missing, res.sample_missing)


@pytest.mark.parametrize("dense_groups", [0, 6])
def test_many_groups_variant_mask_and_threads(dense_groups, tmp_path, monkeypatch):
    """Both group code paths (per-group passes and per-word pairs), a variant subset, blocks
    smaller than the file (several reads, double buffering) and 1 or 3 worker threads."""
    n, m = 301, 777
    G8 = write_random_bed(tmp_path / "t", n, m, seed=1, missing=0.2)
    monkeypatch.setattr(qc_counts, "_DENSE_GROUPS", dense_groups)
    monkeypatch.setattr(qc_counts, "_BLOCK_BYTES", 76 * 50 + 5)  # ~50 variants per block
    rng = np.random.default_rng(2)
    groups = rng.integers(-1, 9, size=n)
    vmask = rng.random(m) < 0.6
    smask = rng.random(n) < 0.7
    for threads in (1, 3):
        res = scan_bed(tmp_path / "t.bed", n, m, groups=groups, missing_samples=smask,
                       variant_mask=vmask, num_threads=threads)
        ref = reference_counts(G8, groups, 9)
        ref[~vmask] = 0
        np.testing.assert_array_equal(res.counts, ref)
        expected = np.where(smask, (G8[:, vmask] == -127).sum(axis=1), 0)
        np.testing.assert_array_equal(res.sample_missing, expected)
        assert res.n_variants_counted == int(vmask.sum())


def test_more_than_255_variants_per_worker_flushes_the_byte_counters(tmp_path):
    """Per-sample missing counts above 255 (one sample missing everywhere)."""
    n, m = 70, 1200
    rng = np.random.default_rng(4)
    G = rng.integers(0, 3, size=(n, m)).astype(np.float32)
    G[5] = np.nan
    G[6, ::2] = np.nan
    samples = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"S{i}" for i in range(n)]})
    variants = pd.DataFrame({"chrom": ["1"] * m, "id": [f"v{j}" for j in range(m)],
                             "pos": np.arange(1, m + 1), "A1": ["A"] * m, "A2": ["G"] * m})
    write_plink(tmp_path / "t", G, samples=samples, variants=variants)
    res = scan_bed(tmp_path / "t.bed", n, m, missing_samples=np.ones(n, bool), num_threads=2)
    np.testing.assert_array_equal(res.sample_missing, np.isnan(G).sum(axis=1))
    assert res.sample_missing[5] == m and res.sample_missing[6] == m // 2


@pytest.mark.parametrize("rel", ["rice_44k/rice44k", "human_1kg_hapmap3/human_1kg_hapmap3"])
def test_real_data_counts_equal_bed_reader(rel, shared_data):
    g = open_plink(shared_data / rel)
    G8 = g.read_int8()
    groups = np.arange(g.n_samples) % 3 - 1  # -1, 0, 1
    res = scan_bed(g.bed_path, g.n_samples, g.n_variants, groups=groups,
                   missing_samples=np.ones(g.n_samples, bool))
    np.testing.assert_array_equal(res.counts, reference_counts(G8, groups, 2))
    np.testing.assert_array_equal(res.sample_missing, (G8 == -127).sum(axis=1))
    c = res.group_sum([0, 1])
    np.testing.assert_array_equal(res.a1_count([0, 1]), 2.0 * c[:, HOM_A1] + c[:, HET])


def test_dense_fractional_dosages_keep_exact_allele_sums():
    G = np.array([[0.0, 1.5], [2.0, np.nan], [0.2, 1.0]], dtype=np.float32)
    res = scan_dense(G)
    assert res.a1_sum is not None
    np.testing.assert_allclose(res.a1_count([0]), [2.2, 2.5], rtol=1e-6)
    # hard calls: 0.2 -> 0, 1.5 -> 2 (round half to even), 1.0 -> 1
    np.testing.assert_array_equal(res.counts[:, 0], [[1, 0, 2, 0], [1, 1, 0, 1]])


def test_bad_inputs_are_readable_errors(tmp_path):
    write_random_bed(tmp_path / "t", 10, 5, seed=0)
    with pytest.raises(InputDataError, match="bytes"):
        scan_bed(tmp_path / "t.bed", 13, 5)
    (tmp_path / "x.bed").write_bytes(b"\x00\x00\x00")
    with pytest.raises(InputDataError, match="6c 1b 01"):
        scan_bed(tmp_path / "x.bed", 1, 0)
    with pytest.raises(InputDataError, match="groups"):
        scan_bed(tmp_path / "t.bed", 10, 5, groups=np.zeros(9, int))
    with pytest.raises(InputDataError, match="boolean mask"):
        scan_bed(tmp_path / "t.bed", 10, 5, variant_mask=np.ones(5, int))
    with pytest.raises(InputDataError, match="outside"):
        scan_dense(np.array([[0, 3]], dtype=np.int8))
    with pytest.raises(InputDataError, match="2-D"):
        scan_dense(np.zeros(3))
