"""Model files: read any saved genoapp torch model without naming its class.

Every torch estimator of genoapp (:class:`genoapp.models._torch.TorchEstimator` subclasses)
saves one ``torch.save`` dict whose ``format`` string names the class that wrote it
("genoapp.DiseaseCapsuleClassifier", "genoapp.GRVSNNRegressor", ...). Each such class registers
its format when it is defined; :func:`load_model_file` looks the format of a file up in that
registry and returns the fitted estimator of the right class, so code that saves and reopens
runs never imports model classes by name.

Files are read with ``torch.load(weights_only=True)``: tensors and plain containers only, no
pickled code is executed.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from genoapp.errors import InputDataError
from genoapp.models._torch import TorchEstimator, load_payload, registered_formats

__all__ = ["load_model_file", "model_file_format", "model_formats"]

#: genoapp's own torch model modules, imported (which registers their classes) before a lookup
_BUILTIN_MODULES = (
    "genoapp.models.capsnet",
    "genoapp.models.mlp",
    "genoapp.models.cnn",
    "genoapp.models.grvsnn",
    "genoapp.models.seqcnn",
)


def model_formats() -> dict[str, type[TorchEstimator]]:
    """The model-file formats genoapp can read: format string -> estimator class.

    Imports genoapp's own torch model modules first, so their formats are all present (plus
    those of any other ``TorchEstimator`` subclass imported so far).
    """
    for name in _BUILTIN_MODULES:
        importlib.import_module(name)
    return registered_formats()


def model_file_format(path) -> str:
    """The ``format`` string stored in a saved torch model file.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    str
        E.g. ``"genoapp.DiseaseCapsuleClassifier"``.

    Raises
    ------
    InputDataError
        Missing or unreadable file, or a file without a ``format`` string.
    """
    payload = load_payload(path)
    fmt = payload.get("format")
    if not isinstance(fmt, str):
        raise InputDataError(
            f"{Path(path)}: not a saved genoapp model (no 'format' entry; found keys "
            f"{sorted(map(str, payload))[:8]}).")
    return fmt


def load_model_file(path, *, device: str = "auto") -> TorchEstimator:
    """Read a model written by any genoapp torch estimator's ``save`` onto ``device``.

    Parameters
    ----------
    path : path-like
    device : str, default "auto"
        Where to put the module ("auto": the GPU when there is one, else the CPU).

    Returns
    -------
    TorchEstimator
        The fitted estimator of the class named by the file's ``format``
        (:class:`~genoapp.models.DiseaseCapsuleClassifier`, ...), as ``cls.load(path)`` returns
        it.

    Raises
    ------
    InputDataError
        Missing or unreadable file; a format no genoapp class reads (the message names the
        file and the format found); a newer format version.
    ConfigError
        Unavailable device.

    Examples
    --------
    >>> model = load_model_file(run_dir / "models" / "capsule-genepca-0.pt")  # doctest: +SKIP
    >>> model.predict_proba(X_test)[:, 1]                                      # doctest: +SKIP
    """
    path = Path(path)
    payload = load_payload(path)
    fmt = payload.get("format")
    formats = model_formats()
    cls = formats.get(fmt) if isinstance(fmt, str) else None
    if cls is None:
        raise InputDataError(
            f"{path}: unknown model file format {fmt!r} (class {payload.get('class')!r}); genoapp "
            f"reads {', '.join(sorted(formats))}. Was the file written by a newer genoapp or by "
            "another program?")
    return cls._from_payload(payload, path, device=device)
