"""Observational data for the data-driven priors: a user's table, or rows sampled from a benchmark.

A table (CSV or TSV, either possibly compressed, or Parquet; the file name says which) is
matched to the graph's variables by column name: a variable without a column, or a column that
matches no variable (unless listed in ``ignore``), is an error naming
them. Each column is typed:

- **discrete**: strings, booleans, categoricals, and integers with at most ``MAX_LEVELS`` levels;
- **continuous**: every other numeric column;

overridable per column. Rows with any missing value are dropped (and counted); fewer than
``MIN_ROWS`` complete rows, a constant column or one with a single level is an error.

The test and score follow the types (Spirtes et al. 2000; Chickering 2002): all discrete, the
chi-square test for PC and BDeu for GES; all continuous, Fisher's z and BIC (linear-Gaussian);
mixed, the continuous columns are discretised into ``MIXED_BINS`` quantile bins and the discrete
test and score are used. Binning loses within-bin variation but keeps one sound test for every
pair; a conditional-Gaussian score would keep more and needs a model causal-learn lacks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DiscolabError
from ..graphs import GraphSpec

KINDS = ("discrete", "continuous")
MAX_LEVELS = 10  # an integer column with at most this many distinct values is discrete
MIN_ROWS = 10
MIXED_BINS = 4
MAX_DATA_BYTES = 2_000_000_000


@dataclass(frozen=True)
class Observations:
    """Complete rows over the graph's variables, each column typed."""

    frame: pd.DataFrame  # one column per variable, in the graph's order
    kinds: dict[str, str]  # variable -> "discrete" | "continuous"
    source: str  # the file, or the benchmark sample it came from
    digest: str  # SHA-256 of the file's bytes ("" for a sample)
    dropped_rows: int = 0

    @property
    def all_continuous(self) -> bool:
        return all(kind == "continuous" for kind in self.kinds.values())

    @property
    def test(self) -> str:
        """causal-learn's conditional-independence test for these types."""
        return "fisherz" if self.all_continuous else "chisq"

    @property
    def score(self) -> str:
        """causal-learn's GES score for these types."""
        return "local_score_BIC" if self.all_continuous else "local_score_BDeu"

    def matrix(self) -> np.ndarray:
        """The data as causal-learn takes it: floats for all-continuous data; else integer codes,
        continuous columns cut into quantile bins first."""
        if self.all_continuous:
            return self.frame.to_numpy(dtype=float)
        columns = []
        for name in self.frame.columns:
            column = self.frame[name]
            if self.kinds[name] == "continuous":
                column = pd.qcut(column.rank(method="first"), MIXED_BINS, labels=False)
            columns.append(column.astype("category").cat.codes.to_numpy())
        return np.column_stack(columns).astype(float)

    def varying(self) -> Observations:
        """These observations without their constant columns (which no test can use)."""
        keep = [name for name in self.frame.columns if self.frame[name].nunique() > 1]
        kinds = {name: self.kinds[name] for name in keep}
        return Observations(self.frame[keep], kinds, self.source, self.digest, self.dropped_rows)

    def describe(self) -> str:
        counts = {kind: sum(k == kind for k in self.kinds.values()) for kind in KINDS}
        dropped = f", {self.dropped_rows} with missing values dropped" if self.dropped_rows else ""
        how = "binned" if counts["discrete"] and counts["continuous"] else "as they are"
        return (
            f"{len(self.frame)} rows{dropped}; {counts['discrete']} discrete, {counts['continuous']} continuous "
            f"columns ({how}); PC test {self.test}, GES score {self.score.removeprefix('local_score_')}"
        )


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_observations(
    path: str | Path,
    spec: GraphSpec,
    ignore: tuple[str, ...] = (),
    kinds: dict[str, str] | None = None,
) -> Observations:
    """The table at ``path`` over ``spec``'s variables (see the module's docstring for the rules)."""
    frame, digest = read_table(path)
    names = spec.names
    missing = [n for n in names if n not in frame.columns]
    extra = [c for c in frame.columns if c not in names and c not in ignore]
    problems = []
    absent = [c for c in ignore if c not in frame.columns]
    if absent:
        problems.append(f"--ignore-columns names column(s) {_names(absent)} that the file does not have")
    if missing:
        problems.append(f"no column for variable(s) {_names(missing)}")
    if extra:
        problems.append(f"column(s) {_names(extra)} match no variable (list them with --ignore-columns)")
    unknown = [n for n in (kinds or {}) if n not in names]
    if unknown:
        problems.append(f"--column-type names unknown variable(s) {_names(unknown)}")
    if problems:
        raise DiscolabError(f"data {path}: " + "; ".join(problems))
    frame = frame[names]
    complete = frame.dropna()
    typed = {name: (kinds or {}).get(name) or column_kind(complete[name]) for name in names}
    return _checked(complete, typed, str(path), digest, len(frame) - len(complete))


