"""Atomic writes: a reader never sees a half-written file or folder.

Every file or folder genoapp writes for later use (run directories, model files, PLINK and
GRM files, bundles, reports, benchmark caches) goes through :func:`atomic_path`: the content is
written under a temporary name in the same folder, flushed to disk, and renamed into place
with ``os.replace`` (atomic on POSIX file systems) only when complete. On any error the
temporary file or folder is removed and the previous content, if any, is left as it was.

Disk-full, permission and read-only errors are turned into one readable
:class:`~genoapp.errors.StorageError` (what, where, how much space was needed and is free).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from genoapp.errors import StorageError

__all__ = ["atomic_path", "atomic_write", "check_writable", "storage_error"]

_SPACE_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", -1)}
_ACCESS_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


def _free_bytes(path: Path) -> int | None:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def _fmt_bytes(n: float | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"  # pragma: no cover


def storage_error(exc: BaseException, *, what: str, where, needed: int | None = None) -> StorageError:
    """A readable :class:`StorageError` for an ``OSError`` (or torch's wrapped one) while writing.

    Parameters
    ----------
    exc : BaseException
        The original error (``OSError`` with ``errno``; torch's ``RuntimeError`` from a full
        disk carries no errno and is recognised by its text).
    what : str
        What was being written ("the run", "the model file").
    where : path-like
        The target path.
    needed : int, optional
        Bytes the write needed, when known.

    Returns
    -------
    StorageError
        Message: what, where, the cause (disk full / no permission / read-only) and the free
        space of that file system.
    """
    where = Path(where)
    code = getattr(exc, "errno", None)
    text = str(exc)
    free = _free_bytes(where)
    if code in _SPACE_ERRNOS or "unexpected pos" in text or "No space left" in text:
        cause = "the disk is full"
    elif code == errno.EROFS:
        cause = "the file system is read-only"
    elif code in _ACCESS_ERRNOS:
        cause = "genoapp has no permission to write there"
    elif code == errno.ENOENT:
        cause = "the folder does not exist (or was removed while writing)"
    else:
        cause = f"{type(exc).__name__}: {text[:200]}"
    need = f"; about {_fmt_bytes(needed)} were needed" if needed else ""
    return StorageError(
        f"Could not write {what} to {where}: {cause} (free space there: {_fmt_bytes(free)}"
        f"{need}). Free some space or choose another folder (GENOAPP_RUNS_DIR for runs), then "
        "save again."
    )


@contextlib.contextmanager
def atomic_path(path, *, directory: bool = False, what: str = "the file") -> Iterator[Path]:
    """Write a file or folder under a temporary name, then rename it into place.

    Parameters
    ----------
    path : path-like
        Final path. Its parent folder is created if needed. An existing file is replaced; an
        existing folder (``directory=True``) is an error (runs are never overwritten).
    directory : bool, default False
        Yield a fresh empty temporary folder instead of a temporary file name.
    what : str
        What is written, for error messages.

    Yields
    ------
    pathlib.Path
        The temporary path to write to (in the same folder as ``path``, name starting with
        ``.``, so folder listings skip it).

    Raises
    ------
    StorageError
        The disk is full, the folder is read-only or not writable.

    Examples
    --------
    >>> with atomic_path(out) as tmp:  # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, what=what, where=path) from exc
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        if directory:
            tmp.mkdir()
        yield tmp
        if not directory and tmp.is_file():
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if directory and path.exists():
            raise FileExistsError(errno.EEXIST, "already exists", str(path))
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        _remove(tmp)
        if isinstance(exc, StorageError):
            raise
        if isinstance(exc, OSError) or "unexpected pos" in str(exc):
            raise storage_error(exc, what=what, where=path) from exc
        raise
    except BaseException:
        _remove(tmp)
        raise


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


def atomic_write(path, data: bytes | str | Callable[[Path], object], *,
                 what: str = "the file") -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`).

    Parameters
    ----------
    path : path-like
    data : bytes, str or callable
        Bytes, text (UTF-8), or a function ``writer(tmp_path)`` that writes the file
        (``torch.save``, ``joblib.dump``, ``DataFrame.to_csv``...).
    what : str
        For error messages.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    StorageError
        Disk full, read-only or not writable.
    """
    path = Path(path)
    with atomic_path(path, what=what) as tmp:
        if isinstance(data, bytes | bytearray):
            tmp.write_bytes(data)
        elif isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            data(tmp)
    return path


def check_writable(folder, *, what: str = "the runs folder", min_free: int = 50_000_000) -> Path:
    """Check before long work that ``folder`` can be written and has free space.

    Creates the folder if needed and writes (then removes) a small probe file.

    Parameters
    ----------
    folder : path-like
    what : str
        For the message ("the runs folder").
    min_free : int, default 50 MB
        Refuse when less than this many bytes are free.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    StorageError
        Cannot be created or written, or less than ``min_free`` bytes free.
    """
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{secrets.token_hex(4)}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise storage_error(exc, what=what, where=folder) from exc
    free = _free_bytes(folder)
    if free is not None and free < min_free:
        raise StorageError(
            f"{what} {folder} has only {_fmt_bytes(free)} free; at least {_fmt_bytes(min_free)} "
            "are needed to save a run. Free some space or choose another folder "
            "(GENOAPP_RUNS_DIR)."
        )
    return folder
