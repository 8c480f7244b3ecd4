"""Arguments shared by several subcommands."""

from __future__ import annotations

import argparse

from ..protocol import user_protocols_dir


def add_device_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--device",
        "-d",
        required=required,
        metavar="NAME",
        help="device profile name (see `nfb devices`) or a profile .toml path",
    )
    p.add_argument("--serial-port", metavar="PORT", help="override the profile's serial port")
    p.add_argument("--mac", metavar="ADDR", help="override the profile's MAC address")
    p.add_argument("--file", metavar="PATH", help="override the profile's file (file devices)")
    p.add_argument(
        "--ip-address",
        metavar="HOST",
        help="override a network board's address (WiFi Shield, Crown)",
    )
    p.add_argument("--ip-port", type=int, metavar="PORT", help="override a network board's port")
    p.add_argument(
        "--stream",
        dest="lsl_stream",
        metavar="NAME",
        help="device lsl: the LSL stream to read, by name or as key=value pairs "
        "(type=EEG; keys name, type, source_id, hostname)",
    )
    p.add_argument(
        "--lsl-markers",
        metavar="NAME",
        help="device lsl: an LSL marker stream whose markers are recorded as events",
    )
    p.add_argument(
        "--mains-hz",
        type=int,
        choices=(50, 60),
        help="override the profile's mains frequency (the notch of the protocols)",
    )


def add_protocol_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--protocol",
        required=required,
        metavar="NAME",
        help="a protocol: a built-in preset's name (alpha-up, smr-up...; a wrong name lists "
        f"them), the name of one of yours in {user_protocols_dir()}, or a .toml path".replace(
            "%", "%%"  # argparse formats help with %
        ),
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a protocol value, in TOML syntax "
        '(e.g. reward.target_rate=0.7, \'signal.channels=["O1","O2"]\')',
    )


def add_sham_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sham-source",
        metavar="SESSION",
        help="for a protocol with sham blocks: the recorded session whose feedback they show "
        "(default for a live session: the store's latest complete one of the protocol by "
        "another client)",
    )


def load_device(args: argparse.Namespace):
    from ..devices import load_profile

    return load_profile(
        args.device,
        serial_port=args.serial_port,
        mac=args.mac,
        lsl_stream=args.lsl_stream,
        lsl_markers=args.lsl_markers,
        ip_address=args.ip_address,
        ip_port=args.ip_port,
        file=args.file,
        mains_hz=args.mains_hz,
    )
