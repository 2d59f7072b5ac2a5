"""Capsule insights: coupling, gene scan, core genes and masked accuracy against permuted-label
networks; accuracy vs number of genes; non-additive genes.

Thin page over :mod:`genoapp.workflows.insights` (DESIGN §4.4). Every reading of the network is
shown beside networks of the same architecture trained on the same rows with permuted labels,
so that a pattern is called one only when it exceeds theirs. Results are kept in
``st.session_state["genoapp_insights"]`` for the trained model they were computed from (keyed
by its id), so they survive page switches and disappear when the model changes.
"""

import numpy as np
import pandas as pd
import streamlit as st

from genoapp.demo import load_demo_truth
from genoapp.errors import ConfigError
from genoapp.interpret import (
    GAConfig,
    accuracy_vs_n_genes,
    planted_recall,
    retrain_on_genes,
    search_nonadditive_genes,
)
from genoapp.interpret.core import core_genes_against_null
from genoapp.plots.capsule import coupling_deviation_heatmaps
from genoapp.plots.interpret import (
    accuracy_vs_genes_figure,
    ga_progress_figure,
    gene_scan_null_figure,
    gene_score_genome,
    model_comparison_figure,
    null_histogram,
    recall_figure,
)
from genoapp.train import upsample_minority
from genoapp.ui import settings, state
from genoapp.ui.errors import guard
from genoapp.ui.progress import ProgressSink
from genoapp.ui.widgets import download_csv, figure
from genoapp.workflows.estimate import format_seconds
from genoapp.workflows.insights import (
    GENE_STATISTICS,
    capsule_insights,
    default_networks,
    default_statistic,
    estimate_insights,
    insights_data,
)

st.title("Capsule insights")
tr = state.require("train", "pages/train.py", "Train")
res = state.get("features")
split, fs = res["split"], res["features"]
result = tr["result"]
qc_state = state.get("qc") or {}
try:
    data = insights_data(result, fs, snps=qc_state.get("G"))
except ConfigError as exc:
    st.info(f"{exc}".replace("the training run", "The last training run", 1))
    st.page_link("pages/train.py", label="Go to Train", icon=":material/arrow_forward:")
    st.stop()
model, feats = data.model, data.features

store = st.session_state.get("genoapp_insights")
if store is None or store.get("model_id") != id(model) or store.get("features_id") != id(fs):
    store = {"model_id": id(model), "features_id": id(fs)}
    st.session_state["genoapp_insights"] = store

st.caption(f"Network of seed {data.seed} on {data.describe()}.")

# ----------------------------------------------------------------------------- against the null
st.subheader("Against permuted labels")
st.write(
    "Coupling coefficients of a trained DiseaseCapsule lie within a few 1e-5 of the uniform "
    "1/K, and one-gene-only gene scores differ in late digits, so neither means anything on its "
    "own. Here networks of the same architecture and settings are trained on the same training "
    "samples with the **case/control labels permuted** (their feature selection refitted on "
    "those labels when the input was nested); the real network's coupling and gene scores count "
    "as findings only where they exceed these references. Core genes are the genes whose "
    "one-gene-only score exceeds the references' at a false discovery rate (Benjamini-Hochberg); "
    "their masked accuracy is tested on the other samples against random gene sets of the same "
    "size. The default gene score is how well the gene **alone** lets the network tell cases "
    "from controls (one-gene-only ROC AUC on the training samples, where every reference "
    "repeated the selection and the fit with its own labels); the paper's one-gene-only "
    "coupling is one choice away, but it moves by about 1e-4 whatever the gene.")
