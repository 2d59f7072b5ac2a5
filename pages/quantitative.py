"""Quantitative traits page: GRVSNN with pedigree loadings against ridge, LassoNet and Bayesian
regressions, honestly cross-validated (DESIGN §4.2, §4.5). All computation is in
genoapp.quantitative; this script only collects choices and shows results."""

import datetime as dt
from pathlib import Path

import streamlit as st

from genoapp.errors import ConfigError
from genoapp.plots.quantitative import (
    fold_scores_figure,
    importance_figure,
    model_comparison_figure,
    observed_vs_predicted,
    scree_plot,
)
from genoapp.quantitative import (
    APP_DEFAULT_INPUTS,
    DEMO_TRAITS,
    INPUT_SETS,
    MODELS,
    PRESET_GRVSNN,
    PRESET_LASSONET,
    available_models,
    demo_paths,
    load_quantitative_data,
    run_quantitative,
    save_run,
)
from genoapp.train.callbacks import Callback
from genoapp.train.cv import PRESETS, CVConfig
from genoapp.ui.errors import guard
from genoapp.ui.uploads import drop, keep, save_uploads
from genoapp.ui.widgets import download_csv, figure

_DATA = "genoapp_quant_data"
_RUN = "genoapp_quant_run"
_PARTIAL = "genoapp_quant_partial"
_RUNNING = "genoapp_quant_running"


@st.cache_resource(show_spinner="Loading the mice example and decomposing its relationship matrix…")
def _load_demo():
    p = demo_paths()
    return load_quantitative_data(p["bed"], phenotypes=p["phenotypes"], grm=p["grm"],
                                  name="BGLR mice (built-in example)")


def _store_data(data, source: str) -> None:
    st.session_state[_DATA] = {"data": data, "source": source}
    for key in (_RUN, _PARTIAL, _RUNNING):
        st.session_state.pop(key, None)


st.title("Quantitative traits")
st.write(
    "Predict several quantitative traits at once from SNP markers plus reduced-rank pedigree "
    "loadings with **GRVSNN** (gated residual variable selection network, Fan & Waldmann 2025), "
    "and compare it with ridge regression (GBLUP), LassoNet and Bayesian ridge / lasso / BayesCπ "
    "on the same cross-validation folds. Every fitted and tuned step sees training folds only; "
    "the test fold is scored once."
)

