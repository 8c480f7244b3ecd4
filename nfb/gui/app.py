"""``nfb gui``: the practitioner console and the client's feedback window."""

from __future__ import annotations

import sys

from PyQt6 import QtCore, QtWidgets

from .._logging import logger
from ..feedback.level import FeedbackState

#: How long (s) a thread may hold the GIL while another waits for it. Python's 5 ms default
#: lets a redraw keep the acquisition thread waiting for several switch intervals; 1 ms
#: brings the p99 fetch-to-frame time with the console running from about 22 to 14 ms
#: (``nfb bench latency``).
GIL_SWITCH_INTERVAL_S = 0.001


def tune_process() -> None:
    """Settings for a process that draws while it acquires (the app, its benchmark)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def build(sessions_dir=None, *, settings: QtCore.QSettings | None = None, sound: bool = True):
    """Create the console, the client window and the tone (the QApplication must exist).

    Returns
    -------
    console : ConsoleWindow
        Its ``client_window`` and ``audio`` attributes hold the other two.
    """
    from ..session.store import recover_store
    from .audio import AudioFeedback
    from .client_window import ClientWindow
    from .console import ConsoleWindow

    recover_store(sessions_dir)  # sessions a killed app left open: finalised, one log line each
    state = FeedbackState()
    client_window = ClientWindow(state)
    audio = AudioFeedback(state) if sound else None
    console = ConsoleWindow(
        sessions_dir, settings=settings, client_window=client_window, audio=audio, state=state
    )
    if audio is not None:
        # without a sound device the status bar says so (audio.error) and the session goes on
        audio.start()
    return console


def main(
    *,
    sessions_dir=None,
    device: str | None = None,
    protocol: str | None = None,
    client: str | None = None,
    connect: bool = False,
    sound: bool = True,
) -> int:
    """Run the desktop app until the console is closed; return the exit code."""
    tune_process()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("nfb")
    app.setOrganizationName("nfb")
    console = build(sessions_dir, sound=sound)
    previous_hook = sys.excepthook

    def on_error(kind, value, tb):
        # PyQt6 aborts the process on an exception escaping a slot: log it and show it instead
        logger.error("unexpected error", exc_info=(kind, value, tb))
        console.error(value)

    sys.excepthook = on_error
    if device:
        console.device_box.setCurrentText(device)
    if protocol:
        console.protocol_box.setCurrentText(protocol)
    if client:
        console.client_box.setCurrentText(client)
    console.show()
    console.client_window.show()
    if connect:
        QtCore.QTimer.singleShot(0, console.connect_device)
    try:
        code = app.exec()
    finally:
        sys.excepthook = previous_hook
    if console.audio is not None:
        console.audio.stop()
    return code
