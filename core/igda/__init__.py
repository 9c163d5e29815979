"""IGDA: beliefs over edges, their elicitation from LLMs, selection, experiments and updates."""
