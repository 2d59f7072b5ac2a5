"""Features page: SNP-to-gene annotation (or windows), Gene-PCA or All-PCA on the QC page's split,
annotation summary, explained variance, a gene lookup and CSV downloads."""

import numpy as np
import pandas as pd
import streamlit as st

from genoapp.demo import HG19_GENES
from genoapp.features import FeatureConfig, build_features, default_all_pca_components
from genoapp.io.genes import GENE_TABLE_FORMATS, read_gene_table
from genoapp.io.roots import ENV_VAR, describe_roots, relative_to_root, resolve_data_path
from genoapp.plots.features import (
    explained_variance_histogram,
    gene_loadings_heatmap,
    gene_snp_positions,
    scree_plot,
    snps_per_gene_histogram,
)
from genoapp.ui import state
from genoapp.ui.errors import guard
from genoapp.ui.progress import ProgressSink
from genoapp.ui.widgets import download_csv, figure

st.title("Features")
qc = state.require("qc", "pages/qc.py", "QC")
source = (state.get("cohort") or {}).get("source", "demo")
split = qc["split"]
st.write(f"{len(split.train_idx):,} training and {len(split.test_idx):,} test samples (drawn on the QC "
         "page). By default the missing-genotype imputation and the PCA are fitted on training "
         "samples only and then applied to the test samples.")

with st.form("features_form"):
    kind = st.radio("SNP groups", ["genes", "windows"], horizontal=True, key="feature_kind",
                    index=0 if source == "demo" else 1,
                    format_func=lambda k: {"genes": "Genes (SNP-to-gene annotation)",
                                           "windows": "Windows of consecutive SNPs (no gene table)"}[k])
    g1, g2, g3, g4 = st.columns([3, 1, 1, 1])
    gene_path = g1.text_input("Gene table (empty = built-in hg19 PLINK glist)", key="gene_path",
                              help="PLINK glist, MAGMA gene.loc, BED, GTF (gene records) or a table "
                                   "with columns gene, chrom, start, end; .gz accepted.")
    gene_format = g2.selectbox("Format", GENE_TABLE_FORMATS, key="gene_format")
    build = g3.selectbox("Build", ["GRCh37", "GRCh38", ""], key="gene_build",
                         format_func=lambda b: b or "no check",
                         help="Genome build of the gene table, for the sanity check of positions.")
    flank_kb = g4.number_input("Flank (kb)", 0.0, 500.0, 0.0, 5.0, key="flank_kb",
                               help="A SNP within this distance of a gene counts as inside it.")
    with guard("Reading the allowed data folders"):
        st.caption(f"A gene table path must lie inside one of these server folders: "
                   f"{describe_roots()} (or be written relative to one, e.g. "
                   f"`assets:genes/glist_hg19.tsv`). Ask the administrator to add a folder to `{ENV_VAR}`.")
    w1, w2 = st.columns(2)
    window_unit = w1.radio("Window size in", ["SNPs", "kb"], horizontal=True, key="window_unit")
    window_size = w2.number_input("Window size", 1, 100_000, 20, key="window_size")
    m1, m2 = st.columns([2, 1])
    method = m1.radio("Features", ["gene_pca", "all_pca"], horizontal=True, key="feature_method",
                      format_func=lambda v: {"gene_pca": "Gene-PCA (PCA per gene: 8 / 4 / 1 PCs)",
                                             "all_pca": "All-PCA (one PCA over all SNPs)"}[v])
    n_components = m2.number_input("All-PCA components (0 = as many as Gene-PCA)", 0, 100_000, 0,
                                   key="n_components")
    fit_on = st.radio("Fit imputation and PCA on", ["train", "all"], key="fit_on",
                      format_func=lambda v: {"train": "Training samples only (leakage-safe, default)",
                                             "all": "All samples (published DiseaseCapsule behaviour: "
                                                    "test samples shape the PCA)"}[v])
    submitted = st.form_submit_button("Build features", type="primary", key="build_features")

