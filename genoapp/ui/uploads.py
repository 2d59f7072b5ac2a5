"""Uploaded files on disk: one private folder per session and purpose, removed when replaced.

Genotypes are sensitive data. bed-reader opens the .bed by path, so uploads must stay on disk
while the cohort is in use; they are written to a private temporary folder (mode 0700) that is
deleted when the session has loaded newer uploads for the same purpose, when loading them
fails, and when the server process exits.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import streamlit as st

_KEY = "genoapp_upload_dirs"
_ALL: set[Path] = set()


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _ALL.discard(path)


@atexit.register
def _remove_all() -> None:  # server shutdown
    for path in list(_ALL):
        _remove(path)


def save_uploads(files, purpose: str) -> Path:
    """Write ``files`` (Streamlit ``UploadedFile`` objects) to a fresh private folder.

    The session's current folder for ``purpose`` is left alone until the new files have loaded:
    then call :func:`keep` (which deletes the previous folder); if loading fails, call
    :func:`drop` so that nothing half-loaded stays on disk.

    Returns
    -------
    Path
        The folder; each file keeps its base name.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"genoapp_{purpose}_"))  # mode 0700
    _ALL.add(folder)
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
