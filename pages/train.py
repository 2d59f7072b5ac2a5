"""Train page: the case/control model zoo under the honest protocol, trained in the background."""

import dataclasses

import pandas as pd
import streamlit as st

from genoapp.models import MODEL_KEYS, MODEL_NAMES, PRESETS
from genoapp.models.zoo import preset_config
from genoapp.pipeline import (
    FeatureConfig,
    build_features,
    compare_models,
    feature_input_name,
    save_comparison,
)
from genoapp.plots.training import (
    comparison_figure,
    confusion_matrices,
    fold_metrics_figure,
    pr_curves,
    roc_curves,
    training_curves,
)
from genoapp.runconfig import config_dict
from genoapp.runs import default_runs_dir
from genoapp.train import device_description, resolve_device
from genoapp.train.protocol import METRICS, comparison_table
from genoapp.ui import state
from genoapp.ui.errors import guard
from genoapp.ui.jobs import TrainingJob, get_job, live_panel, start_job
from genoapp.ui.widgets import download_csv, figure

st.title("Train")
res = state.require("features", "pages/features.py", "Features")
qc = state.get("qc") or {}
split, fs = res["split"], res["features"]
primary = feature_input_name(fs)
n_cases_train = int((split.y[split.train_idx] == 1).sum())
st.write(
    f"{len(split.train_idx):,} training samples ({n_cases_train:,} cases) and {len(split.test_idx):,} "
    f"balanced test samples; {fs.X.shape[1]:,} {primary} features. **Protocol:** the test samples "
    "are used once, to score each final model. Hyper-parameters are chosen on balanced validation "
    "folds drawn inside the training samples; cases are upsampled to 1:1 inside the training data "
    "only; every model sees the same folds, upsampling and seeds; the table reports mean ± SD "
    "over seeds."
)
ALL_PCA = "method" in {f.name for f in dataclasses.fields(FeatureConfig)}
QUICK = {"epochs": 10, "cnn_epochs": 10, "mlp_epochs": 30, "ada_trees": 100, "n_seeds": 3,
         "validation": "holdout"}
PAPER = {"epochs": 30, "cnn_epochs": 30, "mlp_epochs": 30, "ada_trees": 1000, "n_seeds": 5,
         "validation": "cv"}


def _apply_preset():
    values = PAPER if st.session_state.get("preset") == "paper" else QUICK
    for k, v in values.items():
        st.session_state[k] = v


MODEL_SETS = {  # the first is the default: a first click gives a result in about a minute
    "quick": ("DiseaseCapsule + logistic regression (quick check)", ["capsule", "logreg"]),
    "all": ("All models (paper Table 1)", list(MODEL_KEYS)),
    "neural": ("Neural networks: DiseaseCapsule, MLP, CNN", ["capsule", "mlp", "cnn"]),
    "classic": ("Classical baselines and PRS", ["logreg", "svm", "rf", "adaboost", "prs", "authors_prs"]),
}


def _apply_model_set():
    key = st.session_state["model_set"]
    st.session_state["models"] = list(MODEL_SETS[key][1])
    if ALL_PCA:  # the paper's Gene-PCA vs All-PCA comparison goes with the full model set
        st.session_state["compare_all_pca"] = key == "all"


for _k, _v in QUICK.items():  # first visit: quick preset values
    st.session_state.setdefault(_k, _v)
st.session_state.setdefault("models", list(MODEL_SETS["quick"][1]))
st.session_state.setdefault("compare_all_pca", False)

t1, t2 = st.columns(2)
preset = t1.radio("Preset", list(PRESETS), format_func=lambda p: PRESETS[p], key="preset",
                  on_change=_apply_preset)
t2.selectbox("Model set", list(MODEL_SETS), format_func=lambda k: MODEL_SETS[k][0], key="model_set",
             on_change=_apply_model_set, help="Fills the model list below; edit it freely.")

