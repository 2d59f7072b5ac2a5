"""Capsule insights: coupling heatmaps, gene scan, core genes, masked-accuracy nulls, non-additive genes.

Thin page over :mod:`genoapp.interpret` and :mod:`genoapp.plots.interpret` (DESIGN §4.4). Results
are kept in ``st.session_state["genoapp_insights"]`` for the trained model they were computed
from (keyed by its id), so they survive page switches and disappear when the model changes.
"""

import numpy as np
import pandas as pd
import streamlit as st

from genoapp.demo import load_demo_truth
from genoapp.errors import ConfigError
from genoapp.interpret import (
    GAConfig,
    GeneIndex,
    accuracy_vs_n_genes,
    core_genes,
    gene_scan,
    masked_coupling,
    permutation_null,
    planted_recall,
    retrain_on_genes,
    search_nonadditive_genes,
)
from genoapp.pipeline import coupling_summary
from genoapp.plots import coupling_heatmap
from genoapp.plots.interpret import (
    accuracy_vs_genes_figure,
    ga_progress_figure,
    gene_score_genome,
    gene_score_histogram,
    model_comparison_figure,
    null_histogram,
    recall_figure,
)
from genoapp.train import Callback, upsample_minority
from genoapp.ui import state
from genoapp.ui.errors import guard
from genoapp.ui.progress import StreamlitProgress
from genoapp.ui.widgets import download_csv, figure

st.title("Capsule insights")
tr = state.require("train", "pages/train.py", "Train")
res = state.get("features")
split, fs = res["split"], res["features"]
model = tr["result"].capsule
if model is None:
    st.info("The last training run did not include DiseaseCapsule: train it first.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/arrow_forward:")
    st.stop()

if state.get("coupling") is None:
    with guard("Computing coupling coefficients"), st.spinner("Routing all samples through the network"):
        state.put("coupling", coupling_summary(model, fs, split))
cs = state.get("coupling")
if cs is None:
    st.stop()

store = st.session_state.get("genoapp_insights")
if store is None or store.get("model_id") != id(model) or store.get("features_id") != id(fs):
    store = {"model_id": id(model), "features_id": id(fs)}
    st.session_state["genoapp_insights"] = store


def _bar(label: str):
    bar = st.progress(0.0, text=label)
    return lambda frac, msg: bar.progress(min(max(float(frac), 0.0), 1.0), text=msg)


# ----------------------------------------------------------------------------- heatmaps
n_types = cs.train.shape[1]
st.subheader("Coupling coefficients")
st.write(
    "Coupling coefficients c_kj tell how strongly the primary capsules of type k send their "
    "output to phenotype capsule j (control or case), summed over the type's positions and "
    "averaged over samples whose **true** label is j. With the routing softmax over input "
    f"capsules each row sums to 1, so the uniform baseline is 1/{n_types} = {1 / n_types:.4f}."
)
k_star = st.selectbox("Highlighted primary type", list(range(n_types)), index=cs.strongest_case_type,
                      format_func=lambda k: f"type {k + 1}" + (" (k*, strongest case coupling in training)"
                                                                 if k == cs.strongest_case_type else ""),
                      key="k_star",
                      help="The gene scan ranks genes by their coupling to the case capsule through this type.")
zmin = float(min(np.nanmin(cs.train), np.nanmin(cs.test)))
zmax = float(max(np.nanmax(cs.train), np.nanmax(cs.test)))
figure(coupling_heatmap(cs.train, title=f"Training samples, all genes (n = {len(split.train_idx)})",
                        highlight_type=k_star, zmin=zmin, zmax=zmax), key="heat_train")
figure(coupling_heatmap(cs.test, title=f"Test samples, all genes (n = {len(split.test_idx)})",
                        highlight_type=k_star, zmin=zmin, zmax=zmax), key="heat_test")
table = pd.DataFrame({
    "primary_type": np.tile(np.arange(1, n_types + 1), 4),
    "samples": np.repeat(["training", "training", "test", "test"], n_types),
    "phenotype_capsule": np.repeat(["control", "case", "control", "case"], n_types),
    "mean_coupling": np.concatenate([cs.train[0], cs.train[1], cs.test[0], cs.test[1]]),
})
download_csv(table, "coupling_coefficients.csv")

# ----------------------------------------------------------------------------- gene scan
st.subheader("Gene scan")
gi = store.get("gene_index")
if gi is None:
    gi = store["gene_index"] = GeneIndex(fs.feature_gene)
