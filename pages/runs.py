"""Runs page: saved runs, their results without retraining, and predictions for new individuals."""

from pathlib import Path
from types import SimpleNamespace

import streamlit as st

from genoapp.io import open_genotypes
from genoapp.io.roots import ENV_VAR, describe_roots, resolve_data_path, resolve_genotype_path
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
    training_curves,
)
from genoapp.report import run_report_html
from genoapp.runs import (
    MatchReport,
    default_runs_dir,
    incomplete_runs,
    list_runs,
    load_bundle,
    make_bundle,
    open_run,
    remove_incomplete,
)
from genoapp.ui.errors import guard
from genoapp.ui.widgets import (
    GENOTYPE_INPUT_HELP,
    download_csv,
    figure,
    genotype_read_options,
    read_report_panel,
)
from genoapp.workflows.protocol import CLASSIFICATION_METRICS as METRICS
from genoapp.workflows.protocol import REGRESSION_METRICS, comparison_table

st.title("Runs")
st.write("Every training on the Train and Quantitative traits pages (and every "
         "`python -m genoapp run`) is saved as a run directory: the models (PyTorch state_dict or "
         "joblib files), the settings, a record of seeds, versions, devices and input hashes, the "
         "analysis log and every result table. Reopen a run to see its results without "
         "retraining, or score new individuals with one of its models.")
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
leftovers = incomplete_runs(root)
if len(leftovers):
    with st.expander(f"{len(leftovers)} incomplete run folder(s) (not listed below)"):
        st.caption("Left by a training that was killed while saving, or by another program; they "
                   "are not runs and are never opened.")
        st.dataframe(leftovers.drop(columns=["path"]), hide_index=True)
        if st.button("Delete the hidden leftovers older than an hour", key="clean_leftovers"):
            st.success(f"Removed {len(remove_incomplete(root))} folder(s).")
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
c3.metric("Seeds" if run.kind == "casecontrol" else "Test folds",
          ", ".join(str(s) for s in rec.get("seeds", [])) if run.kind == "casecontrol"
          else str(rec.get("outer", {}).get("n_folds", "")))
