"""``nfb devices``: list the device profiles."""

from __future__ import annotations

import argparse
import json

from ..devices import DeviceProfile, devices_dir, list_profiles

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
        help="list the device profiles",
        description=(
            "List the device profiles (devices/*.toml, or $NFB_DEVICES_DIR): board, channels, "
            "sampling rate and what each needs to connect."
        ),
    )
    p.add_argument("--json", action="store_true", help="print the profiles as JSON")
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
    headers = ("DEVICE", "BOARD", "CHANNELS", "RATE", "CONNECT WITH", "DESCRIPTION")
    rows = [
        (
            p.name,
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


def run(args: argparse.Namespace) -> int:
    """List the profiles; 0 on success."""
    profiles = list_profiles()
    if getattr(args, "json", False):
        print(json.dumps([p.to_dict() for p in profiles], indent=2))
    elif not profiles:
        print(f"no device profiles in {devices_dir()}")
    else:
        print(format_table(profiles))
    return 0
