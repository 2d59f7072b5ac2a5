"""Figures for the Train step: learning curves, ROC and PR curves, confusion matrices, per-fold
validation metrics and the model comparison (paper Table 1 as bars)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def training_curves(history) -> go.Figure:
    """Loss and accuracy per epoch.

    Parameters
    ----------
    history : list of dict or pandas.DataFrame
        One record per epoch with ``epoch``, ``train_loss``, ``train_accuracy`` and optionally
        ``val_loss``, ``val_accuracy`` (the trainer's history).

    Returns
    -------
    plotly.graph_objects.Figure
        Two panels: loss (left) and accuracy (right).
    """
    h = pd.DataFrame(history)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    colors = {"train": "#4c78a8", "val": "#e45756"}
    names = {"train": "training", "val": "validation"}
    for part in ("train", "val"):
        for col, metric in ((1, "loss"), (2, "accuracy")):
            key = f"{part}_{metric}"
            if key in h and h[key].notna().any():
                fig.add_scatter(x=h["epoch"], y=h[key], mode="lines+markers", name=names[part],
                                line_color=colors[part], legendgroup=part, showlegend=(col == 1),
                                row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(template="plotly_white", title="Learning curves")
    return fig


def roc_curves(y_true, scores: dict) -> go.Figure:
    """ROC curves of several models on the same samples.

    Parameters
    ----------
    y_true : array-like
        Shape (n,), 1 = case, 0 = control.
    scores : dict of str -> array-like
        Model name -> case score, shape (n,) (higher = more likely a case).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    y = np.asarray(y_true)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                    name="chance", showlegend=False)
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y, np.asarray(s))
        auc = roc_auc_score(y, np.asarray(s))
        fig.add_scatter(x=fpr, y=tpr, mode="lines", name=f"{name} (AUC {auc:.3f})")
    fig.update_layout(title="ROC curves on the test set", xaxis_title="false positive rate",
                      yaxis_title="true positive rate", template="plotly_white")
    return fig


