"""Graph files and data tables uploaded through the dashboard, kept in the data directory under
their content hash.

The name a browser sends is the user's to choose, so it is never used as a path: an upload is
stored as ``uploads/<its SHA-256 in hex><suffix>``. The same content lands on
the same file, different content never overwrites a file that older runs came from, and a
crafted name such as ``../../x.json`` or ``/etc/x.json`` writes nowhere else.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from ..errors import DiscolabError, GraphFileError
from ..files import atomic_write
from ..paths import data_path
from .spec import MAX_FILE_BYTES, GraphSpec, load_graph_file

SUFFIXES = (".json", ".yaml", ".yml")
DATA_SUFFIXES = (".csv", ".tsv", ".parquet")


def store_upload(display_name: str, content: bytes) -> tuple[Path, GraphSpec]:
    """Validate an uploaded graph file and keep it; returns its stored path and its graph.

    ``display_name`` decides only the format (by its suffix). A file that is not a valid graph
    is not kept.
    """
    suffix = Path(display_name).suffix.lower()
    if suffix not in SUFFIXES:
        raise GraphFileError(f"an uploaded graph file must end in {', '.join(SUFFIXES)}")
    if len(content) > MAX_FILE_BYTES:  # refused before anything is written
        raise GraphFileError(f"the uploaded file has {len(content):,} bytes; a graph file may have {MAX_FILE_BYTES:,}")
    path = _stored_path(content, suffix)
    if path.exists():  # the same content, uploaded before
        return path, load_graph_file(path)
    try:
        with atomic_write(path, "the uploaded graph file") as temporary:
            temporary.write_bytes(content)
            spec = load_graph_file(temporary)  # a file that is not a graph is not kept
    except GraphFileError as err:  # named as the user knows it, not by its temporary path
        raise GraphFileError(str(err).replace(str(temporary), display_name)) from None
    return path, replace(spec, source=str(path))


def store_data_upload(display_name: str, content: bytes) -> Path:
    """Keep an uploaded data table (CSV or Parquet) under its content hash; it is read, and its
    columns checked against the graph, when a run starts on it."""
    suffix = Path(display_name).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DiscolabError(f"an uploaded data table must end in {', '.join(DATA_SUFFIXES)}")
    path = _stored_path(content, suffix)
    if not path.exists():
        with atomic_write(path, "the uploaded data table") as temporary:
            temporary.write_bytes(content)
    return path


def _stored_path(content: bytes, suffix: str) -> Path:
    return data_path("uploads", hashlib.sha256(content).hexdigest() + suffix)