with st.form("null_form"):
    c1, c2 = st.columns(2)
    n_networks = c1.number_input("Permuted-label networks", 1, 50,
                                 default_networks(data.n_genes), key="n_networks",
                                 help="More networks give a sharper null (and take longer). The "
                                      "default aims at 100 null values (networks x genes), 3 to "
                                      "20 networks.")
    scan_on = c2.radio("Scan samples", ["test", "training"], horizontal=True, key="scan_samples",
                       help="Test (default): samples no network or feature selection was fitted "
                            "on, so a gene scores high there only through a real association. "
                            "Training: as the paper (its references fit their own noise on them).")
    c3, c4, c5 = st.columns(3)
    statistic = c3.radio("Gene score tested", list(GENE_STATISTICS), horizontal=True,
                         key="gene_statistic",
                         index=list(GENE_STATISTICS).index(default_statistic(data.n_genes)),
                         format_func={"prediction": "one-gene-only AUC",
                                      "coupling": "one-gene-only coupling (paper)"}.get,
                         help="What the core genes are tested on against the references. The "
                              "AUC (default up to 500 genes) is computed on the training "
                              "samples; the coupling scan on the 'Scan samples'. For thousands "
                              "of genes the AUC takes minutes per network (see the estimate).")
    alpha = c4.select_slider("FDR level", [0.01, 0.05, 0.1, 0.2], 0.05, key="core_alpha")
    n_sets = c5.number_input("Random gene sets (masked accuracy)", 10, 100_000, 200, 10,
                             key="n_null_sets", help="The paper used 1,000.")
    est_key = ("estimate", int(n_networks), int(n_sets), scan_on, statistic)
    if est_key not in store:
        with guard("Estimating the time"):
            store[est_key] = estimate_insights(data, n_networks=int(n_networks), n_sets=int(n_sets),
                                               samples="test" if scan_on == "test" else "train",
                                               statistic=statistic)
    est = store.get(est_key)
    run_null = st.form_submit_button(
        "Run against permuted labels" + (f" (about {format_seconds(est)})" if est else ""),
        type="primary", key="run_null")
if est:
    st.caption(f"Expected time on this machine: about {format_seconds(est)} (measured epoch "
               "times of this network x the references' epochs, plus timed gene scans).")
st.button("Stop", key="null_stop", help="Stops the computation; nothing is kept.")
if run_null:
    with guard("Insights against permuted labels"):
        ins = capsule_insights(data, n_networks=int(n_networks), alpha=float(alpha),
                               statistic=statistic,
                               samples="test" if scan_on == "test" else "train",
                               n_sets=int(n_sets), random_state=settings.seed(),
                               callbacks=[ProgressSink("Permuted-label networks")],
                               progress=ProgressSink("Insights"))
        store["ins"] = ins
        for key in ("avn", "ga", "ga_partial", "retrain"):
            store.pop(key, None)
        if tr.get("run_dir"):
            try:
                ins.save(tr["run_dir"])
                store["saved"] = str(tr["run_dir"])
            except OSError as exc:
                st.warning(f"The insights could not be saved with the run: {exc}")

ins = store.get("ins")
if ins is None:
    st.caption("Run the analysis to see the coupling, the gene scan and the core genes.")
    st.stop()

for found, line in ins.findings():
    (st.success if found else st.warning)(line)
if store.get("saved"):
    st.caption("Saved with the run (folder `insights/`); its HTML report includes them.")

# coupling
cn = ins.coupling
st.markdown(f"**Coupling coefficients.** Deviation of the mean coupling from 1/K = "
            f"{cn.baseline:.4f} on {ins.samples} samples, real network above its "
            f"{ins.n_networks} references, on one colour scale (±{cn.limit:.2g}); outlined cells "
            "exceed every reference.")
figure(coupling_deviation_heatmaps(cn, highlight_type=ins.k_star), key="heat_null")
download_csv(cn.table(), "coupling_against_permuted_labels.csv")

# gene scan
tab = ins.scan_null
if ins.settings.get("statistic") == "prediction":
    st.markdown(f"**Gene test.** One-gene-only ROC AUC of the network's case score for "
                f"{len(tab):,} genes on the training samples, against "
                f"{tab.attrs.get('n_null', 0):,} values of the {ins.n_networks} references (each on "
                "its own selected genes and permuted labels). The paper's one-gene-only coupling "
                f"(type k* = {ins.k_star + 1}, {ins.samples} samples) is in the download below.")
    figure(gene_scan_null_figure(tab, ins.null_values, x_label="one-gene-only AUC - 0.5"),
           key="scan_null_fig")
    download_csv(tab, "gene_auc_against_permuted_labels.csv")
    if ins.scan_coupling is not None:
        download_csv(ins.scan_coupling, "gene_scan_coupling_against_permuted_labels.csv",
                     label="Download the coupling scan (paper's statistic)")
