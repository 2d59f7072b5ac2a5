"""Figures of the Learn page's sequence-to-phenotype lesson (pure functions -> plotly figures).

Phenotype histograms with a KS test, the one-hot encoding of a sequence, loss curves,
predicted versus observed, prediction errors, per-position importance bars with the true causal
loci marked, and a sequence logo drawn with letter glyphs (no extra library).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from genoapp.errors import InputDataError

__all__ = [
    "NUCLEOTIDE_COLORS",
    "phenotype_histograms",
    "one_hot_figure",
    "loss_curves",
    "predicted_vs_observed",
    "error_histogram",
    "position_scores_bar",
    "sequence_logo",
]

#: Classic logo colours (A green, C blue, G orange, T red).
NUCLEOTIDE_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}
_SET_COLORS = ["#9e9e9e", "#4c78a8", "#e45756", "#54a24b"]
_CAUSAL = "#d62728"
_OTHER = "#9aa5b1"


def phenotype_histograms(sets: dict, *, ks_statistic: float | None = None,
                         ks_pvalue: float | None = None, nbins: int = 40,
                         title: str = "Phenotype distribution", x_title: str = "phenotype") -> go.Figure:
    """Phenotype histograms (densities on common bins) of several sets, e.g. all / training / test.

    Each set is drawn as a step outline (``numpy.histogram(density=True)``), so overlapping
    sets stay visible; the first set is dashed.

    Parameters
    ----------
    sets : dict of str -> array-like
        Set name -> phenotype values, shape (n_set,), raw units; drawn in order.
    ks_statistic, ks_pvalue : float, optional
        Two-sample Kolmogorov-Smirnov result (training vs test), shown in the title.
    nbins : int, default 40
    title, x_title : str
        Figure title and x-axis title (for other values than a phenotype, e.g. a PC).

    Returns
    -------
    plotly.graph_objects.Figure
        One step-line trace per set, named ``"<set> (n = N)"``.
    """
    values = {k: np.asarray(v, dtype=np.float64) for k, v in sets.items()}
    allv = np.concatenate([v for v in values.values() if v.size]) if values else np.zeros(0)
    lo, hi = (float(allv.min()), float(allv.max())) if allv.size else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, nbins + 1)
    fig = go.Figure()
    for i, (name, v) in enumerate(values.items()):
        dens = np.histogram(v, bins=edges, density=True)[0] if v.size else np.zeros(nbins)
        fig.add_scatter(x=edges, y=np.append(dens, dens[-1]), mode="lines", line_shape="hv",
                        name=f"{name} (n = {v.size:,})",
                        line={"color": _SET_COLORS[i % len(_SET_COLORS)],
                              "width": 3 if i == 0 else 2, "dash": "dash" if i == 0 else "solid"})
    if ks_statistic is not None:
        title += f"<br><sup>training vs test: KS D = {ks_statistic:.3f}"
        title += f", p = {ks_pvalue:.3g}</sup>" if ks_pvalue is not None else "</sup>"
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title="density",
                      template="plotly_white")
    return fig


def one_hot_figure(sequence: str, encoded, *, start: int = 0, stop: int = 30) -> go.Figure:
    """The one-hot matrix of one sequence as a heatmap (rows A, C, G, T; columns positions).

    Parameters
    ----------
    sequence : str
        The sequence (length L).
    encoded : array-like (L, 4)
        Its one-hot encoding (columns A, C, G, T).
    start, stop : int, default 0 and 30
        Positions shown (0-based, stop excluded).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    E = np.asarray(encoded)
    if E.ndim != 2 or E.shape[1] != 4 or E.shape[0] != len(sequence):
        raise InputDataError(
            f"encoded: expected shape ({len(sequence)}, 4) for a sequence of {len(sequence)} bp, "
            f"got {E.shape}."
        )
    stop = min(stop, len(sequence))
    pos = list(range(start, stop))
    z = E[start:stop].T
    fig = go.Figure(go.Heatmap(
        z=z, x=[f"{p}<br>{sequence[p]}" for p in pos], y=list("ACGT"), colorscale="Blues",
        showscale=False, zmin=0, zmax=1, text=z.astype(int), texttemplate="%{text}",
        xgap=1, ygap=1))
    fig.update_layout(title=f"One-hot encoding, positions {start}-{stop - 1} (columns A, C, G, T "
                            "in a fixed order)", xaxis_title="position / nucleotide",
                      yaxis_autorange="reversed", template="plotly_white", height=260)
    return fig


