"""The package logger and the plain-text log saved with every run (as PLINK's ``.log``).

Back-end modules log through ``logging.getLogger("genoapp.<module>")`` (:func:`get_logger`);
nothing is printed unless the application (CLI, app) configures a handler. :func:`capture_log`
collects the records of one analysis in memory, so the run store can save them as
``run.log`` next to the results.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["get_logger", "capture_log", "LOG_FORMAT"]

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_ROOT = "genoapp"


def get_logger(name: str = _ROOT) -> logging.Logger:
    """The logger ``name`` under the ``genoapp`` hierarchy (``__name__`` of a module)."""
    if not name.startswith(_ROOT):
        name = f"{_ROOT}.{name}"
    return logging.getLogger(name)


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__(level=logging.INFO)
        self.lines = lines
        self.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break an analysis
            self.handleError(record)


@contextlib.contextmanager
def capture_log(lines: list[str] | None = None) -> Iterator[list[str]]:
    """Collect the ``genoapp`` log records (INFO and above) of a block as text lines.

    Parameters
    ----------
    lines : list of str, optional
        Append to this list (default a new one).

    Yields
    ------
    list of str
        The formatted lines, filled while the block runs (thread-safe appends).
    """
    lines = [] if lines is None else lines
    logger = logging.getLogger(_ROOT)
    handler = _ListHandler(lines)
    old_level = logger.level
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
