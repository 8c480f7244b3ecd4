"""Electrode impedance on BrainFlow's real Cyton driver against the Cyton emulator.

The emulator answers the firmware's lead-off command ``z (CH, P, N) Z`` and, while a
channel's drive is on, adds the 31.25 Hz sine that the 6 nA drive makes across that
electrode's impedance and the 2.2 kΩ series resistor; nfb must read the impedance back.
Waiting is on sample counts, never on fixed sleeps.
"""

import json

import numpy as np
import pytest
from conftest import nfb_cli
from cyton_emulator import CytonEmulator

from nfb import impedance
from nfb.devices import load_profile
from nfb.stream import DeviceStream

OHM = {1: 5_000.0, 2: 30_000.0, 3: 200_000.0}  # good, check, bad; the rest: no contact (1 MΩ)


def test_impedance_of_each_electrode_and_the_board_streams_on():
    with CytonEmulator(impedance_ohm=OHM) as emu:
        stream = DeviceStream(load_profile("cyton", serial_port=emu.port))
        with stream:
            result = impedance.measure(stream, channels=[0, 1, 2])
            # after the check: streaming as before (2 s more), every drive off, no sine left
            n = stream.n_samples
            assert stream.acquisition.wait_samples(n + 500, timeout=30)
            eeg, _ = stream.latest_eeg(2.0)
        assert emu.lead_off == {1: "00", 2: "00", 3: "00"}
        assert emu.settings == ["z101Z", "z100Z", "z201Z", "z200Z", "z301Z", "z300Z"]
    for r, ohm in zip(result, OHM.values(), strict=True):
        assert r.kohm == pytest.approx(ohm / 1e3, rel=0.05)
    assert [r.verdict for r in result] == ["good", "check", "bad"]
    assert [r.name for r in result] == ["Fp1", "Fp2", "C3"]
    assert impedance.impedance_kohm(eeg[0], 250.0) < 1.0  # the drive is off again


def test_nfb_check_impedance_prints_every_electrode():
    with CytonEmulator(impedance_ohm=OHM) as emu:
        proc = nfb_cli("check", "--device", "cyton", "--serial-port", emu.port, "--impedance",
                       "--json", timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["impedance"]
    assert [r["name"] for r in rows] == ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]
    kohm = np.array([r["kohm"] for r in rows])
    assert kohm[:3] == pytest.approx([5.0, 30.0, 200.0], rel=0.05)
    assert np.all(kohm[3:] == pytest.approx(1000.0, rel=0.05))  # no contact
    assert [r["verdict"] for r in rows] == ["good", "check"] + ["bad"] * 6


def test_the_impedance_check_is_for_cyton_and_ganglion_boards():
    proc = nfb_cli("check", "--device", "synthetic", "--impedance")
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    assert (
        "the impedance check is for the Cyton and Ganglion boards; synthetic is SYNTHETIC_BOARD"
        in proc.stderr
    )


def test_leadoff_commands_and_verdicts():
    assert impedance.leadoff_command(0, True) == "z101Z"
    assert impedance.leadoff_command(8, True, side="P") == "zQ10Z"  # the Daisy's first channel
    assert impedance.leadoff_command(15, False) == "zI00Z"
    assert [impedance.verdict(k) for k in (0.5, 10.0, 10.1, 50.0, 50.1, float("inf"))] == [
        "good",
        "good",
        "check",
        "check",
        "bad",
        "bad",
    ]
    # the formula on a pure drive: Z = A / I - 2.2 kΩ for a sine of amplitude A
    t = np.arange(1000) / 250.0
    amp_uv = (12_000 + 2200) * 6e-9 * 1e6
    assert impedance.impedance_kohm(amp_uv * np.sin(2 * np.pi * 31.25 * t), 250.0) == (
        pytest.approx(12.0, rel=0.01)
    )


def test_the_console_shows_each_electrode_s_impedance(qtbot, own_windows, tmp_path):
    from PyQt6 import QtCore

    from nfb.gui.console import ConsoleWindow

    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    with CytonEmulator(impedance_ohm={c: 4_000.0 for c in range(1, 9)} | {5: 80_000.0}) as emu:
        console = own_windows(ConsoleWindow(tmp_path / "store", settings=settings))
        console.show()
        console.device_box.setCurrentText("cyton")
        console.serial_edit.setText(emu.port)
        assert not console.impedance_button.isEnabled()  # not connected yet
        qtbot.mouseClick(console.connect_button, QtCore.Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: console.stream is not None, timeout=20000)
        assert console.impedance_button.isEnabled()
        qtbot.mouseClick(console.impedance_button, QtCore.Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: console.last_impedance is not None, timeout=60000)
        table = console.impedance_table
        assert table.isVisible() and table.rowCount() == 8
        verdicts = [table.item(r, 2).text() for r in range(8)]
        assert verdicts == ["good"] * 4 + ["bad"] + ["good"] * 3
        assert float(table.item(4, 1).text()) == pytest.approx(80.0, rel=0.05)
        assert "impedance: check P7" in console.statusBar().currentMessage()
        # the head map beside the table: every electrode at its place, its kΩ and colour
        from nfb.gui.headmap import VERDICT_COLOURS

        qtbot.waitUntil(console.impedance_map.isVisible, timeout=5000)
        head = console.impedance_map
        assert [e.name for e in head.electrodes] == [
            "Fp1",
            "Fp2",
            "C3",
            "C4",
            "P7",
            "P8",
            "O1",
            "O2",
        ]
        p7 = head.electrode("P7")
        assert p7.verdict == "bad" and p7.text == f"{table.item(4, 1).text()} kΩ"
        assert p7.xy[0] < -0.5 and p7.xy[1] < -0.3  # left, behind
        assert head.electrode("Fp2").xy[0] > 0 and head.electrode("Fp2").xy[1] > 0.8
        assert head.electrode("C3").kohm == pytest.approx(4.0, rel=0.05)
        image = head.grab().toImage()
        image.save(str(tmp_path / "headmap.png"))
        console.grab().save(str(tmp_path / "console.png"))
        ratio = image.width() / head.width()  # a grab is in device pixels
        for name in ("P7", "Fp1", "O2"):
            at = head.electrode_centre(name)
            pixel = image.pixelColor(round(at.x() * ratio), round(at.y() * ratio))
            assert pixel.name() == VERDICT_COLOURS[head.electrode(name).verdict]
