"""Train page: the case/control model zoo under the honest protocol, trained in the background."""

import dataclasses

import streamlit as st

from genoapp.demo import load_demo_truth
from genoapp.errors import StorageError
from genoapp.features import build_features
from genoapp.logs import capture_log
from genoapp.plots.training import (
    casecontrol_curves,
    comparison_figure,
    confusion_matrices,
    fold_metrics_figure,
    pr_curves,
    roc_curves,
    training_curves,
)
from genoapp.runs import check_runs_dir, default_runs_dir, resolve_runs_dir, save_casecontrol
from genoapp.train import device_description, resolve_device
from genoapp.ui import settings, state
from genoapp.ui.errors import guard
from genoapp.ui.jobs import TrainingJob, get_job, live_panel, start_job
from genoapp.ui.widgets import download_csv, figure
from genoapp.workflows.casecontrol import all_pca_config, compare_models, nested_filter_report
from genoapp.workflows.estimate import estimate_comparison
from genoapp.workflows.presets import (
    PRESETS,
    association_grid,
    describe_association,
    model_grid,
    model_params,
    protocol_config,
)
from genoapp.workflows.protocol import CLASSIFICATION_METRICS as METRICS
from genoapp.workflows.protocol import certainty_table, comparison_table
from genoapp.workflows.registry import CASECONTROL_MODELS as MODEL_KEYS
from genoapp.workflows.registry import MODEL_NAMES

st.title("Train")
res = state.require("features", "pages/features.py", "Features")
qc = state.get("qc") or {}
split, fs = res["split"], res["features"]
primary = fs.input_name
n_cases_train = int((split.y[split.train_idx] == 1).sum())
st.write(
    f"{len(split.train_idx):,} training samples ({n_cases_train:,} cases) and {len(split.test_idx):,} "
    f"balanced test samples; {fs.X.shape[1]:,} {primary} features. **Protocol:** the test samples "
    "are used once, to score each final model. Hyper-parameters are chosen on balanced validation "
    "folds drawn inside the training samples; cases are upsampled to 1:1 inside the training data "
    "only; every model sees the same folds, upsampling and seeds; the table reports mean ± SD "
    "over seeds."
)
def _capsule_values(preset: str) -> dict:
    """DiseaseCapsule's effective settings under a preset: the class defaults (the authors'
    code) updated with the preset's fixed values."""
    from genoapp.models.capsnet import DiseaseCapsuleClassifier

    values = DiseaseCapsuleClassifier().get_params()
    values.update(model_params(preset, "capsule"))
    return values


def _page_values(preset: str) -> dict:
    """The form's values of a preset (read from the one presets source)."""
    cc = PRESETS[preset].casecontrol
    cap = _capsule_values(preset)
    return {"epochs": cap["epochs"],
            "cnn_epochs": model_params(preset, "cnn")["epochs"],
            "mlp_epochs": model_params(preset, "mlp")["epochs"],
            "ada_trees": model_params(preset, "adaboost")["n_estimators"],
            "n_seeds": len(cc["seeds"]), "validation": cc["validation"],
            "batch_size": cap["batch_size"], "lr": cap["learning_rate"], "lr_decay": cap["lr_decay"],
            "tune_lr": bool(model_grid(preset, "capsule").get("learning_rate")),
            "routing": cap["routing_softmax"], "pose": cap["pose"], "loss": cap["loss"],
            "dropout": cap["dropout"]}


QUICK, PAPER = _page_values("quick"), _page_values("paper")


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
    # the paper's Gene-PCA vs All-PCA comparison goes with the full model set
    st.session_state["compare_all_pca"] = key == "all"


for _k, _v in QUICK.items():  # first visit: quick preset values
    st.session_state.setdefault(_k, _v)
st.session_state.setdefault("models", list(MODEL_SETS["quick"][1]))
st.session_state.setdefault("compare_all_pca", False)

