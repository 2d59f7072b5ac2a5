"""Runs page: saved runs, their results without retraining, and predictions for new individuals."""

from pathlib import Path

import streamlit as st

from genoapp.plots.training import (
    comparison_figure,
    confusion_matrices,
    fold_metrics_figure,
    pr_curves,
    roc_curves,
    training_curves,
)
from genoapp.report import run_report_html
from genoapp.runs import default_runs_dir, list_runs, load_bundle, make_bundle, open_run
from genoapp.train.protocol import METRICS, comparison_table
from genoapp.ui.errors import guard
from genoapp.ui.widgets import download_csv, figure

st.title("Runs")
st.write("Every training on the Train page is saved as a run directory: the models (PyTorch "
         "state_dict or joblib files), the settings, a record of seeds, versions, devices and input "
         "hashes, and every result table. Reopen a run to see its results without retraining, or "
         "score new individuals with one of its models.")
root = st.text_input("Runs folder", str(default_runs_dir()), key="runs_root")
with st.expander("Load a run bundle (.zip) made by genoapp", expanded=False):
    st.warning("Open bundles only from people you trust: scikit-learn models and the preprocessing "
               "are stored as joblib (pickle) files, which can run code when they are loaded.")
    up = st.file_uploader("Run bundle", type=["zip"], key="bundle_upload")
    if st.button("Load the bundle", key="load_bundle", disabled=up is None):
        with guard("Loading the run bundle"):
            loaded_path = load_bundle(up, root)
            st.session_state["run_pick"] = loaded_path.name
            st.success(f"Loaded run `{loaded_path.name}` into `{root}`.")
runs = list_runs(root)
if runs.empty:
    st.info(f"No saved run in `{root}` yet. Train models on the Train page (with 'Save the run' ticked).")
    st.stop()
st.dataframe(runs.drop(columns=["path"]), hide_index=True, height=min(38 + 35 * len(runs), 260))
if st.session_state.get("run_pick") not in set(runs["run_id"]):
    st.session_state.pop("run_pick", None)
pick = st.selectbox("Run", runs["run_id"].tolist(), key="run_pick",
                    format_func=lambda r: f"{r} — {runs.set_index('run_id').loc[r, 'label']}")
run = None
with guard("Opening the run"):
    run = open_run(Path(runs.set_index("run_id").loc[pick, "path"]))
if run is None:
    st.stop()
rec = run.record

st.subheader("Record")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Created", rec.get("created", "")[:16].replace("T", " "))
c2.metric("Models saved", len(rec.get("models", [])))
c3.metric("Seeds", ", ".join(str(s) for s in rec.get("seeds", [])))
c4.metric("Device", ", ".join(rec.get("devices", [])) or "cpu")
v = rec.get("versions", {})
st.caption(
    f"genoapp {v.get('genoapp')}, Python {v.get('python')}, numpy {v.get('numpy')}, torch {v.get('torch')}, "
    f"scikit-learn {v.get('scikit-learn')}. Protocol: {rec.get('protocol', {})}. "
    f"Training/test samples: {rec.get('split', {}).get('n_train')}/{rec.get('split', {}).get('n_test')}."
    + (" **Stopped early.**" if rec.get("stopped") else "")
)
for note in rec.get("notes", []):
    st.info(note)
with st.expander("Input fingerprints (SHA-256)"):
    st.json(rec.get("inputs", {}))

_rk = ("genoapp_run_report", str(run.path))
if st.session_state.get("genoapp_run_report", (None,))[0] != _rk[1]:
    with guard("Writing the HTML report"):
        st.session_state["genoapp_run_report"] = (_rk[1], run_report_html(run))
_report = st.session_state.get("genoapp_run_report", (None, None))[1]
if _report is not None:
    st.download_button("Download the HTML report (one file: figures, tables, record, methods; opens offline)",
                       _report, file_name=f"genoapp_report_{pick}.html", mime="text/html",
                       key="runs_report", icon=":material/description:")
if st.button("Prepare the run bundle (.zip: models, tables, record, report)", key="make_bundle"):
    with guard("Zipping the run"):
        st.session_state["genoapp_run_bundle"] = (str(run.path), make_bundle(run.path))
