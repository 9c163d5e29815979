"""The IGDA discovery loop as a LangGraph state machine (see graph.py for the wiring)."""

from .configuration import DiscoverySettings
from .run import DiscoveryRun, resume_discovery, start_discovery

__all__ = ["DiscoveryRun", "DiscoverySettings", "resume_discovery", "start_discovery"]
