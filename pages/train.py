"""Train page: DiseaseCapsule and a logistic-regression baseline on the same split."""

import streamlit as st

from genoapp.pipeline import train_case_control
from genoapp.plots import confusion_matrix_figure, roc_curves, training_curves
from genoapp.train import device_description, resolve_device
from genoapp.ui import state
from genoapp.ui.errors import guard
from genoapp.ui.progress import StreamlitProgress
from genoapp.ui.widgets import download_csv, figure

st.title("Train")
res = state.require("features", "pages/features.py", "Features")
split, fs = res["split"], res["features"]
st.write(f"{len(split.train_idx):,} training samples (cases upsampled to 1:1 inside the training "
         f"set), {len(split.test_idx):,} test samples touched only for the final scores; "
         f"{fs.X.shape[1]:,} Gene-PCA features.")

with st.form("train_form"):
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 500, 30, key="epochs")
    batch_size = c2.number_input("Batch size", 8, 4096, 128, key="batch_size")
    lr = c3.number_input("Learning rate (Adam)", 1e-6, 1e-1, 1e-4, format="%.0e", key="lr")
    decay = c4.number_input("LR decay per epoch", 0.1, 1.0, 0.8, 0.05, key="lr_decay",
                            help="ExponentialLR gamma (DiseaseCapsule: 0.8).")
    with st.expander("Capsule network options (defaults as the authors coded them)"):
        o1, o2, o3 = st.columns(3)
        routing = o1.radio("Routing softmax over", ["input", "output"], key="routing",
                           format_func=lambda v: {"input": "input capsules (authors' code, paper eq.)",
                                                  "output": "output capsules (Sabour et al.)"}[v])
        pose = o2.radio("Pose matrices", ["per_route", "shared"], key="pose",
                        format_func=lambda v: {"per_route": "one per route (authors' code)",
                                               "shared": "shared by a type's positions (paper text)"}[v])
        loss = o3.radio("Loss", ["cross_entropy", "margin"], key="loss",
                        format_func=lambda v: {"cross_entropy": "cross-entropy on capsule lengths",
                                               "margin": "margin loss (Sabour et al.)"}[v])
        d1, d2, d3 = st.columns(3)
        dropout = d1.number_input("Dropout", 0.0, 0.9, 0.5, 0.05, key="dropout")
        device = d2.selectbox("Device", ["auto", "cpu", "cuda"], key="device")
        seed = d3.number_input("Seed", 0, 2**31 - 1, 0, key="train_seed")
    baseline = st.checkbox("Also train a logistic regression (saga) on the same split", value=True,
                           key="baseline")
    submitted = st.form_submit_button("Train", type="primary", key="train")

if submitted:
    with guard("Training"):
        dev = resolve_device(device)
        st.caption(f"Device: {device_description(dev)}")
        progress = StreamlitProgress(int(epochs))
        params = {"epochs": int(epochs), "batch_size": int(batch_size), "learning_rate": float(lr),
                  "lr_decay": float(decay), "routing_softmax": routing, "pose": pose, "loss": loss,
                  "dropout": float(dropout), "device": device}
        result = train_case_control(fs, split, capsule_params=params, baseline=baseline,
                                    callbacks=[progress], random_state=int(seed))
        state.put("train", {"result": result, "params": params})
        st.rerun()

tr = state.get("train")
if tr is None:
    st.stop()
result = tr["result"]
st.subheader("Test-set metrics")
st.caption(f"Balanced test set: {len(split.test_idx)} samples; DiseaseCapsule trained on "
           f"{result.capsule.device_}.")
st.dataframe(result.metrics.style.format(precision=3), hide_index=True)
download_csv(result.metrics, "test_metrics.csv")
figure(training_curves(result.history), key="curves")
download_csv(result.history, "training_history.csv")
c1, c2 = st.columns([3, 2])
with c1:
    figure(roc_curves(split.y[split.test_idx], result.test_scores), key="roc")
with c2:
    for name, pred in result.test_predictions.items():
        figure(confusion_matrix_figure(split.y[split.test_idx], pred, title=name), key=f"cm_{name}")
st.page_link("pages/insights.py", label="Next: Capsule insights", icon=":material/arrow_forward:")
