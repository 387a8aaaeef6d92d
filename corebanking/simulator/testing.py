"""The core banking project run in a child process against a database URL, for end-to-end tests that
need a real source changing under them (tests/test_ingest_e2e.py, tests/cdc/): `manage.py` commands
(migrate, simulate) and the simulator's live mode in the background. One home for what those tests
shared as copies; nothing here imports Django."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(url: str) -> dict:
    return dict(os.environ, FINHOUSE_OLTP_URL=url, DJANGO_SETTINGS_MODULE="config.settings")


def manage(url: str, *args: str, timeout: int = 300) -> str:
    """`manage.py ARGS` against the database at url; fails the test with its stderr."""
    proc = subprocess.run(
        [sys.executable, "corebanking/manage.py", *args],
        cwd=ROOT,
        env=_env(url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"manage.py {' '.join(args)} failed: {proc.stderr[-2000:]}"
    return proc.stdout


def live(url: str, seconds: float, rate: int = 25) -> subprocess.Popen:
    """The simulator's live mode in the background: operations through the backend's services."""
    return subprocess.Popen(
        [
            sys.executable,
            "corebanking/manage.py",
            "simulate",
            "--live",
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
        ],
        cwd=ROOT,
        env=_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_live(proc: subprocess.Popen) -> str:
    """Wait for a live run started by live(); it must have run and exited 0."""
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"live simulation failed: {err[-2000:]}"
    assert "operations in" in out, out
    return out
