"""Figures of the DiseaseCapsule interpretation suite (gene scan, core genes, nulls, GA).

Pure functions: results in, ``plotly.graph_objects.Figure`` out. Their layout follows the
DiseaseCapsule paper (Luo et al. 2023): Fig. 4a (distribution of the one-gene-only case
coupling with the 95th-percentile cut-off), Fig. 4b (test accuracy of 1,000 random gene sets
with the core-gene accuracy marked) and Suppl. Fig. 1 (accuracy against the number of genes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from genoapp.io.genes import chrom_order

__all__ = ["gene_score_histogram", "gene_score_genome", "null_histogram", "accuracy_vs_genes_figure",
           "ga_progress_figure", "model_comparison_figure", "recall_figure", "gene_scan_null_figure"]

_RED = "#d62728"
_BLUE = "#1f77b4"
_GREY = "#7f7f7f"


def gene_score_histogram(scores, *, cutoff: float | None = None, percentile: float | None = None,
                         n_core: int | None = None, title: str = "One-gene-only case coupling",
                         score_label: str = "c<sup>g</sup><sub>k*, case</sub>", n_bins: int = 80,
                         log_y: bool = False) -> go.Figure:
    """Histogram of per-gene scores with the core-gene cut-off (DiseaseCapsule Fig. 4a).

    Parameters
    ----------
    scores : array-like (G,)
        One score per gene (``GeneScanResult.scores()``).
    cutoff : float, optional
        Score at the core-gene percentile (``CoreGenes.cutoff``): a vertical red line.
    percentile : float, optional
        For the line's label ("95th percentile").
    n_core : int, optional
        Number of genes at or above the cut-off, for the label.
    title, score_label : str
    n_bins : int, default 80
    log_y : bool, default False
        Logarithmic count axis (long tails).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    s = np.asarray(scores, dtype=float)
    s = s[np.isfinite(s)]
    fig = go.Figure(go.Histogram(x=s, nbinsx=int(n_bins), marker_color=_BLUE, opacity=0.85,
                                 name="genes", hovertemplate="%{x}<br>%{y} genes<extra></extra>"))
    if cutoff is not None:
        label = "cut-off"
        if percentile is not None:
            label = f"{percentile:g}th percentile"
        if n_core is not None:
            label += f": {n_core:,} core genes"
        fig.add_vline(x=float(cutoff), line_color=_RED, line_width=2, line_dash="dash")
        fig.add_annotation(x=float(cutoff), y=1, yref="paper", text=label, showarrow=False,
                           xanchor="left", yanchor="bottom", font={"color": _RED})
    fig.update_layout(title=title, xaxis_title=score_label, yaxis_title="genes",
                      template="plotly_white", bargap=0.02, showlegend=False, height=380)
    fig.update_xaxes(exponentformat="e", showexponent="all")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def gene_score_genome(table: pd.DataFrame, *, title: str = "Case coupling along the genome",
                      score_label: str = "c<sup>g</sup><sub>k*, case</sub>") -> go.Figure:
    """Scores against genomic position, chromosome by chromosome, core genes in red.

    Parameters
    ----------
    table : pandas.DataFrame
        ``CoreGenes.table``: columns ``gene``, ``chrom``, ``start``, ``score``, ``core``.

    Returns
    -------
    plotly.graph_objects.Figure
        A Manhattan-style scatter (x: chromosome, then position).
    """
    need = {"gene", "chrom", "start", "score", "core"}
    if not need <= set(table.columns):
        return go.Figure().update_layout(title=f"{title} (no gene positions)")
    df = table.dropna(subset=["chrom", "start"]).copy()
    df["chrom"] = df["chrom"].astype(str)
    chroms = list(pd.unique(df["chrom"]))
    order = np.argsort(chrom_order(chroms), kind="stable")
    chroms = [chroms[i] for i in order]
    offsets, ticks, x0 = {}, [], 0.0
    for c in chroms:
        span = float(df.loc[df["chrom"] == c, "start"].max())
        offsets[c] = x0
        ticks.append(x0 + span / 2)
        x0 += span * 1.02 + 1
    df["x"] = df["start"].astype(float) + df["chrom"].map(offsets).astype(float)
    df["even"] = df["chrom"].map({c: i % 2 for i, c in enumerate(chroms)})
    fig = go.Figure()
    for even, colour in ((0, _BLUE), (1, "#aec7e8")):
        d = df[(df["even"] == even) & ~df["core"]]
        fig.add_trace(go.Scattergl(x=d["x"], y=d["score"], mode="markers", marker={"size": 4, "color": colour},
                                   text=d["gene"], name="genes", showlegend=bool(even == 0),
                                   hovertemplate="%{text}<br>%{y}<extra></extra>"))
    d = df[df["core"]]
    fig.add_trace(go.Scattergl(x=d["x"], y=d["score"], mode="markers", marker={"size": 6, "color": _RED},
                               text=d["gene"], name="core genes",
                               hovertemplate="%{text}<br>%{y}<extra></extra>"))
    fig.update_layout(title=title, yaxis_title=score_label, template="plotly_white", height=380,
                      xaxis={"tickmode": "array", "tickvals": ticks, "ticktext": chroms,
                             "title": "chromosome"})
    fig.update_yaxes(exponentformat="e", showexponent="all")
    return fig


