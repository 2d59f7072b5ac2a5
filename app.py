"""genoapp: point-and-click genotype -> phenotype deep learning.

Run with ``streamlit run app.py``. The app opens with the built-in demo cohort loaded; the pages
walk the case/control path Data -> QC -> Features -> Train -> Capsule insights. All computation
lives in the ``genoapp`` package; pages are thin.
"""

import os

# torch's OpenMP threads spin while idle by default, which starves other work on small machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

from genoapp.ui import settings, state  # noqa: E402
from genoapp.ui.errors import guard  # noqa: E402

st.set_page_config(page_title="genoapp", page_icon=":material/genetics:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("pages/qc.py", title="QC", icon=":material/filter_alt:"),
    st.Page("pages/features.py", title="Features", icon=":material/hub:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/insights.py", title="Capsule insights", icon=":material/insights:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("pages/quantitative.py", title="Quantitative traits", icon=":material/scatter_plot:"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
]
nav = st.navigation(PAGES)

with guard("Loading the demo cohort"):
    state.ensure_demo_loaded()

with st.sidebar:
    st.markdown("### genoapp")
    loaded = state.get("cohort")
    if loaded is not None:
        c = loaded["cohort"]
        st.caption(f"**Cohort:** {c.name}  \n{c.n_samples:,} samples × {c.n_variants:,} variants")
    sel = state.get("selection")
    if sel is not None:
        st.caption(f"**Selection:** {sel['cohort'].n_samples:,} samples, phenotype `{sel['phenotype']}`")
    done = [s for s in ("qc", "features", "train", "coupling") if state.get(s) is not None]
    st.caption("**Steps done:** " + (", ".join(done) if done else "none yet"))
    settings.sidebar()

from genoapp.execution import use_executor  # noqa: E402

with use_executor(settings.executor()):  # pages' jobs run where the sidebar says
    nav.run()
