"""A self-contained HTML report of a saved run (for lab meetings and sharing).

One file holds everything: the plotly.js library (inlined once, so the report opens in a
browser without network access), every figure (interactive, with PNG and SVG download buttons
drawn in the browser), the comparison and per-seed (per-fold) tables, the run record (versions,
seeds, devices, input fingerprints) and an auto-written methods paragraph with the QC thresholds
and counts removed, the feature settings and the protocol. Both kinds of run (case/control and
quantitative traits) are reported.
"""

from __future__ import annotations

import html
import json

import pandas as pd
import plotly.graph_objects as go

from genoapp.plots.quantitative import (
    fold_scores_figure,
    importance_figure,
    model_comparison_figure,
    observed_vs_predicted,
)
from genoapp.plots.training import (
    casecontrol_curves,
    comparison_figure,
    confusion_matrices,
    fold_metrics_figure,
    pr_curves,
    roc_curves,
)
from genoapp.workflows.protocol import certainty_table, comparison_table

__all__ = ["methods_paragraph", "run_report_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1f2933;line-height:1.5}
h1{font-size:1.8em;margin-bottom:0}h2{margin-top:1.6em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:right}th{background:#f3f5f7}
td:first-child,th:first-child{text-align:left}.meta{color:#52606d;font-size:.9em}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.8em}
.warn{background:#fff4e5;border-left:4px solid #e8a33d;padding:.5em .8em}
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
    proto = record.get("protocol", {})
    names = list(dict.fromkeys(m.get("name", m.get("key")) for m in record.get("models", [])))
    if record.get("kind") == "quantitative":
        info = record.get("info", {}) or {}
        m = info.get("n_components")
        outer = record.get("outer", {})
        parts.append(
            f"Traits ({', '.join(record.get('traits', []))}) were predicted from SNP markers"
            + (f" and the first {m} loadings of the relationship matrix ({info.get('relationship')})"
               if m else "")
            + f" by {', '.join(names)}, evaluated by {proto.get('n_splits', '?')}-fold "
            f"cross-validation repeated {proto.get('n_repeats', '?')} time(s) "
            f"({outer.get('n_folds', '?')} test folds). Inside each training fold, missing "
            "genotypes were imputed with training means, inputs and traits were standardised "
            "with training statistics, and hyper-parameters were tuned by "
            f"{proto.get('tuning', 'optuna')} ({proto.get('n_trials', '?')} trials) on an inner "
            f"validation split of {proto.get('validation_fraction', 0.2):.0%}; the test fold was "
            "scored once (MSE on the standardised scale, Pearson r, distance correlation).")
    else:
        split = record.get("split", {})
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
    """HTML table; float columns holding whole numbers only (counts stored as float because of
    missing values) are shown as integers with thousands separators."""
    df = df.copy()
    for c in df.columns:
        col = df[c]
        if pd.api.types.is_float_dtype(col):
            vals = col.dropna()
            if len(vals) and (vals == vals.round()).all() and vals.abs().max() < 1e15:
                df[c] = [("" if pd.isna(v) else f"{int(v):,}") for v in col]
    return df.to_html(index=False, escape=True, border=0, na_rep="", float_format=lambda x: f"{x:.3f}")


def _figures(run) -> list[tuple[str, go.Figure]]:
    figs: list[tuple[str, go.Figure]] = []
    if run.kind == "quantitative":
        return _quantitative_figures(run)
    if len(run.summary):
        for metric in ("accuracy", "roc_auc"):
            figs.append((f"Test {metric} by model", comparison_figure(run.summary, metric=metric)))
    ts = run.predictions
    if len(ts):
        names = run.models.drop_duplicates("key").set_index("key")["name"].to_dict()
        seed = ts["seed"].iloc[0]
        feature_inputs = [i for i in dict.fromkeys(ts["input"]) if i != "SNPs"] or ["SNPs"]
        for inp in feature_inputs:
            y_true, scores, preds = casecontrol_curves(ts, names, input=inp, seed=seed)
            if scores:
                figs.append((f"ROC curves, {inp}, seed {seed}", roc_curves(y_true, scores)))
                figs.append((f"Precision-recall curves, {inp}, seed {seed}", pr_curves(y_true, scores)))
                figs.append((f"Confusion matrices, {inp}, seed {seed}", confusion_matrices(y_true, preds)))
    if len(run.fold_metrics):
        figs.append(("Validation folds (inside the training samples)", fold_metrics_figure(run.fold_metrics)))
    return figs


def _quantitative_figures(run) -> list[tuple[str, go.Figure]]:
    figs: list[tuple[str, go.Figure]] = []
    s = run.summary
    if len(s):
        figs.append(("Test Pearson r by model (mean ± SD over folds)",
                     model_comparison_figure(s, metric="r")))
    if len(run.metrics):
        for trait in dict.fromkeys(run.metrics["trait"]):
            figs.append((f"{trait}: r per test fold", fold_scores_figure(run.metrics, metric="r",
                                                                         trait=trait)))
    if len(run.predictions) and len(s):
        for (trait, inp), g in s.groupby(["trait", "input"], sort=False):
            best = g.loc[g["r_mean"].idxmax()]
            metrics = {"r": best["r_mean"], "dcor": best["dcor_mean"], "mse": best["mse_mean"]}
            figs.append((f"Observed vs predicted: {best['model']}, {trait}, {inp}",
                         observed_vs_predicted(run.predictions, model=best["model"], trait=trait,
                                               inputs=inp, metrics=metrics)))
    imp = run.importance
    if len(imp):
        for (key, inp, trait), g in imp.groupby(["key", "input", "trait"], sort=False):
            value = "importance" if g["importance"].notna().any() else "selected_fraction"
            figs.append((f"Top inputs: {key}, {inp}, {trait}",
                         importance_figure(g, value=value, top=30)))
    return figs


def _insights_section(run) -> list[str]:
    """"Capsule insights" from the run folder's ``insights/`` (saved by the Insights page)."""
    from genoapp.workflows.insights import load_insights

    ins = load_insights(run.path)
    if ins is None:
        return []
    info = ins["info"]
    st = info.get("settings", {})
    prediction = st.get("statistic") == "prediction"
    test = ("genes tested on the one-gene-only ROC AUC on the training samples" if prediction else
            f"gene scan (one-gene-only coupling) on the {html.escape(str(info.get('samples', '')))} "
            f"samples through primary type {int(info.get('k_star', 0)) + 1}")
    out = ["<h2>Capsule insights (against permuted-label networks)</h2>",
           f"<p class='meta'>{int(info.get('n_networks', 0))} networks of the same architecture "
           f"trained on the training samples with permuted labels; {test}; "
           f"core genes: {html.escape(str(info.get('core_rule')))} "
           f"(FDR level {st.get('alpha', 0.05)}); input: {html.escape(str(st.get('stage') or st.get('input', '')))}."
           "</p>"]
    out += [f"<p>{html.escape(str(v))}</p>" for v in info.get("verdicts", [])]
    if "gene_scan" in ins:
        cols = [c for c in ("rank", "gene", "score", "z", "n_tied", "p_value", "q", "significant")
                if c in ins["gene_scan"].columns]
        fmt = {"score": ".4f" if prediction else ".8f", "z": ".3f" if prediction else ".2f",
               "p_value": ".3g", "q": ".3g", "p_empirical": ".3g"}
        out += [f"<h3>{'Gene test (score = one-gene-only AUC)' if prediction else 'Gene scan'}: "
                "top 20 genes</h3>", _table(_formatted(ins["gene_scan"][cols].head(20), fmt))]
    if "core_genes" in ins:
        core = ins["core_genes"]
        core = core[core["core"].astype(bool)] if "core" in core.columns else core
        out += [f"<h3>Core genes ({len(core)})</h3>",
                _table(_formatted(core.drop(columns=["core"], errors="ignore"), {"score": ".8f", "z": ".2f", "p_value": ".3g", "q": ".3g", "p_empirical": ".3g"}))
                if len(core) else
                "<p>No core gene.</p>"]
    if "coupling" in ins:
        c = ins["coupling"]
        real = c[c["network"] == "real"].drop(columns="network")
        out += ["<h3>Mean coupling of the real network (deviation from 1/K)</h3>", _table(_formatted(real, {"mean_coupling": ".6f", "deviation": ".2e"}))]
    return out


def _formatted(df: pd.DataFrame, formats: dict) -> pd.DataFrame:
    """Columns of ``df`` as text by format (tiny coupling values need more than 3 decimals)."""
    df = df.copy()
    for col, fmt in formats.items():
        if col in df.columns:
            df[col] = [("" if pd.isna(v) else format(float(v), fmt)) for v in df[col]]
    return df


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
    for warn in rec.get("warnings", []):
        body.append(f"<p class='warn'>&#9888; {html.escape(str(warn))}</p>")
    for note in rec.get("notes", []):
        body.append(f"<p class='meta'>Note: {html.escape(str(note))}</p>")
    if rec.get("qc"):
        body += ["<h2>Quality control</h2>", _table(pd.DataFrame(rec["qc"]))]
    if len(run.summary):
        over = "folds" if run.kind == "quantitative" else "seeds"
        body += [f"<h2>Test-set comparison (mean ± SD over {over})</h2>",
                 _table(comparison_table(run.summary)),
                 "<h3>How sure</h3>", _table(certainty_table(run.summary))]
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
    body += _insights_section(run)
    if len(run.metrics):
        cols = [c for c in run.metrics.columns if c not in ("best_params",)]
        what = "Per-fold" if run.kind == "quantitative" else "Per-seed"
        body += [f"<h2>{what} test metrics</h2>", _table(run.metrics[cols])]
    record = {k: v for k, v in rec.items() if k not in ("qc",)}
    body += ["<h2>Run record</h2>",
             f"<pre>{html.escape(json.dumps(record, indent=2, default=str))}</pre>"]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>")
