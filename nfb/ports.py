"""Finding the board: serial ports, Bluetooth LE headsets, and why a port cannot be opened.

* :func:`list_serial_ports`: the computer's serial ports with their USB ids (pyserial's
  ``list_ports``), picking out OpenBCI's dongle (FTDI 0403:6015, Cyton) and the BLED112
  (2458:0001, Ganglion).
* :func:`scan_ble`: Muse and Ganglion headsets in range, by name, through ``bleak`` with a
  timeout. A computer without a usable BLE stack gets one line (:class:`BleUnavailable`).
* :func:`choose_headset`: a blank MAC with several matching headsets in range is refused with
  the list, never "the first one found".
* :func:`port_problem`: whether a port that will not open is absent, busy or not permitted
  (with the Linux group to join); :func:`latency_warning`: an FTDI latency timer above 1 ms
  on Linux, with the command that fixes it.

Engine side: no Qt. Platform-specific modules are imported inside the functions.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ._logging import logger
from .errors import DeviceError

#: USB (vendor, product) ids worth naming, and what they are.
KNOWN_USB = {
    (0x0403, 0x6015): "OpenBCI dongle (FTDI)",
    (0x2458, 0x0001): "BLED112 (Ganglion dongle)",
}
#: Name prefixes of the BLE headsets nfb knows, by kind.
HEADSET_PREFIXES = {"Muse": ("Muse",), "Ganglion": ("Ganglion", "Simblee")}
#: Seconds a Bluetooth LE scan lasts by default.
BLE_TIMEOUT_S = 5.0
#: Linux sysfs root (``$NFB_SYSFS_ROOT`` replaces it, for tests).
SYSFS_ROOT = "/sys"

_COM_RE = re.compile(r"^(\\\\\.\\)?COM[0-9]+$", re.IGNORECASE)


class BleUnavailable(DeviceError):
    """The computer cannot scan for Bluetooth LE devices (no library, adapter or service)."""


# --- serial ports -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SerialPort:
    """One serial port.

    Attributes
    ----------
    device : str
        What to pass as ``--serial-port``: ``/dev/ttyUSB0``, ``/dev/cu.usbserial-DM00``, ``COM3``.
    vid, pid : int | None
        USB vendor and product id (None for a port that is not USB).
    description : str
    serial_number : str
    kind : str
        ``"OpenBCI dongle (FTDI)"``, ``"BLED112 (Ganglion dongle)"`` or ``""``.
    """

    device: str
    vid: int | None
    pid: int | None
    description: str = ""
    serial_number: str = ""
    kind: str = ""

    @property
    def usb_id(self) -> str:
        """``"0403:6015"``, or ``""`` for a port that is not USB."""
        if self.vid is None or self.pid is None:
            return ""
        return f"{self.vid:04x}:{self.pid:04x}"

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (``usb_id`` included)."""
        return {**asdict(self), "usb_id": self.usb_id}


def list_serial_ports() -> list[SerialPort]:
    """The serial ports pyserial finds, OpenBCI's dongles first.

    Raises
    ------
    DeviceError
        If pyserial is not installed.
    """
    try:
        from serial.tools import list_ports
    except ImportError as err:
        raise DeviceError(f"cannot list serial ports: pyserial is not installed ({err})") from None
    out = []
    for info in list_ports.comports():
        vid, pid = getattr(info, "vid", None), getattr(info, "pid", None)
        out.append(
            SerialPort(
                device=str(info.device),
                vid=vid,
                pid=pid,
                description=str(getattr(info, "description", "") or ""),
                serial_number=str(getattr(info, "serial_number", "") or ""),
                kind=KNOWN_USB.get((vid, pid), ""),
            )
        )
    return sorted(out, key=lambda p: (p.kind == "", p.device))


def is_port_name(text: str) -> bool:
    """Whether ``text`` names a serial port: a path (``/dev/ttyUSB0``) or ``COM3``."""
    return text.startswith("/") or bool(_COM_RE.match(text))


def _ports_here() -> str:
    try:
        ports = list_serial_ports()
    except DeviceError:
        return "cannot list them"
    return ", ".join(p.device + (f" ({p.kind})" if p.kind else "") for p in ports) or "none found"


