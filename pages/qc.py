"""QC page: PLINK 1.9 filters, test split, batch-effect filter and GWAS on training samples."""

import streamlit as st

from genoapp.demo import HG19_GENES, load_demo_truth
from genoapp.io import read_gene_table
from genoapp.plots.gwas import manhattan_plot, qq_plot, sample_pca_scatter
from genoapp.plots.qc import pvalue_histogram, qc_funnel, rate_histogram
from genoapp.qc import QCConfig
from genoapp.ui import settings, state
from genoapp.ui.errors import guard
from genoapp.ui.progress import ProgressSink
from genoapp.ui.widgets import download_csv, figure
from genoapp.workflows.qc import QCWorkflowConfig, filter_gene_report, run_qc_workflow

st.title("Quality control")
sel = state.require("selection", "pages/data.py", "Data")
cohort = sel["cohort"]
batch_column = sel.get("batch_column")
st.write(
    f"{cohort.n_samples:,} samples × {cohort.n_variants:,} variants. The filters follow PLINK 1.9: "
    "autosomes, sample call rate (`--mind`), then, on the samples left, variant call rate "
    "(`--geno`), Hardy-Weinberg (`--hwe`) and minor allele frequency (`--maf`), then "
    "differential missingness between cases and controls (`--test-missing`). The balanced test "
    "set is drawn right after the sample filter; from then on every step that looks at the "
    "phenotype (HWE in controls, test-missing, the batch-effect filter, the GWAS) uses "
    "**training samples only** unless you choose otherwise, so test labels never decide which "
    "variants are kept."
)


def _on_value(label, key, default, help_text, *, max_value=1.0, fmt="%.3f", step=0.01,
              on=True, min_value=0.0):
    c1, c2 = st.columns([2, 3])
    enabled = c1.checkbox(label, value=on, key=f"{key}_on")
    value = c2.number_input(f"{label} threshold", min_value=min_value, max_value=max_value,
                            value=default, step=step, format=fmt, key=key, help=help_text,
                            label_visibility="collapsed")
    return value if enabled else None


covariate_cols = [c for c in cohort.samples.columns
                  if c not in ("sample_index", "FID", "IID", sel["phenotype"])]

with st.form("qc_form"):
    left, right = st.columns(2)
    with left:
        st.markdown("**PLINK filters**")
        autosomes = st.checkbox("Autosomes only (`--autosome`)", value=True, key="autosomes")
        mind = _on_value("Sample missing rate above (`--mind`)", "mind", 0.1,
                         "Remove samples whose fraction of missing genotypes exceeds this.")
        geno = _on_value("Variant missing rate above (`--geno`)", "geno", 0.1,
                         "Remove variants whose fraction of missing genotypes exceeds this.")
        hwe = _on_value("Hardy-Weinberg p below (`--hwe`)", "hwe", 1e-6,
                        "Exact test (Wigginton et al. 2005); variants with p below are removed.",
                        fmt="%.1e", step=1e-6, min_value=1e-300)
        h1, h2 = st.columns(2)
        hwe_midp = h1.checkbox("mid-p (`midp`)", value=True, key="hwe_midp")
        hwe_all = h2.checkbox("all samples (`include-nonctrl`)", value=False, key="hwe_all",
                              help="Default: controls only, as PLINK with a case/control trait.")
        maf = _on_value("Minor allele frequency below (`--maf`)", "maf", 0.01,
                        "Remove variants whose minor allele frequency is below this.",
                        max_value=0.5)
        test_missing = _on_value("Case/control missingness p below (`--test-missing midp`)",
                                 "test_missing", 1e-4,
                                 "Fisher exact test (mid-p) of missing calls in cases vs controls.",
                                 fmt="%.1e", step=1e-4, min_value=1e-300)
        stratify = st.checkbox(
            f"Apply the variant filters within each batch{f' ({batch_column})' if batch_column else ''}",
            value=False, key="stratify", disabled=batch_column is None,
            help="A variant is kept only if it passes in every batch (DiseaseCapsule protocol). "
                 "Needs a batch column on the Data page.")
    with right:
        st.markdown("**Batch-effect filter** (controls only)")
        batch_alpha = _on_value("Remove SNPs with BH-adjusted p below", "batch_alpha", 0.05,
                                "Allele counts × batch among controls, Pearson chi-squared per "
                                "SNP, Benjamini-Hochberg over SNPs.",
                                on=batch_column is not None)
        b1, b2 = st.columns(2)
        batch_mode = b1.radio("Batches tested", ["jointly", "every pair"], key="batch_mode",
                              horizontal=True)
        batch_yates = b2.checkbox("Yates correction (2×2)", value=False, key="batch_yates",
                                  help="scipy's chi2_contingency default, used by the authors.")
        st.markdown("**Association test (GWAS)** on training samples")
        st.caption("By default no SNP is removed here: the association filter is chosen inside "
                   "the training samples when models are trained (Train page), so the "
                   "validation folds that choose it never took part in it. Tick below for the "
                   "DiseaseCapsule paper's fixed filter instead (not leakage-safe for the "
                   "validation scores).")
        gwas_p = _on_value("Fixed filter (paper): keep SNPs with p below", "gwas_p", 0.05,
                           "Variants less associated than this in the training samples are "
                           "dropped before building features (the paper: 0.05).", on=False)
        gwas_test = st.radio("Test", ["allelic", "logistic"], key="gwas_test", horizontal=True,
                             format_func=lambda t: {"allelic": "allelic χ² (`--assoc`)",
                                                    "logistic": "logistic regression "
                                                                "(`--logistic`)"}[t])
        g1, g2 = st.columns([3, 1])
        covars = g1.multiselect(
            "Covariates (logistic only)", covariate_cols, key="gwas_covariates",
            help="Numeric columns enter as they are; categorical (text) columns are one-hot "
                 "encoded against their most frequent level among the training samples (the "
                 "reference level, named in the notes after the run). Training samples missing "
                 "a covariate are left out of the GWAS; their IDs can be downloaded.")
        n_pcs = g2.number_input("PCs", 0, 10, 0, key="gwas_pcs",
                                help="Sample PCs as covariates (logistic only): a PCA of the "
                                     "training samples' genotypes only (leakage-safe: test "
                                     "samples do not shape the axes).")
        st.markdown("**Samples whose phenotype the filters use**")
        label_samples = st.radio(
            "Label-aware samples", ["train", "all"], key="label_samples",
            label_visibility="collapsed",
            format_func=lambda v: {"train": "Training samples only (leakage-safe, default)",
                                   "all": "All samples (as PLINK on the whole cohort / as "
                                          "published: test labels influence QC)"}[v])
        st.caption("HWE in controls, test-missing and the batch filter follow this choice; the "
                   "GWAS always uses training samples only, as in the published protocol.")
        st.markdown("**Test set** (balanced 1:1 cases:controls)")
        test_size = st.slider("Test fraction", 0.05, 0.4, 0.10, 0.01, key="test_size",
                              help="Fraction of the samples passing --mind (DiseaseCapsule: 10 %). "
                                   "The split is drawn with the sidebar's seed.")
    submitted = st.form_submit_button("Run QC", type="primary", key="run_qc")

