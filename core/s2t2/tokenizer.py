"""The target-domain tokenizer: byte-pair encoding trained on the training proteins.

A protein is one "word" (no pre-tokenisation: there are no spaces to split on), so merges can
grow across the whole sequence; the vocabulary starts from the residue letters seen in training
plus ``<unk>`` and ``<eos>``. Trained with Hugging Face ``tokenizers`` (deterministic for a given
corpus and vocabulary size).
"""

from __future__ import annotations

from collections.abc import Sequence

SPECIAL_TOKENS = ("<unk>", "<eos>")


def train_protein_bpe(sequences: Sequence[str], vocab_size: int = 512):
    """A ``tokenizers.Tokenizer`` with ``vocab_size`` entries (fewer if the corpus runs out of merges)."""
    from tokenizers import Tokenizer, decoders, models, trainers

    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise ValueError(f"vocab_size must be at least {len(SPECIAL_TOKENS) + 1}, got {vocab_size}")
    if not sequences:
        raise ValueError("no training sequences")
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    tokenizer.train_from_iterator(sequences, trainer=trainer)
    tokenizer.decoder = decoders.Fuse()  # tokens concatenate back into the sequence, no spaces
    return tokenizer


def characters_per_token(tokenizer, sequences: Sequence[str]) -> float:
    """Compression: residues per token over ``sequences`` (no special tokens counted)."""
    tokens = sum(len(encoding.ids) for encoding in tokenizer.encode_batch(list(sequences), add_special_tokens=False))
    return sum(len(s) for s in sequences) / tokens if tokens else 0.0