def port_problem(port: str) -> str | None:
    """Why ``port`` cannot be opened, in one line, or None when it opens.

    Tells apart a port that is absent, one the user may not open (naming the group of the
    device node on Linux and macOS, e.g. ``dialout``/``uucp``, and how to join it) and one that
    is busy (another program holds it: an exclusive lock or ``EBUSY``; on Windows "access
    denied").
    """
    if sys.platform == "win32":
        return _windows_port_problem(port)
    if _COM_RE.match(port):
        return (
            f"serial port {port!r} is a Windows port name; here ports are paths such as "
            f"/dev/ttyUSB0 (serial ports here: {_ports_here()})"
        )
    if not os.path.exists(port):
        return f"serial port {port} does not exist (serial ports here: {_ports_here()})"
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM):
            return _permission_message(port)
        if err.errno == errno.EBUSY:
            return _busy_message(port)
        if err.errno in (errno.ENOENT, errno.ENXIO, errno.ENODEV):
            return f"serial port {port} is gone (unplugged?) (serial ports here: {_ports_here()})"
        return f"serial port {port} cannot be opened: {err.strerror}"
    try:
        import fcntl

        try:  # pyserial (exclusive=True), the OpenBCI GUI, another nfb: an advisory lock
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return _busy_message(port)
            raise
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    return None


def _permission_message(port: str) -> str:
    group = _node_group(port)
    if sys.platform.startswith("linux"):
        join = group or "dialout"
        return (
            f"serial port {port}: permission denied; the port belongs to group {join!r}: "
            f"`sudo usermod -aG {join} $USER`, then log out and in again"
        )
    who = f" (group {group!r})" if group else ""
    return f"serial port {port}: permission denied{who}; ask an administrator for access"


def _busy_message(port: str) -> str:
    return (
        f"serial port {port} is busy: another program has it open (the OpenBCI GUI, a serial "
        f"monitor, another nfb); close it and connect again"
    )


def _node_group(port: str) -> str | None:
    try:
        import grp

        return grp.getgrgid(os.stat(port).st_gid).gr_name
    except (ImportError, KeyError, OSError):
        return None


def _windows_port_problem(port: str) -> str | None:  # pragma: no cover - Windows only
    name = port.upper().removeprefix("\\\\.\\")
    try:
        import serial

        serial.Serial(port).close()
    except ImportError:
        return None
    except Exception as err:
        text = str(err)
        if "FileNotFoundError" in text or "cannot find" in text.lower():
            return f"serial port {name} does not exist (serial ports here: {_ports_here()})"
        if "PermissionError" in text or "Access is denied" in text:
            return _busy_message(name)
        return f"serial port {name} cannot be opened: {text}"
    return None


# --- the FTDI latency timer (Linux) ------------------------------------------------------------
def latency_timer_ms(port: str, sysfs_root: str | os.PathLike | None = None) -> int | None:
    """The FTDI latency timer of a Linux serial port in ms, or None where there is none.

    Reads ``<sysfs>/bus/usb-serial/devices/<tty>/latency_timer`` for the port's device node
    (links such as ``/dev/serial/by-id/...`` are followed).
    """
    root = Path(sysfs_root or os.environ.get("NFB_SYSFS_ROOT") or SYSFS_ROOT)
    try:
        tty = Path(os.path.realpath(port)).name
        text = (root / "bus" / "usb-serial" / "devices" / tty / "latency_timer").read_text()
        return int(text.strip())
    except (OSError, ValueError):
        return None


def latency_warning(port: str, sysfs_root: str | os.PathLike | None = None) -> str | None:
    """A warning when an FTDI port's latency timer is above 1 ms (Linux), else None."""
    if not port or not is_port_name(port) or _COM_RE.match(port):
        return None
    ms = latency_timer_ms(port, sysfs_root)
    if ms is None or ms <= 1:
        return None
    tty = Path(os.path.realpath(port)).name
    return (
        f"serial port {port}: the FTDI latency timer is {ms} ms, so the board's samples "
        f"arrive in bursts; set it to 1 ms: "
        f"`echo 1 | sudo tee /sys/bus/usb-serial/devices/{tty}/latency_timer` "
        f"(until the dongle is unplugged; the README has a udev rule that keeps it)"
    )


