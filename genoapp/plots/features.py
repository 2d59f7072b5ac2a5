"""Figures for the Features step (annotation, Gene-PCA, All-PCA, gene lookup)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = [
    "explained_variance_histogram",
    "gene_loadings_heatmap",
    "gene_snp_positions",
    "scree_plot",
    "snps_per_gene_histogram",
]


def snps_per_gene_histogram(summary: pd.DataFrame, *, column: str = "n_snps",
                            log_y: bool = False) -> go.Figure:
    """Histogram of the number of SNPs assigned to each gene (DiseaseCapsule Suppl. Fig. 4).

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per gene (or window) with an integer column ``column``
        (:func:`genoapp.features.annotation_summary`).
    column : str
        Column holding the SNP count.
    log_y : bool
        Logarithmic count axis (the distribution has a long tail).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    counts = summary[column].to_numpy()
    fig = go.Figure(go.Histogram(x=counts, marker_color="#4c78a8",
                                 xbins={"start": 0.5, "size": 1} if counts.max(initial=0) <= 60 else None))
    med = np.median(counts) if len(counts) else 0
    fig.update_layout(
        title=f"SNPs per gene ({len(counts):,} genes, median {med:g}, max {counts.max(initial=0):,})",
        xaxis_title="SNPs assigned to the gene", yaxis_title="genes", template="plotly_white",
    )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def explained_variance_histogram(genes: pd.DataFrame) -> go.Figure:
    """Distribution of the share of a gene's variance kept by its Gene-PCA components.

    Parameters
    ----------
    genes : pandas.DataFrame
        ``GenePCA.genes_``: columns ``n_components`` and ``explained_variance_ratio_total``
        (fraction in [0, 1]).

    Returns
    -------
    plotly.graph_objects.Figure
        One histogram trace per number of components (k = 1, 4, 8).
    """
    fig = go.Figure()
    for k, sub in genes.groupby("n_components"):
        fig.add_histogram(x=sub["explained_variance_ratio_total"], name=f"k = {k} ({len(sub):,} genes)",
                          nbinsx=40, opacity=0.75)
    fig.update_layout(
        barmode="overlay",
        title="Variance of each gene's SNPs kept by its principal components",
        xaxis_title="explained variance ratio (sum over kept PCs)", yaxis_title="genes",
        template="plotly_white",
    )
    return fig


def scree_plot(explained_variance_ratio, *, title: str = "Explained variance",
               max_components: int | None = 200) -> go.Figure:
    """Scree plot: variance share of each component (bars) and its running total (line).

    Parameters
    ----------
    explained_variance_ratio : array-like, shape (n_components,)
        Fractions in [0, 1], in decreasing order (All-PCA, or the PCs of one gene).
    title : str
    max_components : int or None
        Show at most this many components (the cumulative line still counts all of them).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    r = np.asarray(explained_variance_ratio, dtype=float)
    cum = np.cumsum(r)
    n = len(r) if max_components is None else min(len(r), max_components)
    x = np.arange(1, n + 1)
    fig = go.Figure()
    fig.add_bar(x=x, y=r[:n], name="component", marker_color="#4c78a8")
    fig.add_scatter(x=x, y=cum[:n], name="cumulative", mode="lines+markers" if n <= 30 else "lines",
                    line={"color": "#f58518"}, yaxis="y2")
    total = f"; all {len(r):,} components: {cum[-1]:.1%}" if len(r) else ""
    fig.update_layout(
        title=f"{title}{total}", xaxis_title="principal component",
        yaxis={"title": "share of variance", "rangemode": "tozero"},
        yaxis2={"title": "cumulative share", "overlaying": "y", "side": "right", "range": [0, 1.02]},
        template="plotly_white", legend={"orientation": "h", "y": -0.2},
    )
    return fig


def gene_loadings_heatmap(loadings: pd.DataFrame, *, labels=None, title: str = "Loadings") -> go.Figure:
    """Heatmap of one gene's PC loadings (SNPs x components), diverging around 0.

    Parameters
    ----------
    loadings : pandas.DataFrame, shape (n_snps, n_components)
        ``GenePCA.gene_loadings(gene)``: columns ``pc1``, ``pc2``, ...
    labels : sequence of str, optional
        SNP labels (rows), e.g. variant IDs; default the index.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
    """
    z = loadings.to_numpy(dtype=float)
    lim = float(np.abs(z).max()) if z.size else 1.0
    y = [str(v) for v in (labels if labels is not None else loadings.index)]
    fig = go.Figure(go.Heatmap(z=z, x=list(loadings.columns), y=y, zmin=-lim, zmax=lim,
                               colorscale="RdBu", reversescale=True, colorbar={"title": "loading"}))
    fig.update_layout(title=title, xaxis_title="component", yaxis_title="SNP",
                      yaxis={"autorange": "reversed"}, template="plotly_white",
                      height=max(300, min(900, 18 * len(y) + 120)))
    return fig


def gene_snp_positions(snps: pd.DataFrame, *, gene_start: int | None = None,
                       gene_end: int | None = None, title: str = "SNPs of the gene") -> go.Figure:
    """SNP positions of one gene, coloured by how they were assigned (inside / nearest / window).

    Parameters
    ----------
    snps : pandas.DataFrame
        Rows of the annotation table for the gene: ``pos``, ``variant_id``, ``relation``,
        ``distance_bp``.
    gene_start, gene_end : int, optional
        Gene body (drawn as a bar).
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fig = go.Figure()
    colours = {"inside": "#4c78a8", "nearest": "#f58518", "window": "#54a24b"}
    for rel, sub in snps.groupby("relation", sort=False):
        fig.add_scatter(x=sub["pos"], y=np.zeros(len(sub)), mode="markers", name=f"{rel} ({len(sub)})",
                        marker={"color": colours.get(rel, "#888"), "size": 9, "symbol": "line-ns-open",
                                "line": {"width": 2}},
                        text=sub["variant_id"], customdata=sub["distance_bp"],
                        hovertemplate="%{text}<br>%{x:,} bp<br>distance %{customdata:,} bp<extra></extra>")
    if gene_start is not None and gene_end is not None:
        fig.add_shape(type="rect", x0=gene_start, x1=gene_end, y0=-0.3, y1=-0.15,
                      fillcolor="#999", line={"width": 0})
    fig.update_layout(title=title, xaxis_title="position (bp)", template="plotly_white", height=260,
                      yaxis={"visible": False, "range": [-0.5, 0.5]}, legend={"orientation": "h"})
    return fig
