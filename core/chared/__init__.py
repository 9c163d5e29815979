"""CharED: character-wise ensemble decoding across models with different tokenizers.

After Gu et al. (2024), "CharED: Character-wise Ensemble Decoding for Large Language Models".
Each model's next-token distribution is marginalised into a next-character distribution over
the token strings (:mod:`.vocabulary`), the models' character distributions are mixed with
weights on the simplex, and characters are drawn until the "end of token" option closes the
segment, which every model then re-reads with its own tokenizer.
"""

from .vocabulary import CharacterMarginals, HealedMarginals, MixedMarginals, TokenStrings

__all__ = ["CharacterMarginals", "HealedMarginals", "MixedMarginals", "TokenStrings"]
