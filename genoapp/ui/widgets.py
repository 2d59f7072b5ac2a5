"""Small display helpers: CSV downloads and figures."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def download_csv(df: pd.DataFrame, filename: str, *, label: str | None = None, key: str | None = None) -> None:
    """A download button for ``df`` as CSV."""
    st.download_button(label or f"Download {filename}", df.to_csv(index=False).encode(),
                       file_name=filename, mime="text/csv", key=key or f"dl_{filename}",
                       icon=":material/download:")


def figure(fig, *, key: str) -> None:
    """Show a plotly figure full width, with PNG and SVG downloads rendered on request."""
    import hashlib

    from genoapp.plots.export import figure_images
    from genoapp.ui.errors import guard

    st.plotly_chart(fig, width="stretch", key=key)
    store = f"genoapp_figure_images_{key}"
    with st.popover("PNG / SVG", icon=":material/image:"):
        if st.button("Render this figure as PNG and SVG", key=f"{key}__export"):
            with guard("Exporting the figure"), st.spinner("Rendering"):
                digest = hashlib.sha1(fig.to_json().encode()).hexdigest()
                st.session_state[store] = (digest, figure_images(fig))
        saved = st.session_state.get(store)
        if saved is not None and saved[0] == hashlib.sha1(fig.to_json().encode()).hexdigest():
            st.download_button("PNG", saved[1]["png"], file_name=f"{key}.png", mime="image/png",
                               key=f"{key}__png", icon=":material/download:")
            st.download_button("SVG", saved[1]["svg"], file_name=f"{key}.svg", mime="image/svg+xml",
                               key=f"{key}__svg", icon=":material/download:")


GENOTYPE_SUFFIXES = (".bed", ".bim", ".fam", ".vcf", ".vcf.gz", ".vcf.bgz", ".bcf", ".tbi", ".csi",
                     ".pgen", ".pvar", ".psam", ".bgen", ".sample")
GENOTYPE_INPUT_HELP = ("PLINK 1 (.bed/.bim/.fam: the dosage counts A1, bim column 5), VCF or BCF "
                       "(.vcf, .vcf.gz, .bcf; plain or bgzipped), PLINK 2 (.pgen/.pvar/.psam) or "
                       "BGEN 1.2 (.bgen + .sample). For VCF, .pgen and BGEN the dosage counts the "
                       "ALT allele; they are converted once to a cached PLINK 1 copy, and the "
                       "counts of that read (multi-allelic, filtered, missing) are shown.")


def genotype_read_options(path_or_names, *, key: str):
    """Reading options for VCF/BCF, .pgen or BGEN input; ``None`` for PLINK 1 input.

    ``path_or_names``: the typed path or the uploaded file names; the widgets appear only when a
    non-PLINK 1 format is among them.
    """
    from genoapp.io.formats import ReadOptions, detect_genotype_format

    names = [path_or_names] if isinstance(path_or_names, str) else list(path_or_names or [])
    formats = {detect_genotype_format(n) for n in names if n}
    formats.discard("plink1")
    if not formats:
        return None
    with st.expander("Reading the " + "/".join(sorted(f.upper() for f in formats)) + " file",
                     expanded=False):
        c1, c2, c3 = st.columns(3)
        delim = c1.selectbox("Sample IDs", ["FID = IID = the sample ID", "split FID_IID at _",
                                            "split FID-IID at -"], key=f"{key}_ids",
                             help="As plink2 --vcf: by default each VCF/BGEN sample ID is both FID "
                                  "and IID; choose a split when the IDs were written as FID_IID.")
        dosage = c2.selectbox("Dosage", ["hard calls (GT)", "imputed dosage (DS) where present"],
                              key=f"{key}_dosage",
                              help="BGEN always uses its genotype probabilities.")
        multi = c3.selectbox("Multi-allelic records", ["skip", "split"], key=f"{key}_multi",
                             help="Split makes one biallelic variant per ALT allele.")
        c4, c5, c6 = st.columns(3)
        pass_only = c4.checkbox("FILTER = PASS only", value=True, key=f"{key}_pass")
        min_qual = c5.number_input("Minimum QUAL (0 = none)", min_value=0.0, value=0.0,
                                   key=f"{key}_qual")
        ref = c6.selectbox("BGEN: REF allele", ["first", "last"], key=f"{key}_bgenref",
                           help="BGEN has no REF/ALT columns: which allele of a record is REF.")
    return ReadOptions(
        id_delimiter={0: None, 1: "_", 2: "-"}[["FID = IID = the sample ID", "split FID_IID at _",
                                                "split FID-IID at -"].index(delim)],
        dosage_field="DS" if dosage.startswith("imputed") else None, multiallelic=multi,
        filter_pass=bool(pass_only), min_qual=float(min_qual) or None, bgen_ref=ref)


def read_report_panel(genotypes) -> None:
    """The counts of a VCF/BCF/.pgen/BGEN read (nothing for PLINK 1 input)."""
    rep = getattr(genotypes, "read_report", None)
    if rep is None:
        return
    with st.expander(f"Genotype file: {rep.format.upper()}, {rep.n_variants:,} variants kept of "
                     f"{rep.n_records:,} records", expanded=False):
        for line in rep.lines():
            st.write(line)
