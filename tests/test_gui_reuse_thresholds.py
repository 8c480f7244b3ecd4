"""Issue 14, "what to build", first bullet: a new session starts from the protocol's own
threshold rule, with an explicit "reuse the last thresholds of this client and protocol".

Real parts: the console (offscreen) on BrainFlow's synthetic board, mouse clicks and keys on
its controls, the session folders read back, and the offline replay of a session that reused
a threshold.
"""

import json

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore

from nfb.report.metrics import threshold_origin
from nfb.session.replay import replay
from nfb.session.store import read_session
from tests.test_gui_console import SHORT, connect

#: The console tests' short protocol with an amplitude inhibit (whose limit is adjustable).
SHORT_INHIBIT = (
    SHORT
    + """
[[inhibit]]
kind = "amplitude"
max_uv = 100
"""
)


@pytest.fixture
def console(qtbot, own_windows, tmp_path, monkeypatch):
    from nfb.gui.console import ConsoleWindow

    protocols = tmp_path / "protocols"
    protocols.mkdir()
    (protocols / "short.toml").write_text(SHORT_INHIBIT)
    (protocols / "other.toml").write_text(SHORT_INHIBIT.replace("Short alpha/beta", "Other"))
    monkeypatch.setenv("NFB_PROTOCOLS_DIR", str(protocols))
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    window = own_windows(ConsoleWindow(tmp_path / "sessions", settings=settings))
    window.show()
    return window


LEFT = QtCore.Qt.MouseButton.LeftButton


def _wait_lookup(qtbot, console):
    """Wait for the reuse box's lookup of the client and protocol now chosen."""
    with qtbot.waitSignal(console.reuse_box.looked_up, timeout=10000):
        pass
    return console.reuse_box.found


def _start(qtbot, console):
    qtbot.mouseClick(console.start_button, LEFT)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session
    qtbot.waitUntil(lambda: session.snapshot().step is not None, timeout=20000)
    return session


def _step(qtbot, session, name):
    qtbot.waitUntil(
        lambda: (st := session.snapshot().step) is not None and st.name == name, timeout=20000
    )


def _stop(qtbot, console, session):
    console.stop_session()
    qtbot.waitUntil(lambda: console.step_label.text().startswith("session"), timeout=10000)
    return json.loads((session.path / "session.json").read_text())


def _thresholds(path):
    return [e for e in read_session(path).events if e["kind"] == "threshold"]