_bundle = st.session_state.get("genoapp_run_bundle")
if _bundle is not None and _bundle[0] == str(run.path):
    st.download_button(f"Download the run bundle ({len(_bundle[1]) / 1e6:.1f} MB)", _bundle[1],
                       file_name=f"{pick}.zip", mime="application/zip", key="runs_bundle",
                       icon=":material/folder_zip:",
                       help="Another user loads it on their Runs page to see the same results.")

st.subheader("Test-set comparison")
if len(run.summary):
    st.dataframe(comparison_table(run.summary), hide_index=True)
    download_csv(run.summary, "model_comparison.csv", key="runs_dl_summary")
    metric = st.selectbox("Metric", list(METRICS), key="runs_metric")
    figure(comparison_figure(run.summary, metric=metric), key="runs_cmp")
ts = run.test_scores
if len(ts):
    inputs = list(dict.fromkeys(ts["input"]))
    seeds = list(dict.fromkeys(ts["seed"]))
    k1, k2 = st.columns(2)
    inp = k1.selectbox("Input", inputs, key="runs_input")
    seed = k2.selectbox("Seed", seeds, key="runs_seed")
    names = run.models.drop_duplicates("key").set_index("key")["name"].to_dict()
    part = ts[(ts["seed"] == seed) & ((ts["input"] == inp) | (ts["input"] == "SNPs"))]
    scores, preds, y_true = {}, {}, None
    for (key, i), g in part.groupby(["key", "input"], sort=False):
        g = g.sort_values("row")
        label = names.get(key, key) + (" (SNPs)" if i == "SNPs" and inp != "SNPs" else "")
        scores[label] = g["score"].to_numpy()
        preds[label] = g["prediction"].to_numpy()
        y_true = g["label"].to_numpy()
    if scores:
        r1, r2 = st.columns(2)
        with r1:
            figure(roc_curves(y_true, scores), key="runs_roc")
        with r2:
            figure(pr_curves(y_true, scores), key="runs_pr")
        figure(confusion_matrices(y_true, preds), key="runs_cms")
if len(run.fold_metrics):
    with st.expander("Validation folds"):
        figure(fold_metrics_figure(run.fold_metrics), key="runs_folds")
        download_csv(run.fold_metrics, "fold_metrics.csv", key="runs_dl_folds")
if len(run.histories):
    with st.expander("Learning curves"):
        hk = run.histories[["key", "input", "seed"]].drop_duplicates().reset_index(drop=True)
        i = st.selectbox("Model", range(len(hk)), key="runs_hist",
                         format_func=lambda j: f"{hk.loc[j, 'key']} · {hk.loc[j, 'input']} · seed {hk.loc[j, 'seed']}")
        h = run.histories.merge(hk.iloc[[i]], on=["key", "input", "seed"])
        figure(training_curves(h), key="runs_curves")

st.subheader("Predict new individuals")
st.write("The saved model is applied after the run's own preprocessing: its QC'd variant list "
         "(matched by variant ID, else chromosome and position; alleles aligned), mean imputation "
         "and feature projection, all fitted on the run's training samples.")
models = run.models
with st.form("predict_form"):
    path = st.text_input("PLINK fileset of the new individuals (prefix or .bed path on the server)",
                         key="predict_path")
    choice = st.selectbox("Model", range(len(models)), key="predict_model",
                          format_func=lambda j: f"{models.loc[j, 'name']} · {models.loc[j, 'input']} · "
                                                f"seed {models.loc[j, 'seed']}")
    go = st.form_submit_button("Predict", type="primary", key="predict")
if go:
    with guard("Predicting"), st.spinner("Reading genotypes and projecting features"):
        m = models.loc[choice]
        out, report = run.predict(path.strip(), key=m["key"], input=m["input"], seed=int(m["seed"]))
        st.session_state["genoapp_runs_prediction"] = (pick, out, report.as_dict())
pred = st.session_state.get("genoapp_runs_prediction")
if pred is not None and pred[0] == pick:
    _, out, rep = pred
    st.success(f"{len(out):,} individuals scored; {int(out['prediction'].sum()):,} predicted cases. "
               f"Variants: {rep['n_matched']:,} of {rep['n_expected']:,} found by {rep['matched_by']} "
               f"({rep['n_flipped']:,} with swapped alleles), {rep['n_missing']:,} absent and "
               f"{rep['n_allele_mismatch']:,} with other alleles (imputed with training means).")
    st.dataframe(out, hide_index=True, height=260)
    download_csv(out, "predictions.csv", key="runs_dl_pred")
