"""Which torch device the training experiments use: ``DISCOLAB_DEVICE`` (``cpu``, the default;
``cuda``, ``cuda:N``; ``auto``: the first GPU when there is one, else the CPU).

Read in each sweep worker, so a sweep's processes all train where the variable says. The results
do not depend on the device beyond floating-point order (seeds fix data and initialisation).
"""

from __future__ import annotations

import os

import torch

from .errors import DiscolabError


def torch_device() -> torch.device:
    """The device named by ``DISCOLAB_DEVICE``; a clear error when it names a GPU that is not there."""
    name = os.environ.get("DISCOLAB_DEVICE", "cpu").strip().lower() or "cpu"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise DiscolabError(f"DISCOLAB_DEVICE={name!r} is not a torch device: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DiscolabError(f"DISCOLAB_DEVICE={name!r} asks for a GPU, but torch sees none here; use cpu or auto")
    return device
