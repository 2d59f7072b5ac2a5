"""Figures for quantitative traits: scree plot, observed vs predicted, importance, comparisons.

Pure functions: tables in, ``plotly.graph_objects.Figure`` out (the page adds display and
downloads). Inputs are the tables of a quantitative :class:`genoapp.workflows.ProtocolResult` (or of a
saved run).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "fold_scores_figure",
    "importance_figure",
    "model_comparison_figure",
    "observed_vs_predicted",
    "observed_vs_predicted_panels",
    "scree_plot",
]

_PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6",
            "#9d755d", "#bab0ac", "#eeca3b"]
_METRIC_LABEL = {"mse": "MSE (standardised trait)", "r": "Pearson r", "dcor": "dCor"}


def scree_plot(eigenvalues, *, elbow: int | None = None, plateau: int | None = None,
               chosen: int | None = None, max_rank: int | None = None,
               log_y: bool = False) -> go.Figure:
    """Eigenvalues of the relationship matrix against their rank, with the chosen cut-offs.

    Parameters
    ----------
    eigenvalues : array-like
        ``(n,)`` eigenvalues in descending order.
    elbow : int, optional
        Automatic elbow (Kneedle) rank, drawn as a dashed line.
    plateau : int, optional
        The paper's rule (where the eigenvalues stop decreasing), dotted line.
    chosen : int, optional
        The rank m used, solid line.
    max_rank : int, optional
        Show the first ``max_rank`` eigenvalues only (default: up to 3 x the largest marked
        rank, at least 50, at most all).
    log_y : bool, default False
        Logarithmic eigenvalue axis.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    lam = np.asarray(eigenvalues, dtype=np.float64).ravel()
    marks = [v for v in (elbow, plateau, chosen) if v]
    if max_rank is None:
        max_rank = int(min(lam.size, max(50, 3 * max(marks, default=0))))
    k = np.arange(1, min(max_rank, lam.size) + 1)
    fig = go.Figure()
    fig.add_scatter(x=k, y=lam[: k.size], mode="lines+markers", marker={"size": 4},
                    line={"color": _PALETTE[0]}, name="eigenvalue",
                    hovertemplate="rank %{x}<br>eigenvalue %{y:.4g}<extra></extra>")
    styles = (("elbow (Kneedle)", elbow, "dash", _PALETTE[1]),
              ("plateau (paper's rule)", plateau, "dot", _PALETTE[2]),
              ("m used", chosen, "solid", _PALETTE[3]))
    for label, value, dash, color in styles:
        if value:
            fig.add_vline(x=value, line={"dash": dash, "color": color, "width": 2})
            fig.add_scatter(x=[None], y=[None], mode="lines", name=f"{label}: {value}",
                            line={"dash": dash, "color": color})
    total = lam.sum()
    sub = ""
    if chosen and total > 0:
        sub = f" — the first {chosen} carry {100 * lam[:chosen].sum() / total:.1f} % of the trace"
    fig.update_layout(template="plotly_white", title=f"Scree plot of the relationship matrix{sub}",
                      xaxis_title="rank", yaxis_title="eigenvalue",
                      yaxis_type="log" if log_y else "linear", legend={"orientation": "h"})
    return fig


