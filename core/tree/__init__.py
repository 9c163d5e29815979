"""Question formation and tense reinflection from a small English grammar: which rule does a tiny LM learn?

After Qin, Saphra & Alvarez-Melis (2024), "Sometimes I am a tree: Data drives unstable hierarchical
generalization". :mod:`.grammar` is the generator and parser, :mod:`.model` the tiny causal transformer,
:mod:`.train` training, scoring and one sweep cell (:func:`run`); ``python -m discolab.experiments.tree_eval``
runs the study.
"""

from .grammar import ALL_TEMPLATES, Template, TreeData, TreeDataConfig, build_data, parse
from .train import TrainConfig, run

__all__ = ["ALL_TEMPLATES", "Template", "TrainConfig", "TreeData", "TreeDataConfig", "build_data", "parse", "run"]