t1, t2 = st.columns(2)
preset = t1.radio("Preset", list(PRESETS), format_func=lambda p: PRESETS[p].label, key="preset",
                  on_change=_apply_preset)
t2.selectbox("Model set", list(MODEL_SETS), format_func=lambda k: MODEL_SETS[k][0], key="model_set",
             on_change=_apply_model_set, help="Fills the model list below; edit it freely.")

def _estimate():
    """Expected time of the settings below (as last applied), measured on this machine."""
    ss = st.session_state
    with guard("Estimating the run time"):
        cfg = protocol_config(ss.get("preset", "quick"), "classification",
                              seeds=tuple(range(int(ss.get("n_seeds", 3)))),
                              validation=ss.get("validation", "holdout"),
                              tuning=ss.get("tuning", "grid"))
        return estimate_comparison(len(split.train_idx), fs.X.shape[1],
                                   models=ss.get("models") or [], preset=ss.get("preset", "quick"),
                                   config=cfg, n_snps=int(qc["result"].G.shape[1]),
                                   association=ss.get("association", "nested"),
                                   n_units=fs.n_genes,
                                   overrides={"capsule": {"epochs": int(ss.get("epochs", 30))}})


with st.form("train_form"):
    models = st.multiselect("Models", list(MODEL_KEYS), key="models",
                            format_func=lambda k: MODEL_NAMES[k],
                            help="All are trained on the same inputs, splits and seeds. The two PRS "
                                 "models use the QC'd SNP dosages (their GWAS runs on training samples).")
    fixed_gwas = getattr(getattr(qc.get("result"), "config", None), "gwas", None)
    association = st.radio(
        "Association filter", ["nested", "none"], horizontal=True, key="association",
        index=0 if fixed_gwas is None else 1,
        format_func=lambda v: {"nested": "chosen inside the training samples ("
                                         + describe_association(association_grid(preset))
                                         + ", on inner folds)",
                               "none": "none: every SNP the QC page kept"
                                       + (f" (its fixed filter p < {fixed_gwas:g})"
                                          if fixed_gwas is not None else "")}[v],
        help="'chosen inside the training samples' reruns the GWAS on each inner training part "
             "and picks how many top genes (ranked by their best SNP) to keep by a logistic "
             "regression's validation ROC AUC, then rebuilds Gene-PCA on all of their SNPs; no validation or test sample enters the "
             "test that chose them. Use 'none' for the search of non-additive genes, which "
             "needs genes without a marginal effect.")
    compare_all = st.checkbox(
        "Also train every model on All-PCA features (one PCA over all SNPs, fitted on training samples)",
        key="compare_all_pca")
    wf_samples = qc["result"].samples
    phen = (state.get("selection") or {}).get("phenotype")
    v1, v2 = st.columns([3, 1])
    cov_cols = v1.multiselect(
        "Covariates as model inputs",
        [c for c in wf_samples.columns if c not in ("sample_index", "FID", "IID", phen)],
        key="train_covariates",
        help="Appended to every feature input (not to the PRS models' SNPs). Coded on the "
             "training samples only: numeric columns as they are, categorical ones one-hot "
             "against their most frequent level among the training samples; each column is "
             "standardised with training means and SDs. Samples lacking a value are dropped "
             "from training and test (the count is shown with the results, the IDs can be "
             "downloaded). A saved run then needs these columns to predict new individuals.")
    cov_pcs = v2.number_input(
        "PCs as inputs", 0, 20, 0, key="train_covariate_pcs",
        help="Principal components of a PCA of the training samples' QC'd genotypes, "
             "projected onto the test samples (leakage-safe), appended like the covariates.")
    p0, p1, p2, p3, p4, p5 = st.columns(6)
    epochs = p0.number_input("Epochs", 1, 500, key="epochs",
                             help="DiseaseCapsule epochs (authors: 30; quick preset: at most 30, stopped early when the validation fold stops improving).")
    n_seeds = p1.number_input("Seeds", 1, 20, key="n_seeds",
                              help="Repetitions with different folds, upsampling and initialisation.")
    n_folds = p2.number_input("Validation folds", 2, 10, 5, key="n_folds")
    refit_holdout = protocol_config(st.session_state.get("preset", "quick"),
                                    "classification").holdout_refit
    validation = p3.selectbox(
        "Validation", ["holdout", "cv"], key="validation",
        format_func=lambda v: {"holdout": ("first fold + refit (fast)" if refit_holdout
                                           else "first fold only (fast)"),
                               "cv": "all folds + refit"}[v],
        help="Hyper-parameters and the best epoch are chosen on the first validation fold, or "
             "on all folds. 'refit': the final network is then trained on all training samples "
             "for that many epochs; otherwise it is the network trained on the other folds "
             "(the authors' way).")
    tuning = p4.selectbox("Tuning", ["grid", "optuna", "none"], key="tuning",
                          format_func=lambda v: {"grid": "grid search", "optuna": "Optuna (TPE)",
                                                 "none": "none (first values)"}[v])
    n_trials = p5.number_input("Optuna trials", 1, 200, 10, key="n_trials")
    with st.expander("DiseaseCapsule options (the preset's values; the paper preset: as the authors coded them)"):
        c1, c2, c3, c4 = st.columns(4)
        lr_grid = model_grid(st.session_state.get("preset", "quick"), "capsule").get("learning_rate")
        tune_lr = c1.checkbox("Tune the learning rate", key="tune_lr", disabled=not lr_grid,
                              help=("Chosen on the validation fold among "
                                    f"{', '.join(f'{v:g}' for v in lr_grid)} (the preset's grid); "
                                    "untick to fix it." if lr_grid else
                                    "This preset fixes the learning rate."))
        batch_size = c2.number_input("Batch size", 8, 4096, key="batch_size")
        lr = c3.number_input("Learning rate (Adam)", 1e-6, 1e-1, format="%.0e", key="lr",
                             disabled=bool(lr_grid and tune_lr),
                             help="Used when the learning rate is not tuned (authors: 1e-4).")
        decay = c4.number_input("LR decay per epoch", 0.1, 1.0, step=0.05, key="lr_decay",
                                help="ExponentialLR gamma (authors: 0.8; quick preset: 1.0, no decay).")
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
        dropout = o4.number_input("Dropout", 0.0, 0.9, step=0.05, key="dropout")
    with st.expander("Other models"):
        m1, m2, m3, m4, m5 = st.columns(5)
        mlp_epochs = m1.number_input("MLP epochs", 1, 500, key="mlp_epochs")
        cnn_epochs = m2.number_input("CNN epochs", 1, 500, key="cnn_epochs")
        ada_trees = m3.number_input("AdaBoost trees", 10, 5000, key="ada_trees")
        svm_kernel = m4.selectbox("SVM kernel", ["rbf", "linear"], key="svm_kernel")
        prs_clump = m5.checkbox("PRS: LD clumping (r² 0.1, 250 kb)", value=False, key="prs_clump")
    s1, s2 = st.columns([1, 3])
    save = s1.checkbox("Save the run", value=True, key="save_run")
    runs_dir = s2.text_input("Runs folder", str(default_runs_dir()), key="runs_dir",
                             help="Seeds start at the sidebar's seed; the device is the sidebar's.")
    est = _estimate() if st.session_state.get("models") else None
    if est is not None:
        st.caption(f"Expected time on this machine for these settings: {est.text()}. "
                   "Training runs in the background and can be stopped at any time.")
    submitted = st.form_submit_button("Train", type="primary", key="train")