def observed_vs_predicted(predictions: pd.DataFrame, *, model: str, trait: str,
                          inputs: str | None = None, metrics: dict | None = None,
                          scale: str = "standardised", max_points: int = 20000) -> go.Figure:
    """Observed against predicted test values of one model and trait (paper Fig. 1).

    Parameters
    ----------
    predictions : pandas.DataFrame
        ``ProtocolResult.predictions`` of a quantitative run: ``model``, ``trait``,
        ``repeat``, ``fold``, ``observed``, ``predicted``, ``observed_std``,
        ``predicted_std`` (and ``input``).
    model, trait : str
    inputs : str, optional
        Input set to show (when the table has several).
    metrics : dict, optional
        ``r``, ``dcor``, ``mse`` (means over folds) for the title; default: computed on the
        points shown, pooled over folds (labelled "pooled").
    scale : {"standardised", "original"}, default "standardised"
        Training-fold standardised values (comparable across folds) or trait units.
    max_points : int, default 20,000
        Subsample evenly beyond this many points.

    Returns
    -------
    plotly.graph_objects.Figure
        One point per test prediction, coloured by repeat, with the identity line.
    """
    p = predictions
    sel = (p["model"] == model) & (p["trait"] == trait)
    if inputs is not None and "input" in p.columns:
        sel &= p["input"] == inputs
    d = p.loc[sel]
    xcol, ycol = ("observed_std", "predicted_std") if scale == "standardised" else (
        "observed", "predicted")
    if len(d) > max_points:
        d = d.iloc[np.linspace(0, len(d) - 1, max_points).astype(int)]
    fig = go.Figure()
    for i, (rep, g) in enumerate(d.groupby("repeat", sort=True)):
        fig.add_scatter(x=g[ycol], y=g[xcol], mode="markers", name=f"repeat {rep}",
                        marker={"size": 5, "opacity": 0.55,
                                "color": _PALETTE[i % len(_PALETTE)]},
                        customdata=np.c_[g["fold"]],
                        hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}"
                                      "<br>fold %{customdata[0]}<extra></extra>")
    if len(d):
        lo = float(np.nanmin([d[xcol].min(), d[ycol].min()]))
        hi = float(np.nanmax([d[xcol].max(), d[ycol].max()]))
        fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x",
                        line={"dash": "dot", "color": "grey"})
    if metrics is None and len(d) >= 2:
        from genoapp.metrics import regression_metrics

        m = regression_metrics(d["observed_std"].to_numpy(), d["predicted_std"].to_numpy())
        head = f"pooled r = {m['r']:.3f}, dCor = {m['dcor']:.3f}"
    elif metrics:
        head = (f"r = {metrics.get('r', np.nan):.3f}, dCor = {metrics.get('dcor', np.nan):.3f}"
                f", MSE = {metrics.get('mse', np.nan):.3f} (mean over folds)")
    else:
        head = "no predictions"
    where = f" — {inputs}" if inputs else ""
    unit = " (standardised)" if scale == "standardised" else ""
    fig.update_layout(template="plotly_white", title=f"{model}, {trait}{where}<br><sub>{head}</sub>",
                      xaxis_title=f"predicted{unit}", yaxis_title=f"observed{unit}",
                      legend={"orientation": "h"})
    return fig


def _interval_text(row, metric: str) -> str:
    lo, hi = row.get(f"{metric}_ci_low", np.nan), row.get(f"{metric}_ci_high", np.nan)
    mean = row.get(f"{metric}_mean", np.nan)
    name = {"r": "r", "dcor": "dCor", "mse": "MSE"}[metric]
    ci = f" [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
    return f"{name} {mean:.3f}{ci}"


