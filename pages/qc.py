"""QC page: sample call rate, variant call rate and MAF filters (PLINK 1.9 semantics)."""

import time

import numpy as np
import streamlit as st

from genoapp.pipeline import make_split
from genoapp.plots import qc_funnel, rate_histogram
from genoapp.qc import (
    QCConfig,
    minor_allele_frequency,
    run_qc,
    sample_missing_rate,
    variant_missing_rate,
)
from genoapp.ui import state
from genoapp.ui.errors import guard
from genoapp.ui.widgets import download_csv, figure

st.title("Quality control")
sel = state.require("selection", "pages/data.py", "Data")
cohort = sel["cohort"]
st.write(f"{cohort.n_samples:,} samples × {cohort.n_variants:,} variants. Filters are applied in "
         "PLINK 1.9's order: sample call rate (`--mind`), then variant call rate (`--geno`), then "
         "minor allele frequency (`--maf`), each on what the previous step kept. These filters do "
         "not look at the phenotype. The balanced test set is then drawn from the samples that "
         "pass QC and set aside: every later step that is fitted (imputation, Gene-PCA, models) "
         "sees training samples only.")


def _threshold(label, key, default, help_text, max_value=1.0):
    c1, c2 = st.columns([1, 2])
    on = c1.checkbox(label, value=True, key=f"{key}_on")
    value = c2.number_input(f"{label} threshold", min_value=0.0, max_value=max_value, value=default,
                            step=0.01, format="%.3f", key=key, help=help_text, disabled=not on,
                            label_visibility="collapsed")
    return value if on else None


with st.form("qc_form"):
    mind = _threshold("Sample missing rate above", "mind", 0.1,
                      "Remove samples whose fraction of missing genotypes exceeds this (PLINK --mind).")
    geno = _threshold("Variant missing rate above", "geno", 0.1,
                      "Remove variants whose fraction of missing genotypes exceeds this (PLINK --geno).")
    maf = _threshold("Minor allele frequency below", "maf", 0.01,
                     "Remove variants whose minor allele frequency is below this (PLINK --maf).", 0.5)
    st.markdown("**Test set** (drawn after QC, balanced 1:1 cases:controls)")
    t1, t2 = st.columns(2)
    test_size = t1.slider("Test fraction", 0.05, 0.4, 0.10, 0.01, key="test_size",
                          help="Fraction of samples in the balanced test set (DiseaseCapsule: 10 %).")
    seed = t2.number_input("Random seed of the split", 0, 2**31 - 1, 0, key="split_seed")
    submitted = st.form_submit_button("Run QC", type="primary", key="run_qc")

if submitted:
    with guard("Running QC"):
        t0 = time.perf_counter()
        G = cohort.read_dosages()
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = run_qc(G, cohort.samples, cohort.variants, config=QCConfig(mind=mind, geno=geno, maf=maf))
        t_qc = time.perf_counter() - t0
        keep_s, keep_v = result.sample_mask, result.variant_mask
        split = make_split(sel["y"][keep_s], test_size=test_size, random_state=int(seed))
        state.put("qc", {
            "split": split,
            "result": result,
            "G": np.ascontiguousarray(G[np.ix_(keep_s, keep_v)]),
            "samples": cohort.samples[keep_s].reset_index(drop=True),
            "variants": cohort.variants[keep_v].reset_index(drop=True),
            "y": sel["y"][keep_s],
            # the rates the filters used (computed by run_qc); a skipped filter's are computed here
            "sample_missing": result.sample_missing_rate if result.sample_missing_rate is not None
            else sample_missing_rate(G),
            "variant_missing": result.variant_missing_rate if result.variant_missing_rate is not None
            else variant_missing_rate(G),
            "maf": result.variant_maf if result.variant_maf is not None else minor_allele_frequency(G),
            "seconds": {"read genotypes": t_read, "filters": t_qc},
        })

qc = state.get("qc")
if qc is None:
    st.stop()
result = qc["result"]
st.success(f"Kept {result.n_samples_kept:,} samples and {result.n_variants_kept:,} variants "
           f"(read {qc['seconds']['read genotypes']:.1f} s, filters {qc['seconds']['filters']:.1f} s).")
summary = result.summary()
st.dataframe(summary, hide_index=True)
download_csv(summary, "qc_summary.csv")
st.markdown("**Training and test sets**")
st.dataframe(qc["split"].table(), hide_index=True)
figure(qc_funnel(result), key="qc_funnel")
c1, c2, c3 = st.columns(3)
with c1:
    figure(rate_histogram(qc["sample_missing"], title="Sample missing rate", xlabel="fraction missing",
                          threshold=result.config.mind), key="h_mind")
with c2:
    figure(rate_histogram(qc["variant_missing"], title="Variant missing rate", xlabel="fraction missing",
                          threshold=result.config.geno), key="h_geno")
with c3:
    figure(rate_histogram(qc["maf"], title="Minor allele frequency", xlabel="MAF",
                          threshold=result.config.maf), key="h_maf")
st.subheader("Removed IDs")
for i, step in enumerate(result.steps):
    with st.expander(f"{step.name} ({step.plink_flag}): {step.n_removed:,} {step.axis} removed"):
        st.dataframe(step.removed, hide_index=True)
        download_csv(step.removed, f"qc_removed_{step.axis}_{i}.csv", key=f"dl_removed_{i}")
st.page_link("pages/features.py", label="Next: Features", icon=":material/arrow_forward:")
