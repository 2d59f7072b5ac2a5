"""Quantitative traits page: GRVSNN with pedigree loadings against ridge, LassoNet and Bayesian
regressions, honestly cross-validated (DESIGN §4.2, §4.5). All computation is in
genoapp.workflows.quantitative; this script collects choices, runs the cross-validation as a
background job (with Stop) and shows results."""

import dataclasses

import pandas as pd
import streamlit as st

from genoapp.errors import ConfigError, StorageError
from genoapp.io.formats import open_genotypes
from genoapp.io.roots import (
    ENV_VAR,
    describe_roots,
    relative_to_root,
    resolve_data_path,
    resolve_genotype_path,
    resolve_grm_prefix,
)
from genoapp.logs import capture_log
from genoapp.plots.quantitative import (
    fold_scores_figure,
    importance_figure,
    model_comparison_figure,
    observed_vs_predicted_panels,
    scree_plot,
)
from genoapp.runs import check_runs_dir, default_runs_dir, resolve_runs_dir, save_quantitative
from genoapp.train import device_description, resolve_device
from genoapp.ui import settings
from genoapp.ui.errors import guard
from genoapp.ui.jobs import TrainingJob, get_job, live_panel, start_job
from genoapp.ui.uploads import drop, keep, save_uploads
from genoapp.ui.widgets import (
    GENOTYPE_INPUT_HELP,
    GENOTYPE_SUFFIXES,
    download_csv,
    figure,
    genotype_read_options,
    read_report_panel,
)
from genoapp.workflows.config import RunConfig
from genoapp.workflows.estimate import estimate_quantitative
from genoapp.workflows.presets import PRESETS, model_params, protocol_config
from genoapp.workflows.protocol import REGRESSION_METRICS
from genoapp.workflows.quantitative import (
    APP_DEFAULT_INPUTS,
    DEMO_TRAITS,
    INPUT_SETS,
    best_baseline,
    demo_paths,
    load_quantitative_data,
    paired_comparison,
    resolve_rank,
    results_table,
    run_quantitative,
    trait_table,
)
from genoapp.workflows.registry import (
    MODEL_NAMES,
    QUANTITATIVE_MODELS,
    available_models,
    model_specs,
)

_DATA = "genoapp_quant_data"
_RUN = "genoapp_quant_run"


@st.cache_resource(show_spinner="Loading the mice example and decomposing its relationship matrix…")
def _load_demo():
    p = demo_paths()
    return load_quantitative_data(p["bed"], phenotypes=p["phenotypes"], grm=p["grm"],
                                  name="BGLR mice (built-in example)")


