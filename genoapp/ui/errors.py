"""Readable error display: input problems as messages, bugs with their log tucked away."""

from __future__ import annotations

import contextlib
import logging
import traceback

import streamlit as st

from genoapp.errors import GenoappError

log = logging.getLogger("genoapp")


@contextlib.contextmanager
def guard(action: str):
    """Run a block; show a :class:`GenoappError` as a readable error, anything else with its log.

    Parameters
    ----------
    action : str
        What the block does, for the message ("Running QC").
    """
    try:
        yield
    except GenoappError as exc:
        st.error(f"{action}: {exc}", icon=":material/error:")
    except MemoryError:
        st.error(f"{action}: not enough memory. Select fewer samples or variants and try again.")
    except Exception as exc:  # a bug: keep the app alive, keep the details for a report
        log.exception("%s failed", action)
        st.error(f"{action} failed unexpectedly ({type(exc).__name__}: {exc}). "
                 "This is a bug in genoapp; the details below help to report it.")
        with st.expander("Details (log)"):
            st.code(traceback.format_exc(), language="text")
