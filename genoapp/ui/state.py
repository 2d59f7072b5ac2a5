"""Session state of the case/control path and invalidation of downstream steps.

Steps, in order: ``cohort`` (loaded files) -> ``selection`` (samples and phenotype) -> ``qc``
-> ``features`` (split + Gene-PCA) -> ``train`` -> ``coupling``. Storing a step's result clears
every later step, so a page never shows results computed from stale inputs.
"""

from __future__ import annotations

import streamlit as st

STEPS = ("cohort", "selection", "qc", "features", "train", "coupling")
_PREFIX = "genoapp_"


def get(step: str):
    """Result stored for ``step`` (or None)."""
    return st.session_state.get(_PREFIX + step)


def put(step: str, value) -> None:
    """Store ``value`` for ``step`` and clear every later step."""
    i = STEPS.index(step)
    for later in STEPS[i + 1:]:
        st.session_state.pop(_PREFIX + later, None)
    st.session_state[_PREFIX + step] = value


def ensure_demo_loaded() -> None:
    """Load the built-in demo cohort when no cohort is loaded yet."""
    if get("cohort") is None:
        from genoapp.demo import DEMO_BATCH, DEMO_PHENOTYPE, load_demo_cohort

        cohort = load_demo_cohort()
        put("cohort", {"cohort": cohort, "source": "demo", "default_phenotype": DEMO_PHENOTYPE,
                       "default_batch": DEMO_BATCH})
        batches = sorted(cohort.samples[DEMO_BATCH].dropna().astype(str).unique())
        sexes = sorted(int(s) for s in cohort.samples["sex"].unique())
        select(cohort, DEMO_PHENOTYPE, batch_column=DEMO_BATCH, batches=batches, sexes=sexes)


def select(cohort, phenotype: str, *, batch_column=None, batches=None, sexes=None) -> dict:
    """Select samples, read the binary phenotype and store the selection if it changed.

    The selection is identified by a fingerprint of its inputs, so re-running a page with the
    same choices keeps the downstream results.
    """
    fingerprint = (id(cohort), phenotype, batch_column, tuple(batches or ()), tuple(sexes or ()))
    current = get("selection")
    if current is not None and current.get("fingerprint") == fingerprint:
        return current
    selected = cohort.select(batch_column=batch_column, batches=batches, sexes=sexes,
                             require_phenotype=phenotype)
    y, coding = selected.phenotype(phenotype)
    value = {"cohort": selected, "phenotype": phenotype, "y": y, "coding": coding,
             "batch_column": batch_column, "batches": None if batches is None else list(batches),
             "sexes": None if sexes is None else [int(x) for x in sexes], "fingerprint": fingerprint}
    put("selection", value)
    return value


def require(step: str, page: str, label: str) -> object:
    """Return the result of ``step`` or explain which page produces it and stop the script."""
    value = get(step)
    if value is None:
        st.info(f"Run **{label}** first.")
        st.page_link(page, label=f"Go to {label}", icon=":material/arrow_forward:")
        st.stop()
    return value


def run_config(*, label: str = "", kind: str = "casecontrol"):
    """The :class:`genoapp.workflows.config.RunConfig` of what the pages have done so far.

    Filled from the stored steps (Data: files and selection; QC: its settings; Features: its
    settings and gene table), so the Train page never assembles a configuration by hand and
    ``python -m genoapp run --config <run dir>`` redoes exactly what the app did. Uploaded
    files are recorded by name only (give their paths to the CLI).
    """
    from genoapp.workflows.config import RunConfig

    cfg = RunConfig(kind=kind, label=label)
    loaded = get("cohort") or {}
    if loaded.get("source") == "demo":
        cfg.data = {"source": "demo"}
    else:
        cfg.data = {"source": "files", **(loaded.get("files") or {})}
    sel = get("selection") or {}
    cfg.selection = {k: sel.get(k) for k in ("phenotype", "batch_column", "batches", "sexes")}
    qc = get("qc") or {}
    if qc.get("result") is not None:
        cfg.set_qc(qc["result"].config)
    feats = get("features") or {}
    if feats.get("features") is not None:
        cfg.set_features(feats["features"].config, gene_table=feats.get("gene_table"),
                         gene_format=feats.get("gene_format", "auto"))
    return cfg
