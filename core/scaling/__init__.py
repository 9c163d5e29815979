"""Distributional analysis of multi-seed results: bimodality, success probability, sharpness.

After Zhao et al. (2024), "Distributional Scaling Laws for Emergent Capabilities": a capability
that looks sudden in the seed-averaged curve can be a smooth change in the probability that a
run succeeds, with outcomes across seeds bimodal (runs either succeed or fail) at intermediate
scales. Works on any result table with a setting/scale column, a seed column and a metric.
"""

from .analysis import ScalingReport, analyze
from .distribution import bimodality
from .sharpness import breakthroughness, linearity
from .success import logistic_fit, success_mask, wilson_interval

__all__ = [
    "ScalingReport",
    "analyze",
    "bimodality",
    "breakthroughness",
    "linearity",
    "logistic_fit",
    "success_mask",
    "wilson_interval",
]
