"""Runnable experiments and benchmarks."""
