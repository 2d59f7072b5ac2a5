"""Figures for the QC step: the funnel and distributions of the filter statistics."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["qc_funnel", "rate_histogram", "pvalue_histogram"]


def qc_funnel(qc_result) -> go.Figure:
    """Samples and variants left after each QC step, with the number removed.

    Parameters
    ----------
    qc_result : genoapp.qc.QCResult
        Result of :func:`genoapp.qc.run_qc` (or the ``qc`` of a QC workflow result); its
        ``steps`` give before/removed/after counts.

    Returns
    -------
    plotly.graph_objects.Figure
        Two panels (samples, variants); bars are the counts kept after each step, labelled
        with the number removed by it; hovering shows the PLINK option of the step.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Samples", "Variants"),
                        column_widths=[0.3, 0.7])
    for col, axis in ((1, "samples"), (2, "variants")):
        steps = [s for s in qc_result.steps if s.axis == axis]
        start = steps[0].n_before if steps else (
            len(qc_result.sample_mask) if axis == "samples" else len(qc_result.variant_mask)
        )
        labels = ["input"] + [s.name for s in steps]
        kept = [start] + [s.n_after for s in steps]
        text = [f"{start:,}"] + [f"{s.n_after:,} (−{s.n_removed:,})" for s in steps]
        hover = ["input"] + [s.plink_flag for s in steps]
        fig.add_bar(
            x=labels, y=kept, text=text, textposition="outside", textangle=0,
            textfont={"size": 10}, cliponaxis=False, row=1, col=col,
            hovertext=hover, hoverinfo="text+y",
            marker_color="#4c78a8" if axis == "samples" else "#54a24b", showlegend=False,
        )
        fig.update_yaxes(range=[0, 1.15 * max(kept)], row=1, col=col)
    fig.update_layout(title="QC funnel: kept after each step (removed)", template="plotly_white")
    return fig


def rate_histogram(values, *, title: str, xlabel: str, threshold: float | None = None,
                   nbins: int = 50) -> go.Figure:
    """Histogram of a per-sample or per-variant rate with an optional threshold line.

    Parameters
    ----------
    values : array-like
        Shape (n,), e.g. missing rates or minor allele frequencies (fractions in [0, 1]);
        non-finite values are left out.
    title, xlabel : str
        Figure title and x-axis label.
    threshold : float, optional
        Drawn as a dashed vertical line (the filter threshold).
    nbins : int
        Number of bins.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    fig = go.Figure(go.Histogram(x=v, nbinsx=nbins, marker_color="#4c78a8"))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="#e45756",
                      annotation_text=f"threshold {threshold:g}")
    fig.update_layout(title=title, xaxis_title=xlabel, yaxis_title="count", template="plotly_white")
    return fig


def pvalue_histogram(pvalues, *, title: str, threshold: float | None = None,
                     nbins: int = 50) -> go.Figure:
    """Histogram of ``-log10(p)`` (e.g. HWE or test-missing p-values) with the threshold.

    Parameters
    ----------
    pvalues : array-like
        p-values in (0, 1]; non-finite values are left out, 0 is shown at the largest finite
        value (p underflowed).
    title : str
    threshold : float, optional
        Filter threshold p (drawn at ``-log10(threshold)``; variants right of it are removed).
    nbins : int

    Returns
    -------
    plotly.graph_objects.Figure
        y axis on a log scale, so the few removed variants stay visible.
    """
    p = np.asarray(pvalues, dtype=float)
    p = p[np.isfinite(p)]
    tiny = np.nextafter(0, 1)
    x = -np.log10(np.clip(p, tiny, 1.0))
    fig = go.Figure(go.Histogram(x=x, nbinsx=nbins, marker_color="#4c78a8"))
    if threshold is not None:
        fig.add_vline(x=-np.log10(threshold), line_dash="dash", line_color="#e45756",
                      annotation_text=f"p = {threshold:g}")
    fig.update_layout(title=title, xaxis_title="−log10(p)", yaxis_title="count (log scale)",
                      yaxis_type="log", template="plotly_white")
    return fig
