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
    """Show a plotly figure full width (its toolbar has PNG export)."""
    st.plotly_chart(fig, width="stretch", key=key)