# ------------------------------------------------------------------------------------ data
with st.expander("Data: genotypes, traits, pedigree or relationship matrix",
                 expanded=st.session_state.get(_DATA) is None):
    how = st.radio("Source", ["Built-in example: BGLR mice", "Files on the server", "Upload files"],
                   horizontal=True, key="q_source")
    scope = st.radio("Decompose the pedigree A over", ["all", "genotyped"], horizontal=True,
                     key="q_scope",
                     format_func=lambda v: {"all": "all individuals of the pedigree (paper)",
                                            "genotyped": "genotyped individuals only (faster)"}[v],
                     help="A GRM is always used whole. Loadings use relationships only, never "
                          "phenotypes, so including test individuals leaks no label.")
    c1, c2 = st.columns(2)
    selfing = c1.checkbox("Allow selfing (sire = dam, plants)", key="q_selfing")
    sexcheck = c2.checkbox("Check sexes of parents", value=True, key="q_sexcheck")
    ped_opts = {"allow_selfing": selfing, "check_sex": sexcheck}
    if how == "Built-in example: BGLR mice":
        st.caption("1,814 heterogeneous-stock mice x 10,346 SNPs, 21 traits and the pedigree A "
                   "matrix from the R package BGLR (GPL-3); the GRVSNN paper's mouse data. "
                   "See assets/quantitative/mice/README.md.")
        if st.button("Load the mice example", key="q_load_demo"):
            with guard("Loading the mice example"):
                _store_data(_load_demo(), "demo")
    elif how == "Files on the server":
        bed = st.text_input("PLINK prefix or .bed path", key="q_path_bed")
        pheno = st.text_input("Phenotype table (FID IID trait ...)", key="q_path_pheno")
        rel_kind = st.radio("Relationships", ["none", "pedigree", "GRM"], horizontal=True,
                            key="q_rel_kind",
                            format_func=lambda v: {"none": "none (markers only)",
                                                   "pedigree": "pedigree file (id sire dam)",
                                                   "GRM": "GCTA GRM (.grm.bin/.grm.id)"}[v])
        rel_path = st.text_input("Pedigree file or GRM prefix", key="q_path_rel",
                                 disabled=rel_kind == "none")
        if st.button("Load", key="q_load_paths", disabled=not (bed and pheno)):
            with guard("Loading the files"):
                data = load_quantitative_data(
                    bed.strip(), phenotypes=pheno.strip(),
                    pedigree=rel_path.strip() if rel_kind == "pedigree" and rel_path else None,
                    grm=rel_path.strip() if rel_kind == "GRM" and rel_path else None,
                    relationship_scope=scope, pedigree_options=ped_opts,
                    name=Path(bed.strip()).name)
                _store_data(data, "path")
    else:
        files = st.file_uploader("The .bed, .bim, .fam, the phenotype table, and optionally a "
                                 "pedigree file or the .grm.bin and .grm.id", accept_multiple_files=True,
                                 key="q_uploads")
        names = [f.name for f in files or []]
        others = [n for n in names if not n.endswith((".bed", ".bim", ".fam", ".grm.bin", ".grm.id"))]
        pheno_name = st.selectbox("Phenotype table", ["(choose)"] + others, key="q_up_pheno")
        ped_name = st.selectbox("Pedigree file (optional)", ["(none)"] + others, key="q_up_ped")
        if st.button("Load uploaded files", key="q_load_uploads", disabled=not files):
            with guard("Loading the uploaded files"):
                tmp = save_uploads(files, "quantitative")
                try:
                    beds = sorted(tmp.glob("*.bed"))
                    grms = sorted(tmp.glob("*.grm.bin"))
                    if len(beds) != 1 or pheno_name == "(choose)":
                        raise ConfigError("Upload exactly one .bed with its .bim and .fam, and choose "
                                          f"the phenotype table (found {len(beds)} .bed files).")
                    data = load_quantitative_data(
                        beds[0], phenotypes=tmp / pheno_name,
                        pedigree=tmp / ped_name if ped_name != "(none)" else None,
                        grm=grms[0] if grms and ped_name == "(none)" else None,
                        relationship_scope=scope, pedigree_options=ped_opts, name=beds[0].stem)
                    _store_data(data, "upload")
                except BaseException:  # nothing half-loaded stays on disk
                    drop(tmp)
                    raise
                keep("quantitative", tmp)

if st.session_state.get(_DATA) is None:
    with guard("Loading the mice example"):
        _store_data(_load_demo(), "demo")
loaded = st.session_state.get(_DATA)
if loaded is None:
    st.stop()
data = loaded["data"]
st.subheader(data.name)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Individuals", f"{data.n_samples:,}")
m2.metric("Markers", f"{data.n_markers:,}")
m3.metric("Numeric traits", f"{len(data.trait_names)}")
m4.metric("Relationships", "yes" if data.relationship is not None else "none")
for note in data.notes:
    st.caption(note)