with st.form("train_form"):
    models = st.multiselect("Models", list(MODEL_KEYS), key="models",
                            format_func=lambda k: MODEL_NAMES[k],
                            help="All are trained on the same inputs, splits and seeds. The two PRS "
                                 "models use the QC'd SNP dosages (their GWAS runs on training samples).")
    compare_all = st.checkbox(
        "Also train every model on All-PCA features (one PCA over all SNPs, fitted on training samples)",
        disabled=not ALL_PCA, key="compare_all_pca",
        help=None if ALL_PCA else "All-PCA is not available in this version of the Features step.")
    p0, p1, p2, p3, p4, p5 = st.columns(6)
    epochs = p0.number_input("Epochs", 1, 500, key="epochs",
                             help="DiseaseCapsule epochs (authors: 30; quick preset: 10).")
    n_seeds = p1.number_input("Seeds", 1, 20, key="n_seeds",
                              help="Repetitions with different folds, upsampling and initialisation.")
    n_folds = p2.number_input("Validation folds", 2, 10, 5, key="n_folds")
    validation = p3.selectbox("Validation", ["holdout", "cv"], key="validation",
                              format_func=lambda v: {"holdout": "first fold only (fast)",
                                                     "cv": "all folds + refit"}[v])
    tuning = p4.selectbox("Tuning", ["grid", "optuna", "none"], key="tuning",
                          format_func=lambda v: {"grid": "grid search", "optuna": "Optuna (TPE)",
                                                 "none": "none (first values)"}[v])
    n_trials = p5.number_input("Optuna trials", 1, 200, 10, key="n_trials")
    with st.expander("DiseaseCapsule options (defaults as the authors coded them)"):
        c2, c3, c4 = st.columns(3)
        batch_size = c2.number_input("Batch size", 8, 4096, 128, key="batch_size")
        lr = c3.number_input("Learning rate (Adam)", 1e-6, 1e-1, 1e-4, format="%.0e", key="lr")
        decay = c4.number_input("LR decay per epoch", 0.1, 1.0, 0.8, 0.05, key="lr_decay",
                                help="ExponentialLR gamma (DiseaseCapsule: 0.8).")
        o1, o2, o3, o4 = st.columns(4)
        routing = o1.radio("Routing softmax over", ["input", "output"], key="routing",
                           format_func=lambda v: {"input": "input capsules (authors' code, paper eq.)",
                                                  "output": "output capsules (Sabour et al.)"}[v])
        pose = o2.radio("Pose matrices", ["per_route", "shared"], key="pose",
                        format_func=lambda v: {"per_route": "one per route (authors' code)",
                                               "shared": "shared by a type's positions (paper text)"}[v])
        loss = o3.radio("Loss", ["cross_entropy", "margin"], key="loss",
                        format_func=lambda v: {"cross_entropy": "cross-entropy on capsule lengths",
                                               "margin": "margin loss (Sabour et al.)"}[v])
        dropout = o4.number_input("Dropout", 0.0, 0.9, 0.5, 0.05, key="dropout")
    with st.expander("Other models"):
        m1, m2, m3, m4, m5 = st.columns(5)
        mlp_epochs = m1.number_input("MLP epochs", 1, 500, key="mlp_epochs")
        cnn_epochs = m2.number_input("CNN epochs", 1, 500, key="cnn_epochs")
        ada_trees = m3.number_input("AdaBoost trees", 10, 5000, key="ada_trees")
        svm_kernel = m4.selectbox("SVM kernel", ["rbf", "linear"], key="svm_kernel")
        prs_clump = m5.checkbox("PRS: LD clumping (r² 0.1, 250 kb)", value=False, key="prs_clump")
    d1, d2, d3 = st.columns([1, 1, 2])
    device = d1.selectbox("Device", ["auto", "cpu", "cuda"], key="device")
    seed0 = d2.number_input("First seed", 0, 2**31 - 1, 0, key="train_seed")
    s1, s2 = d3.columns([1, 2])
    save = s1.checkbox("Save the run", value=True, key="save_run")
    runs_dir = s2.text_input("Runs folder", str(default_runs_dir()), key="runs_dir")
    submitted = st.form_submit_button("Train", type="primary", key="train")

