"""Figures for the Features step (annotation and Gene-PCA)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def snps_per_gene_histogram(summary: pd.DataFrame, *, column: str = "n_snps") -> go.Figure:
    """Histogram of the number of SNPs assigned to each gene (DiseaseCapsule Suppl. Fig. 4).

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per gene (or window) with an integer column ``column``
        (:func:`genoapp.features.annotation_summary`).
    column : str
        Column holding the SNP count.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    counts = summary[column].to_numpy()
    fig = go.Figure(go.Histogram(x=counts, marker_color="#4c78a8",
                                 xbins={"start": 0.5, "size": 1} if counts.max(initial=0) <= 60 else None))
    fig.update_layout(
        title=f"SNPs per gene ({len(counts):,} genes, median {np.median(counts) if len(counts) else 0:g})",
        xaxis_title="SNPs assigned to the gene", yaxis_title="genes", template="plotly_white",
    )
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
