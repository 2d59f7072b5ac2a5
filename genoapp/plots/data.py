"""Figures for the Data step."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


def cases_controls_bar(table: pd.DataFrame) -> go.Figure:
    """Stacked bars of cases and controls per batch.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :meth:`genoapp.cohort.Cohort.cases_controls_table`: columns ``batch``,
        ``cases``, ``controls`` (the ``Total`` row is left out of the plot).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    t = table[table["batch"].astype(str) != "Total"]
    fig = go.Figure()
    fig.add_bar(name="controls", x=t["batch"].astype(str), y=t["controls"], marker_color="#4c78a8")
    fig.add_bar(name="cases", x=t["batch"].astype(str), y=t["cases"], marker_color="#e45756")
    fig.update_layout(
        barmode="stack",
        title="Cases and controls per batch",
        xaxis_title="batch",
        yaxis_title="samples",
        legend_title="phenotype",
        template="plotly_white",
    )
    return fig
