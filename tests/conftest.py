import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def discolab_home(tmp_path_factory):
    """Every test session keeps its data (caches, runs, converted models) in a temporary home."""
    home = tmp_path_factory.mktemp("discolab-home")
    old = os.environ.get("DISCOLAB_HOME")
    os.environ["DISCOLAB_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("DISCOLAB_HOME", None)
    else:
        os.environ["DISCOLAB_HOME"] = old


@pytest.fixture(scope="session")
def local_fp32():
    """The embedded model in float32, where batching and prefix reuse must not change answers."""
    from discolab.core.llm.local import LocalBackend

    return LocalBackend(dtype="float32")
