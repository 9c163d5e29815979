"""S2T2: sparse Sinkhorn token translation of a text LM to protein sequences.

:mod:`.data` loads the protein sequences that ship offline and splits them; :mod:`.tokenizer`
trains the target-domain BPE tokenizer; :mod:`.plan` is the sparse plan P; :mod:`.model` the
models on SmolLM2's body; :mod:`.train` the loss, bits per character and the unigram baseline;
:mod:`.conditions` the five conditions compared (``experiments/s2t2_eval.py`` runs them).
"""
