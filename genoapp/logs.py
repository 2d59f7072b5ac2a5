"""The package logger and the plain-text log saved with every run (as PLINK's ``.log``).

Back-end modules log through ``logging.getLogger("genoapp.<module>")`` (:func:`get_logger`);
nothing is printed unless the application (CLI, app) configures a handler. :func:`capture_log`
collects the records of one analysis in memory, so the run store can save them as
``run.log`` next to the results.
"""

from __future__ import annotations

import contextlib
import logging
import threading
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
    def __init__(self, lines: list[str], thread: int | None):
        super().__init__(level=logging.INFO)
        self.lines = lines
        self.thread = thread
        self.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        if self.thread is not None and record.thread != self.thread:
            return  # another analysis (another browser session) running in the same server
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break an analysis
            self.handleError(record)


@contextlib.contextmanager
def capture_log(lines: list[str] | None = None, *, all_threads: bool = False) -> Iterator[list[str]]:
    """Collect the ``genoapp`` log records (INFO and above) of a block as text lines.

    Only the records logged by the thread that entered the block are kept: the app serves many
    browser sessions from one process, and a run's log must not hold another session's lines.

    Parameters
    ----------
    lines : list of str, optional
        Append to this list (default a new one).
    all_threads : bool, default False
        Keep the records of every thread (for an analysis that logs from worker threads).

    Yields
    ------
    list of str
        The formatted lines, filled while the block runs (thread-safe appends).
    """
    lines = [] if lines is None else lines
    logger = logging.getLogger(_ROOT)
    handler = _ListHandler(lines, None if all_threads else threading.get_ident())
    old_level = logger.level
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