c4.metric("Device", ", ".join(rec.get("devices", [])) or "cpu")
v = rec.get("versions", {})
st.caption(
    f"genoapp {v.get('genoapp')}, Python {v.get('python')}, numpy {v.get('numpy')}, torch {v.get('torch')}, "
    f"scikit-learn {v.get('scikit-learn')}. Protocol: {rec.get('protocol', {})}. "
    f"Kind: {run.kind}. Training/test samples: {rec.get('outer', rec.get('split', {})).get('n_train')}/"
    f"{rec.get('outer', rec.get('split', {})).get('n_test')}."
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

if run.kind == "quantitative":
    st.subheader(f"Test-fold comparison ({', '.join(rec.get('traits', []))})")
    if len(run.summary):
        st.dataframe(comparison_table(run.summary), hide_index=True)
        download_csv(run.summary, "model_comparison.csv", key="runs_dl_summary")
        metric = st.selectbox("Metric", list(REGRESSION_METRICS), key="runs_qmetric",
                              format_func={"r": "Pearson r", "mse": "MSE", "dcor": "dCor"}.get)
        figure(model_comparison_figure(run.summary, metric=metric), key="runs_qcmp")
        traits = list(dict.fromkeys(run.metrics["trait"])) if len(run.metrics) else []
        if traits:
            q1, q2, q3 = st.columns(3)
            trait = q1.selectbox("Trait", traits, key="runs_qtrait")
            figure(fold_scores_figure(run.metrics, metric=metric, trait=trait), key="runs_qfolds")
            part = run.summary[run.summary["trait"] == trait]
            sc_input = q2.selectbox("Inputs", list(dict.fromkeys(part["input"])), key="runs_qinput")
            sc_model = q3.selectbox("Model", list(dict.fromkeys(part["model"])), key="runs_qmodel")
            row = part[(part["input"] == sc_input) & (part["model"] == sc_model)]
            mets = None if row.empty else {k: row[f"{k}_mean"].iloc[0] for k in ("r", "dcor", "mse")}
            figure(observed_vs_predicted(run.predictions, model=sc_model, trait=trait,
                                         inputs=sc_input, metrics=mets), key="runs_qscatter")
    if len(run.importance):
        with st.expander("Feature importance and selection"):
            combos = run.importance[["key", "input", "trait"]].drop_duplicates().reset_index(drop=True)
            j = st.selectbox("Model", range(len(combos)), key="runs_qimp",
                             format_func=lambda i: " — ".join(map(str, combos.loc[i])))
            g = run.importance.merge(combos.iloc[[j]], on=["key", "input", "trait"])
            value = "importance" if g["importance"].notna().any() else "selected_fraction"
            figure(importance_figure(g, value=value, top=30), key="runs_qimpfig")
            download_csv(g, "importance.csv", key="runs_dl_imp")
else:
    st.subheader("Test-set comparison")
    if len(run.summary):
        st.dataframe(comparison_table(run.summary), hide_index=True)
        download_csv(run.summary, "model_comparison.csv", key="runs_dl_summary")
        metric = st.selectbox("Metric", list(METRICS), key="runs_metric")
        figure(comparison_figure(run.summary, metric=metric), key="runs_cmp")
    ts = run.predictions
    if len(ts):
        inputs = list(dict.fromkeys(ts["input"]))
        seeds = list(dict.fromkeys(ts["seed"]))
        k1, k2 = st.columns(2)
        inp = k1.selectbox("Input", inputs, key="runs_input")
        seed = k2.selectbox("Seed", seeds, key="runs_seed")
        names = run.models.drop_duplicates("key").set_index("key")["name"].to_dict()
        y_true, scores, preds = casecontrol_curves(ts, names, input=inp, seed=seed)
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
        hcols = [c for c in ("key", "input", "trait", "repeat", "fold", "seed") if c in run.histories]
        hk = run.histories[hcols].drop_duplicates().reset_index(drop=True)
        i = st.selectbox("Model", range(len(hk)), key="runs_hist",
                         format_func=lambda j: " · ".join(f"{c} {hk.loc[j, c]}" if c in ("repeat", "fold", "seed")
                                                          else str(hk.loc[j, c]) for c in hcols))
        h = run.histories.merge(hk.iloc[[i]], on=hcols)
        figure(training_curves(h), key="runs_curves")
if run.log:
    with st.expander("Analysis log (run.log)"):
        st.code(run.log, language="text")

st.subheader("Predict new individuals")
st.write("The saved model is applied after the run's own preprocessing: its variant list "
         "(located by chromosome, position and alleles, else by variant ID; swapped alleles and "
         "strand flips aligned, so whichever allele the file counts, the model sees the run's A1), "
         "mean imputation and feature projection (or, for quantitative traits, the training "
         "fold's scaling), all fitted on the run's training samples.")
models = run.models
usable = [j for j in range(len(models)) if models.loc[j, "input"] in rec.get("preprocess", {})]
if not usable:
    st.info("No model of this run can score new individuals (inputs with pedigree loadings need "
            "the new individuals in the pedigree).")
    st.stop()


def _model_label(j: int) -> str:
    m = models.loc[j]
    if run.kind == "quantitative":
        return f"{m['name']} · {m['input']} · {m['trait']} · fold {m['repeat']}.{m['fold']}"
    return f"{m['name']} · {m['input']} · seed {m['seed']}"


AMBIGUOUS = {"keep": "keep when the allele labels match (default)",
             "drop": "drop: impute with the training means"}
# outside the form, so that the reading options follow the typed path's format
path = st.text_input("Genotypes of the new individuals: PLINK prefix/.bed, .vcf.gz, .bcf, .pgen or "
                     ".bgen path", key="predict_path", help=GENOTYPE_INPUT_HELP,
                     placeholder="data:study/new_samples (or .../new_samples.vcf.gz)")
with guard("Reading the allowed data folders"):
    st.caption(f"Only files inside these server folders can be read: {describe_roots()} (a "
               "path may be written relative to one, e.g. `data:study/new_samples`). Ask "
               f"the administrator to add a folder to `{ENV_VAR}`.")
with st.form("predict_form"):
    read_opts = genotype_read_options(path.strip(), key="predict_read")
    choice = st.selectbox("Model", usable, key="predict_model", format_func=_model_label)
    cov_names = run.covariate_names()
    covar_path = st.text_input(
        f"Covariate table of the new individuals (FID, IID, {', '.join(cov_names)})",
        key="predict_covar", help="This run's models were trained with these covariates as "
        "inputs; they are coded as on the run's training samples.") if cov_names else ""
    ambiguous = st.radio("Strand-ambiguous SNPs (A/T, C/G)", list(AMBIGUOUS), key="predict_ambiguous",
                         format_func=AMBIGUOUS.get, horizontal=True,
                         help="Their strand cannot be told from the allele labels. Genotypes on the "
                              "forward strand (VCF, .pgen, BGEN) match the training cohort's "
                              "labels; drop them when the file may use another strand.")
    go = st.form_submit_button("Predict", type="primary", key="predict")
if go:
    with guard("Predicting"), st.spinner("Reading genotypes (a VCF/BGEN is converted once, then "
                                         "cached) and projecting features"):
        m = models.loc[choice]
        geno_path = resolve_genotype_path(path.strip())  # confined to the data roots before opening
        covar_file = (resolve_data_path(covar_path.strip(), what="covariate table")
                      if covar_path.strip() else None)
        with open_genotypes(geno_path, options=read_opts) as geno:
            out, report, table = run.predict(
                geno, key=m["key"], input=m["input"], seed=int(m["seed"]), trait=m.get("trait"),
                repeat=int(m.get("repeat", 1)), fold=int(m.get("fold", 1)), ambiguous=ambiguous,
                variant_table=True, covariates=covar_file)
        st.session_state["genoapp_runs_prediction"] = (pick, out, report.as_dict(), table,
                                                        geno.read_report)
pred = st.session_state.get("genoapp_runs_prediction")
if pred is not None and pred[0] == pick:
    _, out, rep, table, read = pred
    report = MatchReport.from_dict(rep)
    what = (f"{int(out['prediction'].sum()):,} predicted cases" if "prediction" in out
            else f"mean prediction {out['predicted'].mean():.3f}")
    st.success(f"{len(out):,} individuals scored; {what}. Variants: {report.n_matched:,} of "
               f"{report.n_expected:,} found by {report.matched_by}.")
    read_report_panel(SimpleNamespace(read_report=read))  # counts of a VCF/BCF/.pgen/BGEN read
    lines = "\n".join(f"- {line}" for line in report.lines())
    if report.fraction_imputed > 0.05:
        st.warning("More than 5 % of the genotypes were imputed with the training means: the "
                   "scores are less reliable than the run's test results.\n" + lines)
    else:
        st.info("Harmonisation with the run's variants:\n" + lines)
    st.dataframe(out, hide_index=True, height=260)
    download_csv(out, "predictions.csv", key="runs_dl_pred")
    download_csv(table, "harmonisation.csv", key="runs_dl_harm",
                 label="Download what happened to each variant (harmonisation.csv)")