def _store_data(data, source: str, files: dict | None = None) -> None:
    st.session_state[_DATA] = {"data": data, "source": source, "files": files or {}}
    st.session_state.pop(_RUN, None)


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
    c1, c2, c3 = st.columns(3)
    species = c1.radio("Species", ["animal", "plant"], horizontal=True, key="q_species",
                       help="Plants may be monoecious (one individual the sire of some offspring "
                            "and the dam of others): the parents' sex check is then off.")
    selfing = c2.checkbox("Allow selfing (sire = dam)", value=species == "plant",
                          key=f"q_selfing_{species}")
    sexcheck = c3.checkbox("Check sexes of parents", value=species == "animal",
                           key=f"q_sexcheck_{species}")
    ped_opts = {"allow_selfing": selfing, "check_sex": sexcheck, "species": species}
    if how == "Built-in example: BGLR mice":
        st.caption("1,814 heterogeneous-stock mice x 10,346 SNPs, 21 traits and the pedigree A "
                   "matrix from the R package BGLR (GPL-3); the GRVSNN paper's mouse data. "
                   "See assets/quantitative/mice/README.md.")
        if st.button("Load the mice example", key="q_load_demo"):
            with guard("Loading the mice example"):
                _store_data(_load_demo(), "demo")
    elif how == "Files on the server":
        with guard("Reading the allowed data folders"):
            st.caption(f"Only files inside these server folders can be read: {describe_roots()}. "
                       "A path may also be written relative to one of them, e.g. "
                       "`assets:quantitative/mice/mice`. To allow another folder, start the app "
                       f"with the environment variable `{ENV_VAR}=/path/to/folder`; or upload "
                       "the files instead.")
        bed = st.text_input("Genotypes: PLINK prefix or .bed, .vcf.gz, .bcf, .pgen or .bgen path",
                            key="q_path_bed", help=GENOTYPE_INPUT_HELP)
        q_read_opts = genotype_read_options(bed.strip(), key="q_path_read")
        pheno = st.text_input("Phenotype table (FID IID trait ...)", key="q_path_pheno")
        covar = st.text_input("Covariate table (optional: FID IID sex litter ...)",
                              key="q_path_covar")
        rel_kind = st.radio("Relationships", ["none", "pedigree", "GRM"], horizontal=True,
                            key="q_rel_kind",
                            format_func=lambda v: {"none": "none (markers only)",
                                                   "pedigree": "pedigree file (id sire dam)",
                                                   "GRM": "GCTA GRM (.grm.bin/.grm.id)"}[v])
        rel_path = st.text_input("Pedigree file or GRM prefix", key="q_path_rel",
                                 disabled=rel_kind == "none")
        if st.button("Load", key="q_load_paths", disabled=not (bed and pheno)):
            with guard("Loading the files"):
                # confine every path to the data roots before anything is opened
                bed_path = resolve_genotype_path(bed.strip())
                pheno_path = resolve_data_path(pheno.strip(), what="phenotype table")
                covar_path = (resolve_data_path(covar.strip(), what="covariate table")
                              if covar.strip() else None)
                rel_text = rel_path.strip() if rel_kind != "none" and rel_path else ""
                ped_path = (resolve_data_path(rel_text, what="pedigree file")
                            if rel_kind == "pedigree" and rel_text else None)
                grm_path = resolve_grm_prefix(rel_text) if rel_kind == "GRM" and rel_text else None
                data = load_quantitative_data(
                    bed_path, phenotypes=pheno_path, covariates=covar_path, pedigree=ped_path,
                    grm=grm_path,
                    relationship_scope=scope, pedigree_options=ped_opts, name=bed_path.name,
                    read_options=q_read_opts)
                # run records carry root-relative paths ("root:relative/path"), not server paths
                _store_data(data, "path", {
                    "bed": relative_to_root(bed_path), "phenotypes": relative_to_root(pheno_path),
                    "covariates": relative_to_root(covar_path) if covar_path else None,
                    "pedigree": relative_to_root(ped_path) if ped_path else None,
                    "grm": relative_to_root(grm_path) if grm_path else None,
                    "relationship_scope": scope, "pedigree_options": ped_opts,
                    **({"genotype_options": dataclasses.asdict(q_read_opts)} if q_read_opts else {})})
    else:
        files = st.file_uploader("Genotypes (.bed/.bim/.fam, a VCF/BCF, .pgen/.pvar/.psam or "
                                 ".bgen/.sample), the phenotype table, and optionally a pedigree "
                                 "file or the .grm.bin and .grm.id", accept_multiple_files=True,
                                 key="q_uploads")
        names = [f.name for f in files or []]
        others = [n for n in names
                  if not n.lower().endswith((*GENOTYPE_SUFFIXES, ".grm.bin", ".grm.id"))]
        q_up_opts = genotype_read_options(names, key="q_upload_read")
        pheno_name = st.selectbox("Phenotype table", ["(choose)"] + others, key="q_up_pheno")
        ped_name = st.selectbox("Pedigree file (optional)", ["(none)"] + others, key="q_up_ped")
        covar_name = st.selectbox("Covariate table (optional)", ["(none)"] + others,
                                  key="q_up_covar")
        if st.button("Load uploaded files", key="q_load_uploads", disabled=not files):
            with guard("Loading the uploaded files"):
                tmp = save_uploads(files, "quantitative")
                try:
                    beds = sorted(q for q in tmp.iterdir() if q.name.lower().endswith(
                        (".bed", ".vcf", ".vcf.gz", ".vcf.bgz", ".bcf", ".pgen", ".bgen")))
                    grms = sorted(tmp.glob("*.grm.bin"))
                    if len(beds) != 1 or pheno_name == "(choose)":
                        raise ConfigError("Upload exactly one genotype file set (.bed with its .bim "
                                          "and .fam, one VCF/BCF, .pgen with .pvar and .psam, or "
                                          ".bgen with .sample) and choose the phenotype table "
                                          f"(found {len(beds)} genotype files).")
                    geno = open_genotypes(beds[0], options=q_up_opts, cache_dir=tmp / ".converted")
                    data = load_quantitative_data(
                        geno, phenotypes=tmp / pheno_name,
                        covariates=tmp / covar_name if covar_name != "(none)" else None,
                        pedigree=tmp / ped_name if ped_name != "(none)" else None,
                        grm=grms[0] if grms and ped_name == "(none)" else None,
                        relationship_scope=scope, pedigree_options=ped_opts,
                        name=beds[0].name.split(".")[0])
                    _store_data(data, "upload", {"uploaded": names})
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
m2.metric("Markers", f"{data.n_variants:,}")
m3.metric("Numeric traits", f"{len(data.trait_names)}")
m4.metric("Relationships", "yes" if data.relationship is not None else "none")
read_report_panel(data.genotypes)
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
    chosen = resolve_rank(data, n_components)
    figure(scree_plot(rel.eigenvalues, elbow=rel.elbow, plateau=rel.plateau, chosen=chosen),
           key="q_scree")

