"""How long each dashboard quick study takes: every study of ``ui/jobs.STUDIES`` run as the
dashboard runs it (``python -m MODULE ARGS``), one after another, each in a fresh data directory.

Run: ``python -m discolab.experiments.bench_quick_studies [--only NAME ...]``; prints a line per
study (exit status, seconds). The durations quoted in the README came from this sequence.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from discolab.ui.jobs import STUDIES


def time_study(name: str) -> tuple[int, float]:
    """(exit status, wall seconds) of study ``name`` in a fresh data directory."""
    study = STUDIES[name]
    with tempfile.TemporaryDirectory(prefix=f"quick-{name}-") as home:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", study.module, *study.argv],
            env={**os.environ, "DISCOLAB_HOME": home},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return done.returncode, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(STUDIES), default=list(STUDIES))
    args = parser.parse_args(argv)
    for name in args.only:
        code, seconds = time_study(name)
        print(f"{name:16s} exit {code}  {seconds:7.1f} s  (estimate shown: {STUDIES[name].label})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
