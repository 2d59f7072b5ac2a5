"""Run bundles: one zip file with a whole run, to share it and reopen it elsewhere.

A bundle holds the run directory written by :func:`genoapp.runs.save_run` (``run.json``,
``config.json``, the result tables, ``samples.csv``, the models and the preprocessing) plus the
self-contained HTML report (``report.html``). :func:`load_bundle` checks it and unpacks it into
a runs folder, where :func:`genoapp.runs.open_run` (and the Runs page) shows the same tables.

Security: scikit-learn models and the preprocessing are joblib (pickle) files, which can run
code when loaded. Open bundles only from people you trust (the app says so).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from genoapp.errors import InputDataError
from genoapp.runs.store import RUN_FORMAT, default_runs_dir, open_run

__all__ = ["load_bundle", "make_bundle"]

_MAX_BYTES = 4 * 1024**3  # refuse to unpack more than 4 GB (zip bombs)


def make_bundle(run_path, *, report: bool = True) -> bytes:
    """Zip a run directory (and its HTML report) into bytes.

    Parameters
    ----------
    run_path : path-like
        A run directory (:func:`genoapp.runs.save_run`).
    report : bool, default True
        Add ``report.html`` (:func:`genoapp.report.run_report_html`).

    Returns
    -------
    bytes
        The zip file; members are ``<run_id>/...``.

    Raises
    ------
    InputDataError
        ``run_path`` is not a run directory.
    """
    run = open_run(run_path)  # validates
    root = Path(run.path)
    run_id = str(run.record.get("run_id") or root.name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.name != "report.html":
                zf.write(p, f"{run_id}/{p.relative_to(root).as_posix()}")
        if report:
            from genoapp.report import run_report_html

            zf.writestr(f"{run_id}/report.html", run_report_html(run))
    return buf.getvalue()


def load_bundle(bundle, root=None) -> Path:
    """Check a bundle and unpack it into the runs folder, atomically.

    Parameters
    ----------
    bundle : bytes, path-like or binary file object
        A zip written by :func:`make_bundle`.
    root : path-like, optional
        Runs folder (default :func:`genoapp.runs.default_runs_dir`).

    Returns
    -------
    pathlib.Path
        The unpacked run directory (``<root>/<run_id>``, with a numeric suffix if that name is
        taken).

    Raises
    ------
    InputDataError
        Not a zip file, not one run, an unsafe member path (absolute or ``..``), too large, or
        no valid ``run.json``.
    """
    name = "the bundle"
    if isinstance(bundle, (bytes, bytearray)):
        src = io.BytesIO(bundle)
    elif isinstance(bundle, (str, os.PathLike)):
        name = str(bundle)
        src = Path(bundle)
    else:
        src = bundle
        name = getattr(bundle, "name", name)
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputDataError(f"{name}: not a zip file ({exc}). Choose a .zip made by genoapp's "
                             "'Download the run bundle'.") from exc
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        tops = {PurePosixPath(m.filename).parts[0] for m in members if PurePosixPath(m.filename).parts}
        for m in members:
            p = PurePosixPath(m.filename)
            if p.is_absolute() or ".." in p.parts or "\\" in m.filename or len(p.parts) < 2:
                raise InputDataError(f"{name}: unsafe or unexpected member path {m.filename!r}; "
                                     "a genoapp bundle holds one folder <run_id>/...")
        if len(tops) != 1:
            raise InputDataError(f"{name}: expected one run folder, found {len(tops)} "
                                 f"({sorted(tops)[:5]}).")
        top = tops.pop()
        if sum(m.file_size for m in members) > _MAX_BYTES:
            raise InputDataError(f"{name}: unpacks to more than {_MAX_BYTES / 1024**3:.0f} GB; refused.")
        try:
            rec = json.loads(zf.read(f"{top}/run.json"))
        except (KeyError, ValueError) as exc:
            raise InputDataError(f"{name}: no readable {top}/run.json; not a genoapp run bundle.") from exc
        if rec.get("format") != RUN_FORMAT:
            raise InputDataError(f"{name}: {top}/run.json is not a genoapp run record.")
        root = Path(root) if root is not None else default_runs_dir()
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".bundle-"))
        try:
            for m in members:
                rel = PurePosixPath(m.filename).relative_to(top)
                dest = tmp.joinpath(*rel.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as fin, open(dest, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            open_run(tmp)  # readable before it appears in the runs folder
            final, i = root / top, 1
            while final.exists():
                i += 1
                final = root / f"{top}-{i}"
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final