else:
    st.markdown(f"**Gene scan.** One-gene-only case coupling through type k* = {ins.k_star + 1} "
                f"for {len(tab):,} genes on {ins.scan.n_samples.get('case', 0):,} {ins.samples} "
                f"cases ({ins.scan.dtype}); genes whose scores differ by less than the "
                f"arithmetic's resolution share a rank ({int((tab['n_tied'] > 1).sum())} genes "
                "in ties).")
    figure(gene_scan_null_figure(tab, ins.null_values), key="scan_null_fig")
    download_csv(tab, "gene_scan_against_permuted_labels.csv")

# core genes
rule = st.radio("Core genes", ["significant", "percentile", "both"], horizontal=True,
                key="core_rule", format_func={"significant": "FDR-significant (default)",
                                              "percentile": "95th percentile (paper)",
                                              "both": "both"}.get,
                help="The paper names the genes at or above the 95th percentile of the scores, "
                     "whether or not they differ from chance.")
core = core_genes_against_null(tab, rule=rule, percentile=95.0, summary=data.summary) \
    if rule != ins.core.rule else ins.core
st.markdown(f"**{core.n_core:,} core genes** ({core.rule}; the paper's 95th-percentile rule "
            f"would name {ins.core_percentile.n_core:,}).")
if core.n_core:
    st.dataframe(core.core_table(), hide_index=True, height=260)
    figure(gene_score_genome(core.table, score_label=(
        "one-gene-only AUC" if ins.settings.get("statistic") == "prediction"
        else f"c^g, type {ins.k_star + 1}, case")),
           key="core_genome")
download_csv(core.core_table(), "core_genes.csv")
download_csv(core.table, "gene_ranking.csv", label="Download the full ranking")

# masked accuracy
m = ins.masked
if m is not None:
    chosen = ins.settings.get("chosen_on", ins.samples)
    other = "training" if chosen == "test" else "test"
    st.markdown(f"**Masked accuracy** on the {other} samples (the genes were chosen on the "
                f"{'training' if chosen == 'train' else chosen} samples): only the core genes kept, against "
                f"{len(m.null):,} random gene sets of the same size.")
    if m.degenerate:
        st.warning(f"Not a test: {m.degenerate_reason}")
    figure(null_histogram(m.null["accuracy"], m.observed["accuracy"], mean=m.mean, sd=m.sd, z=m.z,
                          p_value=m.p_value, n_genes=m.observed["n_genes"],
                          degenerate=m.degenerate_reason if m.degenerate else None),
           key="null_hist")
    st.dataframe(m.summary().style.format(precision=4), hide_index=True)
    download_csv(m.null, "random_gene_sets_accuracy.csv")

# ----------------------------------------------------------------------------- known truth
cohort_rec = state.get("cohort") or {}
sel = state.get("selection") or {}
truth = None
if cohort_rec.get("source") == "demo" and sel.get("phenotype") == cohort_rec.get("default_phenotype"):
    truth = load_demo_truth()
universe = data.universe  # every gene the pipeline could have chosen


def _show_truth(df):
    shown = df.assign(hit_genes=df["hit_genes"].map(", ".join))
    st.dataframe(shown.style.format({"recall": "{:.3f}", "random_recall": "{:.4f}", "random_recall_95": "{:.3f}",
                                     "enrichment": "{:.2f}", "p_value": "{:.3g}"}), hide_index=True)
    return shown


def _truth_rows(extra=()):
    add = truth.loc[truth["role"] == "additive", "gene"]
    inter = truth.loc[truth["role"] == "interaction", "gene"]
    rows = [planted_recall(core.genes, truth["gene"], universe, label="core genes: all planted"),
            planted_recall(core.genes, add, universe, label="core genes: additive"),
            planted_recall(core.genes, inter, universe, label="core genes: interacting"),
            planted_recall(ins.core_percentile.genes, add, universe,
                           label="95th percentile (paper): additive")]
    rows += list(extra)
    return pd.DataFrame(rows)


if truth is not None:
    n_add = int((truth["role"] == "additive").sum())
    n_in = int(np.isin(truth["gene"], np.asarray(universe, dtype=object)).sum())
    st.markdown("**Known truth (demo phenotype).** The demo disease was simulated from planted genes "
                f"({n_add} additive, {(truth['role'] == 'interaction').sum()} in interacting pairs); "
                f"{n_in} of them are among the {len(universe):,} genes this network sees. Random sets "
                "of the same size recover a fraction equal to their share of the genes "
                "(hypergeometric p-value).")
    tr_df = _truth_rows()
    download_csv(_show_truth(tr_df), "planted_gene_recall_core.csv")
    figure(recall_figure(tr_df), key="truth_core_fig")

