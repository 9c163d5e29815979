"""Mixture of experts vs dense transformers on memorization and reasoning ("Mixture of Parrots").

After Jelassi et al. (2024), "Mixture of Parrots: Experts improve memorization more than reasoning".
:mod:`.model` is the transformer (dense or token-choice top-k MoE feed-forward blocks),
:mod:`.tasks` the seeded phone-book and shortest-path tasks, :mod:`.train` training, evaluation and
one sweep cell (:func:`run`); ``python -m discolab.experiments.moe_eval`` runs the study.
"""

from .model import Transformer, TransformerConfig, load_balancing_loss
from .tasks import PhoneBook, ShortestPath, make_task
from .train import TrainConfig, evaluate, fit, run

__all__ = [
    "PhoneBook",
    "ShortestPath",
    "TrainConfig",
    "Transformer",
    "TransformerConfig",
    "evaluate",
    "fit",
    "load_balancing_loss",
    "make_task",
    "run",
]
