"""Run bundles: one zip file with a whole run, to share it and reopen it elsewhere.

A bundle holds the run directory written by :func:`genoapp.runs.save_run` (``run.json``,
``config.json``, the result tables, ``samples.csv``, the models and the preprocessing) plus the
self-contained HTML report (``report.html``). :func:`load_bundle` checks it and unpacks it into
a runs folder, where :func:`genoapp.runs.open_run` (and the Runs page) shows the same tables.

Security: scikit-learn models and the preprocessing are joblib (pickle) files, which can run
code when loaded. Open bundles only from people you trust (the app says so). A bundle is also
checked before anything is unpacked or loaded:

- every member is a regular file or folder under one ``<run_id>/`` folder (no absolute paths,
  ``..``, backslashes, drive letters, symbolic links, devices or duplicate names), there are at
  most ``max_members`` of them and the sizes they declare add up to at most ``max_bytes``;
- every file path in the bundle's ``run.json`` is a relative path inside the run
  (:func:`genoapp.runs.safety.check_run_record_paths`), so no file outside the run folder is
  ever loaded;
- while unpacking, the bytes actually written are counted and unpacking stops at
  ``max_bytes`` (declared sizes can lie); bad CRCs, truncated or forged zips are refused with
  an :class:`~genoapp.errors.InputDataError`;
- the run is unpacked into a hidden temporary folder in the runs folder and renamed into place
  only when complete and readable; on any failure it is removed and the runs folder is left
  as it was.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from genoapp.errors import InputDataError
from genoapp.fileio import check_writable, storage_error
from genoapp.runs.safety import check_relative_path, check_run_record_paths, run_record_paths
from genoapp.runs.store import RUN_FORMAT, default_runs_dir, open_run

__all__ = ["MAX_BUNDLE_BYTES", "MAX_BUNDLE_MEMBERS", "load_bundle", "make_bundle"]

#: Default limit on the bytes a bundle may unpack to (2 GiB; counted from the declared sizes
#: before unpacking and from the bytes actually written while unpacking).
MAX_BUNDLE_BYTES = 2 * 1024**3
#: Default limit on the number of members (files and folders) of a bundle. A run saves one
#: file per model and outer fold (two for quantitative models: the model and its scaling), so
#: the paper settings on many traits reach a few thousand files; 10,000 leaves room while
#: refusing member-count bombs before anything is written.
MAX_BUNDLE_MEMBERS = 10_000
_MAX_RECORD_BYTES = 64 * 1024**2  # run.json is read into memory: at most 64 MiB
_CHUNK = 1 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, struct.error,
               NotImplementedError, RuntimeError, ValueError, OSError, UnicodeDecodeError)
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAKE = "Choose a .zip made by genoapp's 'Download the run bundle'."


def _fmt(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB" if n >= 1024**3 else f"{n / 1024**2:.1f} MiB"


def make_bundle(run_path, *, report: bool = True, max_bytes: int = MAX_BUNDLE_BYTES,
                max_members: int = MAX_BUNDLE_MEMBERS) -> bytes:
    """Zip a run directory (and its HTML report) into bytes.

    Parameters
    ----------
    run_path : path-like
        A run directory (:func:`genoapp.runs.save_run`).
    report : bool, default True
        Add ``report.html`` (:func:`genoapp.report.run_report_html`).
    max_bytes, max_members : int
        Refuse a run that :func:`load_bundle` would refuse with the same limits (default
        :data:`MAX_BUNDLE_BYTES`, :data:`MAX_BUNDLE_MEMBERS`).

    Returns
    -------
    bytes
        The zip file; members are ``<run_id>/...`` (regular files only).

    Raises
    ------
    InputDataError
        ``run_path`` is not a run directory, a path in its ``run.json`` points outside it, it
        holds a symbolic link or a special file, or it exceeds the limits.
    """
    run = open_run(run_path)  # validates, including the paths in run.json
    root = Path(run.path)
    run_id = str(run.record.get("run_id") or root.name)
    files: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode) or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                raise InputDataError(
                    f"{p}: a {'symbolic link' if stat.S_ISLNK(st.st_mode) else 'special file'} in "
                    f"the run folder {root}; a bundle holds regular files only. Remove it (runs "
                    "written by genoapp have none) and download the bundle again.")
            if stat.S_ISREG(st.st_mode) and not (p.parent == root and name == "report.html"):
                files.append((p, f"{run_id}/{p.relative_to(root).as_posix()}"))
    files.sort(key=lambda t: t[1])
    total = sum(p.stat().st_size for p, _ in files)
    if len(files) + 1 > max_members or total > max_bytes:
        raise InputDataError(
            f"{root}: the run has {len(files):,} files ({_fmt(total)}), more than a bundle may "
            f"hold ({max_members:,} files, {_fmt(max_bytes)}). Share the run folder itself, or "
            "raise max_members / max_bytes here and in load_bundle.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p, arc in files:
            zf.write(p, arc)
        if report:
            from genoapp.report import run_report_html

            zf.writestr(f"{run_id}/report.html", run_report_html(run))
    return buf.getvalue()


def _member_parts(name: str, m: zipfile.ZipInfo, label: str) -> tuple[str, ...]:
    """Checked path components of one member (``top, ...``)."""
    bad = None
    if _CONTROL.search(m.filename):
        bad = "has control characters"
    elif "\\" in m.filename:
        bad = "has a backslash"
    elif m.filename.startswith("/") or _DRIVE.match(m.filename):
        bad = "is absolute"
    parts = PurePosixPath(m.filename).parts
    if bad is None and ".." in parts:
        bad = "has '..'"
    if bad is None and not m.is_dir() and len(parts) < 2:
        bad = "is not inside a run folder"
    if bad is None and parts and (parts[0].startswith(".") or not parts[0].strip()):
        bad = "is in a hidden folder"
    if bad is None and any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in parts):
        bad = "has a name longer than 255 bytes"
    if bad is not None:
        raise InputDataError(f"{name}: unsafe or unexpected member path {label} ({bad}); a "
                             f"genoapp bundle holds one folder <run_id>/... {_MAKE}")
    mode = m.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise InputDataError(f"{name}: member {label} is a symbolic link; unsafe, a genoapp bundle "
                             f"holds regular files only. {_MAKE}")
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise InputDataError(f"{name}: member {label} is a special file (mode {oct(mode)}); unsafe, "
                             f"a genoapp bundle holds regular files only. {_MAKE}")
    if m.flag_bits & 0x1:
        raise InputDataError(f"{name}: member {label} is encrypted; genoapp bundles are not. {_MAKE}")
    return parts


def _create(dest: Path):
    """A new file for one member (never an existing file, never through a link)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o644)
    except OSError as exc:
        raise storage_error(exc, what="the unpacked bundle", where=dest) from exc
    return os.fdopen(fd, "wb")


