"""The one data directory for everything discolab keeps: caches, runs, checkpoints, adapters.

``~/.discolab`` by default; the ``DISCOLAB_HOME`` environment variable overrides it.
"""

import os
from pathlib import Path


def data_home() -> Path:
    """Return the data directory, creating it on first use."""
    home = Path(os.environ.get("DISCOLAB_HOME") or Path.home() / ".discolab").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def data_path(*parts: str) -> Path:
    """A path inside the data directory; its parent folder exists on return."""
    path = data_home().joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