if submitted:
    with guard("Running QC"):
        bar = ProgressSink("QC")
        config = QCWorkflowConfig(
            qc=QCConfig(mind=mind, geno=geno, maf=maf, hwe=hwe, hwe_midp=hwe_midp,
                        hwe_all=hwe_all, test_missing=test_missing, autosomes_only=autosomes),
            stratify=stratify, batch_filter=batch_alpha, batch_pairwise=batch_mode == "every pair",
            batch_yates=batch_yates, gwas=gwas_p, gwas_test=gwas_test,
            gwas_covariates=tuple(covars) if gwas_test == "logistic" else (),
            gwas_pcs=int(n_pcs) if gwas_test == "logistic" else 0, label_samples=label_samples,
            test_size=test_size, random_state=settings.seed(),
        )
        batch = cohort.samples[batch_column].to_numpy() if batch_column else None
        wf = run_qc_workflow(cohort, sel["y"], batch=batch, config=config,
                             progress=bar)
        bar.clear()
        state.put("qc", {"result": wf, "split": wf.split, "G": wf.G, "samples": wf.samples,
                         "variants": wf.variants, "y": wf.y, "seconds": wf.seconds})

qc = state.get("qc")
if qc is None:
    st.stop()
wf = qc["result"]
res = wf.qc
stats = wf.variant_stats
cfg = wf.config
st.success(f"Kept {res.n_samples_kept:,} samples and {res.n_variants_kept:,} variants "
           f"({sum(wf.seconds.values()):.1f} s: "
           + ", ".join(f"{k} {v:.1f} s" for k, v in wf.seconds.items() if v >= 0.05) + ").")
for note in wf.notes:
    st.info(note)
if cfg.gwas is not None:  # the fixed filter: which genes (and planted genes) it removed
    with guard("Summarising the association filter"):
        before = stats[stats["removed_by"].isin(["", "GWAS (training samples)"]) |
                       stats["removed_by"].astype(str).str.startswith("--assoc")
                       | stats["removed_by"].astype(str).str.startswith("--logistic")]
        if st.session_state.get("genoapp_qc_gene_report", (None,))[0] != id(wf):
            truth = load_demo_truth() if (state.get("cohort") or {}).get("source") == "demo" else None
            rep = filter_gene_report(before, wf.variants, read_gene_table(HG19_GENES), truth=truth)
            st.session_state["genoapp_qc_gene_report"] = (id(wf), rep)
        st.info(st.session_state["genoapp_qc_gene_report"][1]["text"])
