"""Issue 14, problem 2: no threshold carry-over; a session without a usable baseline says so.

Real parts: the console (offscreen) on BrainFlow's synthetic board, mouse and key events, the
runner's own state and the recorded events. Waits are on the session's state, not on time.
"""

import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore

import nfb
from tests.test_gui_console import connect, start
from tests.test_gui_console import console as console  # the fixture

LEFT = QtCore.Qt.MouseButton.LeftButton


def _start(qtbot, console, protocol="short"):
    return start(qtbot, console, "thresholds-test", protocol)


def _stop(qtbot, console, session):
    console.stop_session()
    qtbot.waitUntil(lambda: console.step_label.text().startswith("session"), timeout=10000)


def test_a_manual_threshold_does_not_carry_over_to_the_next_session(qtbot, console):
    connect(qtbot, console)
    first = _start(qtbot, console)
    qtbot.mouseClick(console.auto_box, LEFT)  # the practitioner takes the threshold over
    assert not console.auto_box.isChecked() and console.threshold_slider.isEnabled()
    qtbot.waitUntil(lambda: first.runner.threshold_mode == "manual", timeout=5000)
    _stop(qtbot, console, first)
    assert console.auto_box.isChecked()  # back to the protocol's rule once it ended
    second = _start(qtbot, console, protocol="alpha-theta")
    # the new session follows its protocol's rule (automatic), and so do the controls
    assert console.auto_box.isChecked() and not console.threshold_slider.isEnabled()
    assert second.runner.threshold_mode == "auto"
    _stop(qtbot, console, second)
    modes = [e for e in nfb.read_session(second.path).events if e["kind"] == "threshold_mode"]
    assert modes == []  # no command set it by hand


def test_skipped_baselines_are_said_in_the_console_until_dismissed(qtbot, console):
    connect(qtbot, console)
    session = _start(qtbot, console)
    skip = QtCore.Qt.KeyboardModifier.ControlModifier
    # skip both baselines (Ctrl+N twice), as a hurried practitioner might
    for name in ("baseline_eyes_open", "baseline_eyes_closed"):
        qtbot.waitUntil(lambda n=name: session.snapshot().step.name == n, timeout=20000)
        qtbot.keyClick(console, QtCore.Qt.Key.Key_N, skip)
    qtbot.waitUntil(lambda: console.warning_bar.isVisible(), timeout=20000)
    text = console.warning_text.text()
    assert "no usable baseline" in text and "the threshold comes from the training" in text
    qtbot.mouseClick(console.warning_dismiss, LEFT)
    assert not console.warning_bar.isVisible()
    # still hidden a few frames later: the same warning does not come back by itself
    at = session.snapshot().sample_index
    qtbot.waitUntil(lambda: session.snapshot().sample_index > at + 100, timeout=10000)
    assert not console.warning_bar.isVisible()
    _stop(qtbot, console, session)
    warnings = [e for e in nfb.read_session(session.path).events if e["kind"] == "warning"]
    assert any("no usable baseline" in w["message"] for w in warnings)
