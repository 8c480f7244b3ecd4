"""nfb on Windows and macOS: no POSIX-only name at module level, and the store, recorder,
client-index, export and live-session tests passing again with the platform simulated
(``tests/simplatform.py``: ``fcntl`` unimportable and ``os.fchmod``, ``os.O_DIRECTORY``,
``os.posix_fallocate``... removed as on Windows; ``os.posix_fallocate`` removed as on macOS).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

#: Modules that exist on POSIX only (or Windows only).
PLATFORM_MODULES = {"fcntl", "termios", "pwd", "grp", "resource", "posix", "msvcrt", "winreg"}
#: Names of :mod:`os` that Windows (or macOS) lacks.
POSIX_ONLY_OS = {
    "fchmod",
    "fchown",
    "O_DIRECTORY",
    "O_NOFOLLOW",
    "O_CLOEXEC",
    "O_NONBLOCK",
    "posix_fallocate",
    "pread",
    "pwrite",
    "getuid",
    "geteuid",
    "killpg",
    "setsid",
    "sched_getaffinity",
}
#: The test files the simulated platforms run: store, recorder, client index, export, live
#: sessions (a stream's sessions, kills and recoveries, a full disk), stopping nfb run (on
#: Windows with Ctrl-Break too), and this file's own checks of the simulation.
SIMULATED = [
    "tests/test_store.py",
    "tests/test_recorder.py",
    "tests/test_clients.py",
    "tests/test_export.py",
    "tests/test_stream.py",
    "tests/test_faults.py",
    "tests/test_hostile_store.py",
    "tests/test_stop.py",
    "tests/test_platforms.py::test_the_simulation_holds",
]


def _module_level(tree: ast.Module):
    """The nodes run at import time (function bodies are not)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack.extend(node.decorator_list if not isinstance(node, ast.Lambda) else [])
            stack.extend(d for d in getattr(node.args, "defaults", []))
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def test_no_posix_only_name_at_module_level():
    found = []
    for file in sorted((ROOT / "nfb").rglob("*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
        for node in _module_level(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module.split(".")[0]]
            bad = [n for n in names if n in PLATFORM_MODULES]
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in POSIX_ONLY_OS
            ):
                bad = [f"os.{node.attr}"]
            found += [f"{file.relative_to(ROOT)}:{node.lineno}: {b}" for b in bad]
    assert found == []


def _sim_env(platform: str) -> dict[str, str]:
    path = os.pathsep.join(
        [
            str(ROOT / "tests" / "simplatform_site"),
            str(ROOT / "tests"),
            os.environ.get("PYTHONPATH", ""),
        ]
    )
    env = {**os.environ, "NFB_SIMULATE_PLATFORM": platform, "PYTHONPATH": path}
    env.pop("PYTEST_ADDOPTS", None)
    return env


def test_simulated_platforms(tmp_path):
    """Both simulated platforms at once (two processes: this machine has two cores)."""
    runs = {}
    for platform in ("windows", "macos"):
        log = open(tmp_path / f"{platform}.log", "w")  # noqa: SIM115 - closed below
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "simplatform",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::pytest.PytestAssertRewriteWarning",
            "--basetemp",
            str(tmp_path / platform),
            *SIMULATED,
            # the console (Qt) is not what is simulated, and its own crash under load is
            # being fixed apart; the GUI start runs the same recover_store as nfb run
            "--deselect",
            "tests/test_faults.py::test_gui_start_recovers_the_store",
            "-p",
            "no:pytestqt",
        ]
        env = {**_sim_env(platform), "NFB_SIM_MARKER": str(tmp_path / f"{platform}.held")}
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        runs[platform] = (proc, log)
    failures = []
    for platform, (proc, log) in runs.items():
        try:
            proc.wait(timeout=280)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        out = (tmp_path / f"{platform}.log").read_text()
        marker = tmp_path / f"{platform}.held"  # test_the_simulation_holds ran and passed
        held = marker.exists() and marker.read_text() == platform
        if proc.returncode != 0 or not held:
            failures.append(f"--- {platform} (exit {proc.returncode}):\n{out[-6000:]}")
    assert not failures, "\n".join(failures)


@pytest.mark.skipif(
    not os.environ.get("NFB_SIMULATE_PLATFORM"), reason="runs inside a simulated platform"
)
def test_the_simulation_holds(tmp_path):
    """The simulation is real: nfb cannot import fcntl, os lacks the names, and nfb starts."""
    platform = os.environ["NFB_SIMULATE_PLATFORM"]
    from nfb import fs

    assert not hasattr(os, "posix_fallocate")
    if platform == "windows":
        assert not hasattr(os, "fchmod") and not hasattr(os, "O_DIRECTORY")
        assert fs._backend() == "owner-file"  # neither flock nor msvcrt: the fallback lock
        for name, module in list(sys.modules.items()):
            if name.startswith("nfb"):
                assert not hasattr(module, "fcntl"), name
    else:
        assert fs._backend() == "flock"
    # a child process is simulated too (sitecustomize): nfb --help and a short run work
    help_ = subprocess.run(
        [sys.executable, "-m", "nfb.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_.returncode == 0 and "usage" in help_.stdout.lower(), help_.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import os; print(hasattr(os, 'posix_fallocate'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.strip() == "False"
    Path(os.environ["NFB_SIM_MARKER"]).write_text(platform)
