"""Figures of the Learn lesson: content checks on the plotly objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from genoapp.errors import InputDataError
from genoapp.learn import one_hot
from genoapp.plots.learn import (
    NUCLEOTIDE_COLORS,
    error_histogram,
    loss_curves,
    one_hot_figure,
    phenotype_histograms,
    position_scores_bar,
    predicted_vs_observed,
    sequence_logo,
)


def test_sequence_logo_stacks_letters_by_sign_and_size():
    M = pd.DataFrame([[1.0, -0.5, 2.0, -2.5], [0.0, 0.0, 0.0, 0.0], [0.3, 0.2, -0.1, -0.4]],
                     index=[61, 70, 122], columns=list("ACGT"))
    fig = sequence_logo(M, causal=[61, 122], title="logo")
    assert isinstance(fig, go.Figure)
    shapes = fig.layout.shapes
    assert len(shapes) == 8  # one glyph per non-zero value (row 70 is all zero)
    colors = [s.fillcolor for s in shapes]
    # position 61: positives small first (A 1.0 then G 2.0 on top), negatives C then T below
    assert colors[:4] == [NUCLEOTIDE_COLORS[b] for b in "AGCT"]
    hover = fig.data[0]
    assert list(hover.hovertext[:4]) == ["position 61, A: +1", "position 61, G: +2",
                                         "position 61, C: -0.5", "position 61, T: -2.5"]
    np.testing.assert_allclose(hover.y[:4], [0.5, 2.0, -0.25, -1.75])  # glyph centres
    assert fig.layout.yaxis.range[0] < -3.0 and fig.layout.yaxis.range[1] > 3.0
    assert list(fig.layout.xaxis.ticktext) == ["<b>61•</b>", "70", "<b>122•</b>"]
    # A has a hole (a second, inner subpath)
    assert shapes[0].path.count("M ") == 2
    with pytest.raises(InputDataError, match="A, C, G, T"):
        sequence_logo(pd.DataFrame([[1.0]], columns=["N"]))


def test_position_scores_bar_marks_causal_loci_and_top_positions():
    s = np.zeros(50)
    s[[3, 10, 20]] = [5.0, 4.0, 3.0]
    fig = position_scores_bar(s, causal=[3, 20, 40], top=2, title="Saliency")
    names = [t.name for t in fig.data]
    assert names == ["other position", "true causal locus", "top 2"]
    assert sorted(fig.data[1].x) == [3, 20, 40]
    assert list(fig.data[2].x) == [3, 10]
    assert "1 of the top 2 positions are true causal loci" in fig.layout.title.text
    assert [t.name for t in position_scores_bar(s, top=3).data] == ["other position", "top 3"]


def test_histograms_one_hot_and_result_figures():
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    fig = phenotype_histograms({"all": y, "training": y[:240], "test": y[240:]},
                               ks_statistic=0.1, ks_pvalue=0.5)
    assert [t.name for t in fig.data] == ["all (n = 300)", "training (n = 240)", "test (n = 60)"]
    assert "KS D = 0.100" in fig.layout.title.text
    edges, dens = np.asarray(fig.data[2].x), np.asarray(fig.data[2].y)
    np.testing.assert_allclose(dens[:-1], np.histogram(y[240:], bins=edges, density=True)[0])
    assert edges[0] == y.min() and edges[-1] == y.max()  # common bins over all sets

    seq = "GATTACA"
    oh = one_hot_figure(seq, one_hot([seq])[0], stop=7)
    z = np.asarray(oh.data[0].z)
    assert z.shape == (4, 7) and z[2, 0] == 1 and z[1, 5] == 1  # G at 0, C at 5
    assert list(oh.data[0].y) == ["A", "C", "G", "T"]
    with pytest.raises(InputDataError):
        one_hot_figure(seq, np.zeros((6, 4)))

    hist = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1},
            {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7}]
    lc = loss_curves(hist, best_epoch=2)
    assert [t.name for t in lc.data] == ["training", "validation"]
    pv = predicted_vs_observed(y[:50], y[:50] + 0.1, r2=0.9, mse=0.01)
    assert "R² = 0.900" in pv.layout.title.text and len(pv.data) == 2
    eh = error_histogram(y[:50], y[:50] + 0.1)
    assert np.allclose(eh.data[0].x, 0.1) and "mean 0.100" in eh.layout.title.text
