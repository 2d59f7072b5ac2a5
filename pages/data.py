"""Data page: load genotypes and phenotypes, reconcile IDs, choose samples and the phenotype."""

import dataclasses
import os
from pathlib import Path

import streamlit as st

from genoapp.cohort import Cohort
from genoapp.features import check_build
from genoapp.io import all_missing_messages, is_binary_trait
from genoapp.io.checks import check_positions, duplicate_variant_ids, duplicate_variant_ids_message
from genoapp.io.formats import open_genotypes
from genoapp.io.roots import (
    ENV_VAR,
    describe_roots,
    relative_to_root,
    resolve_data_path,
    resolve_genotype_path,
)
from genoapp.plots import cases_controls_bar
from genoapp.ui import state
from genoapp.ui.errors import guard
from genoapp.ui.uploads import drop, keep, save_uploads
from genoapp.ui.widgets import (
    GENOTYPE_INPUT_HELP,
    GENOTYPE_SUFFIXES,
    download_csv,
    figure,
    genotype_read_options,
    read_report_panel,
)

st.title("Data")
st.write("Genotypes (PLINK 1 .bed/.bim/.fam, VCF/BCF, PLINK 2 .pgen or BGEN) and a phenotype "
         "table keyed by FID and IID (tab or comma separated; `NA`, `-9` or empty = missing).")
st.caption(GENOTYPE_INPUT_HELP)

with st.expander("Load another cohort", expanded=False):
    how = st.radio("Source", ["Built-in demo cohort", "Files on the server", "Upload files"],
                   horizontal=True, key="data_source")
    if how == "Built-in demo cohort":
        if st.button("Reload the demo cohort", key="load_demo"):
            state.put("cohort", None)
            with guard("Loading the demo cohort"):
                state.ensure_demo_loaded()
    elif how == "Files on the server":
        with guard("Reading the allowed data folders"):
            st.caption(f"Only files inside these server folders can be read: {describe_roots()}. "
                       "A path may also be written relative to one of them, e.g. "
                       "`assets:demo/human_1kg_hapmap3`. To allow another folder, start the app "
                       f"with the environment variable `{ENV_VAR}=/path/to/folder` (several "
                       f"separated by `{os.pathsep}`); or upload the files instead.")
        bed = st.text_input("Genotypes: PLINK prefix or .bed, .vcf.gz, .bcf, .pgen or .bgen path",
                            key="path_bed",
                            placeholder="~/genoapp_data/study/cohort (or .../cohort.vcf.gz)")
        read_opts = genotype_read_options(bed.strip(), key="path_read")
        pheno = st.text_input("Phenotype table (optional)", key="path_pheno")
        covar = st.text_input("Covariate table (optional: batch, population, ...)", key="path_covar")
        if st.button("Load", key="load_paths", disabled=not bed):
            with guard("Loading the files"):
                # confine every path to the data roots before anything is opened
                bed_path = resolve_genotype_path(bed.strip())
                pheno_path = (resolve_data_path(pheno.strip(), what="phenotype table")
                              if pheno.strip() else None)
                covar_path = (resolve_data_path(covar.strip(), what="covariate table")
                              if covar.strip() else None)
                with st.spinner("Reading the genotypes (a VCF/BGEN is converted once, then cached)"):
                    c = Cohort.from_files(bed_path, phenotypes=pheno_path, covariates=covar_path,
                                          name=bed_path.name, read_options=read_opts)
                # run records carry root-relative paths ("root:relative/path"), not server paths
                files = {"bed": relative_to_root(bed_path),
                         "phenotypes": relative_to_root(pheno_path) if pheno_path else None,
                         "covariates": relative_to_root(covar_path) if covar_path else None}
                if read_opts is not None:
                    files["genotype_options"] = dataclasses.asdict(read_opts)
                state.put("cohort", {"cohort": c, "source": "path", "files": files})
    else:
        files = st.file_uploader("Genotypes (.bed + .bim + .fam, or one .vcf.gz / .bcf, or .pgen + "
                                 ".pvar + .psam, or .bgen + .sample), plus optional "
                                 "phenotype/covariate tables", accept_multiple_files=True,
                                 key="uploads")
        tables = ["(none)"] + [f.name for f in files or []
                               if not f.name.lower().endswith(GENOTYPE_SUFFIXES)]
        up_opts = genotype_read_options([f.name for f in files or []], key="upload_read")
        u1, u2 = st.columns(2)
        pheno_name = u1.selectbox("Phenotype table among the uploads", tables, key="upload_pheno")
        covar_name = u2.selectbox("Covariate table among the uploads", tables, key="upload_covar")
        if st.button("Load uploaded files", key="load_uploads", disabled=not files):
            with guard("Loading the uploaded files"):
                tmp = save_uploads(files, "cohort")
                try:
                    mains = sorted(q for q in tmp.iterdir() if q.name.lower().endswith(
                        (".bed", ".vcf", ".vcf.gz", ".vcf.bgz", ".bcf", ".pgen", ".bgen")))
                    if len(mains) != 1:
                        st.error("Upload exactly one genotype file set (a .bed with its .bim and "
                                 ".fam, one VCF/BCF, a .pgen with its .pvar and .psam, or a .bgen "
                                 f"with its .sample); found {len(mains)}: "
                                 f"{', '.join(q.name for q in mains) or 'none'}.")
                        st.stop()
                    pheno_path = tmp / pheno_name if pheno_name != "(none)" else None
                    covar_path = tmp / covar_name if covar_name != "(none)" else None
                    with st.spinner("Reading the genotypes (a VCF/BGEN is converted once)"):
                        # the converted copy lives in the upload folder and goes with it
                        geno = open_genotypes(mains[0], options=up_opts,
                                              cache_dir=tmp / ".converted")
                        c = Cohort.from_files(geno, phenotypes=pheno_path, covariates=covar_path,
                                              name=mains[0].name.split(".")[0])
                    state.put("cohort", {"cohort": c, "source": "upload",
                                         "files": {"uploaded": [Path(f.name).name for f in files]}})
                except BaseException:  # nothing half-loaded stays on disk
                    drop(tmp)
                    raise
                keep("cohort", tmp)

