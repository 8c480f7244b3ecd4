"""The app's windows opened and closed again and again, streaming, as a practitioner does
between clients: every cycle builds the console, the client window and the tone as
``nfb gui`` does, connects the synthetic board, draws, starts a session, and tears it all down
with ``close_windows`` while the board streams.

``NFB_GUI_CYCLES`` (default 2) sets the number of cycles; ``make test-gui-stress`` raises it.
"""

import os

import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore

from nfb.gui.app import build, close_windows

CYCLES = int(os.environ.get("NFB_GUI_CYCLES", "2"))


def run_cycle(qtbot, console, record: bool):
    """Connect, draw, optionally record; return the stream and the session (or None)."""
    console.show()
    console.client_window.show()
    console.device_box.setCurrentText("synthetic")
    console.protocol_box.setCurrentText("alpha-up")
    console.client_box.setCurrentText("cycles")
    console.connect_device()
    qtbot.waitUntil(lambda: console.stream is not None, timeout=20000)
    # drawn: the traces hold samples, and the board goes on streaming under them
    qtbot.waitUntil(lambda: console.traces.curve.getData()[0] is not None, timeout=10000)
    if not record:
        return console.stream, None
    console.start_session()
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session
    qtbot.waitUntil(lambda: len(session.history.latest()) > 10, timeout=20000)
    return console.stream, session


def test_windows_opened_and_closed_while_streaming(qtbot, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    for cycle in range(CYCLES):
        console = build(tmp_path / "store", settings=settings, sound=cycle % 2 == 1)
        try:
            # every other cycle closes with a session recording
            stream, session = run_cycle(qtbot, console, record=cycle % 2 == 0)
        finally:
            close_windows(console)
        assert console.stream is None and stream.state == "stopped"  # the board was released
        assert session is None or session.finished