def null_histogram(null_values, observed: float, *, mean: float | None = None, sd: float | None = None,
                   z: float | None = None, p_value: float | None = None, n_genes: int | None = None,
                   metric: str = "accuracy", title: str | None = None, n_bins: int = 40,
                   degenerate: str | None = None) -> go.Figure:
    """Histogram of a random-gene-set null with the observed value (DiseaseCapsule Fig. 4b).

    Parameters
    ----------
    null_values : array-like
        Metric of each random gene set (``NullResult.null["accuracy"]``).
    observed : float
        Metric of the tested set (the core genes): a vertical red line.
    mean, sd, z, p_value : float, optional
        Null mean (dotted line), SD, z-score and empirical p-value, shown in the title.
    n_genes : int, optional
        Genes per set, for the title.
    metric : str, default "accuracy"
    title : str, optional
    n_bins : int, default 40
    degenerate : str, optional
        ``NullResult.degenerate_reason`` of a degenerate comparison (one predicted class, SD 0):
        no histogram is drawn; the figure says "no test" with the reason and the two values.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    if degenerate:
        v = np.asarray(null_values, dtype=float)
        head = title or (f"Test {metric} with {n_genes:,} genes kept" if n_genes else f"Test {metric}, gene sets kept")
        fig = go.Figure()
        fig.add_annotation(x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, align="center",
                           text=(f"<b>No test</b>: {degenerate}.<br>Tested set: {metric} {observed:.3f}; "
                                 f"{v.size:,} random sets: {metric} {np.nanmean(v) if v.size else float('nan'):.3f}"),
                           font={"color": _RED, "size": 13})
        fig.update_layout(title={"text": head + " — no test (degenerate)"}, template="plotly_white", height=300,
                          xaxis={"visible": False}, yaxis={"visible": False}, showlegend=False)
        return fig
    v = np.asarray(null_values, dtype=float)
    mean = float(np.mean(v)) if mean is None and v.size else mean
    sd = float(np.std(v, ddof=1)) if sd is None and v.size > 1 else sd
    fig = go.Figure(go.Histogram(x=v, nbinsx=int(n_bins), marker_color=_GREY, opacity=0.8,
                                 name=f"{v.size:,} random gene sets",
                                 hovertemplate="%{x}<br>%{y} sets<extra></extra>"))
    fig.add_vline(x=float(observed), line_color=_RED, line_width=3)
    fig.add_annotation(x=float(observed), y=1, yref="paper", showarrow=False, xanchor="left",
                       yanchor="bottom", text=f"tested set: {observed:.3f}", font={"color": _RED})
    if mean is not None:
        fig.add_vline(x=mean, line_color="black", line_dash="dot", line_width=1)
    parts = []
    if mean is not None:
        parts.append(f"null mean {mean:.3f}")
    if sd is not None and np.isfinite(sd):
        parts.append(f"SD {sd:.3f}")
    if z is not None and np.isfinite(z):
        parts.append(f"z = {z:.2f}")
    if p_value is not None:
        parts.append(f"empirical p = {p_value:.3g}")
    head = title or (f"Test {metric} with {n_genes:,} genes kept" if n_genes else f"Test {metric}, gene sets kept")
    fig.update_layout(title={"text": head + ("<br><sup>" + ", ".join(parts) + "</sup>" if parts else "")},
                      xaxis_title=f"test {metric}", yaxis_title="random gene sets",
                      template="plotly_white", bargap=0.03, height=400, showlegend=False)
    return fig


def accuracy_vs_genes_figure(df: pd.DataFrame, *, metric: str = "accuracy",
                             title: str = "Test accuracy against the number of genes kept") -> go.Figure:
    """Accuracy against the number of genes kept (DiseaseCapsule Suppl. Fig. 1).

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`genoapp.interpret.accuracy_vs_n_genes` output (``kind``, ``n_genes``, metric
        columns) or the authors' ``figS1_accuracy_vs_n_genes.tsv`` (``numOfGenes`` and metric
        columns, random sets only).
    metric : str, default "accuracy"

    Returns
    -------
    plotly.graph_objects.Figure
        Box plots of the random sets per size (categorical axis, sizes in order) and, where
        present, the top-ranked sets as a red line.
    """
    d = df.rename(columns={"numOfGenes": "n_genes"}).copy()
    if "kind" not in d.columns:
        d["kind"] = "random"
    d[metric] = pd.to_numeric(d[metric], errors="coerce")
    sizes = sorted(int(s) for s in pd.unique(d["n_genes"]))
    labels = [f"{s:,}" for s in sizes]
    fig = go.Figure()
    r = d[d["kind"] == "random"]
    if len(r):
        fig.add_trace(go.Box(x=r["n_genes"].map(lambda s: f"{int(s):,}"), y=r[metric], name="random gene sets",
                             marker_color=_GREY, boxpoints="outliers"))
    t = d[d["kind"] != "random"]
    if len(t):
        t = t.groupby("n_genes", as_index=False)[metric].mean().sort_values("n_genes")
        fig.add_trace(go.Scatter(x=t["n_genes"].map(lambda s: f"{int(s):,}"), y=t[metric], mode="lines+markers",
                                 name="top-ranked genes", line={"color": _RED}))
    fig.update_layout(title=title, xaxis_title="number of genes kept", yaxis_title=f"test {metric}",
                      template="plotly_white", height=400,
                      xaxis={"type": "category", "categoryorder": "array", "categoryarray": labels})
    return fig


def ga_progress_figure(history: pd.DataFrame, *, title: str = "Genetic algorithm") -> go.Figure:
    """Best and mean fitness per generation, with the capsule and LR accuracies of the best mask.

    Parameters
    ----------
    history : pandas.DataFrame
        ``GAResult.history`` (columns ``generation``, ``best_fitness``, ``mean_fitness``,
        ``capsule_accuracy``, ``lr_accuracy``).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    h = history
    fig = go.Figure()
    if len(h):
        fig.add_trace(go.Scatter(x=h["generation"], y=h["best_fitness"], mode="lines", name="best fitness",
                                 line={"color": _RED, "width": 3}))
        fig.add_trace(go.Scatter(x=h["generation"], y=h["mean_fitness"], mode="lines", name="mean fitness",
                                 line={"color": _RED, "dash": "dot"}))
        fig.add_trace(go.Scatter(x=h["generation"], y=h["capsule_accuracy"], mode="lines",
                                 name="capsule training accuracy (best mask)", line={"color": _BLUE}))
        fig.add_trace(go.Scatter(x=h["generation"], y=h["lr_accuracy"], mode="lines",
                                 name="LR training accuracy (best mask)", line={"color": _GREY}))
    fig.update_layout(title=title, xaxis_title="generation",
                      yaxis_title="fitness = capsule − LR training accuracy; accuracies",
                      template="plotly_white", height=380, legend={"orientation": "h", "y": -0.25})
    return fig


