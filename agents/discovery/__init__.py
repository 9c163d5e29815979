"""The IGDA discovery loop as a LangGraph state machine (see graph.py for the wiring)."""

from .configuration import DiscoverySettings
from .run import DiscoveryRun, list_runs, load_run, resume_discovery, round_states, start_discovery

__all__ = [
    "DiscoveryRun",
    "DiscoverySettings",
    "list_runs",
    "load_run",
    "resume_discovery",
    "round_states",
    "start_discovery",
]