loaded = state.get("cohort")
if loaded is None:
    st.info("No cohort loaded.")
    st.stop()
cohort: Cohort = loaded["cohort"]

st.subheader(cohort.name)
m1, m2, m3 = st.columns(3)
m1.metric("Samples", f"{cohort.n_samples:,}")
m2.metric("Variants", f"{cohort.n_variants:,}")
m3.metric("Chromosomes", f"{cohort.variants['chrom'].nunique()}")
read_report_panel(cohort.genotypes)
if cohort.id_report is not None:
    with st.expander("Sample ID reconciliation (genotypes vs tables)", expanded=bool(cohort.id_report.messages())):
        st.dataframe(cohort.id_report.summary(), hide_index=True)
        for msg in cohort.id_report.messages():
            st.warning(msg)

columns = [c for c in cohort.samples.columns if c not in ("sample_index", "FID", "IID", "father", "mother", "sex", "phenotype")]


def _data_checks(c: Cohort) -> list[str]:
    """Pre-flight warnings: odd positions, duplicated variant IDs, traits without any value."""
    out = list(check_positions(c.variants))
    dup = duplicate_variant_ids_message(duplicate_variant_ids(c.variants))
    if dup:
        out.append(dup)
    return out + all_missing_messages(c.samples, columns=columns, merged=True)


with guard("Checking the data"):
    if loaded.get("checks_of") != id(cohort):  # once per loaded cohort, not on every rerun
        loaded["checks"], loaded["checks_of"] = _data_checks(cohort), id(cohort)
    checks = loaded["checks"]
    with st.expander(f"Data checks ({len(checks)} warning{'s' if len(checks) != 1 else ''})"
                     if checks else "Data checks (nothing found)", expanded=bool(checks)):
        st.caption("Positions that cannot be real base pairs (no map, marker indices, negative "
                   "or zero positions), variant IDs used more than once in the .bim, and trait "
                   "columns without any value for the genotyped samples.")
        for msg in checks:
            st.warning(msg, icon=":material/warning:")
        if not checks:
            st.success("No problem found in the positions, variant IDs or trait columns.")

