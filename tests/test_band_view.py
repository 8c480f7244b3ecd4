"""The per-band view in the console (nfb/gui/band_view.py), on the synthetic board (pytest-qt).

Real parts: the console offscreen, BrainFlow's synthetic board, a live session, the session
folder read back. The bars are compared with the snapshot and frame rows the console's own
refresh read (spied on, not replaced); limits are set with the mouse and the keyboard.
"""

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore, QtGui, QtWidgets

import nfb
from nfb.gui.band_view import EVERY, INHIBIT_ON, REWARD_ON, WINDOW_S, WRITE_EVERY
from nfb.session.format import INHIBIT_LIMIT_EVENT
from tests.test_gui_console import open_console

PROTOCOL = """
name = "SMR bars"
description = "A test protocol: one block, a theta and an amplitude inhibit."
[signal]
channels = ["Cz"]
[feedback]
feature = "smr"
[[inhibit]]
kind = "band"
band = "theta"
max = 2
[[inhibit]]
kind = "amplitude"
max_uv = 100
[script]
baseline_eyes_open = 0
baseline_eyes_closed = 0
blocks = 1
block_min = 1
"""


@pytest.fixture
def console(qtbot, own_windows, tmp_path, monkeypatch):
    window = open_console(own_windows, tmp_path, monkeypatch, {"smr-bars": PROTOCOL})
    window.resize(1600, 1000)
    return window


def _start(qtbot, console):
    console.device_box.setCurrentText("synthetic")
    qtbot.mouseClick(console.connect_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.stream is not None, timeout=20000)
    console.client_box.setCurrentText("bars")
    console.protocol_box.setCurrentText("smr-bars")
    qtbot.mouseClick(console.start_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.session is not None, timeout=20000)
    session = console.session
    fs = session.layout.sfreq
    qtbot.waitUntil(lambda: session.snapshot().sample_index > 3 * fs, timeout=30000)
    return session


def _stop(qtbot, console, session):
    session.command("stop", reason="user")
    qtbot.waitUntil(lambda: console.session is None and console._busy == 0, timeout=20000)
    return nfb.read_session(session.path)


class Spy:
    """Records what a method returned (the real thing, passed on unchanged)."""

    def __init__(self, fn):
        self.fn, self.returned = fn, []

    def __call__(self, *args, **kwargs):
        self.returned.append(self.fn(*args, **kwargs))
        return self.returned[-1]


def test_the_bars_show_what_the_session_computes(qtbot, console):
    session = _start(qtbot, console)
    view = console.plots.band_view
    assert list(view.bars) == ["reward", "amplitude", "band_theta"]
    snap_spy, rows_spy = Spy(session.snapshot), Spy(session.history.latest)
    session.snapshot, session.history.latest = snap_spy, rows_spy
    names = [c for c, _ in session.runner.columns]
    checked = agreed = written = 0
    for _ in range(20):
        qtbot.wait(50)
        snap_spy.returned.clear()
        rows_spy.returned.clear()
        for _ in range(EVERY * WRITE_EVERY):  # the console's own refresh, now: the bars
            console.refresh()  # are drawn at some of them, their numbers written at one
        # the snapshot drawn and the rows with it: what the session gave the console
        snap, rows = view.drawn
        assert any(snap is s for s in snap_spy.returned)
        assert any(rows is r for r in rows_spy.returned)
        # the engine's figures agree: a band inhibit's measure is its band column (the
        # snapshot's frame reaches the history just after the snapshot: it may be missing)
        at = np.flatnonzero(rows[:, names.index("sample_index")] == snap.sample_index)
        if at.size:
            assert snap.inhibit_values["band_theta"] == rows[at[0], names.index("theta")]
            agreed += 1
        bars = [
            ("reward", "reward", snap.value, snap.threshold),
            *[(n, f"inhibit_{n}", snap.inhibit_values[n], snap.inhibit_limits[n])
              for n in ("band_theta", "amplitude")],
        ]  # fmt: skip
        for name, flag, value, limit in bars:
            bar = view.bars[name]
            rect = bar.bar.rect()  # from 0 to the value
            assert (rect.top() if rect.top() < 0 else rect.bottom()) == value
            on = rows[-1, names.index(flag)] > 0
            colour = bar.bar.brush().color().getRgb()[:3]
            assert (colour == (REWARD_ON if name == "reward" else INHIBIT_ON)) == on
            if np.isfinite(limit):
                assert bar.line.isVisible() and bar.line.value() == limit
                checked += 1
        # the numbers: the value and the share of the last 10 s of the rows they were
        # written from (the same refresh)
        snap, rows = view.written
        assert any(snap is s for s in snap_spy.returned)
        assert any(rows is r for r in rows_spy.returned)
        recent = rows[-round(WINDOW_S * session.runner.frame_rate) :]
        for name, flag, *_ in bars:
            value = snap.value if name == "reward" else snap.inhibit_values[name]
            share = 100 * recent[:, names.index(flag)].mean()
            text = view.bars[name].label.toPlainText()
            word = "rew." if name == "reward" else "inh."
            assert f"{word} {share:.0f} %" in text and f"{value:.3g}" in text
            written += 1
    assert checked >= 20  # the inhibits' lines, at least (the threshold comes later)
    assert agreed >= 10 and written == 3 * 20
    assert view.bars["band_theta"].spin.value() == 2.0
    _stop(qtbot, console, session)