job = get_job()
if submitted:
    with guard("Starting training"):
        device = settings.device()
        if job is not None and job.running:
            st.warning("A training job is already running: stop it or wait for it to finish.")
        elif not models:
            st.warning("Choose at least one model.")
        else:
            if save:  # before any work: a read-only or full runs folder is said now, not after
                runs_dir = resolve_runs_dir(runs_dir)
                check_runs_dir(runs_dir)
            dev = resolve_device(device)
            seed0 = settings.seed()
            seeds = tuple(range(seed0, seed0 + int(n_seeds)))
            config = protocol_config(preset, "classification", seeds=seeds, n_folds=int(n_folds),
                                     validation=validation, tuning=tuning, n_trials=int(n_trials),
                                     device=device)
            # only what differs from the preset reaches the models: a fixed value leaves the
            # preset's tuning grid, so the preset's choices (e.g. the tuned learning rate) stay
            chosen = {"epochs": int(epochs), "batch_size": int(batch_size), "lr_decay": float(decay),
                      "routing_softmax": routing, "pose": pose, "loss": loss, "dropout": float(dropout)}
            if not (lr_grid and tune_lr):
                chosen["learning_rate"] = float(lr)
            preset_cap = _capsule_values(preset)
            overrides = {
                "capsule": {k: v for k, v in chosen.items()
                            if k == "epochs" or k not in preset_cap or v != preset_cap[k]
                            or (k == "learning_rate" and lr_grid)},
                "mlp": {"epochs": int(mlp_epochs)},
                "cnn": {"epochs": int(cnn_epochs)},
                "adaboost": {"n_estimators": int(ada_trees)},
                "svm": {"kernel": svm_kernel},
            }
            wf = qc["result"]
            G, variants = wf.G, wf.variants
            if prs_clump:
                overrides["prs"] = {"clump": True, "variants": variants[["chrom", "pos"]]}
            want_all = bool(compare_all)
            all_cfg = all_pca_config(fs, G.shape[1]) if want_all else None
            label = f"{primary}{' vs All-PCA' if want_all else ''}, {len(models)} models"
            plain = {k: {q: w for q, w in v.items() if q != "variants"} for k, v in overrides.items()}
            run_cfg = state.run_config(label=label)
            run_cfg.train = {"models": list(models), "preset": preset, "protocol": config.to_dict(),
                             "overrides": plain, "all_pca": want_all, "association": association,
                             "all_pca_config": None if all_cfg is None else dataclasses.asdict(all_cfg),
                             "covariates": list(cov_cols), "covariate_pcs": int(cov_pcs)}
            params = {"models": list(models), "preset": preset, "config": config.to_dict(),
                      "overrides": plain}
            phenotype = (state.get("selection") or {}).get("phenotype", "phenotype")

            def target(on_event, stop):
                with capture_log() as log:
                    inputs = {primary: fs}
                    if want_all:
                        on_event({"event": "message", "text": "building All-PCA features (training samples)"})
                        inputs["All-PCA"] = build_features(G, variants, split, config=all_cfg)
                    result = compare_models(inputs, split, snps=G, models=models, preset=preset,
                                            config=config, overrides=overrides, phenotype=phenotype,
                                            association=association, covariates=tuple(cov_cols),
                                            covariate_pcs=int(cov_pcs), samples=wf.samples,
                                            on_event=on_event, stop=stop)
                out = {"result": result, "inputs": inputs, "run_dir": None, "log": log,
                       "save": (inputs, run_cfg, runs_dir, device_description(dev))}
                if save and len(result.metrics):
                    try:
                        out["run_dir"] = save_casecontrol(result, inputs, wf, runs_dir=runs_dir,
                                                          config=run_cfg, log=log,
                                                          device=device_description(dev))
                    except StorageError as exc:  # results stay in memory: the user can retry
                        out["save_error"] = str(exc)
                return out

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
                            "stopped": finished.status == "stopped",
                            "save_error": out.get("save_error"), "save": out.get("save"),
                            "log": out.get("log")})


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
proto = tr["result"]

