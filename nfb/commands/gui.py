"""``nfb gui``: the desktop app for supervised sessions."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "gui",
        help="open the practitioner console and the client's feedback window",
        description="Open the desktop app: connect a device, check the signal, run sessions "
        "with visual and auditory feedback on a second screen.",
    )
    p.add_argument("--device", "-d", metavar="NAME", help="preselect a device profile")
    p.add_argument("--protocol", metavar="NAME", help="preselect a protocol")
    p.add_argument("--client", metavar="ID", help="preselect a client")
    p.add_argument("--connect", action="store_true", help="connect the device at start")
    p.add_argument("--no-sound", action="store_true", help="do not open an audio output")
    p.add_argument(
        "--sessions-dir",
        metavar="DIR",
        help="session store (default $NFB_SESSIONS_DIR or ./sessions)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import DeviceError

    try:
        from ..gui.app import main
    except ImportError as err:  # a broken Qt install: one line, not a traceback
        raise DeviceError(f"the desktop app cannot start: {err}") from None
    return main(
        sessions_dir=args.sessions_dir,
        device=args.device,
        protocol=args.protocol,
        client=args.client,
        connect=args.connect,
        sound=not args.no_sound,
    )