def _corrupt(name: str, label: str, exc: BaseException) -> InputDataError:
    return InputDataError(
        f"{name}: the zip is damaged or forged at member {label} ({type(exc).__name__}: "
        f"{str(exc)[:200]}): bad checksum, truncated file or sizes that do not match the data. "
        f"Download the bundle again, or ask its author for a fresh one. {_MAKE}")


def load_bundle(bundle, root=None, *, max_bytes: int = MAX_BUNDLE_BYTES,
                max_members: int = MAX_BUNDLE_MEMBERS) -> Path:
    """Check a bundle and unpack it into the runs folder, atomically.

    Parameters
    ----------
    bundle : bytes, path-like or binary file object
        A zip written by :func:`make_bundle`.
    root : path-like, optional
        Runs folder (default :func:`genoapp.runs.default_runs_dir`).
    max_bytes : int, default :data:`MAX_BUNDLE_BYTES` (2 GiB)
        Most bytes the bundle may unpack to. Checked on the sizes the zip declares before
        anything is unpacked, and on the bytes actually written while unpacking (no byte past
        the limit is written).
    max_members : int, default :data:`MAX_BUNDLE_MEMBERS` (10,000)
        Most members (files and folders), checked before anything is unpacked.

    Returns
    -------
    pathlib.Path
        The unpacked run directory (``<root>/<run_id>``, with a numeric suffix if that name is
        taken).

    Raises
    ------
    InputDataError
        Not a zip file, damaged or forged (bad CRC, truncated, sizes that do not match), not
        one run, an unsafe member (absolute, ``..``, backslash, symbolic link, special file,
        encrypted, duplicate), over ``max_members`` or ``max_bytes``, no valid ``run.json``,
        or a file path in ``run.json`` outside the run folder. Nothing is left in ``root``.
    StorageError
        The runs folder cannot be written or has too little free space (nothing is left).
    """
    name = "the bundle"
    if isinstance(bundle, (bytes, bytearray)):
        src = io.BytesIO(bundle)
    elif isinstance(bundle, (str, os.PathLike)):
        name = str(bundle)
        src = Path(bundle)
        if not src.is_file():
            raise InputDataError(f"{name}: no such file. Check the path; {_MAKE[0].lower()}"
                                 f"{_MAKE[1:]}")
    else:
        src = bundle
        name = getattr(bundle, "name", name)
    try:
        zf = zipfile.ZipFile(src)
        infos = zf.infolist()
    except _ZIP_ERRORS as exc:
        raise InputDataError(f"{name}: not a zip file, or a damaged or incomplete one ({exc}). "
                             f"Download it again if it was cut short. {_MAKE}") from exc
    with zf:
        # 1. The central directory: count, names, kinds and declared sizes; nothing written yet.
        if len(infos) > max_members:
            raise InputDataError(
                f"{name}: {len(infos):,} members, more than the {max_members:,} allowed; refused "
                "(a run bundle holds one file per model and table). If this is a genuine run, "
                "load it with a larger max_members.")
        members, seen, dirs = [], {}, set()
        for m in infos:
            label = repr(m.filename)
            parts = _member_parts(name, m, label)
            if not parts:
                continue
            key = "/".join(parts).casefold()
            if key in seen:
                raise InputDataError(f"{name}: member {label} appears twice (as {seen[key]!r}); "
                                     f"unsafe, refused. {_MAKE}")
            seen[key] = m.filename
            for k in range(1, len(parts)):
                dirs.add("/".join(parts[:k]).casefold())
            if not m.is_dir():
                members.append((m, parts))
        clash = [m.filename for m, parts in members if "/".join(parts).casefold() in dirs]
        if clash:
            raise InputDataError(f"{name}: member {clash[0]!r} is both a file and a folder; "
                                 f"refused. {_MAKE}")
        tops = {PurePosixPath(f).parts[0] for f in seen.values()}
        if len(tops) != 1:
            raise InputDataError(f"{name}: expected one run folder, found {len(tops)} "
                                 f"({sorted(tops)[:5]}). {_MAKE}")
        top = tops.pop()
        declared = sum(m.file_size for m, _ in members)
        if declared > max_bytes:
            raise InputDataError(
                f"{name}: unpacks to {_fmt(declared)}, more than the {_fmt(max_bytes)} allowed; "
                "refused. If this is a genuine run, load it with a larger max_bytes.")

        # 2. run.json: a genoapp record whose file paths all stay inside the run.
        rec_name = f"{top}/run.json"
        rec_info = next((m for m, parts in members if parts == (top, "run.json")), None)
        if rec_info is None:
            raise InputDataError(f"{name}: no {rec_name}; not a genoapp run bundle. {_MAKE}")
        try:
            with zf.open(rec_info) as f:
                raw = f.read(_MAX_RECORD_BYTES + 1)
        except _ZIP_ERRORS as exc:
            raise _corrupt(name, repr(rec_name), exc) from exc
        if len(raw) > _MAX_RECORD_BYTES:
            raise InputDataError(f"{name}: {rec_name} is larger than {_fmt(_MAX_RECORD_BYTES)}; "
                                 f"not a genoapp run record. {_MAKE}")
        try:
            rec = json.loads(raw)
        except ValueError as exc:
            raise InputDataError(f"{name}: no readable {rec_name} ({exc}); not a genoapp run "
                                 f"bundle. {_MAKE}") from exc
        if not isinstance(rec, dict) or rec.get("format") != RUN_FORMAT:
            raise InputDataError(f"{name}: {rec_name} is not a genoapp run record. {_MAKE}")
        where = f"{name}: {rec_name}"
        for what, rel in run_record_paths(rec, where=where):
            check_relative_path(rel, what=what, where=where)

        # 3. Unpack into a hidden folder of the runs folder, counting the bytes written.
        root = Path(root) if root is not None else default_runs_dir()
        created_root = not root.exists()
        check_writable(root, what="the runs folder", min_free=1_000_000)
        try:
            tmp = Path(tempfile.mkdtemp(dir=root, prefix=".bundle-", suffix=".tmp"))
        except OSError as exc:
            raise storage_error(exc, what="the unpacked bundle", where=root) from exc
        try:
            written = 0
            for m, parts in members:
                label = repr(m.filename)
                dest = tmp.joinpath(*parts[1:])
                with _create(dest) as fout:
                    try:
                        fin = zf.open(m)
                    except _ZIP_ERRORS as exc:
                        raise _corrupt(name, label, exc) from exc
                    with fin:
                        got = 0
                        while True:
                            want = min(_CHUNK, max_bytes - written + 1)
                            try:
                                chunk = fin.read(want)
                            except _ZIP_ERRORS as exc:
                                raise _corrupt(name, label, exc) from exc
                            if not chunk:
                                break
                            if written + len(chunk) > max_bytes:
                                raise InputDataError(
                                    f"{name}: unpacks to more than the {_fmt(max_bytes)} allowed "
                                    f"(member {label} holds more data than the zip declares); "
                                    "refused, nothing was kept.")
                            got += len(chunk)
                            if got > m.file_size:
                                raise _corrupt(name, label, ValueError(
                                    f"more data than the declared {m.file_size} bytes"))
                            try:
                                fout.write(chunk)
                            except OSError as exc:
                                raise storage_error(exc, what="the unpacked bundle",
                                                    where=dest) from exc
                            written += len(chunk)
                    if got != m.file_size:  # declared more than the data holds
                        raise _corrupt(name, label, ValueError(
                            f"{got} bytes instead of the declared {m.file_size}"))
            # 4. The unpacked run: paths checked on disk, readable, then renamed into place.
            check_run_record_paths(tmp, rec)
            open_run(tmp)
            final, i = root / top, 1
            while os.path.lexists(final):
                i += 1
                final = root / f"{top}-{i}"
            try:
                os.rename(tmp, final)
            except OSError as exc:
                raise storage_error(exc, what="the unpacked bundle", where=final) from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if created_root:
                try:
                    root.rmdir()
                except OSError:
                    pass
            raise
    return final
