import pytest
import torch
from discolab.core.devices import torch_device
from discolab.core.errors import DiscolabError


def test_the_device_is_the_cpu_unless_the_variable_names_another(monkeypatch):
    monkeypatch.delenv("DISCOLAB_DEVICE", raising=False)
    assert torch_device() == torch.device("cpu")
    monkeypatch.setenv("DISCOLAB_DEVICE", "auto")
    assert torch_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_a_device_that_is_not_there_or_not_a_device_is_named_in_the_error(monkeypatch):
    monkeypatch.setenv("DISCOLAB_DEVICE", "gpu-please")
    with pytest.raises(DiscolabError, match="gpu-please"):
        torch_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("DISCOLAB_DEVICE", "cuda")
        with pytest.raises(DiscolabError, match="sees none"):
            torch_device()