# ------------------------------------------------------------------------------------ setup
st.subheader("Traits, models and protocol")
traits_all = data.trait_names
default_traits = [t for t in DEMO_TRAITS if t in traits_all] or traits_all[:2]
traits = st.multiselect("Traits (predicted together by GRVSNN, one at a time by the others)",
                        traits_all, default=default_traits, key="q_traits")
if traits:
    tt = trait_table(data, traits)
    st.dataframe(tt.style.format(precision=3), hide_index=True)
avail = available_models("regression")
usable = [m for m in QUANTITATIVE_MODELS if avail[m] is None]
for why in avail.values():
    if why:
        st.caption(f"Not available: {why}")
specs = {s.name: s for s in model_specs(usable, task="regression")}
preset = st.radio("What to run", list(PRESETS), horizontal=True, key="q_preset",
                  format_func=lambda k: PRESETS[k].quantitative["label"])
models = st.multiselect(
    "Models", list(specs), key=f"q_models_{preset}",
    default=[MODEL_NAMES[m] for m in (("grvsnn", "ridge") if preset == "quick" else usable)
             if m in usable],
    format_func=lambda m: f"{m}{' (slow on CPU)' if specs[m].slow else ''}",
    help="; ".join(f"{k}: {v.description}" for k, v in specs.items()))
sets_avail = list(INPUT_SETS) if data.relationship is not None else ["markers"]
input_sets = st.multiselect(
    "Inputs", sets_avail, key="q_inputs",
    default=list(APP_DEFAULT_INPUTS) if data.relationship is not None else sets_avail,
    help="Add 'markers' to compare markers alone with markers + loadings (paper Tables 1-4); "
         "each input set adds one full cross-validation.")
v1, v2 = st.columns([3, 1])
q_covariates = v1.multiselect(
    "Covariates as model inputs",
    [c for c in data.samples.columns if c not in ("sample_index", "FID", "IID", *traits)],
    key="q_covariates",
    help="Appended to every input set (sex, litter, batch... from the covariate table, or "
         "another trait). Numeric columns enter as they are, categorical ones one-hot against "
         "their most frequent level (levels fixed on the samples with a trait: covariate values "
         "only, no trait value); every column is standardised inside each training fold with "
         "the markers. Samples lacking a value are dropped from every fold (the count is shown "
         "with the results). A saved run then needs these columns to predict new individuals.")
q_pcs = v2.number_input(
    "PCs as inputs", 0, 20, 0, key="q_covariate_pcs",
    help="Principal components of the markers (a PCA of the samples used, label-free like "
         "the pedigree loadings), appended like the covariates.")