def confusion_matrix_figure(y_true, y_pred, *, title: str = "Confusion matrix") -> go.Figure:
    """Confusion matrix as an annotated heatmap (rows = true, columns = predicted).

    Parameters
    ----------
    y_true, y_pred : array-like
        Shape (n,), 1 = case, 0 = control.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    cm = confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=[0, 1])
    labels = ["control", "case"]
    fig = go.Figure(go.Heatmap(z=cm, x=labels, y=labels, colorscale="Blues", showscale=False,
                               text=cm, texttemplate="%{text}"))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true",
                      yaxis_autorange="reversed", template="plotly_white", width=380, height=340)
    return fig


def pr_curves(y_true, scores: dict) -> go.Figure:
    """Precision-recall curves of several models on the same samples.

    Parameters
    ----------
    y_true : array-like
        Shape (n,), 1 = case, 0 = control.
    scores : dict of str -> array-like
        Model name -> case score, shape (n,) (higher = more likely a case).

    Returns
    -------
    plotly.graph_objects.Figure
        One step curve per model (recall on x, precision on y) with its average precision
        (scikit-learn ``average_precision_score``) in the legend, and the chance level (the
        fraction of cases) as a dotted line.
    """
    y = np.asarray(y_true)
    fig = go.Figure()
    base = float(np.mean(y == 1)) if y.size else 0.0
    fig.add_scatter(x=[0, 1], y=[base, base], mode="lines", line={"dash": "dot", "color": "grey"},
                    name="chance", showlegend=False)
    for name, s in scores.items():
        precision, recall, _ = precision_recall_curve(y, np.asarray(s))
        ap = average_precision_score(y, np.asarray(s))
        fig.add_scatter(x=recall, y=precision, mode="lines", line_shape="hv",
                        name=f"{name} (AP {ap:.3f})")
    fig.update_layout(title="Precision-recall curves on the test set", xaxis_title="recall",
                      yaxis_title="precision", yaxis_range=[0, 1.02], template="plotly_white")
    return fig


def confusion_matrices(y_true, predictions: dict, *, n_cols: int = 3) -> go.Figure:
    """Confusion matrices of several models side by side (rows = true, columns = predicted).

    Parameters
    ----------
    y_true : array-like
        Shape (n,), 1 = case, 0 = control.
    predictions : dict of str -> array-like
        Model name -> predicted labels, shape (n,).
    n_cols : int, default 3
        Panels per row.

    Returns
    -------
    plotly.graph_objects.Figure
        One annotated heatmap per model (counts), panels titled with the model and its accuracy.
    """
    y = np.asarray(y_true)
    names = list(predictions)
    n = max(len(names), 1)
    cols = min(n_cols, n)
    rows = -(-n // cols)
    titles = []
    for name in names:
        acc = float(np.mean(np.asarray(predictions[name]) == y)) if y.size else float("nan")
        titles.append(f"{name} (acc {acc:.3f})")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles or ["no model"],
                        horizontal_spacing=0.08, vertical_spacing=0.16)
    labels = ["control", "case"]
    for i, name in enumerate(names):
        cm = confusion_matrix(y, np.asarray(predictions[name]), labels=[0, 1])
        fig.add_trace(go.Heatmap(z=cm, x=labels, y=labels, colorscale="Blues", showscale=False,
                                 text=cm, texttemplate="%{text}"), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(title_text="predicted")
    fig.update_yaxes(title_text="true", autorange="reversed")
    fig.update_layout(title="Confusion matrices on the test set", template="plotly_white",
                      height=260 * rows + 60)
    return fig


def fold_metrics_figure(fold_metrics: pd.DataFrame, *, metric: str = "roc_auc") -> go.Figure:
    """Validation metric of every tuning fit: one point per fold, per model and input.

    Parameters
    ----------
    fold_metrics : pandas.DataFrame
        ``ProtocolResult.fold_metrics`` (columns ``model``, ``input``, ``seed``,
        ``inner_fold``, ``params`` and the metrics).
    metric : str, default "roc_auc"

    Returns
    -------
    plotly.graph_objects.Figure
        Box plots over folds, seeds and candidate hyper-parameters, one box per model and
        input (x = model, colour = input), all points shown with their seed, fold and
        parameters on hover.
    """
    fig = go.Figure()
    fm = pd.DataFrame(fold_metrics)
    if len(fm) and metric in fm:
        g_col = "inner_fold" if "inner_fold" in fm else "fold"
        for inp, g in fm.groupby("input", sort=False):
            hover = [f"seed {s}, fold {int(f) + 1}<br>{p}" for s, f, p in
                     zip(g["seed"], g[g_col], g.get("params", [""] * len(g)), strict=False)]
            fig.add_box(x=g["model"], y=g[metric], name=str(inp), boxpoints="all", jitter=0.4,
                        pointpos=0, text=hover, hovertemplate="%{x}: %{y:.3f}<br>%{text}")
        fig.update_layout(boxmode="group")
    fig.update_layout(title=f"Validation {metric} per fold (tuning inside the training data)",
                      yaxis_title=metric, template="plotly_white")
    return fig


def comparison_figure(summary: pd.DataFrame, *, metric: str = "accuracy") -> go.Figure:
    """Mean test metric over seeds per model, one bar per input, error bars = SD over seeds.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`genoapp.workflows.summarize` output (``model``, ``input``,
        ``<metric>_mean``, ``<metric>_sd``).
    metric : str, default "accuracy"

    Returns
    -------
    plotly.graph_objects.Figure
        Grouped bars (x = model, colour = input), the 0.5 chance level of a balanced test set
        as a dotted line for accuracy and ROC AUC.
    """
    fig = go.Figure()
    s = pd.DataFrame(summary)
    if len(s) and f"{metric}_mean" in s:
        for inp, g in s.groupby("input", sort=False):
            fig.add_bar(x=g["model"], y=g[f"{metric}_mean"], name=str(inp),
                        error_y={"type": "data", "array": g[f"{metric}_sd"].fillna(0).to_numpy()})
    if metric in ("accuracy", "roc_auc"):
        fig.add_hline(y=0.5, line_dash="dot", line_color="grey")
    fig.update_layout(barmode="group", title=f"Test {metric}: mean ± SD over seeds",
                      yaxis_title=metric, yaxis_range=[0, 1], template="plotly_white")
    return fig


def casecontrol_curves(predictions: pd.DataFrame, names: dict, *, input: str, seed) -> tuple:
    """Labels, case scores and predictions of every model on one input and seed (SNP models
    added), from a predictions table (``ProtocolResult.predictions`` or a saved run's), for
    :func:`roc_curves`, :func:`pr_curves` and :func:`confusion_matrices`.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Columns ``key``, ``input``, ``seed``, ``row``, ``label``, ``score``, ``prediction``.
    names : dict of str -> str
        Display name of each model key.
    input : str
    seed : int

    Returns
    -------
    (numpy.ndarray or None, dict, dict)
        ``y_true`` (test labels in row order), ``scores`` and ``preds`` keyed by model label.
    """
    ts = predictions
    part = ts[(ts["seed"] == seed) & ((ts["input"] == input) | (ts["input"] == "SNPs"))]
    scores, preds, y_true = {}, {}, None
    for (key, i), g in part.groupby(["key", "input"], sort=False):
        g = g.sort_values("row")
        label = names.get(key, key) + (" (SNPs)" if i == "SNPs" and input != "SNPs" else "")
        scores[label] = g["score"].to_numpy()
        preds[label] = g["prediction"].to_numpy()
        y_true = g["label"].to_numpy()
    return y_true, scores, preds
