"""discolab.core: the algorithms, importable without UI or agent code."""