# ------------------------------------------------------------------------------------ loadings
n_components = None
if data.relationship is not None:
    rel = data.relationship
    st.subheader("Pedigree loadings")
    st.caption(f"From {data.relationship_source}. A = Q Λ Qᵀ, loadings L = Q √Λ; the first m "
               "columns (rows of the genotyped individuals) join the markers: X = [L_m, markers].")
    options = {"elbow": f"elbow (Kneedle) = {rel.elbow}"}
    if rel.plateau:
        options["plateau"] = f"where the eigenvalues stop decreasing (paper's rule) = {rel.plateau}"
    options["custom"] = "my own m"
    default = "plateau" if rel.plateau else "elbow"
    choice = st.radio("Rank m", list(options), format_func=options.get, horizontal=True,
                      index=list(options).index(default), key="q_rank_choice")
    if choice == "custom":
        n_components = int(st.number_input("m", 1, int(rel.n_components),
                                           int(rel.plateau or rel.elbow), key="q_rank"))
    else:
        n_components = choice
    chosen = data.resolve_rank(n_components)
    figure(scree_plot(rel.eigenvalues, elbow=rel.elbow, plateau=rel.plateau, chosen=chosen),
           key="q_scree")

# ------------------------------------------------------------------------------------ setup
st.subheader("Traits, models and protocol")
traits_all = data.trait_names
default_traits = [t for t in DEMO_TRAITS if t in traits_all] or traits_all[:2]
traits = st.multiselect("Traits (predicted together by GRVSNN, one at a time by the others)",
                        traits_all, default=default_traits, key="q_traits")
if traits:
    tt = data.trait_table()
    st.dataframe(tt[tt["trait"].isin(traits)].style.format(precision=3), hide_index=True)
avail = available_models()
usable = [m for m in MODELS if avail[m] is None]
for why in avail.values():
    if why:
        st.caption(f"Not available: {why}")
models = st.multiselect(
    "Models", usable, default=[m for m in ("GRVSNN", "Ridge (GBLUP)") if m in usable],
    key="q_models",
    format_func=lambda m: f"{m}{' (slow on CPU)' if MODELS[m]['slow'] else ''}",
    help="; ".join(f"{k}: {v['about']}" for k, v in MODELS.items()))
sets_avail = list(INPUT_SETS) if data.relationship is not None else ["markers"]
input_sets = st.multiselect(
    "Inputs", sets_avail, key="q_inputs",
    default=list(APP_DEFAULT_INPUTS) if data.relationship is not None else sets_avail,
    help="Add 'markers' to compare markers alone with markers + loadings (paper Tables 1-4); "
         "each input set adds one full cross-validation.")
preset = st.radio("Protocol", list(PRESETS), horizontal=True, key="q_preset",
                  format_func=lambda k: PRESETS[k].label)
base = PRESETS[preset]
with st.expander("Protocol and model options"):
    o1, o2, o3, o4 = st.columns(4)
    n_splits = o1.number_input("Folds", 2, 20, base.n_splits, key=f"q_folds_{preset}")
    n_repeats = o2.number_input("Repeats", 1, 50, base.n_repeats, key=f"q_repeats_{preset}")
    n_trials = o3.number_input("Optuna trials per fold", 1, 500, base.n_trials, key=f"q_trials_{preset}")
    max_epochs = o4.number_input("Max epochs", 5, 5000, base.max_epochs, key=f"q_epochs_{preset}")
    g1, g2, g3, g4 = st.columns(4)
    n_hidden = g1.number_input("GRVSNN hidden units", 4, 1024, PRESET_GRVSNN[preset]["n_hidden"],
                               key=f"q_hidden_{preset}")
    gate = g2.selectbox("Gate", ["sigmoid", "hard_sigmoid"], key="q_gate")
    threshold = g3.number_input("Selection threshold", 0.0, 1.0, base.importance_threshold, 0.01,
                                key="q_threshold", help="An input is selected when its mean "
                                "selection weight is at or above this (paper: 0.05).")
    scale = g4.selectbox("Threshold applies to", ["sum", "max"], key="q_scale",
                         format_func=lambda v: {"sum": "raw weights (sum to 1)",
                                                "max": "weights / largest"}[v])
    b1, b2, b3 = st.columns(3)
    gibbs_iter = b1.number_input("Gibbs iterations (BGLR: 6,000)", 200, 100000, 6000, 100,
                                 key="q_gibbs_iter")
    gibbs_burn = b2.number_input("Burn-in (BGLR: 2,000)", 0, 50000, 2000, 100, key="q_gibbs_burn")
    seed = b3.number_input("Seed", 0, 2**31 - 1, 0, key="q_seed")
    lassonet_kw = dict(PRESET_LASSONET[preset])
    st.caption("LassoNet: " + (
        "a quick, coarser search (20 hidden units, 3-fold CV over λ, path multiplier 1.5, up to "
        "200 / 30 epochs with patience 10 / 3): minutes per fit on 10,000 markers"
        if lassonet_kw else
        "the lassonet package's defaults (100 hidden units, 5-fold CV over λ, path multiplier "
        "1.02): hours per fit on 10,000 markers on a CPU"))
    device = st.selectbox("Device", ["auto", "cpu", "cuda"], key="q_device")
