"""The practitioner console drives a whole session on the synthetic board (pytest-qt).

Real parts: a QApplication (offscreen), BrainFlow's synthetic board, the session folder read
back. Waiting is on sample counts and script steps, never on fixed sleeps.
"""

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore, QtWidgets

import nfb
from nfb.feedback.level import FeedbackState
from nfb.gui.console import ConsoleWindow
from nfb.protocol import protocols_dir
from nfb.session.clients import ClientIndex, resolve_client

SHORT = """
name = "Short alpha/beta"
description = "A test protocol: 6 s baselines, two 8 s blocks."
[signal]
channels = ["Pz"]
[feedback]
feature = "alpha / beta"
[script]
baseline_eyes_open = 0.1
baseline_eyes_closed = 0.05
blocks = 2
block_min = 0.133
rest_min = 0.05
"""


def open_console(own_windows, tmp_path, monkeypatch=None, protocols=None):
    """A shown console with a client window, its store and settings in ``tmp_path``.

    ``protocols`` (name -> TOML text) are added beside the presets in a protocols folder of
    the test's own.
    """
    if protocols is not None:
        folder = tmp_path / "protocols"
        folder.mkdir()
        for p in protocols_dir().glob("*.toml"):
            shutil.copy(p, folder)
        for name, text in protocols.items():
            (folder / f"{name}.toml").write_text(text)
        monkeypatch.setenv("NFB_PROTOCOLS_DIR", str(folder))
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    from nfb.gui.client_window import ClientWindow

    state = FeedbackState()
    window = own_windows(
        ConsoleWindow(
            tmp_path / "sessions", settings=settings, client_window=ClientWindow(state), state=state
        )
    )
    window.show()
    return window


@pytest.fixture
def console(qtbot, own_windows, tmp_path, monkeypatch):
    return open_console(own_windows, tmp_path, monkeypatch, {"short": SHORT})


def start(qtbot, console, client, protocol="short"):
    """Start a session for ``client`` with the Start button; the session, at its first step."""
    console.client_box.setCurrentText(client)
    console.protocol_box.setCurrentText(protocol)
    qtbot.mouseClick(console.start_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session
    qtbot.waitUntil(lambda: session.snapshot().step is not None, timeout=30000)
    return session


def connect(qtbot, console, device="synthetic"):
    console.device_box.setCurrentText(device)
    qtbot.mouseClick(console.connect_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.stream is not None, timeout=20000)
    qtbot.waitUntil(
        lambda: console.stream.n_samples > 5.2 * console.stream.layout.sfreq, timeout=30000
    )


def answer(qtbot, console, yes: bool) -> None:
    """Answer the console's open question (stop? close?) with a click on one of its buttons."""
    qtbot.waitUntil(lambda: console.confirm_box is not None and console.confirm_box.isVisible())
    box = console.confirm_box
    role = QtWidgets.QMessageBox.ButtonRole
    want = role.AcceptRole if yes else role.RejectRole
    (button,) = [b for b in box.buttons() if box.buttonRole(b) == want]
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.confirm_box is None)


