"""DDEQ: distributional deep equilibrium models for point clouds."""