def model_comparison_figure(metrics: pd.DataFrame, *, title: str = "Retrained on the selected genes (test set)",
                            columns=("accuracy", "precision", "recall")) -> go.Figure:
    """Grouped bars of test metrics per model (DiseaseCapsule Table 2).

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per model with a ``model`` column and the metric columns.
    columns : sequence of str

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fig = go.Figure()
    colours = [_RED, _GREY, _BLUE, "#2ca02c"]
    for i, (_, row) in enumerate(metrics.iterrows()):
        fig.add_trace(go.Bar(x=list(columns), y=[row[c] for c in columns], name=str(row["model"]),
                             marker_color=colours[i % len(colours)], text=[f"{row[c]:.3f}" for c in columns],
                             textposition="outside"))
    fig.add_hline(y=0.5, line_dash="dot", line_color="black", annotation_text="chance (balanced test set)")
    fig.update_layout(title=title, barmode="group", yaxis={"range": [0, 1.05], "title": "test value"},
                      template="plotly_white", height=380)
    return fig


def recall_figure(rows: pd.DataFrame, *, title: str = "Planted genes recovered") -> go.Figure:
    """Observed recall of planted genes per selection against random sets of the same size.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per selection: ``selection``, ``recall``, ``random_recall``,
        ``random_recall_95`` (as :func:`genoapp.interpret.planted_recall`).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fig = go.Figure()
    fig.add_trace(go.Bar(x=rows["selection"], y=rows["recall"], name="observed recall", marker_color=_RED))
    fig.add_trace(go.Bar(x=rows["selection"], y=rows["random_recall"],
                         name="random sets of the same size: expected (whisker: 95th percentile)",
                         marker_color=_GREY,
                         error_y={"type": "data", "symmetric": False,
                                  "array": (rows["random_recall_95"] - rows["random_recall"]).clip(lower=0),
                                  "arrayminus": np.zeros(len(rows))}))
    fig.update_layout(title=title, barmode="group", yaxis={"range": [0, 1], "title": "recall of planted genes"},
                      template="plotly_white", height=360)
    return fig


