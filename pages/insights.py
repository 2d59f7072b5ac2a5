"""Capsule insights page: coupling-coefficient heatmaps for training and test samples."""

import numpy as np
import pandas as pd
import streamlit as st

from genoapp.pipeline import coupling_summary
from genoapp.plots import coupling_heatmap
from genoapp.ui import state
from genoapp.ui.errors import guard
from genoapp.ui.widgets import download_csv, figure

st.title("Capsule insights")
tr = state.require("train", "pages/train.py", "Train")
res = state.get("features")
split, fs = res["split"], res["features"]
model = tr["result"].capsule

if state.get("coupling") is None:
    with guard("Computing coupling coefficients"), st.spinner("Routing all samples through the network"):
        state.put("coupling", coupling_summary(model, fs, split))
cs = state.get("coupling")
if cs is None:
    st.stop()

n_types = cs.train.shape[1]
st.write(
    "Coupling coefficients c_kj tell how strongly the primary capsules of type k send their "
    "output to phenotype capsule j (control or case), summed over the type's positions and "
    "averaged over samples whose **true** label is j. With the routing softmax over input "
    f"capsules each row sums to 1, so the uniform baseline is 1/{n_types} = {1 / n_types:.4f}."
)
k_star = st.selectbox("Highlighted primary type", list(range(n_types)), index=cs.strongest_case_type,
                      format_func=lambda k: f"type {k + 1}" + (" (k*, strongest case coupling in training)"
                                                                 if k == cs.strongest_case_type else ""),
                      key="k_star")
zmin = float(min(np.nanmin(cs.train), np.nanmin(cs.test)))
zmax = float(max(np.nanmax(cs.train), np.nanmax(cs.test)))
figure(coupling_heatmap(cs.train, title=f"Training samples (n = {len(split.train_idx)})",
                        highlight_type=k_star, zmin=zmin, zmax=zmax), key="heat_train")
figure(coupling_heatmap(cs.test, title=f"Test samples (n = {len(split.test_idx)})",
                        highlight_type=k_star, zmin=zmin, zmax=zmax), key="heat_test")
table = pd.DataFrame({
    "primary_type": np.tile(np.arange(1, n_types + 1), 4),
    "samples": np.repeat(["training", "training", "test", "test"], n_types),
    "phenotype_capsule": np.repeat(["control", "case", "control", "case"], n_types),
    "mean_coupling": np.concatenate([cs.train[0], cs.train[1], cs.test[0], cs.test[1]]),
})
download_csv(table, "coupling_coefficients.csv")