summary = wf.summary()
st.dataframe(summary, hide_index=True)
download_csv(summary, "qc_funnel.csv")
st.markdown("**Training and test sets**")
st.dataframe(wf.split.table(), hide_index=True)
figure(qc_funnel(res), key="qc_funnel")

tab_dist, tab_gwas, tab_pca, tab_tables, tab_removed = st.tabs(
    ["Distributions", "GWAS", "Sample PCA", "Tables", "Removed IDs"])
with tab_dist:
    c1, c2 = st.columns(2)
    with c1:
        figure(rate_histogram(wf.sample_stats["missing_rate"], title="Sample missing rate",
                              xlabel="fraction missing", threshold=cfg.qc.mind), key="h_mind")
        figure(rate_histogram(stats["maf"], title="Minor allele frequency (kept samples)",
                              xlabel="MAF", threshold=cfg.qc.maf), key="h_maf")
    with c2:
        figure(rate_histogram(stats["missing_rate"], title="Variant missing rate",
                              xlabel="fraction missing", threshold=cfg.qc.geno), key="h_geno")
        who = "all samples" if cfg.qc.hwe_all else (
            "controls" + (", training" if cfg.label_samples == "train" else ""))
        figure(pvalue_histogram(stats["hwe_p"], title=f"Hardy-Weinberg p ({who})",
                                threshold=cfg.qc.hwe), key="h_hwe")
    if "test_missing_p" in stats:
        figure(pvalue_histogram(stats["test_missing_p"], title="Case/control missingness p",
                                threshold=cfg.qc.test_missing), key="h_tm")
with tab_gwas:
    tested = stats[stats["gwas_p"].notna()]
    if tested.empty:
        st.info("No GWAS was run (the association filter is off).")
    else:
        st.caption(f"{len(tested):,} variants tested on {len(wf.split.train_idx):,} training "
                   f"samples; genomic-control λ = {wf.lambda_gc:.3f} (values well above 1 point "
                   "to population structure or batch effects).")
        figure(manhattan_plot(tested["chrom"], tested["pos"], tested["gwas_p"], ids=tested["id"],
                              threshold=cfg.gwas), key="manhattan")
        figure(qq_plot(tested["gwas_p"], lambda_gc=wf.lambda_gc), key="qq")
        top = tested.sort_values("gwas_p").head(200)[
            ["chrom", "id", "pos", "maf", "gwas_stat", "gwas_or", "gwas_p"]]
        st.dataframe(top, hide_index=True, height=260)
        download_csv(tested[["chrom", "id", "pos", "maf", "gwas_stat", "gwas_or", "gwas_p"]],
                     "gwas_training.csv")
with tab_pca:
    if wf.pca_before is None:
        st.info("No sample PCA (too few samples or variants).")
    else:
        options = [c for c in ("batch", "phenotype", "set") if wf.pca_before[c].nunique() > 0]
        color_by = st.selectbox("Colour by", options, key="pca_color")
        p1, p2 = st.columns(2)
        with p1:
            figure(sample_pca_scatter(wf.pca_before, color_by=color_by,
                                      title="Before the batch-effect filter"), key="pca_before")
        with p2:
            if wf.pca_after is not None:
                figure(sample_pca_scatter(wf.pca_after, color_by=color_by,
                                          title="After the batch-effect filter"), key="pca_after")
        download_csv(wf.pca_before, "sample_pca_before_batch_filter.csv")
with tab_tables:
    st.markdown("**Variants** (every statistic each filter used; `removed_by` names the step)")
    st.dataframe(stats.head(1000), hide_index=True, height=260)
    download_csv(stats, "qc_variants.csv")
    st.markdown("**Samples**")
    st.dataframe(wf.sample_stats, hide_index=True, height=260)
    download_csv(wf.sample_stats, "qc_samples.csv")
with tab_removed:
    dropped = wf.covariate_dropped
    if len(dropped):
        with st.expander(f"Logistic GWAS: {len(dropped):,} training samples without a covariate "
                         "value (left out of the GWAS)"):
            st.dataframe(dropped.head(1000), hide_index=True)
            download_csv(dropped, "gwas_covariate_missing_samples.csv", key="dl_covar_dropped")
    for i, step in enumerate(res.steps):
        with st.expander(f"{step.name} ({step.plink_flag}): {step.n_removed:,} {step.axis} removed"):
            st.dataframe(step.removed.head(1000), hide_index=True)
            download_csv(step.removed, f"qc_removed_{i + 1:02d}_{step.axis}.csv",
                         key=f"dl_removed_{i}")
st.page_link("pages/features.py", label="Next: Features", icon=":material/arrow_forward:")