def _send_mouse(widget, kind, pos, buttons):
    event = QtGui.QMouseEvent(
        kind,
        QtCore.QPointF(pos),
        QtCore.QPointF(widget.mapToGlobal(pos)),
        QtCore.Qt.MouseButton.LeftButton
        if kind != QtCore.QEvent.Type.MouseMove
        else QtCore.Qt.MouseButton.NoButton,
        buttons,
        QtCore.Qt.KeyboardModifier.NoModifier,
    )
    QtWidgets.QApplication.sendEvent(widget, event)


def test_dragging_and_typing_inhibit_limits_record_commands_the_inhibits_follow(qtbot, console):
    session = _start(qtbot, console)
    bar = console.plots.band_view.bars["band_theta"]
    assert np.isfinite(session.snapshot().inhibit_values["band_theta"])
    target = 0.05  # µV: under the synthetic board's theta at Cz nearly always
    vb = bar.plot.getPlotItem().getViewBox()

    def at(y):
        return bar.plot.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0.0, y)))

    # drag the limit line from 2 down to the target, as a mouse would
    vb.updateMatrix()  # a range set since the last paint is not in the mapping yet
    start, end = at(2.0), at(target)
    assert bar.line in bar.plot.items(start)  # the mouse is on the line
    viewport = bar.plot.viewport()
    left = QtCore.Qt.MouseButton.LeftButton
    _send_mouse(viewport, QtCore.QEvent.Type.MouseButtonPress, start, left)
    for k in range(1, 11):
        step = start + (end - start) * (k / 10)
        qtbot.wait(15)  # pyqtgraph takes at most 100 moves a second (mouseRateLimit)
        _send_mouse(viewport, QtCore.QEvent.Type.MouseMove, step, left)
    _send_mouse(
        viewport, QtCore.QEvent.Type.MouseButtonRelease, end, QtCore.Qt.MouseButton.NoButton
    )
    qtbot.waitUntil(lambda: session.snapshot().inhibit_limits["band_theta"] < 1, timeout=20000)
    dragged = session.snapshot().inhibit_limits["band_theta"]
    pixel = vb.viewPixelSize()[1]  # the limit's change for one pixel of the mouse
    assert dragged == pytest.approx(target, abs=3 * pixel)
    qtbot.waitUntil(lambda: bar.spin.value() == round(dragged, 2), timeout=20000)
    # the amplitude limit typed in its box: Space and M in it are not session keys
    spin = console.plots.band_view.bars["amplitude"].spin
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "250")
    qtbot.keyClick(spin.lineEdit(), QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: session.snapshot().inhibit_limits["amplitude"] == 250.0, timeout=20000)
    fs = session.layout.sfreq
    later = session.snapshot().sample_index + 3 * fs
    qtbot.waitUntil(lambda: session.snapshot().sample_index > later, timeout=20000)
    rec = _stop(qtbot, console, session)

    changes = [e for e in rec.events if e["kind"] == INHIBIT_LIMIT_EVENT]
    assert [(e["inhibit"], e["value"], e["previous"]) for e in changes] == [
        ("band_theta", dragged, 2.0),
        ("amplitude", 250.0, 100.0),
    ]
    s = rec.frames["sample_index"]
    on = rec.frames["inhibit_band_theta"]
    # the inhibit follows the limit of each frame: off below 0.8 x its limit (the release),
    # on after 7 frames (min_episode_ms, 100 ms) above it
    theta = rec.frames["theta"]
    limit = np.where(s < changes[0]["sample_index"], 2.0, dragged)
    low = theta <= 0.8 * limit
    assert low.sum() > 30 and not on[low].any()
    held = np.convolve(theta > limit, np.ones(7), "full")[: len(theta)] == 7
    held &= s >= changes[0]["sample_index"] + 7 * session.runner.step_samples
    assert held.sum() > 20 and on[held].all()
    assert not rec.frames["inhibit_amplitude"][s >= changes[1]["sample_index"]].any()


def test_after_the_stop_the_limits_are_shown_but_take_no_change(qtbot, console):
    session = _start(qtbot, console)
    rec = _stop(qtbot, console, session)
    bar = console.plots.band_view.bars["amplitude"]
    spin = bar.spin
    before = spin.value()
    # the boxes stayed open after a stop and a typed limit was only refused afterwards
    assert not spin.isEnabled() and not bar.line.movable
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "70")
    qtbot.keyClick(spin.lineEdit(), QtCore.Qt.Key.Key_Return)
    assert spin.value() == before
    after = nfb.read_session(session.path)
    assert after.events == rec.events
    assert not [e for e in after.events if e["kind"] == INHIBIT_LIMIT_EVENT]
