"""The sandbox that runs model-written programs (core/sandbox.py)."""

from __future__ import annotations

import os
import time

import pytest
from discolab.core.sandbox import network_namespace_available, run_python


def test_a_passing_and_a_failing_program_are_told_apart():
    assert run_python("assert sum([1, 2]) == 3\n").passed
    failed = run_python("def f(x):\n    return x\nassert f(2) == 3, 'f(2) is not 3'\n")
    assert failed.status == "failed" and failed.returncode != 0 and "f(2) is not 3" in failed.detail


def test_an_endless_program_is_killed_at_the_timeout_with_its_children():
    program = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "while True: pass\n"
    )
    start = time.perf_counter()
    result = run_python(program, timeout=2)
    assert result.status == "timeout" and time.perf_counter() - start < 15
    time.sleep(0.5)
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _sleeps_60(p)]  # the grandchild is gone too


def _sleeps_60(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"time.sleep(60)" in handle.read()
    except OSError:
        return False


def test_the_program_has_no_network_no_secrets_and_a_directory_of_its_own(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-in-the-parent")
    program = (
        "import os, socket\n"
        "assert 'OPENAI_API_KEY' not in os.environ, 'a secret leaked'\n"
        "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n    raise SystemExit('network reached')\n"
        "except OSError:\n    pass\n"
        "open('left-behind.txt', 'w').write('x')\n"
        "print(os.getcwd(), file=__import__('sys').stderr)\n"
        "raise SystemExit(3)\n"
    )
    result = run_python(program)
    assert result.status == "failed" and result.returncode == 3, result.detail
    workdir = result.detail.strip().splitlines()[-1]
    assert workdir != os.getcwd() and not os.path.exists(workdir)  # removed afterwards


@pytest.mark.skipif(not network_namespace_available(), reason="no unprivileged network namespace here")
def test_without_the_socket_guard_the_namespace_still_has_no_network():
    program = (
        "import importlib, socket\nimportlib.reload(socket)\n"  # undo the in-process guard
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "raise SystemExit(s.connect_ex(('1.1.1.1', 80)))\n"
    )
    result = run_python(program)
    assert result.isolated_network and result.returncode not in (0, None)


def test_memory_and_file_size_are_limited():
    assert run_python("x = bytearray(3 * 2**30)\n", memory_mb=512).status == "failed"
    assert run_python("open('big', 'wb').write(b'0' * 5 * 2**20)\n", file_mb=1).status == "failed"
