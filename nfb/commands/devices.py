"""``nfb devices``: list the device profiles; ``--scan``: the boards this computer can see."""

from __future__ import annotations

import argparse
import json
import math

from .. import ports
from ..devices import DeviceProfile, devices_dir, list_profiles, user_devices_dir
from ..errors import ConfigError, DeviceError

_OPTIONS = {
    "serial_port": "--serial-port",
    "mac_address": "--mac",
    "file": "--file",
    "stream_name": "--stream",
    "markers_name": "--lsl-markers",
    "ip_address": "--ip-address",
    "ip_port": "--ip-port",
}
_REQUIRED = ("serial_port", "file")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Create the ``devices`` subparser."""
    p = subparsers.add_parser(
        "devices",
        help="list the device profiles; --scan: the boards this computer sees",
        description=(
            "List the device profiles, built-in and your own (devices/*.toml in the per-user "
            "config folder, which add to or replace the built-in ones): board, channels, "
            "sampling rate and what each needs to connect. --scan lists serial ports with "
            "their USB ids (OpenBCI's dongle, the BLED112) and Muse/Ganglion headsets in "
            "Bluetooth LE range."
        ),
    )
    p.add_argument("--json", action="store_true", help="print the profiles (or scan) as JSON")
    p.add_argument(
        "--scan",
        action="store_true",
        help="list serial ports and Bluetooth LE headsets instead of the profiles",
    )
    p.add_argument(
        "--ble-timeout",
        type=float,
        default=ports.BLE_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long --scan listens for headsets (default {ports.BLE_TIMEOUT_S:g}; 0: skip)",
    )
    p.set_defaults(func=run)
    return p


def connection_needs(profile: DeviceProfile) -> str:
    """What a profile needs per run, as options: ``"--serial-port (/dev/ttyUSB0)"``."""
    parts = []
    for key, option in _OPTIONS.items():
        if key not in profile.connection:
            continue
        value = profile.connection[key]
        if value:
            parts.append(f"{option} ({value})")
        else:
            parts.append(f"{option} ({'required' if key in _REQUIRED else 'optional'})")
    return ", ".join(parts) or "none"


def _channels(profile: DeviceProfile, width: int = 28) -> str:
    if not profile.channels:
        return "from the stream" if profile.kind == "lsl" else "from the file"
    text = ",".join(profile.channels)
    if len(text) > width:
        text = text[: width - 1].rsplit(",", 1)[0] + ",…"
    return f"{len(profile.channels)}: {text}"


def format_table(profiles: list[DeviceProfile]) -> str:
    """The compact table printed by ``nfb devices``."""
    headers = ("DEVICE", "SOURCE", "BOARD", "CHANNELS", "RATE", "CONNECT WITH", "DESCRIPTION")
    rows = [
        (
            p.name,
            p.origin,
            p.board,
            _channels(p),
            f"{p.sampling_rate:g} Hz"
            if p.sampling_rate
            else ("stream" if p.kind == "lsl" else "file"),
            connection_needs(p),
            p.description,
        )
        for p in profiles
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:-1])]

    def line(cells):
        head = "  ".join(f"{c:<{w}}" for c, w in zip(cells[:-1], widths, strict=True))
        return f"{head}  {cells[-1]}".rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def scan(ble_timeout: float = ports.BLE_TIMEOUT_S) -> dict:
    """What ``--scan`` finds: ``serial_ports``, ``headsets`` and ``notes`` (one line each)."""
    notes = []
    try:
        serial = [p.to_dict() for p in ports.list_serial_ports()]
    except DeviceError as err:
        serial = []
        notes.append(str(err))
    headsets: list[dict] = []
    if ble_timeout > 0:
        try:
            headsets = [h.to_dict() for h in ports.scan_ble(ble_timeout)]
        except ports.BleUnavailable as err:
            notes.append(str(err))
    else:
        notes.append("Bluetooth LE scan skipped (--ble-timeout 0)")
    return {"serial_ports": serial, "headsets": headsets, "notes": notes}


def format_scan(found: dict) -> str:
    """The text ``nfb devices --scan`` prints."""
    lines = ["Serial ports:"]
    if not found["serial_ports"]:
        lines.append("  none found")
    for p in found["serial_ports"]:
        what = p["kind"] or p["description"]
        usb = f"USB {p['usb_id']}" if p["usb_id"] else "not USB"
        hint = ""
        if p["kind"].startswith("OpenBCI"):
            hint = f"  -> --device cyton --serial-port {p['device']}"
        elif p["kind"].startswith("BLED112"):
            hint = f"  -> --device ganglion --serial-port {p['device']}"
        lines.append(f"  {p['device']:<24} {usb:<14} {what}{hint}")
    lines.append("Bluetooth LE headsets:")
    if not found["headsets"]:
        lines.append("  none found")
    for h in found["headsets"]:
        rssi = f"{h['rssi']} dBm" if h["rssi"] is not None else ""
        lines.append(f"  {h['name']:<24} {h['address']:<38} {rssi}  -> --mac {h['address']}")
    lines.extend(f"Note: {n}" for n in found["notes"])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """List the profiles (or scan); 0 on success."""
    if getattr(args, "scan", False):
        timeout = args.ble_timeout
        if not (math.isfinite(timeout) and 0 <= timeout <= 120):
            raise ConfigError(f"--ble-timeout: must be seconds from 0 to 120, got {timeout:g}")
        found = scan(timeout)
        print(json.dumps(found, indent=2) if args.json else format_scan(found))
        return 0
    profiles = list_profiles()
    if getattr(args, "json", False):
        # with what each needs per run, as the table's CONNECT WITH column says it
        rows = [{**p.to_dict(), "connect_with": connection_needs(p)} for p in profiles]
        print(json.dumps(rows, indent=2))
    elif not profiles:
        print(f"no device profiles in {devices_dir()} or {user_devices_dir()}")
    else:
        print(format_table(profiles))
        print(f"\nYour own profiles: {user_devices_dir()} (same name: replaces a built-in)")
    return 0
