"""Finding the board: serial ports and BLE headsets, and why a port will not open.

pyserial's ``comports()`` and bleak's ``BleakScanner.discover`` are faked only at their
boundary (they return pyserial's and bleak's own types); ports are real pseudo-terminals
served by the Cyton emulator; permissions are real (a process without the capabilities that
let root open anything).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from cyton_emulator import CytonEmulator
from serial.tools.list_ports_common import ListPortInfo

from nfb import ports
from nfb.cli import main
from nfb.devices import load_profile, open_source
from nfb.errors import ConfigError, DeviceError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _port(device, vid=None, pid=None, description="n/a", serial_number=None):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description, info.serial_number = vid, pid, description, serial_number
    return info


@pytest.fixture
def fake_comports(monkeypatch):
    """pyserial sees a UART, OpenBCI's FTDI dongle and a BLED112."""
    from serial.tools import list_ports

    found = [
        _port("/dev/ttyS0"),
        _port("/dev/ttyUSB0", 0x0403, 0x6015, "FT231X USB UART", "DM00Q0QN"),
        _port("/dev/ttyACM0", 0x2458, 0x0001, "Low Energy Dongle"),
    ]
    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: list(found))
    return found


def _ble(found):
    """A BleakScanner.discover that answers (device, advertisement) pairs like bleak's."""

    async def discover(timeout=5.0, *, return_adv=False, **kwargs):
        assert return_adv and timeout > 0
        return {
            addr: (
                BLEDevice(addr, name, None),
                AdvertisementData(name, {}, {}, [], None, rssi, ()),
            )
            for addr, name, rssi in found
        }

    return discover


TWO_MUSES = [
    ("00:55:DA:B0:12:34", "Muse-1A2B", -60),
    ("00:55:DA:B0:56:78", "Muse-3C4D", -70),
    ("11:22:33:44:55:66", "JBL Flip 5", -40),
]


@pytest.fixture
def fake_ble(monkeypatch):
    from bleak import BleakScanner

    def set_found(found):
        monkeypatch.setattr(BleakScanner, "discover", staticmethod(_ble(found)))

    set_found(TWO_MUSES)
    return set_found


# --- serial ports -----------------------------------------------------------------------------
def test_serial_ports_pick_out_the_dongles(fake_comports):
    found = ports.list_serial_ports()
    assert [p.device for p in found] == ["/dev/ttyACM0", "/dev/ttyUSB0", "/dev/ttyS0"]
    by = {p.device: p for p in found}
    assert by["/dev/ttyUSB0"].kind == "OpenBCI dongle (FTDI)"
    assert by["/dev/ttyUSB0"].usb_id == "0403:6015"
    assert by["/dev/ttyACM0"].kind == "BLED112 (Ganglion dongle)"
    assert by["/dev/ttyS0"].usb_id == "" and by["/dev/ttyS0"].kind == ""


def test_port_names_of_every_platform():
    for name in ("/dev/ttyUSB0", "/dev/cu.usbserial-DM00Q0QN", "COM3", "com12", r"\\.\COM10"):
        assert ports.is_port_name(name), name
    for name in ("ttyUSB0", "COM", "COMx", "", "00:55:DA:B0:12:34"):
        assert not ports.is_port_name(name), name


def test_a_windows_port_name_elsewhere_says_so():
    with pytest.raises(ConfigError, match=r"--serial-port: serial port 'COM3' is a Windows port"):
        load_profile("cyton", serial_port="COM3")


# --- BLE ------------------------------------------------------------------------------------
def test_ble_scan_finds_headsets_by_name(fake_ble):
    found = ports.scan_ble(0.5)
    assert [(h.name, h.kind, h.rssi) for h in found] == [
        ("Muse-1A2B", "Muse", -60),
        ("Muse-3C4D", "Muse", -70),
    ]


def test_ble_without_bleak_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "bleak", None)  # import bleak -> ImportError
    with pytest.raises(ports.BleUnavailable) as exc:
        ports.scan_ble(0.5)
    assert "bleak library is not installed" in str(exc.value) and "\n" not in str(exc.value)