job = get_job()
if submitted:
    with guard("Starting training"):
        if job is not None and job.running:
            st.warning("A training job is already running: stop it or wait for it to finish.")
        elif not models:
            st.warning("Choose at least one model.")
        else:
            dev = resolve_device(device)
            st.caption(f"Device: {device_description(dev)}")
            seeds = tuple(range(int(seed0), int(seed0) + int(n_seeds)))
            config = preset_config(preset, seeds=seeds, n_folds=int(n_folds), validation=validation,
                                   tuning=tuning, n_trials=int(n_trials), device=device)
            overrides = {
                "capsule": {"epochs": int(epochs), "batch_size": int(batch_size), "learning_rate": float(lr),
                            "lr_decay": float(decay), "routing_softmax": routing, "pose": pose,
                            "loss": loss, "dropout": float(dropout)},
                "mlp": {"epochs": int(mlp_epochs)},
                "cnn": {"epochs": int(cnn_epochs)},
                "adaboost": {"n_estimators": int(ada_trees)},
                "svm": {"kernel": svm_kernel},
            }
            G, variants = qc.get("G"), qc.get("variants")
            if prs_clump and variants is not None:
                overrides["prs"] = {"clump": True, "variants": variants[["chrom", "pos"]]}
            want_all = bool(compare_all and ALL_PCA and G is not None)
            if want_all:
                # one PCA over every QC'd SNP (the SNP grouping plays no part), with as many
                # components as the Gene-PCA features, capped by the rank (the paper's comparison)
                n_fit = len(split.train_idx) if fs.config.fit_on == "train" else len(split.y)
                all_cfg = FeatureConfig(kind="windows", window_snps=20, method="all_pca",
                                        fit_on=fs.config.fit_on, device=device,
                                        n_components=int(max(1, min(fs.X.shape[1], n_fit - 1, G.shape[1]))))
            samples = qc.get("samples")
            label = f"{primary}{' vs All-PCA' if want_all else ''}, {len(models)} models"
            params = {"models": list(models), "preset": preset, "config": config.to_dict(),
                      "overrides": {k: {q: w for q, w in v.items() if q != "variants"}
                                    for k, v in overrides.items()}}

            run_extra = {"device_description": device_description(dev)}
            wf = qc.get("result")
            sel = state.get("selection") or {}
            loaded = state.get("cohort") or {}
            if wf is not None and hasattr(wf, "config"):
                # everything `python -m genoapp run --config <run dir>` needs to redo this run
                files = loaded.get("files") or {}
                run_extra["pipeline_config"] = {
                    "label": label,
                    "data": {"source": "demo"} if loaded.get("source") == "demo" else {"source": "files", **files},
                    "selection": {k: sel.get(k) for k in ("phenotype", "batch_column", "batches", "sexes")},
                    "qc": config_dict(wf.config),
                    "features": {"config": config_dict(fs.config), "gene_table": res.get("gene_table"),
                                 "gene_format": res.get("gene_format", "auto")},
                    "train": {"models": list(models), "preset": preset, "protocol": config.to_dict(),
                              "overrides": params["overrides"] | ({"prs": {"clump": True}} if prs_clump else {}),
                              "all_pca": want_all,
                              "all_pca_config": config_dict(all_cfg) if want_all else None},
                }
            if wf is not None and hasattr(wf, "summary"):  # the QC funnel, for the methods paragraph
                run_extra["qc"] = wf.summary().astype(object).where(wf.summary().notna(), None).to_dict("records")

            def target(on_event, stop):
                inputs = {primary: fs}
                if want_all:
                    on_event({"event": "message", "text": "building All-PCA features (training samples)"})
                    inputs["All-PCA"] = build_features(G, variants, split, config=all_cfg)
                result = compare_models(inputs, split, snps=G, models=models, preset=preset,
                                        config=config, overrides=overrides, on_event=on_event, stop=stop)
                run_dir = None
                if save and variants is not None and len(result.protocol.metrics):
                    run_dir = save_comparison(result, inputs, qc_variants=variants, root=runs_dir,
                                              samples=samples, split=split, snps=G, label=label,
                                              extra=run_extra)
                return {"result": result, "run_dir": run_dir}

            job = start_job(TrainingJob(target, label="Training",
                                        meta={"params": params, "features_id": id(fs)}))


def _finish(finished):
    if finished.status == "failed":
        st.session_state["genoapp_train_error"] = (repr(finished.error), finished.error_text)
        return
    st.session_state.pop("genoapp_train_error", None)
    out = finished.result or {}
    current = state.get("features")
    if current is None or id(current["features"]) != finished.meta.get("features_id"):
        where = f" The run was saved in `{out['run_dir']}`." if out.get("run_dir") else ""
        st.session_state["genoapp_train_error"] = (
            "the features changed while the models trained, so the result was not shown here." + where, "")
        return
    if out.get("result") is not None:
        state.put("train", {"result": out["result"], "run_dir": out.get("run_dir"),
                            "params": finished.meta.get("params", {}),
                            "stopped": finished.status == "stopped"})


if job is not None:
    live_panel(_finish)

err = st.session_state.get("genoapp_train_error")
if err and err[1]:
    st.error(f"Training failed: {err[0]}")
    with st.expander("Details (log)"):
        st.code(err[1], language="text")
elif err:
    st.warning(f"Training finished, but {err[0]}")

tr = state.get("train")
if tr is None:
    st.stop()
result = tr["result"]
proto = result.protocol
y_test = split.y[split.test_idx]

st.subheader("Test-set metrics")
if proto is None:  # a result of genoapp.pipeline.train_case_control
    st.dataframe(result.metrics.style.format(precision=3), hide_index=True)
    download_csv(result.metrics, "test_metrics.csv")
    figure(training_curves(result.history), key="curves")
    figure(roc_curves(y_test, result.test_scores), key="roc")
    st.stop()

