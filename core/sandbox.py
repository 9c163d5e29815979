"""Running a program a model wrote, where it can do as little harm as possible.

Functional evaluations (HumanEval's pass@1) must run generated code with its tests. Nothing of
it is evaluated in this process: the program is written to a fresh temporary directory and run
by a child interpreter (``python -I -B``: no user site, no current directory on the path) with

- **no network**: a new user and network namespace (``unshare -rn``, where the kernel allows
  unprivileged namespaces), in which no interface is up; and, in any case, ``socket`` replaced
  in the child before the program runs (a guard, not a wall, on a machine without namespaces);
- **no secrets**: an environment of ``PATH``, ``HOME`` and ``TMPDIR`` (the temporary directory)
  and ``PYTHONHASHSEED`` only, so no API key or database URL reaches it;
- **limits**: CPU seconds, address space and the size of a file it writes (``setrlimit``), and a
  wall-clock timeout after which its whole process group is killed;
- **its own directory** as working directory and home, removed afterwards.

This is the isolation of HumanEval's own harness (Chen et al., 2021, "Evaluating Large Language
Models Trained on Code", section 2.3: a sandbox without network), in a subprocess rather than a
``multiprocessing`` fork of the evaluator. It is not a security boundary against a determined
attacker (the child runs as the same user and can read what that user can read); run untrusted
models' code in a container or VM as well.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache

NO_NETWORK_GUARD = """\
import socket as _socket
def _no_network(*args, **kwargs):
    raise OSError("the sandbox has no network")
_socket.socket = _socket.create_connection = _socket.getaddrinfo = _socket.socketpair = _no_network
del _socket, _no_network
"""
DETAIL_CHARS = 2000  # of the child's error output kept in the result


@dataclass(frozen=True)
class Execution:
    """How a sandboxed program ended: ``passed`` (exit status 0), ``failed`` (another status),
    ``timeout`` (killed at the wall-clock limit); the tail of its error output; seconds taken;
    whether a network namespace isolated it."""

    status: str
    returncode: int | None
    detail: str
    seconds: float
    isolated_network: bool

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@lru_cache(maxsize=1)
def network_namespace_available() -> bool:
    """Whether ``unshare -rn`` can start a process here (unprivileged user namespaces)."""
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _limits(cpu_seconds: int, memory_bytes: int, file_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_python(
    program: str, timeout: float = 10.0, memory_mb: int = 1024, file_mb: int = 16, python: str | None = None
) -> Execution:
    """Run ``program`` (Python source) in the sandbox described above; never raises for what the
    program does (a crash, an exception, an endless loop are its result)."""
    if timeout <= 0 or memory_mb <= 0 or file_mb <= 0:
        raise ValueError("timeout, memory_mb and file_mb must be positive")
    isolated = network_namespace_available()
    workdir = tempfile.mkdtemp(prefix="discolab-sandbox-")
    try:
        path = os.path.join(workdir, "program.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(NO_NETWORK_GUARD + program)
        command = [python or sys.executable, "-I", "-B", path]
        if isolated:
            command = ["unshare", "-rn", "--", *command]
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "PYTHONHASHSEED": "0"}
        started = time.perf_counter()
        child = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed whole at the timeout
            preexec_fn=_limits(max(1, int(timeout) + 1), memory_mb * 2**20, file_mb * 2**20),
        )
        try:
            _, err = child.communicate(timeout=timeout)
            status = "passed" if child.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            _kill_group(child.pid)
            _, err = child.communicate()
            status = "timeout"
        seconds = time.perf_counter() - started
        detail = err.decode("utf-8", "replace")[-DETAIL_CHARS:]
        return Execution(status, child.returncode, detail, seconds, isolated)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
