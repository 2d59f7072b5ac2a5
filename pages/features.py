"""Features page: SNP-to-gene annotation (or windows), imputation, Gene-PCA on the QC page's split."""


import streamlit as st

from genoapp.demo import HG19_GENES
from genoapp.io import read_gene_table
from genoapp.pipeline import FeatureConfig, build_features
from genoapp.plots import explained_variance_histogram, snps_per_gene_histogram
from genoapp.ui import state
from genoapp.ui.errors import guard
from genoapp.ui.widgets import download_csv, figure

st.title("Features")
qc = state.require("qc", "pages/qc.py", "QC")
source = (state.get("cohort") or {}).get("source", "demo")
split = qc["split"]
st.write(f"{len(split.train_idx):,} training and {len(split.test_idx):,} test samples (drawn on the QC "
         "page). By default the missing-genotype imputation and the per-gene PCA are fitted on "
         "training samples only and then applied to the test samples.")

with st.form("features_form"):
    kind = st.radio("Feature groups", ["genes", "windows"], horizontal=True, key="feature_kind",
                    index=0 if source == "demo" else 1,
                    format_func=lambda k: {"genes": "Genes (SNP-to-gene annotation)",
                                           "windows": "Windows of consecutive SNPs (no gene table)"}[k])
    g1, g2 = st.columns(2)
    gene_path = g1.text_input("Gene table (gene, chrom, start, end; empty = built-in hg19)", key="gene_path")
    flank_kb = g2.number_input("Flank around genes (kb)", 0.0, 500.0, 0.0, 5.0, key="flank_kb")
    w1, w2 = st.columns(2)
    window_unit = w1.radio("Window size in", ["SNPs", "kb"], horizontal=True, key="window_unit")
    window_size = w2.number_input("Window size", 1, 100_000, 20, key="window_size")
    fit_on = st.radio("Fit imputation and Gene-PCA on", ["train", "all"], key="fit_on",
                      format_func=lambda v: {"train": "Training samples only (leakage-safe, default)",
                                             "all": "All samples (published DiseaseCapsule behaviour: "
                                                    "test samples shape the PCA)"}[v])
    submitted = st.form_submit_button("Build features", type="primary", key="build_features")

if submitted:
    with guard("Building features"):
        genes = None
        if kind == "genes":
            genes = read_gene_table(gene_path.strip() or HG19_GENES)
        config = FeatureConfig(kind=kind, flank_kb=flank_kb, fit_on=fit_on,
                               window_snps=int(window_size) if window_unit == "SNPs" else None,
                               window_kb=float(window_size) if window_unit == "kb" else None)
        fs = build_features(qc["G"], qc["variants"], split, genes=genes, config=config)
        state.put("features", {"split": split, "features": fs})

res = state.get("features")
if res is None:
    st.stop()
split, fs = res["split"], res["features"]
st.subheader("Features")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Genes" if fs.config.kind == "genes" else "Windows", f"{len(fs.summary):,}")
m2.metric("Features (PCs)", f"{fs.X.shape[1]:,}")
m3.metric("Genotypes imputed", f"{fs.n_imputed_total:,}",
          help=f"Missing genotypes replaced by the {'training' if fs.config.fit_on == 'train' else 'all-sample'} "
               f"mean of their SNP; {fs.n_imputed_fit:,} of them in the rows used for fitting.")
m4.metric("SNPs not assigned", f"{fs.n_variants_unassigned:,}",
          help="SNPs on chromosomes without any gene in the table.")
st.caption("Wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in fs.timings.items()))
c1, c2 = st.columns(2)
with c1:
    figure(snps_per_gene_histogram(fs.summary), key="snps_per_gene")
with c2:
    figure(explained_variance_histogram(fs.gene_pca.genes_), key="explained_var")
st.dataframe(fs.summary, hide_index=True, height=260)
download_csv(fs.summary, "gene_summary.csv")
download_csv(fs.annotation, "snp_to_gene.csv")
st.page_link("pages/train.py", label="Next: Train", icon=":material/arrow_forward:")