def read_table(path: str | Path) -> tuple[pd.DataFrame, str]:
    """A CSV or Parquet file as a frame, and the SHA-256 of its bytes."""
    path = Path(path)
    if path.is_dir():
        raise DiscolabError(f"data {path} is a folder; give a CSV or Parquet file")
    if not path.is_file():
        raise DiscolabError(f"data file not found: {path}")
    kind = table_format(path)
    if path.stat().st_size > MAX_DATA_BYTES:
        raise DiscolabError(f"data {path} is larger than {MAX_DATA_BYTES / 1e9:g} GB")
    try:
        if kind == "Parquet":
            frame = pd.read_parquet(path)
        else:  # pandas infers a .gz/.bz2/.xz/.zip/.zst compression from the name
            options = {"encoding": "utf-8", "sep": "\t" if kind == "TSV" else ","}
            frame = pd.read_csv(path, **options)
            # pandas renames a repeated header ("x", "x.1"): read the header as it is written
            frame.columns = pd.read_csv(path, header=None, nrows=1, dtype=str, **options).iloc[0].fillna("")
    except (ValueError, OSError, UnicodeDecodeError, ImportError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DiscolabError(f"cannot read data {path} as {kind}: {first[:200]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.columns.duplicated().any():
        duplicated = frame.columns[frame.columns.duplicated()]
        raise DiscolabError(f"data {path} has duplicate column names: {_names(duplicated)}")
    return frame, file_digest(path)


TABLE_FORMATS = {".csv": "CSV", ".txt": "CSV", ".tsv": "TSV", ".tab": "TSV", ".parquet": "Parquet", ".pq": "Parquet"}
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip", ".zst")


def table_format(path: Path) -> str:
    """CSV, TSV or Parquet from the file's name (a compressed CSV or TSV keeps its inner suffix)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes.pop()
    kind = TABLE_FORMATS.get(suffixes[-1] if suffixes else "")
    if kind is None or (kind == "Parquet" and len(suffixes) < len(path.suffixes)):
        known = ", ".join(TABLE_FORMATS)
        raise DiscolabError(f"data {path}: unknown table format {path.name!r}; name it {known} (CSV may be compressed)")
    return kind


def column_kind(column: pd.Series) -> str:
    """discrete or continuous, from the column's values (see the module's docstring)."""
    if column.dtype == bool or not pd.api.types.is_numeric_dtype(column):
        return "discrete"
    if pd.api.types.is_integer_dtype(column) or (column.dropna() % 1 == 0).all():
        return "discrete" if column.nunique() <= MAX_LEVELS else "continuous"
    return "continuous"


def sampled_observations(spec: GraphSpec, frame: pd.DataFrame, source: str) -> Observations:
    """Rows sampled from a benchmark's network (every variable discrete). A rare state can leave a
    column constant in a small sample: allowed here, and the data priors say nothing about it."""
    return _checked(frame[spec.names], dict.fromkeys(spec.names, "discrete"), source, "", allow_constant=True)


def _checked(
    frame: pd.DataFrame,
    kinds: dict[str, str],
    source: str,
    digest: str,
    dropped: int = 0,
    allow_constant: bool = False,
) -> Observations:
    bad_kinds = {name: kind for name, kind in kinds.items() if kind not in KINDS}
    if bad_kinds:
        raise DiscolabError(f"column types must be discrete or continuous, got {bad_kinds}")
    problems = []
    if len(frame) < MIN_ROWS:
        problems.append(f"{len(frame)} complete rows ({dropped} dropped for missing values); {MIN_ROWS} needed")
    constant = [name for name in frame.columns if frame[name].nunique() < 2]
    if constant and len(frame) and not allow_constant:
        problems.append(f"constant column(s) {_names(constant)}: a variable that never varies tells nothing")
    continuous_text = [n for n, k in kinds.items() if k == "continuous" and not pd.api.types.is_numeric_dtype(frame[n])]
    if continuous_text:
        problems.append(f"column(s) {_names(continuous_text)} are not numbers and cannot be continuous")
    if problems:
        raise DiscolabError(f"data {source}: " + "; ".join(problems))
    return Observations(frame.reset_index(drop=True), kinds, source, digest, dropped)


def _names(names) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(repr(n[:40]) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")