base = protocol_config(preset, "regression")
grv = model_params(preset, "grvsnn")
with st.expander("Protocol and model options"):
    o1, o2, o3, o4 = st.columns(4)
    n_splits = o1.number_input("Folds", 2, 20, base.n_splits, key=f"q_folds_{preset}")
    n_repeats = o2.number_input("Repeats", 1, 50, base.n_repeats, key=f"q_repeats_{preset}")
    n_trials = o3.number_input("Optuna trials per fold", 1, 500, base.n_trials, key=f"q_trials_{preset}")
    max_epochs = o4.number_input("Max epochs", 5, 5000, grv["max_epochs"], key=f"q_epochs_{preset}")
    g1, g2, g3, g4 = st.columns(4)
    n_hidden = g1.number_input("GRVSNN hidden units", 4, 1024, grv["n_hidden"],
                               key=f"q_hidden_{preset}")
    gate = g2.selectbox("Gate", ["sigmoid", "hard_sigmoid"], key="q_gate")
    threshold = g3.number_input(
        "Selection level", 0.0, 1.0, 0.05, 0.01, key="q_threshold",
        help="GRVSNN: family-wise error rate: an input is selected when its attribution "
             "(gradient x input of the whole model) exceeds the largest attribution reached in "
             "all but this fraction of 100 fits on permuted traits. GRVSNN (paper equations): "
             "the mean selection weight must reach this (paper: 0.05).")
    scale = g4.selectbox("Paper equations: threshold applies to", ["sum", "max"], key="q_scale",
                         format_func=lambda v: {"sum": "raw weights (sum to 1)",
                                                "max": "weights / largest"}[v])
    b1, b2 = st.columns(2)
    gibbs = model_params(preset, "brr")
    gibbs_iter = b1.number_input("Gibbs iterations (BGLR: 6,000)", 200, 100000, gibbs["n_iter"], 100,
                                 key="q_gibbs_iter")
    gibbs_burn = b2.number_input("Burn-in (BGLR: 2,000)", 0, 50000, gibbs["burn_in"], 100,
                                 key="q_gibbs_burn")
    lassonet_kw = model_params(preset, "lassonet")
    st.caption("LassoNet: " + (
        "a quick, coarser search (20 hidden units, 3-fold CV over λ, path multiplier 1.5, up to "
        "200 / 30 epochs with patience 10 / 3): minutes per fit on 10,000 markers"
        if lassonet_kw else
        "the lassonet package's defaults (100 hidden units, 5-fold CV over λ, path multiplier "
        "1.02): hours per fit on 10,000 markers on a CPU"))
    s1, s2 = st.columns([1, 3])
    save = s1.checkbox("Save the run", value=True, key="q_save_run")
    runs_dir = s2.text_input("Runs folder", str(default_runs_dir()), key="q_runs_dir",
                             help="The device and the seed are the sidebar's.")
slow = [m for m in models if specs[m].slow]
if slow:
    st.info(f"{', '.join(slow)} take minutes per fit on CPU with 10,000 markers (BGLR itself "
            "takes 2–6 minutes per fit on the mice); the run may take long.")


def _overrides() -> dict:
    net = {"n_hidden": int(n_hidden), "gate": gate, "max_epochs": int(max_epochs),
           "importance_threshold": float(threshold)}
    return {"grvsnn": dict(net), "grvsnn_single": dict(net),
            "grvsnn_paper": {**net, "importance_scale": scale},
            **{m: {"n_iter": int(gibbs_iter), "burn_in": int(gibbs_burn)}
               for m in ("brr", "bl", "bayescpi")}}


def _config():
    # more than one trial means a search, whatever the preset's default
    tuning = "optuna" if int(n_trials) > 1 else base.tuning
    return protocol_config(preset, "regression", n_splits=int(n_splits), n_repeats=int(n_repeats),
                           n_trials=int(n_trials), tuning=tuning, random_state=settings.seed(),
                           device=settings.device())


if traits and models and input_sets:
    with guard("Estimating the run time"):
        n_inputs = data.n_variants + (resolve_rank(data, n_components or "elbow")
                                      if "markers + loadings" in input_sets else 0)
        n_obs = int(data.samples[traits].notna().any(axis=1).sum())
        est = estimate_quantitative(n_obs, n_inputs, len(traits), models=models, preset=preset,
                                    config=_config(), overrides=_overrides(),
                                    n_input_sets=len(input_sets))
        st.session_state["genoapp_quant_estimate"] = est.seconds
        st.caption(f"Expected time on this machine: {est.text()}. The run goes on in the "
                   "background and can be stopped; the folds finished are kept.")
        if preset == "quick":
            full = estimate_quantitative(n_obs, n_inputs, len(traits), models=list(specs),
                                         preset="paper", n_input_sets=len(input_sets))
            st.caption(f"The full comparison (every model, {PRESETS['paper'].quantitative['label']}"
                       f") is one choice away under *What to run*: {full.text()}.")

job = get_job()
run_clicked = st.button("Run", type="primary", key="q_run",
                        disabled=not (traits and models and input_sets)
                        or (job is not None and job.running))
