import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def launch_dashboard(home: Path, log=subprocess.DEVNULL) -> tuple[subprocess.Popen, str]:
    """``discolab ui`` on a free port with ``home`` as its data directory, once it answers its health
    check: the process and its URL. The caller stops it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DISCOLAB_HOME": str(home)}
    command = [sys.executable, "-m", "discolab.ui.cli", "ui", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    server.wait()
    pytest.fail(f"the dashboard did not come up on {url}")


def without_root_powers() -> list[str]:
    """A command prefix under which file permissions apply: root passes every permission check, unless it
    drops the capabilities that grant that (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): a read-only folder cannot be made so")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


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


class ScriptedBackend:
    """An LLM backend whose P(yes) for a prompt is ``answer(prompt_text)``: for tests of the loop."""

    kind, model = "fake", "scripted"

    def __init__(self, answer):
        self.answer = answer

    def identity(self):
        return {"kind": self.kind, "model": self.model}

    def score_yes_no(self, prompts, progress=False):
        from discolab.core.llm.base import YesNo

        return [YesNo(self.answer(str(prompt)), "logprobs") for prompt in prompts]


def after_results(before: float, after: float):
    """An ``answer`` for :class:`ScriptedBackend`: ``before`` until experiment results are in the prompt."""
    return lambda text: after if "experiment" in text.lower() else before


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``discolab ARGV``: exit status (argparse's own exits included), stdout, stderr."""
    from discolab.ui.cli import main

    try:
        code = main(list(argv))
    except SystemExit as stop:  # argparse's own exit
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err