# ----------------------------------------------------------------------------- accuracy vs genes
st.subheader("Accuracy vs number of genes")
with st.form("avn_form"):
    a1, a2 = st.columns([3, 1])
    sizes_text = a1.text_input("Numbers of top-ranked genes kept (comma separated; 'all' = every gene)",
                               "1, 5, 10, 20, all", key="avn_sizes")
    n_random = a2.number_input("Random sets per size", 0, 1000, 20, key="avn_random",
                               help="The authors used 300.")
    run_avn = st.form_submit_button("Accuracy vs number of genes", key="run_avn")
if run_avn:
    with guard("Accuracy vs number of genes"):
        n_all = len(universe)
        sizes = []
        for tok in sizes_text.replace(";", ",").split(","):
            tok = tok.strip().lower()
            if not tok:
                continue
            if tok == "all":
                sizes.append(n_all)
            elif tok.isdigit():
                sizes.append(min(int(tok), n_all))
            else:
                raise ConfigError(f"numbers of genes: {tok!r} is not a whole number or 'all'.")
        sizes = sorted(set(s for s in sizes if s >= 1))
        other = "train" if ins.samples == "test" else "test"
        store["avn"] = accuracy_vs_n_genes(model, feats, core.table["gene"], samples=other,
                                           sizes=sizes, n_random=int(n_random),
                                           progress=ProgressSink("Gene sets"))
if store.get("avn") is not None:
    figure(accuracy_vs_genes_figure(store["avn"]), key="avn_fig")
    download_csv(store["avn"], "accuracy_vs_n_genes.csv")

# ----------------------------------------------------------------------------- GA
st.subheader("Non-additive genes")
st.write("A genetic algorithm searches masks over the top-ranked genes for those on which the capsule "
         "network beats a linear model most: fitness = training accuracy of the capsule network minus "
         "that of a logistic regression fitted once on all features, both with the other genes zeroed. "
         "Both models are then retrained on the selected genes alone (paper: 644 genes, test accuracy "
         "0.712 vs 0.512).")
PRESETS = {"quick": GAConfig.quick(), "paper": GAConfig.paper()}
preset = st.radio("Settings", ["quick", "paper"], horizontal=True, key="ga_preset",
                  format_func=lambda p: {"quick": "Quick (CPU-friendly)",
                                         "paper": "Paper settings (1,200 genes, population 30, 200 generations)"}[p])
base = PRESETS[preset]
with st.form("ga_form"):
    g1, g2, g3, g4 = st.columns(4)
    pool = g1.number_input("Top genes searched", 2, 100_000, min(base.pool_size, len(universe)),
                           key=f"ga_pool_{preset}")
    pop = g2.number_input("Population", 2, 1000, base.population, key=f"ga_pop_{preset}")
    gens = g3.number_input("Generations", 1, 10_000, base.generations, key=f"ga_gens_{preset}")
    re_epochs = g4.number_input("Retraining epochs", 1, 500,
                                int(model.get_params().get("epochs", 30)) if preset == "paper" else 5,
                                key=f"ga_epochs_{preset}")
    run_ga = st.form_submit_button("Search non-additive genes", type="primary", key="run_ga")
stop_clicked = st.button("Stop the search", key="ga_stop",
                         help="Stops after the current generation's scoring; the best mask so far is kept.")


def _ga_progress(n_generations: int) -> ProgressSink:
    """Bar and live curve of the genetic algorithm, one update per generation."""
    return ProgressSink("Genetic algorithm", n_epochs=n_generations, curves=ga_progress_figure,
                        describe=lambda g, logs: f"generation {g}/{n_generations}, best fitness "
                                                 f"{logs['best_fitness']:.4f} ({logs['n_selected']} genes)")


def _retrain(genes, epochs: int, rs: int):
    return retrain_on_genes(feats, genes, random_state=rs,
                            capsule_params={**{k: v for k, v in model.get_params().items() if k != "random_state"},
                                            "epochs": int(epochs)},
                            callbacks=[ProgressSink("DiseaseCapsule on the selected genes", n_epochs=int(epochs))])


