"""Issue 14, problems 1 and 6: session keys whatever has focus; a stop or a close asks first.

Real parts: the console (offscreen) on BrainFlow's synthetic board, key and mouse events as a
practitioner gives them, the session folder read back. Waits are on the session's own state.
"""

import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore

import nfb
from tests.test_gui_console import answer, connect, start
from tests.test_gui_console import console as console

Key = QtCore.Qt.Key
LEFT = QtCore.Qt.MouseButton.LeftButton


def _start(qtbot, console):
    connect(qtbot, console)
    return start(qtbot, console, "keys-test")


def _markers(path):
    return [e for e in nfb.read_session(path).events if e["kind"] == "marker"]


def test_space_and_m_work_from_a_rating_box_and_a_button_but_type_in_the_note(qtbot, console):
    session = _start(qtbot, console)
    # Tab away from the "before" rating as a practitioner does, then Space: pause
    console.rating_before.setFocus()
    qtbot.keyClick(console.rating_before, Key.Key_Tab)
    focused = QtCore.QCoreApplication.instance().focusWidget()
    qtbot.keyClick(focused, Key.Key_Space)
    qtbot.waitUntil(lambda: session.snapshot().paused, timeout=5000)
    # on a focused button Space pauses/resumes and does not click the button (here: Stop)
    console.stop_button.setFocus()
    qtbot.keyClick(console.stop_button, Key.Key_Space)
    qtbot.waitUntil(lambda: not session.snapshot().paused, timeout=5000)
    assert console.confirm_box is None and console.session is session
    # M on the rating box adds a marker (the box takes digits, not letters)
    qtbot.keyClick(console.rating_after, Key.Key_M)
    # in the marker note M and Space are typing; Return adds the marker with that note
    console.marker_note.setFocus()
    qtbot.keyClicks(console.marker_note, "moved arm")
    assert console.marker_note.text() == "moved arm" and not session.snapshot().paused
    qtbot.keyClick(console.marker_note, Key.Key_Return)
    assert console.marker_note.text() == ""
    console.stop_session()  # at once, as a practitioner might: the marker is kept
    qtbot.waitUntil(lambda: console.step_label.text().startswith("session"), timeout=10000)
    markers = _markers(session.path)
    assert [m["label"] for m in markers] == ["m1", "m2"]
    assert [m["note"] for m in markers] == ["", "moved arm"]


def test_ctrl_period_and_the_stop_button_ask_before_stopping(qtbot, console):
    session = _start(qtbot, console)
    qtbot.keyClick(console, Key.Key_Period, QtCore.Qt.KeyboardModifier.ControlModifier)
    answer(qtbot, console, yes=False)  # "Keep running"
    assert console.session is session and not session.finished
    # with the question open, Space presses its focused button ("Keep running"): it does
    # not pause the session
    qtbot.mouseClick(console.stop_button, LEFT)
    qtbot.waitUntil(lambda: console.confirm_box is not None and console.confirm_box.isVisible())
    box = console.confirm_box
    qtbot.keyClick(box.focusWidget() or box, Key.Key_Space)
    qtbot.waitUntil(lambda: console.confirm_box is None)
    assert not session.snapshot().paused and not session.finished
    qtbot.mouseClick(console.stop_button, LEFT)
    answer(qtbot, console, yes=True)  # "Stop session"
    qtbot.waitUntil(lambda: console.step_label.text().startswith("session"), timeout=10000)
    assert nfb.read_session(session.path).meta["status"] == "stopped"


def test_closing_the_window_during_a_session_asks_and_keeps_it_running_if_told(qtbot, console):
    session = _start(qtbot, console)
    console.close()
    answer(qtbot, console, yes=False)
    assert console.isVisible() and console.session is session and not session.finished
    console.close()
    answer(qtbot, console, yes=True)  # "Stop and close"
    qtbot.waitUntil(lambda: not console.isVisible() and session.finished, timeout=10000)
    assert nfb.read_session(session.path).meta["status"] == "stopped"
    # without a session there is nothing to lose: no question
    assert console.confirm_box is None


def test_a_key_with_no_code_passes_through(qtbot):
    # a dead key or an input method's event has key() 0 (no Qt.Key member): not ours, no error
    from PyQt6 import QtGui, QtWidgets

    from nfb.gui.keys import SessionKeys

    pressed = []
    widget = QtWidgets.QPushButton("x")
    qtbot.addWidget(widget)
    keys = SessionKeys({Key.Key_Space: lambda: pressed.append(1)}, widget)
    try:
        for code in (0, int(Key.Key_Space.value)):
            event = QtGui.QKeyEvent(
                QtCore.QEvent.Type.KeyPress, code, QtCore.Qt.KeyboardModifier.NoModifier
            )
            QtWidgets.QApplication.sendEvent(widget, event)
        assert pressed == [1]  # only Space was taken
    finally:
        keys.remove()


def test_a_client_name_with_a_space_and_an_m_is_typed_whole(qtbot, console):
    # the editable client box has the focus and hands keys to its line edit: Space and M are
    # delivered to the combo box itself, and were taken as pause/marker ("Anna K" -> "AnnaK")
    connect(qtbot, console)
    console.client_box.setCurrentText("")
    console.client_box.setFocus()
    qtbot.keyClicks(console.client_box, "Anna Kim m")
    assert console.client_box.currentText() == "Anna Kim m"
    assert console.session is None
