"""Streamlit glue: the only part of ``genoapp`` (with ``pages/`` and ``app.py``) that imports streamlit.

It holds session state and step invalidation (:mod:`.state`), readable error display
(:mod:`.errors`), training progress callbacks (:mod:`.progress`) and download helpers
(:mod:`.widgets`). All computation stays in the back-end.
"""
