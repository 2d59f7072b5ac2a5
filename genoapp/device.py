"""Device selection for the torch models.

``"auto"`` picks CUDA when a GPU is visible, else the CPU (DESIGN §3). The device actually used
is recorded by every estimator (``device_``) and shown by the app.
"""

from __future__ import annotations

import re

import torch

from genoapp.errors import ConfigError

__all__ = ["resolve_device", "device_description"]

_CUDA_RE = re.compile(r"^cuda(?::(\d+))?$")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a device request into a usable :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device, default "auto"
        ``"auto"`` (CUDA device 0 if ``torch.cuda.is_available()``, else the CPU), ``"cpu"``,
        ``"cuda"`` (the current CUDA device) or ``"cuda:N"``. Case and surrounding blanks are
        ignored.

    Returns
    -------
    torch.device
        ``device("cpu")`` or ``device("cuda", N)`` (always with an index for CUDA).

    Raises
    ------
    ConfigError
        The string is none of the above, CUDA was requested but is not available, or the CUDA
        index is beyond the number of visible GPUs.
    """
    if isinstance(device, torch.device):
        text = str(device)
    elif isinstance(device, str):
        text = device.strip().lower()
    else:
        raise ConfigError(
            f"device: expected a string ('auto', 'cpu', 'cuda' or 'cuda:N'), got "
            f"{type(device).__name__} {device!r}. Pass one of those strings."
        )
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = _CUDA_RE.match(text)
    if match is None:
        raise ConfigError(
            f"device: {device!r} is not recognised. Allowed: 'auto', 'cpu', 'cuda', 'cuda:N' "
            "(N = GPU index). Use 'auto' to pick the GPU when there is one."
        )
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device: {device!r} was requested but CUDA is not available on this machine "
            f"(torch {torch.__version__}). Use device='cpu' or 'auto', or install a CUDA build "
            "of torch on a machine with an NVIDIA GPU."
        )
    n_gpus = torch.cuda.device_count()
    index = int(match.group(1)) if match.group(1) is not None else torch.cuda.current_device()
    if index >= n_gpus:
        raise ConfigError(
            f"device: {device!r} asks for GPU index {index}, but only {n_gpus} GPU(s) are "
            f"visible (indices 0..{n_gpus - 1}). Choose a smaller index or 'auto'."
        )
    return torch.device("cuda", index)


def device_description(device: str | torch.device) -> str:
    """Human-readable description of a device, for the sidebar and run records.

    Parameters
    ----------
    device : str or torch.device
        Anything :func:`resolve_device` accepts.

    Returns
    -------
    str
        ``"CPU (N threads)"`` with N = ``torch.get_num_threads()``, or ``"CUDA: <GPU name>"``
        (e.g. ``"CUDA: NVIDIA H200"``), with ``" (cuda:N)"`` appended when N > 0.

    Raises
    ------
    ConfigError
        As :func:`resolve_device`.
    """
    dev = resolve_device(device)
    if dev.type == "cpu":
        n = torch.get_num_threads()
        return f"CPU ({n} thread{'s' if n != 1 else ''})"
    name = torch.cuda.get_device_name(dev)
    suffix = f" (cuda:{dev.index})" if dev.index else ""
    return f"CUDA: {name}{suffix}"