with guard("Checking the genome build"), st.expander("Genome build", expanded=False):
    build = st.selectbox("Build of the positions", ["GRCh37", "GRCh38"], key="data_build",
                         help="The gene table chosen on the Features page must be on the same "
                              "build (the built-in one is GRCh37/hg19; load a GRCh38 GTF, BED, "
                              "PLINK glist or MAGMA gene.loc for hg38 data).")
    if loaded.get("build_of") != (id(cohort), build):  # once per cohort and build, not per rerun
        loaded["build_warnings"] = check_build(cohort.variants, build=build)
        loaded["build_of"] = (id(cohort), build)
    build_warnings = loaded["build_warnings"]
    for msg in build_warnings:
        st.warning(msg, icon=":material/warning:")
    if not build_warnings:
        st.success(f"Every position lies within its chromosome's length in {build}. The share of "
                   "SNPs inside genes is checked on the Features page, with the gene table.")

st.subheader("Samples and phenotype")
binary = [c for c in columns if is_binary_trait(cohort.samples[c])]
if not binary:
    empty = all_missing_messages(cohort.samples, columns=columns, merged=True)
    for msg in empty:  # the real cause when a trait column holds no value at all
        st.warning(msg)
    st.warning("No binary (case/control) phenotype column with values found. Load a phenotype "
               "table with a 0/1 or 1/2 coded column" + (" that has values for the genotyped "
                                                         "samples." if empty else "."))
    st.stop()
default_pheno = loaded.get("default_phenotype")
phenotype = st.selectbox("Case/control phenotype", binary, key="phenotype",
                         index=binary.index(default_pheno) if default_pheno in binary else 0)
batch_candidates = [c for c in columns if c != phenotype and 1 < cohort.samples[c].nunique() <= 50]
default_batch = loaded.get("default_batch")
batch_column = st.selectbox("Batch / cohort column", ["(none)"] + batch_candidates, key="batch_column",
                            index=1 + batch_candidates.index(default_batch) if default_batch in batch_candidates else 0)
batch_column = None if batch_column == "(none)" else batch_column
c1, c2 = st.columns(2)
batches = None
if batch_column:
    values = sorted(cohort.samples[batch_column].dropna().astype(str).unique())
    batches = c1.multiselect(f"Keep {batch_column}", values, default=values, key="batches")
sex_labels = {1: "male", 2: "female", 0: "unknown"}
present = sorted(int(s) for s in cohort.samples["sex"].unique())
if loaded.get("sexes_of") != id(cohort):  # a newly loaded cohort: keep all of its sexes
    st.session_state["sexes"] = present  # (a VCF has no sex: all unknown)
    loaded["sexes_of"] = id(cohort)
sexes = c2.multiselect("Keep sex", present, format_func=lambda s: sex_labels.get(s, str(s)),
                       key="sexes")

with guard("Selecting samples"):
    sel = state.select(cohort, phenotype, batch_column=batch_column, batches=batches, sexes=sexes)
    selected, y, coding = sel["cohort"], sel["y"], sel["coding"]
    st.caption(coding.message)
    table = selected.cases_controls_table(phenotype, batch_column=batch_column)
    left, right = st.columns([2, 3])
    with left:
        st.dataframe(table, hide_index=True)
        download_csv(table, "cases_controls_per_batch.csv")
    with right:
        figure(cases_controls_bar(table), key="cc_bar")
    st.success(f"Selection: {selected.n_samples:,} samples with a phenotype "
               f"({int((y == 1).sum()):,} cases, {int((y == 0).sum()):,} controls). Next: QC.")
    st.page_link("pages/qc.py", label="Go to QC", icon=":material/arrow_forward:")