if tr.get("save_error"):
    st.error(f"The results below could not be saved: {tr['save_error']}")
    if st.button("Save again", key="save_again", icon=":material/save:"):
        with guard("Saving the run"):
            inputs, run_cfg, where, dev_text = tr["save"]
            tr["run_dir"] = save_casecontrol(proto, inputs, qc["result"], runs_dir=where,
                                             config=run_cfg, log=tr.get("log"), device=dev_text)
            tr["save_error"] = None
            st.rerun()

st.subheader("Test-set metrics")
summary = proto.summary()
st.caption(f"Training took {proto.seconds:.0f} s on this machine.")
if tr.get("stopped") or proto.stopped:
    st.warning("Training was stopped: models that were running kept their best weights so far "
               "(marked 'stopped' below); models not started are missing.")
for warn in proto.warnings():  # plain words when a model did not learn
    st.warning(warn, icon=":material/warning:")
for note in proto.notes:
    st.info(note)
if proto.covariates is not None and len(proto.covariates.dropped):
    with st.expander(f"{len(proto.covariates.dropped):,} samples without a covariate value "
                     "(left out of training and test)"):
        st.dataframe(proto.covariates.dropped.head(1000), hide_index=True)
        download_csv(proto.covariates.dropped, "covariate_missing_samples.csv",
                     key="dl_train_covar_dropped")
