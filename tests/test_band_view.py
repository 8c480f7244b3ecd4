"""The per-band view in the console (nfb/gui/band_view.py), on the synthetic board (pytest-qt).

Real parts: the console offscreen, BrainFlow's synthetic board, a live session, the session
folder read back. The bars are compared with the snapshot and frame rows the console's own
refresh read (spied on, not replaced); limits are set with the mouse and the keyboard.
"""

import shutil

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore, QtGui, QtWidgets

import nfb
from nfb.feedback.level import FeedbackState
from nfb.gui.band_view import INHIBIT_ON, REWARD_ON, WINDOW_S
from nfb.gui.console import ConsoleWindow
from nfb.protocol import protocols_dir
from nfb.session.format import INHIBIT_LIMIT_EVENT

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
    protocols = tmp_path / "protocols"
    protocols.mkdir()
    for p in protocols_dir().glob("*.toml"):
        shutil.copy(p, protocols)
    (protocols / "smr-bars.toml").write_text(PROTOCOL)
    monkeypatch.setenv("NFB_PROTOCOLS_DIR", str(protocols))
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    from nfb.gui.client_window import ClientWindow

    state = FeedbackState()
    window = own_windows(
        ConsoleWindow(
            tmp_path / "sessions", settings=settings, client_window=ClientWindow(state), state=state
        )
    )
    window.resize(1600, 1000)
    window.show()
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
    drawn = []
    draw = view.set_data
    view.set_data = lambda snap, rows: (drawn.append((snap, rows)), draw(snap, rows))
    names = [c for c, _ in session.runner.columns]
    checked = agreed = 0
    for _ in range(20):
        qtbot.wait(50)
        snap_spy.returned.clear()
        rows_spy.returned.clear()
        drawn.clear()
        console.refresh()  # the console's own refresh, twice more, now: the bars are drawn
        console.refresh()  # at one of them
        # the snapshot drawn and the rows with it: what the session gave the console
        (snap, rows) = next(d for d in drawn if d[0] is view.drawn)
        assert any(snap is s for s in snap_spy.returned)
        assert any(rows is r for r in rows_spy.returned)
        # the engine's figures agree: a band inhibit's measure is its band column (the
        # snapshot's frame reaches the history just after the snapshot: it may be missing)
        at = np.flatnonzero(rows[:, names.index("sample_index")] == snap.sample_index)
        if at.size:
            assert snap.inhibit_values["band_theta"] == rows[at[0], names.index("theta")]
            agreed += 1
        recent = rows[-round(WINDOW_S * session.runner.frame_rate) :]
        for name, flag, value, limit in [
            ("reward", "reward", snap.value, snap.threshold),
            *[(n, f"inhibit_{n}", snap.inhibit_values[n], snap.inhibit_limits[n])
              for n in ("band_theta", "amplitude")],
        ]:  # fmt: skip
            bar = view.bars[name]
            rect = bar.bar.rect()  # from 0 to the value
            assert (rect.top() if rect.top() < 0 else rect.bottom()) == value
            share = 100 * recent[:, names.index(flag)].mean()
            assert f"{'rew.' if name == 'reward' else 'inh.'} {share:.0f} %" in (
                bar.label.toPlainText()
            )
            on = recent[-1, names.index(flag)] > 0
            colour = bar.bar.brush().color().getRgb()[:3]
            assert (colour == (REWARD_ON if name == "reward" else INHIBIT_ON)) == on
            if np.isfinite(limit):
                assert bar.line.isVisible() and bar.line.value() == limit
                checked += 1
    assert checked >= 20  # the inhibits' lines, at least (the threshold comes later)
    assert agreed >= 10
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
    theta = session.snapshot().inhibit_values["band_theta"]
    assert 0 < theta < 2.0  # the limit (2) is above: theta is not inhibited yet
    vb = bar.plot.getPlotItem().getViewBox()

    def at(y):
        return bar.plot.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0.0, y)))

    # drag the limit line from 2 down to a third of theta's value, as a mouse would
    start, end = at(2.0), at(theta / 3)
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
    qtbot.waitUntil(
        lambda: session.snapshot().inhibit_limits["band_theta"] < theta / 2, timeout=5000
    )
    dragged = session.snapshot().inhibit_limits["band_theta"]
    assert dragged == pytest.approx(theta / 3, rel=0.3)
    qtbot.waitUntil(lambda: bar.spin.value() == round(dragged, 2), timeout=5000)
    # the amplitude limit typed in its box: Space and M in it are not session keys
    spin = console.plots.band_view.bars["amplitude"].spin
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "250")
    qtbot.keyClick(spin.lineEdit(), QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: session.snapshot().inhibit_limits["amplitude"] == 250.0, timeout=5000)
    fs = session.layout.sfreq
    later = session.snapshot().sample_index + 2 * fs
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
    # and mostly on once the limit is a third of theta's value
    limit = np.where(s < changes[0]["sample_index"], 2.0, dragged)
    low = rec.frames["theta"] <= 0.8 * limit
    assert low.sum() > 30 and not on[low].any()
    assert on[s >= changes[0]["sample_index"] + fs].mean() > 0.5
    assert not rec.frames["inhibit_amplitude"][s >= changes[1]["sample_index"]].any()