rs = int(model.get_params().get("random_state", 0))
if run_ga:
    with guard("Genetic algorithm"):
        cfg = GAConfig(pool_size=int(pool), population=int(pop), generations=int(gens), random_state=settings.seed())
        fit_idx = upsample_minority(split.train_idx, split.y, random_state=rs)
        rows, counts = np.unique(fit_idx, return_counts=True)
        baseline = result.estimator("logreg", data.input, seed=data.seed)
        baseline = getattr(baseline, "model", baseline)  # the model on the fold's features
        if baseline is None:
            from genoapp.models import make_logistic_regression

            with st.spinner("Fitting the logistic regression on all features"):
                baseline = make_logistic_regression(C=0.01, random_state=rs).fit(np.asarray(feats.X)[fit_idx], split.y[fit_idx])
        for key in ("ga", "retrain", "ga_partial"):
            store.pop(key, None)
        partial = store["ga_partial"] = {"rows": [], "genes": None, "epochs": int(re_epochs)}

        def _keep(gen, genes, logs):
            partial["rows"].append(logs)
            partial["genes"] = genes

        ga = search_nonadditive_genes(model, feats, core.table["gene"], baseline=baseline, samples=rows,
                                      sample_weight=counts, config=cfg, on_generation=_keep,
                                      callbacks=[_ga_progress(cfg.generations)])
        store["ga"] = ga
        store.pop("ga_partial", None)
        store["retrain"] = _retrain(ga.selected_genes, int(re_epochs), rs)

partial = store.get("ga_partial")
if partial is not None and partial["genes"] is not None and store.get("ga") is None:
    hist = pd.DataFrame(partial["rows"])
    st.warning(f"The search was stopped after generation {int(hist['generation'].max())}"
               f"{' (Stop pressed)' if stop_clicked else ''}. Best mask so far: {len(partial['genes']):,} genes.")
    figure(ga_progress_figure(hist), key="ga_partial_fig")
    if st.button(f"Retrain both models on these {len(partial['genes']):,} genes", key="ga_retrain_partial"):
        with guard("Retraining"):
            store["retrain"] = _retrain(partial["genes"], partial["epochs"], rs)
    if store.get("retrain") is not None:
        st.dataframe(store["retrain"].metrics.style.format(precision=3), hide_index=True)
        download_csv(store["retrain"].metrics, "retrained_on_selected_genes.csv")

ga = store.get("ga")
if ga is not None:
    st.write(f"**{len(ga.selected_genes):,} genes selected** of the top {len(ga.pool_genes):,}: training "
             f"accuracy {ga.capsule_accuracy:.3f} (capsule) vs {ga.lr_accuracy:.3f} (logistic regression), "
             f"fitness {ga.fitness:.3f}; {ga.generations_completed} generations, {ga.n_evaluations:,} masks "
             f"scored in {ga.seconds:.1f} s.")
    figure(ga_progress_figure(ga.history), key="ga_fig")
    download_csv(ga.history, "ga_history.csv")
    sel_table = core.table[core.table["gene"].isin(set(ga.selected_genes))].drop(columns="core")
    download_csv(sel_table, "nonadditive_genes.csv", label="Download the selected genes")
    re = store.get("retrain")
    if re is not None:
        st.markdown("**Retrained on the selected genes alone (test set; paper Table 2)**")
        st.dataframe(re.metrics.style.format(precision=3), hide_index=True)
        download_csv(re.metrics, "retrained_on_selected_genes.csv")
        figure(model_comparison_figure(re.metrics), key="retrain_fig")
    if truth is not None:
        inter = truth.loc[truth["role"] == "interaction", "gene"]
        rows = [planted_recall(ga.selected_genes, inter, universe, label="GA genes: interacting"),
                planted_recall(ga.selected_genes, inter, ga.pool_genes, label="GA genes: interacting, within the pool")]
        tr_df = _truth_rows(rows)
        st.markdown("**Known truth: planted genes recovered**")
        shown = _show_truth(tr_df)
        figure(recall_figure(tr_df), key="truth_fig")
        download_csv(shown, "planted_gene_recall.csv")