def gene_scan_null_figure(table: pd.DataFrame, null_values, *, n_labels: int = 10,
                          title: str = "Gene scan against permuted-label networks",
                          n_bins: int = 60, log_y: bool = True,
                          x_label: str | None = None) -> go.Figure:
    """Distribution of the real genes' standardised scores over the permuted-label null.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`genoapp.interpret.null.gene_scan_null` output (``gene``, ``z``, ``q``,
        ``significant``; ``attrs`` ``n_networks``, ``alpha``, ``scale``).
    null_values : array-like
        The pooled null on the same scale
        (:func:`genoapp.interpret.null.null_score_deviations` with the same ``scale``).
    n_labels : int, default 10
        Significant genes named on the figure, best first.
    title : str
    n_bins : int, default 60
    log_y : bool, default True
        Logarithmic density axis, so that the tails (where the findings are) are visible.
    x_label : str, optional
        Axis title for another statistic (e.g. the one-gene-only AUC - 0.5 of
        :func:`genoapp.interpret.null.gene_prediction_null`, whose table has the same columns).

    Returns
    -------
    plotly.graph_objects.Figure
        Two step histograms as densities on common bins (grey: the R x G null values; blue:
        the G real genes) and the significant genes as red ticks along the bottom, the first
        ``n_labels`` named. The x axis is the score minus its network's median, divided by its
        robust spread (``scale="mad"``) or not.
    """
    z = table["z"].to_numpy(dtype=float)
    v = np.asarray(null_values, dtype=float)
    v = v[np.isfinite(v)]
    sig = table["significant"].to_numpy(dtype=bool)
    attrs = getattr(table, "attrs", {}) or {}
    R, alpha = attrs.get("n_networks"), attrs.get("alpha", 0.05)
    both = np.concatenate([z[np.isfinite(z)], v])
    lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, int(max(n_bins, 1)) + 1)
    mids = 0.5 * (edges[1:] + edges[:-1])
    width = float(edges[1] - edges[0])

    def density(x):
        c, _ = np.histogram(x, bins=edges)
        return c / max(c.sum(), 1) / width

    dn, dr = density(v), density(z)
    pos = np.concatenate([dn[dn > 0], dr[dr > 0]])
    floor = float(pos.min()) / 3 if pos.size else 1e-3
    fig = go.Figure()
    for d, colour, name, what in ((dn, _GREY, f"null: {v.size:,} genes x networks (permuted labels)", "null"),
                                  (dr, _BLUE, f"real network: {z.size:,} genes", "real")):
        fig.add_trace(go.Bar(x=mids, y=np.where(d > 0, d, np.nan), width=width, marker_color=colour,
                             opacity=0.6, name=name,
                             hovertemplate="%{x:.3g}<br>density %{y:.3g}<extra>" + what + "</extra>"))
    if sig.any():
        d = table[sig]
        fig.add_trace(go.Scatter(x=d["z"], y=np.full(len(d), floor), mode="markers", name="significant genes",
                                 marker={"symbol": "line-ns-open", "size": 16, "color": _RED, "line": {"width": 2}},
                                 text=d["gene"], customdata=d["q"],
                                 hovertemplate="%{text}<br>z = %{x:.3g}<br>q = %{customdata:.3g}<extra></extra>"))
        for i, (_, row) in enumerate(d.head(int(n_labels)).iterrows()):
            fig.add_annotation(x=float(row["z"]), y=np.log10(floor) if log_y else floor, yshift=16 + 14 * (i % 4),
                               text=str(row["gene"]), showarrow=False, xanchor="left",
                               font={"color": _RED, "size": 10})
    n_sig = int(sig.sum())
    sub = (f"{n_sig:,} of {z.size:,} genes significant (Benjamini-Hochberg q < {alpha:g})" if n_sig else
           f"no gene beyond the permuted-label null (q < {alpha:g})")
    if R:
        sub += f" against {R} permuted-label network{'s' if R != 1 else ''}"
    xl = x_label or ("(score − network median) / robust spread" if attrs.get("scale", "mad") == "mad"
                     else "score − network median")
    fig.update_layout(title={"text": f"{title}<br><sup>{sub}</sup>"}, barmode="overlay", bargap=0,
                      xaxis_title=xl, yaxis_title="density", template="plotly_white", height=420,
                      legend={"orientation": "h", "y": -0.2})
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    return fig