def observed_vs_predicted_panels(predictions: pd.DataFrame, summary: pd.DataFrame, *,
                                 models, trait: str, inputs: str | None = None,
                                 max_points: int = 20000) -> go.Figure:
    """Observed against predicted test values, one panel per model side by side (e.g. GRVSNN
    beside the best baseline), points coloured by outer fold.

    Each panel's legend entry gives the model's mean test r, dCor and MSE over the folds with
    their 95 % t intervals across folds (``summary``'s ``<m>_ci_low`` / ``<m>_ci_high``,
    :func:`genoapp.metrics.fold_interval`); each fold's entry gives that fold's r. Values are
    standardised with each training fold's mean and SD (``observed_std``, ``predicted_std``),
    so folds share one scale.

    Parameters
    ----------
    predictions : pandas.DataFrame
        ``ProtocolResult.predictions`` of a quantitative run.
    summary : pandas.DataFrame
        ``ProtocolResult.summary()`` of the same run.
    models : sequence of str
        Display names, one panel each (absent ones are skipped).
    trait : str
    inputs : str, optional
        Input set (when the run has several).
    max_points : int, default 20,000
        Subsample evenly beyond this many points per panel.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    p = predictions
    models = [m for m in models if ((p["model"] == m) & (p["trait"] == trait)).any()]
    fig = make_subplots(rows=1, cols=max(1, len(models)), shared_yaxes=True,
                        subplot_titles=models or ["no predictions"], horizontal_spacing=0.06)
    lo, hi = np.inf, -np.inf
    for j, model in enumerate(models, start=1):
        sel = (p["model"] == model) & (p["trait"] == trait)
        if inputs is not None and "input" in p.columns:
            sel &= p["input"] == inputs
        d = p.loc[sel]
        if len(d) > max_points:
            d = d.iloc[np.linspace(0, len(d) - 1, max_points).astype(int)]
        srow = summary[(summary["model"] == model) & (summary["trait"] == trait)
                       & ((summary["input"] == inputs) if inputs is not None else True)]
        if len(srow):
            row = srow.iloc[0].to_dict()
            head = ", ".join(_interval_text(row, m) for m in ("r", "dcor", "mse"))
            fig.add_scatter(x=[None], y=[None], mode="markers", marker={"opacity": 0},
                            name=f"<b>{model}</b>: {head} (mean over {int(row['n'])} folds, "
                                 "95 % interval)", legendgroup=model, row=1, col=j)
        for i, ((rep, fold), g) in enumerate(d.groupby(["repeat", "fold"], sort=True)):
            ok = g[["observed_std", "predicted_std"]].notna().all(axis=1)
            r = (np.corrcoef(g.loc[ok, "predicted_std"], g.loc[ok, "observed_std"])[0, 1]
                 if ok.sum() > 2 and g.loc[ok, "predicted_std"].std() > 0 else np.nan)
            fig.add_scatter(x=g["predicted_std"], y=g["observed_std"], mode="markers",
                            name=f"{model}: fold {rep}.{fold} (r {r:.2f})", legendgroup=model,
                            marker={"size": 4, "opacity": 0.5,
                                    "color": _PALETTE[i % len(_PALETTE)]},
                            hovertemplate=f"fold {rep}.{fold}<br>predicted %{{x:.3f}}"
                                          "<br>observed %{y:.3f}<extra></extra>",
                            row=1, col=j)
        if len(d):
            lo = min(lo, float(np.nanmin(d[["observed_std", "predicted_std"]].to_numpy())))
            hi = max(hi, float(np.nanmax(d[["observed_std", "predicted_std"]].to_numpy())))
    if np.isfinite(lo):
        for j in range(1, len(models) + 1):
            fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", showlegend=j == 1,
                            name="y = x", line={"dash": "dot", "color": "grey"}, row=1, col=j)
            fig.update_xaxes(title_text="predicted (standardised)", row=1, col=j)
    fig.update_yaxes(title_text="observed (standardised)", row=1, col=1)
    where = f" — {inputs}" if inputs else ""
    fig.update_layout(template="plotly_white", title=f"Observed vs predicted: {trait}{where}",
                      legend={"orientation": "h", "y": -0.25}, height=520)
    return fig


def importance_figure(importance: pd.DataFrame, *, value: str = "importance", top: int = 30,
                      threshold: float | None = None, title: str = "") -> go.Figure:
    """Horizontal bars of the top inputs by importance or selection frequency.

    Parameters
    ----------
    importance : pandas.DataFrame
        ``CVResult.importance(model)``: ``feature``, ``group``, ``importance``,
        ``selected_fraction``.
    value : {"importance", "selected_fraction"}
    top : int, default 30
    threshold : float, optional
        Vertical line (e.g. the selection threshold 0.05).
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        Bars coloured by group (marker / loading), largest at the top.
    """
    d = importance.dropna(subset=[value]).sort_values(value, ascending=False).head(int(top))
    d = d.iloc[::-1]
    colors = {"marker": _PALETTE[0], "loading": _PALETTE[1]}
    fig = go.Figure()
    for grp, g in d.groupby("group", sort=False):
        fig.add_bar(x=g[value], y=g["feature"], orientation="h", name=str(grp),
                    marker_color=colors.get(str(grp), _PALETTE[2]),
                    hovertemplate="%{y}: %{x:.4g}<extra></extra>")
    if threshold is not None:
        fig.add_vline(x=threshold, line={"dash": "dash", "color": "grey"},
                      annotation_text=f"threshold {threshold:g}")
    label = {"importance": "mean selection weight over folds",
             "selected_fraction": "fraction of folds selected"}.get(value, value)
    fig.update_layout(template="plotly_white", title=title or f"Top {len(d)} inputs",
                      xaxis_title=label, barmode="overlay",
                      yaxis={"categoryorder": "array", "categoryarray": d["feature"].tolist()},
                      height=max(350, 18 * len(d) + 120), legend={"orientation": "h"})
    return fig


def model_comparison_figure(summary: pd.DataFrame, *, metric: str = "r") -> go.Figure:
    """Mean ± SD of a metric per model and trait, one panel per input set.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``ProtocolResult.summary()`` of a quantitative run (``input``, ``model``, ``trait``,
        ``<metric>_mean``, ``<metric>_sd``).
    metric : {"r", "mse", "dcor"}

    Returns
    -------
    plotly.graph_objects.Figure
    """
    s = summary.copy()
    if "input" not in s.columns:
        s["input"] = "inputs"
    sets = list(dict.fromkeys(s["input"]))
    models = list(dict.fromkeys(s["model"]))
    fig = make_subplots(rows=1, cols=len(sets), subplot_titles=sets, shared_yaxes=True)
    for c, inputs in enumerate(sets, start=1):
        part = s[s["input"] == inputs]
        for i, model in enumerate(models):
            g = part[part["model"] == model]
            if g.empty:
                continue
            fig.add_bar(x=g["trait"], y=g[f"{metric}_mean"], name=model,
                        error_y={"type": "data", "array": g[f"{metric}_sd"].fillna(0)},
                        marker_color=_PALETTE[i % len(_PALETTE)], legendgroup=model,
                        showlegend=(c == 1), row=1, col=c,
                        hovertemplate=f"{model}<br>%{{x}}: %{{y:.3f}}<extra></extra>")
    fig.update_layout(template="plotly_white", barmode="group",
                      title=f"{_METRIC_LABEL.get(metric, metric)}: mean ± SD over test folds",
                      legend={"orientation": "h"})
    fig.update_yaxes(title_text=_METRIC_LABEL.get(metric, metric), col=1)
    return fig


def fold_scores_figure(scores: pd.DataFrame, *, metric: str = "r",
                       trait: str | None = None) -> go.Figure:
    """Per-fold test scores of each model (paired: same folds), one panel per input set.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``ProtocolResult.metrics`` of a quantitative run (one row per model, input, trait and
        outer fold).
    metric : {"r", "mse", "dcor"}
    trait : str, optional
        Default: the first trait.

    Returns
    -------
    plotly.graph_objects.Figure
        Box plots with every fold shown as a point.
    """
    s = scores.copy()
    if "input" not in s.columns:
        s["input"] = "inputs"
    trait = trait or (s["trait"].iloc[0] if len(s) else "")
    s = s[s["trait"] == trait]
    sets = list(dict.fromkeys(s["input"]))
    models = list(dict.fromkeys(s["model"]))
    fig = make_subplots(rows=1, cols=max(len(sets), 1), subplot_titles=sets or [""],
                        shared_yaxes=True)
    for c, inputs in enumerate(sets, start=1):
        part = s[s["input"] == inputs]
        for i, model in enumerate(models):
            g = part[part["model"] == model]
            if g.empty:
                continue
            fig.add_box(y=g[metric], name=model, boxpoints="all", jitter=0.3,
                        marker_color=_PALETTE[i % len(_PALETTE)], legendgroup=model,
                        showlegend=(c == 1), row=1, col=c)
    fig.update_layout(template="plotly_white",
                      title=f"{trait}: {_METRIC_LABEL.get(metric, metric)} per test fold",
                      legend={"orientation": "h"})
    return fig