def test_ble_without_a_bluetooth_stack_is_one_line():
    # the real bleak on this machine: no BlueZ (no D-Bus system bus) -> one line, no traceback
    try:
        found = ports.scan_ble(0.5)
    except ports.BleUnavailable as err:
        assert str(err).startswith("Bluetooth LE scan unavailable (") and "\n" not in str(err)
    else:  # a machine with Bluetooth: a list (likely empty)
        assert isinstance(found, list)


def test_blank_mac_with_two_muses_in_range_is_refused_with_the_list(fake_ble):
    source = open_source(load_profile("muse-2"))
    with pytest.raises(DeviceError) as exc:
        source.open()  # refused before BrainFlow searches for "the first Muse"
    msg = str(exc.value)
    assert msg == (
        "cannot open muse-2: 2 Muse headsets in range and no MAC address given: "
        "Muse-1A2B (00:55:DA:B0:12:34), Muse-3C4D (00:55:DA:B0:56:78); choose one with "
        "--mac (or Scan in the console)"
    )
    assert source._board is None


def test_blank_mac_with_one_headset_takes_it_and_keeps_it(fake_ble):
    fake_ble([TWO_MUSES[1], TWO_MUSES[2]])
    source = open_source(load_profile("muse-2"))
    source._choose_headset()
    assert source.connection["mac_address"] == "00:55:DA:B0:56:78"  # a reconnect goes back
    # a Ganglion profile is not fooled by Muses
    assert ports.choose_headset("Ganglion", scan=lambda: ports.scan_ble(0.5)) is None


def test_a_given_mac_is_never_second_guessed(fake_ble):
    source = open_source(load_profile("muse-2", mac="00:55:DA:B0:12:34"))
    source._choose_headset()
    assert source.connection["mac_address"] == "00:55:DA:B0:12:34"


