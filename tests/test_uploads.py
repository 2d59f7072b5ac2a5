"""Upload folders: private, replaced only after a successful load, removed on failure."""

from __future__ import annotations

import stat

import pytest

from genoapp.ui import uploads


class _Upload:
    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getbuffer(self):
        return memoryview(self._data)


@pytest.fixture
def session(monkeypatch):
    state: dict = {}
    monkeypatch.setattr(uploads.st, "session_state", state)
    return state


def test_upload_folder_lifecycle(session):
    first = uploads.save_uploads([_Upload("a.bed", b"\x6c\x1b\x01"), _Upload("../b.fam", b"x")], "cohort")
    assert sorted(p.name for p in first.iterdir()) == ["a.bed", "b.fam"]  # base names only
    assert stat.S_IMODE(first.stat().st_mode) == 0o700
    uploads.keep("cohort", first)

    failed = uploads.save_uploads([_Upload("c.bed", b"")], "cohort")
    uploads.drop(failed)  # loading failed: the new folder goes, the loaded cohort's stays
    assert not failed.exists() and first.exists()

    second = uploads.save_uploads([_Upload("d.bed", b"")], "cohort")
    uploads.keep("cohort", second)  # loaded: the previous folder is deleted
    assert second.exists() and not first.exists()
    uploads._remove_all()  # server exit
    assert not second.exists()
