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
