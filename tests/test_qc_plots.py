"""QC and GWAS figures (pure functions returning plotly figures)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from genoapp.plots.gwas import chromosome_order, manhattan_plot, qq_plot, sample_pca_scatter
from genoapp.plots.qc import pvalue_histogram, qc_funnel, rate_histogram
from genoapp.qc import QCConfig, run_qc


def test_chromosome_order_is_numeric_then_sex_chromosomes():
    assert chromosome_order(["X", "10", "2", "chr1", "MT", "1", "Y"]) == [
        "1", "chr1", "2", "10", "X", "Y", "MT"]


def test_manhattan_plot_layout_thinning_and_lines():
    rng = np.random.default_rng(0)
    chrom = np.repeat(["1", "2", "10", "X"], 5000)
    pos = np.tile(np.arange(5000) * 1000 + 1, 4)
    p = rng.random(20000)
    p[:10] = 1e-12
    p[10] = 0.0  # underflow is drawn at the top, not dropped
    p[11] = np.nan  # untested: left out
    fig = manhattan_plot(chrom, pos, p, ids=[f"v{i}" for i in range(20000)], threshold=0.05,
                         max_background_points=2000)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["1", "2", "10", "X"]
    n_points = sum(len(t.x) for t in fig.data)
    assert n_points == int((p < 0.01).sum()) + 2000  # strong points kept, the rest thinned
    assert list(fig.layout.xaxis.ticktext) == ["1", "2", "10", "X"]
    ys = sorted(s.y0 for s in fig.layout.shapes)
    np.testing.assert_allclose(ys, [-np.log10(0.05), -np.log10(5e-8)])
    x_ranges = [(min(t.x), max(t.x)) for t in fig.data]
    assert all(a[1] < b[0] for a, b in zip(x_ranges, x_ranges[1:], strict=False))  # no overlap
    assert max(max(t.y) for t in fig.data) > 300


def test_qq_plot_with_lambda():
    rng = np.random.default_rng(1)
    p = rng.random(50_000)
    fig = qq_plot(p, lambda_gc=1.234, max_points=5000)
    assert "λ_GC = 1.234" in fig.layout.title.text
    pts = [t for t in fig.data if t.name == "variants"][0]
    assert 2000 <= len(pts.x) <= 7000
    assert np.all(np.diff(pts.x) <= 0)  # expected quantiles from the most significant down
    np.testing.assert_allclose(pts.x[0], -np.log10(0.5 / 50_000))
    assert qq_plot([]).data == ()


def test_pca_scatter_traces_and_axes():
    df = pd.DataFrame({"PC1": [0.1, 0.2, -0.3, 0.0], "PC2": [1, 2, 3, 4],
                       "batch": ["a", "b", "a", "b"], "IID": list("wxyz")})
    df.attrs["explained_variance_ratio"] = [0.25, 0.125]
    fig = sample_pca_scatter(df, color_by="batch")
    assert [t.name for t in fig.data] == ["a", "b"]
    assert fig.layout.xaxis.title.text == "PC1 (25.0 %)"
    assert fig.layout.yaxis.title.text == "PC2 (12.5 %)"
    with pytest.raises(KeyError, match="phenotype"):
        sample_pca_scatter(df, color_by="phenotype")


def test_histograms_and_funnel():
    fig = pvalue_histogram([1e-10, 0.5, 1.0, np.nan, 0.0], title="HWE", threshold=1e-6)
    assert fig.layout.yaxis.type == "log"
    assert len(fig.data[0].x) == 4 and fig.layout.shapes[0].x0 == pytest.approx(6.0)
    fig = rate_histogram([0.1, np.nan, 0.3], title="t", xlabel="x", threshold=0.2)
    assert len(fig.data[0].x) == 2
    G = np.array([[0, 1, 2, np.nan], [1, 1, 2, 0], [2, 0, 1, 0], [0, 0, 0, 1]], dtype=float)
    samples = pd.DataFrame({"FID": list("abcd"), "IID": list("abcd")})
    variants = pd.DataFrame({"chrom": ["1"] * 4, "id": list("pqrs"), "pos": [1, 2, 3, 4]})
    res = run_qc(G, samples, variants, config=QCConfig(mind=0.3, geno=0.3, maf=0.2, hwe=0.5))
    fig = qc_funnel(res)
    samples_bar, variants_bar = fig.data
    assert list(samples_bar.x) == ["input", "Sample call rate"]
    assert list(variants_bar.x) == ["input", "Variant call rate", "Hardy-Weinberg",
                                    "Minor allele frequency"]
    assert list(variants_bar.hovertext)[2] == "--hwe 0.5 midp"
