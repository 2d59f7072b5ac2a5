"""Short, sanitised excerpts of file content for error messages (one definition for genoapp.io).

Error messages go to the browser. They may help the user with a *short* excerpt of what was
found (a few column names, one bad value), but must never copy a file: a misplaced path such as
``/etc/shadow`` given as a phenotype table must not answer with its first line. Every message of
:mod:`genoapp.io` that quotes file content (column names, cell values, IDs, lines) goes through
the helpers here:

* :func:`clean_text` - one value: non-printable characters (Unicode categories ``C*``: control,
  format, surrogate, private-use, unassigned) removed, white space runs collapsed to one space,
  at most :data:`MAX_CHARS` characters (longer values end in ``...``);
* :func:`excerpt` - a list of values: at most :data:`MAX_ITEMS` of them, each cleaned, joined by
  ``", "``, with ``" ... (N in all)"`` when more exist;
* :func:`parser_error_detail` - the useful part of a pandas parser error (line and field counts),
  never the text of the offending line;
* :func:`shown_path` - a path as typed by the user, cleaned and bounded (paths are not file
  content, but they are echoed back).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["MAX_CHARS", "MAX_ITEMS", "clean_text", "excerpt", "parser_error_detail", "shown_path"]

#: Default maximum length of one quoted value (characters, before the ``...`` marker).
MAX_CHARS = 20
#: Default maximum number of quoted values in one message.
MAX_ITEMS = 5

_WS = re.compile(r"\s+")
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def clean_text(value, *, max_chars: int = MAX_CHARS) -> str:
    """One value of a file, safe and short enough to quote in a message.

    Parameters
    ----------
    value : object
        Converted with ``str``.
    max_chars : int, default :data:`MAX_CHARS`
        Longest result before ``...`` is appended.

    Returns
    -------
    str
        White space runs (tabs, new lines included) become one space; other characters of the
        Unicode categories ``C*`` (control, format, surrogate, private use, unassigned) are
        removed; leading/trailing spaces are stripped; at most ``max_chars`` characters, then
        ``...`` when the value was longer.
    """
    text = _WS.sub(" ", str(value))
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C")).strip()
    if len(text) > max_chars:
        return text[:max_chars].rstrip() + "..."
    return text


def excerpt(
    values: Iterable, *, max_items: int = MAX_ITEMS, max_chars: int = MAX_CHARS, sep: str = ", "
) -> str:
    """A bounded, sanitised list of values for a message (e.g. the columns found).

    Parameters
    ----------
    values : iterable
        Values in the order to show (only the first ``max_items`` are cleaned).
    max_items : int, default :data:`MAX_ITEMS`
        How many values are shown.
    max_chars : int, default :data:`MAX_CHARS`
        Longest shown value (see :func:`clean_text`).
    sep : str, default ", "

    Returns
    -------
    str
        ``"a, b, c"``; with more values ``"a, b, c, d, e ... (12 in all)"``; ``""`` when empty.
    """
    items = list(values)
    shown = sep.join(clean_text(v, max_chars=max_chars) for v in items[:max_items])
    if len(items) > max_items:
        shown += f" ... ({len(items)} in all)"
    return shown


def parser_error_detail(exc: BaseException) -> str:
    """The line and field counts of a pandas parser error, without any text of the file.

    Parameters
    ----------
    exc : Exception
        Typically a ``pandas.errors.ParserError``.

    Returns
    -------
    str
        ``"line 3 has 4 fields, expected 3"`` when pandas reports the counts, else
        ``"the rows could not be split into columns"``.
    """
    m = _FIELDS.search(str(exc))
    if m:
        expected, line, saw = m.groups()
        return f"line {line} has {saw} fields, expected {expected}"
    return "the rows could not be split into columns"


def shown_path(path, *, max_chars: int = 200) -> str:
    """A path as the user gave it, for a message: cleaned like :func:`clean_text`, bounded.

    Parameters
    ----------
    path : str or path-like
    max_chars : int, default 200

    Returns
    -------
    str
    """
    raw = os.fspath(path) if isinstance(path, os.PathLike) else path
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    return clean_text(str(raw), max_chars=max_chars)
