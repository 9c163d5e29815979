"""S2T2: sparse Sinkhorn token translation of a text LM to protein sequences (in progress).

:mod:`.data` loads the protein sequences that ship offline and splits them; :mod:`.tokenizer`
trains the target-domain BPE tokenizer.
"""
