"""Figures for the DiseaseCapsule interpretation (coupling coefficients)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def coupling_heatmap(mean_coupling, *, title: str = "Coupling coefficients",
                     highlight_type: int | None = None, class_names=("control", "case"),
                     zmin: float | None = None, zmax: float | None = None) -> go.Figure:
    """Heatmap of coupling coefficients c_kj: 2 phenotype capsules x 32 primary capsule types.

    Parameters
    ----------
    mean_coupling : array-like
        Shape (2, n_types): row j = mean over samples whose true label is j of c_kj, the
        coupling of primary type k to phenotype capsule j summed over the type's positions
        (:func:`genoapp.interpret.mean_coupling_by_label`; DiseaseCapsule Fig. 3). With the
        input-axis routing softmax each row sums to 1 and the baseline is 1/n_types.
    title : str
        Figure title.
    highlight_type : int, optional
        0-based primary type k* to outline (e.g. the type with the strongest case coupling).
    class_names : tuple of str
        Row labels for class 0 and class 1.
    zmin, zmax : float, optional
        Colour range (pass the same values for the training and test heatmaps to compare them).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    z = np.asarray(mean_coupling, dtype=float)
    n_types = z.shape[1]
    x = [str(k + 1) for k in range(n_types)]
    fig = go.Figure(go.Heatmap(
        z=z, x=x, y=list(class_names), colorscale="Viridis", zmin=zmin, zmax=zmax,
        colorbar={"title": "c<sub>kj</sub>"},
        hovertemplate="type %{x}<br>%{y}: %{z:.4f}<extra></extra>",
    ))
    if highlight_type is not None:
        fig.add_shape(type="rect", x0=highlight_type - 0.5, x1=highlight_type + 0.5, y0=-0.5, y1=1.5,
                      line={"color": "#e45756", "width": 3})
        fig.add_annotation(x=highlight_type, y=1.5, yshift=12, showarrow=False,
                           text=f"k* = {highlight_type + 1}", font={"color": "#e45756"})
    fig.update_layout(title=title, xaxis_title="primary capsule type (1-based)",
                      yaxis_title="phenotype capsule (true label)", template="plotly_white",
                      height=300)
    return fig


def coupling_deviation_heatmaps(null, *, title: str = "Coupling against permuted-label networks",
                                class_names=("control", "case"),
                                highlight_type: int | None = None) -> go.Figure:
    """Deviation of the mean coupling from 1/K: the real network above its permuted-label
    references, on one symmetric diverging colour scale.

    Parameters
    ----------
    null : genoapp.interpret.null.CouplingNull
        :func:`genoapp.interpret.null.coupling_against_null` output: ``deviation`` (2, K),
        ``reference_deviation`` (R, 2, K), the shared ``limit``, ``exceeds`` (2, K),
        ``baseline``, ``verdict``.
    title : str
        Figure title; the verdict is added below it.
    class_names : tuple of str
        Row labels for class 0 and class 1.
    highlight_type : int, optional
        0-based primary type k* to outline on the real network's panel.

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap per network (real first), colour range ``[-limit, limit]`` centred on 0
        (blue below 1/K, red above), so a cell looks like a pattern only as far as it stands
        out from what networks trained on permuted labels show. Cells of the real network
        beyond the reference are marked by a black square outline.
    """
    from plotly.subplots import make_subplots

    dev = np.asarray(null.deviation, dtype=float)
    refs = np.asarray(null.reference_deviation, dtype=float)
    n_types = dev.shape[1]
    lim = float(null.limit) if np.isfinite(null.limit) and null.limit > 0 else 1e-12
    x = [str(k + 1) for k in range(n_types)]
    y = list(class_names)
    names = ["real network (observed labels)"] + [f"reference {r + 1} (permuted labels)"
                                                  for r in range(refs.shape[0])]
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=names)
    for i, z in enumerate([dev, *refs]):
        fig.add_trace(go.Heatmap(z=z, x=x, y=y, coloraxis="coloraxis", name=names[i],
                                 hovertemplate="type %{x}<br>%{y}: c − 1/K = %{z:.3e}<extra>"
                                               + names[i] + "</extra>"), row=i + 1, col=1)
    ex = np.asarray(null.exceeds, dtype=bool)
    if ex.any():
        jj, kk = np.nonzero(ex)
        fig.add_trace(go.Scatter(x=[x[k] for k in kk], y=[y[j] for j in jj], mode="markers",
                                 marker={"symbol": "square-open", "size": 16, "color": "black",
                                         "line": {"width": 2}},
                                 name="beyond the reference", showlegend=True,
                                 hovertemplate="type %{x}, %{y}: beyond the reference<extra></extra>"),
                      row=1, col=1)
    if highlight_type is not None:
        fig.add_shape(type="rect", x0=highlight_type - 0.5, x1=highlight_type + 0.5, y0=-0.5, y1=1.5,
                      line={"color": "#e45756", "width": 3}, row=1, col=1)
    fig.update_layout(
        title={"text": f"{title}<br><sup>{null.verdict}; colour: c<sub>kj</sub> − 1/{n_types} "
                       f"(1/{n_types} = {null.baseline:.5f}), shared range ±{lim:.2e}</sup>"},
        coloraxis={"colorscale": "RdBu_r", "cmin": -lim, "cmax": lim, "cmid": 0.0,
                   "colorbar": {"title": "c<sub>kj</sub> − 1/K", "exponentformat": "e"}},
        template="plotly_white", height=140 + 150 * len(names),
        legend={"orientation": "h", "y": -0.12})
    fig.update_xaxes(title_text="primary capsule type (1-based)", row=len(names), col=1)
    return fig
