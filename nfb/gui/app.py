"""``nfb gui``: the practitioner console and the client's feedback window."""

from __future__ import annotations

import gc
import sys

from PyQt6 import QtCore, QtWidgets

from .._logging import logger
from ..crashlog import CrashLog
from ..feedback.level import FeedbackState
from .lifetime import GuiThreadCollector, delete_now

#: How long (s) a thread may hold the GIL while another waits for it. Python's 5 ms default
#: lets a redraw keep the acquisition thread waiting for several switch intervals; 1 ms
#: brings the p99 fetch-to-frame time with the console running from about 22 to 14 ms
#: (``nfb bench latency``).
GIL_SWITCH_INTERVAL_S = 0.001


def tune_process() -> None:
    """Settings for a process that draws while it acquires (the app, its benchmark)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def build(
    sessions_dir=None,
    *,
    settings: QtCore.QSettings | None = None,
    sound: bool = True,
    crash_report=None,
):
    """Create the console, the client window and the tone (the QApplication must exist).

    Parameters
    ----------
    crash_report : path-like | None
        The report of the previous run's crash (:class:`~nfb.crashlog.CrashLog`), pointed out
        to the practitioner as soon as the console shows.

    Returns
    -------
    console : ConsoleWindow
        Its ``client_window`` and ``audio`` attributes hold the other two. Close it with
        :func:`close_windows`, which owns their teardown.
    """
    from ..session.store import recover_store
    from .audio import AudioFeedback
    from .client_window import ClientWindow
    from .console import ConsoleWindow

    # sessions a killed app left open: finalised (one log line each) and shown
    recovered = [r for r in recover_store(sessions_dir) if r.status == "recovered"]
    state = FeedbackState()
    client_window = ClientWindow(state)
    audio = AudioFeedback(state) if sound else None
    console = ConsoleWindow(
        sessions_dir, settings=settings, client_window=client_window, audio=audio, state=state
    )
    if crash_report is not None or recovered:
        console.notify_crash(crash_report, recovered)
    if audio is not None:
        # without a sound device the status bar says so (audio.error) and the session goes on
        audio.start()
    return console


def close_windows(console) -> None:
    """Tear the app's windows down in the GUI thread: session, board, sound, plots, widgets.

    The order is the point: the session is stopped and the board released first (the
    console's ``closeEvent``), the sound thread joined, every pyqtgraph scene emptied, and the
    widgets deleted by Qt while this function still holds them, so that nothing is left for
    the garbage collector to tear down in an arbitrary order or another thread.
    """
    client_window, audio = console.client_window, console.audio
    console.ask_before_closing = False  # this teardown has no one to answer a question
    console.close()  # closeEvent: save settings, stop the session, release the board
    if audio is not None:
        audio.stop()
    delete_now(console, client_window, audio)


def _stop_on_signals(app: QtWidgets.QApplication) -> None:
    """SIGTERM (a logout, ``kill``) and Ctrl-C close the windows as the close button does.

    Python runs signal handlers only between bytecodes, and the Qt event loop is C++: a
    short timer gives the interpreter a moment to notice the signal.
    """
    import signal

    def close(signum, _frame):
        logger.warning("signal %d: closing the app", signum)
        for widget in app.topLevelWidgets():
            if hasattr(widget, "ask_before_closing"):
                widget.ask_before_closing = False  # no one is there to answer
        app.closeAllWindows()  # the console's closeEvent stops and saves the session
        app.quit()

    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), close)
    ticker = QtCore.QTimer(app)
    ticker.timeout.connect(lambda: None)
    ticker.start(200)


def main(
    *,
    sessions_dir=None,
    device: str | None = None,
    protocol: str | None = None,
    client: str | None = None,
    connect: bool = False,
    sound: bool = True,
    mains_hz: int | None = None,
) -> int:
    """Run the desktop app until the console is closed; return the exit code."""
    tune_process()
    crash_log = CrashLog()
    crash_report = crash_log.start()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("nfb")
    app.setOrganizationName("nfb")
    collector = GuiThreadCollector(parent=app)
    collector.start()
    _stop_on_signals(app)
    console = build(sessions_dir, sound=sound, crash_report=crash_report)
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
    if mains_hz:
        console.set_mains_hz(mains_hz)
    console.show()
    console.client_window.show_as_remembered()  # on its screen, full screen if it was
    if connect:
        QtCore.QTimer.singleShot(0, console.connect_device)
    try:
        code = app.exec()
    finally:
        sys.excepthook = previous_hook
        close_windows(console)
        collector.stop()
        gc.collect()  # in this thread, with no window left to tear down
        crash_log.stop()
    return code
