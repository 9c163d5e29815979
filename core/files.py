"""Writing files so that a reader never sees half of one, and reading cached files that may be damaged.

A file is written to a temporary name in its own folder and renamed over the target only once it is
complete (``os.replace`` is atomic within a file system): a crash, a full disk or Ctrl+C leaves the
old file or none, never a truncated one. The temporary name is unique, so parallel writers of the same
file (sweep cells sharing a cached part) do not write into each other's temporary file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import DiscolabError, one_line
from .paths import store_error


@contextlib.contextmanager
def atomic_write(path: str | Path, what: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends without an error it becomes ``path``.

    Errors name the file (``what`` is its role, e.g. "the CSV file"): a missing folder or a directory
    in the way is a DiscolabError; an unwritable folder or a full disk a StoreError.
    """
    path = Path(path)
    name = f"{what} {path}" if what else str(path)
    if path.is_dir():
        raise DiscolabError(f"cannot write {name}: it is a directory; give a file name")
    if not path.parent.is_dir():
        raise DiscolabError(f"cannot write {name}: the folder {path.parent} does not exist; create it first")
    # unique per writer; created by the caller's writer, so it gets the usual permissions (mkstemp's are 0600)
    # ... and it ends in the target's suffix, for writers and readers that pick a format by it
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as err:
        raise store_error(err, path, what) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)  # still there only when the write failed


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save(obj, path)``, atomically: the file is complete or absent, never truncated."""
    import torch  # here, not at import: the CLI imports this module without torch

    with atomic_write(path) as temporary:
        torch.save(obj, temporary)


def load_cached(path: str | Path) -> Any | None:
    """A file written by :func:`save_atomic`, or None when it is missing or unreadable (truncated, damaged,
    not a tensor file): a cached result that cannot be read is recomputed and overwritten, with a warning."""
    import torch

    path = Path(path)
    if not path.is_file():
        return None
    try:
        return torch.load(path, weights_only=True)  # tensors and plain values only: no code runs on load
    except Exception as err:  # torch raises many types for a bad file (RuntimeError, EOFError, UnpicklingError...)
        warn(f"the cached file {path} is unreadable ({type(err).__name__}: {err}); computing it again")
        return None


def warn(message: str) -> None:
    """A one-line warning on stderr, in the CLI's style: for a problem discolab repairs by itself."""
    print(one_line(f"discolab: warning: {message}"), file=sys.stderr)