def test_a_whole_session_through_the_console(qtbot, console, tmp_path):
    click = QtCore.Qt.MouseButton.LeftButton
    connect(qtbot, console)
    assert console.device_state.text() == "streaming"
    # the raw traces and the spectrum are drawn from the monitor thread's views
    qtbot.waitUntil(lambda: console.traces.curve.getData()[0] is not None, timeout=5000)
    assert console.traces.n_channels == 16 and len(console.traces.curve.getData()[1]) % 16 == 0
    assert len(console.spectrum.curve.getData()[0]) > 10

    qtbot.mouseClick(console.check_button, click)
    qtbot.waitUntil(lambda: console.check_table.rowCount() == 16, timeout=10000)
    # the verdict is on the electrodes the chosen protocol trains (alpha-beta-up: Pz) first
    assert console.check_verdict.text().startswith(
        ("Trained Pz: GOOD", "Trained Pz: CHECK", "Trained Pz: BAD")
    )
    colours = {console.check_table.item(r, 4).background().color().name() for r in range(16)}
    assert len(colours) >= 2  # verdicts are colour-coded (the synthetic board has bad ones)

    console.client_box.setCurrentText("gui-test")
    console.protocol_box.setCurrentText("short")
    assert "A test protocol" in console.protocol_text.text()
    console.rating_before.setValue(6)
    qtbot.mouseClick(console.start_button, click)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session
    path = session.path

    # markers with one key (and a note), during the first block
    qtbot.waitUntil(
        lambda: session.snapshot().step is not None and session.snapshot().step.name == "block",
        timeout=30000,
    )
    console.marker_note.setText("client yawned")
    qtbot.keyClick(console, QtCore.Qt.Key.Key_M)
    qtbot.keyClick(console, QtCore.Qt.Key.Key_M)
    # pause and resume with the space bar
    qtbot.keyClick(console, QtCore.Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: session.snapshot().paused, timeout=5000)
    qtbot.waitUntil(lambda: "PAUSED" in console.step_label.text(), timeout=2000)
    qtbot.keyClick(console, QtCore.Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not session.snapshot().paused, timeout=5000)
    # the feature plot, the latency readout and the client's feedback state are live
    qtbot.waitUntil(lambda: console.latency_ms is not None, timeout=5000)
    assert 0 <= console.latency_ms < 1000
    assert "latency" in console.status_latency.text()
    t, _ = console.feature.value.getData()
    assert t is not None and len(t) > 10
    qtbot.waitUntil(lambda: console.state.active, timeout=5000)
    # the two markers are lines on the feature plot; the trained Pz is highlighted
    qtbot.waitUntil(lambda: len(console.feature.markers) == 2, timeout=5000)
    assert [m.label.format for m in console.feature.markers] == ["m1", "m2"]
    assert console.traces.highlighted == [console.stream.layout.ch_names.index("Pz")]

    console.rating_after.setValue(3)
    qtbot.mouseClick(console.stop_button, click)
    answer(qtbot, console, yes=True)
    qtbot.waitUntil(lambda: console.session is None and session.finished, timeout=10000)
    qtbot.waitUntil(lambda: console.step_label.text().startswith("session"), timeout=10000)

    rec = nfb.read_session(path)
    # filed under the pseudonymous id that the store's index gives the name
    assert rec.meta["client"] == ClientIndex(path.parent.parent).find("gui-test")
    assert path.parent.name == rec.meta["client"] != "gui-test"
    assert rec.meta["status"] == "stopped"
    assert rec.meta["ratings"] == {"anxiety_before": 6, "anxiety_after": 3}
    assert rec.meta["protocol"]["name"] == "Short alpha/beta"
    markers = [e for e in rec.events if e["kind"] == "marker"]
    assert [m["label"] for m in markers] == ["m1", "m2"]
    assert markers[0]["note"] == "client yawned" and markers[1]["note"] == ""
    kinds = [e["kind"] for e in rec.events]
    assert "pause" in kinds and "resume" in kinds and kinds[-1] == "stop"
    assert len(rec.frames) > 100
    assert np.all(np.diff(rec.frames["sample_index"]) == 4)
    assert rec.raw.ch_names[:3] == ["Fz", "C3", "Cz"]
    assert any(d.startswith("marker/") for d in rec.raw.annotations.description)
    # the board stays connected for the next session; the client list knows the new client
    assert console.stream is not None and console.stream.state == "streaming"
    assert console.client_box.findText("gui-test") >= 0


def test_settings_are_remembered(qtbot, console, own_windows, tmp_path):
    cid = resolve_client("Some One", tmp_path / "sessions")
    console.protocol_box.setCurrentText("smr-up")
    console.client_box.setCurrentText("some  one")
    console.mode_box.setCurrentText("circle")
    console.save_settings()
    # the settings file is outside the private store: the id only, never the name
    settings_text = Path(console.settings.fileName()).read_text()
    assert cid in settings_text and "some one" not in settings_text.lower()
    again = own_windows(ConsoleWindow(tmp_path / "sessions", settings=console.settings))
    assert again.protocol_box.currentText() == "smr-up"
    assert again.client_box.currentText() == "Some One"
    assert again.mode_box.currentText() == "circle"
    # a name the store does not know yet is not remembered at all
    again.client_box.setCurrentText("Not Yet A Client")
    again.save_settings()
    assert "not yet" not in Path(console.settings.fileName()).read_text().lower()


def test_a_wrong_serial_port_is_a_status_message(qtbot, console):
    console.device_box.setCurrentText("cyton")
    console.serial_edit.setText("/dev/does-not-exist")
    qtbot.mouseClick(console.connect_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "does-not-exist" in console.statusBar().currentMessage(), timeout=10000)
    assert console.stream is None
    assert console.device_state.text() == "not connected"


