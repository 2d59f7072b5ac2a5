"""A self-contained HTML report of a saved run (for lab meetings and sharing).

One file holds everything: the plotly.js library (inlined once, so the report opens in a
browser without network access), every figure (interactive, with PNG and SVG download buttons
drawn in the browser), the comparison and per-seed tables, the run record (versions, seeds, devices,
input fingerprints) and an auto-written methods paragraph with the QC thresholds and counts
removed, the feature settings and the protocol.
"""

from __future__ import annotations

import html
import json

import pandas as pd
import plotly.graph_objects as go

from genoapp.plots.training import (
    comparison_figure,
    confusion_matrices,
    fold_metrics_figure,
    pr_curves,
    roc_curves,
)
from genoapp.train.protocol import comparison_table

__all__ = ["methods_paragraph", "run_report_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1f2933;line-height:1.5}
h1{font-size:1.8em;margin-bottom:0}h2{margin-top:1.6em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:right}th{background:#f3f5f7}
td:first-child,th:first-child{text-align:left}.meta{color:#52606d;font-size:.9em}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.8em}
"""


def _fmt_int(v) -> str:
    try:
        return f"{int(v):,}"
    except (TypeError, ValueError):
        return str(v)


def methods_paragraph(record: dict) -> str:
    """Plain-text methods paragraph of a run, written from its record.

    Parameters
    ----------
    record : dict
        ``run.json`` of a saved run (:func:`genoapp.runs.open_run`); the optional ``qc`` (funnel
        rows) and ``features`` (feature settings, or settings per input: the first is used)
        entries are used when present.

    Returns
    -------
    str
    """
    v = record.get("versions", {})
    parts = []
    qc = record.get("qc")
    if qc:
        first, last = qc[0], qc[-1]
        steps = []
        for row in qc[1:]:  # rows of genoapp.qc.QCResult.summary()
            flag = row.get("plink_flag") or ""
            removed = row.get("removed")
            n = "?" if removed is None or pd.isna(removed) else f"{int(removed):,}"
            steps.append(f"{row.get('step')}{f' ({flag})' if flag else ''}: {n} {row.get('axis') or 'items'} "
                         "removed")
        parts.append(
            f"Quality control started from {_fmt_int(first.get('n_samples'))} samples and "
            f"{_fmt_int(first.get('n_variants'))} variants, with PLINK 1.9 semantics, in this "
            f"order: {'; '.join(steps)}. {_fmt_int(last.get('n_samples'))} samples and "
            f"{_fmt_int(last.get('n_variants'))} variants remained.")
    feats = record.get("features")
    if feats and all(isinstance(v, dict) for v in feats.values()):  # per input: the primary one
        feats = next(iter(feats.values()))
    if feats:
        kind = feats.get("kind", "genes")
        method = feats.get("method", "gene_pca")
        group = "genes" if kind == "genes" else f"windows of {feats.get('window_snps') or feats.get('window_kb')} " \
                                                 f"{'SNPs' if feats.get('window_snps') else 'kb'}"
        fit = "training samples only" if feats.get("fit_on", "train") == "train" else \
            "all samples (the published option; test samples influence the features)"
        what = "one PCA per SNP group (k = 8/4/1 components by group size)" if method == "gene_pca" \
            else "one PCA over all SNPs (All-PCA)"
        parts.append(f"SNPs were grouped by {group}; missing genotypes were mean-imputed and "
                     f"features were {what}, fitted on {fit}.")
    split = record.get("split", {})
    proto = record.get("protocol", {})
    names = list(dict.fromkeys(m.get("name", m.get("key")) for m in record.get("models", [])))
    seeds = record.get("seeds", [])
    parts.append(
        f"A balanced test set of {_fmt_int(split.get('n_test'))} samples was set aside before any "
        f"fitting; {_fmt_int(split.get('n_train'))} training samples were used to fit every step. "
        f"Models ({', '.join(names)}) were trained with {len(seeds)} seed(s) "
        f"({', '.join(str(s) for s in seeds)}); hyper-parameters were chosen by "
        f"{proto.get('tuning', 'grid')} search on {proto.get('validation', 'holdout')} validation "
        f"({proto.get('n_folds', '?')} balanced folds inside the training samples), cases upsampled "
        "1:1 inside the training data only; test metrics are mean ± SD over seeds.")
    parts.append(
        f"Software: genoapp {v.get('genoapp')}, Python {v.get('python')}, PyTorch {v.get('torch')}, "
        f"scikit-learn {v.get('scikit-learn')}, NumPy {v.get('numpy')}; device(s): "
        f"{', '.join(record.get('devices', [])) or 'cpu'}.")
    return " ".join(parts)


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, border=0, na_rep="", float_format=lambda x: f"{x:.3f}")


def _figures(run) -> list[tuple[str, go.Figure]]:
    figs: list[tuple[str, go.Figure]] = []
    if len(run.summary):
        for metric in ("accuracy", "roc_auc"):
            figs.append((f"Test {metric} by model", comparison_figure(run.summary, metric=metric)))
    ts = run.test_scores
    if len(ts):
        names = run.models.drop_duplicates("key").set_index("key")["name"].to_dict()
        seed = ts["seed"].iloc[0]
        feature_inputs = [i for i in dict.fromkeys(ts["input"]) if i != "SNPs"] or ["SNPs"]
        for inp in feature_inputs:
            part = ts[(ts["seed"] == seed) & ((ts["input"] == inp) | (ts["input"] == "SNPs"))]
            scores, preds, y_true = {}, {}, None
            for (key, i), g in part.groupby(["key", "input"], sort=False):
                g = g.sort_values("row")
                label = names.get(key, key) + (" (SNPs)" if i == "SNPs" and inp != "SNPs" else "")
                scores[label] = g["score"].to_numpy()
                preds[label] = g["prediction"].to_numpy()
                y_true = g["label"].to_numpy()
            if scores:
                figs.append((f"ROC curves, {inp}, seed {seed}", roc_curves(y_true, scores)))
                figs.append((f"Precision-recall curves, {inp}, seed {seed}", pr_curves(y_true, scores)))
                figs.append((f"Confusion matrices, {inp}, seed {seed}", confusion_matrices(y_true, preds)))
    if len(run.fold_metrics):
        figs.append(("Validation folds (inside the training samples)", fold_metrics_figure(run.fold_metrics)))
    return figs


def run_report_html(run, *, title: str | None = None) -> str:
    """The HTML report of a saved run, as one self-contained string.

    Parameters
    ----------
    run : genoapp.runs.Run
        A run opened with :func:`genoapp.runs.open_run`.
    title : str, optional
        Report title (default: the run's label and id).

    Returns
    -------
    str
        A complete HTML document; plotly.js is inlined once (no network access needed).
    """
    rec = run.record
    title = title or f"genoapp run: {rec.get('label') or rec.get('run_id', '')}"
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p class='meta'>Run {html.escape(str(rec.get('run_id', '')))}, created "
            f"{html.escape(str(rec.get('created', '')))}"
            + (" &middot; <b>stopped early</b>" if rec.get("stopped") else "") + "</p>",
            "<h2>Methods</h2>", f"<p>{html.escape(methods_paragraph(rec))}</p>"]
    for note in rec.get("notes", []):
        body.append(f"<p class='meta'>Note: {html.escape(str(note))}</p>")
    if rec.get("qc"):
        body += ["<h2>Quality control</h2>", _table(pd.DataFrame(rec["qc"]))]
    if len(run.summary):
        body += ["<h2>Test-set comparison (mean ± SD over seeds)</h2>", _table(comparison_table(run.summary))]
    plotly_js = True
    for i, (caption, fig) in enumerate(_figures(run), start=1):
        div = f"figure-{i}"
        name = f"genoapp_figure_{i}"
        body.append(f"<h2>{html.escape(caption)}</h2>")
        body.append(fig.to_html(full_html=False, include_plotlyjs=plotly_js, div_id=div,
                                config={"displaylogo": False, "responsive": True}))
        # PNG and SVG of every figure, drawn in the browser (works offline)
        body.append("<p class='meta'>Download: " + " ".join(
            f"<button onclick=\"Plotly.downloadImage('{div}',{{format:'{fmt}',filename:'{name}',"
            f"scale:{2 if fmt == 'png' else 1}}})\">{fmt.upper()}</button>" for fmt in ("png", "svg"))
            + "</p>")
        plotly_js = False  # the library is inlined with the first figure only
    if len(run.metrics):
        cols = [c for c in run.metrics.columns if c not in ("best_params",)]
        body += ["<h2>Per-seed test metrics</h2>", _table(run.metrics[cols])]
    record = {k: v for k, v in rec.items() if k not in ("qc",)}
    body += ["<h2>Run record</h2>",
             f"<pre>{html.escape(json.dumps(record, indent=2, default=str))}</pre>"]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>")