st.write(
    f"For each of the {gi.n_genes:,} genes, the network sees inputs with every other gene's "
    "features set to zero; the coupling of each primary type to the **case** capsule is "
    "averaged over the case samples. Genes are ranked by this coupling through the highlighted "
    "type k*. The first layer is linear, so each one-gene input needs only that gene's columns; "
    "samples with identical gene features are run once."
)
with st.form("scan_form"):
    c1, c2 = st.columns(2)
    scan_on = c1.radio("Samples", ["training", "test"], horizontal=True, key="scan_samples",
                       help="The paper scanned training samples.")
    dtype = c2.radio("Arithmetic", ["float64", "float32"], horizontal=True, key="scan_dtype",
                     help="One-gene inputs move the coupling by tiny amounts, often below float32 "
                          "resolution: float64 (default) ranks genes reliably; float32 is faster.")
    run_scan = st.form_submit_button("Run gene scan", type="primary", key="run_scan")
if run_scan:
    with guard("Gene scan"):
        idx = split.train_idx if scan_on == "training" else split.test_idx
        scan = gene_scan(model, fs.X[idx], gi, y=split.y[idx], k_star=int(cs.strongest_case_type),
                         dtype=dtype, progress=_bar("Gene scan"))
        store["scan"] = {"result": scan, "samples": scan_on}
        for key in ("null", "avn", "ga", "ga_partial", "retrain", "core_heat"):
            store.pop(key, None)

scan_rec = store.get("scan")
if scan_rec is None:
    st.caption("Run the gene scan to rank genes, select core genes and test them.")
    st.stop()
scan = scan_rec["result"]
st.caption(f"Scanned {len(scan.genes):,} genes on {scan.n_samples['case']:,} {scan_rec['samples']} cases in "
           f"{scan.seconds:.1f} s on {scan.device} ({scan.dtype}): {scan.n_items:,} distinct one-gene "
           f"inputs instead of {scan.n_items_total:,}.")
download_csv(scan.table(), "gene_scan_case_coupling.csv", label="Download the scan (all types)")

# ----------------------------------------------------------------------------- core genes
st.subheader("Core genes")
pct = st.slider("Core genes: score at or above this percentile", 50.0, 99.9, 95.0, 0.1, key="core_percentile",
                help="Paper: the 95th percentile (922 of 18,265 genes).")
scores = scan.scores(k_star)
cg = core_genes(scores, scan.genes, percentile=pct, summary=fs.summary)
label = f"c^g through type {k_star + 1}, case capsule"
figure(gene_score_histogram(scores, cutoff=cg.cutoff, percentile=pct, n_core=cg.n_core,
                            title=f"One-gene-only case coupling, type {k_star + 1} ({len(scores):,} genes)",
                            score_label=f"c<sup>g</sup><sub>{k_star + 1}, case</sub>"), key="core_hist")
figure(gene_score_genome(cg.table, score_label=label), key="core_genome")
st.write(f"**{cg.n_core:,} core genes** (score ≥ {cg.cutoff:.10g}).")
st.dataframe(cg.core_table(), hide_index=True, height=260)
download_csv(cg.core_table(), "core_genes.csv")
download_csv(cg.table, "gene_ranking.csv", label="Download the full ranking")

heat_key = (round(pct, 3), k_star, scan_rec["samples"])
core_heat = store.get("core_heat")
if core_heat is None or core_heat[0] != heat_key:
    with guard("Coupling with core genes only"), st.spinner("Routing the core-genes-only inputs"):
        h_tr = masked_coupling(model, fs.X[split.train_idx], split.y[split.train_idx], gi, cg.genes)
        h_te = masked_coupling(model, fs.X[split.test_idx], split.y[split.test_idx], gi, cg.genes)
        core_heat = store["core_heat"] = (heat_key, h_tr, h_te)
if core_heat is not None and core_heat[0] == heat_key:
    _, h_tr, h_te = core_heat
    lo, hi = float(min(h_tr.min(), h_te.min())), float(max(h_tr.max(), h_te.max()))
    figure(coupling_heatmap(h_tr, title=f"Training samples, core genes only ({cg.n_core:,} genes)",
                            highlight_type=k_star, zmin=lo, zmax=hi), key="heat_core_train")
    figure(coupling_heatmap(h_te, title=f"Test samples, core genes only ({cg.n_core:,} genes)",
                            highlight_type=k_star, zmin=lo, zmax=hi), key="heat_core_test")