def test_file_playback_of_a_recorded_eeg_file(qtbot, console, tmp_path):
    import mne

    sfreq, seconds = 250.0, 40
    t = np.arange(int(sfreq * seconds)) / sfreq
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, t.size)) * 5e-6
    data[2] += 20e-6 * np.sin(2 * np.pi * 10 * t)  # alpha at Pz
    raw = mne.io.RawArray(
        data, mne.create_info(["O1", "O2", "Pz", "Cz"], sfreq, "eeg"), verbose="error"
    )
    edf = tmp_path / "recording.edf"
    mne.export.export_raw(edf, raw, fmt="edf", verbose="error")

    console.file_edit.setText(str(edf))
    connect(qtbot, console, device="file")
    assert list(console.stream.layout.ch_names) == ["O1", "O2", "Pz", "Cz"]
    assert console.traces.n_channels == 4
    console.client_box.setCurrentText("file-test")
    console.protocol_box.setCurrentText("short")
    qtbot.mouseClick(console.start_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session
    qtbot.waitUntil(lambda: len(session.history.latest()) > 150, timeout=20000)
    qtbot.mouseClick(console.stop_button, QtCore.Qt.MouseButton.LeftButton)
    answer(qtbot, console, yes=True)
    qtbot.waitUntil(lambda: session.finished and console.session is None, timeout=10000)
    rec = nfb.read_session(session.path)
    assert rec.meta["device"]["name"] == "file"
    assert rec.raw.ch_names == ["O1", "O2", "Pz", "Cz"]
    # the played samples are the file's: row 0 numbers them within the file (µV vs V)
    played = rec.samples[0].astype(int)
    assert np.all(np.diff(played) == 1)
    file_pz = mne.io.read_raw_edf(edf, verbose="error").get_data()[2]
    pz_row = rec.meta["layout"]["eeg_rows"][2]
    np.testing.assert_allclose(rec.samples[pz_row], file_pz[played] * 1e6, atol=1e-3)
    alpha = rec.frames["alpha"][rec.frames["time_s"] > 2]
    assert np.median(alpha) > 10  # the 20 µV alpha of Pz comes through


def test_status_bar_says_whether_there_is_sound(qtbot, own_windows, tmp_path, monkeypatch):
    # no reachable sound server: the app says so and carries on
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent")
    from nfb.gui.audio import AudioFeedback

    state = FeedbackState()
    audio = AudioFeedback(state)
    started = audio.start()
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    window = own_windows(
        ConsoleWindow(tmp_path / "sessions", settings=settings, audio=audio, state=state)
    )
    window.refresh()
    if started:  # a server was reachable anyway (e.g. a desktop session): the label says so
        assert window.status_audio.text() == "sound on"
    else:
        assert "sound is off" in window.status_audio.text()


def test_closing_while_connecting_releases_the_board(qtbot, console):
    console.device_box.setCurrentText("synthetic")
    console.connect_device()
    # the worker builds the stream; its result waits for the event loop, which does not run
    deadline = time.monotonic() + 20
    while console._pending_stream is None and time.monotonic() < deadline:
        time.sleep(0.001)
    stream = console._pending_stream
    assert stream is not None
    console.shutdown()  # the window closes before the worker has finished connecting
    assert stream.state in ("stopped", "idle", "failed")
    assert not stream.acquisition.is_alive


def test_the_client_window_leaves_the_pacer_when_no_rest_is_running(qtbot, console):
    console.mode_box.setCurrentText("circle")
    console.client_window.set_mode("pacer")  # as during a rest
    console.refresh()
    assert console.client_window.mode == "circle"


def test_after_rating_and_manual_threshold_reach_the_session(qtbot, console):
    connect(qtbot, console)
    console.client_box.setCurrentText("ratings")
    console.protocol_box.setCurrentText("short")
    console.rating_before.setValue(7)
    console.auto_box.setChecked(False)  # manual before the start: the engine must follow
    qtbot.mouseClick(console.start_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session
    qtbot.waitUntil(lambda: session.runner.threshold_mode == "manual", timeout=5000)
    # the script ends on its own; the rating is given afterwards and still saved
    session.command("stop", reason="user")
    qtbot.waitUntil(lambda: console.session is None and console._busy == 0, timeout=10000)
    console.rating_after.setValue(2)
    meta = nfb.read_session(session.path).meta
    assert meta["ratings"] == {"anxiety_before": 7, "anxiety_after": 2}
    assert console.rating_before.value() == -1  # the next session starts unrated


@pytest.mark.slow
def test_the_console_shows_a_board_dropping_out_and_coming_back(qtbot, console):
    """BrainFlow's real Cyton driver on an emulated Cyton that falls silent, then returns."""
    from cyton_emulator import CytonEmulator

    with CytonEmulator() as emu:
        console.device_box.setCurrentText("cyton")
        console.serial_edit.setText(emu.port)
        connect(qtbot, console, device="cyton")
        assert console.device_state.text() == "streaming"
        emu.power_off()
        qtbot.waitUntil(
            lambda: console.device_state.text() in ("disconnected", "reconnecting"),
            timeout=30000,
        )
        seen = console.stream.n_samples
        emu.power_on()
        qtbot.waitUntil(lambda: console.device_state.text() == "streaming", timeout=60000)
        qtbot.waitUntil(lambda: console.stream.n_samples > seen + 250, timeout=30000)


def test_a_network_board_takes_its_address_from_the_console(qtbot, console):
    console.device_box.setCurrentText("cyton-wifi")
    assert console.ip_edit.isEnabled() and console.ip_edit.text() == "192.168.4.1"
    assert not console.serial_edit.isEnabled()
    console.ip_edit.clear()
    qtbot.keyClicks(console.ip_edit, "bad host!")
    qtbot.mouseClick(console.connect_button, QtCore.Qt.MouseButton.LeftButton)
    # in the console's words (the field's label, not the command line's option), until dismissed
    assert console.error_bar.isVisible()
    assert console.error_text.text().startswith("IP address: a host name or an IP address")
    assert console.stream is None
    console.device_box.setCurrentText("synthetic")
    assert not console.ip_edit.isEnabled()
