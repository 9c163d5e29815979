"""Errors a user can act on. The CLI prints them as one line; everything else is a bug."""


class DiscolabError(Exception):
    """Base class for errors caused by input or environment, not by a bug."""


class GraphFileError(DiscolabError):
    """A graph file or graph specification is malformed."""


class LLMError(DiscolabError):
    """An LLM backend could not answer (configuration, connection, server)."""
