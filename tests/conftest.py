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


@pytest.fixture(scope="session")
def random_anchors(tmp_path_factory):
    """Untrained but non-zero adapters (peft's random init of both factors) for every pole."""
    import torch
    from discolab.core.interp import ATTRIBUTES
    from discolab.core.interp.anchors import adapter_name
    from discolab.core.llm.models import load_model
    from peft import LoraConfig, get_peft_model

    folder = tmp_path_factory.mktemp("anchors")
    base, _ = load_model.__wrapped__("smollm2", "float32")
    for k, (attribute, poles) in enumerate(ATTRIBUTES.items()):
        for j, pole in enumerate(poles):
            torch.manual_seed(10 * k + j)
            config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
            model = get_peft_model(base, config)
            model.save_pretrained(folder / adapter_name(attribute, pole))
            base = model.unload()
    return folder