st.markdown("**How sure** (95 % bootstrap intervals over the test samples; one-sided tests "
            "against chance)")
st.dataframe(certainty_table(summary), hide_index=True)
numeric = summary[["model", "input", "n"] + [f"{m}_mean" for m in METRICS] + [f"{m}_sd" for m in METRICS]]
numeric = numeric.rename(columns={f"{m}_mean": m for m in METRICS} | {"n": "n_seeds"})
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
nested = nested_filter_report(
    proto, n_genes=int(fs.summary.shape[0]) if getattr(fs, "summary", None) is not None else None,
    truth=load_demo_truth() if ((state.get("cohort") or {}).get("source") == "demo"
                                and (state.get("selection") or {}).get("phenotype")
                                == (state.get("cohort") or {}).get("default_phenotype")) else None)
if len(nested):
    st.markdown("**Association filter** (chosen inside the training samples of each seed, by a "
                "logistic regression's ROC AUC on inner validation folds)")
    st.dataframe(nested.style.format({"val_roc_auc": "{:.3f}"}), hide_index=True)

if proto.metrics.empty:
    st.info("No model finished before training was stopped: no curves or confusion matrices "
            "to show. Train again to see them.")
    st.stop()
st.subheader("Curves and confusion matrices")
inputs = list(dict.fromkeys(proto.metrics["input"]))
seeds = list(dict.fromkeys(proto.metrics["seed"]))
k1, k2 = st.columns(2)
inp = k1.selectbox("Input", inputs, key="curve_input")
seed = k2.selectbox("Seed", seeds, key="curve_seed")
names = {k: s.name for k, s in proto.models.items()}
y_true, scores, preds = casecontrol_curves(proto.predictions, names, input=inp, seed=seed)
r1, r2 = st.columns(2)
with r1:
    figure(roc_curves(y_true, scores), key="roc")
with r2:
    figure(pr_curves(y_true, scores), key="pr")
figure(confusion_matrices(y_true, preds), key="cms")
download_csv(proto.predictions, "test_scores.csv")

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
                      format_func=lambda i: f"{names.get(hkeys[i].key, hkeys[i].key)} · {hkeys[i].input} · "
                                            f"seed {hkeys[i].seed}")
    h = proto.histories[hkeys[hk]]
    figure(training_curves(h), key="curves")
    download_csv(h, "training_history.csv")

if tr.get("run_dir"):
    st.success(f"Saved run: `{tr['run_dir']}` (open it on the Runs page to predict new individuals).")
if proto.estimator("capsule", primary) is not None:
    st.page_link("pages/insights.py", label="Next: Capsule insights", icon=":material/arrow_forward:")
else:
    st.caption("Train the DiseaseCapsule model to open Capsule insights.")