# ----------------------------------------------------------------------------- known truth
cohort_rec = state.get("cohort") or {}
sel = state.get("selection") or {}
truth = None
if cohort_rec.get("source") == "demo" and sel.get("phenotype") == cohort_rec.get("default_phenotype"):
    truth = load_demo_truth()


def _show_truth(df):
    shown = df.assign(hit_genes=df["hit_genes"].map(", ".join))
    st.dataframe(shown.style.format({"recall": "{:.3f}", "random_recall": "{:.4f}", "random_recall_95": "{:.3f}",
                                     "enrichment": "{:.2f}", "p_value": "{:.3g}"}), hide_index=True)
    return shown


def _truth_rows(extra=()):
    rows = [planted_recall(cg.genes, truth["gene"], scan.genes, label="core genes: all planted"),
            planted_recall(cg.genes, truth.loc[truth["role"] == "additive", "gene"], scan.genes,
                           label="core genes: additive"),
            planted_recall(cg.genes, truth.loc[truth["role"] == "interaction", "gene"], scan.genes,
                           label="core genes: interacting")]
    rows += list(extra)
    return pd.DataFrame(rows)


if truth is not None:
    st.markdown("**Known truth (demo phenotype).** The demo disease was simulated from planted genes "
                f"({(truth['role'] == 'additive').sum()} additive, {(truth['role'] == 'interaction').sum()} "
                "in interacting pairs). Random sets of the same size recover a fraction equal to "
                "their share of the genes (hypergeometric p-value).")
    download_csv(_show_truth(_truth_rows()), "planted_gene_recall_core.csv")

# ----------------------------------------------------------------------------- masked accuracy
st.subheader("Masked accuracy")
st.write("Test accuracy of the trained network when only the core genes are kept (every other "
         "gene's features zeroed), against random gene sets of the same size (paper: 0.760 vs "
         "0.702 ± 0.013 over 1,000 sets).")
with st.form("null_form"):
    n_sets = st.number_input("Random gene sets", 10, 100_000, 1000, 10, key="n_null_sets")
    null_seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="null_seed")
    run_null = st.form_submit_button("Run masked accuracy and null", type="primary", key="run_null")
if run_null:
    with guard("Masked accuracy"):
        nr = permutation_null(model, fs.X[split.test_idx], split.y[split.test_idx], gi, cg.genes,
                              n_sets=int(n_sets), random_state=int(null_seed), progress=_bar("Random gene sets"))
        store["null"] = {"result": nr, "key": heat_key}
null_rec = store.get("null")
if null_rec is not None:
    nr = null_rec["result"]
    if null_rec["key"] != heat_key:
        st.warning("The core genes changed since this null was computed: run it again.")
    figure(null_histogram(nr.null["accuracy"], nr.observed["accuracy"], mean=nr.mean, sd=nr.sd, z=nr.z,
                          p_value=nr.p_value, n_genes=nr.observed["n_genes"]), key="null_hist")
    st.dataframe(nr.summary().style.format(precision=4), hide_index=True)
    st.caption(f"{len(nr.null):,} random sets in {nr.seconds:.1f} s.")
    download_csv(nr.summary(), "masked_accuracy_summary.csv")
    download_csv(nr.null, "random_gene_sets_accuracy.csv")

with st.form("avn_form"):
    a1, a2 = st.columns([3, 1])
    sizes_text = a1.text_input("Numbers of genes kept (comma separated; 'all' = every gene)",
                               "10, 50, 100, 500, 1000, all", key="avn_sizes")
    n_random = a2.number_input("Random sets per size", 0, 1000, 20, key="avn_random",
                               help="The authors used 300.")
    run_avn = st.form_submit_button("Accuracy vs number of genes", key="run_avn")
