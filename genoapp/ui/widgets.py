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