slow = [m for m in models if MODELS[m]["slow"]]
if slow:
    st.info(f"{', '.join(slow)} take minutes per fit on CPU with 10,000 markers (BGLR itself "
            "takes 2–6 minutes per fit on the mice); the run may take long.")

c_run, c_stop = st.columns([1, 5])
run_clicked = c_run.button("Run", type="primary", key="q_run", disabled=not (traits and models
                                                                              and input_sets))
c_stop.button("Stop", key="q_stop",
              help="Interrupts the run at once; the fits already finished are kept.")

# a run interrupted by the Stop button (or any other click) keeps what it finished
if st.session_state.get(_RUNNING) and not run_clicked:
    st.session_state[_RUNNING] = False
    partial = st.session_state.pop(_PARTIAL, None)
    if partial is not None:
        st.session_state[_RUN] = partial
        st.warning("The run was stopped; the results below cover the fits completed.")


class _Live(Callback):
    """Shows the GRVSNN epoch inside the current fit."""

    def __init__(self, slot):
        self.slot = slot

    def on_epoch_end(self, epoch, logs):
        self.slot.caption(f"GRVSNN epoch {epoch}: training loss {logs.get('train_loss', 0):.3f}, "
                          f"validation loss {logs.get('val_loss', float('nan')):.3f}")


if run_clicked:
    with guard("Running the cross-validation"):
        config = CVConfig(n_splits=int(n_splits), n_repeats=int(n_repeats),
                          n_trials=int(n_trials), max_epochs=int(max_epochs),
                          importance_threshold=float(threshold), random_state=int(seed),
                          label=base.label if (n_splits, n_repeats, n_trials, max_epochs) == (
                              base.n_splits, base.n_repeats, base.n_trials, base.max_epochs)
                          else "custom")
        bar = st.progress(0.0, text="Starting…")
        live = st.empty()
        st.session_state[_RUNNING] = True

        def on_progress(event):
            st.session_state[_PARTIAL] = event["run"]
            frac = event["overall_done"] / max(event["overall_total"], 1)
            bar.progress(min(frac, 1.0), text=f"{event['inputs']}: {event['message']} "
                                              f"({event['overall_done']}/{event['overall_total']})")

        run = run_quantitative(
            data, traits=traits, models=models, input_sets=input_sets, config=config,
            n_components=n_components or "elbow",
            grvsnn_params={"n_hidden": int(n_hidden), "gate": gate, "importance_scale": scale,
                           "device": device},
            model_params={**{m: {"n_iter": int(gibbs_iter), "burn_in": int(gibbs_burn)}
                             for m in ("BRR", "BL", "BayesCπ")}, "LassoNet": lassonet_kw},
            progress=on_progress, callbacks=[_Live(live)])
        st.session_state[_RUNNING] = False
        st.session_state.pop(_PARTIAL, None)
        st.session_state[_RUN] = run
        bar.progress(1.0, text=f"Done in {run.record['seconds']:.0f} s")

# ------------------------------------------------------------------------------------ results
run = st.session_state.get(_RUN)
if run is None:
    st.stop()
st.subheader("Results")
if run.stopped:
    st.warning("Partial results: the run was stopped before every fold was fitted.")
