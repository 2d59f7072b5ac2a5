"""GWAS and sample-structure figures: Manhattan, QQ (with genomic control) and sample PCA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = ["manhattan_plot", "qq_plot", "sample_pca_scatter", "chromosome_order"]

_PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6",
            "#9d755d", "#bab0ac", "#eeca3b")


def chromosome_order(chrom) -> list[str]:
    """Chromosome labels sorted as a genome browser: 1, 2, ..., 22, then X, Y, XY, MT, others."""
    labels = pd.unique(pd.Series(np.asarray(chrom)).astype(str))

    def key(c: str):
        t = c.upper().removeprefix("CHR")
        if t.isdigit():
            return (0, int(t), c)
        return (1, {"X": 0, "Y": 1, "XY": 2, "MT": 3, "M": 3}.get(t, 9), c)

    return sorted(labels, key=key)


def _thin(p: np.ndarray, keep_below: float, max_points: int, random_state: int) -> np.ndarray:
    """Indices to draw: every point with p < keep_below, the rest thinned to max_points."""
    idx = np.arange(p.size)
    strong = idx[p < keep_below]
    weak = idx[~(p < keep_below)]
    if weak.size > max_points:
        rng = np.random.default_rng(random_state)
        weak = np.sort(rng.choice(weak, size=max_points, replace=False))
    return np.sort(np.concatenate([strong, weak]))


def manhattan_plot(chrom, pos, pvalues, *, ids=None, threshold: float | None = 0.05,
                   genome_wide: float | None = 5e-8, title: str = "Manhattan plot",
                   max_background_points: int = 50_000, random_state: int = 0) -> go.Figure:
    """Manhattan plot: ``-log10(p)`` along the genome, chromosomes in alternating colours.

    Parameters
    ----------
    chrom, pos : array-like, shape (n_variants,)
        Chromosome codes and base-pair positions.
    pvalues : array-like, shape (n_variants,)
        Association p-values; non-finite ones are left out, 0 is drawn at the smallest positive
        double.
    ids : array-like of str, optional
        Variant IDs shown on hover.
    threshold : float, optional
        The GWAS filter threshold (dashed line); variants above it are kept.
    genome_wide : float, optional
        Genome-wide significance line (default 5e-8).
    title : str
    max_background_points : int
        Points with p >= 0.01 are thinned at random to at most this many (display only).
    random_state : int
        Seed of the thinning.

    Returns
    -------
    plotly.graph_objects.Figure
        x = cumulative position (chromosomes end to end, ticks at their centres).
    """
    df = pd.DataFrame({"chrom": np.asarray(chrom).astype(str),
                       "pos": np.asarray(pos, dtype=np.float64),
                       "p": np.asarray(pvalues, dtype=np.float64)})
    df["id"] = np.asarray(ids).astype(str) if ids is not None else ""
    df = df[np.isfinite(df["p"])]
    order = chromosome_order(df["chrom"])
    fig = go.Figure()
    offset = 0.0
    ticks, ticktext = [], []
    tiny = np.nextafter(0, 1)
    keep = df.index[_thin(df["p"].to_numpy(), 0.01, max_background_points, random_state)]
    df = df.loc[keep]
    for i, c in enumerate(order):
        d = df[df["chrom"] == c]
        if d.empty:
            continue
        lo, hi = float(d["pos"].min()), float(d["pos"].max())
        x = d["pos"].to_numpy() - lo + offset
        fig.add_trace(go.Scattergl(
            x=x, y=-np.log10(np.clip(d["p"].to_numpy(), tiny, 1.0)), mode="markers",
            marker={"size": 4, "color": _PALETTE[i % 2]}, name=str(c), showlegend=False,
            text=[f"{v} ({c}:{int(q):,}) p={pp:.3g}" for v, q, pp in
                  zip(d["id"], d["pos"], d["p"], strict=True)],
            hoverinfo="text"))
        ticks.append(offset + (hi - lo) / 2)
        ticktext.append(str(c))
        offset += (hi - lo) + max(1.0, 0.02 * (hi - lo)) + 1e6
    for y, name, dash in ((threshold, "filter", "dash"), (genome_wide, "genome-wide", "dot")):
        if y is not None:
            fig.add_hline(y=-np.log10(y), line_dash=dash, line_color="#e45756",
                          annotation_text=f"{name} p = {y:g}", annotation_position="top left")
    fig.update_layout(title=title, xaxis={"tickvals": ticks, "ticktext": ticktext,
                                          "title": "chromosome"},
                      yaxis_title="−log10(p)", template="plotly_white")
    return fig


def qq_plot(pvalues, *, lambda_gc: float | None = None, title: str = "QQ plot",
            max_points: int = 20_000) -> go.Figure:
    """Quantile-quantile plot of ``-log10(p)`` against the uniform expectation.

    Parameters
    ----------
    pvalues : array-like
        p-values; non-finite ones are left out.
    lambda_gc : float, optional
        Genomic-control lambda to show in the title (see
        :func:`genoapp.qc.genomic_control_lambda`).
    title : str
    max_points : int
        The smallest 2,000 p-values are always drawn; the rest are thinned evenly along the
        ranks to at most this many (display only).

    Returns
    -------
    plotly.graph_objects.Figure
        Points, the y = x diagonal and a 95 % band of the expected order statistics (Beta
        quantiles).
    """
    from scipy import stats

    p = np.asarray(pvalues, dtype=np.float64)
    p = np.sort(p[np.isfinite(p)])
    n = p.size
    fig = go.Figure()
    if n:
        ranks = np.arange(1, n + 1)
        keep = np.unique(np.concatenate([np.arange(min(n, 2000)),
                                         np.linspace(0, n - 1, min(n, max_points)).astype(int)]))
        exp = -np.log10((ranks[keep] - 0.5) / n)
        tiny = np.nextafter(0, 1)
        obs = -np.log10(np.clip(p[keep], tiny, 1.0))
        lo = -np.log10(stats.beta.ppf(0.975, ranks[keep], n - ranks[keep] + 1))
        hi = -np.log10(stats.beta.ppf(0.025, ranks[keep], n - ranks[keep] + 1))
        fig.add_trace(go.Scatter(x=np.concatenate([exp, exp[::-1]]),
                                 y=np.concatenate([lo, hi[::-1]]), fill="toself",
                                 fillcolor="rgba(180,180,180,0.3)", line={"width": 0},
                                 hoverinfo="skip", name="95 % band"))
        fig.add_trace(go.Scattergl(x=exp, y=obs, mode="markers", marker={"size": 4,
                                   "color": "#4c78a8"}, name="variants"))
        top = float(max(exp.max(), 1.0))
        fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines",
                                 line={"color": "#e45756", "dash": "dash"}, name="y = x"))
    lam = "" if lambda_gc is None or not np.isfinite(lambda_gc) else f" (λ_GC = {lambda_gc:.3f})"
    fig.update_layout(title=title + lam, xaxis_title="expected −log10(p)",
                      yaxis_title="observed −log10(p)", template="plotly_white")
    return fig


def sample_pca_scatter(pca, *, color_by: str = "batch", x: str = "PC1", y: str = "PC2",
                       title: str = "Sample PCA") -> go.Figure:
    """Scatter of samples on two principal components, coloured by a sample column.

    Parameters
    ----------
    pca : pandas.DataFrame
        One row per sample with ``PC1``, ``PC2``, ... and label columns (``batch``,
        ``phenotype``, ``set``, ``IID``); ``attrs["explained_variance_ratio"]`` (optional)
        adds the variance explained to the axis titles.
    color_by : str
        Column used for the colours (one trace per value).
    x, y : str
        Components on the axes.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure

    Raises
    ------
    KeyError
        ``color_by``, ``x`` or ``y`` is not a column.
    """
    for col in (color_by, x, y):
        if col not in pca.columns:
            raise KeyError(f"sample_pca_scatter: no column {col!r}; columns: {list(pca.columns)}")
    evr = pca.attrs.get("explained_variance_ratio") or []
    fig = go.Figure()
    for i, (val, d) in enumerate(pca.groupby(pca[color_by].astype(str), sort=True)):
        fig.add_trace(go.Scattergl(
            x=d[x], y=d[y], mode="markers", name=str(val),
            marker={"size": 5, "color": _PALETTE[i % len(_PALETTE)], "opacity": 0.75},
            text=d["IID"] if "IID" in d else None, hoverinfo="text+name"))

    def axis(name: str) -> str:
        k = int(name[2:]) - 1 if name.startswith("PC") and name[2:].isdigit() else -1
        return f"{name} ({100 * evr[k]:.1f} %)" if 0 <= k < len(evr) else name

    fig.update_layout(title=title, xaxis_title=axis(x), yaxis_title=axis(y),
                      legend_title=color_by, template="plotly_white")
    return fig
