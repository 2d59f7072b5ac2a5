"""Static images (PNG and SVG) of plotly figures, for slides and papers.

Rendered by kaleido (plotly's exporter), which drives a headless Chrome or Chromium: an
installed browser is used when found (Debian: ``apt-get install chromium``); otherwise
``plotly_get_chrome`` (installed with plotly) downloads one.
"""

from __future__ import annotations

from genoapp.errors import ConfigError

__all__ = ["figure_images"]


def figure_images(fig, *, scale: float = 2.0) -> dict[str, bytes]:
    """PNG and SVG renderings of a plotly figure.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    scale : float, default 2.0
        PNG resolution factor (2 = twice the on-screen pixel size, sharp on slides).

    Returns
    -------
    dict
        ``{"png": bytes, "svg": bytes}``.

    Raises
    ------
    ConfigError
        No Chrome/Chromium for kaleido, with how to install one.
    """
    try:
        png = fig.to_image(format="png", scale=scale)
        svg = fig.to_image(format="svg")
    except Exception as exc:  # kaleido reports a missing browser in several ways
        text = str(exc)
        if "chrome" in text.lower() or "browser" in text.lower() or "kaleido" in text.lower():
            raise ConfigError(
                "Exporting images needs Chrome or Chromium for kaleido: install one (Debian/Ubuntu: "
                "`sudo apt-get install chromium`) or run `plotly_get_chrome`, then try again. "
                f"({type(exc).__name__}: {text[:200]})"
            ) from exc
        raise
    return {"png": png, "svg": svg}
