"""The console's connect panel: scan, built-in or user profile, mains frequency, warnings.

Real parts: a QApplication (offscreen), BrainFlow's synthetic board and the Cyton emulator on
a pty; pyserial's ``comports()`` and bleak's ``discover`` faked at their boundary only.
"""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("pytestqt")

from cyton_emulator import CytonEmulator
from PyQt6 import QtCore
from test_ports import TWO_MUSES, _sysfs, fake_ble, fake_comports  # noqa: F401

from nfb.feedback.level import FeedbackState
from nfb.gui.console import ConsoleWindow

SHORT = """
name = "Short alpha"
description = "4 s of a session."
[signal]
channels = ["Pz"]
[feedback]
feature = "alpha"
[script]
baseline_eyes_open = 0.0
baseline_eyes_closed = 0.0
blocks = 1
block_min = 0.07
rest_min = 0.0
"""


def _console(tmp_path, own_windows, sessions_dir=None):
    from nfb.gui.client_window import ClientWindow

    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    state = FeedbackState()
    window = own_windows(
        ConsoleWindow(
            sessions_dir, settings=settings, client_window=ClientWindow(state), state=state
        )
    )
    window.show()
    return window


@pytest.fixture
def user_presets(tmp_path):
    config = tmp_path / "user-config"  # NFB_CONFIG_DIR of conftest
    (config / "devices").mkdir(parents=True)
    (config / "protocols").mkdir(parents=True)
    (config / "devices" / "synthetic.toml").write_text(
        'description = "Ours"\nboard = "SYNTHETIC_BOARD"\nmains_hz = 60\n'
    )
    (config / "protocols" / "short.toml").write_text(SHORT)
    return config


def test_scan_fills_the_port_and_the_mac(
    qtbot, own_windows, tmp_path, fake_comports, fake_ble  # noqa: F811
):
    console = _console(tmp_path, own_windows, tmp_path / "sessions")
    console.device_box.setCurrentText("ganglion")  # a serial port and a MAC
    console.scan_devices(ble_timeout=0.5)
    qtbot.waitUntil(lambda: console.scan_box.count() == 5, timeout=10000)
    labels = [console.scan_box.itemText(i) for i in range(console.scan_box.count())]
    assert labels[0] == "/dev/ttyACM0: BLED112 (Ganglion dongle) [USB 2458:0001]"
    assert labels[1] == "/dev/ttyUSB0: OpenBCI dongle (FTDI) [USB 0403:6015]"
    assert labels[3:] == ["Muse-1A2B (00:55:DA:B0:12:34)", "Muse-3C4D (00:55:DA:B0:56:78)"]
    console.scan_box.activated.emit(0)
    assert console.serial_edit.text() == "/dev/ttyACM0"
    console.scan_box.activated.emit(4)
    assert console.mac_edit.text() == "00:55:DA:B0:56:78"
    # a profile without a serial port refuses a port, in the status bar
    console.device_box.setCurrentText("muse-2")
    console.scan_box.activated.emit(1)
    assert "does not connect by serial port" in console.statusBar().currentMessage()


def test_profiles_say_built_in_or_user(qtbot, own_windows, tmp_path, user_presets):
    console = _console(tmp_path, own_windows, tmp_path / "sessions")
    console.device_box.setCurrentText("cyton")
    assert console.device_origin.text() == "built-in profile"
    console.device_box.setCurrentText("synthetic")
    path = user_presets / "devices" / "synthetic.toml"
    assert console.device_origin.text() == f"user (replaces built-in) profile: {path}"
    index = console.device_box.findText("synthetic")
    tip = console.device_box.itemData(index, QtCore.Qt.ItemDataRole.ToolTipRole)
    assert tip == f"user (replaces built-in): {path}"
    console.protocol_box.setCurrentText("short")
    assert console.protocol_text.text().endswith("user protocol")
    console.protocol_box.setCurrentText("alpha-up")
    assert console.protocol_text.text().endswith("built-in protocol")


def test_mains_is_remembered_and_recorded(qtbot, own_windows, tmp_path, user_presets):
    sessions = tmp_path / "sessions"
    console = _console(tmp_path, own_windows, sessions)
    console.device_box.setCurrentText("synthetic")
    console.set_mains_hz(50)  # the practitioner's choice wins over the profile's 60
    console.protocol_box.setCurrentText("short")
    console.client_box.setCurrentText("Anna K")
    console.connect_device()
    qtbot.waitUntil(lambda: console.stream is not None, timeout=20000)
    assert console.stream.profile.mains_hz == 50
    console.start_session()
    qtbot.waitUntil(lambda: console.session is not None, timeout=30000)
    path = console.last_session_path
    qtbot.waitUntil(lambda: console.session.snapshot().sample_index > 250, timeout=30000)
    console.stop_session()
    qtbot.waitUntil(lambda: console.session is None and console._busy == 0, timeout=30000)
    meta = json.loads((path / "session.json").read_text())
    assert meta["status"] in ("stopped", "complete")
    assert meta["device"]["mains_hz"] == 50
    console.save_settings()
    console.disconnect_device()
    qtbot.waitUntil(lambda: console._busy == 0, timeout=20000)
    again = _console(tmp_path, own_windows, sessions)
    assert again.mains_hz() == 50
    again.set_mains_hz(60)
    again.save_settings()
    assert _console(tmp_path, own_windows, sessions).mains_hz() == 60


def test_latency_timer_warning_on_connect(qtbot, own_windows, tmp_path, monkeypatch):
    console = _console(tmp_path, own_windows, tmp_path / "sessions")
    with CytonEmulator() as emu:
        sysfs = _sysfs(tmp_path / "sys", os.path.basename(emu.port), 16)
        monkeypatch.setenv("NFB_SYSFS_ROOT", str(sysfs))
        console.device_box.setCurrentText("cyton")
        console.serial_edit.setText(emu.port)
        console.connect_device()
        assert console.device_warning.text().startswith(
            f"serial port {emu.port}: the FTDI latency timer is 16 ms"
        )
        qtbot.waitUntil(lambda: console.stream is not None, timeout=30000)
        qtbot.waitUntil(lambda: console.stream.n_samples > 100, timeout=30000)
        console.disconnect_device()
        qtbot.waitUntil(lambda: console._busy == 0, timeout=20000)
    assert not console.device_warning.isHidden()


def test_an_old_store_in_the_current_folder_is_pointed_out(
    qtbot, own_windows, tmp_path, monkeypatch
):
    monkeypatch.delenv("NFB_SESSIONS_DIR")
    old = tmp_path / "cwd" / "sessions" / "c-0001" / "20250101-120000-alpha-up"
    old.mkdir(parents=True)
    (old / "session.json").write_text("{}")
    monkeypatch.chdir(tmp_path / "cwd")
    console = _console(tmp_path, own_windows)
    assert console.sessions_dir == tmp_path / "user-data" / "sessions"
    message = console.statusBar().currentMessage()
    assert message.startswith(f"sessions found in {tmp_path / 'cwd' / 'sessions'}, the default")
    assert (old / "session.json").read_text() == "{}"