if submitted:
    with guard("Building features"):
        genes = None
        gene_table = None  # root-relative ("root:relative/path") for the run record
        if kind == "genes":
            # a typed path is confined to the data roots before anything is opened
            table_path = (resolve_data_path(gene_path.strip(), what="gene table")
                          if gene_path.strip() else None)
            genes = read_gene_table(table_path or HG19_GENES, format=gene_format)
            gene_table = relative_to_root(table_path) if table_path else None
        config = FeatureConfig(kind=kind, flank_kb=flank_kb, fit_on=fit_on, method=method,
                               n_components=int(n_components) or None, build=build,
                               window_snps=int(window_size) if window_unit == "SNPs" else None,
                               window_kb=float(window_size) if window_unit == "kb" else None)
        bar = ProgressSink("Building features")
        fs = build_features(qc["G"], qc["variants"], split, genes=genes, config=config,
                            progress=bar)
        bar.clear()
        state.put("features", {"split": split, "features": fs,
                               "gene_table": gene_table,
                               "gene_format": gene_format if kind == "genes" else "auto"})

res = state.get("features")
if res is None:
    st.stop()
split, fs = res["split"], res["features"]
cfg = fs.config
group = "Genes" if cfg.kind == "genes" else "Windows"
is_gene_pca = fs.gene_pca is not None
st.subheader("Gene-PCA features" if is_gene_pca else "All-PCA features")
m1, m2, m3, m4 = st.columns(4)
m1.metric(group, f"{len(fs.summary):,}")
m2.metric("Features (PCs)", f"{fs.X.shape[1]:,}")
m3.metric("Genotypes imputed", f"{fs.n_imputed_total:,}",
          help=f"Missing genotypes replaced by the {'training' if cfg.fit_on == 'train' else 'all-sample'} "
               f"mean of their SNP; {fs.n_imputed_fit:,} of them in the rows used for fitting.")
m4.metric("SNPs not assigned", f"{fs.n_variants_unassigned:,}",
          help="SNPs on chromosomes without any gene in the table.")
for w in fs.build_warnings:
    st.warning(w, icon=":material/warning:")
if fs.annotation.attrs.get("unannotated_chroms"):
    st.info("Chromosomes without any gene in the table (their SNPs are not used): "
            + ", ".join(map(str, fs.annotation.attrs["unannotated_chroms"])))
if cfg.fit_on == "all":
    st.info("Fitted on all samples (published behaviour): the test samples influenced the PCA.")
