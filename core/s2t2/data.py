"""Real protein sequences that ship offline, deduplicated and split by sequence.

Source: the ``pyrodigal`` wheel's test data, ``pyrodigal/tests/data/*.faa.gz`` (proteins
predicted by Prodigal on bacterial genomes and metagenome contigs). Several files hold
near-identical predictions of the same genome (``meta`` / ``single`` modes), so sequences are
deduplicated exactly; a trailing stop codon ``*`` is removed; records that are mostly unknown
residues (``X``, from masked or gap regions) are dropped. The split is by sequence, seeded, so no
sequence appears in two parts.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

MAX_UNKNOWN_FRACTION = 0.5


def fasta_files() -> list[Path]:
    try:
        import pyrodigal
    except ImportError:
        raise ImportError("the protein data ship with pyrodigal: pip install pyrodigal") from None
    files = sorted((Path(pyrodigal.__file__).parent / "tests" / "data").glob("*.faa.gz"))
    if not files:
        raise FileNotFoundError("no *.faa.gz files in the installed pyrodigal package")
    return files


def protein_sequences() -> list[str]:
    """Unique protein sequences (uppercase one-letter codes), in first-seen order."""
    from Bio import SeqIO

    seen: dict[str, None] = {}
    for path in fasta_files():
        with gzip.open(path, "rt") as handle:
            for record in SeqIO.parse(handle, "fasta"):
                sequence = str(record.seq).upper().rstrip("*")
                if sequence and sequence.count("X") / len(sequence) <= MAX_UNKNOWN_FRACTION:
                    seen.setdefault(sequence, None)
    return list(seen)


def split_sequences(
    sequences: list[str], seed: int = 0, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> dict[str, list[str]]:
    """{"train", "validation", "test"}: a seeded permutation cut by ``fractions``."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    order = np.random.default_rng(seed).permutation(len(sequences))
    cut_train = int(round(fractions[0] * len(order)))
    cut_validation = cut_train + int(round(fractions[1] * len(order)))
    parts = {"train": order[:cut_train], "validation": order[cut_train:cut_validation], "test": order[cut_validation:]}
    return {name: [sequences[i] for i in index] for name, index in parts.items()}