summary = proto.summary()
if tr.get("stopped") or proto.stopped:
    st.warning("Training was stopped: models that were running kept their best weights so far "
               "(marked 'stopped' below); models not started are missing.")
for note in proto.notes:
    st.info(note)
numeric = summary[["model", "input", "n_seeds"] + [f"{m}_mean" for m in METRICS] + [f"{m}_sd" for m in METRICS]]
numeric = numeric.rename(columns={f"{m}_mean": m for m in METRICS})
devices = ", ".join(sorted(set(proto.metrics["device"].astype(str)))) if len(proto.metrics) else ""
st.caption(f"Balanced test set: {len(split.test_idx)} samples. Mean over seeds (SD columns: standard "
           f"deviation over seeds). Torch models ran on: {devices}.")
st.dataframe(numeric.style.format(precision=3), hide_index=True)
st.markdown("**As paper Table 1** (mean ± SD over seeds)")
st.dataframe(comparison_table(summary), hide_index=True)
c1, c2 = st.columns(2)
with c1:
    download_csv(summary, "model_comparison.csv")
with c2:
    download_csv(proto.metrics, "test_metrics_per_seed.csv")
metric = st.selectbox("Metric", list(METRICS), key="cmp_metric")
figure(comparison_figure(summary, metric=metric), key="cmp_fig")

if proto.metrics.empty or "input" not in proto.metrics:
    st.info("No model finished before training was stopped: no curves or confusion matrices "
            "to show. Train again to see them.")
    st.stop()
st.subheader("Curves and confusion matrices")
inputs = list(dict.fromkeys(proto.metrics["input"]))
seeds = list(dict.fromkeys(proto.metrics["seed"]))
k1, k2 = st.columns(2)
inp = k1.selectbox("Input", inputs, key="curve_input")
seed = k2.selectbox("Seed", seeds, key="curve_seed")
keys = [k for k in proto.test_scores if k[2] == seed and (k[1] == inp or k[1] == "SNPs")]
scores = {f"{proto.models[k[0]].name}" + (" (SNPs)" if k[1] == "SNPs" and inp != "SNPs" else ""):
          proto.test_scores[k] for k in keys}
preds = {name: proto.test_predictions[k] for name, k in zip(scores, keys, strict=True)}
r1, r2 = st.columns(2)
with r1:
    figure(roc_curves(proto.y_test, scores), key="roc")
with r2:
    figure(pr_curves(proto.y_test, scores), key="pr")
figure(confusion_matrices(proto.y_test, preds), key="cms")
long = pd.concat([pd.DataFrame({"model": proto.models[k[0]].name, "input": k[1], "seed": k[2],
                                "test_row": proto.test_idx, "label": proto.y_test, "score": s,
                                "prediction": proto.test_predictions[k]})
                  for k, s in proto.test_scores.items()], ignore_index=True)
download_csv(long, "test_scores.csv")

st.subheader("Validation folds (inside the training samples)")
gwas_p = getattr(getattr(qc.get("result"), "config", None), "gwas", None)
if gwas_p is not None and len(proto.fold_metrics):
    st.info(f"The QC page kept the SNPs with GWAS p < {gwas_p:g} on all training samples, validation "
            "folds included: their labels helped choose the SNPs, so the validation scores below are "
            "optimistic and serve only to rank hyper-parameters. The test samples took no part in "
            "any of it; the test-set metrics above are the honest ones.")
if len(proto.fold_metrics):
    fm_metric = st.selectbox("Validation metric", list(METRICS), index=4, key="fold_metric")
    figure(fold_metrics_figure(proto.fold_metrics, metric=fm_metric), key="folds")
    st.dataframe(proto.fold_metrics.drop(columns=["key"]).style.format(precision=3), hide_index=True,
                 height=240)
    download_csv(proto.fold_metrics, "fold_metrics.csv")

if proto.histories:
    st.subheader("Learning curves")
    hkeys = list(proto.histories)
    hk = st.selectbox("Model", range(len(hkeys)), key="history_pick",
                      format_func=lambda i: f"{proto.models[hkeys[i][0]].name} · {hkeys[i][1]} · seed {hkeys[i][2]}")
    h = proto.histories[hkeys[hk]]
    figure(training_curves(h), key="curves")
    download_csv(h, "training_history.csv")

if tr.get("run_dir"):
    st.success(f"Saved run: `{tr['run_dir']}` (open it on the Runs page to predict new individuals).")
if result.capsule is not None:
    st.page_link("pages/insights.py", label="Next: Capsule insights", icon=":material/arrow_forward:")
else:
    st.caption("Train the DiseaseCapsule model to open Capsule insights.")
