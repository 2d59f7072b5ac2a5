"""Path safety of run directories: every file a run record names stays inside its run folder.

A run's ``run.json`` lists the files that genoapp loads later (models, their scaling, the
preprocessing). Models and preprocessing are pickles (joblib) or torch files, and loading a
pickle can run code, so a record that points outside the run folder (``../../x.joblib``, an
absolute path, a symbolic link) would let a shared run or bundle load any file on the machine.
These checks refuse such records before anything is read:

- :func:`check_relative_path` checks the text of one entry (no file system access): a relative
  POSIX path, without ``..``, backslashes, drive letters or control characters;
- :func:`resolve_inside` also walks the path inside the run folder without following links:
  no component may be a symbolic link and the file must be a regular file;
- :func:`run_record_paths` lists the path-valued entries of a record and
  :func:`check_run_record_paths` checks all of them (:func:`genoapp.runs.open_run` and
  :func:`genoapp.runs.load_bundle` call it before loading or unpacking anything).

Path-valued entries of a record (see :func:`genoapp.runs.save_run`): ``models[*]["file"]``,
``models[*]["scaler"]`` (quantitative models' training-fold scaling), the values of
``preprocess`` and ``covariates["file"]`` (the covariate coding of models trained with
covariates as inputs). Other entries (``pipeline_config`` data paths, input hashes) describe where the
data came from and are never opened from the run folder.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath

from genoapp.errors import InputDataError

__all__ = ["check_relative_path", "check_run_record_paths", "resolve_inside", "run_record_paths"]

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NEXT = ("The run (or the bundle it came from) may have been edited or tampered with: do not "
         "load its models; ask its author for a fresh bundle made by genoapp.")


def _refuse(where: str, what: str, value, found: str) -> InputDataError:
    return InputDataError(
        f"{where}: the entry for the {what}, {value!r}, {found}; genoapp only reads files given as "
        f"relative paths inside the run folder (such as 'models/<name>.joblib'). {_NEXT}")


def check_relative_path(relative, *, what: str = "file", where: str = "run.json") -> PurePosixPath:
    """Check the text of one path from a run record (no file system access).

    Parameters
    ----------
    relative : str
        The entry, e.g. ``"models/logreg__all-pca__r1f1s0.joblib"``.
    what : str
        What the entry is, for the message ("model file of Logistic regression").
    where : str
        The record it comes from, for the message (``"<run>/run.json"``).

    Returns
    -------
    pathlib.PurePosixPath
        The normalised relative path (``.`` components and repeated ``/`` dropped).

    Raises
    ------
    InputDataError
        Not a string, empty, absolute (``/...``, ``//host/...``), with a drive letter
        (``C:...``), a backslash, a control character or a ``..`` component, or naming the run
        folder itself.
    """
    if not isinstance(relative, str):
        raise _refuse(where, what, relative, f"is a {type(relative).__name__}, not a text path")
    if not relative.strip():
        raise _refuse(where, what, relative, "is empty")
    if _CONTROL.search(relative):
        raise _refuse(where, what, relative, "contains control characters")
    if "\\" in relative:
        raise _refuse(where, what, relative, "contains a backslash (a Windows path)")
    if _DRIVE.match(relative):
        raise _refuse(where, what, relative, "starts with a drive letter (an absolute path)")
    if relative.startswith("/"):
        raise _refuse(where, what, relative, "is an absolute path")
    p = PurePosixPath(relative)
    if ".." in p.parts:
        raise _refuse(where, what, relative, "contains '..' (it points outside the run folder)")
    if not p.parts:
        raise _refuse(where, what, relative, "names the run folder itself, not a file")
    return p


def resolve_inside(run_dir, relative, *, what: str, must_exist: bool = True) -> Path:
    """The path of a file named in a run record, checked to lie inside the run folder.

    The path is walked one component at a time from ``run_dir`` with ``lstat`` (links are
    never followed): no component may be a symbolic link, and the file must be a regular file
    (not a folder, pipe or device). The run folder itself may be reached through a link (a
    runs folder on another disk); only what lies below it is checked.

    Parameters
    ----------
    run_dir : path-like
        The run directory.
    relative : str
        The entry from ``run.json`` (see :func:`check_relative_path`).
    what : str
        What the entry is, for the message ("model file of Random forest").
    must_exist : bool, default True
        Refuse a missing file (``False``: a missing file is accepted and its would-be path
        returned, so a run with a deleted model can still be opened).

    Returns
    -------
    pathlib.Path
        The file's path (under the fully resolved ``run_dir``).

    Raises
    ------
    InputDataError
        The entry is not a safe relative path (:func:`check_relative_path`), goes through a
        symbolic link, is not a regular file, or is missing (with ``must_exist``).
    """
    base = Path(os.path.realpath(run_dir))
    where = f"{Path(run_dir) / 'run.json'}"
    rel = check_relative_path(relative, what=what, where=where)
    cur = base
    parts = rel.parts
    for i, part in enumerate(parts):
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            if must_exist:
                raise InputDataError(
                    f"{where}: the {what} {relative!r} is missing from the run folder {run_dir}. "
                    "The run is incomplete: save or download it again.") from None
            return base.joinpath(*parts)
        except OSError as exc:
            raise InputDataError(f"{where}: the {what} {relative!r} cannot be read ({exc}). "
                                 "Check the run folder's permissions.") from exc
        if stat.S_ISLNK(st.st_mode):
            raise _refuse(where, what, relative,
                          f"goes through the symbolic link {'/'.join(parts[:i + 1])!r} "
                          "(not followed)")
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            raise _refuse(where, what, relative, f"goes through {'/'.join(parts[:i + 1])!r}, "
                          "which is not a folder")
        if last and not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a pipe, socket or device"
            raise _refuse(where, what, relative, f"is {kind}, not a regular file")
    # Belt and braces: the resolved path must still be below the run folder.
    real = os.path.realpath(cur)
    if os.path.commonpath([real, str(base)]) != str(base):  # pragma: no cover - links refused
        raise _refuse(where, what, relative, "resolves outside the run folder")
    return cur


def run_record_paths(record, *, where: str = "run.json") -> list[tuple[str, object]]:
    """The path-valued entries of a run record.

    Parameters
    ----------
    record : dict
        A parsed ``run.json``.
    where : str
        The record's file, for the messages.

    Returns
    -------
    list of (str, object)
        ``(what, value)`` for every ``models[*]["file"]``, ``models[*]["scaler"]`` (when set),
        ``preprocess`` value and ``covariates["file"]`` (when set); ``value`` is returned as found (checked by the callers).

    Raises
    ------
    InputDataError
        ``models`` is not a list of objects with a ``file``, or ``preprocess`` is not an object.
    """
    if not isinstance(record, dict):
        raise InputDataError(f"{where} holds a {type(record).__name__}, not a run record. {_NEXT}")
    out: list[tuple[str, object]] = []
    models = record.get("models", [])
    if models is None:
        models = []
    if not isinstance(models, list):
        raise InputDataError(f"{where}: 'models' is a {type(models).__name__}, expected a list "
                             f"of saved models. {_NEXT}")
    for j, m in enumerate(models):
        if not isinstance(m, dict) or "file" not in m:
            raise InputDataError(f"{where}: models[{j}] is not a saved model entry with a "
                                 f"'file' (found {str(m)[:80]!r}). {_NEXT}")
        name = m.get("name", m.get("key", f"models[{j}]"))
        out.append((f"model file of {name}", m["file"]))
        if m.get("scaler") is not None:
            out.append((f"scaling file of {name}", m["scaler"]))
    pre = record.get("preprocess", {})
    if pre is None:
        pre = {}
    if not isinstance(pre, dict):
        raise InputDataError(f"{where}: 'preprocess' is a {type(pre).__name__}, expected an "
                             f"object of input name -> file. {_NEXT}")
    for name, rel in pre.items():
        out.append((f"preprocessing of {name!r}", rel))
    cov = record.get("covariates")
    if isinstance(cov, dict) and cov.get("file") is not None:
        out.append(("covariate coding", cov["file"]))
    return out


def check_run_record_paths(run_dir, record, *, must_exist: bool = False) -> list[Path]:
    """Check every file path of a run record before anything is loaded.

    Parameters
    ----------
    run_dir : path-like
        The run directory the record belongs to.
    record : dict
        Its parsed ``run.json``.
    must_exist : bool, default False
        Also refuse entries whose file is missing (by default a missing file is only an error
        when that model is loaded, so a run with a deleted model still opens).

    Returns
    -------
    list of pathlib.Path
        The checked paths, in record order (see :func:`run_record_paths`).

    Raises
    ------
    InputDataError
        An entry is absolute, has ``..``, a backslash or a drive letter, goes through a symbolic
        link, is not a regular file, or (``must_exist``) is missing; or the record's ``models``
        / ``preprocess`` are malformed. The message names the entry; nothing is followed or read.
    """
    return [resolve_inside(run_dir, rel, what=what, must_exist=must_exist)
            for what, rel in run_record_paths(record, where=f"{Path(run_dir) / 'run.json'}")]