def loss_curves(history, *, best_epoch: int | None = None) -> go.Figure:
    """Training and validation loss per epoch (one panel).

    Parameters
    ----------
    history : list of dict or pandas.DataFrame
        Records with ``epoch``, ``train_loss`` and optionally ``val_loss``.
    best_epoch : int, optional
        Epoch whose weights were kept; drawn as a dotted vertical line.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    h = pd.DataFrame(history)
    fig = go.Figure()
    for key, name, color in (("train_loss", "training", "#4c78a8"),
                             ("val_loss", "validation", "#e45756")):
        if key in h and h[key].notna().any():
            fig.add_scatter(x=h["epoch"], y=h[key], mode="lines+markers", name=name,
                            line_color=color)
    if best_epoch is not None:
        fig.add_vline(x=best_epoch, line_dash="dot", line_color="grey",
                      annotation_text=f"best epoch {best_epoch}")
    fig.update_layout(title="Loss (MSE, standardised phenotype)", xaxis_title="epoch",
                      yaxis_title="MSE", template="plotly_white")
    return fig


def predicted_vs_observed(y_true, y_pred, *, r2: float | None = None,
                          mse: float | None = None) -> go.Figure:
    """Scatter of predicted against observed test phenotypes with the identity line.

    Parameters
    ----------
    y_true, y_pred : array-like (n,)
        Observed and predicted phenotypes, same units.
    r2, mse : float, optional
        Shown in the title.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    lo = float(min(t.min(), p.min())) if t.size else 0.0
    hi = float(max(t.max(), p.max())) if t.size else 1.0
    fig = go.Figure()
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot", "color": "grey"},
                    name="y = x")
    fig.add_scatter(x=t, y=p, mode="markers", marker={"size": 4, "opacity": 0.5,
                                                      "color": "#4c78a8"}, name="test sequences")
    parts = [f"R² = {r2:.3f}" if r2 is not None else "", f"MSE = {mse:.3f}" if mse is not None else ""]
    sub = ", ".join(x for x in parts if x)
    fig.update_layout(title="Predicted vs observed (test set)" + (f"<br><sup>{sub}</sup>" if sub else ""),
                      xaxis_title="observed phenotype", yaxis_title="predicted phenotype",
                      template="plotly_white")
    return fig


def error_histogram(y_true, y_pred, *, nbins: int = 40) -> go.Figure:
    """Histogram of prediction errors (predicted - observed) on the test set.

    Parameters
    ----------
    y_true, y_pred : array-like (n,)
    nbins : int, default 40

    Returns
    -------
    plotly.graph_objects.Figure
    """
    e = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    fig = go.Figure(go.Histogram(x=e, nbinsx=nbins, marker_color="#4c78a8", name="error"))
    fig.add_vline(x=0.0, line_dash="dot", line_color="grey")
    fig.update_layout(title=f"Prediction error (test set)<br><sup>mean {e.mean():.3f}, "
                            f"SD {e.std(ddof=1) if e.size > 1 else float('nan'):.3f}</sup>",
                      xaxis_title="predicted - observed", yaxis_title="sequences",
                      template="plotly_white")
    return fig


def position_scores_bar(scores, *, causal=None, top: int = 20, title: str = "Importance",
                        yaxis_title: str = "score") -> go.Figure:
    """Bar per sequence position, true causal loci in red, the top positions marked.

    Parameters
    ----------
    scores : array-like (L,)
        One score per position (e.g. gradient saliency or ISM score).
    causal : array-like of int, optional
        True causal positions (0-based), coloured red.
    top : int, default 20
        The ``top`` highest positions get a triangle marker above their bar.
    title, yaxis_title : str

    Returns
    -------
    plotly.graph_objects.Figure
    """
    s = np.asarray(scores, dtype=np.float64)
    L = s.size
    pos = np.arange(L)
    is_causal = np.isin(pos, np.asarray([] if causal is None else causal, dtype=np.int64))
    fig = go.Figure()
    fig.add_bar(x=pos[~is_causal], y=s[~is_causal], marker_color=_OTHER, name="other position")
    if is_causal.any():
        fig.add_bar(x=pos[is_causal], y=s[is_causal], marker_color=_CAUSAL,
                    name="true causal locus")
    k = min(int(top), L)
    top_idx = np.argsort(-s, kind="stable")[:k]
    fig.add_scatter(x=top_idx, y=s[top_idx] + 0.03 * (s.max() if s.size else 1.0),
                    mode="markers", marker={"symbol": "triangle-down", "size": 8,
                                            "color": "black"}, name=f"top {k}")
    if causal is not None:
        hits = int(is_causal[top_idx].sum())
        title += f"<br><sup>{hits} of the top {k} positions are true causal loci</sup>"
    fig.update_layout(title=title, xaxis_title="position (0-based)", yaxis_title=yaxis_title,
                      barmode="overlay", bargap=0.1, template="plotly_white")
    return fig