# --- nfb devices --scan ------------------------------------------------------------------------
def test_devices_scan_json(fake_comports, fake_ble, capsys):
    assert main(["devices", "--scan", "--json", "--ble-timeout", "0.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [p["device"] for p in out["serial_ports"]][:2] == ["/dev/ttyACM0", "/dev/ttyUSB0"]
    assert out["serial_ports"][1]["usb_id"] == "0403:6015"
    assert [h["name"] for h in out["headsets"]] == ["Muse-1A2B", "Muse-3C4D"]
    assert out["notes"] == []


def test_devices_scan_text(fake_comports, fake_ble, capsys):
    assert main(["devices", "--scan", "--ble-timeout", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "--device cyton --serial-port /dev/ttyUSB0" in out
    assert "--device ganglion --serial-port /dev/ttyACM0" in out
    assert "Muse-1A2B" in out and "--mac 00:55:DA:B0:12:34" in out
    assert "JBL" not in out


def test_devices_scan_without_ble_still_lists_ports(fake_comports, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bleak", None)
    assert main(["devices", "--scan", "--ble-timeout", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "/dev/ttyUSB0" in out
    assert out.strip().splitlines()[-1].startswith("Note: Bluetooth LE scan unavailable")


def test_devices_scan_refuses_a_bad_timeout(capsys):
    assert main(["devices", "--scan", "--ble-timeout", "-1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "nfb devices: error: --ble-timeout: must be seconds from 0 to 120, got -1"
    )


# --- why a port will not open --------------------------------------------------------------
def test_absent_port(tmp_path):
    gone = tmp_path / "ttyUSB9"
    assert ports.port_problem(str(gone)).startswith(f"serial port {gone} does not exist (serial")
    source = open_source(load_profile("cyton", serial_port="/dev/null"))
    source.connection["serial_port"] = str(gone)  # unplugged after the profile was loaded
    with pytest.raises(DeviceError, match=f"cannot open cyton: serial port {gone} does not"):
        source.open()


def test_busy_port():
    with CytonEmulator() as emu:
        assert ports.port_problem(emu.port) is None
        holder = os.open(emu.port, os.O_RDWR | os.O_NOCTTY)
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as pyserial's exclusive mode
            assert ports.port_problem(emu.port) == (
                f"serial port {emu.port} is busy: another program has it open (the OpenBCI "
                f"GUI, a serial monitor, another nfb); close it and connect again"
            )
        finally:
            os.close(holder)
        assert ports.port_problem(emu.port) is None


def _without_root_powers(*cmd):
    """Run as root without the capabilities that let root open any file."""
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", *cmd]


@pytest.mark.skipif(not shutil.which("setpriv") or os.geteuid() != 0, reason="needs setpriv, root")
def test_port_without_permission_names_the_group(tmp_path):
    with CytonEmulator() as emu:
        # as a USB serial port on Debian: crw-rw---- root:dialout, and we are not in dialout
        os.chown(emu.port, 65534, 20)
        os.chmod(emu.port, 0o660)
        import grp

        group = grp.getgrgid(20).gr_name
        env = {
            **os.environ,
            "NFB_CONFIG_DIR": str(tmp_path / "c"),
            "NFB_SESSIONS_DIR": str(tmp_path / "s"),
        }
        cmd = [sys.executable, "-m", "nfb.cli", "check", "--device", "cyton",
               "--serial-port", emu.port, "--seconds", "1"]  # fmt: skip
        proc = subprocess.run(
            _without_root_powers(*cmd), capture_output=True, text=True, env=env, cwd=ROOT,
            timeout=120,
        )
    assert proc.returncode != 0
    assert proc.stderr.strip() == (
        f"nfb check: error: cannot open cyton: serial port {emu.port}: permission denied; "
        f"the port belongs to group '{group}': `sudo usermod -aG {group} $USER`, then log out "
        f"and in again"
    )


# --- the FTDI latency timer ---------------------------------------------------------------------
def _sysfs(root, tty, ms):
    d = root / "bus" / "usb-serial" / "devices" / tty
    d.mkdir(parents=True)
    (d / "latency_timer").write_text(f"{ms}\n")
    return root


def test_latency_timer_above_1_ms_is_a_warning_with_the_fix(tmp_path):
    sysfs = _sysfs(tmp_path / "sys", "ttyUSB0", 16)
    link = tmp_path / "usb-FTDI_FT231X_USB_UART_DM00Q0QN-if00-port0"
    real = tmp_path / "ttyUSB0"
    real.touch()
    link.symlink_to(real)  # /dev/serial/by-id/... links are followed
    assert ports.latency_timer_ms(str(link), sysfs) == 16
    assert ports.latency_warning(str(link), sysfs) == (
        f"serial port {link}: the FTDI latency timer is 16 ms, so the board's samples arrive "
        f"in bursts; set it to 1 ms: `echo 1 | sudo tee "
        f"/sys/bus/usb-serial/devices/ttyUSB0/latency_timer` (until the dongle is unplugged; "
        f"the README has a udev rule that keeps it)"
    )
    (sysfs / "bus/usb-serial/devices/ttyUSB0/latency_timer").write_text("1\n")
    assert ports.latency_warning(str(real), sysfs) is None
    assert ports.latency_warning("/dev/ttyACM0", sysfs) is None  # not FTDI: no timer
    assert ports.latency_warning("COM3", sysfs) is None


def test_check_warns_about_the_latency_timer_and_an_explicit_port_works(
    tmp_path, monkeypatch, capsys
):
    with CytonEmulator() as emu:
        sysfs = _sysfs(tmp_path / "sys", os.path.basename(emu.port), 16)
        monkeypatch.setenv("NFB_SYSFS_ROOT", str(sysfs))
        code = main(["check", "--device", "cyton", "--serial-port", emu.port, "--seconds", "1",
                     "--mains-hz", "60"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Device: cyton (CYTON_BOARD), mains 60 Hz"
    assert lines[1].startswith(f"Warning: serial port {emu.port}: the FTDI latency timer is 16 ms")
    assert "mains µV 60±2 Hz" in out  # the check looked at 60 Hz


# --- the mains frequency of a run -------------------------------------------------------------
def test_mains_per_run_is_recorded_and_reported(tmp_path, capsys):
    code = main(["run", "--device", "synthetic", "--protocol", "alpha-up", "--client", "c60",
                 "--mains-hz", "60", "--duration", "2"])  # fmt: skip
    assert code == 0
    folder = capsys.readouterr().out.strip().splitlines()[-1]
    meta = json.loads((Path(folder) / "session.json").read_text())
    assert meta["device"]["mains_hz"] == 60
    assert meta["protocol"]["signal"]["notch_hz"] == "mains"  # so the notch sat at 60 Hz
    out = tmp_path / "r.html"
    assert main(["report", folder, "--out", str(out)]) == 0
    assert "60 Hz (notch at 60 Hz)" in out.read_text()
