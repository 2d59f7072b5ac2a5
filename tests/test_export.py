"""PNG and SVG export of figures (kaleido with a local Chrome/Chromium)."""

from __future__ import annotations

import shutil
from pathlib import Path

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from genoapp.plots.export import figure_images

APP = str(Path(__file__).resolve().parents[1] / "app.py")
pytestmark = pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("google-chrome") is None,
                                reason="needs Chrome or Chromium (apt-get install chromium; .ci/run does)")


def test_figure_images_png_and_svg():
    fig = go.Figure(go.Bar(x=["cases", "controls"], y=[594, 891]))
    fig.update_layout(width=400, height=300)
    out = figure_images(fig, scale=2)
    assert out["png"].startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(out["png"][16:20], "big")  # IHDR width
    assert width == 800  # scale 2
    assert b"<svg" in out["svg"][:200] and b"cases" in out["svg"]


def test_every_app_figure_offers_png_and_svg():
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    export = [b for b in at.button if b.key and b.key.endswith("__export")]
    assert len(export) == len(at.get("plotly_chart")) >= 1
    export[0].click().run()
    assert not at.exception and not at.error
    labels = [b.proto.label for b in at.get("download_button")]
    assert "PNG" in labels and "SVG" in labels