if run_avn:
    with guard("Accuracy vs number of genes"):
        sizes = []
        for tok in sizes_text.replace(";", ",").split(","):
            tok = tok.strip().lower()
            if not tok:
                continue
            if tok == "all":
                sizes.append(gi.n_genes)
            elif tok.isdigit():
                sizes.append(min(int(tok), gi.n_genes))
            else:
                raise ConfigError(f"numbers of genes: {tok!r} is not a whole number or 'all'.")
        sizes = sorted(set(s for s in sizes if s >= 1))
        df = accuracy_vs_n_genes(model, fs.X[split.test_idx], split.y[split.test_idx], gi, cg.table["gene"],
                                 sizes=sizes, n_random=int(n_random), progress=_bar("Gene sets"))
        store["avn"] = df
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
    pool = g1.number_input("Top genes searched", 2, 100_000, min(base.pool_size, gi.n_genes),
                           key=f"ga_pool_{preset}")
    pop = g2.number_input("Population", 2, 1000, base.population, key=f"ga_pop_{preset}")
    gens = g3.number_input("Generations", 1, 10_000, base.generations, key=f"ga_gens_{preset}")
    re_epochs = g4.number_input("Retraining epochs", 1, 500,
                                int(model.get_params().get("epochs", 30)) if preset == "paper" else 5,
                                key=f"ga_epochs_{preset}")
    ga_seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="ga_seed")
    run_ga = st.form_submit_button("Search non-additive genes", type="primary", key="run_ga")
stop_clicked = st.button("Stop the search", key="ga_stop",
                         help="Stops after the current generation's scoring; the best mask so far is kept.")


class _GAProgress(Callback):
    """Progress bar and live curve every generation."""

    def __init__(self, n_generations: int):
        self.n = n_generations
        self.bar = st.progress(0.0, text="Genetic algorithm: starting")
        self.chart = st.empty()
        self.rows = []

    def on_epoch_end(self, epoch, logs):
        self.rows.append(dict(logs))
        self.bar.progress(min(epoch / self.n, 1.0),
                          text=f"Genetic algorithm: generation {epoch}/{self.n}, best fitness "
                               f"{logs['best_fitness']:.4f} ({logs['n_selected']} genes)")
        self.chart.plotly_chart(ga_progress_figure(pd.DataFrame(self.rows)), width="stretch",
                                key=f"ga_live_{epoch}")


def _retrain(genes, epochs: int, rs: int):
    return retrain_on_genes(fs.X, split.y, gi, genes, train_idx=split.train_idx, test_idx=split.test_idx,
                            random_state=rs,
                            capsule_params={**{k: v for k, v in model.get_params().items() if k != "random_state"},
                                            "epochs": int(epochs)},
                            callbacks=[StreamlitProgress(int(epochs), "DiseaseCapsule on the selected genes")])


rs = int(model.get_params().get("random_state", 0))
if run_ga:
    with guard("Genetic algorithm"):
        cfg = GAConfig(pool_size=int(pool), population=int(pop), generations=int(gens), random_state=int(ga_seed))
        fit_idx = upsample_minority(split.train_idx, split.y, random_state=rs)
        rows, counts = np.unique(fit_idx, return_counts=True)
        baseline = tr["result"].baseline
        if baseline is None:
            from genoapp.models import make_logistic_regression

            with st.spinner("Fitting the logistic regression on all features"):
                baseline = make_logistic_regression(C=0.01, random_state=rs).fit(fs.X[fit_idx], split.y[fit_idx])
        for key in ("ga", "retrain", "ga_partial"):
            store.pop(key, None)
        partial = store["ga_partial"] = {"rows": [], "genes": None, "epochs": int(re_epochs)}

        def _keep(gen, genes, logs):
            partial["rows"].append(logs)
            partial["genes"] = genes

        ga = search_nonadditive_genes(model, fs.X[rows], split.y[rows], gi, cg.table["gene"], baseline=baseline,
                                      sample_weight=counts, config=cfg, on_generation=_keep,
                                      callbacks=[_GAProgress(cfg.generations)])
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
    sel_table = cg.table[cg.table["gene"].isin(set(ga.selected_genes))].drop(columns="core")
    download_csv(sel_table, "nonadditive_genes.csv", label="Download the selected genes")
    re = store.get("retrain")
    if re is not None:
        st.markdown("**Retrained on the selected genes alone (test set; paper Table 2)**")
        st.dataframe(re.metrics.style.format(precision=3), hide_index=True)
        download_csv(re.metrics, "retrained_on_selected_genes.csv")
        figure(model_comparison_figure(re.metrics), key="retrain_fig")
    if truth is not None:
        inter = truth.loc[truth["role"] == "interaction", "gene"]
        rows = [planted_recall(ga.selected_genes, inter, scan.genes, label="GA genes: interacting"),
                planted_recall(ga.selected_genes, inter, ga.pool_genes, label="GA genes: interacting, within the pool")]
        tr_df = _truth_rows(rows)
        st.markdown("**Known truth: planted genes recovered**")
        shown = _show_truth(tr_df)
        figure(recall_figure(tr_df), key="truth_fig")
        download_csv(shown, "planted_gene_recall.csv")