if run_clicked:
    with guard("Starting the cross-validation"):
        if save:
            runs_dir = resolve_runs_dir(runs_dir)
            check_runs_dir(runs_dir)
        device = settings.device()
        config = _config()
        overrides = _overrides()
        loaded_info = st.session_state.get(_DATA) or {}
        run_cfg = RunConfig(kind="quantitative", label=f"Quantitative: {', '.join(traits)}",
                            data=({"source": "demo"} if loaded_info.get("source") == "demo"
                                  else {"source": "files", **(loaded_info.get("files") or {})}),
                            traits=list(traits),
                            inputs={"sets": list(input_sets), "n_components": n_components or "elbow"},
                            train={"models": [specs[m].key for m in models], "preset": preset,
                                   "protocol": config.to_dict(), "overrides": overrides,
                                   "covariates": list(q_covariates),
                                   "covariate_pcs": int(q_pcs)})
        dev_text = device_description(resolve_device(device))

        def target(on_event, stop):
            with capture_log() as log:
                result = run_quantitative(
                    data, traits=traits, models=models, input_sets=input_sets, preset=preset,
                    config=config, n_components=n_components or "elbow", overrides=overrides,
                    covariates=tuple(q_covariates), covariate_pcs=int(q_pcs),
                    on_event=on_event, stop=stop)
            out = {"result": result, "run_dir": None, "log": log, "config": run_cfg,
                   "device": dev_text}
            if save and len(result.metrics):
                try:
                    out["run_dir"] = save_quantitative(result, data, runs_dir=runs_dir,
                                                       config=run_cfg, log=log, device=dev_text)
                except StorageError as exc:  # results stay in memory: the user can retry
                    out["save_error"] = str(exc)
            return out

        start_job(TrainingJob(target, label="Cross-validation", meta={"data_id": id(data)}))


def _finish(finished):
    if finished.status == "failed":
        st.session_state["genoapp_quant_error"] = (repr(finished.error), finished.error_text)
        return
    st.session_state.pop("genoapp_quant_error", None)
    out = finished.result or {}
    if out.get("result") is not None:
        st.session_state[_RUN] = {**out, "stopped": finished.status == "stopped"}


if get_job() is not None:
    live_panel(_finish)
err = st.session_state.get("genoapp_quant_error")
if err:
    st.error(f"The cross-validation failed: {err[0]}")
    with st.expander("Details (log)"):
        st.code(err[1], language="text")

# ------------------------------------------------------------------------------------ results
held = st.session_state.get(_RUN)
if held is None:
    st.stop()
run = held["result"]
st.subheader("Results")
if held.get("save_error"):
    st.error(f"The results below could not be saved: {held['save_error']}")
    if st.button("Save again", key="q_save_again", icon=":material/save:"):
        with guard("Saving the run"):
            held["run_dir"] = save_quantitative(run, data, runs_dir=runs_dir, config=held["config"],
                                                log=held.get("log"), device=held.get("device", ""))
            held["save_error"] = None
            st.rerun()
if held.get("run_dir"):
    st.success(f"Saved run: `{held['run_dir']}` (the Runs page reopens it, with its report and "
               "bundle).")
if run.stopped:
    st.warning("Partial results: the run was stopped before every fold was fitted.")
for note in run.notes:
    st.caption(note)
if run.covariates is not None and len(run.covariates.dropped):
    download_csv(run.covariates.dropped, "covariate_missing_samples.csv", key="q_dl_cov_dropped",
                 label=f"Download the {len(run.covariates.dropped):,} samples without a covariate "
                       "value (left out)")
cfg = run.config
m_used = run.info.get("n_components")
expected = st.session_state.get("genoapp_quant_estimate")
st.caption(f"The cross-validation took {run.seconds:.0f} s"
           + (f" (estimated {expected:.0f} s)." if expected else "."))
for warn in run.warnings():
    st.warning(warn, icon=":material/warning:")
st.caption(f"{cfg.n_splits}-fold CV x {cfg.n_repeats} repeats ({len(run.outer)} test folds); "
           f"MSE on traits standardised with each training fold's mean and SD; r and dCor on "
           f"the test fold; mean ± SD over folds." + (f" Loadings m = {m_used}." if m_used else ""))
summary = run.summary()
table = results_table(summary)
for trait in run.traits:
    st.markdown(f"**{trait}**")
    st.dataframe(table[table["trait"] == trait].drop(columns="trait"), hide_index=True)
d1, d2, d3, d4 = st.columns(4)
with d1:
    download_csv(summary, "quantitative_summary.csv", key="q_dl_summary")
