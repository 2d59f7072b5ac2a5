"""Data roots: the folders whose files the app may read when a user types a server path.

The Data page of the app lets a user type paths on the server. Without limits that reads any
file the server process can read (``/etc/shadow``, ``/proc/self/environ``, other users' data),
so every typed path goes through :func:`resolve_data_path` (or :func:`resolve_plink_prefix` /
:func:`resolve_grm_prefix` for filesets) before anything is opened. Uploads are not affected:
they are written to a private temporary folder by the app itself.

Configured roots (:func:`data_roots`, :func:`named_data_roots`), in this order:

* ``data`` = ``~/genoapp_data``: the user's data folder in the home folder of the account that
  runs the server (it need not exist; create it and put or link data there);
* ``assets`` = ``<repository>/assets``: the shipped demo data, gene tables and presets;
* the entries of the environment variable :data:`ENV_VAR` (``GENOAPP_DATA_ROOTS``), separated by
  ``os.pathsep`` (``:`` on Linux and macOS, ``;`` on Windows). An entry is an absolute folder
  (``~`` expanded), optionally named: ``name=folder``. Without a name the root is named after
  the folder's last component (``/srv/cohorts`` -> ``cohorts``; ``cohorts-2`` if taken).
  Example: ``GENOAPP_DATA_ROOTS=/srv/cohorts:ukb=/mnt/ukb/plink streamlit run app.py``.

A path is allowed when, after ``~`` expansion, making it absolute (relative to the working
folder) and resolving every symbolic link and ``..`` (:meth:`pathlib.Path.resolve`), it lies
inside one of the resolved roots. A symbolic link inside a root that points outside is
refused. The refusal never says whether the outside path exists.

Root-relative form (for run records, so that they carry no absolute server paths):
``"<root-name>:<relative/posix/path>"``, e.g. ``"assets:demo/human_1kg_hapmap3"`` or
``"ukb:chr1/cohort.bed"`` (:func:`relative_to_root`); :func:`from_root_relative` turns it back
into a path on the machine that reads the record (whose roots may live elsewhere, as long as
the root names agree). Root names have at least two characters (``[A-Za-z0-9][A-Za-z0-9_.-]+``),
so a Windows drive (``C:\\...``) is never taken for a root name. Absolute paths pass through
:func:`from_root_relative` unchanged (older records, headless runs).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path

from genoapp.errors import ConfigError, InputDataError
from genoapp.io.sanitize import shown_path

__all__ = [
    "ASSETS_ROOT",
    "ENV_VAR",
    "HOME_ROOT",
    "DataRoot",
    "data_roots",
    "describe_roots",
    "from_root_relative",
    "named_data_roots",
    "relative_to_root",
    "resolve_data_path",
    "resolve_genotype_path",
    "resolve_grm_prefix",
    "resolve_plink_prefix",
]

#: Environment variable with extra data roots (``os.pathsep``-separated, ``name=folder`` or
#: ``folder``).
ENV_VAR = "GENOAPP_DATA_ROOTS"
#: The user's data folder (root ``data``); ``~`` is the home of the account running the server.
HOME_ROOT = Path("~") / "genoapp_data"
#: The repository's shipped data (root ``assets``).
ASSETS_ROOT = Path(__file__).resolve().parents[2] / "assets"

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]+"
_NAMED_ENTRY = re.compile(rf"({_NAME})=(.+)")
_RELATIVE = re.compile(rf"({_NAME}):(.*)", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class DataRoot:
    """One allowed data folder.

    Attributes
    ----------
    name : str
        Used in root-relative paths (``name:relative/path``) and messages.
    path : pathlib.Path
        Absolute, symbolic links resolved (the folder need not exist).
    origin : str
        ``"default"`` or :data:`ENV_VAR`.
    """

    name: str
    path: Path
    origin: str = "default"


def _resolve(path: Path) -> Path:
    """Absolute path with links and ``..`` resolved; non-existing tails are kept as written."""
    return Path(os.path.abspath(path)).resolve(strict=False)


def _derived_name(folder: Path, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", folder.name) or "root"
    if not base[0].isalnum():
        base = "r" + base
    if len(base) < 2:
        base = f"{base}_root"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    return name


def named_data_roots() -> list[DataRoot]:
    """The configured data roots (defaults, then :data:`ENV_VAR`), read now from the environment.

    Returns
    -------
    list of DataRoot
        ``data`` (``~/genoapp_data``), ``assets`` (``<repository>/assets``), then the entries
        of ``GENOAPP_DATA_ROOTS`` in their order. A folder listed twice is kept once (first
        name wins). Paths are absolute with symbolic links resolved; folders need not exist.

    Raises
    ------
    ConfigError
        An entry of ``GENOAPP_DATA_ROOTS`` is not an absolute folder, or two entries use the
        same explicit name (or a default name).
    """
    roots = [
        DataRoot("data", _resolve(HOME_ROOT.expanduser())),
        DataRoot("assets", _resolve(ASSETS_ROOT)),
    ]
    raw = os.environ.get(ENV_VAR, "")
    for entry in raw.split(os.pathsep):
        entry = entry.strip()
        if not entry:
            continue
        m = _NAMED_ENTRY.fullmatch(entry)
        name, folder = (m.group(1), m.group(2).strip()) if m else (None, entry)
        path = Path(folder).expanduser()
        if not path.is_absolute():
            raise ConfigError(
                f"{ENV_VAR}: the entry {shown_path(entry)!r} is not an absolute folder. List "
                f"absolute folders separated by {os.pathsep!r}, each optionally named "
                f"('name=/path/to/folder'), e.g. {ENV_VAR}=/srv/cohorts{os.pathsep}"
                "ukb=/mnt/ukb."
            )
        path = _resolve(path)
        if any(r.path == path for r in roots):
            continue
        taken = {r.name for r in roots}
        if name is None:
            name = _derived_name(path, taken)
        elif name in taken:
            raise ConfigError(
                f"{ENV_VAR}: the root name {name!r} is used twice (names in use: "
                f"{', '.join(sorted(taken))}). Give every data root its own name."
            )
        roots.append(DataRoot(name, path, ENV_VAR))
    return roots


def data_roots() -> list[Path]:
    """The folders the app may read typed server paths from (see :func:`named_data_roots`).

    Returns
    -------
    list of pathlib.Path
        Absolute, symbolic links resolved, in configuration order.
    """
    return [r.path for r in named_data_roots()]


def _as_roots(roots) -> list[DataRoot]:
    """None -> the configured roots; a mapping name -> folder; or folders / DataRoot objects."""
    if roots is None:
        return named_data_roots()
    if isinstance(roots, Mapping):
        return [DataRoot(str(k), _resolve(Path(v).expanduser()), "argument")
                for k, v in roots.items()]
    out: list[DataRoot] = []
    for r in roots:
        if isinstance(r, DataRoot):
            out.append(DataRoot(r.name, _resolve(r.path), r.origin))
        else:
            path = _resolve(Path(os.fspath(r)).expanduser())
            out.append(DataRoot(_derived_name(path, {x.name for x in out}), path, "argument"))
    return out


def describe_roots(roots=None) -> str:
    """The allowed roots in one line, for the app and messages.

    Parameters
    ----------
    roots : None, iterable of path-like/DataRoot, or mapping name -> folder
        Default: the configured roots.

    Returns
    -------
    str
        ``"data = /home/u/genoapp_data (not created yet); assets = /srv/genoapp/assets"``.
    """
    parts = []
    for r in _as_roots(roots):
        note = "" if r.path.is_dir() else " (not created yet)"
        parts.append(f"{r.name} = {r.path}{note}")
    return "; ".join(parts)


def _how_to_add() -> str:
    return (
        f"Put the file under one of these folders (or link its folder there from the server "
        f"side), or have the administrator add its folder to the environment variable {ENV_VAR} "
        f"(folders separated by {os.pathsep!r}, optionally named: 'name=/path/to/folder') before "
        "starting the app. Uploaded files are not affected."
    )


def _refuse(given, what: str, roots: list[DataRoot]) -> InputDataError:
    # One message for every refusal: it names the path as given and the roots, and never says
    # whether the path exists or where a link points.
    return InputDataError(
        f"{what} {shown_path(given)!r} is not inside a folder this server may read data from. "
        f"Allowed data folders: {describe_roots(roots)}. {_how_to_add()}"
    )


def _inside(path: Path, roots: list[DataRoot]) -> DataRoot | None:
    """The most specific root containing ``path`` (already resolved), or None."""
    best = None
    for r in roots:
        if path == r.path or path.is_relative_to(r.path):
            if best is None or len(r.path.parts) > len(best.path.parts):
                best = r
    return best


def _expand(given, what: str, roots: list[DataRoot]) -> Path:
    """The path as typed: root-relative form expanded, ``~`` expanded (nothing resolved yet)."""
    text = os.fspath(given) if isinstance(given, os.PathLike) else given
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str) or not text.strip():
        raise InputDataError(f"{what}: no path given. Type a path inside: {describe_roots(roots)}.")
    text = text.strip()
    m = _RELATIVE.fullmatch(text)
    if m and m.group(1) in {r.name for r in roots}:
        return from_root_relative(text, roots=roots)
    try:
        return Path(text).expanduser()
    except RuntimeError:  # '~user' of an unknown user: taken literally (and refused)
        return Path(text)


def _confine(given, what: str, roots: list[DataRoot]) -> tuple[Path, DataRoot]:
    """(resolved path, its root) or the refusal error."""
    path = _expand(given, what, roots)
    try:
        resolved = _resolve(path)
    except (OSError, RuntimeError, ValueError):  # unreadable component, link loop, NUL byte
        raise _refuse(given, what, roots) from None
    root = _inside(resolved, roots)
    if root is None:
        raise _refuse(given, what, roots)
    return resolved, root


def resolve_data_path(path, *, what: str = "file", roots=None, must_exist: bool = False) -> Path:
    """Resolve a path typed by a user and refuse it unless it lies inside a data root.

    Parameters
    ----------
    path : str or path-like
        Absolute, relative to the working folder, ``~``-prefixed, or root-relative
        (``"assets:demo/demo.pheno.tsv"``, see the module docstring).
    what : str, default "file"
        What the path is, for messages ("phenotype table", "PLINK fileset").
    roots : None, iterable of path-like/DataRoot, or mapping name -> folder
        The allowed roots; default :func:`named_data_roots` (read from the environment now).
    must_exist : bool, default False
        Also require an existing file or folder (checked only once the path is known to be
        inside a root); otherwise the reader reports a missing file itself.

    Returns
    -------
    pathlib.Path
        Absolute, every symbolic link and ``..`` resolved (``Path.resolve(strict=False)``:
        a final component that does not exist, such as a PLINK prefix, is kept as written).

    Raises
    ------
    InputDataError
        Empty path; the resolved path is outside every root (also when a symbolic link inside
        a root points outside, or the path cannot be resolved) - the message names the path as
        given, the allowed roots and how to add one, and is the same whether or not the path
        exists; ``must_exist`` and the path does not exist.
    ConfigError
        ``GENOAPP_DATA_ROOTS`` is malformed (see :func:`named_data_roots`).
    """
    allowed = _as_roots(roots)
    resolved, _ = _confine(path, what, allowed)
    if must_exist and not resolved.exists():
        raise InputDataError(f"{what} {shown_path(path)!r} not found. Check the path.")
    return resolved


def resolve_plink_prefix(path, *, roots=None) -> Path:
    """Confine a PLINK 1 fileset (prefix or .bed/.bim/.fam path) to the data roots.

    The prefix and each of ``prefix.bed``, ``prefix.bim``, ``prefix.fam`` must resolve inside a
    root (a member file that is a symbolic link pointing outside is refused).

    Parameters
    ----------
    path : str or path-like
        As for :func:`genoapp.io.plink_paths`, or root-relative.
    roots : optional
        See :func:`resolve_data_path`.

    Returns
    -------
    pathlib.Path
        The prefix, resolved (pass it to :func:`genoapp.io.open_plink`).

    Raises
    ------
    InputDataError
        As :func:`resolve_data_path` (missing files are left to the reader).
    """
    from genoapp.io.plink import plink_paths

    allowed = _as_roots(roots)
    prefix, bed, bim, fam = plink_paths(_expand(path, "PLINK fileset", allowed))
    return _confine_members(path, prefix, (bed, bim, fam), "PLINK fileset", allowed)


def resolve_genotype_path(path, *, roots=None) -> Path:
    """Confine any genotype input (PLINK 1 prefix, VCF/BCF, .pgen fileset, BGEN) to the roots.

    PLINK 1 paths go through :func:`resolve_plink_prefix`. For the other formats the file and
    its companions (``.pgen``/``.pvar``/``.psam``; the ``.sample`` of a BGEN; a VCF's index)
    must resolve inside a root.

    Parameters
    ----------
    path : str or path-like
    roots : optional
        See :func:`resolve_data_path`.

    Returns
    -------
    pathlib.Path
        The resolved path (pass it to :func:`genoapp.io.open_genotypes`).

    Raises
    ------
    InputDataError
        As :func:`resolve_data_path`.
    """
    from genoapp.io.formats import companion_paths, detect_genotype_format

    if detect_genotype_format(path) == "plink1":
        return resolve_plink_prefix(path, roots=roots)
    allowed = _as_roots(roots)
    main = _expand(path, "genotype file", allowed)
    members = tuple(companion_paths(main).values())
    return _confine_members(path, main, members, "genotype file", allowed)


def resolve_grm_prefix(path, *, roots=None) -> Path:
    """Confine a GCTA GRM (prefix, ``.grm.bin`` or ``.grm.id`` path) to the data roots.

    The prefix and both ``prefix.grm.bin`` and ``prefix.grm.id`` must resolve inside a root.

    Parameters
    ----------
    path : str or path-like
    roots : optional
        See :func:`resolve_data_path`.

    Returns
    -------
    pathlib.Path
        The prefix, resolved (pass it to :func:`genoapp.io.grm.read_grm`).

    Raises
    ------
    InputDataError
        As :func:`resolve_data_path`.
    """
    from genoapp.io.grm import grm_paths

    allowed = _as_roots(roots)
    prefix, bin_path, id_path = grm_paths(_expand(path, "relationship matrix", allowed))
    return _confine_members(path, prefix, (bin_path, id_path), "relationship matrix", allowed)


def _confine_members(given, prefix: Path, members, what: str, allowed: list[DataRoot]) -> Path:
    """Resolved prefix after checking the prefix and every member file against the roots."""
    try:
        resolved = _resolve(Path(prefix))
        targets = [_resolve(Path(f)) for f in members]
    except (OSError, RuntimeError, ValueError):
        raise _refuse(given, what, allowed) from None
    if any(_inside(p, allowed) is None for p in (resolved, *targets)):
        raise _refuse(given, what, allowed)
    return resolved


def relative_to_root(path, *, roots=None) -> str:
    """Express a path as ``"<root-name>:<relative/posix/path>"`` for run records.

    Parameters
    ----------
    path : str or path-like
        A path inside a data root (links are resolved first), or already root-relative.
    roots : optional
        See :func:`resolve_data_path`.

    Returns
    -------
    str
        E.g. ``"assets:demo/human_1kg_hapmap3"``; the most specific root wins when roots are
        nested; the root itself is ``"name:"``. Invert with :func:`from_root_relative`.

    Raises
    ------
    InputDataError
        The path is outside every root.
    """
    allowed = _as_roots(roots)
    resolved, root = _confine(path, "file", allowed)
    rel = resolved.relative_to(root.path).as_posix()
    return f"{root.name}:{'' if rel == '.' else rel}"


def from_root_relative(value, *, roots=None) -> Path:
    """Turn a root-relative path (``"name:relative/path"``) back into a path on this machine.

    Parameters
    ----------
    value : str or path-like
        ``"name:relative/path"`` with ``name`` a configured root; anything else (an absolute or
        relative path, a ``pathlib.Path``) is returned as a ``Path`` with ``~`` expanded, so
        records with absolute paths keep working.
    roots : optional
        See :func:`resolve_data_path`.

    Returns
    -------
    pathlib.Path
        ``<root folder>/relative/path`` (links resolved), or ``Path(value)``.

    Raises
    ------
    InputDataError
        The relative part escapes its root (``..``, an absolute part, a link pointing
        outside), or ``value`` names a root that is not configured here and is not an existing
        path either (the message lists the configured names and how to add one).
    """
    if isinstance(value, os.PathLike):
        return Path(value).expanduser()
    text = str(value)
    m = _RELATIVE.fullmatch(text)
    if not m:
        return Path(text).expanduser()
    allowed = _as_roots(roots)
    by_name = {r.name: r for r in allowed}
    name, rel = m.group(1), m.group(2)
    root = by_name.get(name)
    if root is None:
        if Path(text).expanduser().exists():
            return Path(text).expanduser()
        raise InputDataError(
            f"{shown_path(text)!r} names the data root {name!r}, which is not configured on this "
            f"machine (configured: {', '.join(by_name) or 'none'}). Add it to the environment "
            f"variable {ENV_VAR} as '{name}=/path/to/folder', or give an absolute path."
        )
    rel_path = Path(rel)
    try:
        target = _resolve(root.path / rel_path) if rel else root.path
    except (OSError, RuntimeError, ValueError):
        target = None
    if rel_path.is_absolute() or target is None or not (
        target == root.path or target.is_relative_to(root.path)
    ):
        raise InputDataError(
            f"{shown_path(text)!r} leaves the data root {name!r} ({root.path}); a root-relative "
            "path must stay inside its root (no '..', no absolute part, no link pointing "
            "outside)."
        )
    return target