def test_reuse_the_last_threshold_of_this_client_and_protocol(qtbot, console):
    connect(qtbot, console)
    console.panel.setCurrentIndex(1)
    console.protocol_box.setCurrentText("short")
    console.client_box.setCurrentText("Reuse Client")
    box = console.reuse_box
    assert _wait_lookup(qtbot, console) is None
    assert not box.isEnabled() and not box.isChecked()
    assert "not available" in box.toolTip()

    # the client's history, open during the session: empty, then the session once it ends
    qtbot.mouseClick(console.history_button, LEFT)
    history = console.history_dialog
    with qtbot.waitSignal(history.loaded, timeout=10000):
        pass
    assert history.entries == [] and "no session" in history.summary.text()

    # --- session 1: a manual threshold, set with the slider during the first block
    s1 = _start(qtbot, console)
    for name in ("baseline_eyes_open", "baseline_eyes_closed"):
        _step(qtbot, s1, name)
        console.skip_step()
    _step(qtbot, s1, "block")
    qtbot.waitUntil(lambda: len(s1.history.latest(100)) > 50, timeout=20000)
    qtbot.mouseClick(console.auto_box, LEFT, pos=QtCore.QPoint(5, console.auto_box.height() // 2))
    assert not console.auto_box.isChecked() and console.threshold_slider.isEnabled()
    console.threshold_slider.setFocus()
    qtbot.keyClick(console.threshold_slider, QtCore.Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: any(t["source"] == "manual" for t in s1.runner.thresholds))
    s1.command("inhibit_limit", inhibit="amplitude", value=80.0)  # as the band view sends it
    qtbot.waitUntil(lambda: s1.runner.inhibit_limits["amplitude"] == 80.0)
    with qtbot.waitSignal(history.loaded, timeout=20000):
        meta1 = _stop(qtbot, console, s1)
    assert [e.path for e in history.entries] == [s1.path]
    assert history.entries[0].last_threshold == meta1["thresholds"][-1]["value"]
    assert history.table.item(0, 4).text() == f"{100 * meta1['blocks'][0]['reward_rate']:.0f} %"
    history.close()
    manual = meta1["thresholds"][-1]
    assert manual["source"] == "manual"
    # after the session, the controls are the protocol's rule again, the box off but offered
    assert console.auto_box.isChecked()
    found = _wait_lookup(qtbot, console)
    assert found is not None and found.path == s1.path
    assert found.last_threshold == manual["value"]
    assert box.isEnabled() and not box.isChecked()
    assert f"{manual['value']:.4g}" in box.toolTip() and s1.path.name in box.toolTip()
    assert found.inhibit_limits == {"amplitude": 80.0} and "amplitude 80" in box.toolTip()

    # --- a different protocol, or another client: nothing to reuse
    console.protocol_box.setCurrentText("other")
    assert _wait_lookup(qtbot, console) is None and not box.isEnabled()
    console.protocol_box.setCurrentText("short")
    console.client_box.setCurrentText("Someone Else")
    assert _wait_lookup(qtbot, console) is None and not box.isEnabled()
    console.client_box.setCurrentText("Reuse Client")
    assert _wait_lookup(qtbot, console) is not None

    # --- session 2, box ticked: it starts from session 1's last threshold; the eyes-open
    # baseline (the protocol's reference) does not replace it
    qtbot.mouseClick(box, LEFT, pos=QtCore.QPoint(5, box.height() // 2))
    assert box.isChecked()
    s2 = _start(qtbot, console)
    assert not box.isEnabled()  # a session is running
    _step(qtbot, s2, "baseline_eyes_closed")  # the eyes-open baseline has ended
    qtbot.waitUntil(lambda: len(s2.history.latest(10)) > 0)
    assert s2.snapshot().threshold == manual["value"]
    assert s2.runner.inhibit_limits["amplitude"] == 80.0  # the protocol's own is 100
    meta2 = _stop(qtbot, console, s2)
    first = meta2["thresholds"][0]
    assert first["value"] == manual["value"] and first["source"] == "reused"
    assert first["session"] == s1.path.name
    assert not [t for t in meta2["thresholds"] if t["source"] == "baseline"]
    rec2 = read_session(s2.path)
    assert np.all(rec2.frames["threshold"] == manual["value"])
    (limit,) = [e for e in rec2.events if e["kind"] == "inhibit_limit"]
    assert (limit["inhibit"], limit["value"], limit["sample_index"]) == (
        "amplitude",
        80.0,
        first["sample_index"],
    )
    assert not box.isChecked()  # never carried over to the next session

    # its report says where its threshold came from
    assert threshold_origin(rec2) == f"was reused from session {s1.path.name}"
    # a replay of session 2 with its own protocol starts from the reused threshold too
    again = replay(s2.path, s2.path.parent / "replayed")
    assert _thresholds(again) == _thresholds(s2.path)
    assert [e for e in read_session(again).events if e["kind"] == "inhibit_limit"] == [limit]
    assert np.array_equal(read_session(again).frames["threshold"], rec2.frames["threshold"])

    # --- session 3, box left off: the protocol's rule. Its 6 s baselines leave fewer usable
    # frames than a reference needs (the filters' warm-up), so the rule is the automatic
    # threshold of the training, 5 s into the first block: skip to it
    assert _wait_lookup(qtbot, console) is not None and not box.isChecked()
    s3 = _start(qtbot, console)
    assert np.isnan(s3.snapshot().threshold)  # no threshold before the rule sets one
    for name in ("baseline_eyes_open", "baseline_eyes_closed"):
        _step(qtbot, s3, name)
        console.skip_step()
    qtbot.waitUntil(lambda: len(s3.runner.thresholds) > 0, timeout=20000)
    assert s3.runner.inhibit_limits["amplitude"] == 100.0  # the protocol's own
    meta3 = _stop(qtbot, console, s3)
    first = meta3["thresholds"][0]
    assert first["source"] == "auto" and first["value"] != manual["value"]
    assert np.isnan(read_session(s3.path).frames["threshold"][0])
