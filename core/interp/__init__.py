"""Continuous LM interpolation: LoRA attribute anchors on SmolLM2 and exact weight interpolation.

After Kangaslahti & Alvarez-Melis (2024), "Continuous Language Model Interpolation for Dynamic
and Controllable Text Generation". :mod:`.scorers` scores attributes offline, :mod:`.anchors`
builds each pole's corpus and trains its LoRA adapter, :mod:`.interpolate` mixes the adapters.
"""

from .interpolate import SliderModel, coefficients
from .scorers import ATTRIBUTES, SCORERS

__all__ = ["ATTRIBUTES", "SCORERS", "SliderModel", "coefficients"]
