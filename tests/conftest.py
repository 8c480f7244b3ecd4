"""Shared fixtures: a private store and user folders per test, quiet BrainFlow, no progress bars."""

import os
import sys
from pathlib import Path

import pytest

# a real Qt application, without a display (tests that need a window start Xvfb themselves)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/sessionfactory.py

pytest_plugins = ["pytester"]  # tests of the test run itself (tests/test_qt_exceptions.py)


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("NFB_SESSIONS_DIR", str(tmp_path / "sessions"))
    # the user's own profiles, protocols and data never leak into a test (nor the reverse)
    monkeypatch.setenv("NFB_CONFIG_DIR", str(tmp_path / "user-config"))
    monkeypatch.setenv("NFB_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.setenv("NFB_NO_PROGRESS", "1")
    monkeypatch.setenv("NFB_LOG_DIR", str(tmp_path / "logs"))  # crash logs, not the user's
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


# --- Qt object lifetimes (issue 10) ------------------------------------------------------------
# A Qt test runs as the app does: cyclic garbage is collected in the GUI thread only
# (GuiThreadCollector), and windows are torn down by Qt (close_windows) while the test still
# holds them, never left to the collector in an arbitrary order or another thread.
@pytest.fixture(autouse=True)
def _qt_lifetimes(request):
    if not {"qtbot", "qapp"} & set(request.fixturenames):
        yield
        return
    import gc

    from PyQt6 import QtCore

    from nfb.gui.lifetime import GuiThreadCollector

    app = request.getfixturevalue("qapp")
    collector = GuiThreadCollector(parent=app)
    collector.start()
    yield
    # pytest-qt has closed and deleteLater'd the widgets of qtbot.addWidget by now: delete
    # them, then collect this test's garbage, both here in the GUI thread
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
    collector.stop()
    gc.collect()
    collector.deleteLater()


@pytest.fixture
def own_windows(qtbot):
    """Keep windows alive until the test ends, then tear them down as the app does.

    ``own(console)`` for a console made by ``nfb.gui.app.build`` or ``ConsoleWindow``; any other
    widget is closed and deleted. Returns the widget.
    """
    owned = []

    def own(widget):
        owned.append(widget)
        return widget

    yield own
    from nfb.gui.app import close_windows
    from nfb.gui.console import ConsoleWindow
    from nfb.gui.lifetime import delete_now

    for widget in reversed(owned):
        if isinstance(widget, ConsoleWindow):
            close_windows(widget)
        else:
            widget.close()
            delete_now(widget)
    owned.clear()