def connection_warnings(connection: dict, sysfs_root: str | os.PathLike | None = None) -> list[str]:
    """Warnings about a profile's connection that do not stop it (the latency timer)."""
    port = str(connection.get("serial_port") or "")
    warning = latency_warning(port, sysfs_root) if port else None
    return [warning] if warning else []


# --- Bluetooth LE -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Headset:
    """A Bluetooth LE headset in range.

    Attributes
    ----------
    name : str
        ``"Muse-1A2B"``, ``"Ganglion-3C4D"``.
    address : str
        What to pass as ``--mac`` (a MAC, or a UUID on macOS).
    kind : str
        ``"Muse"`` or ``"Ganglion"``.
    rssi : int | None
        Signal strength in dBm, where the backend gives it.
    """

    name: str
    address: str
    kind: str
    rssi: int | None = None

    def to_dict(self) -> dict:
        """A JSON-serialisable dict."""
        return asdict(self)


def headset_kind(name: str | None) -> str | None:
    """``"Muse"``/``"Ganglion"`` for a device name that is one, else None."""
    if not name:
        return None
    for kind, prefixes in HEADSET_PREFIXES.items():
        if name.startswith(prefixes):
            return kind
    return None


def board_headset_kind(board_id: int | None) -> str | None:
    """The kind of headset a BrainFlow board connects to over BLE (``"Muse"``), else None."""
    if board_id is None:
        return None
    from .sources import board_name

    name = board_name(board_id)
    if "WIFI" in name:  # a Ganglion behind the WiFi Shield is reached by IP, not BLE
        return None
    for kind in HEADSET_PREFIXES:
        if kind.upper() in name:
            return kind
    return None


def scan_ble(timeout: float = BLE_TIMEOUT_S) -> list[Headset]:
    """Scan for Muse and Ganglion headsets for ``timeout`` seconds, strongest first.

    Raises
    ------
    BleUnavailable
        One line: ``bleak`` is not installed, or there is no Bluetooth adapter or service.
    """
    try:
        from bleak import BleakScanner
    except ImportError as err:
        raise BleUnavailable(
            f"Bluetooth LE scan unavailable: the bleak library is not installed ({err})"
        ) from None

    async def discover():
        return await BleakScanner.discover(timeout=timeout, return_adv=True)

    try:
        found = asyncio.run(discover())
    except Exception as err:  # no adapter, no BlueZ/D-Bus, permission refused (macOS)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, FileNotFoundError) and sys.platform.startswith("linux"):
            reason = "no D-Bus system bus, so BlueZ (the Linux Bluetooth service) is not running"
        raise BleUnavailable(
            f"Bluetooth LE scan unavailable ({type(err).__name__}: {reason}); is Bluetooth on, "
            f"and may this app use it?"
        ) from None
    out = []
    for device, adv in found.values():
        name = getattr(adv, "local_name", None) or getattr(device, "name", None)
        kind = headset_kind(name)
        if kind is not None:
            out.append(Headset(name, str(device.address), kind, getattr(adv, "rssi", None)))
    return sorted(out, key=lambda h: (-(h.rssi if h.rssi is not None else -999), h.name))


def choose_headset(
    kind: str,
    *,
    scan: Callable[[], Iterable[Headset]] | None = None,
    what: str = "device",
) -> Headset | None:
    """The one headset of ``kind`` in range, for a profile whose MAC address is blank.

    Returns
    -------
    Headset | None
        The headset when exactly one is in range; None when none is (BrainFlow then searches
        itself) or the computer cannot scan (logged once as a warning).

    Raises
    ------
    DeviceError
        When more than one is in range: the list, and how to choose.
    """
    try:
        found = [h for h in (scan or scan_ble)() if h.kind == kind]
    except BleUnavailable as err:
        logger.warning("%s; connecting to the first %s BrainFlow finds", err, kind)
        return None
    if len(found) > 1:
        listing = ", ".join(f"{h.name} ({h.address})" for h in found)
        raise DeviceError(
            f"{what}: {len(found)} {kind} headsets in range and no MAC address given: "
            f"{listing}; choose one with --mac (or Scan in the console)"
        )
    return found[0] if found else None