def _glyph(letter: str) -> list[np.ndarray]:
    """Polygons (subpaths, in a unit box) that draw a letter; holes have the opposite winding."""
    if letter == "A":
        outer = [(0, 0), (0.38, 1), (0.62, 1), (1, 0), (0.76, 0), (0.67, 0.27), (0.33, 0.27),
                 (0.24, 0)]
        hole = [(0.39, 0.43), (0.61, 0.43), (0.5, 0.76)]
        return [np.array(outer, float), np.array(hole, float)]
    if letter == "T":
        return [np.array([(0, 1), (1, 1), (1, 0.83), (0.59, 0.83), (0.59, 0), (0.41, 0),
                          (0.41, 0.83), (0, 0.83)], float)]
    if letter in ("C", "G"):
        a0, a1 = (np.deg2rad(45), np.deg2rad(315)) if letter == "C" else (np.deg2rad(40),
                                                                          np.deg2rad(360))
        t = np.linspace(a0, a1, 40)
        outer = np.column_stack([0.5 + 0.5 * np.cos(t), 0.5 + 0.5 * np.sin(t)])
        inner = np.column_stack([0.5 + 0.32 * np.cos(t[::-1]), 0.5 + 0.32 * np.sin(t[::-1])])
        polys = [np.vstack([outer, inner])]
        if letter == "G":
            polys.append(np.array([(0.55, 0.42), (1, 0.42), (1, 0.56), (0.55, 0.56)], float))
        return polys
    raise InputDataError(f"sequence_logo: no glyph for {letter!r}; columns must be A, C, G, T.")


def _path(polys: list[np.ndarray], x0: float, width: float, y0: float, height: float) -> str:
    parts = []
    for poly in polys:
        xs = x0 + poly[:, 0] * width
        ys = y0 + poly[:, 1] * height
        parts.append("M " + " L ".join(f"{x:.4f},{y:.5f}" for x, y in zip(xs, ys, strict=True)) + " Z")
    return " ".join(parts)


def sequence_logo(matrix: pd.DataFrame, *, causal=None, title: str = "Sequence logo",
                  yaxis_title: str = "effect") -> go.Figure:
    """A sequence logo: at each position, letters stacked with heights = |value|.

    Positive values stack upwards from 0 (largest on top), negative ones downwards (largest at
    the bottom), as weight logos do (e.g. logomaker's saliency logos). Here typically the
    centred mean effect of each nucleotide (in-silico mutagenesis) or the centred true effects.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Shape (K, 4): index = positions (drawn left to right in the given order), columns
        A, C, G, T (any subset/order of them), values in phenotype units.
    causal : array-like of int, optional
        True causal positions: their tick labels are shown bold with a dot.
    title, yaxis_title : str

    Returns
    -------
    plotly.graph_objects.Figure
        Letters are layout shapes; an invisible scatter gives hover values.

    Raises
    ------
    InputDataError
        A column that is not A, C, G or T.
    """
    M = pd.DataFrame(matrix)
    glyphs = {c: _glyph(str(c)) for c in M.columns}
    causal_set = set(np.asarray([] if causal is None else causal, dtype=np.int64).tolist())
    shapes, hx, hy, htext, hcolor = [], [], [], [], []
    width = 0.9
    ymin, ymax = 0.0, 0.0
    for slot, (position, row) in enumerate(M.iterrows()):
        vals = row.to_numpy(dtype=np.float64)
        order_pos = [i for i in np.argsort(vals) if vals[i] > 0]  # small first, largest on top
        order_neg = [i for i in np.argsort(-vals) if vals[i] < 0]  # small |v| first, from 0 down
        y = 0.0
        for i in order_pos:
            letter = str(M.columns[i])
            shapes.append(_shape(_path(glyphs[letter], slot - width / 2, width, y, vals[i]), letter))
            hx.append(slot)
            hy.append(y + vals[i] / 2)
            y += vals[i]
            htext.append(f"position {position}, {letter}: {vals[i]:+.3g}")
            hcolor.append(NUCLEOTIDE_COLORS[letter])
        ymax = max(ymax, y)
        y = 0.0
        for i in order_neg:
            letter = str(M.columns[i])
            shapes.append(_shape(_path(glyphs[letter], slot - width / 2, width, y + vals[i],
                                       -vals[i]), letter))
            hx.append(slot)
            hy.append(y + vals[i] / 2)
            y += vals[i]
            htext.append(f"position {position}, {letter}: {vals[i]:+.3g}")
            hcolor.append(NUCLEOTIDE_COLORS[letter])
        ymin = min(ymin, y)
    fig = go.Figure()
    fig.add_scatter(x=hx, y=hy, mode="markers", marker={"size": 12, "opacity": 0, "color": hcolor},
                    hovertext=htext, hoverinfo="text", showlegend=False)
    for letter, color in NUCLEOTIDE_COLORS.items():  # legend
        if letter in glyphs:
            fig.add_scatter(x=[None], y=[None], mode="markers", name=letter,
                            marker={"symbol": "square", "size": 12, "color": color})
    ticks = [f"<b>{p}•</b>" if int(p) in causal_set else str(p) for p in M.index]
    pad = 0.05 * max(ymax - ymin, 1e-9)
    fig.update_layout(shapes=shapes, title=title, template="plotly_white",
                      xaxis={"tickmode": "array", "tickvals": list(range(len(M))),
                             "ticktext": ticks, "range": [-0.6, len(M) - 0.4],
                             "title": "position" + (" (• = true causal locus)" if causal_set else "")},
                      yaxis={"range": [ymin - pad, ymax + pad], "title": yaxis_title,
                             "zeroline": True})
    return fig


