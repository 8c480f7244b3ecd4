"""Shared fixtures: a private session store per test, quiet BrainFlow, no progress bars."""

import os
import sys
from pathlib import Path

import pytest

# a real Qt application, without a display (tests that need a window start Xvfb themselves)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/sessionfactory.py


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("NFB_SESSIONS_DIR", str(tmp_path / "sessions"))
    monkeypatch.setenv("NFB_NO_PROGRESS", "1")
    yield


def nfb_cli(*args, timeout=120, env=None, cwd=None):
    """Run ``nfb`` as a user would, in a subprocess; returns CompletedProcess (text)."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nfb.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd or ROOT,
    )
