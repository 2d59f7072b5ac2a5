"""The sidebar's execution setting: a local Dask cluster is started and shown; a bad address is
explained and jobs stay in this process.

(AppTest keeps the sidebar of the first run only, so each case sets the session state before a
fresh app's first run.)
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _sidebar_text(**state) -> str:
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return "\n".join(str(e.value) for e in at.sidebar.caption)


def test_sidebar_local_cluster_and_bad_address():
    import genoapp.ui.settings as settings

    try:
        text = _sidebar_text(genoapp_where="local Dask cluster", genoapp_local_workers=2)
        assert "`local:2`, 2 worker(s), 2 thread(s)" in text and "Dask dashboard" in text
    finally:
        settings._open.clear()  # shut the cached local cluster down with the test
    text = _sidebar_text(genoapp_where="Dask scheduler", genoapp_scheduler="not an address")
    assert "**Jobs:** in this process" in text and "not an execution setting" in text
    assert "Jobs:" not in _sidebar_text()  # the default: nothing to say