for name, why in run.skipped.items():
    st.caption(f"Skipped {name}: {why}")
cfg = run.config
st.caption(f"{cfg.n_splits}-fold CV x {cfg.n_repeats} repeats ({len(run.folds)} test folds); "
           f"MSE on traits standardised with each training fold's mean and SD; r and dCor on "
           f"the test fold; mean ± SD over folds. Loadings m = {run.n_components}."
           if run.n_components else
           f"{cfg.n_splits}-fold CV x {cfg.n_repeats} repeats; markers only.")
summary = run.summary()
table = run.table()
for trait in run.traits:
    st.markdown(f"**{trait}**")
    st.dataframe(table[table["trait"] == trait].drop(columns="trait"), hide_index=True)
d1, d2, d3, d4 = st.columns(4)
with d1:
    download_csv(summary, "quantitative_summary.csv", key="q_dl_summary")
with d2:
    download_csv(run.scores(), "quantitative_fold_scores.csv", key="q_dl_scores")
with d3:
    download_csv(run.predictions(), "quantitative_predictions.csv", key="q_dl_pred")
with d4:
    tuning = [r.tuning.assign(inputs=k) for k, r in run.results.items() if len(r.tuning)]
    if tuning:
        import pandas as pd

        download_csv(pd.concat(tuning, ignore_index=True), "grvsnn_tuning.csv", key="q_dl_tuning")

metric = st.radio("Compare on", ["r", "mse", "dcor"], horizontal=True, key="q_metric",
                  format_func={"r": "Pearson r", "mse": "MSE", "dcor": "dCor"}.get)
figure(model_comparison_figure(summary, metric=metric), key="q_compare")
figure(fold_scores_figure(run.scores(), metric=metric, trait=run.traits[0]), key="q_folds_fig")

st.markdown("**Observed vs predicted (test folds)**")
s1, s2, s3 = st.columns(3)
sc_inputs = s1.selectbox("Inputs", list(run.results), key="q_sc_inputs")
sc_model = s2.selectbox("Model", run.models, key="q_sc_model")
sc_trait = s3.selectbox("Trait", run.traits, key="q_sc_trait")
row = summary[(summary["inputs"] == sc_inputs) & (summary["model"] == sc_model)
              & (summary["trait"] == sc_trait)]
metrics = None if row.empty else {"r": row["r_mean"].iloc[0], "dcor": row["dcor_mean"].iloc[0],
                                  "mse": row["mse_mean"].iloc[0]}
figure(observed_vs_predicted(run.predictions(), model=sc_model, trait=sc_trait,
                             inputs=sc_inputs, metrics=metrics), key="q_scatter")

pairs = [(k, m, t) for k, r in run.results.items() for m, t in r.importance_models()]
if pairs:
    st.markdown("**Feature importance and selection**")
    label = {p: f"{p[1]} — {p[0]}" + ("" if p[2] == "(all traits)" else f" — {p[2]}")
             for p in pairs}
    pick = st.selectbox("Model", pairs, format_func=label.get, key="q_imp_pick")
    imp = run.results[pick[0]].importance(pick[1], None if pick[2] == "(all traits)" else pick[2])
    value = "importance" if imp["importance"].notna().any() else "selected_fraction"
    figure(importance_figure(imp, value=value, top=30,
                             threshold=cfg.importance_threshold if value == "importance" else None,
                             title=f"{label[pick]}: top inputs"), key="q_importance")
    download_csv(imp, "importance.csv", key="q_dl_imp")

with st.expander("Save this run"):
    default_dir = Path("runs") / f"quantitative-{dt.datetime.now():%Y%m%d-%H%M%S}"
    target = st.text_input("Run directory (on the server)", str(default_dir), key="q_save_dir")
    if st.button("Save", key="q_save"):
        with guard("Saving the run"):
            out = save_run(run, target)
            st.success(f"Saved to {out.resolve()}")
