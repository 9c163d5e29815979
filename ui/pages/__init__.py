"""Dashboard pages, one module per view. Each remaining method's issue adds a page module here and
an entry ``(module name, title)`` to ``METHOD_PAGES``; the app lists them under "Methods"."""

METHOD_PAGES: list[tuple[str, str]] = [
    ("chared", "CharED"),
    ("interp", "Interpolation"),
    ("s2t2", "S2T2"),
    ("moe", "Mixture of experts"),
    ("ddeq", "DDEQ"),
    ("distill", "Dataset distillation"),
    ("tree", "Sometimes I am a tree"),
]
