"""Run nfb as on Windows or macOS, on this Linux machine: a pytest plugin and a helper.

``NFB_SIMULATE_PLATFORM=windows`` (``-p simplatform``, with ``tests`` on ``PYTHONPATH``)
makes ``import fcntl`` fail for nfb's own modules (third-party libraries keep their POSIX
branches, as they keep their Windows ones there), and removes from :mod:`os` what Windows
lacks: ``fchmod``, ``O_DIRECTORY``, ``O_NOFOLLOW``, ``posix_fallocate`` and ``pread``.
It also gives :mod:`signal` the ``SIGBREAK`` that Windows has (Ctrl-Break), as an alias of
``SIGUSR1``, a signal a test can send here.
``NFB_SIMULATE_PLATFORM=macos`` removes ``posix_fallocate`` only (macOS has the rest).
Both must take effect before nfb is first imported, which is why this is a plugin loaded
with ``-p`` and not a fixture.
"""

from __future__ import annotations

import builtins
import os
import signal
import sys

#: What each simulated platform lacks in :mod:`os`.
REMOVED = {
    "windows": ("fchmod", "O_DIRECTORY", "O_NOFOLLOW", "posix_fallocate", "pread"),
    "macos": ("posix_fallocate",),
}
#: Modules nfb may not import on each simulated platform.
BLOCKED = {"windows": ("fcntl",), "macos": ()}


def _blocking_import(blocked: tuple[str, ...]):
    """``__import__`` refusing the blocked modules to nfb's own modules (cached or not)."""
    real_import = builtins.__import__

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        importer = (globals or {}).get("__name__", "")
        if level == 0 and name.split(".")[0] in blocked and importer.split(".")[0] == "nfb":
            raise ImportError(f"No module named {name!r} (simulated platform)", name=name)
        return real_import(name, globals, locals, fromlist, level)

    return _import


def install(platform: str) -> None:
    """Make this process look like ``platform`` (``"windows"`` or ``"macos"``) to nfb."""
    if platform not in REMOVED:
        raise SystemExit(f"NFB_SIMULATE_PLATFORM={platform!r}: use windows or macos")
    if any(m == "nfb" or m.startswith("nfb.") for m in sys.modules):
        raise SystemExit("simplatform must be installed before nfb is imported")
    for name in REMOVED[platform]:
        if hasattr(os, name):
            delattr(os, name)
    if BLOCKED[platform]:
        builtins.__import__ = _blocking_import(BLOCKED[platform])
    if platform == "windows" and not hasattr(signal, "SIGBREAK"):
        signal.SIGBREAK = signal.SIGUSR1  # type: ignore[attr-defined]
    os.environ["NFB_SIMULATE_PLATFORM"] = platform  # children (nfb subprocesses) too


_PLATFORM = os.environ.get("NFB_SIMULATE_PLATFORM")
if _PLATFORM:
    install(_PLATFORM)


def pytest_report_header(config):
    if _PLATFORM:
        removed = ", ".join(f"os.{n}" for n in REMOVED[_PLATFORM])
        blocked = ", ".join(BLOCKED[_PLATFORM]) or "nothing"
        return f"simulated platform: {_PLATFORM} (blocked for nfb: {blocked}; removed: {removed})"
    return None