with d2:
    download_csv(run.metrics, "quantitative_fold_scores.csv", key="q_dl_scores")
with d3:
    download_csv(run.predictions, "quantitative_predictions.csv", key="q_dl_pred")
with d4:
    if len(run.fold_metrics):
        download_csv(run.fold_metrics, "tuning_trials.csv", key="q_dl_tuning")

grv_names = [MODEL_NAMES[k] for k in ("grvsnn", "grvsnn_paper", "grvsnn_single")]
pairs_shown = []
for inp in dict.fromkeys(run.metrics["input"]):
    for trait in run.traits:
        other = best_baseline(summary, input=inp, trait=trait)
        for grv_name in grv_names[:2]:
            if other and (run.metrics["model"] == grv_name).any():
                pairs_shown.append(paired_comparison(
                    run.metrics[(run.metrics["input"] == inp) & (run.metrics["trait"] == trait)],
                    grv_name, other).assign(baseline=other, model=grv_name))
if pairs_shown:
    st.markdown("**GRVSNN against the best baseline (paired over the same test folds)**")
    cmp = pd.concat(pairs_shown, ignore_index=True)
    st.dataframe(cmp[["input", "trait", "model", "baseline", "folds", "model_mean", "other_mean",
                      "difference", "ci_low", "ci_high", "wins", "verdict"]]
                 .style.format(precision=3), hide_index=True)
if {grv_names[0], grv_names[2]} <= set(run.metrics["model"]) and len(run.traits) > 1:
    joint = paired_comparison(run.metrics, grv_names[0], grv_names[2])
    st.markdown("**Does training the traits together help?** GRVSNN (all traits at once) "
                "against the same network fitted to each trait on its own, test r:")
    st.dataframe(joint.style.format(precision=3), hide_index=True)
elif len(run.traits) > 1:
    st.caption(f"To see whether training the traits together helps (the paper's multi-trait "
               f"claim), add '{grv_names[2]}' to the models: it is the same network fitted to "
               "each trait on its own, on the same folds.")

metric = st.radio("Compare on", list(REGRESSION_METRICS), horizontal=True, key="q_metric",
                  format_func={"r": "Pearson r", "mse": "MSE", "dcor": "dCor"}.get)
figure(model_comparison_figure(summary, metric=metric), key="q_compare")
figure(fold_scores_figure(run.metrics, metric=metric, trait=run.traits[0]), key="q_folds_fig")

st.markdown("**Observed vs predicted (test folds)**")
s1, s2, s3 = st.columns(3)
sc_inputs = s1.selectbox("Inputs", list(dict.fromkeys(run.metrics["input"])), key="q_sc_inputs")
sc_trait = s2.selectbox("Trait", run.traits, key="q_sc_trait")
all_models = list(dict.fromkeys(run.metrics["model"]))
first = next((m for m in grv_names if m in all_models), all_models[0])
best = best_baseline(summary, input=sc_inputs, trait=sc_trait)
sc_models = s3.multiselect("Models (side by side)", all_models, key="q_sc_models",
                           default=[m for m in dict.fromkeys([first, best]) if m])
figure(observed_vs_predicted_panels(run.predictions, summary, models=sc_models, trait=sc_trait,
                                    inputs=sc_inputs), key="q_scatter")

pairs = run.importance_models()
if pairs:
    st.markdown("**Feature importance and selection**")
    label = {p: f"{MODEL_NAMES.get(p[0], p[0])} — {p[1]}" + ("" if p[2] == "(all traits)" else f" — {p[2]}")
             for p in pairs}
    pick = st.selectbox("Model", pairs, format_func=label.get, key="q_imp_pick")
    imp = run.importance(pick[0], pick[1], None if pick[2] == "(all traits)" else pick[2])
    value = "importance" if imp["importance"].notna().any() else "selected_fraction"
    paper_weights = pick[0] == "grvsnn_paper"
    if value == "importance" and not paper_weights:
        st.caption("Importance: share of the whole model's gradient x input attribution (sums "
                   "to 1). 'Selected' = above the largest attribution of the linear path "
                   f"refitted on permuted traits, at family-wise level {threshold:g}.")
    figure(importance_figure(imp, value=value, top=30,
                             threshold=float(threshold) if value == "importance"
                             and paper_weights and scale == "sum" else None,
                             title=f"{label[pick]}: top inputs"), key="q_importance")
    download_csv(imp, "importance.csv", key="q_dl_imp")
