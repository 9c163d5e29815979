"""The one data directory for everything discolab keeps: caches, runs, checkpoints, adapters.

``~/.discolab`` by default; the ``DISCOLAB_HOME`` environment variable overrides it. A read-only
data directory still serves commands that only read; writers get a :class:`StoreError` that says so.
"""

import errno
import os
from pathlib import Path

from .errors import StoreError

# errno values that mean "this location cannot be written", as opposed to "the disk is full"
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


def data_home() -> Path:
    """Return the data directory, creating it on first use where that is possible."""
    home = Path(os.environ.get("DISCOLAB_HOME") or Path.home() / ".discolab").expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # read-only: readers find nothing there, and data_path tells writers why
    return home


def data_path(*parts: str) -> Path:
    """A path inside the data directory; its parent folder exists on return."""
    path = data_home().joinpath(*parts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise store_error(err, path.parent) from None
    return path


def is_writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (False when it does not exist)."""
    return os.access(folder, os.W_OK | os.X_OK)


def not_writable(path: Path | str, what: str = "", reason: str = "") -> StoreError:
    """The StoreError for a file that cannot be written: its folder is missing or read-only, or it is."""
    path, home = Path(path), data_home()
    name = f"{what} {path}" if what else str(path)
    reason = f" ({reason})" if reason else ""
    if not path.parent.is_dir():
        return StoreError(f"cannot write {name}: the folder {path.parent} does not exist; create it first")
    if is_writable(path.parent) and path.exists():
        return StoreError(f"{name} is read-only{reason}: fix its permissions")
    if path == home or home in path.parents:
        where, fix = f"the data directory {home}", "fix its permissions or set DISCOLAB_HOME to a writable folder"
    else:
        where, fix = f"the folder {path.parent}", "choose a writable folder"
    return StoreError(f"{where} is not writable{reason}, so {name} cannot be written: {fix}")


def store_error(err: OSError, path: Path | str, what: str = "") -> StoreError:
    """A one-line StoreError for an OSError met while writing ``path`` (``what``: the file's role,
    e.g. "the runs database"), saying what to do about it."""
    name = f"{what} {path}" if what else str(path)
    if err.errno in NOT_WRITABLE:
        return not_writable(path, what, err.strerror)
    if err.errno in DISK_FULL:
        return StoreError(f"no space left for {name} ({err.strerror}): free some space and run the command again")
    return StoreError(f"cannot write {name}: {err.strerror or err}")
