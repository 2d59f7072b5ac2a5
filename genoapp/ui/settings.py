"""Settings chosen once for the whole app, in the sidebar: the torch device and the seed.

Every page reads them from here (never its own selectbox), and every run records them
(``protocol.device`` and the seeds in ``run.json``).
"""

from __future__ import annotations

import streamlit as st

_DEVICE = "genoapp_device"
_SEED = "genoapp_seed"
DEVICES = ("auto", "cpu", "cuda")


def sidebar() -> None:
    """Draw the device and seed widgets (call once, inside ``st.sidebar``)."""
    from genoapp.train import device_description, resolve_device

    st.session_state.setdefault(_DEVICE, "auto")
    st.session_state.setdefault(_SEED, 0)
    st.selectbox("Device", DEVICES, key=_DEVICE,
                 help="Where the neural networks and Gene-PCA run: 'auto' uses a GPU when one is "
                      "visible, else the CPU. Recorded in every run.")
    st.number_input("Seed", 0, 2**31 - 1, key=_SEED,
                    help="Seeds the test split, the validation folds, the models and the nulls; "
                         "the same seed reproduces a run exactly on the same machine.")
    try:
        st.caption(f"**Device:** {device_description(resolve_device(device()))}")
    except Exception as exc:  # noqa: BLE001 - e.g. cuda chosen without a GPU: say so here
        st.caption(f"**Device:** {exc}")


def device() -> str:
    """The chosen device ("auto", "cpu" or "cuda")."""
    return str(st.session_state.get(_DEVICE, "auto"))


def seed() -> int:
    """The chosen seed."""
    return int(st.session_state.get(_SEED, 0))