def _shape(path: str, letter: str) -> dict:
    color = NUCLEOTIDE_COLORS[letter]
    return {"type": "path", "path": path, "fillcolor": color, "line": {"width": 0},
            "xref": "x", "yref": "y", "layer": "above"}


def split_comparison_figure(table: pd.DataFrame, *, by: str, metric: str, label: str,
                            title: str, chance: float | None = None) -> go.Figure:
    """One box (all points, mean marked) of ``metric`` per value of ``by``, in table order.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per repeat and protocol/split; a ``repeat`` column labels the points.
    by, metric : str
        Column of the protocol/split names and of the values.
    label, title : str
        Axis label of the metric and figure title.
    chance : float, optional
        A dotted reference line (e.g. 0.5 for accuracy).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fig = go.Figure()
    colors = ["#4c78a8", "#e45756"]
    for i, (name, g) in enumerate(table.groupby(by, sort=False)):
        fig.add_box(y=g[metric], name=str(name), boxpoints="all", jitter=0.3, pointpos=0,
                    marker_color=colors[i % 2], boxmean=True,
                    text=[f"split {r}" for r in g["repeat"]], hovertemplate="%{text}: %{y:.3f}")
    if chance is not None:
        fig.add_hline(y=chance, line_dash="dot", line_color="grey", annotation_text="chance")
    fig.update_layout(title=title, yaxis_title=label, template="plotly_white", showlegend=False)
    return fig


def leakage_figure(table: pd.DataFrame, *, metric: str = "test_accuracy") -> go.Figure:
    """Test metric of the honest and the leaky protocol, one point per repeat, with the mean.

    Parameters
    ----------
    table : pandas.DataFrame
        :attr:`genoapp.learn.casecontrol.LeakageResult.table` (``protocol``, ``repeat`` and
        the metric column).
    metric : {"test_accuracy", "test_roc_auc"}

    Returns
    -------
    plotly.graph_objects.Figure
    """
    label = {"test_accuracy": "test accuracy", "test_roc_auc": "test ROC AUC"}.get(metric, metric)
    return split_comparison_figure(table, by="protocol", metric=metric, label=label, chance=0.5,
                                   title=f"Same data, same model: {label} by protocol")


def grouped_bars(table: pd.DataFrame, *, x: str, color: str, y: str, y_title: str, title: str,
                 chance: float | None = None) -> go.Figure:
    """Bars of ``y`` grouped by ``x`` and coloured by ``color`` (one trace per colour value).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fig = go.Figure()
    for i, (name, g) in enumerate(table.groupby(color, sort=False)):
        fig.add_bar(x=g[x], y=g[y], name=str(name), marker_color=_SET_COLORS[i % len(_SET_COLORS)],
                    text=[f"{v:.2f}" for v in g[y]], textposition="outside")
    if chance is not None:
        fig.add_hline(y=chance, line_dash="dot", line_color="grey", annotation_text="chance")
    fig.update_layout(barmode="group", title=title, yaxis_title=y_title, template="plotly_white")
    return fig