st.caption("Wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in fs.timings.items()))

tab_ann, tab_var, tab_gene, tab_dl = st.tabs(["Annotation", "Explained variance", "Gene lookup",
                                               "Downloads"])
summary = fs.summary
ann = fs.annotation

with tab_ann:
    n_snps = summary["n_snps"].to_numpy()
    if cfg.kind == "genes":
        st.markdown(
            f"**{ann['variant_index'].nunique():,} SNPs** assigned to **{len(summary):,} genes**: "
            f"{ann.attrs.get('n_inside_variants', 0):,} inside a gene (all overlapping genes get "
            f"them), {ann.attrs.get('n_nearest_variants', 0):,} to the nearest gene by distance to "
            f"its boundary{f' (flank {cfg.flank_kb:g} kb)' if cfg.flank_kb else ''}. SNPs per gene: "
            f"median {np.median(n_snps):g}, 90th percentile {np.percentile(n_snps, 90):g}, "
            f"max {n_snps.max():,}.")
    else:
        st.markdown(f"**{ann['variant_index'].nunique():,} SNPs** in **{len(summary):,} windows** "
                    f"(median {np.median(n_snps):g} SNPs per window).")
    log_y = st.checkbox("Logarithmic count axis", value=False, key="log_y")
    figure(snps_per_gene_histogram(summary, log_y=log_y), key="snps_per_gene")
    st.dataframe(summary, hide_index=True, height=280)

with tab_var:
    if is_gene_pca:
        c1, c2 = st.columns(2)
        with c1:
            figure(explained_variance_histogram(fs.gene_pca.genes_), key="explained_var")
        with c2:
            kept = fs.gene_pca.genes_["n_components"].value_counts().sort_index()
            st.markdown("**Components per gene**")
            st.dataframe(pd.DataFrame({"components": kept.index, "genes": kept.to_numpy()}),
                         hide_index=True)
            st.caption("k = 8 for genes with more than 20 SNPs, 4 for 5-20, 1 for 1-4 (never more "
                       "than the rank: monomorphic genes and SNPs in perfect LD give fewer).")
    else:
        default_k = default_all_pca_components(summary, fs.all_pca.n_samples_fit_,
                                               fs.all_pca.n_features_in_)
        figure(scree_plot(fs.all_pca.explained_variance_ratio_, title="All-PCA explained variance"),
               key="allpca_scree")
        st.caption(f"{fs.all_pca.n_components_:,} components ({fs.all_pca.svd_solver_} SVD on "
                   f"{fs.all_pca.device_}); default would be {default_k:,} (Gene-PCA's feature count, "
                   "capped by the rank).")

with tab_gene:
    genes_sorted = summary.sort_values("n_snps", ascending=False)["gene"].astype(str).tolist()
    gene = st.selectbox("Gene (type to search)", genes_sorted, index=0, key="gene_lookup")
    row = summary.loc[summary["gene"] == gene].iloc[0]
    snps = ann.loc[ann["gene"] == gene, ["variant_index", "variant_id", "chrom", "pos", "relation",
                                         "distance_bp"]]
    start = int(row["gene_start"]) if "gene_start" in row else None
    end = int(row["gene_end"]) if "gene_end" in row else None
    st.markdown(f"**{gene}** (chr{row['chrom']}"
                + (f":{start:,}-{end:,}" if start is not None else "")
                + f"): {int(row['n_snps']):,} SNPs ({int(row['n_inside']):,} inside, "
                  f"{int(row['n_nearest']):,} nearest), spanning {int(row['span_bp']):,} bp.")
    figure(gene_snp_positions(snps, gene_start=start, gene_end=end, title=f"SNPs of {gene}"),
           key="gene_positions")
    c1, c2 = st.columns([1, 1])
    with c1:
        st.dataframe(snps.drop(columns="variant_index"), hide_index=True, height=260)
    if is_gene_pca:
        gp = fs.gene_pca
        cols = np.flatnonzero(fs.feature_gene == gene)
        with c2:
            if len(cols):
                figure(scree_plot(fs.explained_variance_ratio[cols], title=f"PCs of {gene}",
                                  max_components=None), key="gene_scree")
            else:
                st.info(f"{gene} has no component (its SNPs do not vary in the fitting samples).")
        if len(cols):
            load = gp.gene_loadings(gene)
            ids = qc["variants"]["id"].to_numpy()[load.index.to_numpy()]
            figure(gene_loadings_heatmap(load, labels=ids, title=f"Loadings of {gene}'s PCs"),
                   key="gene_loadings")
            load_out = load.reset_index().assign(variant_id=ids)
            download_csv(load_out, f"loadings_{gene}.csv", key="dl_gene_loadings")
    else:
        with c2:
            k_show = min(5, fs.all_pca.n_components_)
            comp = fs.all_pca.components_[:k_show][:, snps["variant_index"].to_numpy()].T
            st.markdown(f"Loadings of {gene}'s SNPs on the first {k_show} All-PCA components")
            st.dataframe(pd.DataFrame(comp, columns=[f"PC{i + 1}" for i in range(k_show)],
                                      index=snps["variant_id"].to_numpy()), height=260)

with tab_dl:
    st.markdown("Tables as CSV: the per-gene summary, the SNP-to-gene assignments, and one row "
                "per feature (name, gene, component, explained variance).")
    download_csv(summary, "gene_summary.csv")
    download_csv(ann, "snp_to_gene.csv")
    download_csv(fs.feature_table(), "features.csv")

st.page_link("pages/train.py", label="Next: Train", icon=":material/arrow_forward:")
