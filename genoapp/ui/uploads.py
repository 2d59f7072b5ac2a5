"""Uploaded files on disk: one private folder per session and purpose, removed when not needed.

Genotypes are sensitive data. bed-reader opens the .bed by path, so uploads must stay on disk
while the cohort is in use; they are written to a private temporary folder (mode 0700) that is
deleted

* when the session has loaded newer uploads for the same purpose (:func:`keep`),
* when loading them fails (:func:`drop`),
* when the browser session that uploaded them has ended (:func:`sweep`), and
* when the server process exits (``atexit``).

Session end: Streamlit has no session-end hook. Every folder is registered with the id of the
session that saved it; :func:`sweep` compares the registry with the sessions the Streamlit
runtime still holds (:func:`live_session_ids`: connected sessions and disconnected ones that may
still reconnect, which Streamlit keeps for about two minutes) and deletes the folders of the
others. A sweep runs on every :func:`save_uploads` and every :data:`SWEEP_INTERVAL_S` seconds in
a daemon thread started by the first upload. Folders saved outside a Streamlit session (no
session id) are left to ``atexit``. When the runtime's session list cannot be read (raw mode,
tests, a Streamlit version whose internals differ) a sweep deletes nothing.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import streamlit as st

log = logging.getLogger("genoapp")

_KEY = "genoapp_upload_dirs"
#: Seconds between two background sweeps of the upload folders of ended sessions.
SWEEP_INTERVAL_S = 60.0

_LOCK = threading.RLock()
_OWNER: dict[Path, str | None] = {}  # upload folder -> id of the session that saved it
_SWEEPER: threading.Thread | None = None
_STOP = threading.Event()


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    with _LOCK:
        _OWNER.pop(path, None)


@atexit.register
def _remove_all() -> None:  # server shutdown
    _STOP.set()
    with _LOCK:
        folders = list(_OWNER)
    for path in folders:
        _remove(path)


def _current_session_id() -> str | None:
    """Id of the Streamlit session running this script, or None outside a session."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx(suppress_warning=True)
    except Exception:  # no runtime: not in a session
        return None
    return getattr(ctx, "session_id", None) if ctx is not None else None


def live_session_ids() -> set[str] | None:
    """Ids of the sessions the Streamlit runtime still holds, or None when unknown.

    Connected sessions and disconnected sessions that may still reconnect (Streamlit keeps
    them in its session storage for about two minutes) both count as live. Read from the
    runtime's session manager (``Runtime.instance()._session_mgr.list_sessions()``, Streamlit
    1.4x-1.6x); None in raw mode, under ``streamlit.testing`` (a mocked runtime), or when the
    internals differ - then nothing is swept.

    Returns
    -------
    set of str or None
    """
    try:
        from streamlit import runtime

        if not runtime.exists():
            return None
        manager = getattr(runtime.get_instance(), "_session_mgr", None)
        sessions = manager.list_sessions() if manager is not None else None
        if not isinstance(sessions, list):
            return None
        ids = {info.session.id for info in sessions}
    except Exception:  # unknown runtime layout: sweep nothing
        return None
    if not all(isinstance(i, str) for i in ids):
        return None
    return ids


def sweep(live: Iterable[str] | None = None) -> list[Path]:
    """Delete the upload folders whose session has ended.

    Parameters
    ----------
    live : iterable of str, optional
        Ids of the live sessions; default :func:`live_session_ids`. When they are unknown
        (None), nothing is deleted.

    Returns
    -------
    list of pathlib.Path
        The folders deleted. Folders saved outside a session are never swept (``atexit``
        removes them).
    """
    ids = live_session_ids() if live is None else set(live)
    if ids is None:
        return []
    with _LOCK:
        gone = [p for p, owner in _OWNER.items() if owner is not None and owner not in ids]
    for path in gone:
        _remove(path)
    if gone:
        log.info("removed %d upload folder(s) of ended sessions", len(gone))
    return gone


def _sweep_periodically() -> None:
    while not _STOP.wait(SWEEP_INTERVAL_S):
        try:
            sweep()
        except Exception:  # never let the sweeper die on a transient error
            log.exception("sweeping upload folders failed")


def _start_sweeper() -> None:
    global _SWEEPER
    with _LOCK:
        if _SWEEPER is None or not _SWEEPER.is_alive():
            _SWEEPER = threading.Thread(target=_sweep_periodically, name="genoapp-upload-sweep",
                                        daemon=True)
            _SWEEPER.start()


def save_uploads(files, purpose: str) -> Path:
    """Write ``files`` (Streamlit ``UploadedFile`` objects) to a fresh private folder.

    The session's current folder for ``purpose`` is left alone until the new files have loaded:
    then call :func:`keep` (which deletes the previous folder); if loading fails, call
    :func:`drop` so that nothing half-loaded stays on disk. The folder is registered with the
    current session and removed by :func:`sweep` once that session has ended; upload folders of
    other ended sessions are swept first.

    Returns
    -------
    Path
        The folder; each file keeps its base name.
    """
    sweep()
    folder = Path(tempfile.mkdtemp(prefix=f"genoapp_{purpose}_"))  # mode 0700
    with _LOCK:
        _OWNER[folder] = _current_session_id()
    _start_sweeper()
    try:
        for f in files:
            (folder / Path(f.name).name).write_bytes(f.getbuffer())
    except BaseException:
        drop(folder)
        raise
    return folder


def keep(purpose: str, folder: Path) -> None:
    """Make ``folder`` the session's upload folder for ``purpose``; delete the previous one."""
    folders = st.session_state.setdefault(_KEY, {})
    previous = folders.get(purpose)
    folders[purpose] = Path(folder)
    if previous is not None and Path(previous) != Path(folder):
        _remove(Path(previous))


def drop(folder: Path) -> None:
    """Delete an upload folder that was not kept (its files failed to load)."""
    _remove(Path(folder))
