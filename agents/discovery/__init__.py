"""The IGDA discovery loop as a LangGraph state machine (see graph.py for the wiring)."""

from .configuration import DiscoverySettings
from .run import DiscoveryRun, load_run, resume_discovery, start_discovery

__all__ = ["DiscoveryRun", "DiscoverySettings", "load_run", "resume_discovery", "start_discovery"]
